//! The x86_64 kernel: PVH boot, CPU setup for `run_user`, user pages, and
//! the smoke scenario.

mod boot;
mod cpu;
mod lapic;
mod paging;
mod scenario;
mod serial;
mod user;

pub use serial::Console;

use crate::frames::FrameAllocator;
use crate::report::Report;

/// Called by `boot.rs` in long mode, on the boot stack, with the physical
/// address of the PVH start info.
pub extern "C" fn kernel_main(start_info: u64) -> ! {
    serial::init();
    kprintln!("hobby-kernel x86_64: PVH boot, start info at {start_info:#x}");
    // SAFETY: first thing after boot, on the only CPU, interrupts off;
    // nothing has used the GDT, IDT, TSS or GS yet.
    let features = unsafe { cpu::init() };
    kprintln!(
        "# cpu: fsgsbase {} smep {} smap {}",
        features.fsgsbase,
        features.smep,
        features.smap
    );
    let mut frames = FrameAllocator::new();
    // SAFETY: `start_info` is what the loader passed; the kernel has
    // written only its image (.bss, stack) since.
    let ranges = unsafe { paging::init_frames(&mut frames, start_info) };
    kprintln!(
        "# memory: {ranges} RAM ranges, {} free frames",
        frames.available()
    );
    let pages = paging::map_user(&mut frames, user::blob());
    let lapic_base = paging::map_lapic(&mut frames);
    // SAFETY: `map_lapic` mapped the local APIC page uncached at this
    // address, for good.
    let lapic = unsafe { lapic::Lapic::new(lapic_base) };

    let mut report = Report::new(Console);
    let mut env = scenario::Env::new(features, pages, lapic);
    scenario::run(&mut report, &mut env);
    let outcome = report.finish();
    cpu::exit(outcome.into())
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    kprintln!("# panic: {info}");
    cpu::exit(cpu::ExitCode::Crashed)
}

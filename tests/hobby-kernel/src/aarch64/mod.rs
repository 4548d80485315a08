//! The aarch64 kernel: boot at EL1 with the kernel in TTBR1, the crate's
//! vector table, user pages in TTBR0, and the smoke scenario.

mod boot;
mod cpu;
mod paging;
mod scenario;
mod uart;
mod user;

pub use uart::Console;

use crate::frames::FrameAllocator;
use crate::report::Report;

/// Called by `boot.rs` at EL1, MMU on, running at the TTBR1 address, on the
/// boot stack, with the exception level QEMU started it at.
pub extern "C" fn kernel_main(boot_el: u64) -> ! {
    kprintln!(
        "hobby-kernel aarch64: started at EL{boot_el}, running at EL1, kernel in TTBR1, user space in TTBR0"
    );
    // SAFETY: first thing after boot, at EL1 with SPSel = 1, DAIF masked.
    unsafe { cpu::init() };
    let mut frames = FrameAllocator::new();
    paging::init_frames(&mut frames);
    kprintln!("# memory: {} free frames", frames.available());
    let pages = paging::map_user(&mut frames, user::blob());
    let gic = cpu::Gic::new();

    let mut report = Report::new(Console);
    let mut env = scenario::Env { pages, gic };
    scenario::run(&mut report, &mut env);
    let outcome = report.finish();
    cpu::exit(outcome.into())
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    kprintln!("# panic: {info}");
    cpu::exit(cpu::ExitCode::Crashed)
}

//! The x86_64 kernel: PVH boot, CPU setup for `run_user`, user pages, the
//! smoke scenario, the restricted-mode scenario through `zx-subsystem`
//! (`zx`, `zx_user`), and the console on COM1 (I/O port 0x3f8, 115200 8N1).

mod boot;
mod churn_user;
mod cpu;
mod linux;
mod paging;
mod pingpong_user;
mod scenario;
mod user;
mod zx;
#[macro_use]
mod zx_user_macros;
mod zx_user;

use core::fmt;

use cpu::{inb, outb};

use crate::memory::FRAMES;
use crate::report::Report;

/// Called by `boot.rs` in long mode, on the boot stack, with the physical
/// address of the PVH start info.
pub extern "C" fn kernel_main(start_info: u64) -> ! {
    init_serial();
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
    // Linux mode: a blob the xtask placed in RAM, which the frame
    // allocator must leave alone.
    let blob = linux::probe();
    let mut frames = FRAMES.lock();
    // SAFETY: `start_info` is what the loader passed; the kernel has
    // written only its image (.bss, stack) since.
    let ranges = unsafe { paging::init_frames(&mut frames, start_info, blob) };
    kprintln!(
        "# memory: {ranges} RAM ranges, {} free frames",
        frames.available()
    );
    let pages = paging::map_user(&mut frames, user::blob());
    let lapic_base = paging::map_lapic(&mut frames);
    drop(frames);
    // SAFETY: `map_lapic` mapped the local APIC page uncached at this
    // address, for good.
    let lapic = unsafe { cpu::Lapic::new(lapic_base) };
    if let Some(range) = blob {
        linux::run(range, &lapic);
    }

    let mut report = Report::new(Console);
    let mut env = scenario::Env::new(features, pages, lapic);
    scenario::run(&mut report, &mut env);
    zx::run(&mut report, &env.lapic);
    zx::run_churn(&mut report, &env.lapic);
    zx::run_pingpong(&mut report, &env.lapic);
    let outcome = report.finish();
    cpu::exit(outcome.into())
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    kprintln!("# panic: {info}");
    cpu::exit(cpu::ExitCode::Crashed)
}

const COM1: u16 = 0x3f8;

/// Programs COM1: no interrupts, 115200 baud, 8N1, FIFOs on.
fn init_serial() {
    // SAFETY: COM1's registers affect only the serial line.
    unsafe {
        outb(COM1 + 1, 0x00);
        outb(COM1 + 3, 0x80);
        outb(COM1, 0x01);
        outb(COM1 + 1, 0x00);
        outb(COM1 + 3, 0x03);
        outb(COM1 + 2, 0xc7);
        outb(COM1 + 4, 0x0b);
    }
}

fn put(byte: u8) {
    // SAFETY: polling the line status and writing the data register of
    // COM1 affect only the serial line.
    unsafe {
        while inb(COM1 + 5) & 0x20 == 0 {}
        outb(COM1, byte);
    }
}

/// Writes to COM1.
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        s.bytes().for_each(put);
        Ok(())
    }
}

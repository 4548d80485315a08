//! The aarch64 kernel: boot at EL1 with the kernel in TTBR1, the crate's
//! vector table, user pages in TTBR0, the smoke scenario, the
//! restricted-mode scenario through `zx-subsystem` (`zx`, `zx_user`), and
//! the console on the PL011 UART of `-M virt` (physical 0x0900_0000).

mod boot;
mod churn_user;
mod cpu;
mod linux;
mod paging;
mod pingpong_user;
mod scenario;
mod user;
mod zx;
mod zx_user;

use core::fmt;

use paging::KERNEL_VMA;

use crate::memory::FRAMES;
use crate::report::Report;

/// Called by `boot.rs` at EL1, MMU on, running at the TTBR1 address, on the
/// boot stack, with the exception level QEMU started it at.
pub extern "C" fn kernel_main(boot_el: u64) -> ! {
    kprintln!(
        "hobby-kernel aarch64: started at EL{boot_el}, running at EL1, kernel in TTBR1, user space in TTBR0"
    );
    // SAFETY: first thing after boot, at EL1 with SPSel = 1, DAIF masked.
    unsafe { cpu::init() };
    // Linux mode: a blob the xtask placed in RAM, which the frame
    // allocator must leave alone (and the RAM size QEMU was given).
    let blob = linux::probe();
    let mut frames = FRAMES.lock();
    paging::init_frames(&mut frames, blob);
    kprintln!("# memory: {} free frames", frames.available());
    let pages = paging::map_user(&mut frames, user::blob());
    drop(frames);
    let gic = cpu::Gic::new();
    zx::init_asids();
    if let Some((range, _)) = blob {
        linux::run(range, &gic);
    }

    let mut report = Report::new(Console);
    let mut env = scenario::Env { pages, gic };
    scenario::run(&mut report, &mut env);
    zx::run(&mut report, &env.gic);
    zx::run_churn(&mut report, &env.gic);
    zx::run_pingpong(&mut report, &env.gic);
    let outcome = report.finish();
    cpu::exit(outcome.into())
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    kprintln!("# panic: {info}");
    cpu::exit(cpu::ExitCode::Crashed)
}

const UART: u64 = KERNEL_VMA + 0x0900_0000;
const DR: u64 = 0x00;
const FR: u64 = 0x18;
const FR_TXFF: u32 = 1 << 5;

fn put(byte: u8) {
    // SAFETY: the UART's registers are mapped as device memory in the
    // boot tables for the kernel's whole life; polling FR and writing DR
    // only affect the serial line.
    unsafe {
        while ((UART + FR) as *const u32).read_volatile() & FR_TXFF != 0 {}
        ((UART + DR) as *mut u32).write_volatile(u32::from(byte));
    }
}

/// Writes to the PL011.
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        s.bytes().for_each(put);
        Ok(())
    }
}

//! CPU setup for the trap path — the host obligations listed in
//! `zx_subsystem::arch::aarch64::entry` — plus the generic timer, the GICv2
//! and semihosting exit.

use core::arch::asm;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::{
    CNTFRQ_EL0, CNTKCTL_EL1, CNTV_CTL_EL0, CNTV_TVAL_EL0, CNTVCT_EL0, ReadWriteable, Readable,
    VBAR_EL1, Writeable,
};
use zx_subsystem::arch::aarch64::{self as zx, KernelFrame};

use super::paging::KERNEL_VMA;
use crate::report::Outcome;

/// Size of the boot (and only) kernel stack.
pub const BOOT_STACK_SIZE: usize = 64 * 1024;

/// A kernel stack: memory the CPU writes behind Rust's back.
#[repr(C, align(16))]
pub struct Stack<const N: usize>(UnsafeCell<[u8; N]>);

// SAFETY: a stack is only used by the CPU as raw memory; Rust never forms
// references into it.
unsafe impl<const N: usize> Sync for Stack<N> {}

/// The stack `boot.rs` switches to (SP_EL1).
pub static BOOT_STACK: Stack<BOOT_STACK_SIZE> = Stack(UnsafeCell::new([0; BOOT_STACK_SIZE]));

/// Installs the crate's vector table and the kernel-trap handler, and lets
/// EL0 read the virtual counter (`CNTKCTL_EL1.EL0VCTEN`: the restricted
/// scenario's user program measures with `cntvct_el0`).
///
/// # Safety
///
/// 1. Called once, at EL1 with `SPSel = 1`, before any exception can be
///    taken.
pub unsafe fn init() {
    // SAFETY: `kernel_trap` never returns (it exits QEMU), so it cannot
    // leave a bad frame behind.
    unsafe { zx::set_kernel_trap_handler(kernel_trap) };
    // Obligation 1: nothing is taken before this; the table is the
    // crate's, 2 KiB aligned, and its handlers exist.
    VBAR_EL1.set(zx::vector_table_addr());
    // EL0VCTEN only opens the virtual count to EL0 reads.
    CNTKCTL_EL1.modify(CNTKCTL_EL1::EL0VCTEN::SET);
    barrier::isb(barrier::SY);
}

/// The crate's vectors call this for exceptions taken at EL1: the kernel
/// never expects one, so report it and stop.
extern "C" fn kernel_trap(frame: &mut KernelFrame) {
    crate::kprintln!(
        "# kernel trap: kind {} esr {:#x} elr {:#x} far {:#x} spsr {:#x}",
        frame.kind,
        frame.esr,
        frame.elr,
        frame.far,
        frame.spsr
    );
    exit(ExitCode::Crashed);
}

/// The virtual counter (instructions / 16 under `-icount shift=0`, at
/// QEMU's 62.5 MHz).
pub fn cntvct() -> u64 {
    // The isb keeps the counter from being read early.
    barrier::isb(barrier::SY);
    CNTVCT_EL0.get()
}

/// The counter's frequency in Hz.
pub fn cntfrq() -> u64 {
    CNTFRQ_EL0.get()
}

const GICD: u64 = KERNEL_VMA + 0x0800_0000;
const GICC: u64 = KERNEL_VMA + 0x0801_0000;
/// The EL1 virtual timer's interrupt (PPI 11).
pub const VTIMER_INTID: u32 = 27;

fn mmio_write(addr: u64, value: u32) {
    // SAFETY: only called with GIC register addresses, mapped as device
    // memory by the boot tables for the kernel's whole life.
    unsafe { (addr as *mut u32).write_volatile(value) };
}

fn mmio_read(addr: u64) -> u32 {
    // SAFETY: as in `mmio_write`.
    unsafe { (addr as *const u32).read_volatile() }
}

/// The GICv2 distributor and CPU interface, with the virtual timer's PPI
/// enabled (signalled as IRQ).
pub struct Gic(());

impl Gic {
    /// Enables the GIC and the virtual timer interrupt.
    pub fn new() -> Gic {
        mmio_write(GICD, 1); // GICD_CTLR: enable
        mmio_write(GICD + 0x400 + u64::from(VTIMER_INTID & !3), 0); // priority 0
        mmio_write(GICD + 0x100, 1 << VTIMER_INTID); // GICD_ISENABLER0
        mmio_write(GICC + 0x4, 0xff); // GICC_PMR: everything
        mmio_write(GICC, 1); // GICC_CTLR: enable
        Gic(())
    }

    /// Acknowledges the highest-priority pending interrupt; returns its ID.
    pub fn ack(&self) -> u32 {
        mmio_read(GICC + 0xc) & 0x3ff
    }

    /// Ends interrupt `intid`.
    pub fn eoi(&self, intid: u32) {
        mmio_write(GICC + 0x10, intid);
    }

    /// Fires the virtual timer once after `ticks` counter ticks.
    pub fn timer_one_shot(&self, ticks: u64) {
        // The EL1 virtual timer is ours: enabled, unmasked.
        CNTV_TVAL_EL0.set(ticks);
        CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
        barrier::isb(barrier::SY);
    }

    /// Stops the virtual timer (its interrupt line drops).
    pub fn timer_stop(&self) {
        CNTV_CTL_EL0.set(0);
        barrier::isb(barrier::SY);
    }
}

/// Why the kernel stops; the semihosting exit code that says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// Every check passed.
    Passed = 0,
    /// Some check failed.
    Failed = 1,
    /// An unexpected kernel trap or a panic.
    Crashed = 2,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Passed => ExitCode::Passed,
            Outcome::Failed => ExitCode::Failed,
        }
    }
}

/// Leaves QEMU through semihosting `SYS_EXIT` (extended form: reason
/// `ADP_Stopped_ApplicationExit` and the exit code).
pub fn exit(code: ExitCode) -> ! {
    const SYS_EXIT: u64 = 0x18;
    const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x20026;
    static EXITING: AtomicBool = AtomicBool::new(false);
    let block = [ADP_STOPPED_APPLICATION_EXIT, code as u64];
    // Without `-semihosting` the `hlt` traps to the kernel-trap handler,
    // which calls `exit` again: only try once.
    if !EXITING.swap(true, Ordering::Relaxed) {
        // SAFETY: the semihosting call only reads the two-word block, which
        // lives until the call returns.
        unsafe {
            asm!("hlt #0xf000", in("x0") SYS_EXIT, in("x1") block.as_ptr(), options(nostack, readonly));
        }
    }
    loop {
        aarch64_cpu::asm::wfe();
    }
}

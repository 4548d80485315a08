//! The local APIC timer, used to interrupt ring 3.

/// The local APIC's registers, mapped uncached.
pub struct Lapic {
    base: u64,
}

const SVR: u64 = 0xf0;
const EOI: u64 = 0xb0;
const TPR: u64 = 0x80;
const LVT_TIMER: u64 = 0x320;
const INITIAL_COUNT: u64 = 0x380;
const DIVIDE: u64 = 0x3e0;
const LVT_MASKED: u32 = 1 << 16;

/// The vector the timer raises.
pub const TIMER_VECTOR: u8 = 0x40;

impl Lapic {
    /// Enables the APIC mapped at `base` (spurious vector 0xff, TPR 0) with
    /// the timer masked.
    ///
    /// # Safety
    ///
    /// 1. `base` is the kernel address of this CPU's local APIC page,
    ///    mapped uncached, for as long as the value lives.
    pub unsafe fn new(base: u64) -> Lapic {
        let lapic = Lapic { base };
        lapic.write(LVT_TIMER, LVT_MASKED);
        lapic.write(TPR, 0);
        lapic.write(SVR, 0x1ff);
        lapic
    }

    fn write(&self, reg: u64, value: u32) {
        // SAFETY: `new`'s obligation 1: the register page is mapped and
        // device memory, written with 32-bit volatile stores.
        unsafe { ((self.base + reg) as *mut u32).write_volatile(value) };
    }

    /// Fires [`TIMER_VECTOR`] once after `ticks` bus clocks.
    pub fn one_shot(&self, ticks: u32) {
        self.write(DIVIDE, 0b1011); // divide by 1
        self.write(LVT_TIMER, u32::from(TIMER_VECTOR));
        self.write(INITIAL_COUNT, ticks);
    }

    /// Masks the timer.
    pub fn stop(&self) {
        self.write(INITIAL_COUNT, 0);
        self.write(LVT_TIMER, LVT_MASKED);
    }

    /// Ends the interrupt being serviced.
    pub fn eoi(&self) {
        self.write(EOI, 0);
    }
}

//! The cycle counter and its calibration in instructions.
//!
//! x86_64 reads the TSC (`rdtsc`, after `lfence`), aarch64 the virtual
//! counter (`CNTVCT_EL0`, after `isb`; Linux lets EL0 read it). Under QEMU
//! with `-icount shift=0` both advance with executed guest instructions:
//! the TSC by one per instruction, the 62.5 MHz generic timer by one per
//! 16. A calibration loop of a known instruction count ([`calibrate`])
//! measures that rate in the same run, so [`Calibration::insns`] turns
//! ticks into guest instructions on either arch. On real hardware the same
//! arithmetic gives "instructions of a tight loop" equivalents, which is a
//! rough scale and no more.
//!
//! Measurements take the median over repetitions ([`median_ticks`]) so a
//! timer interrupt landing in one repetition does not move the figure.

/// Reads the counter, ordered after the instructions before it.
#[inline(always)]
pub fn now() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let (lo, hi): (u32, u32);
        // SAFETY: lfence and rdtsc only read the TSC (user mode may:
        // Linux leaves CR4.TSD clear).
        unsafe {
            core::arch::asm!(
                "lfence",
                "rdtsc",
                out("eax") lo, out("edx") hi,
                options(nomem, nostack, preserves_flags),
            );
        }
        (u64::from(hi) << 32) | u64::from(lo)
    }
    #[cfg(target_arch = "aarch64")]
    {
        let v: u64;
        // SAFETY: isb and reading CNTVCT_EL0 have no side effects; Linux
        // enables EL0 access to the virtual counter.
        unsafe {
            core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) v,
                options(nomem, nostack, preserves_flags));
        }
        v
    }
}

/// Iterations of the two-instruction calibration loop.
pub const CAL_LOOPS: u64 = 1_000_000;
/// Instructions the calibration loop executes.
pub const CAL_INSNS: u64 = 2 * CAL_LOOPS;

/// Runs the calibration loop once; returns the ticks it took.
#[inline(never)]
pub fn calibration_loop() -> u64 {
    let t0 = now();
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a register-only countdown loop.
    unsafe {
        core::arch::asm!("2:", "dec {n}", "jnz 2b", n = inout(reg) CAL_LOOPS => _,
            options(nomem, nostack));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: a register-only countdown loop.
    unsafe {
        core::arch::asm!("2:", "subs {n}, {n}, #1", "b.ne 2b", n = inout(reg) CAL_LOOPS => _,
            options(nomem, nostack));
    }
    now().wrapping_sub(t0)
}

/// How many counter ticks [`CAL_INSNS`] instructions took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Calibration {
    /// Ticks of one calibration loop (the median of several).
    pub ticks: u64,
}

/// Measures the counter's rate: the median of 5 calibration loops.
pub fn calibrate() -> Calibration {
    let mut t = [0u64; 5];
    for v in &mut t {
        *v = calibration_loop();
    }
    Calibration {
        ticks: median(&mut t),
    }
}

impl Calibration {
    /// Instructions per `calls` calls that took `ticks`, rounded; `None`
    /// when the calibration or the count is zero.
    pub fn insns(&self, ticks: u64, calls: u64) -> Option<u64> {
        let den = u128::from(self.ticks) * u128::from(calls);
        if den == 0 {
            return None;
        }
        let num = u128::from(ticks) * u128::from(CAL_INSNS);
        u64::try_from((num + den / 2) / den).ok()
    }

    /// Instructions per counter tick, times 1000 (1000 under x86 icount,
    /// 16,000 for aarch64's 62.5 MHz counter).
    pub fn milli_insns_per_tick(&self) -> u64 {
        if self.ticks == 0 {
            return 0;
        }
        (u128::from(CAL_INSNS) * 1000 / u128::from(self.ticks)) as u64
    }
}

/// The median of `v` (sorts it); the lower middle for an even length, 0
/// for an empty slice.
pub fn median(v: &mut [u64]) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[(v.len() - 1) / 2]
}

/// Runs `body(i)` for `i in 0..calls`, `reps` times (at most 64), after
/// one untimed repetition; returns the median ticks of one repetition.
pub fn median_ticks(reps: usize, calls: usize, mut body: impl FnMut(usize)) -> u64 {
    let mut t = [0u64; 64];
    let reps = reps.clamp(1, t.len());
    for i in 0..calls {
        body(i);
    }
    for v in &mut t[..reps] {
        let t0 = now();
        for i in 0..calls {
            body(i);
        }
        *v = now().wrapping_sub(t0);
    }
    median(&mut t[..reps])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_become_instructions() {
        // x86_64 under icount: one tick per instruction.
        let x86 = Calibration { ticks: CAL_INSNS };
        assert_eq!(x86.insns(331_000, 1000), Some(331));
        assert_eq!(x86.milli_insns_per_tick(), 1000);
        // aarch64: 62.5 MHz against a 1 GHz instruction clock.
        let arm = Calibration {
            ticks: CAL_INSNS / 16,
        };
        assert_eq!(arm.insns(31, 1), Some(496));
        assert_eq!(arm.milli_insns_per_tick(), 16_000);
        assert_eq!(Calibration { ticks: 0 }.insns(5, 1), None);
        assert_eq!(x86.insns(5, 0), None);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut [5, 1, 9]), 5);
        assert_eq!(median(&mut [4, 1, 9, 7]), 4);
        assert_eq!(median(&mut []), 0);
        let mut n = 0;
        let _ = median_ticks(3, 4, |_| n += 1);
        assert_eq!(n, 16, "one untimed warm-up and three timed repetitions");
    }

    #[test]
    fn the_counter_advances() {
        let a = now();
        let t = calibration_loop();
        assert!(now() > a && t > 0);
    }
}

//! aarch64 restricted-mode register handling: validating a
//! `zx_restricted_state_t`, loading it into a [`UserContext`], saving it
//! back, and building the normal-mode entry frame at the vector.
//!
//! Two forms of load and save: on a [`zx_restricted_state_arm64_t`](State)
//! value ([`validate`], [`load`], [`save`]: the reference, unit-tested
//! here), and straight on the state VMO's page ([`check_page`],
//! [`load_page`], [`save_page`]: what enter and exit run, one word access
//! per register, without an intermediate copy). A test checks that both
//! agree.

use core::mem::offset_of;
use core::sync::atomic::Ordering::Relaxed;

use crate::abi::{
    ZX_EXCP_FATAL_PAGE_FAULT, ZX_EXCP_GENERAL, ZX_EXCP_HW_BREAKPOINT, ZX_EXCP_SW_BREAKPOINT,
    ZX_EXCP_UNALIGNED_ACCESS, ZX_EXCP_UNDEFINED_INSTRUCTION, zx_exception_report_t,
    zx_restricted_state_arm64_t as State,
};
use crate::mmu::FrameMem;

use super::{ExceptionInfo, UserContext};

/// The PSTATE bits user code controls: N, Z, C, V (bits 28..=31).
pub const CPSR_NZCV: u32 = 0xf000_0000;

/// ESR exception classes this module distinguishes.
pub mod ec {
    /// Unknown reason: undefined instruction.
    pub const UNKNOWN: u64 = 0x00;
    /// Instruction abort from a lower EL.
    pub const INSTRUCTION_ABORT_LOWER: u64 = 0x20;
    /// PC alignment fault.
    pub const PC_ALIGNMENT: u64 = 0x22;
    /// Data abort from a lower EL.
    pub const DATA_ABORT_LOWER: u64 = 0x24;
    /// SP alignment fault.
    pub const SP_ALIGNMENT: u64 = 0x26;
    /// Breakpoint from a lower EL.
    pub const BREAKPOINT_LOWER: u64 = 0x30;
    /// Software step from a lower EL.
    pub const SOFTWARE_STEP_LOWER: u64 = 0x32;
    /// Watchpoint from a lower EL.
    pub const WATCHPOINT_LOWER: u64 = 0x34;
    /// `brk` in AArch64.
    pub const BRK: u64 = 0x3c;
}

/// The exception class of an ESR value.
pub fn esr_class(esr: u64) -> u64 {
    (esr >> 26) & 0x3f
}

/// The normal-mode thread state saved across a stay in restricted mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NormalTls {
    /// TPIDR_EL0.
    pub tpidr_el0: u64,
}

/// Why a state is refused (`ZX_ERR_BAD_STATE`).
#[inline]
pub fn validate(state: &State) -> Result<(), &'static str> {
    validate_fields(state.pc, state.cpsr)
}

/// The fields of a state that enter validates, as read and approved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checked {
    pc: u64,
    cpsr: u32,
}

#[inline]
fn check(c: Checked) -> Result<Checked, &'static str> {
    validate_fields(c.pc, c.cpsr).map(|()| c)
}

#[inline]
fn validate_fields(pc: u64, cpsr: u32) -> Result<(), &'static str> {
    if pc & (1 << 55) != 0 {
        return Err("restricted pc is not a user address");
    }
    if cpsr & !CPSR_NZCV != 0 {
        return Err("restricted cpsr has bits other than NZCV");
    }
    Ok(())
}

/// Word index of each field in the state's page (`x[i]` is word `i`).
mod word {
    use super::{State, offset_of};
    pub const SP: usize = offset_of!(State, sp) / 8;
    pub const PC: usize = offset_of!(State, pc) / 8;
    pub const TPIDR_EL0: usize = offset_of!(State, tpidr_el0) / 8;
    /// `cpsr` (u32) and the padding after it share this word.
    pub const CPSR: usize = offset_of!(State, cpsr) / 8;
    const _: () = assert!(offset_of!(State, cpsr).is_multiple_of(8));
}

/// The `cpsr` half of the word that holds it (its first four bytes in
/// memory order).
#[inline]
fn cpsr_of(word: u64) -> u32 {
    let b = word.to_ne_bytes();
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

/// The word holding `cpsr`, with zero padding.
#[inline]
fn cpsr_word(cpsr: u32) -> u64 {
    let c = cpsr.to_ne_bytes();
    u64::from_ne_bytes([c[0], c[1], c[2], c[3], 0, 0, 0, 0])
}

/// Expands `$m!(i)` for every general register index `i` in 0..=30. The
/// page copies are written out with it: the compiler keeps a 31-step loop
/// of atomic word accesses as a loop, at twice the instructions.
macro_rules! each_x {
    ($m:ident) => {
        $m!(0);
        $m!(1);
        $m!(2);
        $m!(3);
        $m!(4);
        $m!(5);
        $m!(6);
        $m!(7);
        $m!(8);
        $m!(9);
        $m!(10);
        $m!(11);
        $m!(12);
        $m!(13);
        $m!(14);
        $m!(15);
        $m!(16);
        $m!(17);
        $m!(18);
        $m!(19);
        $m!(20);
        $m!(21);
        $m!(22);
        $m!(23);
        $m!(24);
        $m!(25);
        $m!(26);
        $m!(27);
        $m!(28);
        $m!(29);
        $m!(30);
    };
}

/// [`validate`] on the state at offset 0 of `page`: reads the validated
/// fields, once each.
#[inline]
pub fn check_page(page: FrameMem<'_>) -> Result<Checked, &'static str> {
    let w = page.words();
    check(Checked {
        pc: w[word::PC].load(Relaxed),
        cpsr: cpsr_of(w[word::CPSR].load(Relaxed)),
    })
}

/// [`load`] from the state at offset 0 of `page`: the fields `checked`
/// holds come from it, every other register is read from the page once.
#[inline(always)]
pub fn load_page(ctx: &mut UserContext, page: FrameMem<'_>, checked: Checked) -> NormalTls {
    let w = page.words();
    let saved = NormalTls {
        tpidr_el0: ctx.tpidr_el0,
    };
    macro_rules! load_x {
        ($i:literal) => {
            ctx.x[$i] = w[$i].load(Relaxed)
        };
    }
    each_x!(load_x);
    ctx.sp = w[word::SP].load(Relaxed);
    ctx.pc = checked.pc;
    ctx.spsr = u64::from(checked.cpsr & CPSR_NZCV);
    ctx.tpidr_el0 = w[word::TPIDR_EL0].load(Relaxed);
    saved
}

/// [`save`] into offset 0 of `page`, one store per word.
#[inline]
pub fn save_page(ctx: &UserContext, page: FrameMem<'_>) {
    let w = page.words();
    macro_rules! store_x {
        ($i:literal) => {
            w[$i].store(ctx.x[$i], Relaxed)
        };
    }
    each_x!(store_x);
    w[word::SP].store(ctx.sp, Relaxed);
    w[word::PC].store(ctx.pc, Relaxed);
    w[word::TPIDR_EL0].store(ctx.tpidr_el0, Relaxed);
    w[word::CPSR].store(cpsr_word((ctx.spsr as u32) & CPSR_NZCV), Relaxed);
}

/// Loads a validated state into `ctx` and returns the normal-mode TLS it
/// replaced.
#[inline]
pub fn load(ctx: &mut UserContext, s: &State) -> NormalTls {
    let saved = NormalTls {
        tpidr_el0: ctx.tpidr_el0,
    };
    *ctx = UserContext {
        x: s.x,
        sp: s.sp,
        pc: s.pc,
        // EL0t with DAIF clear, and the user's condition flags.
        spsr: u64::from(s.cpsr & CPSR_NZCV),
        tpidr_el0: s.tpidr_el0,
    };
    saved
}

/// The restricted state in `ctx` after a trap.
#[inline]
pub fn save(ctx: &UserContext) -> State {
    State {
        x: ctx.x,
        sp: ctx.sp,
        pc: ctx.pc,
        tpidr_el0: ctx.tpidr_el0,
        cpsr: (ctx.spsr as u32) & CPSR_NZCV,
        padding1: [0; 4],
    }
}

/// Rewrites `ctx` to enter normal mode at `vector`: every register zero but
/// `x0 = context`, `x1 = reason`, the normal TPIDR_EL0, in EL0t with
/// interrupts unmasked.
#[inline]
pub fn enter_normal(ctx: &mut UserContext, tls: NormalTls, vector: u64, context: u64, reason: u64) {
    // A zero the compiler cannot see through: zeroing the register file
    // with a known 0 becomes a call to memset, several times slower (for
    // 240 bytes) than the plain stores this gives.
    let zero = core::hint::black_box(0);
    ctx.x[0] = context;
    ctx.x[1] = reason;
    ctx.x[2..].fill(zero);
    ctx.sp = zero;
    ctx.pc = vector;
    ctx.spsr = zero;
    ctx.tpidr_el0 = tls.tpidr_el0;
}

/// The exception report for a trap with `info`.
pub fn report(info: &ExceptionInfo) -> zx_exception_report_t {
    let type_ = match esr_class(info.esr) {
        ec::UNKNOWN => ZX_EXCP_UNDEFINED_INSTRUCTION,
        ec::INSTRUCTION_ABORT_LOWER | ec::DATA_ABORT_LOWER => ZX_EXCP_FATAL_PAGE_FAULT,
        ec::PC_ALIGNMENT | ec::SP_ALIGNMENT => ZX_EXCP_UNALIGNED_ACCESS,
        ec::BRK => ZX_EXCP_SW_BREAKPOINT,
        ec::BREAKPOINT_LOWER | ec::SOFTWARE_STEP_LOWER | ec::WATCHPOINT_LOWER => {
            ZX_EXCP_HW_BREAKPOINT
        }
        _ => ZX_EXCP_GENERAL,
    };
    zx_exception_report_t::arm64(type_, info.esr as u32, info.far)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Platform;
    use crate::abi::Pod;
    use crate::arch::Aarch64;
    use crate::sim::Sim;

    /// The page forms ([`check_page`], [`load_page`], [`save_page`]) agree
    /// with the value forms on random states and contexts.
    #[test]
    fn page_forms_match_value_forms() {
        let sim = Sim::<Aarch64>::new();
        let frame = sim.alloc_frame().unwrap();
        // SAFETY: a fresh frame of `sim`, freed after the last use of the
        // view; accessed only through it.
        let page = unsafe { FrameMem::new(&sim, frame) };
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..2000 {
            let mut state = State::default();
            for chunk in state.as_bytes_mut().chunks_exact_mut(8) {
                chunk.copy_from_slice(&next().to_ne_bytes());
            }
            if round % 2 == 0 {
                state.pc &= !(1 << 55);
                state.cpsr &= CPSR_NZCV;
            }
            assert!(page.write_pod(0, &state));
            let checked = check_page(page);
            assert_eq!(checked.map(|_| ()), validate(&state), "{state:x?}");
            let mut before = UserContext {
                sp: next(),
                pc: next(),
                spsr: next(),
                tpidr_el0: next(),
                ..Default::default()
            };
            before.x.iter_mut().for_each(|x| *x = next());
            if let Ok(checked) = checked {
                let (mut a, mut b) = (before, before);
                assert_eq!(load(&mut a, &state), load_page(&mut b, page, checked));
                assert_eq!(a, b);
            }
            save_page(&before, page);
            assert_eq!(page.read_pod::<State>(0), Some(save(&before)));
        }
        sim.free_frame(frame);
    }

    #[test]
    fn validation() {
        let ok = State {
            pc: 0x1000,
            cpsr: CPSR_NZCV,
            ..Default::default()
        };
        assert_eq!(validate(&ok), Ok(()));
        assert!(validate(&State { pc: 1 << 55, ..ok }).is_err());
        assert!(validate(&State { pc: u64::MAX, ..ok }).is_err());
        assert!(
            validate(&State {
                cpsr: 1 << 27,
                ..ok
            })
            .is_err()
        );
        assert!(validate(&State { cpsr: 0x3c5, ..ok }).is_err());
    }

    #[test]
    fn load_save_and_normal_entry() {
        let mut x = [0u64; 31];
        for (i, r) in x.iter_mut().enumerate() {
            *r = i as u64 + 100;
        }
        let s = State {
            x,
            sp: 0x8000,
            pc: 0x4000,
            tpidr_el0: 0x99,
            cpsr: 0x6000_0000,
            padding1: [0; 4],
        };
        let mut ctx = UserContext {
            tpidr_el0: 0x1111,
            ..Default::default()
        };
        let tls = load(&mut ctx, &s);
        assert_eq!(tls.tpidr_el0, 0x1111);
        assert_eq!(save(&ctx), s);
        enter_normal(&mut ctx, tls, 0x9000, 5, 2);
        assert_eq!(ctx.x[0], 5);
        assert_eq!(ctx.x[1], 2);
        assert!(ctx.x[2..].iter().all(|r| *r == 0));
        assert_eq!(
            (ctx.pc, ctx.sp, ctx.spsr, ctx.tpidr_el0),
            (0x9000, 0, 0, 0x1111)
        );
    }

    #[test]
    fn reports() {
        let ud = report(&ExceptionInfo {
            esr: 1 << 25,
            far: 0,
        });
        assert_eq!(ud.header.type_, ZX_EXCP_UNDEFINED_INSTRUCTION);
        assert_eq!(ud.arch[0] as u32, 1 << 25);
        let dabt = report(&ExceptionInfo {
            esr: (0x24 << 26) | (1 << 6),
            far: 0x5000,
        });
        assert_eq!(dabt.header.type_, ZX_EXCP_FATAL_PAGE_FAULT);
        assert_eq!(dabt.arch[1], 0x5000);
    }
}

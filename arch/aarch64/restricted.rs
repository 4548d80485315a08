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
//!
//! # AArch32 restricted code
//!
//! As Zircon's `ArchValidateStatePreRestrictedEntry`: a state with
//! `cpsr.M[4]` set runs AArch32 code, where the CPU has AArch32 at EL0
//! ([`Aarch32::Available`]). Its `pc` must be below 4 GiB and aligned to 4
//! (A32) or 2 (T32, `cpsr.T`), its `cpsr` may hold the AArch32 user bits
//! (GE, Q, IT, T) besides NZCV, only `r0`–`r14` (the low halves of
//! `x0`–`x14`) are carried in and out, the rest read 0, and `tpidr_el0` is
//! mirrored into `TPIDRRO_EL0` (AArch32's `TPIDRURO`, the thread pointer
//! some libcs read). Normal mode's `TPIDRRO_EL0` is saved and restored
//! around every stay, as is its `TPIDR_EL0`.
//!
//! Zircon's literal T32 alignment test (`(cpsr & T) == 1`) can never be
//! true, so it accepts an odd T32 `pc`; this crate applies the rule that
//! test means (`ELR[0]` is ignored on a return to T32, so nothing unsafe
//! follows either way).

use core::mem::offset_of;
use core::sync::atomic::Ordering::Relaxed;

use crate::abi::{
    ZX_EXCP_FATAL_PAGE_FAULT, ZX_EXCP_GENERAL, ZX_EXCP_HW_BREAKPOINT, ZX_EXCP_SW_BREAKPOINT,
    ZX_EXCP_UNALIGNED_ACCESS, ZX_EXCP_UNDEFINED_INSTRUCTION, zx_exception_report_t,
    zx_restricted_state_arm64_t as State,
};
use crate::arch::Aarch32;
use crate::mmu::FrameMem;

use super::{ExceptionInfo, UserContext};

/// The PSTATE bits user code controls: N, Z, C, V (bits 28..=31).
pub const CPSR_NZCV: u32 = 0xf000_0000;
/// BTYPE (bits 10..=11), the branch type FEAT_BTI tracks in AArch64.
pub const CPSR_BTYPE: u32 = 0xc00;
/// `M[4]`: the state runs AArch32 code.
pub const CPSR_AARCH32: u32 = 0x10;
/// `T`: AArch32 code is T32 (Thumb).
pub const CPSR_THUMB: u32 = 0x20;
/// `GE[19:16]` and `Q[27]`, set by AArch32 user code.
pub const CPSR_GE_Q: u32 = 0x080f_0000;
/// `IT[15:10, 26:25]`, set by T32 user code.
pub const CPSR_IT: u32 = 0x0600_fc00;
/// What an AArch64 restricted state may set (Zircon's
/// `kArm64UserVisibleFlags`).
pub const CPSR_A64_USER: u32 = CPSR_NZCV | CPSR_BTYPE;
/// What an AArch32 restricted state may set (Zircon's
/// `kArmUserRestrictedVisibleFlags`).
pub const CPSR_A32_USER: u32 = CPSR_A64_USER | CPSR_AARCH32 | CPSR_THUMB | CPSR_GE_Q | CPSR_IT;
/// AArch32 carries `r0`–`r14`: the first 15 registers, their low halves.
const A32_REGS: usize = 15;

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
    /// TPIDRRO_EL0.
    pub tpidrro_el0: u64,
}

/// Why a state is refused (`ZX_ERR_BAD_STATE`).
#[inline]
pub fn validate(state: &State, aarch32: Aarch32) -> Result<(), &'static str> {
    validate_fields(state.pc, state.cpsr, || aarch32)
}

/// The fields of a state that enter validates, as read and approved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checked {
    pc: u64,
    cpsr: u32,
}

#[inline]
fn check(c: Checked, aarch32: impl FnOnce() -> Aarch32) -> Result<Checked, &'static str> {
    validate_fields(c.pc, c.cpsr, aarch32).map(|()| c)
}

/// Zircon's `ArchValidateStatePreRestrictedEntry`, in its order.
#[inline]
fn validate_fields(
    pc: u64,
    cpsr: u32,
    aarch32: impl FnOnce() -> Aarch32,
) -> Result<(), &'static str> {
    if pc & (1 << 55) != 0 {
        return Err("restricted pc is not a user address");
    }
    if cpsr & CPSR_AARCH32 == 0 {
        if cpsr & !CPSR_A64_USER != 0 {
            return Err("restricted cpsr has bits beyond the user-visible flags");
        }
        return Ok(());
    }
    if aarch32() != Aarch32::Available {
        return Err("AArch32 restricted state, but the CPU has no AArch32 at EL0");
    }
    if pc >= 1 << 32 {
        return Err("AArch32 restricted pc above 4 GiB");
    }
    let align = if cpsr & CPSR_THUMB != 0 { 1 } else { 3 };
    if pc & align != 0 {
        return Err("AArch32 restricted pc misaligned for its instruction set");
    }
    if cpsr & !CPSR_A32_USER != 0 {
        return Err("restricted cpsr has bits beyond the AArch32 user flags");
    }
    Ok(())
}

/// The user-visible part of a trapped SPSR, as saved into the state.
#[inline]
fn saved_cpsr(spsr: u64) -> u32 {
    let spsr = spsr as u32;
    if spsr & CPSR_AARCH32 != 0 {
        spsr & CPSR_A32_USER
    } else {
        spsr & CPSR_A64_USER
    }
}

/// In AArch32 only `r0`–`r14` exist: keep their low halves, zero the rest.
#[inline]
fn a32_registers(x: &mut [u64; 31]) {
    for r in &mut x[..A32_REGS] {
        *r &= 0xffff_ffff;
    }
    x[A32_REGS..].fill(0);
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
pub fn check_page(
    page: FrameMem<'_>,
    aarch32: impl FnOnce() -> Aarch32,
) -> Result<Checked, &'static str> {
    let w = page.words();
    check(
        Checked {
            pc: w[word::PC].load(Relaxed),
            cpsr: cpsr_of(w[word::CPSR].load(Relaxed)),
        },
        aarch32,
    )
}

/// [`load`] from the state at offset 0 of `page`: the fields `checked`
/// holds come from it, every other register is read from the page once.
#[inline(always)]
pub fn load_page(ctx: &mut UserContext, page: FrameMem<'_>, checked: Checked) -> NormalTls {
    let w = page.words();
    let saved = NormalTls {
        tpidr_el0: ctx.tpidr_el0,
        tpidrro_el0: ctx.tpidrro_el0,
    };
    macro_rules! load_x {
        ($i:literal) => {
            ctx.x[$i] = w[$i].load(Relaxed)
        };
    }
    each_x!(load_x);
    ctx.sp = w[word::SP].load(Relaxed);
    ctx.pc = checked.pc;
    ctx.spsr = u64::from(checked.cpsr);
    ctx.tpidr_el0 = w[word::TPIDR_EL0].load(Relaxed);
    if checked.cpsr & CPSR_AARCH32 != 0 {
        load_fixup_a32(ctx);
    }
    saved
}

/// What [`load_page`] adds for AArch32 restricted code, out of the
/// AArch64 path.
#[cold]
#[inline(never)]
fn load_fixup_a32(ctx: &mut UserContext) {
    a32_registers(&mut ctx.x);
    ctx.tpidrro_el0 = ctx.tpidr_el0;
}

/// [`save`] into offset 0 of `page`, one store per word.
#[inline]
pub fn save_page(ctx: &UserContext, page: FrameMem<'_>) {
    if ctx.spsr as u32 & CPSR_AARCH32 != 0 {
        return save_page_a32(ctx, page);
    }
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
    w[word::CPSR].store(cpsr_word((ctx.spsr as u32) & CPSR_A64_USER), Relaxed);
}

/// [`save_page`] for AArch32 restricted code, out of the AArch64 path.
#[cold]
#[inline(never)]
fn save_page_a32(ctx: &UserContext, page: FrameMem<'_>) {
    let w = page.words();
    let mut x = ctx.x;
    a32_registers(&mut x);
    for (slot, r) in w.iter().zip(x) {
        slot.store(r, Relaxed);
    }
    w[word::SP].store(ctx.sp, Relaxed);
    w[word::PC].store(ctx.pc, Relaxed);
    w[word::TPIDR_EL0].store(ctx.tpidr_el0, Relaxed);
    w[word::CPSR].store(cpsr_word(saved_cpsr(ctx.spsr)), Relaxed);
}

/// Loads a validated state into `ctx` and returns the normal-mode TLS it
/// replaced.
#[inline]
pub fn load(ctx: &mut UserContext, s: &State) -> NormalTls {
    let saved = NormalTls {
        tpidr_el0: ctx.tpidr_el0,
        tpidrro_el0: ctx.tpidrro_el0,
    };
    let aarch32 = s.cpsr & CPSR_AARCH32 != 0;
    let mut x = s.x;
    if aarch32 {
        a32_registers(&mut x);
    }
    *ctx = UserContext {
        x,
        sp: s.sp,
        pc: s.pc,
        // EL0t with DAIF clear, and the validated user flags.
        spsr: u64::from(s.cpsr),
        tpidr_el0: s.tpidr_el0,
        tpidrro_el0: if aarch32 {
            s.tpidr_el0
        } else {
            ctx.tpidrro_el0
        },
        // FP state is the thread's in both modes.
        fp: ctx.fp,
    };
    saved
}

/// The restricted state in `ctx` after a trap.
#[inline]
pub fn save(ctx: &UserContext) -> State {
    let mut x = ctx.x;
    if ctx.spsr as u32 & CPSR_AARCH32 != 0 {
        a32_registers(&mut x);
    }
    State {
        x,
        sp: ctx.sp,
        pc: ctx.pc,
        tpidr_el0: ctx.tpidr_el0,
        cpsr: saved_cpsr(ctx.spsr),
        padding1: [0; 4],
    }
}

/// Rewrites `ctx` to enter normal mode at `vector`: every register zero but
/// `x0 = context`, `x1 = reason`, the normal TPIDR_EL0 and TPIDRRO_EL0, in
/// AArch64 EL0t with interrupts unmasked.
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
    ctx.tpidrro_el0 = tls.tpidrro_el0;
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
            match round % 4 {
                0 => {
                    state.pc &= !(1 << 55);
                    state.cpsr &= CPSR_A64_USER;
                }
                1 => {
                    state.pc &= 0xffff_fffc;
                    state.cpsr = state.cpsr & CPSR_A32_USER & !CPSR_THUMB | CPSR_AARCH32;
                }
                _ => {}
            }
            assert!(page.write_pod(0, &state));
            let a32 = Aarch32::Available;
            let checked = check_page(page, || a32);
            assert_eq!(checked.map(|_| ()), validate(&state, a32), "{state:x?}");
            let mut before = UserContext {
                sp: next(),
                pc: next(),
                spsr: next(),
                tpidr_el0: next(),
                tpidrro_el0: next(),
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
        let v = |s: State| validate(&s, Aarch32::Available);
        let ok = State {
            pc: 0x1000,
            cpsr: CPSR_NZCV | CPSR_BTYPE,
            ..Default::default()
        };
        assert_eq!(v(ok), Ok(()));
        assert!(v(State { pc: 1 << 55, ..ok }).is_err());
        assert!(v(State { pc: u64::MAX, ..ok }).is_err());
        // AArch64: Q, GE, T, DAIF, mode bits are not the user's.
        for bit in [1 << 27, 1 << 16, CPSR_THUMB, 0x3c0, 0x5, 1 << 21, 1 << 20] {
            assert!(v(State { cpsr: bit, ..ok }).is_err(), "{bit:#x}");
        }
        // AArch32: below 4 GiB, aligned by T, its own user bits.
        let a32 = State {
            pc: 0x8000,
            cpsr: CPSR_AARCH32 | CPSR_NZCV | CPSR_GE_Q | CPSR_IT,
            ..Default::default()
        };
        assert_eq!(v(a32), Ok(()));
        assert!(validate(&a32, Aarch32::Unavailable).is_err());
        assert!(v(State { pc: 1 << 32, ..a32 }).is_err());
        assert!(v(State { pc: 0x8002, ..a32 }).is_err());
        let t32 = State {
            cpsr: a32.cpsr | CPSR_THUMB,
            ..a32
        };
        assert_eq!(v(State { pc: 0x8002, ..t32 }), Ok(()));
        assert!(v(State { pc: 0x8001, ..t32 }).is_err());
        for bit in [0x3c0, 0x5, 1 << 21, 1 << 20, 1 << 9] {
            assert!(
                v(State {
                    cpsr: a32.cpsr | bit,
                    ..a32
                })
                .is_err(),
                "{bit:#x}"
            );
        }
    }

    #[test]
    fn aarch32_carries_r0_to_r14_and_mirrors_tls() {
        let mut x = [0u64; 31];
        for (i, r) in x.iter_mut().enumerate() {
            *r = 0xabcd_0000_0000_0000 | i as u64;
        }
        let s = State {
            x,
            pc: 0x8000,
            cpsr: CPSR_AARCH32 | CPSR_THUMB | CPSR_GE_Q,
            tpidr_el0: 0x1234,
            ..Default::default()
        };
        let mut ctx = UserContext {
            tpidr_el0: 0x1111,
            tpidrro_el0: 0x2222,
            ..Default::default()
        };
        let tls = load(&mut ctx, &s);
        assert_eq!(
            tls,
            NormalTls {
                tpidr_el0: 0x1111,
                tpidrro_el0: 0x2222
            }
        );
        for (i, r) in ctx.x.iter().enumerate() {
            assert_eq!(*r, if i < 15 { i as u64 } else { 0 }, "x{i}");
        }
        assert_eq!(ctx.tpidrro_el0, 0x1234, "TPIDRURO mirrors tpidr_el0");
        assert_eq!(ctx.spsr, u64::from(s.cpsr));
        ctx.x[20] = 7;
        ctx.x[3] |= 0xffff_0000_0000_0000;
        let saved = save(&ctx);
        assert_eq!(saved.x[20], 0);
        assert_eq!(saved.x[3], 3);
        assert_eq!(saved.cpsr, s.cpsr);
        enter_normal(&mut ctx, tls, 0x9000, 1, 0);
        assert_eq!((ctx.tpidr_el0, ctx.tpidrro_el0), (0x1111, 0x2222));
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
            tpidrro_el0: 0x3333,
            ..Default::default()
        };
        ctx.fp.q[8] = 0x0123_4567_89ab_cdef_0011_2233_4455_6677;
        ctx.fp.fpcr = 0x00c0_0000;
        let fp = ctx.fp;
        let tls = load(&mut ctx, &s);
        assert_eq!(ctx.fp, fp, "FP state is the thread's in both modes");
        assert_eq!(tls.tpidr_el0, 0x1111);
        assert_eq!(save(&ctx), s);
        enter_normal(&mut ctx, tls, 0x9000, 5, 2);
        assert_eq!(ctx.x[0], 5);
        assert_eq!(ctx.x[1], 2);
        assert!(ctx.x[2..].iter().all(|r| *r == 0));
        assert_eq!(
            (ctx.pc, ctx.sp, ctx.spsr, ctx.tpidr_el0, ctx.tpidrro_el0),
            (0x9000, 0, 0, 0x1111, 0x3333)
        );
        assert_eq!(ctx.fp, fp, "the return to normal mode keeps FP state");
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

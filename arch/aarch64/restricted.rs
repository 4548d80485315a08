//! aarch64 restricted-mode register handling: validating a
//! `zx_restricted_state_t`, loading it into a [`UserContext`], saving it
//! back, and building the normal-mode entry frame at the vector.

use crate::abi::{
    ZX_EXCP_FATAL_PAGE_FAULT, ZX_EXCP_GENERAL, ZX_EXCP_HW_BREAKPOINT, ZX_EXCP_SW_BREAKPOINT,
    ZX_EXCP_UNALIGNED_ACCESS, ZX_EXCP_UNDEFINED_INSTRUCTION, zx_exception_report_t,
    zx_restricted_state_arm64_t,
};

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
pub fn validate(state: &zx_restricted_state_arm64_t) -> Result<(), &'static str> {
    if state.pc & (1 << 55) != 0 {
        return Err("restricted pc is not a user address");
    }
    if state.cpsr & !CPSR_NZCV != 0 {
        return Err("restricted cpsr has bits other than NZCV");
    }
    Ok(())
}

/// Loads a validated state into `ctx` and returns the normal-mode TLS it
/// replaced.
pub fn load(ctx: &mut UserContext, s: &zx_restricted_state_arm64_t) -> NormalTls {
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
pub fn save(ctx: &UserContext) -> zx_restricted_state_arm64_t {
    zx_restricted_state_arm64_t {
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
pub fn enter_normal(ctx: &mut UserContext, tls: NormalTls, vector: u64, context: u64, reason: u64) {
    let mut x = [0; 31];
    x[0] = context;
    x[1] = reason;
    *ctx = UserContext {
        x,
        sp: 0,
        pc: vector,
        spsr: 0,
        tpidr_el0: tls.tpidr_el0,
    };
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

    #[test]
    fn validation() {
        let ok = zx_restricted_state_arm64_t {
            pc: 0x1000,
            cpsr: CPSR_NZCV,
            ..Default::default()
        };
        assert_eq!(validate(&ok), Ok(()));
        assert!(validate(&zx_restricted_state_arm64_t { pc: 1 << 55, ..ok }).is_err());
        assert!(validate(&zx_restricted_state_arm64_t { pc: u64::MAX, ..ok }).is_err());
        assert!(
            validate(&zx_restricted_state_arm64_t {
                cpsr: 1 << 27,
                ..ok
            })
            .is_err()
        );
        assert!(validate(&zx_restricted_state_arm64_t { cpsr: 0x3c5, ..ok }).is_err());
    }

    #[test]
    fn load_save_and_normal_entry() {
        let mut x = [0u64; 31];
        for (i, r) in x.iter_mut().enumerate() {
            *r = i as u64 + 100;
        }
        let s = zx_restricted_state_arm64_t {
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

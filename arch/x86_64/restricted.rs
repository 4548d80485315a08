//! x86_64 restricted-mode register handling: validating a
//! `zx_restricted_state_t`, loading it into a [`UserContext`], saving it
//! back, and building the normal-mode entry frame at the vector.

use crate::abi::{
    ZX_EXCP_FATAL_PAGE_FAULT, ZX_EXCP_GENERAL, ZX_EXCP_HW_BREAKPOINT, ZX_EXCP_SW_BREAKPOINT,
    ZX_EXCP_UNALIGNED_ACCESS, ZX_EXCP_UNDEFINED_INSTRUCTION, zx_exception_report_t,
    zx_restricted_state_x86_64_t,
};

use super::{ExceptionInfo, UserContext};

/// RFLAGS bits user code may set (Zircon's `X86_FLAGS_USER`): CF, PF, AF,
/// ZF, SF, TF, DF, OF, NT, AC, ID.
pub const X86_FLAGS_USER: u64 = (1 << 0)
    | (1 << 2)
    | (1 << 4)
    | (1 << 6)
    | (1 << 7)
    | (1 << 8)
    | (1 << 10)
    | (1 << 11)
    | (1 << 14)
    | (1 << 18)
    | (1 << 21);

/// RFLAGS.IF: interrupts enabled.
pub const X86_FLAGS_IF: u64 = 1 << 9;
/// RFLAGS bit 1, which always reads as 1.
pub const X86_FLAGS_RESERVED_ONES: u64 = 1 << 1;

/// Whether `addr` is canonical with 48-bit virtual addresses.
pub fn is_canonical(addr: u64) -> bool {
    let top = (addr as i64) >> 47;
    top == 0 || top == -1
}

/// The normal-mode thread state saved across a stay in restricted mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NormalTls {
    /// FS base.
    pub fs_base: u64,
    /// GS base.
    pub gs_base: u64,
}

/// Why a state is refused (`ZX_ERR_BAD_STATE`).
pub fn validate(state: &zx_restricted_state_x86_64_t) -> Result<(), &'static str> {
    if state.ip >= super::USER_ADDRESS_LIMIT {
        return Err("restricted ip is not a user address");
    }
    if state.flags & !X86_FLAGS_USER != 0 {
        return Err("restricted flags outside the user-settable mask");
    }
    if !is_canonical(state.fs_base) || !is_canonical(state.gs_base) {
        return Err("restricted fs/gs base not canonical");
    }
    Ok(())
}

/// Loads a validated state into `ctx` and returns the normal-mode TLS it
/// replaced.
pub fn load(ctx: &mut UserContext, s: &zx_restricted_state_x86_64_t) -> NormalTls {
    let saved = NormalTls {
        fs_base: ctx.fs_base,
        gs_base: ctx.gs_base,
    };
    *ctx = UserContext {
        rax: s.rax,
        rbx: s.rbx,
        rcx: s.rcx,
        rdx: s.rdx,
        rsi: s.rsi,
        rdi: s.rdi,
        rbp: s.rbp,
        rsp: s.rsp,
        r8: s.r8,
        r9: s.r9,
        r10: s.r10,
        r11: s.r11,
        r12: s.r12,
        r13: s.r13,
        r14: s.r14,
        r15: s.r15,
        rip: s.ip,
        rflags: (s.flags & X86_FLAGS_USER) | X86_FLAGS_IF | X86_FLAGS_RESERVED_ONES,
        fs_base: s.fs_base,
        gs_base: s.gs_base,
    };
    saved
}

/// The restricted state in `ctx` after a trap. `syscall` leaves the return
/// rip in rcx and rflags in r11; Zircon reports both as 0, so a syscall
/// exit passes `syscall = true`.
pub fn save(ctx: &UserContext, syscall: bool) -> zx_restricted_state_x86_64_t {
    let (rcx, r11) = if syscall { (0, 0) } else { (ctx.rcx, ctx.r11) };
    zx_restricted_state_x86_64_t {
        rdi: ctx.rdi,
        rsi: ctx.rsi,
        rbp: ctx.rbp,
        rbx: ctx.rbx,
        rdx: ctx.rdx,
        rcx,
        rax: ctx.rax,
        rsp: ctx.rsp,
        r8: ctx.r8,
        r9: ctx.r9,
        r10: ctx.r10,
        r11,
        r12: ctx.r12,
        r13: ctx.r13,
        r14: ctx.r14,
        r15: ctx.r15,
        ip: ctx.rip,
        flags: ctx.rflags & X86_FLAGS_USER,
        fs_base: ctx.fs_base,
        gs_base: ctx.gs_base,
    }
}

/// Rewrites `ctx` to enter normal mode at `vector`: every register zero but
/// `rdi = context`, `rsi = reason`, the normal FS/GS base, and RFLAGS with
/// only IF (and the always-one bit) set.
pub fn enter_normal(ctx: &mut UserContext, tls: NormalTls, vector: u64, context: u64, reason: u64) {
    *ctx = UserContext {
        rdi: context,
        rsi: reason,
        rip: vector,
        rflags: X86_FLAGS_IF | X86_FLAGS_RESERVED_ONES,
        fs_base: tls.fs_base,
        gs_base: tls.gs_base,
        ..UserContext::default()
    };
}

/// The exception report for a trap with `info`.
pub fn report(info: &ExceptionInfo) -> zx_exception_report_t {
    let type_ = match info.vector {
        1 => ZX_EXCP_HW_BREAKPOINT,
        3 => ZX_EXCP_SW_BREAKPOINT,
        6 => ZX_EXCP_UNDEFINED_INSTRUCTION,
        14 => ZX_EXCP_FATAL_PAGE_FAULT,
        17 => ZX_EXCP_UNALIGNED_ACCESS,
        _ => ZX_EXCP_GENERAL,
    };
    let cr2 = if info.vector == 14 { info.cr2 } else { 0 };
    zx_exception_report_t::x86_64(type_, info.vector, info.error_code, cr2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_flags_mask_is_zircons() {
        assert_eq!(X86_FLAGS_USER, 0x24_4dd5);
    }

    #[test]
    fn canonical() {
        assert!(is_canonical(0));
        assert!(is_canonical(0x7fff_ffff_ffff));
        assert!(!is_canonical(0x8000_0000_0000));
        assert!(is_canonical(0xffff_8000_0000_0000));
        assert!(!is_canonical(0x0001_0000_0000_0000));
    }

    #[test]
    fn validation() {
        let ok = zx_restricted_state_x86_64_t {
            ip: 0x1000,
            flags: X86_FLAGS_USER,
            fs_base: 0xffff_8000_0000_0000,
            ..Default::default()
        };
        assert_eq!(validate(&ok), Ok(()));
        for bad in [
            zx_restricted_state_x86_64_t { ip: 1 << 47, ..ok },
            zx_restricted_state_x86_64_t { ip: u64::MAX, ..ok },
            zx_restricted_state_x86_64_t {
                flags: X86_FLAGS_IF,
                ..ok
            },
            zx_restricted_state_x86_64_t {
                flags: 1 << 1,
                ..ok
            },
            zx_restricted_state_x86_64_t {
                fs_base: 1 << 47,
                ..ok
            },
            zx_restricted_state_x86_64_t {
                gs_base: 0x8000_0000_0000_0000,
                ..ok
            },
        ] {
            assert!(validate(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn load_then_save_round_trips_and_syscall_zeroes_rcx_r11() {
        let s = zx_restricted_state_x86_64_t {
            rdi: 1,
            rsi: 2,
            rbp: 3,
            rbx: 4,
            rdx: 5,
            rcx: 6,
            rax: 7,
            rsp: 8,
            r8: 9,
            r9: 10,
            r10: 11,
            r11: 12,
            r12: 13,
            r13: 14,
            r14: 15,
            r15: 16,
            ip: 0x4000,
            flags: 0x8d5,
            fs_base: 17,
            gs_base: 18,
        };
        let mut ctx = UserContext {
            fs_base: 0xaa,
            gs_base: 0xbb,
            ..Default::default()
        };
        let tls = load(&mut ctx, &s);
        assert_eq!(
            tls,
            NormalTls {
                fs_base: 0xaa,
                gs_base: 0xbb
            }
        );
        assert_eq!(ctx.rflags & X86_FLAGS_IF, X86_FLAGS_IF);
        assert_eq!(save(&ctx, false), s);
        let sys = save(&ctx, true);
        assert_eq!((sys.rcx, sys.r11), (0, 0));
        enter_normal(&mut ctx, tls, 0x9000, 0x77, 1);
        assert_eq!(
            ctx,
            UserContext {
                rdi: 0x77,
                rsi: 1,
                rip: 0x9000,
                rflags: X86_FLAGS_IF | X86_FLAGS_RESERVED_ONES,
                fs_base: 0xaa,
                gs_base: 0xbb,
                ..Default::default()
            }
        );
    }

    #[test]
    fn reports() {
        let ud = report(&ExceptionInfo {
            vector: 6,
            error_code: 0,
            cr2: 0x55,
        });
        assert_eq!(ud.header.type_, ZX_EXCP_UNDEFINED_INSTRUCTION);
        assert_eq!(ud.header.size, 40);
        assert_eq!(ud.arch, [6, 0, 0]);
        let pf = report(&ExceptionInfo {
            vector: 14,
            error_code: 7,
            cr2: 0x1234,
        });
        assert_eq!(pf.header.type_, ZX_EXCP_FATAL_PAGE_FAULT);
        assert_eq!(pf.arch, [14, 7, 0x1234]);
        assert_eq!(
            report(&ExceptionInfo {
                vector: 13,
                ..Default::default()
            })
            .header
            .type_,
            ZX_EXCP_GENERAL
        );
    }
}

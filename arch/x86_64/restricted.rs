//! x86_64 restricted-mode register handling: validating a
//! `zx_restricted_state_t`, loading it into a [`UserContext`], saving it
//! back, and building the normal-mode entry frame at the vector.
//!
//! Two forms of load and save: on a [`zx_restricted_state_x86_64_t`](State)
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
    zx_restricted_state_x86_64_t as State,
};
use crate::mmu::FrameMem;

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
#[inline]
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
#[inline]
pub fn validate(state: &State) -> Result<(), &'static str> {
    check(Checked {
        ip: state.ip,
        flags: state.flags,
        fs_base: state.fs_base,
        gs_base: state.gs_base,
    })
    .map(|_| ())
}

/// The fields of a state that enter validates, as read and approved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checked {
    ip: u64,
    flags: u64,
    fs_base: u64,
    gs_base: u64,
}

#[inline]
fn check(c: Checked) -> Result<Checked, &'static str> {
    if c.ip >= super::USER_ADDRESS_LIMIT {
        return Err("restricted ip is not a user address");
    }
    if c.flags & !X86_FLAGS_USER != 0 {
        return Err("restricted flags outside the user-settable mask");
    }
    if !is_canonical(c.fs_base) || !is_canonical(c.gs_base) {
        return Err("restricted fs/gs base not canonical");
    }
    Ok(c)
}

/// Word index of each field in the state's page.
mod word {
    use super::{State, offset_of};
    pub const RDI: usize = offset_of!(State, rdi) / 8;
    pub const RSI: usize = offset_of!(State, rsi) / 8;
    pub const RBP: usize = offset_of!(State, rbp) / 8;
    pub const RBX: usize = offset_of!(State, rbx) / 8;
    pub const RDX: usize = offset_of!(State, rdx) / 8;
    pub const RCX: usize = offset_of!(State, rcx) / 8;
    pub const RAX: usize = offset_of!(State, rax) / 8;
    pub const RSP: usize = offset_of!(State, rsp) / 8;
    pub const R8: usize = offset_of!(State, r8) / 8;
    pub const R9: usize = offset_of!(State, r9) / 8;
    pub const R10: usize = offset_of!(State, r10) / 8;
    pub const R11: usize = offset_of!(State, r11) / 8;
    pub const R12: usize = offset_of!(State, r12) / 8;
    pub const R13: usize = offset_of!(State, r13) / 8;
    pub const R14: usize = offset_of!(State, r14) / 8;
    pub const R15: usize = offset_of!(State, r15) / 8;
    pub const IP: usize = offset_of!(State, ip) / 8;
    pub const FLAGS: usize = offset_of!(State, flags) / 8;
    pub const FS_BASE: usize = offset_of!(State, fs_base) / 8;
    pub const GS_BASE: usize = offset_of!(State, gs_base) / 8;
}

/// [`validate`] on the state at offset 0 of `page`: reads the four
/// validated fields, once each.
#[inline]
pub fn check_page(page: FrameMem<'_>) -> Result<Checked, &'static str> {
    let w = page.words();
    check(Checked {
        ip: w[word::IP].load(Relaxed),
        flags: w[word::FLAGS].load(Relaxed),
        fs_base: w[word::FS_BASE].load(Relaxed),
        gs_base: w[word::GS_BASE].load(Relaxed),
    })
}

/// [`load`] from the state at offset 0 of `page`: the fields `checked`
/// holds come from it, every other register is read from the page once.
#[inline(always)]
pub fn load_page(ctx: &mut UserContext, page: FrameMem<'_>, checked: Checked) -> NormalTls {
    let w = page.words();
    let saved = NormalTls {
        fs_base: ctx.fs_base,
        gs_base: ctx.gs_base,
    };
    ctx.rax = w[word::RAX].load(Relaxed);
    ctx.rbx = w[word::RBX].load(Relaxed);
    ctx.rcx = w[word::RCX].load(Relaxed);
    ctx.rdx = w[word::RDX].load(Relaxed);
    ctx.rsi = w[word::RSI].load(Relaxed);
    ctx.rdi = w[word::RDI].load(Relaxed);
    ctx.rbp = w[word::RBP].load(Relaxed);
    ctx.rsp = w[word::RSP].load(Relaxed);
    ctx.r8 = w[word::R8].load(Relaxed);
    ctx.r9 = w[word::R9].load(Relaxed);
    ctx.r10 = w[word::R10].load(Relaxed);
    ctx.r11 = w[word::R11].load(Relaxed);
    ctx.r12 = w[word::R12].load(Relaxed);
    ctx.r13 = w[word::R13].load(Relaxed);
    ctx.r14 = w[word::R14].load(Relaxed);
    ctx.r15 = w[word::R15].load(Relaxed);
    ctx.rip = checked.ip;
    ctx.rflags = (checked.flags & X86_FLAGS_USER) | X86_FLAGS_IF | X86_FLAGS_RESERVED_ONES;
    ctx.fs_base = checked.fs_base;
    ctx.gs_base = checked.gs_base;
    saved
}

/// [`save`] into offset 0 of `page`, one store per field.
#[inline]
pub fn save_page(ctx: &UserContext, syscall: bool, page: FrameMem<'_>) {
    let w = page.words();
    let (rcx, r11) = if syscall { (0, 0) } else { (ctx.rcx, ctx.r11) };
    w[word::RDI].store(ctx.rdi, Relaxed);
    w[word::RSI].store(ctx.rsi, Relaxed);
    w[word::RBP].store(ctx.rbp, Relaxed);
    w[word::RBX].store(ctx.rbx, Relaxed);
    w[word::RDX].store(ctx.rdx, Relaxed);
    w[word::RCX].store(rcx, Relaxed);
    w[word::RAX].store(ctx.rax, Relaxed);
    w[word::RSP].store(ctx.rsp, Relaxed);
    w[word::R8].store(ctx.r8, Relaxed);
    w[word::R9].store(ctx.r9, Relaxed);
    w[word::R10].store(ctx.r10, Relaxed);
    w[word::R11].store(r11, Relaxed);
    w[word::R12].store(ctx.r12, Relaxed);
    w[word::R13].store(ctx.r13, Relaxed);
    w[word::R14].store(ctx.r14, Relaxed);
    w[word::R15].store(ctx.r15, Relaxed);
    w[word::IP].store(ctx.rip, Relaxed);
    w[word::FLAGS].store(ctx.rflags & X86_FLAGS_USER, Relaxed);
    w[word::FS_BASE].store(ctx.fs_base, Relaxed);
    w[word::GS_BASE].store(ctx.gs_base, Relaxed);
}

/// Loads a validated state into `ctx` and returns the normal-mode TLS it
/// replaced.
#[inline]
pub fn load(ctx: &mut UserContext, s: &State) -> NormalTls {
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
#[inline]
pub fn save(ctx: &UserContext, syscall: bool) -> State {
    let (rcx, r11) = if syscall { (0, 0) } else { (ctx.rcx, ctx.r11) };
    State {
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
#[inline]
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
    use crate::Platform;
    use crate::abi::Pod;
    use crate::arch::X86_64;
    use crate::sim::Sim;

    /// The page forms ([`check_page`], [`load_page`], [`save_page`]) agree
    /// with the value forms on random states and contexts.
    #[test]
    fn page_forms_match_value_forms() {
        let sim = Sim::<X86_64>::new();
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
            let mut words = [0u64; 20];
            words.iter_mut().for_each(|w| *w = next());
            let mut state = State::default();
            for (i, w) in words.iter().enumerate() {
                state.as_bytes_mut()[i * 8..i * 8 + 8].copy_from_slice(&w.to_ne_bytes());
            }
            // Make about half of them valid.
            if round % 2 == 0 {
                state.ip &= super::super::USER_ADDRESS_LIMIT - 1;
                state.flags &= X86_FLAGS_USER;
                state.fs_base = (state.fs_base as i64 >> 16) as u64;
                state.gs_base = (state.gs_base as i64 >> 16) as u64;
            }
            assert!(page.write_pod(0, &state));
            let checked = check_page(page);
            assert_eq!(checked.map(|_| ()), validate(&state), "{state:x?}");
            let before = UserContext {
                rax: next(),
                rcx: next(),
                rsp: next(),
                rip: next(),
                rflags: next(),
                fs_base: next(),
                gs_base: next(),
                ..Default::default()
            };
            if let Ok(checked) = checked {
                let (mut a, mut b) = (before, before);
                assert_eq!(load(&mut a, &state), load_page(&mut b, page, checked));
                assert_eq!(a, b);
            }
            for syscall in [false, true] {
                save_page(&before, syscall, page);
                assert_eq!(page.read_pod::<State>(0), Some(save(&before, syscall)));
            }
        }
        sim.free_frame(frame);
    }

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
        let ok = State {
            ip: 0x1000,
            flags: X86_FLAGS_USER,
            fs_base: 0xffff_8000_0000_0000,
            ..Default::default()
        };
        assert_eq!(validate(&ok), Ok(()));
        for bad in [
            State { ip: 1 << 47, ..ok },
            State { ip: u64::MAX, ..ok },
            State {
                flags: X86_FLAGS_IF,
                ..ok
            },
            State {
                flags: 1 << 1,
                ..ok
            },
            State {
                fs_base: 1 << 47,
                ..ok
            },
            State {
                gs_base: 0x8000_0000_0000_0000,
                ..ok
            },
        ] {
            assert!(validate(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn load_then_save_round_trips_and_syscall_zeroes_rcx_r11() {
        let s = State {
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

//! Restricted-mode records, from `zircon/system/public/zircon/syscalls-next.h`
//! (misttech/fuchsia@01648b3d5a3de50bf89834588968da5368749adf): the reason
//! codes, `zx_restricted_state_t` (`#if __aarch64__` / `#elif __x86_64__`),
//! and `zx_restricted_exception_t` (the state, then a
//! [`zx_exception_report_t`]).
//!
//! Both architectures' layouts are defined on every target (the crate's
//! arch backends all compile everywhere); an [`crate::arch::Arch`] picks its
//! own. Every offset is pinned with a compile-time assertion.

use core::mem::{offset_of, size_of};
use static_assertions::const_assert_eq;

use super::zx_exception_report_t;

/// `zx_restricted_reason_t`.
#[allow(non_camel_case_types)]
pub type zx_restricted_reason_t = u64;
/// `ZX_RESTRICTED_REASON_SYSCALL`.
pub const ZX_RESTRICTED_REASON_SYSCALL: zx_restricted_reason_t = 0;
/// `ZX_RESTRICTED_REASON_EXCEPTION`.
pub const ZX_RESTRICTED_REASON_EXCEPTION: zx_restricted_reason_t = 1;
/// `ZX_RESTRICTED_REASON_KICK`.
pub const ZX_RESTRICTED_REASON_KICK: zx_restricted_reason_t = 2;
/// `ZX_RESTRICTED_REASON_EXCEPTION_LOST` (newer `syscalls-next.h`,
/// misttech/fuchsia@74bc581b0782326de537809e64dac1090fcbfd9b): an exception
/// report could not be copied to the user pointer given to the
/// three-argument `zx_restricted_bind_state`. This crate implements the
/// two-argument (v2) bind, which writes reports into the state VMO, so it
/// never produces this reason; the value is listed to reserve it.
pub const ZX_RESTRICTED_REASON_EXCEPTION_LOST: zx_restricted_reason_t = 3;

/// x86_64 `zx_restricted_state_t` (160 bytes).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zx_restricted_state_x86_64_t {
    /// `rdi`.
    pub rdi: u64,
    /// `rsi`.
    pub rsi: u64,
    /// `rbp`.
    pub rbp: u64,
    /// `rbx`.
    pub rbx: u64,
    /// `rdx`.
    pub rdx: u64,
    /// `rcx`.
    pub rcx: u64,
    /// `rax`.
    pub rax: u64,
    /// `rsp`.
    pub rsp: u64,
    /// `r8`.
    pub r8: u64,
    /// `r9`.
    pub r9: u64,
    /// `r10`.
    pub r10: u64,
    /// `r11`.
    pub r11: u64,
    /// `r12`.
    pub r12: u64,
    /// `r13`.
    pub r13: u64,
    /// `r14`.
    pub r14: u64,
    /// `r15`.
    pub r15: u64,
    /// Instruction pointer.
    pub ip: u64,
    /// RFLAGS.
    pub flags: u64,
    /// FS base.
    pub fs_base: u64,
    /// GS base.
    pub gs_base: u64,
}

const_assert_eq!(size_of::<zx_restricted_state_x86_64_t>(), 160);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, rdi), 0);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, rsi), 8);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, rbp), 16);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, rbx), 24);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, rdx), 32);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, rcx), 40);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, rax), 48);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, rsp), 56);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, r8), 64);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, r9), 72);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, r10), 80);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, r11), 88);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, r12), 96);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, r13), 104);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, r14), 112);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, r15), 120);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, ip), 128);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, flags), 136);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, fs_base), 144);
const_assert_eq!(offset_of!(zx_restricted_state_x86_64_t, gs_base), 152);

/// aarch64 `zx_restricted_state_t` (280 bytes).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zx_restricted_state_arm64_t {
    /// `x0`..`x30`.
    pub x: [u64; 31],
    /// `sp` (SP_EL0).
    pub sp: u64,
    /// `pc`.
    pub pc: u64,
    /// `tpidr_el0`.
    pub tpidr_el0: u64,
    /// The user-controllable NZCV bits (28..=31).
    pub cpsr: u32,
    /// Padding.
    pub padding1: [u8; 4],
}

const_assert_eq!(size_of::<zx_restricted_state_arm64_t>(), 280);
const_assert_eq!(offset_of!(zx_restricted_state_arm64_t, x), 0);
const_assert_eq!(offset_of!(zx_restricted_state_arm64_t, sp), 248);
const_assert_eq!(offset_of!(zx_restricted_state_arm64_t, pc), 256);
const_assert_eq!(offset_of!(zx_restricted_state_arm64_t, tpidr_el0), 264);
const_assert_eq!(offset_of!(zx_restricted_state_arm64_t, cpsr), 272);
const_assert_eq!(offset_of!(zx_restricted_state_arm64_t, padding1), 276);

/// x86_64 `zx_restricted_exception_t`: the state, then the report (200 bytes).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zx_restricted_exception_x86_64_t {
    /// The registers at the exception.
    pub state: zx_restricted_state_x86_64_t,
    /// The report.
    pub exception: zx_exception_report_t,
}

const_assert_eq!(size_of::<zx_restricted_exception_x86_64_t>(), 200);
const_assert_eq!(offset_of!(zx_restricted_exception_x86_64_t, exception), 160);

/// aarch64 `zx_restricted_exception_t`: the state, then the report (320 bytes).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zx_restricted_exception_arm64_t {
    /// The registers at the exception.
    pub state: zx_restricted_state_arm64_t,
    /// The report.
    pub exception: zx_exception_report_t,
}

const_assert_eq!(size_of::<zx_restricted_exception_arm64_t>(), 320);
const_assert_eq!(offset_of!(zx_restricted_exception_arm64_t, exception), 280);

// SAFETY: repr(C), u64 fields only, no padding (size asserted).
unsafe impl super::Pod for zx_restricted_state_x86_64_t {}
// SAFETY: repr(C), integer fields and an explicit padding array, no implicit
// padding (size and every offset asserted).
unsafe impl super::Pod for zx_restricted_state_arm64_t {}
// SAFETY: repr(C) pair of Pod records, 160 + 40 = 200 (asserted): no padding.
unsafe impl super::Pod for zx_restricted_exception_x86_64_t {}
// SAFETY: repr(C) pair of Pod records, 280 + 40 = 320 (asserted): no padding.
unsafe impl super::Pod for zx_restricted_exception_arm64_t {}

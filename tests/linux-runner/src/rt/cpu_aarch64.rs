//! aarch64 bare-metal parts: `_start`, the restricted-mode vector and the
//! enter path, which keep the guest's FP/SIMD registers: the runner's own
//! code uses them (`aarch64-unknown-none` has NEON), so the vector saves
//! `v0..v31`, `fpcr`, `fpsr` into the context before any Rust code runs,
//! and the enter path restores them right before the `svc`. The virtual
//! counter is the clock.

use core::arch::global_asm;

pub use crate::arch::aarch64 as abi;
pub use zx_subsystem::abi::zx_restricted_state_arm64_t as State;

use super::run::{FP_OFFSET, VectorCtx};

/// Where the runner's heap goes (just above its image).
pub const HEAP_AT: u64 = 0x0000_8000_2000_0000;
/// Where the state VMO goes.
pub const STATE_AT: u64 = 0x0000_8000_1f00_0000;
/// What a new thread's stack pointer is below a 16-aligned top, so that
/// its entry function sees the stack as after a call: AArch64 keeps `sp` 16-aligned at all times; a call pushes nothing.
pub const ENTRY_SP_BIAS: u64 = 0;

global_asm!(
    ".pushsection .text._start, \"ax\"",
    ".global _start",
    "_start:",
    "mov x29, #0",
    "mov x30, #0",
    "bl {main}",
    "brk #1",
    ".popsection",
    ".pushsection .text.linux_runner_vector, \"ax\"",
    ".global linux_runner_vector",
    ".balign 16",
    "linux_runner_vector:",
    // x0 = context, x1 = reason, everything else 0.
    "ldr x2, [x0]",
    "mov sp, x2",
    "add x3, x0, #{fp}",
    "stp q0, q1, [x3, #0]",
    "stp q2, q3, [x3, #32]",
    "stp q4, q5, [x3, #64]",
    "stp q6, q7, [x3, #96]",
    "stp q8, q9, [x3, #128]",
    "stp q10, q11, [x3, #160]",
    "stp q12, q13, [x3, #192]",
    "stp q14, q15, [x3, #224]",
    "stp q16, q17, [x3, #256]",
    "stp q18, q19, [x3, #288]",
    "stp q20, q21, [x3, #320]",
    "stp q22, q23, [x3, #352]",
    "stp q24, q25, [x3, #384]",
    "stp q26, q27, [x3, #416]",
    "stp q28, q29, [x3, #448]",
    "stp q30, q31, [x3, #480]",
    "mrs x4, fpcr",
    "mrs x5, fpsr",
    "str x4, [x3, #512]",
    "str x5, [x3, #520]",
    "bl {vector}",
    "brk #1",
    //
    // linux_runner_enter(ctx = x0, vector = x1): restore the guest's FP
    // registers, then zx_restricted_enter(0, vector, ctx).
    ".global linux_runner_enter",
    "linux_runner_enter:",
    "add x3, x0, #{fp}",
    "ldr x4, [x3, #512]",
    "ldr x5, [x3, #520]",
    "msr fpcr, x4",
    "msr fpsr, x5",
    "ldp q0, q1, [x3, #0]",
    "ldp q2, q3, [x3, #32]",
    "ldp q4, q5, [x3, #64]",
    "ldp q6, q7, [x3, #96]",
    "ldp q8, q9, [x3, #128]",
    "ldp q10, q11, [x3, #160]",
    "ldp q12, q13, [x3, #192]",
    "ldp q14, q15, [x3, #224]",
    "ldp q16, q17, [x3, #256]",
    "ldp q18, q19, [x3, #288]",
    "ldp q20, q21, [x3, #320]",
    "ldp q22, q23, [x3, #352]",
    "ldp q24, q25, [x3, #384]",
    "ldp q26, q27, [x3, #416]",
    "ldp q28, q29, [x3, #448]",
    "ldp q30, q31, [x3, #480]",
    "mov x2, x0",
    "mov x0, #0",
    "mov x16, #{enter}",
    "svc #0",
    // Only a refusal comes back: report it (never returns).
    "bl {failed}",
    "brk #1",
    ".popsection",
    main = sym super::runner_main,
    vector = sym super::run::on_vector,
    failed = sym super::run::enter_failed,
    fp = const FP_OFFSET,
    enter = const zx_user::SyscallNumber::RestrictedEnter as u64,
);

unsafe extern "C" {
    fn linux_runner_vector();
    fn linux_runner_enter(ctx: *mut u8, vector: u64) -> !;
}

/// Enters restricted mode; back at [`super::run::on_vector`]. A refusal
/// goes to [`super::run::enter_failed`], so this never returns.
pub fn enter(ctx: *mut VectorCtx) -> zx_user::Status {
    zx_user::raw::note(zx_user::SyscallNumber::RestrictedEnter);
    // SAFETY: `ctx` is the runner's context (its FP area is initialized);
    // the vector resets the stack and never returns into this frame, and
    // the caller keeps nothing that needs dropping.
    unsafe { linux_runner_enter(ctx.cast(), linux_runner_vector as *const () as u64) }
}

/// Linux's initial FP state: every register 0, `fpcr` 0.
pub fn init_fp(ctx: &mut VectorCtx) {
    ctx.fp = [0; crate::arch::aarch64::FP_BYTES];
}

/// The virtual counter (62.5 MHz; calibrated against instructions).
pub fn cycles() -> u64 {
    let v: u64;
    // SAFETY: EL0 may read CNTVCT_EL0 (the kernel sets CNTKCTL_EL1.EL0VCTEN).
    unsafe { core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// `AT_HWCAP` for QEMU's cortex-a57: fp, asimd, aes, pmull, sha1, sha2,
/// crc32 (no `cpuid`: EL0 reads of ID registers are not emulated).
pub fn hwcap() -> u64 {
    0xfb
}

/// Runs `n` iterations of a two-instruction loop (the calibration).
pub fn spin(n: u64) {
    // SAFETY: register-only loop.
    unsafe {
        core::arch::asm!("2: subs {0}, {0}, #1", "b.ne 2b", inout(reg) n => _, options(nomem, nostack))
    };
}

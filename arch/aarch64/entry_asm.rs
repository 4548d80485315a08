//! The aarch64 entry assembly: the switch to EL0 and the `VBAR_EL1`
//! vector table. Compiled on aarch64 targets only.
//!
//! # The `run_user` frame (208 bytes on `SP_EL1`)
//!
//! ```text
//! sp +   0  x19 x20 x21 x22 x23 x24 x25 x26 x27 x28 x29 x30
//! sp +  96  x18, kernel DAIF
//! sp + 112  *mut UserContext, *mut RawTrap
//! sp + 128  d8 .. d15            (FP builds only)
//! sp + 192  FPCR, padding        (FP builds only)
//! ```
//!
//! In FP builds the user's FP/SIMD registers
//! ([`FpState`](super::context::FpState)) are loaded from the context
//! before `eret` and saved back at the next exception, so kernel code that
//! uses SIMD between two traps cannot corrupt them.
//!
//! `eret` leaves `SP_EL1` at this frame, so an exception from EL0 finds it
//! at `sp` on entry.
//!
//! # The kernel-trap frame (688 bytes)
//!
//! A [`KernelFrame`](super::entry::KernelFrame) (288 bytes) followed, in FP
//! builds, by the caller-saved `q0`-`q7`, `q16`-`q31`, FPSR and FPCR, so a
//! Rust handler may use SIMD without corrupting the interrupted code.

use core::mem::offset_of;

use super::UserContext;
use super::entry::{KERNEL_TRAP_HANDLER, KernelFrame, RawTrap};

unsafe extern "C" {
    /// Switches to EL0 with `ctx` and returns at the next exception from
    /// EL0, described in `raw`.
    ///
    /// Safety: the obligations of `run_user`, plus `ctx.spsr` is EL0t.
    #[link_name = "zx_subsystem_aarch64_enter_user"]
    pub(super) fn enter_user(ctx: *mut UserContext, raw: *mut RawTrap);

    /// The vector table (2 KiB aligned).
    #[link_name = "zx_subsystem_aarch64_vectors"]
    pub(super) fn vectors();
}

/// Saves the kernel's callee-saved FP state into the `run_user` frame.
#[cfg(target_feature = "neon")]
macro_rules! save_callee_fp {
    () => {
        "stp d8, d9, [sp, #128]\n stp d10, d11, [sp, #144]\n \
         stp d12, d13, [sp, #160]\n stp d14, d15, [sp, #176]\n \
         mrs x9, fpcr\n str x9, [sp, #192]"
    };
}
#[cfg(target_feature = "neon")]
macro_rules! restore_callee_fp {
    () => {
        "ldp d8, d9, [sp, #128]\n ldp d10, d11, [sp, #144]\n \
         ldp d12, d13, [sp, #160]\n ldp d14, d15, [sp, #176]\n \
         ldr x9, [sp, #192]\n msr fpcr, x9"
    };
}
/// Saves the caller-saved FP state above the kernel-trap frame.
#[cfg(target_feature = "neon")]
macro_rules! save_caller_fp {
    () => {
        "stp q0, q1, [sp, #288]\n stp q2, q3, [sp, #320]\n \
         stp q4, q5, [sp, #352]\n stp q6, q7, [sp, #384]\n \
         stp q16, q17, [sp, #416]\n stp q18, q19, [sp, #448]\n \
         stp q20, q21, [sp, #480]\n stp q22, q23, [sp, #512]\n \
         stp q24, q25, [sp, #544]\n stp q26, q27, [sp, #576]\n \
         stp q28, q29, [sp, #608]\n stp q30, q31, [sp, #640]\n \
         mrs x9, fpsr\n mrs x10, fpcr\n str x9, [sp, #672]\n str x10, [sp, #680]"
    };
}
#[cfg(target_feature = "neon")]
macro_rules! restore_caller_fp {
    () => {
        "ldp q0, q1, [sp, #288]\n ldp q2, q3, [sp, #320]\n \
         ldp q4, q5, [sp, #352]\n ldp q6, q7, [sp, #384]\n \
         ldp q16, q17, [sp, #416]\n ldp q18, q19, [sp, #448]\n \
         ldp q20, q21, [sp, #480]\n ldp q22, q23, [sp, #512]\n \
         ldp q24, q25, [sp, #544]\n ldp q26, q27, [sp, #576]\n \
         ldp q28, q29, [sp, #608]\n ldp q30, q31, [sp, #640]\n \
         ldr x9, [sp, #672]\n ldr x10, [sp, #680]\n msr fpsr, x9\n msr fpcr, x10"
    };
}
/// Loads the user's FP/SIMD state from the context at `x0` (x9, x10
/// scratch).
#[cfg(target_feature = "neon")]
macro_rules! load_user_fp {
    () => {
        "add x9, x0, #{fp}\n \
         ldp q0, q1, [x9, #0]\n ldp q2, q3, [x9, #32]\n \
         ldp q4, q5, [x9, #64]\n ldp q6, q7, [x9, #96]\n \
         ldp q8, q9, [x9, #128]\n ldp q10, q11, [x9, #160]\n \
         ldp q12, q13, [x9, #192]\n ldp q14, q15, [x9, #224]\n \
         ldp q16, q17, [x9, #256]\n ldp q18, q19, [x9, #288]\n \
         ldp q20, q21, [x9, #320]\n ldp q22, q23, [x9, #352]\n \
         ldp q24, q25, [x9, #384]\n ldp q26, q27, [x9, #416]\n \
         ldp q28, q29, [x9, #448]\n ldp q30, q31, [x9, #480]\n \
         ldr x10, [x9, #520]\n ldr x9, [x9, #512]\n msr fpsr, x9\n msr fpcr, x10"
    };
}
/// Saves the user's FP/SIMD state into the context at `x0` (x2, x3
/// scratch).
#[cfg(target_feature = "neon")]
macro_rules! save_user_fp {
    () => {
        "add x2, x0, #{fp}\n \
         stp q0, q1, [x2, #0]\n stp q2, q3, [x2, #32]\n \
         stp q4, q5, [x2, #64]\n stp q6, q7, [x2, #96]\n \
         stp q8, q9, [x2, #128]\n stp q10, q11, [x2, #160]\n \
         stp q12, q13, [x2, #192]\n stp q14, q15, [x2, #224]\n \
         stp q16, q17, [x2, #256]\n stp q18, q19, [x2, #288]\n \
         stp q20, q21, [x2, #320]\n stp q22, q23, [x2, #352]\n \
         stp q24, q25, [x2, #384]\n stp q26, q27, [x2, #416]\n \
         stp q28, q29, [x2, #448]\n stp q30, q31, [x2, #480]\n \
         mrs x3, fpsr\n str x3, [x2, #512]\n mrs x3, fpcr\n str x3, [x2, #520]"
    };
}
#[cfg(not(target_feature = "neon"))]
macro_rules! load_user_fp {
    () => {
        ""
    };
}
#[cfg(not(target_feature = "neon"))]
macro_rules! save_user_fp {
    () => {
        ""
    };
}
#[cfg(not(target_feature = "neon"))]
macro_rules! save_callee_fp {
    () => {
        ""
    };
}
#[cfg(not(target_feature = "neon"))]
macro_rules! restore_callee_fp {
    () => {
        ""
    };
}
#[cfg(not(target_feature = "neon"))]
macro_rules! save_caller_fp {
    () => {
        ""
    };
}
#[cfg(not(target_feature = "neon"))]
macro_rules! restore_caller_fp {
    () => {
        ""
    };
}

/// A current-EL vector: open a kernel-trap frame, save x0/x1, x0 = kind.
macro_rules! kernel_vector {
    ($kind:literal) => {
        concat!(
            ".balign 0x80\n",
            "sub sp, sp, #688\n",
            "stp x0, x1, [sp]\n",
            "mov x0, #",
            $kind,
            "\n",
            "b .Lzx_a64_kernel\n"
        )
    };
}

/// A lower-EL vector (AArch64 or AArch32 EL0): push the user's x0/x1, x1 =
/// kind. AArch32 state lives in the low halves of `x0`-`x14`, so one save
/// serves both.
macro_rules! lower_vector {
    ($kind:literal) => {
        concat!(
            ".balign 0x80\n",
            "stp x0, x1, [sp, #-16]!\n",
            "mov x1, #",
            $kind,
            "\n",
            "b .Lzx_a64_lower\n"
        )
    };
}

const _: () = assert!(core::mem::size_of::<KernelFrame>() == 288);

core::arch::global_asm!(
    // ---------------------------------------------------------------
    // enter_user(x0 = ctx, x1 = raw)
    // ---------------------------------------------------------------
    ".balign 16",
    ".global zx_subsystem_aarch64_enter_user",
    "zx_subsystem_aarch64_enter_user:",
    "sub sp, sp, #208",
    "stp x19, x20, [sp, #0]",
    "stp x21, x22, [sp, #16]",
    "stp x23, x24, [sp, #32]",
    "stp x25, x26, [sp, #48]",
    "stp x27, x28, [sp, #64]",
    "stp x29, x30, [sp, #80]",
    "mrs x9, daif",
    "stp x18, x9, [sp, #96]",
    "stp x0, x1, [sp, #112]",
    save_callee_fp!(),
    // ELR/SPSR must not be overwritten by an exception before eret.
    "msr daifset, #0xf",
    load_user_fp!(),
    "ldp x9, x10, [x0, #{sp_el0}]",
    "msr sp_el0, x9",
    "msr elr_el1, x10",
    "ldp x9, x10, [x0, #{spsr}]",
    "msr spsr_el1, x9",
    "msr tpidr_el0, x10",
    // Read-only at EL0: loaded here, never saved back.
    "ldr x9, [x0, #{tpidrro}]",
    "msr tpidrro_el0, x9",
    "ldp x2, x3, [x0, #16]",
    "ldp x4, x5, [x0, #32]",
    "ldp x6, x7, [x0, #48]",
    "ldp x8, x9, [x0, #64]",
    "ldp x10, x11, [x0, #80]",
    "ldp x12, x13, [x0, #96]",
    "ldp x14, x15, [x0, #112]",
    "ldp x16, x17, [x0, #128]",
    "ldp x18, x19, [x0, #144]",
    "ldp x20, x21, [x0, #160]",
    "ldp x22, x23, [x0, #176]",
    "ldp x24, x25, [x0, #192]",
    "ldp x26, x27, [x0, #208]",
    "ldp x28, x29, [x0, #224]",
    "ldr x30, [x0, #240]",
    "ldp x0, x1, [x0, #0]",
    "eret",
    // No straight-line speculation past eret.
    "dsb nsh",
    "isb",
    // ---------------------------------------------------------------
    // From EL0: x1 = kind, the user's x0/x1 at [sp], the run_user frame
    // at sp + 16.
    // ---------------------------------------------------------------
    ".Lzx_a64_lower:",
    "ldr x0, [sp, #128]",
    "stp x2, x3, [x0, #16]",
    "stp x4, x5, [x0, #32]",
    "stp x6, x7, [x0, #48]",
    "stp x8, x9, [x0, #64]",
    "stp x10, x11, [x0, #80]",
    "stp x12, x13, [x0, #96]",
    "stp x14, x15, [x0, #112]",
    "stp x16, x17, [x0, #128]",
    "stp x18, x19, [x0, #144]",
    "stp x20, x21, [x0, #160]",
    "stp x22, x23, [x0, #176]",
    "stp x24, x25, [x0, #192]",
    "stp x26, x27, [x0, #208]",
    "stp x28, x29, [x0, #224]",
    "str x30, [x0, #240]",
    save_user_fp!(),
    "ldp x2, x3, [sp], #16",
    "stp x2, x3, [x0, #0]",
    "mrs x2, sp_el0",
    "mrs x3, elr_el1",
    "stp x2, x3, [x0, #{sp_el0}]",
    "mrs x2, spsr_el1",
    "mrs x3, tpidr_el0",
    "stp x2, x3, [x0, #{spsr}]",
    "mrs x2, esr_el1",
    "mrs x3, far_el1",
    "ldr x4, [sp, #120]",
    "str x1, [x4, #{raw_kind}]",
    "str x2, [x4, #{raw_esr}]",
    "str x3, [x4, #{raw_far}]",
    restore_callee_fp!(),
    "ldp x18, x9, [sp, #96]",
    "ldp x19, x20, [sp, #0]",
    "ldp x21, x22, [sp, #16]",
    "ldp x23, x24, [sp, #32]",
    "ldp x25, x26, [sp, #48]",
    "ldp x27, x28, [sp, #64]",
    "ldp x29, x30, [sp, #80]",
    "add sp, sp, #208",
    "msr daif, x9",
    "ret",
    // ---------------------------------------------------------------
    // At EL1: x0 = kind, x0/x1 saved at [sp].
    // ---------------------------------------------------------------
    ".Lzx_a64_kernel:",
    "stp x2, x3, [sp, #16]",
    "stp x4, x5, [sp, #32]",
    "stp x6, x7, [sp, #48]",
    "stp x8, x9, [sp, #64]",
    "stp x10, x11, [sp, #80]",
    "stp x12, x13, [sp, #96]",
    "stp x14, x15, [sp, #112]",
    "stp x16, x17, [sp, #128]",
    "stp x18, x19, [sp, #144]",
    "stp x20, x21, [sp, #160]",
    "stp x22, x23, [sp, #176]",
    "stp x24, x25, [sp, #192]",
    "stp x26, x27, [sp, #208]",
    "stp x28, x29, [sp, #224]",
    "str x30, [sp, #240]",
    "mrs x2, elr_el1",
    "mrs x3, spsr_el1",
    "stp x2, x3, [sp, #{kf_elr}]",
    "mrs x2, esr_el1",
    "mrs x3, far_el1",
    "stp x2, x3, [sp, #{kf_esr}]",
    "str x0, [sp, #{kf_kind}]",
    save_caller_fp!(),
    "adrp x9, {handler}",
    "ldr x9, [x9, #:lo12:{handler}]",
    "cbz x9, .Lzx_a64_hang",
    "mov x0, sp",
    "blr x9",
    restore_caller_fp!(),
    "ldp x2, x3, [sp, #{kf_elr}]",
    "msr elr_el1, x2",
    "msr spsr_el1, x3",
    "ldp x2, x3, [sp, #16]",
    "ldp x4, x5, [sp, #32]",
    "ldp x6, x7, [sp, #48]",
    "ldp x8, x9, [sp, #64]",
    "ldp x10, x11, [sp, #80]",
    "ldp x12, x13, [sp, #96]",
    "ldp x14, x15, [sp, #112]",
    "ldp x16, x17, [sp, #128]",
    "ldp x18, x19, [sp, #144]",
    "ldp x20, x21, [sp, #160]",
    "ldp x22, x23, [sp, #176]",
    "ldp x24, x25, [sp, #192]",
    "ldp x26, x27, [sp, #208]",
    "ldp x28, x29, [sp, #224]",
    "ldr x30, [sp, #240]",
    "ldp x0, x1, [sp, #0]",
    "add sp, sp, #688",
    "eret",
    "dsb nsh",
    "isb",
    // No handler registered: nothing sensible to return to.
    ".Lzx_a64_hang:",
    "wfe",
    "b .Lzx_a64_hang",
    // ---------------------------------------------------------------
    // The vector table.
    // ---------------------------------------------------------------
    ".balign 2048",
    ".global zx_subsystem_aarch64_vectors",
    "zx_subsystem_aarch64_vectors:",
    kernel_vector!(0),
    kernel_vector!(1),
    kernel_vector!(2),
    kernel_vector!(3),
    kernel_vector!(4),
    kernel_vector!(5),
    kernel_vector!(6),
    kernel_vector!(7),
    lower_vector!(0),
    lower_vector!(1),
    lower_vector!(2),
    lower_vector!(3),
    // Lower EL using AArch32 (restricted AArch32 code): the same path.
    lower_vector!(0),
    lower_vector!(1),
    lower_vector!(2),
    lower_vector!(3),
    sp_el0 = const offset_of!(UserContext, sp),
    spsr = const offset_of!(UserContext, spsr),
    tpidrro = const offset_of!(UserContext, tpidrro_el0),
    fp = const offset_of!(UserContext, fp),
    raw_kind = const offset_of!(RawTrap, kind),
    raw_esr = const offset_of!(RawTrap, esr),
    raw_far = const offset_of!(RawTrap, far),
    kf_elr = const offset_of!(KernelFrame, elr),
    kf_esr = const offset_of!(KernelFrame, esr),
    kf_kind = const offset_of!(KernelFrame, kind),
    handler = sym KERNEL_TRAP_HANDLER,
);

const _: () = {
    assert!(offset_of!(UserContext, pc) == offset_of!(UserContext, sp) + 8);
    assert!(offset_of!(UserContext, tpidr_el0) == offset_of!(UserContext, spsr) + 8);
    assert!(offset_of!(KernelFrame, spsr) == offset_of!(KernelFrame, elr) + 8);
    assert!(offset_of!(KernelFrame, far) == offset_of!(KernelFrame, esr) + 8);
};

//! x86_64 bare-metal parts: `_start`, the restricted-mode vector, entering,
//! the guest's FP state (`fninit` at start, `fxsave`/`fxrstor` for signal
//! frames; the runner itself is built soft-float, so between guest
//! syscalls nobody else touches the x87/SSE registers), the TSC.

use core::arch::global_asm;

pub use crate::arch::x86_64 as abi;
pub use zx_subsystem::abi::zx_restricted_state_x86_64_t as State;

use super::run::VectorCtx;

/// Where the runner's heap goes (just above its image).
pub const HEAP_AT: u64 = 0x0000_4000_2000_0000;
/// Where the state VMO goes.
pub const STATE_AT: u64 = 0x0000_4000_1f00_0000;
/// What a new thread's stack pointer is below a 16-aligned top, so that
/// its entry function sees the stack as after a call: an x86-64 function starts with `rsp + 8` 16-aligned (the call pushed its return address).
pub const ENTRY_SP_BIAS: u64 = 8;

global_asm!(
    ".pushsection .text._start, \"ax\"",
    ".global _start",
    "_start:",
    "xor ebp, ebp",
    "call {main}",
    "ud2",
    ".popsection",
    ".pushsection .text.linux_runner_vector, \"ax\"",
    ".global linux_runner_vector",
    "linux_runner_vector:",
    // rdi = context, rsi = reason, every other register 0: the stack
    // comes from the context.
    "mov rsp, [rdi]",
    "call {vector}",
    "ud2",
    ".popsection",
    main = sym super::runner_main,
    vector = sym super::run::on_vector,
);

unsafe extern "C" {
    fn linux_runner_vector();
}

/// Enters restricted mode with the state in the state VMO; back at
/// [`super::run::on_vector`]. Returns only if the kernel refused.
pub fn enter(ctx: *mut VectorCtx) -> zx_user::Status {
    // SAFETY: the vector resets the stack from the context and never
    // returns into this frame; the caller keeps nothing that needs
    // dropping (`run::on_vector` calls this last).
    unsafe { zx_user::restricted::enter(linux_runner_vector as *const () as u64, ctx as u64) }
}

/// Puts the FPU in Linux's initial state (control word 0x37f, MXCSR
/// 0x1f80, registers empty).
pub fn init_fp(_ctx: &mut VectorCtx) {
    let mxcsr: u32 = 0x1f80;
    // SAFETY: fninit and ldmxcsr only change FP state, which the guest
    // owns and has not started using.
    unsafe {
        core::arch::asm!("fninit", "ldmxcsr [{}]", in(reg) &mxcsr, options(nostack));
    }
}

/// A 512-byte `fxsave` image, 16-aligned.
#[repr(C, align(16))]
pub struct FxArea(pub [u8; 512]);

/// Saves the guest's FP state (it is the CPU's: see the module doc).
pub fn fxsave(area: &mut FxArea) {
    // SAFETY: the area is 512 bytes, 16-aligned and ours.
    unsafe { core::arch::asm!("fxsave64 [{}]", in(reg) area.0.as_mut_ptr(), options(nostack)) };
}

/// Restores FP state from `area`, after clearing MXCSR's reserved bits
/// (a bad MXCSR would fault in the runner).
pub fn fxrstor(area: &mut FxArea) {
    let mask = match u32::from_le_bytes([area.0[28], area.0[29], area.0[30], area.0[31]]) {
        0 => 0xffbf,
        m => m,
    };
    // Use the CPU's own mask: read it from a fresh fxsave.
    let mut cur = FxArea([0; 512]);
    fxsave(&mut cur);
    let cpu_mask = match u32::from_le_bytes([cur.0[28], cur.0[29], cur.0[30], cur.0[31]]) {
        0 => 0xffbf,
        m => m,
    };
    let _ = mask;
    let mx = u32::from_le_bytes([area.0[24], area.0[25], area.0[26], area.0[27]]) & cpu_mask;
    area.0[24..28].copy_from_slice(&mx.to_le_bytes());
    // SAFETY: 512 bytes, 16-aligned; MXCSR's reserved bits are clear, the
    // only field fxrstor faults on.
    unsafe { core::arch::asm!("fxrstor64 [{}]", in(reg) area.0.as_ptr(), options(nostack)) };
}

/// The time stamp counter (one tick per instruction under `-icount
/// shift=0`; calibrated anyway).
pub fn cycles() -> u64 {
    // SAFETY: rdtsc is allowed in ring 3 (CR4.TSD clear) and has no effect.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// `AT_HWCAP`: CPUID.1:EDX, as Linux gives it.
pub fn hwcap() -> u64 {
    u64::from(core::arch::x86_64::__cpuid(1).edx)
}

/// Runs `n` iterations of a two-instruction loop (the calibration).
pub fn spin(n: u64) {
    // SAFETY: register-only loop.
    unsafe { core::arch::asm!("2: dec {0}", "jnz 2b", inout(reg) n => _, options(nomem, nostack)) };
}

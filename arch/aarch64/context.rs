//! The aarch64 user register file.

/// Every user register the aarch64 trap path saves and restores.
///
/// `#[repr(C)]` with a fixed field order: the exception vector addresses
/// the fields by offset.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserContext {
    /// `x0`..`x30`.
    pub x: [u64; 31],
    /// `SP_EL0`.
    pub sp: u64,
    /// `ELR_EL1`: where user execution resumes.
    pub pc: u64,
    /// `SPSR_EL1`: the user PSTATE (NZCV, DAIF, mode EL0t).
    pub spsr: u64,
    /// `TPIDR_EL0` (user TLS).
    pub tpidr_el0: u64,
    /// `TPIDRRO_EL0`: read-only at EL0, so it is only loaded on entry
    /// (AArch32 code reads its thread pointer, `TPIDRURO`, from it).
    pub tpidrro_el0: u64,
    /// The FP/SIMD registers. They belong to the thread, not to a mode:
    /// `zx_restricted_enter` and every exit leave them as they are (as in
    /// Zircon, whose restricted state has no FP fields).
    pub fp: FpState,
}

/// The aarch64 FP/SIMD register file: `q0`-`q31`, FPSR and FPCR.
///
/// In kernels built with FP and SIMD (`target_feature = "neon"`, the
/// default of `aarch64-unknown-none`) the kernel's own code may use every
/// one of these registers, so the trap path loads this on each entry to EL0
/// and saves it on each exit: a thread's FP state is always here while the
/// kernel runs, and switching threads means switching contexts. In
/// soft-float kernels (`aarch64-unknown-none-softfloat`) the trap path
/// leaves the hardware registers alone and this field is unused: the host
/// then saves FP state when it switches threads, as on x86_64.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FpState {
    /// `q0`..`q31`.
    pub q: [u128; 32],
    /// FPSR (cumulative exception flags).
    pub fpsr: u64,
    /// FPCR (rounding mode and traps).
    pub fpcr: u64,
}

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
}

//! The per-architecture backends and the [`Arch`] trait that ties them to the
//! generic code.
//!
//! The backends live in the top-level `arch/` directory and are compiled into
//! the crate as modules on every target: page-table encoding, user-context
//! marshalling and state validation are plain Rust, unit-tested on the host.
//! Only the privileged instructions inside them are gated by
//! `#[cfg(target_arch = ...)]`.

use core::fmt::Debug;

use crate::abi::{Pod, zx_exception_report_t};
use crate::mmu::{FrameMem, PageTableFormat};

#[path = "../arch/x86_64/mod.rs"]
pub mod x86_64;

#[path = "../arch/aarch64/mod.rs"]
pub mod aarch64;

pub use self::aarch64::Aarch64;
pub use self::x86_64::X86_64;

/// Whether restricted mode may run AArch32 code: only on aarch64, and only
/// where the CPU implements AArch32 at EL0 (`ID_AA64PFR0_EL1.EL0 == 2`).
/// The host says which through
/// [`Platform::aarch32`](crate::Platform::aarch32).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Aarch32 {
    /// No AArch32 at EL0 (or not aarch64): a state asking for it is
    /// `ZX_ERR_BAD_STATE`.
    #[default]
    Unavailable,
    /// EL0 can run AArch32 (A32 and T32) code.
    Available,
}

/// One CPU architecture, as the generic code sees it.
///
/// Implemented by the zero-sized [`X86_64`] and [`Aarch64`]; a host kernel
/// picks one as [`Platform::Arch`](crate::Platform::Arch).
pub trait Arch: Sized + Send + Sync + Debug + 'static {
    /// A short name, `"x86_64"` or `"aarch64"`.
    const NAME: &'static str;

    /// Lowest address of the user address space (the root VMAR's base).
    const USER_ASPACE_BASE: u64;
    /// Size of the user address space (the root VMAR's size).
    const USER_ASPACE_SIZE: u64;
    /// Size of a shared process's restricted region, which starts at
    /// [`USER_ASPACE_BASE`](Arch::USER_ASPACE_BASE) and ends on a top-level
    /// table boundary (x86_64 `1 << 46`, PML4 index 128; aarch64 `1 << 47`,
    /// L0 index 256). The shared region starts one page above it (Zircon
    /// leaves the gap so that no access straddles the two) and ends where
    /// the user address space does.
    const USER_RESTRICTED_ASPACE_SIZE: u64;

    /// Whether user mappings can be execute-only. Neither x86_64 nor aarch64
    /// user mappings here support it, so `ZX_VM_PERM_READ_IF_XOM_UNSUPPORTED`
    /// always adds `ZX_VM_PERM_READ`.
    const XOM_SUPPORTED: bool;

    /// Pages a [`TlbBatch`](crate::mmu::TlbBatch) names one by one before it
    /// turns into a flush of the whole address space.
    const TLB_PAGE_THRESHOLD: usize;

    /// Default width of the address-space identifiers (PCIDs / ASIDs) the
    /// crate hands out, when the host does not report its own
    /// ([`Platform::asid_bits`](crate::Platform::asid_bits)). 0 is the
    /// kernel's; the rest are recycled by generation
    /// ([`crate::mmu::asid`]).
    const ASID_BITS: u32;

    /// The page-table format ([`x86_64::X86_64Paging`] or
    /// [`aarch64::Aarch64Paging`]) the generic
    /// [`PageTable`](crate::mmu::PageTable) walks.
    type Paging: PageTableFormat;

    /// Every user register the trap path saves and restores ([`UserRegs`](crate::UserRegs)
    /// names the program counter, stack pointer, arguments and return value
    /// on both).
    type UserContext: Clone + Default + Debug + PartialEq + Send + Sync + crate::UserRegs;

    /// The architectural details of a fault or exception, as the trap path
    /// reads them (x86_64: vector, error code, CR2; aarch64: ESR, FAR).
    type ExceptionInfo: Clone + Copy + Debug + PartialEq + Send + Sync;

    /// The arch's `zx_restricted_state_t`.
    type RestrictedState: Pod + Default + Debug + PartialEq + Send + Sync;

    /// Whether `addr` is a user address by range alone (x86_64: lower
    /// canonical half; aarch64: bit 55 clear). Used to validate
    /// `zx_restricted_enter`'s vector and the restricted program counter.
    fn is_user_address(addr: u64) -> bool;

    /// The syscall number user space passed (x86_64 `rax`, aarch64 `x16`).
    fn syscall_number(ctx: &Self::UserContext) -> u64;

    /// The eight syscall arguments (x86_64 `rdi, rsi, rdx, r10, r8, r9,
    /// r12, r13`; aarch64 `x0..x7`).
    fn syscall_args(ctx: &Self::UserContext) -> [u64; 8];

    /// Stores a syscall's status in the return register (x86_64 `rax`,
    /// aarch64 `x0`).
    fn set_syscall_status(ctx: &mut Self::UserContext, status: i32);

    /// Stores a syscall's 64-bit result that is not a status (the time of
    /// `zx_clock_get_monotonic`) in the return register.
    fn set_return_value(ctx: &mut Self::UserContext, value: u64);

    /// The normal-mode thread state restricted mode saves and restores
    /// (x86_64: FS and GS base; aarch64: TPIDR_EL0).
    type NormalTls: Copy + Default + Debug + PartialEq + Send + Sync;

    /// Checks a copied restricted state (`zx_restricted_enter` step 4);
    /// `Err` names the reason for `ZX_ERR_BAD_STATE`. `aarch32` says
    /// whether the CPU can run AArch32 restricted code (aarch64 only).
    fn validate_restricted(
        state: &Self::RestrictedState,
        aarch32: Aarch32,
    ) -> Result<(), &'static str>;

    /// The normal-mode TLS currently in `ctx`.
    fn normal_tls(ctx: &Self::UserContext) -> Self::NormalTls;

    /// Replaces `ctx` with a validated restricted state and returns the
    /// normal-mode TLS it held.
    fn load_restricted(
        ctx: &mut Self::UserContext,
        state: &Self::RestrictedState,
    ) -> Self::NormalTls;

    /// The restricted state in `ctx` after a trap; `syscall` when the trap
    /// was a syscall instruction (x86_64 then reports rcx and r11 as 0).
    fn save_restricted(ctx: &Self::UserContext, syscall: bool) -> Self::RestrictedState;

    /// The fields of a state that [`check_restricted`](Arch::check_restricted)
    /// read and approved.
    type CheckedState: Copy + Debug;

    /// [`validate_restricted`](Arch::validate_restricted) on the state at
    /// offset 0 of the state VMO's page, reading each validated field once.
    ///
    /// With [`load_restricted_page`](Arch::load_restricted_page) this is
    /// enter's copy of the state: every word of it is read exactly once
    /// (the validated ones here), and only what was read is used.
    /// `aarch32` is asked only for a state that wants AArch32.
    fn check_restricted(
        page: FrameMem<'_>,
        aarch32: impl FnOnce() -> Aarch32,
    ) -> Result<Self::CheckedState, &'static str>;

    /// [`load_restricted`](Arch::load_restricted) from the page: the fields
    /// in `checked`, every other register read from the page once, straight
    /// into `ctx`. Returns the normal-mode TLS `ctx` held.
    fn load_restricted_page(
        ctx: &mut Self::UserContext,
        page: FrameMem<'_>,
        checked: Self::CheckedState,
    ) -> Self::NormalTls;

    /// Writes what [`save_restricted`](Arch::save_restricted) returns to
    /// offset 0 of the page, one store per word, without a copy between.
    fn save_restricted_page(ctx: &Self::UserContext, syscall: bool, page: FrameMem<'_>);

    /// Rewrites `ctx` to enter normal mode at `vector`: every register zero
    /// except the context and reason arguments and the normal-mode TLS.
    fn enter_normal(
        ctx: &mut Self::UserContext,
        tls: Self::NormalTls,
        vector: u64,
        context: u64,
        reason: u64,
    );

    /// The `zx_exception_report_t` for a fault or exception.
    fn exception_report(info: &Self::ExceptionInfo) -> zx_exception_report_t;

    /// The context a thread starts with (`zx_thread_start`,
    /// `zx_process_start`): program counter `entry`, stack pointer `stack`,
    /// the first two argument registers `arg1` and `arg2`, every other
    /// register zero, user mode with interrupts enabled.
    fn initial_context(entry: u64, stack: u64, arg1: u64, arg2: u64) -> Self::UserContext;
}

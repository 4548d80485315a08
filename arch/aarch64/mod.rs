//! aarch64 backend: user context, syscall ABI, restricted state.
//!
//! Modules: `context` (the [`UserContext`] the trap path saves),
//! `paging` (the 4 KiB-granule translation-table format), `tlb` (the
//! broadcast `tlbi` sequences for a host's `Platform::flush_tlb`), `entry`
//! ([`run_user`], the vector table, ESR classification and the host
//! obligations of the trap path); the trap-path assembly sits in a private
//! `entry_asm` module.
//! See `arch/PAGING.md` for how the formats encode permissions.

mod context;
pub mod entry;
#[cfg(target_arch = "aarch64")]
mod entry_asm;
pub mod paging;
pub mod restricted;
pub mod tlb;

pub use context::{FpState, UserContext};
pub use entry::{KernelFrame, set_kernel_trap_handler};
#[cfg(any(target_arch = "aarch64", doc))]
pub use entry::{run_user, vector_table_addr};
pub use paging::Aarch64Paging;

use crate::abi::{zx_exception_report_t, zx_restricted_state_arm64_t};
use crate::arch::{Aarch32, Arch};
use crate::mmu::FrameMem;

/// The aarch64 architecture (4 KiB granule, 48-bit VA, `svc`/`eret`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Aarch64;

/// One past the highest user address with 48-bit TTBR0 translation.
pub const USER_ADDRESS_LIMIT: u64 = 1 << 48;

/// What the aarch64 trap path records about a fault or exception.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExceptionInfo {
    /// ESR_EL1: exception class and syndrome.
    pub esr: u64,
    /// FAR_EL1: the faulting address of an abort, else 0.
    pub far: u64,
}

impl Arch for Aarch64 {
    const NAME: &'static str = "aarch64";
    // As current Zircon (`arch/arm64/include/arch/kernel_aspace.h`): user
    // space starts at 2 MiB and ends at the top of TTBR0; a shared process's
    // restricted region ends halfway through the top-level table (L0 index
    // 256).
    const USER_ASPACE_BASE: u64 = 0x0020_0000;
    const USER_ASPACE_SIZE: u64 = USER_ADDRESS_LIMIT - Self::USER_ASPACE_BASE;
    const USER_RESTRICTED_ASPACE_SIZE: u64 = (1 << 47) - Self::USER_ASPACE_BASE;
    const XOM_SUPPORTED: bool = false;
    const TLB_PAGE_THRESHOLD: usize = 16;
    // 8-bit ASIDs: every ARMv8-A implementation has at least these (a host
    // whose ID_AA64MMFR0_EL1.ASIDBits says 16 reports it).
    const ASID_BITS: u32 = 8;

    type Paging = Aarch64Paging;
    type UserContext = UserContext;
    type ExceptionInfo = ExceptionInfo;
    type RestrictedState = zx_restricted_state_arm64_t;

    #[inline]
    fn is_user_address(addr: u64) -> bool {
        // Bit 55 selects TTBR0 (user) or TTBR1 (kernel).
        addr & (1 << 55) == 0
    }

    #[inline]
    fn syscall_number(ctx: &UserContext) -> u64 {
        ctx.x[16]
    }

    #[inline]
    fn syscall_args(ctx: &UserContext) -> [u64; 8] {
        let mut args = [0; 8];
        args.copy_from_slice(&ctx.x[..8]);
        args
    }

    #[inline]
    fn set_return_value(ctx: &mut UserContext, value: u64) {
        ctx.x[0] = value;
    }

    #[inline]
    fn set_syscall_status(ctx: &mut UserContext, status: i32) {
        ctx.x[0] = i64::from(status) as u64;
    }

    type NormalTls = restricted::NormalTls;

    #[inline]
    fn validate_restricted(
        state: &zx_restricted_state_arm64_t,
        aarch32: Aarch32,
    ) -> Result<(), &'static str> {
        restricted::validate(state, aarch32)
    }

    #[inline]
    fn normal_tls(ctx: &UserContext) -> restricted::NormalTls {
        restricted::NormalTls {
            tpidr_el0: ctx.tpidr_el0,
            tpidrro_el0: ctx.tpidrro_el0,
        }
    }

    #[inline]
    fn load_restricted(
        ctx: &mut UserContext,
        state: &zx_restricted_state_arm64_t,
    ) -> restricted::NormalTls {
        restricted::load(ctx, state)
    }

    #[inline]
    fn save_restricted(ctx: &UserContext, syscall: bool) -> zx_restricted_state_arm64_t {
        let _ = syscall;
        restricted::save(ctx)
    }

    type CheckedState = restricted::Checked;

    #[inline]
    fn check_restricted(
        page: FrameMem<'_>,
        aarch32: impl FnOnce() -> Aarch32,
    ) -> Result<restricted::Checked, &'static str> {
        restricted::check_page(page, aarch32)
    }

    #[inline(always)]
    fn load_restricted_page(
        ctx: &mut UserContext,
        page: FrameMem<'_>,
        checked: restricted::Checked,
    ) -> restricted::NormalTls {
        restricted::load_page(ctx, page, checked)
    }

    #[inline]
    fn save_restricted_page(ctx: &UserContext, syscall: bool, page: FrameMem<'_>) {
        let _ = syscall;
        restricted::save_page(ctx, page);
    }

    #[inline]
    fn enter_normal(
        ctx: &mut UserContext,
        tls: restricted::NormalTls,
        vector: u64,
        context: u64,
        reason: u64,
    ) {
        restricted::enter_normal(ctx, tls, vector, context, reason);
    }

    fn exception_report(info: &ExceptionInfo) -> zx_exception_report_t {
        restricted::report(info)
    }

    fn initial_context(entry: u64, stack: u64, arg1: u64, arg2: u64) -> UserContext {
        let mut ctx = UserContext {
            pc: entry,
            sp: stack,
            // EL0t, AArch64, DAIF clear.
            spsr: 0,
            ..UserContext::default()
        };
        ctx.x[0] = arg1;
        ctx.x[1] = arg2;
        ctx
    }
}

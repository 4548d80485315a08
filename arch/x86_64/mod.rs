//! x86_64 backend: user context, syscall ABI, restricted state.
//!
//! Modules: `context` (the [`UserContext`] the trap path saves),
//! `paging` (the 4-level page-table format), `tlb` (`invlpg`/`invpcid`/CR3
//! reload for a host's TLB shootdown), `entry` ([`run_user`] and the host
//! obligations of the trap path), `idt` (gates, stubs, the ring-0 trap
//! hook), `syscall` (selectors and the syscall MSRs); the trap-path
//! assembly sits in a private `entry_asm` module.
//! See `arch/PAGING.md` for how the formats encode permissions.

mod context;
pub mod entry;
#[cfg(target_arch = "x86_64")]
mod entry_asm;
pub mod idt;
pub mod paging;
pub mod restricted;
pub mod syscall;
pub mod tlb;

pub use context::UserContext;
pub use entry::{BaseAccess, PerCpu};
#[cfg(any(target_arch = "x86_64", doc))]
pub use entry::{install_per_cpu, run_user};
#[cfg(any(target_arch = "x86_64", doc))]
pub use idt::fill_idt;
pub use idt::{IdtGate, KernelFrame, set_kernel_trap_handler};
pub use paging::X86_64Paging;
#[cfg(any(target_arch = "x86_64", doc))]
pub use syscall::{init_syscall_msrs, syscall_entry_addr};

use crate::abi::{zx_exception_report_t, zx_restricted_state_x86_64_t};
use crate::arch::{Aarch32, Arch};
use crate::mmu::FrameMem;

/// The x86_64 architecture (4-level paging, `syscall`/`sysretq`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct X86_64;

/// One past the highest user address: the lower canonical half ends at
/// `1 << 47`.
pub const USER_ADDRESS_LIMIT: u64 = 1 << 47;

/// What the x86_64 trap path records about a fault or exception.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExceptionInfo {
    /// The interrupt vector (6 = `#UD`, 13 = `#GP`, 14 = `#PF`, ...).
    pub vector: u64,
    /// The error code the CPU pushed (0 when it pushes none).
    pub error_code: u64,
    /// CR2: the faulting address of a page fault, else 0.
    pub cr2: u64,
}

impl Arch for X86_64 {
    const NAME: &'static str = "x86_64";
    // As current Zircon (`arch/x86/include/arch/kernel_aspace.h`): user
    // space starts at 2 MiB and stops one page short of the canonical
    // boundary, so `sysretq` never returns to a non-canonical rip; a shared
    // process's restricted region ends halfway through the PML4 (index 128).
    const USER_ASPACE_BASE: u64 = 0x0020_0000;
    const USER_ASPACE_SIZE: u64 = USER_ADDRESS_LIMIT - 4096 - Self::USER_ASPACE_BASE;
    const USER_RESTRICTED_ASPACE_SIZE: u64 = (1 << 46) - Self::USER_ASPACE_BASE;
    const XOM_SUPPORTED: bool = false;
    const TLB_PAGE_THRESHOLD: usize = 32;
    // 12-bit PCIDs.
    const ASID_BITS: u32 = 12;

    type Paging = X86_64Paging;
    type UserContext = UserContext;
    type ExceptionInfo = ExceptionInfo;
    type RestrictedState = zx_restricted_state_x86_64_t;

    #[inline]
    fn is_user_address(addr: u64) -> bool {
        addr < USER_ADDRESS_LIMIT
    }

    #[inline]
    fn syscall_number(ctx: &UserContext) -> u64 {
        ctx.rax
    }

    #[inline]
    fn syscall_args(ctx: &UserContext) -> [u64; 8] {
        [
            ctx.rdi, ctx.rsi, ctx.rdx, ctx.r10, ctx.r8, ctx.r9, ctx.r12, ctx.r13,
        ]
    }

    #[inline]
    fn set_return_value(ctx: &mut UserContext, value: u64) {
        ctx.rax = value;
    }

    #[inline]
    fn set_syscall_status(ctx: &mut UserContext, status: i32) {
        // Sign-extended, as a C `zx_status_t` return in eax/rax.
        ctx.rax = i64::from(status) as u64;
    }

    type NormalTls = restricted::NormalTls;

    #[inline]
    fn validate_restricted(
        state: &zx_restricted_state_x86_64_t,
        _aarch32: Aarch32,
    ) -> Result<(), &'static str> {
        restricted::validate(state)
    }

    #[inline]
    fn normal_tls(ctx: &UserContext) -> restricted::NormalTls {
        restricted::NormalTls {
            fs_base: ctx.fs_base,
            gs_base: ctx.gs_base,
        }
    }

    #[inline]
    fn load_restricted(
        ctx: &mut UserContext,
        state: &zx_restricted_state_x86_64_t,
    ) -> restricted::NormalTls {
        restricted::load(ctx, state)
    }

    #[inline]
    fn save_restricted(ctx: &UserContext, syscall: bool) -> zx_restricted_state_x86_64_t {
        restricted::save(ctx, syscall)
    }

    type CheckedState = restricted::Checked;

    #[inline]
    fn check_restricted(
        page: FrameMem<'_>,
        _aarch32: impl FnOnce() -> Aarch32,
    ) -> Result<restricted::Checked, &'static str> {
        restricted::check_page(page)
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
        restricted::save_page(ctx, syscall, page);
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
        UserContext {
            rip: entry,
            rsp: stack,
            rdi: arg1,
            rsi: arg2,
            // IF and the always-one bit.
            rflags: 0x202,
            ..UserContext::default()
        }
    }
}

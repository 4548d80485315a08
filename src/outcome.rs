//! What the crate did with a trap, and what the host must do next:
//! [`Outcome`], and the page-table view a thread's user context runs on,
//! [`UserView`].
//!
//! Every entry point a host calls for a trap ([`Kernel::syscall`],
//! [`Kernel::page_fault`], [`Kernel::exception`], [`Kernel::boundary`])
//! returns an [`Outcome`], and the host acts on it before it returns to
//! user mode. The type is `#[must_use]`, and no variant can be handled by
//! doing nothing for every case: a host that ignores a view switch or a
//! thread's death does not compile without a `match` arm that says so.
//!
//! [`Kernel::syscall`]: crate::Kernel::syscall
//! [`Kernel::page_fault`]: crate::Kernel::page_fault
//! [`Kernel::exception`]: crate::Kernel::exception
//! [`Kernel::boundary`]: crate::Kernel::boundary

use crate::abi::Status;
use crate::mmu::Asid;
use crate::mmu::asid::Switch;
use crate::object::wait::Block;
use crate::platform::PhysAddr;

/// Why a thread left restricted mode (`ZX_RESTRICTED_REASON_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// A syscall instruction in restricted mode.
    Syscall,
    /// A fault or exception the crate cannot resolve.
    Exception,
    /// A kick (`zx_restricted_kick`).
    Kick,
}

impl ExitReason {
    /// The `ZX_RESTRICTED_REASON_*` value.
    pub const fn into_raw(self) -> u64 {
        match self {
            ExitReason::Syscall => crate::abi::ZX_RESTRICTED_REASON_SYSCALL,
            ExitReason::Exception => crate::abi::ZX_RESTRICTED_REASON_EXCEPTION,
            ExitReason::Kick => crate::abi::ZX_RESTRICTED_REASON_KICK,
        }
    }
}

/// What happened, and what the host does before the thread runs again.
#[must_use = "the host must act on what the crate did with the trap"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The syscall returned this status (already in the context's return
    /// register). Resume the thread.
    Returned(Status),
    /// The syscall returned a value that is not a status
    /// (`zx_clock_get_monotonic`), already in the return register. Resume
    /// the thread.
    ReturnedValue(i64),
    /// The syscall must wait: park the thread through
    /// [`Kernel::park`](crate::Kernel::park), and make it runnable again
    /// when [`Platform::wake`](crate::Platform::wake) names it or the
    /// deadline passes; switch it in through
    /// [`Kernel::boundary`](crate::Kernel::boundary), which finishes the
    /// syscall ([`crate::object::wait`] has the whole contract).
    Blocked(Block),
    /// The trap needed nothing more (a fault resolved, an interrupt with
    /// no kick pending). Resume the thread with its context as it is.
    Resume,
    /// `zx_restricted_enter` succeeded: the context holds the restricted
    /// registers. Load [`Kernel::user_view`](crate::Kernel::user_view)
    /// (for a process made by `zx_process_create_shared`, the
    /// restricted-only root), then resume.
    EnteredRestricted,
    /// The thread left restricted mode: the context enters normal mode at
    /// the vector. Load [`Kernel::user_view`](crate::Kernel::user_view)
    /// again (the unified root), then resume.
    LeftRestricted(ExitReason),
    /// A normal-mode fault or exception the crate cannot resolve: the host
    /// decides (Zircon would raise an exception; a simple host kills the
    /// process with [`Process::terminate`](crate::object::Process::terminate)
    /// once its threads are stopped).
    Unhandled,
    /// The thread is dead (it called `zx_thread_exit`, or was killed):
    /// never run it again. Its process may have died with it.
    ThreadExited,
    /// The thread called `zx_process_exit(retcode)`: it is dead, and every
    /// other thread of its process was killed (their CPUs interrupted; each
    /// gets [`ThreadExited`](Outcome::ThreadExited) at its next crate call).
    ProcessExited(i64),
}

impl Outcome {
    /// Whether the thread's view (root table and identifier) may have
    /// changed, so the host must load [`Kernel::user_view`] before
    /// resuming it.
    ///
    /// [`Kernel::user_view`]: crate::Kernel::user_view
    pub fn switches_view(self) -> bool {
        matches!(
            self,
            Outcome::EnteredRestricted | Outcome::LeftRestricted(_)
        )
    }

    /// Whether the thread runs again (it is neither dead nor in need of
    /// the host's decision).
    pub fn resumes(self) -> bool {
        matches!(
            self,
            Outcome::Returned(_)
                | Outcome::ReturnedValue(_)
                | Outcome::Resume
                | Outcome::EnteredRestricted
                | Outcome::LeftRestricted(_)
        )
    }
}

/// The page tables a thread's user context runs on: what the host loads
/// into CR3 / TTBR0 before it returns to user mode
/// ([`Kernel::user_view`](crate::Kernel::user_view)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserView {
    /// The root table (physical).
    pub root: PhysAddr,
    /// Its PCID / ASID (of the current generation).
    pub asid: Asid,
    /// Identifiers were recycled since this CPU last switched: before it
    /// runs user code under `asid` it must drop every non-global
    /// translation it caches, of every identifier (aarch64: local
    /// `tlbi vmalle1` then `dsb nsh; isb`; x86_64: `invpcid` type 3, or
    /// reloading CR3 without the no-flush bit *each* time a PCID is loaded,
    /// which makes this flag moot). Stale translations of other
    /// identifiers are harmless until one of them is loaded, which is why
    /// the flush can wait for this switch.
    pub flush: bool,
}

impl UserView {
    pub(crate) fn new(root: PhysAddr, switch: Switch) -> UserView {
        UserView {
            root,
            asid: switch.asid,
            flush: switch.flush,
        }
    }
}

//! The process model: where the Linux program's address space is and
//! which thread runs it, kept in this one module so that changing the
//! model is a local change.
//!
//! **A shared process, as Zircon's Starnix runs a Linux process.** The
//! kernel's loader makes the runner's process a shared-process
//! *prototype* (`zx_process_create` with `ZX_PROCESS_SHARED`): its root
//! VMAR is the *shared region* (x86_64 `[1 << 46, 1 << 47)`, aarch64
//! `[1 << 47, 1 << 48)`), where the runner's image, heap, stacks and state
//! VMO live, and its first thread T0 runs `runner_main` there.
//!
//! - [`create`] is `zx_process_create_shared(prototype, …)`: a new process
//!   of the group (same shared region, handle table and futexes) and the
//!   root VMAR of its private *restricted region* (`[0x200000, 1 << 46)`
//!   on x86_64, `[0x200000, 1 << 47)` on aarch64, SPEC §5), where every
//!   guest mapping goes. Nothing of the runner is mapped there.
//! - [`spawn`] makes the Linux process's thread with `zx_thread_create`
//!   and starts the process with `zx_process_start` at runner code (the same address
//!   in every process of the group: the shared region is shared) on a
//!   stack in the shared region. That thread loads the program, binds the
//!   restricted state and enters; the vector comes back to it, in normal
//!   mode, whose *unified* view (shared + its restricted region) lets it
//!   read and write guest memory. In restricted mode the CPU runs on the
//!   restricted-only root: the program touching a runner address takes a
//!   page fault that exits to the vector (a `SIGSEGV` for the program).
//! - [`wait`]: T0 waits for that thread to terminate. A run ends with the
//!   hobby kernel's `linux_exit` host call from the Linux thread, so T0
//!   wakes only if the thread died without it (a runner failure).

use alloc::vec::Vec;

use zx_subsystem::abi::{ZX_THREAD_TERMINATED, ZX_TIME_INFINITE};
use zx_user::{Process, Result, Thread, Vmar};

use super::cpu::{self, abi};

/// The Linux program's process and address space.
pub struct Guest {
    /// The process (of the runner's sharing group).
    pub process: Process,
    /// The root VMAR of its restricted region: every guest mapping goes
    /// in it.
    pub vmar: Vmar,
    /// Its base address (`USER_ASPACE_BASE`, SPEC §5).
    pub base: u64,
}

/// The size of the Linux thread's initial stack (it also runs the
/// loader, whose frames are abandoned at the first enter).
const THREAD_STACK: usize = 256 << 10;

/// Makes the Linux process in `prototype`'s sharing group.
///
/// # Errors
///
/// What `zx_process_create_shared` says.
pub fn create(prototype: &Process) -> Result<Guest> {
    let (process, vmar) = prototype.create_shared(b"linux")?;
    Ok(Guest {
        process,
        vmar,
        base: abi::GUEST_LO,
    })
}

/// Starts `process` with its first thread at `entry` (runner code), with
/// `arg` in its second argument register (`zx_process_start` puts the
/// handle it moves, none here, in the first) and a fresh stack from the
/// runner's heap (in the shared region).
///
/// # Safety
///
/// `entry` is an `extern "C" fn(u64, T) -> !` of the runner that takes
/// `arg` (which must stay valid for it).
///
/// # Errors
///
/// What `zx_thread_create` / `zx_process_start` say.
pub unsafe fn spawn(process: &Process, entry: u64, arg: u64) -> Result<Thread> {
    let thread = process.create_thread(b"linux-main")?;
    let stack: &'static mut [u8] = Vec::leak(alloc::vec![0u8; THREAD_STACK]);
    let top = (stack.as_ptr() as u64 + THREAD_STACK as u64) & !15;
    // SAFETY: `entry` runs from the initial register state with `arg`
    // (the caller's obligation), on a stack shaped as after a call; the
    // stack was just leaked for this thread alone and is in the shared
    // region, which its process sees.
    unsafe { process.start(&thread, entry, top - cpu::ENTRY_SP_BIAS, None, arg)? };
    Ok(thread)
}

/// Blocks until `thread` terminates.
///
/// # Errors
///
/// What `zx_object_wait_one` says.
pub fn wait(thread: &Thread) -> Result<()> {
    thread
        .0
        .wait_one(ZX_THREAD_TERMINATED, ZX_TIME_INFINITE)
        .map(|_| ())
}

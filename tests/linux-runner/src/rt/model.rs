//! The process model: where the Linux program's address space is, kept in
//! this one module so that changing the model is a local change.
//!
//! **Now: a plain process.** The runner and the program share one
//! process; the program's restricted region is a sub-VMAR the runner
//! allocates at exactly the restricted range of a future shared process
//! (`[0x200000, 1 << 46)` on x86_64, `[0x200000, 1 << 47)` on aarch64),
//! and the runner lives above it, where the shared region will be. The
//! one thread binds its state and enters; the vector comes back to it.
//!
//! **Next: a shared process** (`zx_process_create_shared`, on main now):
//! the runner's thread T0 runs in a prototype process made with
//! `ZX_PROCESS_SHARED` (the kernel's loader does that); [`create`]
//! becomes `zx_process_create_shared(prototype, …)`, returning the new
//! process's restricted VMAR instead of the sub-VMAR, and the run loop
//! moves to a thread created in it with `zx_thread_create` and started
//! with `zx_thread_start` at runner code (same address: the runner is in
//! the shared region), which binds and enters. Nothing else changes: the
//! memory model, loader and syscalls see only the VMAR and its base.

use zx_subsystem::abi::{
    ZX_VM_CAN_MAP_EXECUTE, ZX_VM_CAN_MAP_READ, ZX_VM_CAN_MAP_SPECIFIC, ZX_VM_CAN_MAP_WRITE,
    ZX_VM_SPECIFIC,
};
use zx_user::{Result, Vmar};

/// The Linux program's address space.
pub struct Guest {
    /// The VMAR every guest mapping goes in.
    pub vmar: Vmar,
    /// Its base address.
    pub base: u64,
}

/// Makes the guest's region `[lo, hi)` inside `root` (based at
/// `root_base`).
///
/// # Errors
///
/// What `zx_vmar_allocate` says.
pub fn create(root: &Vmar, root_base: u64, lo: u64, hi: u64) -> Result<Guest> {
    let opts = ZX_VM_SPECIFIC
        | ZX_VM_CAN_MAP_SPECIFIC
        | ZX_VM_CAN_MAP_READ
        | ZX_VM_CAN_MAP_WRITE
        | ZX_VM_CAN_MAP_EXECUTE;
    let (vmar, base) = root.allocate(opts, lo - root_base, hi - lo)?;
    Ok(Guest { vmar, base })
}

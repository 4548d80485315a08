//! Restricted mode: binding the state VMO, and entering.
//!
//! Entering is special: on success `zx_restricted_enter` never returns to
//! its caller; the thread comes back at the vector with every register
//! zero but the context and the reason (SPEC §3). [`enter`] is therefore
//! `unsafe` and returns only an error. A program that must restore state
//! right before the instruction (the Linux runner restores the guest's
//! FP/SIMD registers on aarch64) issues the syscall from its own assembly
//! with [`SyscallNumber::RestrictedEnter`](crate::SyscallNumber).

use zx_subsystem::abi::{ZX_HANDLE_INVALID, zx_handle_t};

use crate::raw::call;
use crate::{Result, Status, SyscallNumber as S, Vmo, ok};

/// `zx_restricted_bind_state(0)`: the state VMO, bound to the calling
/// thread.
///
/// # Errors
///
/// `ACCESS_DENIED` (job policy), `NO_MEMORY`.
pub fn bind_state() -> Result<Vmo> {
    let mut out: zx_handle_t = ZX_HANDLE_INVALID;
    // SAFETY: `out` is a live local the call writes one handle to.
    let r = unsafe {
        call(
            S::RestrictedBindState,
            [0, &mut out as *mut zx_handle_t as u64, 0, 0, 0, 0, 0, 0],
        )
    };
    ok(r)?;
    // SAFETY: the kernel just gave us this handle.
    Ok(unsafe { Vmo::from_raw(out) })
}

/// `zx_restricted_unbind_state(0)`.
///
/// # Errors
///
/// None in practice (options are 0).
pub fn unbind_state() -> Result<()> {
    // SAFETY: no pointer arguments.
    ok(unsafe { call(S::RestrictedUnbindState, [0; 8]) })
}

/// `zx_restricted_enter(0, vector, context)`: returns only on failure.
///
/// # Safety
///
/// 1. `vector` is code of this program that expects the vector's entry
///    state (every register zero but context and reason, x86_64 `rsp`
///    and aarch64 `sp` included) and never returns into this frame.
/// 2. Nothing in the frames of the caller needs to be dropped: they are
///    abandoned on success.
pub unsafe fn enter(vector: u64, context: u64) -> Status {
    // SAFETY: obligations 1 and 2.
    let r = unsafe { call(S::RestrictedEnter, [0, vector, context, 0, 0, 0, 0, 0]) };
    match ok(r) {
        Ok(()) => Status::Internal,
        Err(s) => s,
    }
}

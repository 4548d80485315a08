//! `zx-user`: the user side of `zx-subsystem`'s syscall ABI, for any
//! ring-3 / EL0 program of ours.
//!
//! - [`raw`] owns the only `syscall` / `svc` instructions: the crate's
//!   register convention (x86_64 number in `rax`, arguments in `rdi rsi
//!   rdx r10 r8 r9 r12 r13`, status in `rax`; aarch64 number in `x16`,
//!   arguments in `x0..x7`, status in `x0`), with the numbers taken from
//!   [`SyscallNumber`]. Every call is counted per number
//!   ([`raw::counts`]), so a program can report how many Zircon syscalls it
//!   made.
//! - [`handle`] turns handles into owned types that close on drop
//!   ([`Handle`], [`Vmo`], [`Vmar`], [`Thread`], [`Process`]), with one
//!   safe method per syscall returning [`Result`].
//! - [`restricted`]: binding restricted state and entering restricted mode.
//! - [`task`]: shared processes, threads, and waiting for them.
//!
//! On the host (tests, clippy) the crate compiles, but a syscall returns
//! `ZX_ERR_NOT_SUPPORTED`: there is no kernel to trap into.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod handle;
pub mod hobby;
pub mod raw;
pub mod restricted;
pub mod task;

pub use handle::{Handle, Process, Thread, Vmar, Vmo};
pub use zx_subsystem::abi::Status;
pub use zx_subsystem::syscall::SyscallNumber;

/// The result of a syscall: a value, or the `ZX_ERR_*` status.
pub type Result<T> = core::result::Result<T, Status>;

/// Turns a raw `zx_status_t` into a [`Result`]. A value `zircon/errors.h`
/// does not define becomes `ZX_ERR_INTERNAL` (the kernel never returns
/// one; saying "internal" is the honest answer if it did).
pub fn ok(raw: i64) -> Result<()> {
    if raw == 0 {
        return Ok(());
    }
    let status = i32::try_from(raw)
        .ok()
        .and_then(|s| Status::try_from(s).ok())
        .unwrap_or(Status::Internal);
    Err(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(ok(0), Ok(()));
        assert_eq!(ok(-10), Err(Status::InvalidArgs));
        assert_eq!(ok(-9999), Err(Status::Internal));
        assert_eq!(ok(i64::MIN), Err(Status::Internal));
        assert_eq!(ok(5), Err(Status::Internal));
    }
}

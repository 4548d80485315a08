//! Static Linux test programs without libc, for x86_64 and aarch64.
//!
//! The programs in `src/bin` are `#![no_std]`/`#![no_main]` Rust built for
//! `x86_64-unknown-none` / `aarch64-unknown-none` and linked (see
//! `build.rs` and `linux.ld`) as static, non-PIE `ET_EXEC` files at
//! `0x400000`: what Debian's `busybox-static` looks like to a loader, but
//! small enough to read in one sitting. They talk to Linux through raw
//! system calls only, so the same files run natively, under `qemu-aarch64`,
//! in a booted Linux kernel and in the project's Linux personality (which
//! must give the same stdout and exit status byte for byte).
//!
//! This library is what they share:
//!
//! - [`sys`]: system-call numbers per arch, the raw `syscall`/`svc`
//!   instruction and thin wrappers returning `-errno` as Linux does;
//! - [`out`]: buffered output to a file descriptor and [`out::Report`],
//!   which prints one `ok - ...` / `not ok - ...` line per check and the
//!   closing `N passed, N failed` line;
//! - [`rt`]: the `_start` entry ([`entry!`]), the initial stack
//!   (`argc`, `argv`, `envp`, auxiliary vector) and the panic handler;
//! - [`signal`]: `rt_sigaction` with our own `SA_RESTORER` trampoline, and
//!   the `siginfo_t` / `ucontext_t` fields the programs read and change;
//! - [`bench`](mod@bench): the null-syscall and `mprotect` microbenchmarks;
//! - [`counter`]: the cycle counter (`rdtsc`, `CNTVCT_EL0`) and the
//!   calibration that turns its ticks into instructions under QEMU's
//!   `-icount shift=0`.
//!
//! Everything that executes a Linux-only instruction sequence is gated on
//! `target_os = "none"` (the programs' targets) or on the arch, so the
//! portable parts (formatting, errno names, the instruction arithmetic)
//! build and are unit-tested on the host.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod bench;
pub mod counter;
pub mod out;
pub mod rt;
pub mod signal;
pub mod sys;

/// The page size on both arches (Debian's arm64 kernels use 4 KiB pages).
pub const PAGE: usize = 4096;

/// What a program's `main` says when it is run on the host instead of
/// being built for a Linux target.
pub fn explain_host() -> &'static str {
    "this is a static Linux program without libc: build it with `cargo xtask linux-progs` \
     (--target x86_64-unknown-none / aarch64-unknown-none) and run the ELF it prints"
}

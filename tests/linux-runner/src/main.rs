//! `linux-runner`: a Linux personality for `zx-subsystem`, as a user
//! program. It runs in normal mode on the hobby kernel, loads an
//! unmodified static Linux executable (Debian's `busybox-static`) into a
//! restricted region, enters restricted mode, and services every Linux
//! syscall and fault at the vector, through the crate's Zircon syscalls
//! only (plus the hobby kernel's console and exit host calls).
//!
//! The crate is split by concern; everything but [`rt`] is plain Rust,
//! compiled and unit-tested on the host:
//!
//! - [`elf`]: executables; [`stack`]: the initial stack and auxv;
//! - [`mm`]: the guest address space with Linux semantics;
//! - [`fs`]: the archive, the file tree, descriptors;
//! - [`sys`]: the syscalls by family, over an arch-neutral process;
//! - [`arch`]: per-arch syscall tables, registers, signal frames, faults;
//! - [`stats`]: the `--stats` counters;
//! - `rt` (bare metal only): entry, heap, Zircon address space, process
//!   model, loader, run loop, assembly.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
// The ABI tables (errno, `O_*`, signal numbers, both arches' layouts) are
// listed whole; each build uses part of them, the tests the rest.
#![allow(dead_code)]

extern crate alloc;

mod arch;
mod elf;
mod errno;
mod fs;
mod mm;
mod stack;
mod stats;
mod sys;

#[cfg(target_os = "none")]
mod rt;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "linux-runner runs on the hobby kernel: `cargo xtask linux [--arch x86_64|aarch64] -- ARGV...` \
         builds it (--target x86_64-unknown-none / aarch64-unknown-none) and boots it in QEMU"
    );
}

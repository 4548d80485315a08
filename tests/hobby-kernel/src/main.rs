//! A minimal kernel that boots in QEMU and proves `zx-subsystem`'s trap
//! path with real user code in ring 3 (x86_64) and EL0 (aarch64).
//!
//! - **x86_64**: an ELF with a Xen PVH note, booted by `qemu-system-x86_64
//!   -M q35 -kernel`; the 32-bit entry builds boot page tables, enters long
//!   mode and jumps to the kernel linked at `0xffff_ffff_8000_0000`
//!   (see `x86_64/boot.rs`). Output on COM1, exit through `isa-debug-exit`.
//! - **aarch64**: an ELF for `qemu-system-aarch64 -M virt -cpu cortex-a57
//!   -kernel`, entered at EL1 (or EL2, which it leaves) with the MMU off; it
//!   maps the kernel in TTBR1 at `0xffff_0000_0000_0000 + phys` and keeps
//!   TTBR0 for user space (see `aarch64/boot.rs`). Output on the PL011,
//!   exit through semihosting.
//!
//! Both then run the same smoke scenario through `run_user` (register
//! round trips, undefined instruction, write to a read-only page, syscall
//! return value, TLS, interrupts from user mode, the context checks) and a
//! null-syscall measurement, print one `ok - <name>` / `not ok - <name>`
//! line per check and `N passed, N failed`, and exit with a code that says
//! which (see `report::Outcome`).
//!
//! # Building on the host
//!
//! The crate is a workspace member, so `cargo test --workspace` and
//! `cargo clippy --workspace --all-targets` build it for the host too.
//! Everything that needs bare metal is gated on `target_os = "none"`: on
//! the host the binary is an ordinary `std` program that only says how to
//! build it, and the target-independent modules (`report`, `frames`) are
//! compiled and unit-tested there.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
// The portable modules are used only by the bare-metal kernel; on the host
// they are compiled for their unit tests.
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

/// Prints a line on the kernel console.
#[cfg(target_os = "none")]
macro_rules! kprintln {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!(crate::arch::Console, $($arg)*);
    }};
}
#[cfg(target_os = "none")]
pub(crate) use kprintln;

mod frames;
mod report;
mod user_abi;

#[cfg(target_os = "none")]
mod heap;

#[cfg(all(target_os = "none", target_arch = "x86_64"))]
mod x86_64;
#[cfg(all(target_os = "none", target_arch = "x86_64"))]
use x86_64 as arch;

#[cfg(all(target_os = "none", target_arch = "aarch64"))]
mod aarch64;
#[cfg(all(target_os = "none", target_arch = "aarch64"))]
use aarch64 as arch;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "hobby-kernel runs on bare metal: `cargo xtask run [--arch x86_64|aarch64]` \
         builds it (--target x86_64-unknown-none / aarch64-unknown-none) and boots it in QEMU"
    );
}

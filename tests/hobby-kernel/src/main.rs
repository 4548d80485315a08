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
//! build it, and the target-independent parts (`report`, `memory`'s frame
//! allocator) are compiled and unit-tested there.
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

extern crate alloc;

// Driven only by the bare-metal arch modules.
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
mod churn;
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
mod linux;
mod memory;
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
mod pingpong;
mod report;
mod sched;
mod zx_host;

#[cfg(all(target_os = "none", target_arch = "x86_64"))]
mod x86_64;
#[cfg(all(target_os = "none", target_arch = "x86_64"))]
use x86_64 as arch;

#[cfg(all(target_os = "none", target_arch = "aarch64"))]
mod aarch64;
#[cfg(all(target_os = "none", target_arch = "aarch64"))]
use aarch64 as arch;

/// Defines `pub fn blob() -> &'static [u8]` for a user program that
/// `global_asm!` lays out in `.rodata` between the symbol `$start` and the
/// length word `$len` (both defined by that assembly).
#[cfg(target_os = "none")]
macro_rules! user_blob {
    ($start:ident, $len:ident) => {
        unsafe extern "C" {
            static $start: u8;
            static $len: u64;
        }

        /// The program's bytes.
        pub fn blob() -> &'static [u8] {
            // SAFETY: the program's assembly defines `$start` at the first
            // of `$len` bytes of read-only code in `.rodata`.
            unsafe { core::slice::from_raw_parts(&raw const $start, $len as usize) }
        }
    };
}
#[cfg(target_os = "none")]
pub(crate) use user_blob;

/// The first lines of a user program's `global_asm!`: its `.rodata`
/// section and start symbol `$sym` (a string literal).
#[cfg(target_os = "none")]
macro_rules! user_asm_start {
    ($sym:literal) => {
        concat!(
            ".pushsection .rodata.",
            $sym,
            ", \"a\"\n.balign 16\n.global ",
            $sym,
            "\n",
            $sym,
            ":"
        )
    };
}
#[cfg(target_os = "none")]
pub(crate) use user_asm_start;

/// The last lines: the end label and the length word [`user_blob!`]
/// reads (`$sym` + `_len`).
#[cfg(target_os = "none")]
macro_rules! user_asm_end {
    ($sym:literal) => {
        concat!(
            $sym,
            "_end:\n.balign 8\n.global ",
            $sym,
            "_len\n",
            $sym,
            "_len: .quad ",
            $sym,
            "_end - ",
            $sym,
            "\n.popsection"
        )
    };
}
#[cfg(target_os = "none")]
pub(crate) use user_asm_end;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "hobby-kernel runs on bare metal: `cargo xtask run [--arch x86_64|aarch64]` \
         builds it (--target x86_64-unknown-none / aarch64-unknown-none) and boots it in QEMU"
    );
}

/// What the smoke scenario's user code and kernel agree on: syscall
/// numbers, register patterns, magic values. Shared by both arches.
pub mod user_abi {
    /// Returns at once: the null syscall the measurement loops on.
    pub const SYS_NULL: u64 = 0;
    /// "Check my registers": the kernel compares the whole context.
    pub const SYS_CHECK: u64 = 1;
    /// Returns [`RETVAL`] in the return register.
    pub const SYS_GET: u64 = 2;
    /// Reports a result in the first argument register(s).
    pub const SYS_REPORT: u64 = 3;
    /// Ends a loop.
    pub const SYS_DONE: u64 = 4;

    /// What [`SYS_GET`] returns.
    pub const RETVAL: u64 = 0x1234_5678_9abc_def0;
    /// The word at the start of the FS / TPIDR_EL0 TLS block.
    pub const TLS_WORD: u64 = 0x7715_0000_f5f5_0001;

    /// Null syscalls per measurement.
    pub const BENCH_ITERATIONS: u64 = 10_000;

    /// The fixed high bits of every [`pattern`].
    pub const PATTERN_HIGH: u64 = 0x5a00_0000_0000_0000;
    /// The fixed low bits of every [`pattern`], before `i` is added.
    pub const PATTERN_LOW: u64 = 0x00c0_de00;

    /// A distinct value for register `i`: easy to recognise in a dump, never
    /// equal to another register's, top bit clear. (The aarch64 restricted
    /// program computes the same value in assembler expressions.)
    pub const fn pattern(i: u64) -> u64 {
        PATTERN_HIGH | (i << 40) | (PATTERN_LOW + i)
    }
}

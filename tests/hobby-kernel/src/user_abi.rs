//! What the smoke scenario's user code and kernel agree on: syscall
//! numbers, register patterns, magic values. Shared by both arches.

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

/// A distinct value for register `i`: easy to recognise in a dump, never
/// equal to another register's, top bit clear.
pub const fn pattern(i: u64) -> u64 {
    0x5a00_0000_0000_0000 | (i << 40) | (0x00c0_de00 + i)
}

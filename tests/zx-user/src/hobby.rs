//! What a program of ours and the hobby kernel (`tests/hobby-kernel`)
//! agree on beyond the crate's ABI: its host calls, and the boot page of
//! its linux mode.
//!
//! Host calls are syscalls with numbers from [`HOST_SYSCALL_BASE`]; the
//! kernel answers them in normal mode only (the table is in
//! `tests/hobby-kernel/src/zx_host.rs`; these are the ones a Linux runner
//! uses).

use crate::raw::syscall;

/// The first host call number.
pub const HOST_SYSCALL_BASE: u64 = 0x1000;
/// `stream_write(stream, ptr, len)`: `len` bytes of user memory to a host
/// stream (1 the program's stdout, 2 its stderr, 3 the runner's log);
/// returns the bytes written or a negative `zx_status_t`.
pub const HOST_STREAM_WRITE: u64 = 0x1004;
/// `linux_exit(kind, value)`: the run is over. Does not return.
pub const HOST_LINUX_EXIT: u64 = 0x1005;

/// `linux_exit` kind: the Linux program ended with status `value`
/// (0..=255; `128 + s` for a signal).
pub const EXIT_STATUS: u64 = 0;
/// `linux_exit` kind: the runner failed; `value` is a runner error code.
pub const EXIT_RUNNER_FAILED: u64 = 1;

/// Host stream numbers.
pub mod stream {
    /// The Linux program's stdout.
    pub const STDOUT: u64 = 1;
    /// The Linux program's stderr.
    pub const STDERR: u64 = 2;
    /// The runner's log (shown with `--verbose`).
    pub const LOG: u64 = 3;
    /// The `--stats` report (printed on the host's stderr after the run).
    pub const STATS: u64 = 4;
}

/// The boot page's magic: `ZXLNXBT1`.
pub const BOOT_MAGIC: u64 = u64::from_le_bytes(*b"ZXLNXBT1");
/// The boot page's version.
pub const BOOT_VERSION: u32 = 2;

/// Boot flag: print `--stats`.
pub const FLAG_STATS: u32 = 1 << 0;
/// Boot flag: log what the runner does (`--verbose`).
pub const FLAG_VERBOSE: u32 = 1 << 1;

/// The page the kernel maps for the runner; its address is the runner's
/// first argument register.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinuxBoot {
    /// [`BOOT_MAGIC`].
    pub magic: u64,
    /// [`BOOT_VERSION`].
    pub version: u32,
    /// `FLAG_*`.
    pub flags: u32,
    /// The runner's handle to its process's root VMAR (the shared region).
    pub vmar: u32,
    /// The runner's handle to its own thread.
    pub thread: u32,
    /// The base address of the root VMAR (offsets for `ZX_VM_SPECIFIC`).
    pub vmar_base: u64,
    /// The archive VMO (read + execute rights, for executable segments).
    pub archive_vmo: u32,
    /// The runner's handle to its own process: a shared-process
    /// prototype (`ZX_PROCESS_SHARED`), for `zx_process_create_shared`.
    pub process: u32,
    /// Where the file archive is mapped (read-only).
    pub archive_addr: u64,
    /// Its length.
    pub archive_len: u64,
    /// Where `argv` is mapped: NUL-terminated strings back to back.
    pub argv_addr: u64,
    /// Its length.
    pub argv_len: u64,
    /// The host's realtime clock at boot, ns since the epoch.
    pub realtime_ns: i64,
    /// A seed for the guest's randomness.
    pub seed: u64,
    /// The lowest address of the runner's stack mapping.
    pub stack_base: u64,
    /// One past its top (the initial stack pointer).
    pub stack_top: u64,
}

/// Writes `data` to host stream `stream`.
pub fn stream_write(stream: u64, data: &[u8]) -> i64 {
    // SAFETY: the kernel reads `data.len()` bytes at `data`.
    unsafe {
        syscall(
            HOST_STREAM_WRITE,
            [
                stream,
                data.as_ptr() as u64,
                data.len() as u64,
                0,
                0,
                0,
                0,
                0,
            ],
        )
    }
}

/// Ends the run.
pub fn linux_exit(kind: u64, value: u64) -> ! {
    // SAFETY: no pointer arguments.
    unsafe {
        syscall(HOST_LINUX_EXIT, [kind, value, 0, 0, 0, 0, 0, 0]);
    }
    // The host never returns from this call; if one did, spin rather
    // than run on.
    #[allow(clippy::empty_loop)]
    loop {}
}

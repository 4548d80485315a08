//! The Linux syscalls, by concern, over an architecture-neutral process
//! state ([`Linux`]).
//!
//! - [`umem`]: user pointers (checked against the memory model, `-EFAULT`
//!   otherwise), strings, iovecs;
//! - [`file`]: descriptors, paths, reads and writes, directories, `stat`;
//! - [`poll`]: `poll`, `ppoll` (every descriptor is always ready);
//! - [`proc`]: identity, limits, time, `uname`, randomness, `prctl`;
//! - [`signal`]: dispositions, masks, `kill`, and the decision to deliver;
//! - memory calls are thin: [`crate::mm`] has the semantics.
//!
//! Each arch module maps its own numbers to [`Sys`] and its registers to
//! six arguments, and applies the [`Flow`] a call returns. Every handler
//! returns `Result<u64>`; [`crate::errno::ret`] makes the register.

pub mod file;
mod path;
pub mod poll;
pub mod proc;
pub mod signal;
pub mod umem;

use alloc::vec::Vec;

use crate::errno::{Errno, Result, ret};
use crate::fs::Fs;
use crate::mm::{Aspace, Mm};
use crate::stats::Stats;

/// What the runner's host provides besides memory: the console streams
/// and the clocks.
pub trait Host {
    /// Writes `data` to host stream `stream` (1 stdout, 2 stderr); the
    /// bytes written.
    ///
    /// # Errors
    ///
    /// `EIO` when the host refuses.
    fn console(&mut self, stream: u8, data: &[u8]) -> Result<u64>;
    /// Nanoseconds since boot.
    fn monotonic_ns(&mut self) -> i64;
}

/// The architecture-specific parts the neutral handlers need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchInfo {
    /// `uname().machine`, `AT_PLATFORM`.
    pub machine: &'static [u8],
    /// Whether this is the generic table's `struct stat` (aarch64) or
    /// x86_64's.
    pub generic_stat: bool,
}

/// What a syscall asks of the loop, besides its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Put this in the result register and resume.
    Ret(u64),
    /// The process exits with this status (`exit_group(n)`: `n & 0xff`).
    Exit(u8),
    /// `arch_prctl(ARCH_SET_FS)`: set the TLS base, return 0.
    SetTls(u64),
    /// `rt_sigreturn`: the arch restores the frame at the stack pointer.
    Sigreturn,
}

/// Every syscall the runner knows by name; the arch tables map numbers
/// here. [`Sys::Nosys`] ones are named for the statistics and answered
/// `-ENOSYS`.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sys {
    Read,
    Write,
    Open,
    Close,
    Stat,
    Fstat,
    Lstat,
    Lseek,
    Mmap,
    Mprotect,
    Munmap,
    Brk,
    RtSigaction,
    RtSigprocmask,
    RtSigreturn,
    Ioctl,
    Pread64,
    Pwrite64,
    Readv,
    Writev,
    Access,
    Madvise,
    Dup,
    Dup2,
    Nanosleep,
    Getpid,
    Sendfile,
    Exit,
    Kill,
    Uname,
    Fcntl,
    Poll,
    Ppoll,
    Fsync,
    Truncate,
    Ftruncate,
    Getcwd,
    Chdir,
    Fchdir,
    Rename,
    Mkdir,
    Rmdir,
    Creat,
    Link,
    Unlink,
    Symlink,
    Readlink,
    Chmod,
    Fchmod,
    Chown,
    Fchown,
    Lchown,
    Umask,
    Gettimeofday,
    Getrlimit,
    Getrusage,
    Sysinfo,
    Times,
    Getuid,
    Getgid,
    Setuid,
    Setgid,
    Geteuid,
    Getegid,
    Setpgid,
    Getppid,
    Getpgrp,
    Setsid,
    Getgroups,
    Setgroups,
    Setresuid,
    Getresuid,
    Setresgid,
    Getresgid,
    Getpgid,
    Getsid,
    Sigaltstack,
    Prctl,
    ArchPrctl,
    Setrlimit,
    Sync,
    Gettid,
    Time,
    Futex,
    SchedGetaffinity,
    SchedYield,
    Getdents64,
    SetTidAddress,
    ClockGettime,
    ClockGetres,
    ClockNanosleep,
    ExitGroup,
    Tgkill,
    Tkill,
    Openat,
    Mkdirat,
    Fchownat,
    Newfstatat,
    Unlinkat,
    Renameat,
    Renameat2,
    Linkat,
    Symlinkat,
    Readlinkat,
    Fchmodat,
    Faccessat,
    Faccessat2,
    SetRobustList,
    Utimensat,
    Dup3,
    Prlimit64,
    Getrandom,
    Statx,
    Fdatasync,
    Wait4,
    Setreuid,
    Setregid,
    RtSigpending,
    RtSigsuspend,
    Pause,
    Alarm,
    Fadvise64,
    Nosys,
}

/// The process: memory, files, signals, identity, statistics.
pub struct Linux<A: Aspace, H: Host> {
    /// The address space.
    pub mm: Mm<A>,
    /// The files.
    pub fs: Fs,
    /// The host.
    pub host: H,
    /// Signal state.
    pub sig: signal::Signals,
    /// Counters for `--stats`.
    pub stats: Stats,
    /// The architecture's facts.
    pub arch: ArchInfo,
    /// The program's path (`/proc/self/exe`, `AT_EXECFN`).
    pub exe: Vec<u8>,
    /// `prctl(PR_SET_NAME)`.
    pub comm: [u8; 16],
    /// The realtime clock at boot (ns since the epoch).
    pub realtime_base: i64,
    rng: u64,
    /// `set_tid_address` pointer.
    pub clear_child_tid: u64,
}

/// The process and thread id (one process, one thread).
pub const PID: u64 = 2;
/// The parent's id.
pub const PPID: u64 = 1;

impl<A: Aspace, H: Host> Linux<A, H> {
    /// A process with `mm` and `fs`.
    pub fn new(
        mm: Mm<A>,
        fs: Fs,
        host: H,
        arch: ArchInfo,
        exe: &[u8],
        realtime_base: i64,
        seed: u64,
    ) -> Self {
        let mut comm = [0u8; 16];
        let base = exe.rsplit(|&b| b == b'/').next().unwrap_or(exe);
        let n = base.len().min(15);
        comm[..n].copy_from_slice(&base[..n]);
        Linux {
            mm,
            fs,
            host,
            sig: signal::Signals::default(),
            stats: Stats::default(),
            arch,
            exe: exe.to_vec(),
            comm,
            realtime_base,
            rng: seed | 1,
            clear_child_tid: 0,
        }
    }

    /// The next pseudo-random word (xorshift64*; seeded per boot).
    pub fn random_u64(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Runs one syscall.
    pub fn dispatch(&mut self, sys: Sys, a: [u64; 6]) -> Flow {
        let r = match sys {
            Sys::Exit | Sys::ExitGroup => return Flow::Exit(a[0] as u8),
            Sys::RtSigreturn => return Flow::Sigreturn,
            Sys::ArchPrctl => return self.arch_prctl(a[0], a[1]),
            Sys::Brk => Ok(self.mm.brk(a[0])),
            Sys::Mmap => self.mmap(a),
            Sys::Munmap => self.mm.munmap(a[0], a[1]),
            Sys::Mprotect => self.mm.mprotect(a[0], a[1], a[2]),
            Sys::Madvise => self.mm.madvise(a[0], a[1], a[2]),
            Sys::Poll | Sys::Ppoll => self.poll(a[0], a[1]),
            Sys::Nosys => Err(Errno::ENOSYS),
            s => self
                .file_call(s, a)
                .or_else(|| self.proc_call(s, a))
                .or_else(|| self.signal_call(s, a))
                .unwrap_or(Err(Errno::ENOSYS)),
        };
        Flow::Ret(ret(r))
    }

    fn arch_prctl(&mut self, code: u64, addr: u64) -> Flow {
        const ARCH_SET_FS: u64 = 0x1002;
        const ARCH_GET_FS: u64 = 0x1003;
        match code {
            ARCH_SET_FS if self.arch.machine == b"x86_64" => {
                // A non-canonical base would fail restricted entry: Linux
                // says EPERM for it.
                if addr >> 47 != 0 {
                    return Flow::Ret(ret(Err(Errno::EPERM)));
                }
                Flow::SetTls(addr)
            }
            ARCH_GET_FS if self.arch.machine == b"x86_64" => Flow::Ret(ret(Err(Errno::EINVAL))),
            _ => Flow::Ret(ret(Err(Errno::EINVAL))),
        }
    }

    fn mmap(&mut self, a: [u64; 6]) -> Result<u64> {
        let (addr, len, prot, flags, fd, off) = (a[0], a[1], a[2], a[3], a[4], a[5]);
        // Linux checks the offset first, for anonymous mappings too
        // (`sys_mmap`: `off & ~PAGE_MASK` is -EINVAL).
        if off % crate::mm::PAGE != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & crate::mm::flags::ANONYMOUS != 0 {
            return self.mm.mmap(addr, len, prot, flags, None);
        }
        let data = self.file_bytes_for_mmap(fd, off)?;
        // Copy out of the tree first: the mapping is a private snapshot.
        let end = (len as usize).min(data.len());
        let data: Vec<u8> = data[..end].to_vec();
        self.mm.mmap(addr, len, prot, flags, Some(&data))
    }
}

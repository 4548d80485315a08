//! Raw Linux system calls.
//!
//! [`syscall6`] is the instruction itself: x86_64 takes the number in
//! `rax` and the arguments in `rdi rsi rdx r10 r8 r9` (`syscall` clobbers
//! `rcx` and `r11`); aarch64 takes the number in `x8` and the arguments in
//! `x0..x5` (`svc #0`). Both return the result, or `-errno`, in the first
//! register. [`nr`] has the numbers: x86_64's own table and the generic
//! table aarch64 uses (no `fork`, `open`, ...).
//!
//! The wrappers return [`SysResult`] (the raw `isize`), because the
//! programs compare exact Linux results, errors included. Calls that can
//! change memory Rust code might be using (`mmap`, `munmap`, `mprotect`,
//! `brk`, `madvise`, `clone`) are `unsafe`; the rest are safe.

/// A raw system-call result: a value, or `-errno`.
pub type SysResult = isize;

/// System-call numbers for the arch being built.
#[cfg(target_arch = "x86_64")]
#[allow(missing_docs)]
pub mod nr {
    pub const READ: usize = 0;
    pub const WRITE: usize = 1;
    pub const CLOSE: usize = 3;
    pub const MMAP: usize = 9;
    pub const MPROTECT: usize = 10;
    pub const MUNMAP: usize = 11;
    pub const BRK: usize = 12;
    pub const RT_SIGACTION: usize = 13;
    pub const RT_SIGPROCMASK: usize = 14;
    pub const RT_SIGRETURN: usize = 15;
    pub const MADVISE: usize = 28;
    pub const NANOSLEEP: usize = 35;
    pub const GETPID: usize = 39;
    pub const CLONE: usize = 56;
    pub const EXECVE: usize = 59;
    pub const EXIT: usize = 60;
    pub const WAIT4: usize = 61;
    pub const FTRUNCATE: usize = 77;
    pub const GETPPID: usize = 110;
    pub const REBOOT: usize = 169;
    pub const EXIT_GROUP: usize = 231;
    pub const GETRANDOM: usize = 318;
    pub const MEMFD_CREATE: usize = 319;
}

/// System-call numbers for the arch being built (the generic table).
#[cfg(target_arch = "aarch64")]
#[allow(missing_docs)]
pub mod nr {
    pub const READ: usize = 63;
    pub const WRITE: usize = 64;
    pub const CLOSE: usize = 57;
    pub const MMAP: usize = 222;
    pub const MPROTECT: usize = 226;
    pub const MUNMAP: usize = 215;
    pub const BRK: usize = 214;
    pub const RT_SIGACTION: usize = 134;
    pub const RT_SIGPROCMASK: usize = 135;
    pub const RT_SIGRETURN: usize = 139;
    pub const MADVISE: usize = 233;
    pub const NANOSLEEP: usize = 101;
    pub const GETPID: usize = 172;
    pub const CLONE: usize = 220;
    pub const EXECVE: usize = 221;
    pub const EXIT: usize = 93;
    pub const WAIT4: usize = 260;
    pub const FTRUNCATE: usize = 46;
    pub const GETPPID: usize = 173;
    pub const REBOOT: usize = 142;
    pub const EXIT_GROUP: usize = 94;
    pub const GETRANDOM: usize = 278;
    pub const MEMFD_CREATE: usize = 279;
}

/// `errno` values (the same on both arches).
#[allow(missing_docs)]
pub mod errno {
    pub const EPERM: isize = 1;
    pub const ENOENT: isize = 2;
    pub const EBADF: isize = 9;
    pub const ECHILD: isize = 10;
    pub const EAGAIN: isize = 11;
    pub const ENOMEM: isize = 12;
    pub const EFAULT: isize = 14;
    pub const EEXIST: isize = 17;
    pub const EINVAL: isize = 22;
    pub const ENOSYS: isize = 38;

    /// The symbolic name of `e` (positive), for messages.
    pub fn name(e: isize) -> Option<&'static str> {
        Some(match e {
            EPERM => "EPERM",
            ENOENT => "ENOENT",
            EBADF => "EBADF",
            ECHILD => "ECHILD",
            EAGAIN => "EAGAIN",
            ENOMEM => "ENOMEM",
            EFAULT => "EFAULT",
            EEXIST => "EEXIST",
            EINVAL => "EINVAL",
            ENOSYS => "ENOSYS",
            _ => return None,
        })
    }
}

/// `mmap`/`mprotect` constants (the generic values; x86_64 uses the same).
#[allow(missing_docs)]
pub mod mm {
    pub const PROT_NONE: usize = 0;
    pub const PROT_READ: usize = 1;
    pub const PROT_WRITE: usize = 2;
    pub const PROT_EXEC: usize = 4;
    pub const MAP_SHARED: usize = 0x01;
    pub const MAP_PRIVATE: usize = 0x02;
    pub const MAP_FIXED: usize = 0x10;
    pub const MAP_ANONYMOUS: usize = 0x20;
    pub const MAP_POPULATE: usize = 0x8000;
    pub const MAP_FIXED_NOREPLACE: usize = 0x10_0000;
    pub const MADV_DONTNEED: usize = 4;
}

/// Executes the system call `n` with six arguments.
///
/// # Safety
///
/// The call does whatever Linux does with these arguments: it may read or
/// write memory the arguments point to, change mappings, or end the
/// process. The caller must make sure none of that breaks what Rust code
/// relies on (no live reference into memory that is unmapped, protected
/// or overwritten).
#[inline(always)]
pub unsafe fn syscall6(n: usize, a: [usize; 6]) -> SysResult {
    let ret: isize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the caller upholds the system call's own contract; the
    // instruction clobbers only rcx, r11 and rax, which are declared.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") n as isize => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above; `svc #0` returns in x0 and preserves the rest.
    unsafe {
        core::arch::asm!(
            "svc #0",
            in("x8") n,
            inlateout("x0") a[0] as isize => ret,
            in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
            options(nostack),
        );
    }
    ret
}

/// `syscall6` with fewer arguments (the rest are zero).
///
/// # Safety
///
/// As for [`syscall6`].
#[inline(always)]
pub unsafe fn syscall(n: usize, args: &[usize]) -> SysResult {
    let mut a = [0usize; 6];
    a[..args.len()].copy_from_slice(args);
    // SAFETY: forwarded to the caller.
    unsafe { syscall6(n, a) }
}

/// `write(fd, buf)`.
pub fn write(fd: usize, buf: &[u8]) -> SysResult {
    // SAFETY: the kernel only reads `buf`, which is a live slice.
    unsafe { syscall(nr::WRITE, &[fd, buf.as_ptr() as usize, buf.len()]) }
}

/// `exit_group(code)`: ends every thread of the process.
pub fn exit_group(code: i32) -> ! {
    // SAFETY: the process ends; nothing runs after it.
    unsafe { syscall(nr::EXIT_GROUP, &[code as usize]) };
    // exit_group does not return; if it did, spin rather than run on.
    #[allow(clippy::empty_loop)]
    loop {}
}

/// `getpid()`.
pub fn getpid() -> SysResult {
    // SAFETY: no memory involved.
    unsafe { syscall(nr::GETPID, &[]) }
}

/// `getppid()`, the null system call the benchmarks loop on.
#[inline(always)]
pub fn getppid() -> SysResult {
    // SAFETY: no memory involved.
    unsafe { syscall(nr::GETPPID, &[]) }
}

/// `getrandom(buf, len, 0)` on a raw range: the kernel writes it, so this
/// is a probe for "is this range writable?" (`-EFAULT` when it is not).
///
/// # Safety
///
/// `addr..addr + len` must not hold anything Rust code relies on: its bytes
/// become random.
pub unsafe fn getrandom_raw(addr: usize, len: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    unsafe { syscall(nr::GETRANDOM, &[addr, len, 0]) }
}

/// `mmap(addr, len, prot, flags, fd, off)`.
///
/// # Safety
///
/// With `MAP_FIXED` the range is replaced: it must not hold anything Rust
/// code still uses.
pub unsafe fn mmap(
    addr: usize,
    len: usize,
    prot: usize,
    flags: usize,
    fd: isize,
    off: usize,
) -> SysResult {
    // SAFETY: forwarded to the caller.
    unsafe { syscall6(nr::MMAP, [addr, len, prot, flags, fd as usize, off]) }
}

/// An anonymous private mapping of `len` bytes anywhere, `prot`.
pub fn mmap_anon(len: usize, prot: usize) -> SysResult {
    // SAFETY: no MAP_FIXED: Linux picks a free range, replacing nothing.
    unsafe { mmap(0, len, prot, mm::MAP_PRIVATE | mm::MAP_ANONYMOUS, -1, 0) }
}

/// `munmap(addr, len)`.
///
/// # Safety
///
/// The range must not hold anything Rust code still uses.
pub unsafe fn munmap(addr: usize, len: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    unsafe { syscall(nr::MUNMAP, &[addr, len]) }
}

/// `mprotect(addr, len, prot)`.
///
/// # Safety
///
/// The range must not hold anything Rust code accesses in a way the new
/// protection forbids (a fault is what the caller asks for, then).
pub unsafe fn mprotect(addr: usize, len: usize, prot: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    unsafe { syscall(nr::MPROTECT, &[addr, len, prot]) }
}

/// `madvise(addr, len, advice)`.
///
/// # Safety
///
/// `MADV_DONTNEED` zeroes private anonymous memory: the range must not
/// hold anything Rust code relies on.
pub unsafe fn madvise(addr: usize, len: usize, advice: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    unsafe { syscall(nr::MADVISE, &[addr, len, advice]) }
}

/// `brk(addr)`: returns the new break, or the old one on failure.
///
/// # Safety
///
/// Shrinking the break unmaps memory: nothing Rust code uses may live
/// there (these programs never allocate from the break).
pub unsafe fn brk(addr: usize) -> SysResult {
    // SAFETY: forwarded to the caller.
    unsafe { syscall(nr::BRK, &[addr]) }
}

/// `memfd_create(name, flags)`; `name` must end with a NUL byte.
pub fn memfd_create(name: &[u8], flags: usize) -> SysResult {
    if name.last() != Some(&0) {
        return -errno::EINVAL;
    }
    // SAFETY: the kernel reads the NUL-terminated name from a live slice.
    unsafe { syscall(nr::MEMFD_CREATE, &[name.as_ptr() as usize, flags]) }
}

/// `ftruncate(fd, len)`.
pub fn ftruncate(fd: usize, len: usize) -> SysResult {
    // SAFETY: no user memory involved.
    unsafe { syscall(nr::FTRUNCATE, &[fd, len]) }
}

/// `nanosleep` for `ns` nanoseconds (below one second).
pub fn sleep_ns(ns: usize) -> SysResult {
    let ts = [0usize, ns];
    // SAFETY: the kernel reads the timespec from a live local.
    unsafe { syscall(nr::NANOSLEEP, &[ts.as_ptr() as usize, 0]) }
}

/// `wait4(pid, &status, 0, NULL)`: returns the pid and the raw status.
pub fn wait4(pid: isize) -> (SysResult, i32) {
    let mut status: i32 = 0;
    // SAFETY: the kernel writes 4 bytes to a live local.
    let r = unsafe {
        syscall(
            nr::WAIT4,
            &[pid as usize, &mut status as *mut i32 as usize, 0, 0],
        )
    };
    (r, status)
}

/// `reboot(LINUX_REBOOT_CMD_POWER_OFF)`: powers the machine off (needs
/// `CAP_SYS_BOOT`; returns `-EPERM` without it).
pub fn power_off() -> SysResult {
    const MAGIC1: usize = 0xfee1_dead;
    const MAGIC2: usize = 0x2812_1969;
    const POWER_OFF: usize = 0x4321_fedc;
    // SAFETY: no user memory involved.
    unsafe { syscall(nr::REBOOT, &[MAGIC1, MAGIC2, POWER_OFF, 0]) }
}

/// `fork()` as glibc does it on both arches: `clone(SIGCHLD, 0, ...)`
/// (aarch64 has no `fork`). Returns the child's pid in the parent, 0 in
/// the child, or `-errno`.
pub fn fork() -> SysResult {
    const SIGCHLD: usize = 17;
    // SAFETY: without CLONE_VM the child gets a copy of the address space
    // and continues on its own copy of this stack; nothing is shared.
    unsafe { syscall(nr::CLONE, &[SIGCHLD, 0, 0, 0, 0]) }
}

/// `close(fd)`.
pub fn close(fd: usize) -> SysResult {
    // SAFETY: no user memory involved.
    unsafe { syscall(nr::CLOSE, &[fd]) }
}

/// `execve(path, argv, envp)`: returns only on failure (`-errno`).
///
/// # Safety
///
/// `path` must point to a NUL-terminated string and `argv`, `envp` to
/// NULL-terminated arrays of such pointers, all live for the call.
pub unsafe fn execve(path: *const u8, argv: *const *const u8, envp: *const *const u8) -> SysResult {
    // SAFETY: forwarded to the caller.
    unsafe { syscall(nr::EXECVE, &[path as usize, argv as usize, envp as usize]) }
}

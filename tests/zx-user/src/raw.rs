//! The syscall instruction, per architecture, and the per-number counters.
//!
//! [`syscall`] is the one way into the kernel: eight raw arguments, the
//! raw return register back. It is `unsafe` because some syscalls write
//! through pointer arguments and one (`zx_restricted_enter`) does not
//! return to its caller; the safe wrappers in [`crate::handle`] and
//! [`crate::restricted`] discharge that.
//!
//! Numbers at or above [`COUNTED`] are not counted (host calls of the
//! hobby kernel use the same instruction with numbers from `0x1000`).

use core::sync::atomic::{AtomicU32, Ordering};

use crate::SyscallNumber;

/// How many syscall numbers are counted (every crate number is below).
pub const COUNTED: usize = 64;

static COUNTS: [AtomicU32; COUNTED] = [const { AtomicU32::new(0) }; COUNTED];

/// Calls made so far with each number below [`COUNTED`].
pub fn counts() -> [u32; COUNTED] {
    core::array::from_fn(|i| COUNTS[i].load(Ordering::Relaxed))
}

/// Calls made so far with `n`.
pub fn count(n: SyscallNumber) -> u32 {
    COUNTS
        .get(n as usize)
        .map_or(0, |c| c.load(Ordering::Relaxed))
}

/// Counts a call of `n` made from a program's own assembly.
pub fn note(n: SyscallNumber) {
    if let Some(c) = COUNTS.get(n as usize) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Makes syscall `number` with `args` and returns the return register
/// (`zx_status_t` sign-extended, or a value for the calls that return one).
///
/// # Safety
///
/// 1. Every pointer argument of that syscall is valid for what the
///    syscall does with it (reads or writes of the documented size), and
///    every handle it consumes is not used afterwards.
/// 2. If the call can switch the thread away (`zx_restricted_enter`), the
///    caller is ready never to see it return on success.
#[inline(always)]
pub unsafe fn syscall(number: u64, args: [u64; 8]) -> i64 {
    if let Some(c) = usize::try_from(number).ok().and_then(|n| COUNTS.get(n)) {
        c.fetch_add(1, Ordering::Relaxed);
    }
    // SAFETY: obligations 1 and 2 are the caller's.
    unsafe { arch_syscall(number, args) }
}

#[cfg(all(target_os = "none", target_arch = "x86_64"))]
#[inline(always)]
unsafe fn arch_syscall(number: u64, args: [u64; 8]) -> i64 {
    let ret: u64;
    // SAFETY: the `syscall` instruction clobbers rcx and r11 only; the
    // kernel preserves every other register but rax; pointer validity is
    // the caller's (obligation 1 of `syscall`).
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") number => ret,
            in("rdi") args[0],
            in("rsi") args[1],
            in("rdx") args[2],
            in("r10") args[3],
            in("r8") args[4],
            in("r9") args[5],
            in("r12") args[6],
            in("r13") args[7],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret as i64
}

#[cfg(all(target_os = "none", target_arch = "aarch64"))]
#[inline(always)]
unsafe fn arch_syscall(number: u64, args: [u64; 8]) -> i64 {
    let ret: u64;
    // SAFETY: `svc #0` returns with x0 = status and every other register
    // preserved; pointer validity is the caller's (obligation 1).
    unsafe {
        core::arch::asm!(
            "svc #0",
            in("x16") number,
            inlateout("x0") args[0] => ret,
            in("x1") args[1],
            in("x2") args[2],
            in("x3") args[3],
            in("x4") args[4],
            in("x5") args[5],
            in("x6") args[6],
            in("x7") args[7],
            options(nostack),
        );
    }
    ret as i64
}

#[cfg(not(target_os = "none"))]
unsafe fn arch_syscall(_number: u64, _args: [u64; 8]) -> i64 {
    i64::from(zx_subsystem::abi::Status::NotSupported.into_raw())
}

/// Makes crate syscall `n`.
///
/// # Safety
///
/// As [`syscall`].
#[inline(always)]
pub unsafe fn call(n: SyscallNumber, args: [u64; 8]) -> i64 {
    // SAFETY: the caller's obligations.
    unsafe { syscall(n as u64, args) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_calls_are_not_supported_and_counted() {
        let before = count(SyscallNumber::HandleClose);
        // SAFETY: no pointer arguments; on the host nothing is called.
        let r = unsafe { call(SyscallNumber::HandleClose, [0; 8]) };
        assert_eq!(r, -2);
        assert_eq!(count(SyscallNumber::HandleClose), before + 1);
        // SAFETY: as above; a host-call number is not counted.
        let _ = unsafe { syscall(0x1000, [0; 8]) };
        assert!(SyscallNumber::ALL.len() <= COUNTED);
    }
}

//! The EL0 program of the futex ping-pong scenario on aarch64
//! (`crate::pingpong`): position-independent, no stack. Starts with `x1`
//! = its role (0 ping, 1 pong), `x2` = the page whose first 32-bit word
//! says whose turn it is.

use zx_subsystem::abi::ZX_TIME_INFINITE;
use zx_subsystem::syscall::SyscallNumber as Sys;

use crate::pingpong::{HOST_PINGPONG, ROUNDS};

crate::user_blob!(hk_pingpong_user, hk_pingpong_user_len);

core::arch::global_asm!(
    crate::user_asm_start!("hk_pingpong_user"),
    // The crate keeps every register but x0 across syscalls.
    "mov x20, x1",
    "mov x21, x2",
    "ldr x22, ={rounds}",
    "isb",
    "mrs x23, cntvct_el0",
    "2:",
    // Wait for the turn: the word equals the role.
    "ldr w1, [x21]",
    "cmp x1, x20",
    "b.eq 3f",
    "mov x0, x21",
    "mov x2, #0",
    "ldr x3, ={infinite}",
    "mov x16, #{futex_wait}",
    "svc #0",
    "b 2b",
    "3:",
    // Hand the turn over and wake the other thread.
    "mov x1, #1",
    "sub x1, x1, x20",
    "str w1, [x21]",
    "mov x0, x21",
    "mov x1, #1",
    "mov x16, #{futex_wake}",
    "svc #0",
    "subs x22, x22, #1",
    "b.ne 2b",
    "isb",
    "mrs x2, cntvct_el0",
    "sub x2, x2, x23",
    "mov x0, x20",
    "ldr x1, ={rounds}",
    "ldr x16, ={pingpong}",
    "svc #0",
    "mov x16, #{thread_exit}",
    "svc #0",
    "udf #0",
    ".ltorg",
    crate::user_asm_end!("hk_pingpong_user"),
    rounds = const ROUNDS,
    infinite = const ZX_TIME_INFINITE,
    futex_wait = const Sys::FutexWait as u64,
    futex_wake = const Sys::FutexWake as u64,
    pingpong = const HOST_PINGPONG,
    thread_exit = const Sys::ThreadExit as u64,
);

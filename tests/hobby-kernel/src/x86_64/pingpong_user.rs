//! The ring-3 program of the futex ping-pong scenario on x86_64
//! (`crate::pingpong`): position-independent, no stack. Starts with `rsi`
//! = its role (0 ping, 1 pong), `rdx` = the page whose first 32-bit word
//! says whose turn it is.

use zx_subsystem::abi::ZX_TIME_INFINITE;
use zx_subsystem::syscall::SyscallNumber as Sys;

use crate::pingpong::{HOST_PINGPONG, ROUNDS};

crate::user_blob!(hk_pingpong_user, hk_pingpong_user_len);

core::arch::global_asm!(
    crate::user_asm_start!("hk_pingpong_user"),
    // The crate keeps every register but rax, rcx and r11 across syscalls.
    "mov r15, rsi",
    "mov rbx, rdx",
    "mov r12, {rounds}",
    "rdtsc",
    "shl rdx, 32",
    "or rax, rdx",
    "mov r13, rax",
    "2:",
    // Wait for the turn: the word equals the role.
    "mov eax, [rbx]",
    "cmp rax, r15",
    "je 3f",
    "mov rdi, rbx",
    "mov esi, eax",
    "xor edx, edx",
    "mov r10, {infinite}",
    "mov eax, {futex_wait}",
    "syscall",
    "jmp 2b",
    "3:",
    // Hand the turn over and wake the other thread.
    "mov eax, 1",
    "sub eax, r15d",
    "mov [rbx], eax",
    "mov rdi, rbx",
    "mov esi, 1",
    "mov eax, {futex_wake}",
    "syscall",
    "dec r12",
    "jnz 2b",
    "rdtsc",
    "shl rdx, 32",
    "or rax, rdx",
    "sub rax, r13",
    "mov rdx, rax",
    "mov rdi, r15",
    "mov rsi, {rounds}",
    "mov eax, {pingpong}",
    "syscall",
    "mov eax, {thread_exit}",
    "syscall",
    "ud2",
    crate::user_asm_end!("hk_pingpong_user"),
    rounds = const ROUNDS,
    infinite = const ZX_TIME_INFINITE,
    futex_wait = const Sys::FutexWait as u64,
    futex_wake = const Sys::FutexWake as u64,
    pingpong = const HOST_PINGPONG,
    thread_exit = const Sys::ThreadExit as u64,
);

//! The ring-3 program of the identifier-churn scenario on x86_64
//! (`crate::churn`): position-independent, no stack. Starts with `rdi` =
//! its gate handle, `rsi` = its index, `rdx` = its data page (the marker,
//! then room for `observed`).

use zx_subsystem::abi::{ZX_TASK_TERMINATED, ZX_TIME_INFINITE};
use zx_subsystem::syscall::SyscallNumber as Sys;

use crate::churn::HOST_CHURN;

crate::user_blob!(hk_churn_user, hk_churn_user_len);

core::arch::global_asm!(
    crate::user_asm_start!("hk_churn_user"),
    // The crate keeps every register but rax, rcx and r11 across syscalls.
    "mov r14, rdi",
    "mov r15, rsi",
    "mov rbx, rdx",
    // 1. Report the marker.
    "mov rdi, r15",
    "mov rsi, [rbx]",
    "mov edx, 1",
    "xor r10d, r10d",
    "mov eax, {churn}",
    "syscall",
    // 2. Wait for the gate.
    "mov rdi, r14",
    "mov esi, {terminated}",
    "mov rdx, {infinite}",
    "lea r10, [rbx + 8]",
    "mov eax, {wait_one}",
    "syscall",
    // 3. Report again, with the wait's status.
    "mov r10, rax",
    "mov rdi, r15",
    "mov rsi, [rbx]",
    "mov edx, 2",
    "mov eax, {churn}",
    "syscall",
    "xor edi, edi",
    "mov eax, {process_exit}",
    "syscall",
    "ud2",
    crate::user_asm_end!("hk_churn_user"),
    churn = const HOST_CHURN,
    terminated = const ZX_TASK_TERMINATED,
    infinite = const ZX_TIME_INFINITE,
    wait_one = const Sys::ObjectWaitOne as u64,
    process_exit = const Sys::ProcessExit as u64,
);

//! The EL0 program of the identifier-churn scenario on aarch64
//! (`crate::churn`): position-independent, no stack. Starts with `x0` =
//! its gate handle, `x1` = its index, `x2` = its data page (the marker,
//! then room for `observed`).

use zx_subsystem::abi::{ZX_TASK_TERMINATED, ZX_TIME_INFINITE};
use zx_subsystem::syscall::SyscallNumber as Sys;

use crate::churn::HOST_CHURN;

crate::user_blob!(hk_churn_user, hk_churn_user_len);

core::arch::global_asm!(
    crate::user_asm_start!("hk_churn_user"),
    // The crate keeps every register but x0 across syscalls.
    "mov x19, x0",
    "mov x20, x1",
    "mov x21, x2",
    // 1. Report the marker.
    "mov x0, x20",
    "ldr x1, [x21]",
    "mov x2, #1",
    "mov x3, #0",
    "ldr x16, ={churn}",
    "svc #0",
    // 2. Wait for the gate.
    "mov x0, x19",
    "mov x1, #{terminated}",
    "ldr x2, ={infinite}",
    "add x3, x21, #8",
    "mov x16, #{wait_one}",
    "svc #0",
    // 3. Report again, with the wait's status.
    "mov x3, x0",
    "mov x0, x20",
    "ldr x1, [x21]",
    "mov x2, #2",
    "ldr x16, ={churn}",
    "svc #0",
    "mov x0, #0",
    "mov x16, #{process_exit}",
    "svc #0",
    "udf #0",
    ".ltorg",
    crate::user_asm_end!("hk_churn_user"),
    churn = const HOST_CHURN,
    terminated = const ZX_TASK_TERMINATED,
    infinite = const ZX_TIME_INFINITE,
    wait_one = const Sys::ObjectWaitOne as u64,
    process_exit = const Sys::ProcessExit as u64,
);

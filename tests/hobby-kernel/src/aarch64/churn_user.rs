//! The EL0 programs of the identifier-churn scenario on aarch64
//! (`crate::churn`), in one position-independent blob without a stack:
//!
//! - the *child*, at the blob's start: `x0` = its gate handle, `x1` = its
//!   index (what `zx_process_start` passes); its marker is at
//!   [`churn::CHILD_DATA`](crate::churn::CHILD_DATA);
//! - the *parent*, at `hk_churn_parent`: `x2` = its page, whose first
//!   words are its job, code VMO and gate handles, the code length and the
//!   count ([`churn::parent_page`](crate::churn::parent_page)); it makes
//!   every child through the syscall table.

use zx_subsystem::abi::{
    ZX_RIGHT_SAME_RIGHTS, ZX_TASK_TERMINATED, ZX_TIME_INFINITE, ZX_VM_PERM_EXECUTE,
    ZX_VM_PERM_READ, ZX_VM_PERM_WRITE, ZX_VM_SPECIFIC,
};
use zx_subsystem::syscall::SyscallNumber as Sys;

use crate::churn::{CHILD_DATA_OFFSET, HOST_CHURN, MARKER_BASE, parent_page as pp};

crate::user_blob!(hk_churn_user, hk_churn_user_len);

unsafe extern "C" {
    static hk_churn_parent: u8;
}

/// Where the parent starts, from the blob's start.
pub fn parent_offset() -> u64 {
    (&raw const hk_churn_parent) as u64 - blob().as_ptr() as u64
}

core::arch::global_asm!(
    crate::user_asm_start!("hk_churn_user"),
    // -- The child. The crate keeps every register but x0 across syscalls.
    "mov x19, x0",
    "mov x20, x1",
    "ldr x21, ={child_data}",
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
    // -- The parent: x19 = its page, x20 = index, x21 = count.
    ".global hk_churn_parent",
    "hk_churn_parent:",
    "mov x19, x2",
    "mov x20, #0",
    "ldr x21, [x19, #{count}]",
    "2:",
    // zx_process_create(job, name, 0, 0, &process, &vmar)
    "ldr w0, [x19, #{job}]",
    "mov x1, x19",
    "mov x2, #0",
    "mov x3, #0",
    "add x4, x19, #{process}",
    "add x5, x19, #{vmar}",
    "mov x16, #{process_create}",
    "svc #0",
    "cbnz w0, 9f",
    // zx_vmar_map(vmar, R | X, 0, code, 0, code_len, &addr): the entry.
    "ldr w0, [x19, #{vmar}]",
    "mov x1, #{perm_rx}",
    "mov x2, #0",
    "ldr w3, [x19, #{code}]",
    "mov x4, #0",
    "ldr x5, [x19, #{code_len}]",
    "add x6, x19, #{entry}",
    "mov x16, #{vmar_map}",
    "svc #0",
    "cbnz w0, 9f",
    // zx_vmo_create(4096, 0, &data) and zx_vmo_write(data, &marker, 0, 8)
    "mov x0, #4096",
    "mov x1, #0",
    "add x2, x19, #{data}",
    "mov x16, #{vmo_create}",
    "svc #0",
    "cbnz w0, 9f",
    "ldr x9, ={marker_base}",
    "orr x9, x9, x20",
    "str x9, [x19, #{marker}]",
    "ldr w0, [x19, #{data}]",
    "add x1, x19, #{marker}",
    "mov x2, #0",
    "mov x3, #8",
    "mov x16, #{vmo_write}",
    "svc #0",
    "cbnz w0, 9f",
    // zx_vmar_map(vmar, R | W | SPECIFIC, CHILD_DATA_OFFSET, data, 0, 4096, &at)
    "ldr w0, [x19, #{vmar}]",
    "mov x1, #{perm_rw_specific}",
    "ldr x2, ={data_offset}",
    "ldr w3, [x19, #{data}]",
    "mov x4, #0",
    "mov x5, #4096",
    "add x6, x19, #{data_at}",
    "mov x16, #{vmar_map}",
    "svc #0",
    "cbnz w0, 9f",
    "ldr w0, [x19, #{data}]",
    "mov x16, #{handle_close}",
    "svc #0",
    "ldr w0, [x19, #{vmar}]",
    "mov x16, #{handle_close}",
    "svc #0",
    // zx_handle_duplicate(gate, SAME_RIGHTS, &dup): the child's gate.
    "ldr w0, [x19, #{gate}]",
    "ldr x1, ={same_rights}",
    "add x2, x19, #{gate_dup}",
    "mov x16, #{handle_duplicate}",
    "svc #0",
    "cbnz w0, 9f",
    // zx_thread_create(process, name, 0, 0, &thread)
    "ldr w0, [x19, #{process}]",
    "mov x1, x19",
    "mov x2, #0",
    "mov x3, #0",
    "add x4, x19, #{thread}",
    "mov x16, #{thread_create}",
    "svc #0",
    "cbnz w0, 9f",
    // zx_process_start(process, thread, entry, 0, dup, index): the dup
    // moves into the child.
    "ldr w0, [x19, #{process}]",
    "ldr w1, [x19, #{thread}]",
    "ldr x2, [x19, #{entry}]",
    "mov x3, #0",
    "ldr w4, [x19, #{gate_dup}]",
    "mov x5, x20",
    "mov x16, #{process_start}",
    "svc #0",
    "cbnz w0, 9f",
    "ldr w0, [x19, #{thread}]",
    "mov x16, #{handle_close}",
    "svc #0",
    "ldr w0, [x19, #{process}]",
    "mov x16, #{handle_close}",
    "svc #0",
    "add x20, x20, #1",
    "cmp x20, x21",
    "b.lo 2b",
    // churn(count, 0, 3, 0): every child made.
    "mov x0, x20",
    "mov x1, #0",
    "mov x2, #3",
    "mov x3, #0",
    "ldr x16, ={churn}",
    "svc #0",
    "mov x0, #0",
    "mov x16, #{process_exit}",
    "svc #0",
    "udf #0",
    // churn(index, 0, 4, status): a syscall failed.
    "9:",
    "sxtw x3, w0",
    "mov x0, x20",
    "mov x1, #0",
    "mov x2, #4",
    "ldr x16, ={churn}",
    "svc #0",
    "mov x0, #1",
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
    process_create = const Sys::ProcessCreate as u64,
    vmar_map = const Sys::VmarMap as u64,
    vmo_create = const Sys::VmoCreate as u64,
    vmo_write = const Sys::VmoWrite as u64,
    handle_close = const Sys::HandleClose as u64,
    handle_duplicate = const Sys::HandleDuplicate as u64,
    thread_create = const Sys::ThreadCreate as u64,
    process_start = const Sys::ProcessStart as u64,
    perm_rx = const ZX_VM_PERM_READ | ZX_VM_PERM_EXECUTE,
    perm_rw_specific = const ZX_VM_PERM_READ | ZX_VM_PERM_WRITE | ZX_VM_SPECIFIC,
    same_rights = const ZX_RIGHT_SAME_RIGHTS,
    marker_base = const MARKER_BASE,
    data_offset = const CHILD_DATA_OFFSET,
    child_data = const crate::churn::CHILD_DATA,
    job = const pp::JOB,
    code = const pp::CODE,
    gate = const pp::GATE,
    code_len = const pp::CODE_LEN,
    count = const pp::COUNT,
    process = const pp::PROCESS,
    vmar = const pp::VMAR,
    entry = const pp::ENTRY,
    data = const pp::DATA,
    gate_dup = const pp::GATE_DUP,
    thread = const pp::THREAD,
    marker = const pp::MARKER,
    data_at = const pp::DATA_AT,
);

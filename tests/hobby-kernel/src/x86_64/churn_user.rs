//! The ring-3 programs of the identifier-churn scenario on x86_64
//! (`crate::churn`), in one position-independent blob without a stack:
//!
//! - the *child*, at the blob's start: `rdi` = its gate handle, `rsi` =
//!   its index (what `zx_process_start` passes); its marker is at
//!   [`churn::CHILD_DATA`](crate::churn::CHILD_DATA);
//! - the *parent*, at `hk_churn_parent`: `rdx` = its page, whose first
//!   words are its job, code VMO and gate handles, the code length and the
//!   count ([`churn::parent_page`](crate::churn::parent_page)); it makes every child
//!   through the syscall table.

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
    // -- The child. The crate keeps every register but rax, rcx and r11
    // across syscalls.
    "mov r14, rdi",
    "mov r15, rsi",
    "mov rbx, {child_data}",
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
    // -- The parent: rbx = its page, rbp = index, r15 = count (r12 and
    // r13 carry syscall arguments 7 and 8).
    ".global hk_churn_parent",
    "hk_churn_parent:",
    "mov rbx, rdx",
    "xor ebp, ebp",
    "mov r15, [rbx + {count}]",
    "2:",
    // zx_process_create(job, name, 0, 0, &process, &vmar)
    "mov edi, [rbx + {job}]",
    "mov rsi, rbx",
    "xor edx, edx",
    "xor r10d, r10d",
    "lea r8, [rbx + {process}]",
    "lea r9, [rbx + {vmar}]",
    "mov eax, {process_create}",
    "syscall",
    "test eax, eax",
    "jnz 9f",
    // zx_vmar_map(vmar, R | X, 0, code, 0, code_len, &addr): the entry.
    "mov edi, [rbx + {vmar}]",
    "mov esi, {perm_rx}",
    "xor edx, edx",
    "mov r10d, [rbx + {code}]",
    "xor r8d, r8d",
    "mov r9, [rbx + {code_len}]",
    "lea r12, [rbx + {entry}]",
    "mov eax, {vmar_map}",
    "syscall",
    "test eax, eax",
    "jnz 9f",
    // zx_vmo_create(4096, 0, &data) and zx_vmo_write(data, &marker, 0, 8)
    "mov edi, 4096",
    "xor esi, esi",
    "lea rdx, [rbx + {data}]",
    "mov eax, {vmo_create}",
    "syscall",
    "test eax, eax",
    "jnz 9f",
    "mov rax, {marker_base}",
    "or rax, rbp",
    "mov [rbx + {marker}], rax",
    "mov edi, [rbx + {data}]",
    "lea rsi, [rbx + {marker}]",
    "xor edx, edx",
    "mov r10d, 8",
    "mov eax, {vmo_write}",
    "syscall",
    "test eax, eax",
    "jnz 9f",
    // zx_vmar_map(vmar, R | W | SPECIFIC, CHILD_DATA_OFFSET, data, 0, 4096, &at)
    "mov edi, [rbx + {vmar}]",
    "mov esi, {perm_rw_specific}",
    "mov edx, {data_offset}",
    "mov r10d, [rbx + {data}]",
    "xor r8d, r8d",
    "mov r9d, 4096",
    "lea r12, [rbx + {data_at}]",
    "mov eax, {vmar_map}",
    "syscall",
    "test eax, eax",
    "jnz 9f",
    "mov edi, [rbx + {data}]",
    "mov eax, {handle_close}",
    "syscall",
    "mov edi, [rbx + {vmar}]",
    "mov eax, {handle_close}",
    "syscall",
    // zx_handle_duplicate(gate, SAME_RIGHTS, &dup): the child's gate.
    "mov edi, [rbx + {gate}]",
    "mov esi, {same_rights}",
    "lea rdx, [rbx + {gate_dup}]",
    "mov eax, {handle_duplicate}",
    "syscall",
    "test eax, eax",
    "jnz 9f",
    // zx_thread_create(process, name, 0, 0, &thread)
    "mov edi, [rbx + {process}]",
    "mov rsi, rbx",
    "xor edx, edx",
    "xor r10d, r10d",
    "lea r8, [rbx + {thread}]",
    "mov eax, {thread_create}",
    "syscall",
    "test eax, eax",
    "jnz 9f",
    // zx_process_start(process, thread, entry, 0, dup, index): the dup
    // moves into the child.
    "mov edi, [rbx + {process}]",
    "mov esi, [rbx + {thread}]",
    "mov rdx, [rbx + {entry}]",
    "xor r10d, r10d",
    "mov r8d, [rbx + {gate_dup}]",
    "mov r9, rbp",
    "mov eax, {process_start}",
    "syscall",
    "test eax, eax",
    "jnz 9f",
    "mov edi, [rbx + {thread}]",
    "mov eax, {handle_close}",
    "syscall",
    "mov edi, [rbx + {process}]",
    "mov eax, {handle_close}",
    "syscall",
    "inc rbp",
    "cmp rbp, r15",
    "jb 2b",
    // churn(count, 0, 3, 0): every child made.
    "mov rdi, rbp",
    "xor esi, esi",
    "mov edx, 3",
    "xor r10d, r10d",
    "mov eax, {churn}",
    "syscall",
    "xor edi, edi",
    "mov eax, {process_exit}",
    "syscall",
    "ud2",
    // churn(index, 0, 4, status): a syscall failed.
    "9:",
    "mov r10, rax",
    "mov rdi, rbp",
    "xor esi, esi",
    "mov edx, 4",
    "mov eax, {churn}",
    "syscall",
    "mov edi, 1",
    "mov eax, {process_exit}",
    "syscall",
    "ud2",
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

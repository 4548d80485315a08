//! The ring-3 program of the restricted-mode scenario on x86_64.
//!
//! Position-independent code (every reference is `rip`-relative) that the
//! host copies into a VMO and maps with the crate's `root_vmar().map`
//! (see `zx_host`). It starts at its first byte with `rdi` = its root VMAR
//! handle, `rsi` = its thread handle, `rsp` = `G` (its globals, see
//! `zx_host::abi`) and FS/GS base at its normal TLS blocks, and from then on
//! uses nothing but syscalls: the crate's, by [`SyscallNumber`], and the
//! host's `check` / `bench` / `exit`.
//!
//! What it does, in order:
//!
//! 1. `zx_vmo_create` + `zx_vmar_map` a two-page VMO read-write and writes
//!    it (demand faults the crate resolves);
//! 2. `zx_restricted_bind_state(0, &vmo)` and maps the state VMO;
//! 3. `zx_vmar_protect`s page 0 read-only; restricted code writes to it:
//!    `EXCEPTION`, `ZX_EXCP_FATAL_PAGE_FAULT`, `cr2`, page unchanged;
//! 4. fills every register of the state (with `pattern(i)`, `rsp` with the
//!    canonical `RSP_PATTERN`), enters code that changes every
//!    register and makes a syscall; checks every saved register (`rcx` and
//!    `r11` read 0, `ip` after the `syscall`) and, at the vector, the
//!    reason, `rdi` = context, every other register 0 (`rsp` too: the
//!    vector finds its stack through the context, as Zircon's `vectab`
//!    with `mov %rdi, %rsp`), RFLAGS and the restored FS/GS base;
//! 5. `ud2` in restricted mode: `EXCEPTION`, report type 0x208, vector 6;
//! 6. `zx_restricted_kick` on its own thread, then enter: back at the
//!    vector with `KICK`, state VMO untouched; the next enter runs; then a
//!    kick while restricted code spins (the host's `kick_on_irq`: a second
//!    thread kicks at a timer interrupt): `KICK` at that boundary, `ip`
//!    inside the loop;
//! 7. protects page 0 back to read-write: the restricted write lands, and
//!    one to the untouched page 1 is demand-paged without leaving
//!    restricted mode;
//! 8. measures 10,000 null syscalls (`zx_handle_close(ZX_HANDLE_INVALID)`)
//!    and 10,000 enter → restricted `syscall` → vector round trips with
//!    `rdtsc` (one tick per instruction under `-icount shift=0`, which a
//!    100,000-instruction loop calibrates) and reports them;
//! 9. spins in restricted mode until the host kills the thread at a
//!    timer interrupt (`kill_on_irq`, as another thread's `zx_task_kill`
//!    would): it never comes back to the vector.
//!
//! Every check goes through the `check!` macro: the name sits in the code
//! as a NUL-terminated string, `rsi` = what was seen, `rdx` = what was
//! expected. The vector code is common (`hk_zx_vector`): it records what
//! it found in the globals and jumps to the continuation stored in
//! `G_CONT` by `enter!`.
//!
//! Register use: `r15` = `G` throughout; `rbx` = the state VMO mapping
//! while checks read it. Numeric labels `8:`/`9:` belong to `check!`;
//! the program's own local labels are `2:`/`3:`.
//!
//! [`SyscallNumber`]: zx_subsystem::syscall::SyscallNumber

use core::mem::offset_of;

use zx_subsystem::abi::{
    ZX_EXCEPTION_REPORT_SIZE, ZX_EXCP_FATAL_PAGE_FAULT, ZX_EXCP_UNDEFINED_INSTRUCTION,
    ZX_RESTRICTED_REASON_EXCEPTION, ZX_RESTRICTED_REASON_KICK, ZX_RESTRICTED_REASON_SYSCALL,
    ZX_VM_PERM_READ, ZX_VM_PERM_WRITE, zx_exception_report_t, zx_restricted_exception_x86_64_t,
    zx_restricted_state_x86_64_t as State,
};
use zx_subsystem::syscall::SyscallNumber as Sys;

use super::user::RSP_PATTERN;
use crate::user_abi::pattern;
use crate::zx_host::abi::*;

/// RFLAGS bits the state loads: ZF, DF, ID (all user-settable).
const FLAGS_IN: u64 = (1 << 6) | (1 << 10) | (1 << 21);
/// What restricted code leaves: the loaded bits plus CF (`stc`).
const FLAGS_OUT: u64 = FLAGS_IN | 1;
/// RFLAGS at the vector: IF and the always-one bit.
const VECTOR_FLAGS: u64 = 0x202;
/// Page-fault error code of a user write to a present page.
const PF_USER_WRITE_PRESENT: u64 = 7;

const fn report_field(offset: usize) -> usize {
    offset_of!(zx_restricted_exception_x86_64_t, exception) + offset
}

/// A check: `got` and `want` are operands (`mov`-able into `rsi` / `rdx`;
/// `want` must not name `rsi`). Clobbers `rax`, `rcx`, `rdx`, `rsi`,
/// `rdi`, `r11`.
macro_rules! check {
    ($name:expr, $got:expr, $want:expr) => {
        concat!(
            "mov rsi, ",
            $got,
            "\n",
            "mov rdx, ",
            $want,
            "\n",
            "jmp 9f\n",
            "8: .asciz \"",
            $name,
            "\"\n",
            "9: lea rdi, [rip + 8b]\n",
            "mov eax, {host_check}\n",
            "syscall\n",
        )
    };
}

/// Enters restricted mode with the state in the state VMO, the common
/// vector and context `G`; the vector continues at `$cont`.
macro_rules! enter {
    ($cont:literal) => {
        concat!(
            "lea rax, [rip + ",
            $cont,
            "]\n",
            "mov [r15 + {g_cont}], rax\n",
            "xor edi, edi\n",
            "lea rsi, [rip + hk_zx_vector]\n",
            "mov rdx, r15\n",
            "mov eax, {sys_enter}\n",
            "syscall\n",
            "jmp hk_zx_enter_failed\n",
        )
    };
}

/// The reason of the last exit, and one check that the vector was entered
/// as the spec says: `rdi` = context, every other register 0, RFLAGS = IF,
/// the normal FS/GS base back.
macro_rules! exit_checks {
    ($what:literal, $reason:literal) => {
        concat!(
            check!(
                concat!($what, ": reason ", $reason),
                "qword ptr [r15 + {g_v_reason}]",
                concat!("{reason_", $reason, "}")
            ),
            "mov rax, [r15 + {g_v_ctx}]\n",
            "xor rax, r15\n",
            "or rax, [r15 + {g_v_or}]\n",
            "mov rcx, [r15 + {g_v_flags}]\n",
            "xor rcx, {vector_flags}\n",
            "or rax, rcx\n",
            "mov rcx, {ntls0}\n",
            "xor rcx, [r15 + {g_v_tls0}]\n",
            "or rax, rcx\n",
            "mov rcx, {ntls1}\n",
            "xor rcx, [r15 + {g_v_tls1}]\n",
            "or rax, rcx\n",
            check!(
                concat!(
                    $what,
                    ": vector entered with rdi = context, other registers 0, normal FS/GS"
                ),
                "rax",
                "0"
            ),
        )
    };
}

/// A saved register that restricted code inverted (`not`).
macro_rules! check_inverted {
    ($reg:literal, $field:literal, $inverted:literal) => {
        check!(
            concat!("syscall exit: saved ", $reg, " = NOT the loaded value"),
            concat!("qword ptr [rbx + {s_", $field, "}]"),
            concat!("{", $inverted, "}")
        )
    };
}

/// Stores a 64-bit constant into a state field.
macro_rules! set_state {
    ($field:literal, $value:literal) => {
        concat!(
            "mov rax, {",
            $value,
            "}\n",
            "mov [rbx + {s_",
            $field,
            "}], rax\n",
        )
    };
}

crate::user_blob!(hk_zx_user, hk_zx_user_len);

core::arch::global_asm!(
    ".pushsection .rodata.hk_zx_user, \"a\"",
    ".balign 16",
    ".global hk_zx_user",
    "hk_zx_user:",
    "mov r15, rsp",
    "mov [r15 + {g_vmar}], rdi",
    "mov [r15 + {g_thread}], rsi",
    "mov rax, {ntls0}",
    "mov [r15 + {g_ntls0}], rax",
    "mov rax, {ntls1}",
    "mov [r15 + {g_ntls1}], rax",
    "mov rax, {rtls0}",
    "mov [r15 + {g_rtls0}], rax",
    "mov rax, {rtls1}",
    "mov [r15 + {g_rtls1}], rax",
    check!("normal mode: fs:[0] is the normal TLS word", "qword ptr fs:[0]", "{ntls0}"),
    check!("normal mode: gs:[0] is the normal TLS word", "qword ptr gs:[0]", "{ntls1}"),
    // -- 1. A VMO, mapped read-write. ----------------------------------
    "mov edi, {vmo_size}",
    "xor esi, esi",
    "lea rdx, [r15 + {g_vmo}]",
    "mov eax, {sys_vmo_create}",
    "syscall",
    check!("zx_vmo_create(8 KiB, 0, &vmo) = ZX_OK", "rax", "0"),
    "mov edi, dword ptr [r15 + {g_vmar}]",
    "mov esi, {perm_rw}",
    "xor edx, edx",
    "mov r10d, dword ptr [r15 + {g_vmo}]",
    "xor r8d, r8d",
    "mov r9d, {vmo_size}",
    "lea r12, [r15 + {g_addr}]",
    "mov eax, {sys_vmar_map}",
    "syscall",
    check!("zx_vmar_map(root, READ | WRITE, vmo) = ZX_OK", "rax", "0"),
    "mov rbx, [r15 + {g_addr}]",
    "mov rax, {magic}",
    "mov [rbx + 8], rax",
    check!("normal mode writes the new mapping (demand paged)", "qword ptr [rbx + 8]", "{magic}"),
    // -- 2. Restricted state. ------------------------------------------
    "xor edi, edi",
    "lea rsi, [r15 + {g_state_vmo}]",
    "mov eax, {sys_bind}",
    "syscall",
    check!("zx_restricted_bind_state(0, &vmo) = ZX_OK", "rax", "0"),
    "mov edi, dword ptr [r15 + {g_vmar}]",
    "mov esi, {perm_rw}",
    "xor edx, edx",
    "mov r10d, dword ptr [r15 + {g_state_vmo}]",
    "xor r8d, r8d",
    "mov r9d, {page}",
    "lea r12, [r15 + {g_state_addr}]",
    "mov eax, {sys_vmar_map}",
    "syscall",
    check!("zx_vmar_map(root, READ | WRITE, state vmo) = ZX_OK", "rax", "0"),
    // -- 3. Page 0 read-only: a restricted write exits. ----------------
    "mov edi, dword ptr [r15 + {g_vmar}]",
    "mov esi, {perm_r}",
    "mov rdx, [r15 + {g_addr}]",
    "mov r10d, {page}",
    "mov eax, {sys_protect}",
    "syscall",
    check!("zx_vmar_protect(page 0, READ) = ZX_OK", "rax", "0"),
    "mov rbx, [r15 + {g_state_addr}]",
    "lea rax, [rip + hk_zx_r_write]",
    "mov [rbx + {s_ip}], rax",
    "mov rax, [r15 + {g_addr}]",
    "add rax, 8",
    "mov [rbx + {s_rdi}], rax",
    set_state!("rsi", "value_fault"),
    "lea rax, [r15 + {g_rtls0}]",
    "mov [rbx + {s_fs_base}], rax",
    "lea rax, [r15 + {g_rtls1}]",
    "mov [rbx + {s_gs_base}], rax",
    enter!("hk_zx_after_fault"),
    "hk_zx_after_fault:",
    exit_checks!("write to the read-only page", "exception"),
    "mov rbx, [r15 + {g_state_addr}]",
    "mov eax, dword ptr [rbx + {rep_size}]",
    check!("write fault: report header size 40", "rax", "{report_size}"),
    "mov eax, dword ptr [rbx + {rep_type}]",
    check!("write fault: report type ZX_EXCP_FATAL_PAGE_FAULT", "rax", "{excp_page_fault}"),
    check!("write fault: report vector 14 (#PF)", "qword ptr [rbx + {rep_vector}]", "14"),
    check!(
        "write fault: report error code user | write | present",
        "qword ptr [rbx + {rep_err}]",
        "{pf_user_write_present}"
    ),
    "mov r12, [r15 + {g_addr}]",
    "add r12, 8",
    check!("write fault: report cr2 = the address written", "qword ptr [rbx + {rep_cr2}]", "r12"),
    "lea rax, [rip + hk_zx_r_write]",
    check!("write fault: saved ip at the faulting store", "qword ptr [rbx + {s_ip}]", "rax"),
    check!("write fault: the read-only page is unchanged", "qword ptr [r12]", "{magic}"),
    // -- 4. Every register through enter, a syscall and the vector. ----
    "mov rbx, [r15 + {g_state_addr}]",
    set_state!("rax", "p0"),
    set_state!("rbx", "p1"),
    set_state!("rcx", "p2"),
    set_state!("rdx", "p3"),
    set_state!("rsi", "p4"),
    set_state!("rdi", "p5"),
    set_state!("rbp", "p6"),
    set_state!("rsp", "p7"),
    set_state!("r8", "p8"),
    set_state!("r9", "p9"),
    set_state!("r10", "p10"),
    set_state!("r11", "p11"),
    set_state!("r12", "p12"),
    set_state!("r13", "p13"),
    set_state!("r14", "p14"),
    set_state!("r15", "p15"),
    set_state!("flags", "flags_in"),
    "lea rax, [rip + hk_zx_r_regs]",
    "mov [rbx + {s_ip}], rax",
    enter!("hk_zx_after_regs"),
    "hk_zx_after_regs:",
    check!("syscall exit: reason SYSCALL (rsi)", "qword ptr [r15 + {g_v_reason}]", "{reason_syscall}"),
    check!("syscall exit: rdi = context at the vector", "qword ptr [r15 + {g_v_ctx}]", "r15"),
    check!(
        "syscall exit: every other register 0 at the vector, rsp too",
        "qword ptr [r15 + {g_v_or}]",
        "0"
    ),
    check!("syscall exit: RFLAGS = IF at the vector", "qword ptr [r15 + {g_v_flags}]", "{vector_flags}"),
    check!(
        "syscall exit: normal fs_base restored (fs:[0] at the vector)",
        "qword ptr [r15 + {g_v_tls0}]",
        "{ntls0}"
    ),
    check!(
        "syscall exit: normal gs_base restored (gs:[0] at the vector)",
        "qword ptr [r15 + {g_v_tls1}]",
        "{ntls1}"
    ),
    "mov rbx, [r15 + {g_state_addr}]",
    check!(
        "syscall exit: saved rax = fs:[0] read in restricted mode",
        "qword ptr [rbx + {s_rax}]",
        "{rtls0}"
    ),
    check!(
        "syscall exit: saved rbx = gs:[0] read in restricted mode",
        "qword ptr [rbx + {s_rbx}]",
        "{rtls1}"
    ),
    check!("syscall exit: saved rcx reads 0", "qword ptr [rbx + {s_rcx}]", "0"),
    check!("syscall exit: saved r11 reads 0", "qword ptr [rbx + {s_r11}]", "0"),
    check_inverted!("rdx", "rdx", "n3"),
    check_inverted!("rsi", "rsi", "n4"),
    check_inverted!("rdi", "rdi", "n5"),
    check_inverted!("rbp", "rbp", "n6"),
    check_inverted!("rsp", "rsp", "n7"),
    check_inverted!("r8", "r8", "n8"),
    check_inverted!("r9", "r9", "n9"),
    check_inverted!("r10", "r10", "n10"),
    check_inverted!("r12", "r12", "n12"),
    check_inverted!("r13", "r13", "n13"),
    check_inverted!("r14", "r14", "n14"),
    check_inverted!("r15", "r15", "n15"),
    "lea rax, [rip + hk_zx_r_regs_ret]",
    check!("syscall exit: saved ip is after the syscall", "qword ptr [rbx + {s_ip}]", "rax"),
    check!(
        "syscall exit: saved flags = loaded ZF DF ID plus CF set by stc",
        "qword ptr [rbx + {s_flags}]",
        "{flags_out}"
    ),
    "lea rax, [r15 + {g_rtls0}]",
    check!("syscall exit: saved fs_base = restricted fs_base", "qword ptr [rbx + {s_fs_base}]", "rax"),
    "lea rax, [r15 + {g_rtls1}]",
    check!("syscall exit: saved gs_base = restricted gs_base", "qword ptr [rbx + {s_gs_base}]", "rax"),
    // -- 5. Undefined instruction. ---------------------------------------
    "lea rax, [rip + hk_zx_r_ud2]",
    "mov [rbx + {s_ip}], rax",
    enter!("hk_zx_after_ud2"),
    "hk_zx_after_ud2:",
    exit_checks!("ud2", "exception"),
    "mov rbx, [r15 + {g_state_addr}]",
    "mov eax, dword ptr [rbx + {rep_type}]",
    check!("ud2: report type ZX_EXCP_UNDEFINED_INSTRUCTION", "rax", "{excp_undefined}"),
    check!("ud2: report vector 6 (#UD)", "qword ptr [rbx + {rep_vector}]", "6"),
    "lea rax, [rip + hk_zx_r_ud2]",
    check!("ud2: saved ip at the ud2", "qword ptr [rbx + {s_ip}]", "rax"),
    // -- 6. A kick before enter. -----------------------------------------
    "mov edi, dword ptr [r15 + {g_thread}]",
    "xor esi, esi",
    "mov eax, {sys_kick}",
    "syscall",
    check!("zx_restricted_kick(own thread, 0) = ZX_OK", "rax", "0"),
    "mov rbx, [r15 + {g_state_addr}]",
    "lea rax, [rip + hk_zx_r_syscall]",
    "mov [rbx + {s_ip}], rax",
    set_state!("rax", "kick_mark"),
    enter!("hk_zx_after_kick"),
    "hk_zx_after_kick:",
    exit_checks!("kicked enter", "kick"),
    "mov rbx, [r15 + {g_state_addr}]",
    check!("kicked enter: state VMO untouched (rax)", "qword ptr [rbx + {s_rax}]", "{kick_mark}"),
    "lea rax, [rip + hk_zx_r_syscall]",
    check!("kicked enter: state VMO untouched (ip)", "qword ptr [rbx + {s_ip}]", "rax"),
    enter!("hk_zx_after_rerun"),
    "hk_zx_after_rerun:",
    check!(
        "kick consumed: the next enter runs restricted code (reason SYSCALL)",
        "qword ptr [r15 + {g_v_reason}]",
        "{reason_syscall}"
    ),
    // -- 6b. A kick from a second thread while restricted code runs. ----
    "mov eax, {host_kick_on_irq}",
    "syscall",
    "mov rbx, [r15 + {g_state_addr}]",
    "lea rax, [rip + hk_zx_r_spin]",
    "mov [rbx + {s_ip}], rax",
    "mov qword ptr [rbx + {s_rax}], 0",
    enter!("hk_zx_after_irq_kick"),
    "hk_zx_after_irq_kick:",
    exit_checks!("kicked in restricted mode", "kick"),
    "mov rbx, [r15 + {g_state_addr}]",
    "mov rax, [rbx + {s_ip}]",
    "lea rcx, [rip + hk_zx_r_spin]",
    "lea rdx, [rip + hk_zx_r_spin_end]",
    "sub rax, rcx",
    "sub rdx, rcx",
    "cmp rax, rdx",
    "setb al",
    "movzx eax, al",
    check!("kicked in restricted mode: saved ip inside the restricted loop", "rax", "1"),
    "xor eax, eax",
    "cmp qword ptr [rbx + {s_rax}], 0",
    "setne al",
    check!("kicked in restricted mode: restricted code ran until the kick", "rax", "1"),
    // -- 7. Page 0 read-write again: the restricted write lands. ---------
    "mov edi, dword ptr [r15 + {g_vmar}]",
    "mov esi, {perm_rw}",
    "mov rdx, [r15 + {g_addr}]",
    "mov r10d, {page}",
    "mov eax, {sys_protect}",
    "syscall",
    check!("zx_vmar_protect(page 0, READ | WRITE) = ZX_OK", "rax", "0"),
    "mov rbx, [r15 + {g_state_addr}]",
    "lea rax, [rip + hk_zx_r_write2]",
    "mov [rbx + {s_ip}], rax",
    "mov rax, [r15 + {g_addr}]",
    "add rax, 8",
    "mov [rbx + {s_rdi}], rax",
    "add rax, {page}",
    "mov [rbx + {s_rdx}], rax",
    set_state!("rsi", "value_ok"),
    enter!("hk_zx_after_write"),
    "hk_zx_after_write:",
    exit_checks!("write after protect back to RW", "syscall"),
    "mov rax, [r15 + {g_addr}]",
    check!("write after protect back to RW: the value is in the page", "qword ptr [rax + 8]", "{value_ok}"),
    "mov rax, [r15 + {g_addr}]",
    check!(
        "restricted write to a page never touched: demand-paged without an exit",
        "qword ptr [rax + {page} + 8]",
        "{value_ok}"
    ),
    "mov rbx, [r15 + {g_state_addr}]",
    "lea rax, [rip + hk_zx_r_write2_ret]",
    check!(
        "write after protect back to RW: saved ip after the syscall",
        "qword ptr [rbx + {s_ip}]",
        "rax"
    ),
    // -- 8. Measurements. ------------------------------------------------
    "lfence",
    "rdtsc",
    "shl rdx, 32",
    "or rax, rdx",
    "mov r12, rax",
    "mov ecx, {cal_loops}",
    "2:",
    "dec ecx",
    "jnz 2b",
    "lfence",
    "rdtsc",
    "shl rdx, 32",
    "or rax, rdx",
    "sub rax, r12",
    "mov [r15 + {g_cal}], rax",
    //
    "mov ebx, {iterations}",
    "lfence",
    "rdtsc",
    "shl rdx, 32",
    "or rax, rdx",
    "mov r12, rax",
    "3:",
    "xor edi, edi",
    "mov eax, {sys_close}",
    "syscall",
    "dec ebx",
    "jnz 3b",
    "mov r13, rax",
    "lfence",
    "rdtsc",
    "shl rdx, 32",
    "or rax, rdx",
    "sub rax, r12",
    "mov [r15 + {g_null}], rax",
    check!("null syscall: zx_handle_close(ZX_HANDLE_INVALID) = ZX_OK", "r13", "0"),
    //
    "mov rbx, [r15 + {g_state_addr}]",
    "lea rax, [rip + hk_zx_r_loop]",
    "mov [rbx + {s_ip}], rax",
    "mov qword ptr [r15 + {g_count}], {iterations}",
    "mov qword ptr [r15 + {g_bad}], 0",
    "lfence",
    "rdtsc",
    "shl rdx, 32",
    "or rax, rdx",
    "mov [r15 + {g_t0}], rax",
    "xor edi, edi",
    "lea rsi, [rip + hk_zx_bench_vector]",
    "mov rdx, r15",
    "mov eax, {sys_enter}",
    "syscall",
    "jmp hk_zx_enter_failed",
    // The round trip's vector: count down in the globals, enter again.
    "hk_zx_bench_vector:",
    "add [rdi + {g_bad}], rsi",
    "dec qword ptr [rdi + {g_count}]",
    "jz 2f",
    "mov rdx, rdi",
    "lea rsi, [rip + hk_zx_bench_vector]",
    "xor edi, edi",
    "mov eax, {sys_enter}",
    "syscall",
    "jmp hk_zx_enter_failed",
    "2:",
    "mov rsp, rdi",
    "mov r15, rdi",
    "lfence",
    "rdtsc",
    "shl rdx, 32",
    "or rax, rdx",
    "sub rax, [r15 + {g_t0}]",
    "mov [r15 + {g_restricted}], rax",
    check!("round trips: every exit had reason SYSCALL", "qword ptr [r15 + {g_bad}]", "0"),
    "mov rdi, [r15 + {g_null}]",
    "mov rsi, [r15 + {g_restricted}]",
    "mov rdx, [r15 + {g_cal}]",
    "mov r10d, {cal_insns}",
    "mov r8d, {iterations}",
    "mov eax, {host_bench}",
    "syscall",
    // -- 9. Killed while restricted code spins: the host kills the thread
    // at the timer interrupt (`kill_on_irq`); it never comes back.
    "mov eax, {host_kill_on_irq}",
    "syscall",
    "mov rbx, [r15 + {g_state_addr}]",
    "lea rax, [rip + hk_zx_r_spin]",
    "mov [rbx + {s_ip}], rax",
    "mov qword ptr [rbx + {s_rax}], 0",
    enter!("hk_zx_after_kill"),
    "hk_zx_after_kill:",
    check!("killed in restricted mode: never back at the vector", "1", "0"),
    "mov edi, 1",
    "mov eax, {host_exit}",
    "syscall",
    "ud2",
    // enter came back: report its status and stop.
    "hk_zx_enter_failed:",
    check!("zx_restricted_enter did not return", "rax", "0"),
    "mov edi, 1",
    "mov eax, {host_exit}",
    "syscall",
    "ud2",
    // -- The common vector. ----------------------------------------------
    // Every register but rdi (context) and rsi (reason) should be 0: OR
    // them into rax (rsp included) before anything changes them.
    // Nothing may change RFLAGS before pushfq: first rsp goes to the
    // globals (mov leaves the flags alone) and the context becomes the
    // stack, as in Zircon's test vectab.
    "hk_zx_vector:",
    "mov [rdi + {g_v_rsp}], rsp",
    "mov rsp, rdi",
    "pushfq",
    "pop qword ptr [rdi + {g_v_flags}]",
    "or rax, rbx",
    "or rax, rcx",
    "or rax, rdx",
    "or rax, rbp",
    "or rax, r8",
    "or rax, r9",
    "or rax, r10",
    "or rax, r11",
    "or rax, r12",
    "or rax, r13",
    "or rax, r14",
    "or rax, r15",
    "or rax, [rdi + {g_v_rsp}]",
    "mov r15, rdi",
    "mov [r15 + {g_v_or}], rax",
    "mov [r15 + {g_v_reason}], rsi",
    "mov [r15 + {g_v_ctx}], rdi",
    "mov rax, qword ptr fs:[0]",
    "mov [r15 + {g_v_tls0}], rax",
    "mov rax, qword ptr gs:[0]",
    "mov [r15 + {g_v_tls1}], rax",
    "jmp qword ptr [r15 + {g_cont}]",
    // -- Restricted-mode code. -------------------------------------------
    // Changes every register: rax/rbx from the restricted TLS, the rest
    // inverted; checks ZF came in with the state, sets CF.
    "hk_zx_r_regs:",
    "jnz hk_zx_r_bad",
    "mov rax, qword ptr fs:[0]",
    "mov rbx, qword ptr gs:[0]",
    "not rcx",
    "not rdx",
    "not rsi",
    "not rdi",
    "not rbp",
    "not rsp",
    "not r8",
    "not r9",
    "not r10",
    "not r11",
    "not r12",
    "not r13",
    "not r14",
    "not r15",
    "stc",
    "syscall",
    "hk_zx_r_regs_ret:",
    "ud2",
    "hk_zx_r_bad:",
    "ud2",
    "hk_zx_r_write:",
    "mov qword ptr [rdi], rsi",
    "syscall",
    "hk_zx_r_write_ret:",
    "ud2",
    "hk_zx_r_write2:",
    "mov qword ptr [rdi], rsi",
    "mov qword ptr [rdx], rsi",
    "syscall",
    "hk_zx_r_write2_ret:",
    "ud2",
    "hk_zx_r_syscall:",
    "syscall",
    "ud2",
    "hk_zx_r_ud2:",
    "ud2",
    "hk_zx_r_loop:",
    "syscall",
    "jmp hk_zx_r_loop",
    "hk_zx_r_spin:",
    "inc rax",
    "jmp hk_zx_r_spin",
    "hk_zx_r_spin_end:",
    "hk_zx_user_end:",
    ".balign 8",
    ".global hk_zx_user_len",
    "hk_zx_user_len:",
    ".quad hk_zx_user_end - hk_zx_user",
    ".popsection",
    host_check = const HOST_CHECK,
    host_bench = const HOST_BENCH,
    host_exit = const HOST_EXIT,
    host_kick_on_irq = const HOST_KICK_ON_IRQ,
    host_kill_on_irq = const HOST_KILL_ON_IRQ,
    sys_close = const Sys::HandleClose as u32,
    sys_vmo_create = const Sys::VmoCreate as u32,
    sys_vmar_map = const Sys::VmarMap as u32,
    sys_protect = const Sys::VmarProtect as u32,
    sys_bind = const Sys::RestrictedBindState as u32,
    sys_enter = const Sys::RestrictedEnter as u32,
    sys_kick = const Sys::RestrictedKick as u32,
    g_vmar = const G_VMAR,
    g_thread = const G_THREAD,
    g_vmo = const G_VMO,
    g_addr = const G_ADDR,
    g_state_vmo = const G_STATE_VMO,
    g_state_addr = const G_STATE_ADDR,
    g_cont = const G_CONT,
    g_v_or = const G_V_OR,
    g_v_reason = const G_V_REASON,
    g_v_ctx = const G_V_CTX,
    g_v_flags = const G_V_FLAGS,
    g_v_tls0 = const G_V_TLS0,
    g_v_tls1 = const G_V_TLS1,
    g_v_rsp = const G_V_RSP,
    g_count = const G_COUNT,
    g_bad = const G_BAD,
    g_t0 = const G_T0,
    g_cal = const G_CAL,
    g_null = const G_NULL,
    g_restricted = const G_RESTRICTED,
    g_rtls0 = const G_RTLS0,
    g_rtls1 = const G_RTLS1,
    g_ntls0 = const G_NTLS0,
    g_ntls1 = const G_NTLS1,
    s_rdi = const offset_of!(State, rdi),
    s_rsi = const offset_of!(State, rsi),
    s_rbp = const offset_of!(State, rbp),
    s_rbx = const offset_of!(State, rbx),
    s_rdx = const offset_of!(State, rdx),
    s_rcx = const offset_of!(State, rcx),
    s_rax = const offset_of!(State, rax),
    s_rsp = const offset_of!(State, rsp),
    s_r8 = const offset_of!(State, r8),
    s_r9 = const offset_of!(State, r9),
    s_r10 = const offset_of!(State, r10),
    s_r11 = const offset_of!(State, r11),
    s_r12 = const offset_of!(State, r12),
    s_r13 = const offset_of!(State, r13),
    s_r14 = const offset_of!(State, r14),
    s_r15 = const offset_of!(State, r15),
    s_ip = const offset_of!(State, ip),
    s_flags = const offset_of!(State, flags),
    s_fs_base = const offset_of!(State, fs_base),
    s_gs_base = const offset_of!(State, gs_base),
    rep_size = const report_field(0),
    rep_type = const report_field(4),
    rep_vector = const report_field(offset_of!(zx_exception_report_t, arch)),
    rep_err = const report_field(offset_of!(zx_exception_report_t, arch) + 8),
    rep_cr2 = const report_field(offset_of!(zx_exception_report_t, arch) + 16),
    report_size = const ZX_EXCEPTION_REPORT_SIZE,
    excp_page_fault = const ZX_EXCP_FATAL_PAGE_FAULT,
    excp_undefined = const ZX_EXCP_UNDEFINED_INSTRUCTION,
    pf_user_write_present = const PF_USER_WRITE_PRESENT,
    reason_syscall = const ZX_RESTRICTED_REASON_SYSCALL,
    reason_exception = const ZX_RESTRICTED_REASON_EXCEPTION,
    reason_kick = const ZX_RESTRICTED_REASON_KICK,
    perm_r = const ZX_VM_PERM_READ,
    perm_rw = const ZX_VM_PERM_READ | ZX_VM_PERM_WRITE,
    page = const 4096,
    vmo_size = const VMO_SIZE,
    ntls0 = const NTLS0_WORD,
    ntls1 = const NTLS1_WORD,
    rtls0 = const RTLS0_WORD,
    rtls1 = const RTLS1_WORD,
    magic = const MAGIC,
    value_fault = const VALUE_FAULT,
    value_ok = const VALUE_OK,
    kick_mark = const KICK_MARK,
    flags_in = const FLAGS_IN,
    flags_out = const FLAGS_OUT,
    vector_flags = const VECTOR_FLAGS,
    iterations = const ITERATIONS,
    cal_loops = const CAL_LOOPS,
    cal_insns = const CAL_INSNS,
    p0 = const pattern(0),
    p1 = const pattern(1),
    p2 = const pattern(2),
    p3 = const pattern(3),
    p4 = const pattern(4),
    p5 = const pattern(5),
    p6 = const pattern(6),
    p7 = const RSP_PATTERN,
    p8 = const pattern(8),
    p9 = const pattern(9),
    p10 = const pattern(10),
    p11 = const pattern(11),
    p12 = const pattern(12),
    p13 = const pattern(13),
    p14 = const pattern(14),
    p15 = const pattern(15),
    n3 = const !pattern(3),
    n4 = const !pattern(4),
    n5 = const !pattern(5),
    n6 = const !pattern(6),
    n7 = const !RSP_PATTERN,
    n8 = const !pattern(8),
    n9 = const !pattern(9),
    n10 = const !pattern(10),
    n12 = const !pattern(12),
    n13 = const !pattern(13),
    n14 = const !pattern(14),
    n15 = const !pattern(15),
);

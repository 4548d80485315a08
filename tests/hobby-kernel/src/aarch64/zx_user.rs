//! The EL0 program of the restricted-mode scenario on aarch64.
//!
//! Position-independent code (`adr` and a literal pool inside the blob)
//! that the host copies into a VMO and maps with the crate's
//! `root_vmar().map` (see `zx_host`). It starts at its first byte with
//! `x0` = its root VMAR handle, `x1` = its thread handle, `sp` = `G` (its
//! globals, see `zx_host::abi`) and `tpidr_el0` at its normal TLS block,
//! and from then on uses nothing but `svc`: the crate's syscalls, by
//! [`SyscallNumber`] in `x16`, and the host's `check` / `bench` / `exit`.
//!
//! The steps are those of the x86_64 program (`x86_64/zx_user.rs`):
//! a VMO mapped read-write; the state VMO bound and mapped; a restricted
//! write to a page protected read-only (`EXCEPTION`, fatal page fault,
//! `far`); every register through enter → `svc` → vector (`x0`–`x30`,
//! `sp`, `pc` after the `svc`, NZCV, `tpidr_el0`; at the vector `x1` =
//! reason, `x0` = context, every other register and `sp` zero, NZCV
//! clear, normal `tpidr_el0` back — the vector takes its stack from the
//! context); `udf #0` (report type 0x208, `esr` = `1 << 25`); a kick
//! before enter, and one from a second thread while restricted code spins
//! (at a timer interrupt: a kernel boundary); the write after protecting
//! back to read-write, with a write to an untouched page demand-paged
//! inside restricted mode; and the
//! two measurements with `cntvct_el0` (which the kernel opens to EL0
//! through `CNTKCTL_EL1`), calibrated by a 100,000-instruction loop; last,
//! restricted code spins until the host kills the thread at a timer
//! interrupt (`kill_on_irq`), and it never runs again.
//!
//! Every check goes through `check!`: the name sits in the code as a
//! NUL-terminated string; the macro's two instruction arguments load the
//! value seen into `x1` and the value expected into `x2`.
//!
//! Register use: `x28` = `G`; `x20` = the state VMO mapping and `x21` =
//! the VMO mapping while checks read them (reloaded after every exit: the
//! vector zeroes them). Numeric labels `8:`/`9:` belong to `check!`.
//!
//! [`SyscallNumber`]: zx_subsystem::syscall::SyscallNumber

use core::mem::offset_of;

use zx_subsystem::abi::{
    ZX_EXCEPTION_REPORT_SIZE, ZX_EXCP_FATAL_PAGE_FAULT, ZX_EXCP_UNDEFINED_INSTRUCTION,
    ZX_RESTRICTED_REASON_EXCEPTION, ZX_RESTRICTED_REASON_KICK, ZX_RESTRICTED_REASON_SYSCALL,
    ZX_VM_PERM_READ, ZX_VM_PERM_WRITE, zx_exception_report_t, zx_restricted_exception_arm64_t,
    zx_restricted_state_arm64_t as State,
};
use zx_subsystem::syscall::SyscallNumber as Sys;

use super::user::SP_PATTERN;
use crate::user_abi::{PATTERN_HIGH, PATTERN_LOW};
use crate::zx_host::abi::*;

/// NZCV the state loads: N and V.
const CPSR_IN: u32 = 0x9000_0000;
/// NZCV restricted code leaves (`cmp x0, x0`): Z and C.
const CPSR_OUT: u32 = 0x6000_0000;
/// `ESR_EL1` of `udf #0` from EL0: EC 0 (unknown), IL.
const ESR_UDF: u32 = 1 << 25;
/// The `ESR_EL1` bits the write-fault check looks at: EC, WnR, and the
/// fault status without its level.
const ESR_DABT_MASK: u64 = (0x3f << 26) | (1 << 6) | 0x3c;
/// Data abort from a lower EL (EC 0x24), a write, a permission fault.
const ESR_DABT_WRITE_PERMISSION: u64 = (0x24 << 26) | (1 << 6) | 0x0c;

const fn report_field(offset: usize) -> usize {
    offset_of!(zx_restricted_exception_arm64_t, exception) + offset
}

/// A check: `$got` is an instruction (or several, `\n`-separated) leaving
/// the value seen in `x1`, `$want` one leaving the expected value in `x2`.
/// Clobbers `x0`–`x2` and `x16`.
macro_rules! check {
    ($name:expr, $got:expr, $want:expr) => {
        concat!(
            $got,
            "\n",
            $want,
            "\n",
            "b 9f\n",
            "8: .asciz \"",
            $name,
            "\"\n",
            ".balign 4\n",
            "9: adr x0, 8b\n",
            "mov x16, #{host_check}\n",
            "svc #0\n",
        )
    };
}

/// Enters restricted mode with the state in the state VMO, the common
/// vector and context `G`; the vector continues at `$cont`.
macro_rules! enter {
    ($cont:literal) => {
        concat!(
            "adr x9, ",
            $cont,
            "\n",
            "str x9, [x28, #{g_cont}]\n",
            "mov x0, #0\n",
            "adr x1, hk_zx_vector\n",
            "mov x2, x28\n",
            "mov x16, #{sys_enter}\n",
            "svc #0\n",
            "b hk_zx_enter_failed\n",
        )
    };
}

/// The reason of the last exit, and one check that the vector was entered
/// as the spec says: `x0` = context, every other register and `sp` 0,
/// NZCV clear, the normal `tpidr_el0` back. Reloads `x20` and `x21`.
macro_rules! exit_checks {
    ($what:literal, $reason:literal) => {
        concat!(
            check!(
                concat!($what, ": reason ", $reason),
                "ldr x1, [x28, #{g_v_reason}]",
                concat!("mov x2, #{reason_", $reason, "}")
            ),
            "ldr x1, [x28, #{g_v_ctx}]\n",
            "eor x1, x1, x28\n",
            "ldr x2, [x28, #{g_v_or}]\n",
            "orr x1, x1, x2\n",
            "ldr x2, [x28, #{g_v_flags}]\n",
            "orr x1, x1, x2\n",
            "ldr x2, [x28, #{g_v_tls0}]\n",
            "ldr x3, ={ntls0}\n",
            "eor x2, x2, x3\n",
            "orr x1, x1, x2\n",
            "ldr x2, [x28, #{g_v_tls1}]\n",
            "add x3, x28, #{g_ntls0}\n",
            "eor x2, x2, x3\n",
            "orr x1, x1, x2\n",
            check!(
                concat!(
                    $what,
                    ": vector entered with x0 = context, other registers 0, normal tpidr_el0"
                ),
                "",
                "mov x2, #0"
            ),
            "ldr x20, [x28, #{g_state_addr}]\n",
            "ldr x21, [x28, #{g_addr}]\n",
        )
    };
}

/// Saved `x<n>` is the loaded `pattern(n)` inverted (`mvn`), for each `n`.
macro_rules! check_inverted {
    ($($n:literal)*) => {
        concat!($(
            check!(
                concat!("syscall exit: saved x", stringify!($n), " = NOT the loaded value"),
                concat!("ldr x1, [x20, #(", stringify!($n), " * 8)]"),
                concat!(
                    "ldr x2, =~({pattern_high} | (", stringify!($n), " << 40) | ({pattern_low} + ",
                    stringify!($n), "))"
                )
            ),
        )*)
    };
}

crate::user_blob!(hk_zx_user, hk_zx_user_len);

core::arch::global_asm!(
    ".pushsection .rodata.hk_zx_user, \"a\"",
    ".balign 16",
    ".global hk_zx_user",
    "hk_zx_user:",
    "mov x28, sp",
    "str x0, [x28, #{g_vmar}]",
    "str x1, [x28, #{g_thread}]",
    "ldr x9, ={ntls0}",
    "str x9, [x28, #{g_ntls0}]",
    "ldr x9, ={rtls0}",
    "str x9, [x28, #{g_rtls0}]",
    check!(
        "normal mode: [tpidr_el0] is the normal TLS word",
        "mrs x1, tpidr_el0\nldr x1, [x1]",
        "ldr x2, ={ntls0}"
    ),
    // -- 1. A VMO, mapped read-write. ----------------------------------
    "mov x0, #{vmo_size}",
    "mov x1, #0",
    "add x2, x28, #{g_vmo}",
    "mov x16, #{sys_vmo_create}",
    "svc #0",
    check!("zx_vmo_create(8 KiB, 0, &vmo) = ZX_OK", "mov x1, x0", "mov x2, #0"),
    "ldr w0, [x28, #{g_vmar}]",
    "mov x1, #{perm_rw}",
    "mov x2, #0",
    "ldr w3, [x28, #{g_vmo}]",
    "mov x4, #0",
    "mov x5, #{vmo_size}",
    "add x6, x28, #{g_addr}",
    "mov x16, #{sys_vmar_map}",
    "svc #0",
    check!("zx_vmar_map(root, READ | WRITE, vmo) = ZX_OK", "mov x1, x0", "mov x2, #0"),
    "ldr x21, [x28, #{g_addr}]",
    "ldr x9, ={magic}",
    "str x9, [x21, #8]",
    check!(
        "normal mode writes the new mapping (demand paged)",
        "ldr x1, [x21, #8]",
        "ldr x2, ={magic}"
    ),
    // -- 2. Restricted state. ------------------------------------------
    "mov x0, #0",
    "add x1, x28, #{g_state_vmo}",
    "mov x16, #{sys_bind}",
    "svc #0",
    check!("zx_restricted_bind_state(0, &vmo) = ZX_OK", "mov x1, x0", "mov x2, #0"),
    "ldr w0, [x28, #{g_vmar}]",
    "mov x1, #{perm_rw}",
    "mov x2, #0",
    "ldr w3, [x28, #{g_state_vmo}]",
    "mov x4, #0",
    "mov x5, #{page}",
    "add x6, x28, #{g_state_addr}",
    "mov x16, #{sys_vmar_map}",
    "svc #0",
    check!("zx_vmar_map(root, READ | WRITE, state vmo) = ZX_OK", "mov x1, x0", "mov x2, #0"),
    // -- 3. Page 0 read-only: a restricted write exits. ----------------
    "ldr w0, [x28, #{g_vmar}]",
    "mov x1, #{perm_r}",
    "mov x2, x21",
    "mov x3, #{page}",
    "mov x16, #{sys_protect}",
    "svc #0",
    check!("zx_vmar_protect(page 0, READ) = ZX_OK", "mov x1, x0", "mov x2, #0"),
    "ldr x20, [x28, #{g_state_addr}]",
    "adr x9, hk_zx_r_write",
    "str x9, [x20, #{s_pc}]",
    "add x9, x21, #8",
    "str x9, [x20, #0]",
    "ldr x9, ={value_fault}",
    "str x9, [x20, #8]",
    "add x9, x28, #{g_rtls0}",
    "str x9, [x20, #{s_tpidr}]",
    enter!("hk_zx_after_fault"),
    "hk_zx_after_fault:",
    exit_checks!("write to the read-only page", "exception"),
    check!("write fault: report header size 40", "ldr w1, [x20, #{rep_size}]", "mov x2, #{report_size}"),
    check!(
        "write fault: report type ZX_EXCP_FATAL_PAGE_FAULT",
        "ldr w1, [x20, #{rep_type}]",
        "mov x2, #{excp_page_fault}"
    ),
    check!(
        "write fault: report esr = data abort from EL0, write, permission fault",
        "ldr w1, [x20, #{rep_esr}]\nldr x2, ={esr_dabt_mask}\nand x1, x1, x2",
        "ldr x2, ={esr_dabt_write_permission}"
    ),
    check!("write fault: report far = the address written", "ldr x1, [x20, #{rep_far}]", "add x2, x21, #8"),
    check!("write fault: saved pc at the faulting store", "ldr x1, [x20, #{s_pc}]", "adr x2, hk_zx_r_write"),
    check!("write fault: the read-only page is unchanged", "ldr x1, [x21, #8]", "ldr x2, ={magic}"),
    // -- 4. Every register through enter, an svc and the vector. -------
    ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30",
    "ldr x9, =({pattern_high} | (\\i << 40) | ({pattern_low} + \\i))",
    "str x9, [x20, #(\\i * 8)]",
    ".endr",
    "ldr x9, ={sp_pattern}",
    "str x9, [x20, #{s_sp}]",
    "adr x9, hk_zx_r_regs",
    "str x9, [x20, #{s_pc}]",
    "ldr w9, ={cpsr_in}",
    "str w9, [x20, #{s_cpsr}]",
    enter!("hk_zx_after_regs"),
    "hk_zx_after_regs:",
    check!("syscall exit: reason SYSCALL (x1)", "ldr x1, [x28, #{g_v_reason}]", "mov x2, #{reason_syscall}"),
    check!("syscall exit: x0 = context at the vector", "ldr x1, [x28, #{g_v_ctx}]", "mov x2, x28"),
    check!(
        "syscall exit: every other register 0 at the vector, sp too",
        "ldr x1, [x28, #{g_v_or}]",
        "mov x2, #0"
    ),
    check!("syscall exit: NZCV clear at the vector", "ldr x1, [x28, #{g_v_flags}]", "mov x2, #0"),
    check!(
        "syscall exit: normal tpidr_el0 restored",
        "ldr x1, [x28, #{g_v_tls1}]",
        "add x2, x28, #{g_ntls0}"
    ),
    check!(
        "syscall exit: [tpidr_el0] at the vector is the normal TLS word",
        "ldr x1, [x28, #{g_v_tls0}]",
        "ldr x2, ={ntls0}"
    ),
    "ldr x20, [x28, #{g_state_addr}]",
    check!(
        "syscall exit: saved x0 = [tpidr_el0] read in restricted mode",
        "ldr x1, [x20, #0]",
        "ldr x2, ={rtls0}"
    ),
    check_inverted!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30),
    check!("syscall exit: saved sp = the loaded sp + 16", "ldr x1, [x20, #{s_sp}]", "ldr x2, ={sp_out}"),
    check!("syscall exit: saved pc is after the svc", "ldr x1, [x20, #{s_pc}]", "adr x2, hk_zx_r_regs_ret"),
    check!(
        "syscall exit: saved cpsr = Z C from cmp (N V came in with the state)",
        "ldr w1, [x20, #{s_cpsr}]",
        "mov x2, #{cpsr_out}"
    ),
    check!(
        "syscall exit: saved tpidr_el0 = restricted tpidr_el0",
        "ldr x1, [x20, #{s_tpidr}]",
        "add x2, x28, #{g_rtls0}"
    ),
    // -- 5. Undefined instruction. ---------------------------------------
    "adr x9, hk_zx_r_udf",
    "str x9, [x20, #{s_pc}]",
    enter!("hk_zx_after_udf"),
    "hk_zx_after_udf:",
    exit_checks!("udf", "exception"),
    check!(
        "udf: report type ZX_EXCP_UNDEFINED_INSTRUCTION",
        "ldr w1, [x20, #{rep_type}]",
        "mov x2, #{excp_undefined}"
    ),
    check!("udf: report esr = 1 << 25 (EC 0, IL)", "ldr w1, [x20, #{rep_esr}]", "mov x2, #{esr_udf}"),
    check!("udf: saved pc at the udf", "ldr x1, [x20, #{s_pc}]", "adr x2, hk_zx_r_udf"),
    // -- 6. A kick before enter. -----------------------------------------
    "ldr w0, [x28, #{g_thread}]",
    "mov x1, #0",
    "mov x16, #{sys_kick}",
    "svc #0",
    check!("zx_restricted_kick(own thread, 0) = ZX_OK", "mov x1, x0", "mov x2, #0"),
    "adr x9, hk_zx_r_syscall",
    "str x9, [x20, #{s_pc}]",
    "ldr x9, ={kick_mark}",
    "str x9, [x20, #0]",
    enter!("hk_zx_after_kick"),
    "hk_zx_after_kick:",
    exit_checks!("kicked enter", "kick"),
    check!("kicked enter: state VMO untouched (x0)", "ldr x1, [x20, #0]", "ldr x2, ={kick_mark}"),
    check!("kicked enter: state VMO untouched (pc)", "ldr x1, [x20, #{s_pc}]", "adr x2, hk_zx_r_syscall"),
    enter!("hk_zx_after_rerun"),
    "hk_zx_after_rerun:",
    check!(
        "kick consumed: the next enter runs restricted code (reason SYSCALL)",
        "ldr x1, [x28, #{g_v_reason}]",
        "mov x2, #{reason_syscall}"
    ),
    // -- 6b. A kick from a second thread while restricted code runs. ----
    "mov x16, #{host_kick_on_irq}",
    "svc #0",
    "ldr x20, [x28, #{g_state_addr}]",
    "adr x9, hk_zx_r_spin",
    "str x9, [x20, #{s_pc}]",
    "str xzr, [x20, #0]",
    enter!("hk_zx_after_irq_kick"),
    "hk_zx_after_irq_kick:",
    exit_checks!("kicked in restricted mode", "kick"),
    check!(
        "kicked in restricted mode: saved pc inside the restricted loop",
        "ldr x1, [x20, #{s_pc}]\nadr x2, hk_zx_r_spin\nadr x3, hk_zx_r_spin_end\n\
         sub x1, x1, x2\nsub x3, x3, x2\ncmp x1, x3\ncset x1, lo",
        "mov x2, #1"
    ),
    check!(
        "kicked in restricted mode: restricted code ran until the kick",
        "ldr x1, [x20, #0]\ncmp x1, #0\ncset x1, ne",
        "mov x2, #1"
    ),
    // -- 7. Page 0 read-write again: the restricted write lands. ---------
    "ldr w0, [x28, #{g_vmar}]",
    "mov x1, #{perm_rw}",
    "ldr x2, [x28, #{g_addr}]",
    "mov x3, #{page}",
    "mov x16, #{sys_protect}",
    "svc #0",
    check!("zx_vmar_protect(page 0, READ | WRITE) = ZX_OK", "mov x1, x0", "mov x2, #0"),
    "ldr x20, [x28, #{g_state_addr}]",
    "ldr x21, [x28, #{g_addr}]",
    "adr x9, hk_zx_r_write2",
    "str x9, [x20, #{s_pc}]",
    "add x9, x21, #8",
    "str x9, [x20, #0]",
    "add x9, x9, #{page}",
    "str x9, [x20, #16]",
    "ldr x9, ={value_ok}",
    "str x9, [x20, #8]",
    enter!("hk_zx_after_write"),
    "hk_zx_after_write:",
    exit_checks!("write after protect back to RW", "syscall"),
    check!(
        "write after protect back to RW: the value is in the page",
        "ldr x1, [x21, #8]",
        "ldr x2, ={value_ok}"
    ),
    check!(
        "restricted write to a page never touched: demand-paged without an exit",
        "add x1, x21, #{page}\nldr x1, [x1, #8]",
        "ldr x2, ={value_ok}"
    ),
    check!(
        "write after protect back to RW: saved pc after the svc",
        "ldr x1, [x20, #{s_pc}]",
        "adr x2, hk_zx_r_write2_ret"
    ),
    // -- 8. Measurements. ------------------------------------------------
    "isb",
    "mrs x19, cntvct_el0",
    "ldr x9, ={cal_loops}",
    "2:",
    "subs x9, x9, #1",
    "b.ne 2b",
    "isb",
    "mrs x10, cntvct_el0",
    "sub x10, x10, x19",
    "str x10, [x28, #{g_cal}]",
    //
    "mov x19, #{iterations}",
    "isb",
    "mrs x21, cntvct_el0",
    "3:",
    "mov x0, #0",
    "mov x16, #{sys_close}",
    "svc #0",
    "subs x19, x19, #1",
    "b.ne 3b",
    "mov x22, x0",
    "isb",
    "mrs x9, cntvct_el0",
    "sub x9, x9, x21",
    "str x9, [x28, #{g_null}]",
    check!(
        "null syscall: zx_handle_close(ZX_HANDLE_INVALID) = ZX_OK",
        "mov x1, x22",
        "mov x2, #0"
    ),
    //
    "ldr x20, [x28, #{g_state_addr}]",
    "adr x9, hk_zx_r_loop",
    "str x9, [x20, #{s_pc}]",
    "mov x9, #{iterations}",
    "str x9, [x28, #{g_count}]",
    "str xzr, [x28, #{g_bad}]",
    "isb",
    "mrs x9, cntvct_el0",
    "str x9, [x28, #{g_t0}]",
    "mov x0, #0",
    "adr x1, hk_zx_bench_vector",
    "mov x2, x28",
    "mov x16, #{sys_enter}",
    "svc #0",
    "b hk_zx_enter_failed",
    // The round trip's vector: count down in the globals, enter again.
    "hk_zx_bench_vector:",
    "ldr x2, [x0, #{g_bad}]",
    "add x2, x2, x1",
    "str x2, [x0, #{g_bad}]",
    "ldr x2, [x0, #{g_count}]",
    "subs x2, x2, #1",
    "str x2, [x0, #{g_count}]",
    "b.eq 2f",
    "mov x2, x0",
    "adr x1, hk_zx_bench_vector",
    "mov x0, #0",
    "mov x16, #{sys_enter}",
    "svc #0",
    "b hk_zx_enter_failed",
    "2:",
    "mov sp, x0",
    "mov x28, x0",
    "isb",
    "mrs x9, cntvct_el0",
    "ldr x10, [x28, #{g_t0}]",
    "sub x9, x9, x10",
    "str x9, [x28, #{g_restricted}]",
    check!("round trips: every exit had reason SYSCALL", "ldr x1, [x28, #{g_bad}]", "mov x2, #0"),
    "ldr x0, [x28, #{g_null}]",
    "ldr x1, [x28, #{g_restricted}]",
    "ldr x2, [x28, #{g_cal}]",
    "ldr x3, ={cal_insns}",
    "mov x4, #{iterations}",
    "mov x16, #{host_bench}",
    "svc #0",
    // -- 9. Killed while restricted code spins: the host kills the thread
    // at the timer interrupt (`kill_on_irq`); it never comes back.
    "mov x16, #{host_kill_on_irq}",
    "svc #0",
    "ldr x20, [x28, #{g_state_addr}]",
    "adr x9, hk_zx_r_spin",
    "str x9, [x20, #{s_pc}]",
    "str xzr, [x20, #0]",
    enter!("hk_zx_after_kill"),
    "hk_zx_after_kill:",
    check!("killed in restricted mode: never back at the vector", "mov x1, #1", "mov x2, #0"),
    "mov x0, #1",
    "mov x16, #{host_exit}",
    "svc #0",
    "udf #0",
    // enter came back: report its status and stop.
    "hk_zx_enter_failed:",
    check!("zx_restricted_enter did not return", "mov x1, x0", "mov x2, #0"),
    "mov x0, #1",
    "mov x16, #{host_exit}",
    "svc #0",
    "udf #0",
    // -- The common vector. ----------------------------------------------
    // Every register but x0 (context) and x1 (reason) should be 0: OR them
    // into x2, sp included (orr leaves NZCV alone), then take the stack
    // from the context, as Zircon's test vectab does.
    "hk_zx_vector:",
    ".irp r, 3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30",
    "orr x2, x2, x\\r",
    ".endr",
    "mov x3, sp",
    "orr x2, x2, x3",
    "mov sp, x0",
    "mov x28, x0",
    "str x2, [x28, #{g_v_or}]",
    "str x1, [x28, #{g_v_reason}]",
    "str x0, [x28, #{g_v_ctx}]",
    "mrs x3, nzcv",
    "str x3, [x28, #{g_v_flags}]",
    "mrs x3, tpidr_el0",
    "str x3, [x28, #{g_v_tls1}]",
    "mov x4, #0",
    "cbz x3, 4f",
    "ldr x4, [x3]",
    "4:",
    "str x4, [x28, #{g_v_tls0}]",
    "ldr x3, [x28, #{g_cont}]",
    "br x3",
    // -- Restricted-mode code. -------------------------------------------
    // Checks N and V came in with the state, changes every register (x0
    // from the restricted TLS, x1-x30 inverted, sp + 16) and NZCV.
    "hk_zx_r_regs:",
    "b.pl hk_zx_r_bad",
    "b.vc hk_zx_r_bad",
    "mrs x0, tpidr_el0",
    "ldr x0, [x0]",
    ".irp r, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30",
    "mvn x\\r, x\\r",
    ".endr",
    "add sp, sp, #16",
    "cmp x0, x0",
    "svc #0",
    "hk_zx_r_regs_ret:",
    "udf #0",
    "hk_zx_r_bad:",
    "udf #1",
    "hk_zx_r_write:",
    "str x1, [x0]",
    "svc #0",
    "hk_zx_r_write_ret:",
    "udf #0",
    "hk_zx_r_write2:",
    "str x1, [x0]",
    "str x1, [x2]",
    "svc #0",
    "hk_zx_r_write2_ret:",
    "udf #0",
    "hk_zx_r_syscall:",
    "svc #0",
    "udf #0",
    "hk_zx_r_udf:",
    "udf #0",
    "hk_zx_r_loop:",
    "svc #0",
    "b hk_zx_r_loop",
    "hk_zx_r_spin:",
    "add x0, x0, #1",
    "b hk_zx_r_spin",
    "hk_zx_r_spin_end:",
    ".ltorg",
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
    g_count = const G_COUNT,
    g_bad = const G_BAD,
    g_t0 = const G_T0,
    g_cal = const G_CAL,
    g_null = const G_NULL,
    g_restricted = const G_RESTRICTED,
    g_rtls0 = const G_RTLS0,
    g_ntls0 = const G_NTLS0,
    s_sp = const offset_of!(State, sp),
    s_pc = const offset_of!(State, pc),
    s_tpidr = const offset_of!(State, tpidr_el0),
    s_cpsr = const offset_of!(State, cpsr),
    rep_size = const report_field(0),
    rep_type = const report_field(4),
    rep_esr = const report_field(offset_of!(zx_exception_report_t, arch)),
    rep_far = const report_field(offset_of!(zx_exception_report_t, arch) + 8),
    report_size = const ZX_EXCEPTION_REPORT_SIZE,
    excp_page_fault = const ZX_EXCP_FATAL_PAGE_FAULT,
    excp_undefined = const ZX_EXCP_UNDEFINED_INSTRUCTION,
    esr_udf = const ESR_UDF,
    esr_dabt_mask = const ESR_DABT_MASK,
    esr_dabt_write_permission = const ESR_DABT_WRITE_PERMISSION,
    reason_syscall = const ZX_RESTRICTED_REASON_SYSCALL,
    reason_exception = const ZX_RESTRICTED_REASON_EXCEPTION,
    reason_kick = const ZX_RESTRICTED_REASON_KICK,
    perm_r = const ZX_VM_PERM_READ,
    perm_rw = const ZX_VM_PERM_READ | ZX_VM_PERM_WRITE,
    page = const 4096,
    vmo_size = const VMO_SIZE,
    ntls0 = const NTLS0_WORD,
    rtls0 = const RTLS0_WORD,
    magic = const MAGIC,
    value_fault = const VALUE_FAULT,
    value_ok = const VALUE_OK,
    kick_mark = const KICK_MARK,
    pattern_high = const PATTERN_HIGH,
    pattern_low = const PATTERN_LOW,
    sp_pattern = const SP_PATTERN,
    sp_out = const SP_PATTERN + 16,
    cpsr_in = const CPSR_IN,
    cpsr_out = const CPSR_OUT,
    iterations = const ITERATIONS,
    cal_loops = const CAL_LOOPS,
    cal_insns = const CAL_INSNS,
);

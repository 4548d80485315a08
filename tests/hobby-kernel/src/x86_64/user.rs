//! The ring-3 side of the smoke scenario: position-independent code that
//! the kernel copies into the user code page and enters at the labels
//! [`Entry`] names.
//!
//! The blob is exactly one page (padded with `int3`), followed in
//! `.rodata` by a table of label offsets that the assembler computes.

use crate::user_abi::{RETVAL, SYS_CHECK, SYS_DONE, SYS_GET, SYS_NULL, SYS_REPORT, pattern};

use super::paging::{USER_CODE, USER_RO};

/// Where the scenario enters the blob (indices into the offset table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Entry {
    /// Loads every register with [`pattern`]s, sets CF and DF, `syscall`.
    Regs = 1,
    /// The instruction after `Regs`' `syscall`.
    RegsRet,
    /// `ud2`.
    Ud2,
    /// Writes to [`USER_RO`] + 8.
    WriteRo,
    /// The faulting `mov` of `WriteRo`.
    WriteRoInsn,
    /// `SYS_GET`, checks the result, reports bits in `rdi`.
    Retval,
    /// A null syscall, then reports `fs:[0]`, `gs:[0]` in `rdi`, `rsi`.
    Tls,
    /// `wrfsbase rdi`, `wrgsbase rsi`, reports.
    WrBases,
    /// `rbx` null syscalls, then `SYS_DONE`.
    NullLoop,
    /// `hlt` (privileged: `#GP`).
    Hlt,
    /// `int3`.
    Int3,
    /// The instruction after `int3`.
    Int3Ret,
    /// Counts in `rax` forever.
    Spin,
}

const ENTRIES: usize = Entry::Spin as usize + 1;

unsafe extern "C" {
    static hk_user_blob: [u8; 4096];
    static hk_user_layout: [u64; ENTRIES];
}

/// The user code page's contents.
pub fn blob() -> &'static [u8; 4096] {
    // SAFETY: the symbol is the 4096-byte, read-only blob defined below.
    unsafe { &hk_user_blob }
}

/// The user address of `entry`.
pub fn addr(entry: Entry) -> u64 {
    // SAFETY: the symbol is the read-only offset table defined below.
    let layout = unsafe { &hk_user_layout };
    assert!(layout[0] <= 4096, "user blob larger than a page");
    USER_CODE + layout[entry as usize]
}

core::arch::global_asm!(
    ".pushsection .rodata.hk_user, \"a\"",
    ".balign 4096",
    ".global hk_user_blob",
    "hk_user_blob:",
    "hk_u_regs:",
    "mov eax, {sys_check}",
    "mov rbx, {p1}",
    "mov rcx, {p2}",
    "mov rdx, {p3}",
    "mov rsi, {p4}",
    "mov rdi, {p5}",
    "mov rbp, {p6}",
    "mov r8, {p8}",
    "mov r9, {p9}",
    "mov r10, {p10}",
    "mov r11, {p11}",
    "mov r12, {p12}",
    "mov r13, {p13}",
    "mov r14, {p14}",
    "mov r15, {p15}",
    "mov rsp, {p7}",
    "stc",
    "std",
    "syscall",
    "hk_u_regs_ret:",
    "ud2",
    //
    "hk_u_ud2:",
    "ud2",
    //
    "hk_u_write_ro:",
    "mov rax, {ro_word}",
    "hk_u_write_ro_insn:",
    "mov qword ptr [rax], rbx",
    "ud2",
    //
    "hk_u_retval:",
    "mov rbx, {p1}",
    "mov eax, {sys_get}",
    "syscall",
    "xor edi, edi",
    "mov rcx, {retval}",
    "cmp rax, rcx",
    "jne 2f",
    "or edi, 1",
    "2:",
    "mov rcx, {p1}",
    "cmp rbx, rcx",
    "jne 3f",
    "or edi, 2",
    "3:",
    "mov eax, {sys_report}",
    "syscall",
    "ud2",
    //
    "hk_u_tls:",
    "mov eax, {sys_null}",
    "syscall",
    "mov rdi, qword ptr fs:[0]",
    "mov rsi, qword ptr gs:[0]",
    "mov eax, {sys_report}",
    "syscall",
    "ud2",
    //
    "hk_u_wrbases:",
    "wrfsbase rdi",
    "wrgsbase rsi",
    "mov eax, {sys_report}",
    "syscall",
    "ud2",
    //
    "hk_u_null_loop:",
    "mov eax, {sys_null}",
    "syscall",
    "dec rbx",
    "jnz hk_u_null_loop",
    "mov eax, {sys_done}",
    "syscall",
    "ud2",
    //
    "hk_u_hlt:",
    "hlt",
    "ud2",
    //
    "hk_u_int3:",
    "int3",
    "hk_u_int3_ret:",
    "ud2",
    //
    "hk_u_spin:",
    "inc rax",
    "jmp hk_u_spin",
    "hk_user_blob_end:",
    ".balign 4096, 0xcc",
    //
    ".balign 8",
    ".global hk_user_layout",
    "hk_user_layout:",
    ".quad hk_user_blob_end - hk_user_blob",
    ".quad hk_u_regs - hk_user_blob",
    ".quad hk_u_regs_ret - hk_user_blob",
    ".quad hk_u_ud2 - hk_user_blob",
    ".quad hk_u_write_ro - hk_user_blob",
    ".quad hk_u_write_ro_insn - hk_user_blob",
    ".quad hk_u_retval - hk_user_blob",
    ".quad hk_u_tls - hk_user_blob",
    ".quad hk_u_wrbases - hk_user_blob",
    ".quad hk_u_null_loop - hk_user_blob",
    ".quad hk_u_hlt - hk_user_blob",
    ".quad hk_u_int3 - hk_user_blob",
    ".quad hk_u_int3_ret - hk_user_blob",
    ".quad hk_u_spin - hk_user_blob",
    ".popsection",
    sys_null = const SYS_NULL,
    sys_check = const SYS_CHECK,
    sys_get = const SYS_GET,
    sys_report = const SYS_REPORT,
    sys_done = const SYS_DONE,
    retval = const RETVAL,
    ro_word = const USER_RO + 8,
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
);

/// The `rsp` `Regs` loads: canonical, 16-byte aligned, unmapped.
pub const RSP_PATTERN: u64 = 0x0000_7ff0_5a5a_5a50;

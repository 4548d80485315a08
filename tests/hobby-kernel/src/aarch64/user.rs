//! The EL0 side of the smoke scenario: position-independent code that the
//! kernel copies into the user code page and enters at the labels
//! [`Entry`] names. Literals come from a pool inside the blob.
//!
//! The blob is exactly one page (padded with zeros, i.e. `udf #0`),
//! followed in `.rodata` by a table of label offsets.

use crate::user_abi::{RETVAL, SYS_CHECK, SYS_DONE, SYS_GET, SYS_NULL, SYS_REPORT, pattern};

use super::paging::{USER_CODE, USER_RO};

/// Where the scenario enters the blob (indices into the offset table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Entry {
    /// Sets `sp`, NZCV and every `x` register to patterns, `svc #0`.
    Regs = 1,
    /// The instruction after `Regs`' `svc`.
    RegsRet,
    /// `udf #0`.
    Udf,
    /// Writes to [`USER_RO`] + 8.
    WriteRo,
    /// The faulting `str` of `WriteRo`.
    WriteRoInsn,
    /// `SYS_GET`, checks the result, reports bits in `x0`.
    Retval,
    /// A null syscall, then reports `[tpidr_el0]` in `x0`, `tpidr_el0` in
    /// `x1`.
    Tls,
    /// `msr tpidr_el0, x0`, reports.
    SetTls,
    /// `x19` null syscalls, then `SYS_DONE`.
    NullLoop,
    /// `brk #0x42`.
    Brk,
    /// Counts in `x0` forever.
    Spin,
}

const ENTRIES: usize = Entry::Spin as usize + 1;

/// NZCV the `Regs` entry sets: N and C.
pub const NZCV_PATTERN: u64 = 0xa000_0000;
/// The `sp` the `Regs` entry loads: 16-byte aligned, unmapped.
pub const SP_PATTERN: u64 = 0x0000_7ff0_5a5a_5a50;

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
    "ldr x0, ={sp}",
    "mov sp, x0",
    "mov x0, #{nzcv}",
    "msr nzcv, x0",
    "ldr x0, ={p0}",
    "ldr x1, ={p1}",
    "ldr x2, ={p2}",
    "ldr x3, ={p3}",
    "ldr x4, ={p4}",
    "ldr x5, ={p5}",
    "ldr x6, ={p6}",
    "ldr x7, ={p7}",
    "ldr x8, ={p8}",
    "ldr x9, ={p9}",
    "ldr x10, ={p10}",
    "ldr x11, ={p11}",
    "ldr x12, ={p12}",
    "ldr x13, ={p13}",
    "ldr x14, ={p14}",
    "ldr x15, ={p15}",
    "mov x16, #{sys_check}",
    "ldr x17, ={p17}",
    "ldr x18, ={p18}",
    "ldr x19, ={p19}",
    "ldr x20, ={p20}",
    "ldr x21, ={p21}",
    "ldr x22, ={p22}",
    "ldr x23, ={p23}",
    "ldr x24, ={p24}",
    "ldr x25, ={p25}",
    "ldr x26, ={p26}",
    "ldr x27, ={p27}",
    "ldr x28, ={p28}",
    "ldr x29, ={p29}",
    "ldr x30, ={p30}",
    "svc #0",
    "hk_u_regs_ret:",
    "udf #0",
    //
    "hk_u_udf:",
    "udf #0",
    //
    "hk_u_write_ro:",
    "ldr x0, ={ro_word}",
    "hk_u_write_ro_insn:",
    "str x1, [x0]",
    "udf #0",
    //
    "hk_u_retval:",
    "ldr x19, ={p19}",
    "mov x16, #{sys_get}",
    "svc #0",
    "ldr x9, ={retval}",
    "mov x1, #0",
    "cmp x0, x9",
    "b.ne 2f",
    "orr x1, x1, #1",
    "2:",
    "ldr x9, ={p19}",
    "cmp x19, x9",
    "b.ne 3f",
    "orr x1, x1, #2",
    "3:",
    "mov x0, x1",
    "mov x16, #{sys_report}",
    "svc #0",
    "udf #0",
    //
    "hk_u_tls:",
    "mov x16, #{sys_null}",
    "svc #0",
    "mrs x1, tpidr_el0",
    "ldr x0, [x1]",
    "mov x16, #{sys_report}",
    "svc #0",
    "udf #0",
    //
    "hk_u_set_tls:",
    "msr tpidr_el0, x0",
    "mov x16, #{sys_report}",
    "svc #0",
    "udf #0",
    //
    "hk_u_null_loop:",
    "mov x16, #{sys_null}",
    "svc #0",
    "subs x19, x19, #1",
    "b.ne hk_u_null_loop",
    "mov x16, #{sys_done}",
    "svc #0",
    "udf #0",
    //
    "hk_u_brk:",
    "brk #0x42",
    "udf #0",
    //
    "hk_u_spin:",
    "add x0, x0, #1",
    "b hk_u_spin",
    ".ltorg",
    "hk_user_blob_end:",
    ".balign 4096, 0",
    //
    ".balign 8",
    ".global hk_user_layout",
    "hk_user_layout:",
    ".quad hk_user_blob_end - hk_user_blob",
    ".quad hk_u_regs - hk_user_blob",
    ".quad hk_u_regs_ret - hk_user_blob",
    ".quad hk_u_udf - hk_user_blob",
    ".quad hk_u_write_ro - hk_user_blob",
    ".quad hk_u_write_ro_insn - hk_user_blob",
    ".quad hk_u_retval - hk_user_blob",
    ".quad hk_u_tls - hk_user_blob",
    ".quad hk_u_set_tls - hk_user_blob",
    ".quad hk_u_null_loop - hk_user_blob",
    ".quad hk_u_brk - hk_user_blob",
    ".quad hk_u_spin - hk_user_blob",
    ".popsection",
    sp = const SP_PATTERN,
    nzcv = const NZCV_PATTERN,
    sys_null = const SYS_NULL,
    sys_check = const SYS_CHECK,
    sys_get = const SYS_GET,
    sys_report = const SYS_REPORT,
    sys_done = const SYS_DONE,
    retval = const RETVAL,
    ro_word = const USER_RO + 8,
    p0 = const pattern(0),
    p1 = const pattern(1),
    p2 = const pattern(2),
    p3 = const pattern(3),
    p4 = const pattern(4),
    p5 = const pattern(5),
    p6 = const pattern(6),
    p7 = const pattern(7),
    p8 = const pattern(8),
    p9 = const pattern(9),
    p10 = const pattern(10),
    p11 = const pattern(11),
    p12 = const pattern(12),
    p13 = const pattern(13),
    p14 = const pattern(14),
    p15 = const pattern(15),
    p17 = const pattern(17),
    p18 = const pattern(18),
    p19 = const pattern(19),
    p20 = const pattern(20),
    p21 = const pattern(21),
    p22 = const pattern(22),
    p23 = const pattern(23),
    p24 = const pattern(24),
    p25 = const pattern(25),
    p26 = const pattern(26),
    p27 = const pattern(27),
    p28 = const pattern(28),
    p29 = const pattern(29),
    p30 = const pattern(30),
);

//! The x86_64 entry assembly: the switch to ring 3, the `syscall` entry,
//! the 256 IDT stubs and the paths back into `run_user`'s frame.
//!
//! Only this file holds x86_64 instructions of the trap path; it is
//! compiled on x86_64 targets only. The rest of the trap path (decoding,
//! the return-path choice, the IDT gate format) is plain Rust beside it.
//!
//! # The `run_user` frame
//!
//! `enter_user` pushes, from higher to lower addresses: `rbp`, `rbx`,
//! `r12`-`r15`, the `RawTrap` pointer, the kernel's RFLAGS and 8 bytes of
//! padding, so the resulting `rsp` (`PerCpu::kernel_rsp`, also `TSS.rsp0`)
//! is 16-byte aligned, as the CPU wants `rsp0` for its exception frames:
//!
//! ```text
//! kernel_rsp + 72  return address into run_user
//! kernel_rsp + 64  rbp          + 40 r13
//! kernel_rsp + 56  rbx          + 32 r14
//! kernel_rsp + 48  r12          + 24 r15
//! kernel_rsp + 16  *mut RawTrap  + 8 kernel RFLAGS   + 0 padding
//! ```
//!
//! Every way back (syscall entry, IDT stub from ring 3) stores the user
//! registers through `PerCpu::user_ctx`, reloads `rsp` from
//! `PerCpu::kernel_rsp`, writes the `RawTrap` and unwinds this frame.

use core::mem::offset_of;

use super::UserContext;
use super::entry::{KIND_SYSCALL, PerCpu, RawTrap, ReturnPath};
use super::idt::KERNEL_TRAP_HANDLER;
use super::syscall::{USER_CS, USER_SS};

unsafe extern "sysv64" {
    /// Switches to ring 3 with `ctx` and returns at the next trap, with the
    /// trap described in `raw`.
    ///
    /// Safety: the obligations of `run_user`, plus: `ctx.rip`, FS and GS
    /// base canonical; `path` is `Sysret` only for a user-half `rip` with
    /// `rcx == rip` and `r11 == rflags`.
    #[link_name = "zx_subsystem_x86_64_enter_user"]
    pub(super) fn enter_user(ctx: *mut UserContext, raw: *mut RawTrap, path: ReturnPath);

    /// The `IA32_LSTAR` target.
    #[link_name = "zx_subsystem_x86_64_syscall_entry"]
    pub(super) fn syscall_entry();

    /// The first of 256 IDT stubs, 16 bytes apart.
    #[link_name = "zx_subsystem_x86_64_trap_stubs"]
    pub(super) fn trap_stubs();
}

/// Distance between two IDT stubs.
pub(super) const STUB_SIZE: u64 = 16;

core::arch::global_asm!(
    // ---------------------------------------------------------------
    // enter_user(rdi = ctx, rsi = raw, rdx = path)
    // ---------------------------------------------------------------
    ".balign 16",
    ".global zx_subsystem_x86_64_enter_user",
    "zx_subsystem_x86_64_enter_user:",
    "push rbp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "push rsi",
    "pushfq",
    "sub rsp, 8",
    // From here until ring 3, nothing may interrupt: GS and rsp are about
    // to stop being the kernel's.
    "cli",
    "mov gs:[{pc_kernel_rsp}], rsp",
    "mov gs:[{pc_user_ctx}], rdi",
    "mov rax, gs:[{pc_tss_rsp0}]",
    "mov [rax], rsp",
    "mov r8, rdx",
    // FS base, and the user's GS base into the slot swapgs exchanges.
    "test byte ptr gs:[{pc_features}], {fsgsbase}",
    "jz 2f",
    "mov rax, [rdi + {fs_base}]",
    "wrfsbase rax",
    "mov rax, [rdi + {gs_base}]",
    "swapgs",
    "wrgsbase rax",
    "jmp 3f",
    "2:",
    "mov ecx, 0xc0000100", // IA32_FS_BASE
    "mov eax, [rdi + {fs_base}]",
    "mov edx, [rdi + {fs_base} + 4]",
    "wrmsr",
    "mov ecx, 0xc0000102", // IA32_KERNEL_GS_BASE
    "mov eax, [rdi + {gs_base}]",
    "mov edx, [rdi + {gs_base} + 4]",
    "wrmsr",
    "swapgs",
    "3:",
    // GS is the user's from here on.
    "test r8, r8",
    "jnz 4f",
    // sysretq: rip from rcx, RFLAGS from r11 (the caller checked that
    // ctx.rcx == ctx.rip and ctx.r11 == ctx.rflags).
    "mov rcx, [rdi + {rip}]",
    "mov r11, [rdi + {rflags}]",
    "mov rax, [rdi + {rax}]",
    "mov rbx, [rdi + {rbx}]",
    "mov rdx, [rdi + {rdx}]",
    "mov rsi, [rdi + {rsi}]",
    "mov rbp, [rdi + {rbp}]",
    "mov r8, [rdi + {r8}]",
    "mov r9, [rdi + {r9}]",
    "mov r10, [rdi + {r10}]",
    "mov r12, [rdi + {r12}]",
    "mov r13, [rdi + {r13}]",
    "mov r14, [rdi + {r14}]",
    "mov r15, [rdi + {r15}]",
    "mov rsp, [rdi + {rsp}]",
    "mov rdi, [rdi + {rdi}]",
    "sysretq",
    // iretq: build the frame on the kernel stack, below the run_user frame.
    "4:",
    "push {user_ss}",
    "push qword ptr [rdi + {rsp}]",
    "push qword ptr [rdi + {rflags}]",
    "push {user_cs}",
    "push qword ptr [rdi + {rip}]",
    "mov rax, [rdi + {rax}]",
    "mov rbx, [rdi + {rbx}]",
    "mov rcx, [rdi + {rcx}]",
    "mov rdx, [rdi + {rdx}]",
    "mov rsi, [rdi + {rsi}]",
    "mov rbp, [rdi + {rbp}]",
    "mov r8, [rdi + {r8}]",
    "mov r9, [rdi + {r9}]",
    "mov r10, [rdi + {r10}]",
    "mov r11, [rdi + {r11}]",
    "mov r12, [rdi + {r12}]",
    "mov r13, [rdi + {r13}]",
    "mov r14, [rdi + {r14}]",
    "mov r15, [rdi + {r15}]",
    "mov rdi, [rdi + {rdi}]",
    "iretq",
    // ---------------------------------------------------------------
    // syscall entry: rcx = user rip, r11 = user RFLAGS, rsp = user rsp,
    // IF/TF/DF/AC cleared by SFMASK, GS still the user's.
    // ---------------------------------------------------------------
    ".balign 16",
    ".global zx_subsystem_x86_64_syscall_entry",
    "zx_subsystem_x86_64_syscall_entry:",
    "swapgs",
    "mov gs:[{pc_scratch}], rsp",
    "mov rsp, gs:[{pc_kernel_rsp}]",
    "push rax",
    "mov rax, gs:[{pc_user_ctx}]",
    "mov [rax + {rbx}], rbx",
    "mov [rax + {rcx}], rcx",
    "mov [rax + {rdx}], rdx",
    "mov [rax + {rsi}], rsi",
    "mov [rax + {rdi}], rdi",
    "mov [rax + {rbp}], rbp",
    "mov [rax + {r8}], r8",
    "mov [rax + {r9}], r9",
    "mov [rax + {r10}], r10",
    "mov [rax + {r11}], r11",
    "mov [rax + {r12}], r12",
    "mov [rax + {r13}], r13",
    "mov [rax + {r14}], r14",
    "mov [rax + {r15}], r15",
    "mov [rax + {rip}], rcx",
    "mov [rax + {rflags}], r11",
    "pop rbx",
    "mov [rax + {rax}], rbx",
    "mov rbx, gs:[{pc_scratch}]",
    "mov [rax + {rsp}], rbx",
    "mov r12, rax",
    "mov r13d, {kind_syscall}",
    "xor r14d, r14d",
    "xor r15d, r15d",
    "jmp 20f",
    // ---------------------------------------------------------------
    // IDT stubs: [push 0 when the CPU pushes no error code], push the
    // vector, jump to the common path. NMI, #DF and #MC always go to the
    // kernel handler: they may interrupt the entry code itself.
    // ---------------------------------------------------------------
    ".balign 16",
    ".global zx_subsystem_x86_64_trap_stubs",
    "zx_subsystem_x86_64_trap_stubs:",
    ".set zx_vec, 0",
    ".rept 256",
    ".balign 16",
    ".if (zx_vec == 8) | (zx_vec == 10) | (zx_vec == 11) | (zx_vec == 12) | (zx_vec == 13) | (zx_vec == 14) | (zx_vec == 17) | (zx_vec == 21) | (zx_vec == 29) | (zx_vec == 30)",
    ".else",
    "push 0",
    ".endif",
    "push zx_vec",
    ".if (zx_vec == 2) | (zx_vec == 8) | (zx_vec == 18)",
    "jmp 30f",
    ".else",
    "jmp 40f",
    ".endif",
    ".set zx_vec, zx_vec + 1",
    ".endr",
    // ---------------------------------------------------------------
    // Common IDT path. Stack: vector, error code, rip, cs, rflags, rsp, ss.
    // ---------------------------------------------------------------
    "40:",
    "test byte ptr [rsp + 24], 3",
    "jz 30f",
    "swapgs",
    "push rax",
    "mov rax, gs:[{pc_user_ctx}]",
    "mov [rax + {rbx}], rbx",
    "mov [rax + {rcx}], rcx",
    "mov [rax + {rdx}], rdx",
    "mov [rax + {rsi}], rsi",
    "mov [rax + {rdi}], rdi",
    "mov [rax + {rbp}], rbp",
    "mov [rax + {r8}], r8",
    "mov [rax + {r9}], r9",
    "mov [rax + {r10}], r10",
    "mov [rax + {r11}], r11",
    "mov [rax + {r12}], r12",
    "mov [rax + {r13}], r13",
    "mov [rax + {r14}], r14",
    "mov [rax + {r15}], r15",
    "pop rbx",
    "mov [rax + {rax}], rbx",
    "mov rbx, [rsp + 16]",
    "mov [rax + {rip}], rbx",
    "mov rbx, [rsp + 32]",
    "mov [rax + {rflags}], rbx",
    "mov rbx, [rsp + 40]",
    "mov [rax + {rsp}], rbx",
    "mov r12, rax",
    "mov r13, [rsp]",
    "mov r14, [rsp + 8]",
    "xor r15d, r15d",
    "cmp r13, 14",
    "jne 20f",
    "mov r15, cr2",
    // ---------------------------------------------------------------
    // Back into run_user: r12 = ctx, r13 = kind, r14 = error code,
    // r15 = cr2; GS is the kernel's, IF is clear.
    // ---------------------------------------------------------------
    "20:",
    "test byte ptr gs:[{pc_features}], {fsgsbase}",
    "jz 21f",
    "rdfsbase rax",
    "mov [r12 + {fs_base}], rax",
    "swapgs",
    "rdgsbase rax",
    "swapgs",
    "mov [r12 + {gs_base}], rax",
    "jmp 22f",
    "21:",
    "mov ecx, 0xc0000100", // IA32_FS_BASE
    "rdmsr",
    "shl rdx, 32",
    "or rax, rdx",
    "mov [r12 + {fs_base}], rax",
    "mov ecx, 0xc0000102", // IA32_KERNEL_GS_BASE: the user's, after swapgs
    "rdmsr",
    "shl rdx, 32",
    "or rax, rdx",
    "mov [r12 + {gs_base}], rax",
    "22:",
    "mov rsp, gs:[{pc_kernel_rsp}]",
    "mov rax, [rsp + 16]",
    "mov [rax + {raw_kind}], r13",
    "mov [rax + {raw_error}], r14",
    "mov [rax + {raw_cr2}], r15",
    "add rsp, 8",
    "popfq",
    "add rsp, 8",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    // ---------------------------------------------------------------
    // A trap taken in ring 0 (or NMI/#DF/#MC from anywhere): hand a
    // KernelFrame to the host's handler and return with iretq. GS is
    // left alone: it may be either the kernel's or the user's here.
    // ---------------------------------------------------------------
    "30:",
    "push rax",
    "push rbx",
    "push rcx",
    "push rdx",
    "push rsi",
    "push rdi",
    "push rbp",
    "push r8",
    "push r9",
    "push r10",
    "push r11",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "cld",
    "mov rdi, rsp",
    "mov rbx, rsp",
    "and rsp, -16",
    "mov rax, qword ptr [rip + {handler}]",
    "test rax, rax",
    "jz 31f",
    "call rax",
    "mov rsp, rbx",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop r11",
    "pop r10",
    "pop r9",
    "pop r8",
    "pop rbp",
    "pop rdi",
    "pop rsi",
    "pop rdx",
    "pop rcx",
    "pop rbx",
    "pop rax",
    "add rsp, 16",
    "iretq",
    // No handler registered: nothing sensible to return to.
    "31:",
    "cli",
    "hlt",
    "jmp 31b",
    pc_kernel_rsp = const offset_of!(PerCpu, kernel_rsp),
    pc_user_ctx = const offset_of!(PerCpu, user_ctx),
    pc_scratch = const offset_of!(PerCpu, scratch),
    pc_tss_rsp0 = const offset_of!(PerCpu, tss_rsp0),
    pc_features = const offset_of!(PerCpu, features),
    fsgsbase = const super::entry::FEATURE_FSGSBASE,
    raw_kind = const offset_of!(RawTrap, kind),
    raw_error = const offset_of!(RawTrap, error_code),
    raw_cr2 = const offset_of!(RawTrap, cr2),
    kind_syscall = const KIND_SYSCALL,
    user_cs = const USER_CS,
    user_ss = const USER_SS,
    handler = sym KERNEL_TRAP_HANDLER,
    rax = const offset_of!(UserContext, rax),
    rbx = const offset_of!(UserContext, rbx),
    rcx = const offset_of!(UserContext, rcx),
    rdx = const offset_of!(UserContext, rdx),
    rsi = const offset_of!(UserContext, rsi),
    rdi = const offset_of!(UserContext, rdi),
    rbp = const offset_of!(UserContext, rbp),
    rsp = const offset_of!(UserContext, rsp),
    r8 = const offset_of!(UserContext, r8),
    r9 = const offset_of!(UserContext, r9),
    r10 = const offset_of!(UserContext, r10),
    r11 = const offset_of!(UserContext, r11),
    r12 = const offset_of!(UserContext, r12),
    r13 = const offset_of!(UserContext, r13),
    r14 = const offset_of!(UserContext, r14),
    r15 = const offset_of!(UserContext, r15),
    rip = const offset_of!(UserContext, rip),
    rflags = const offset_of!(UserContext, rflags),
    fs_base = const offset_of!(UserContext, fs_base),
    gs_base = const offset_of!(UserContext, gs_base),
);

//! Signals: `rt_sigaction` with our own restorer, and the parts of the
//! signal frame the programs read and change.
//!
//! Handlers are installed with `SA_SIGINFO | SA_RESTORER`: x86_64 Linux
//! requires a restorer (there is no vDSO trampoline fallback for
//! `rt_sigaction` callers), and aarch64 honours one, so both arches return
//! through [`restorer`], which calls `rt_sigreturn`. The kernel's
//! `struct sigaction` is the same on both: handler, flags, restorer, mask.
//!
//! The frame offsets are Linux's UAPI layouts:
//!
//! - `siginfo_t`: `si_signo` at 0, `si_errno` at 4, `si_code` at 8, and
//!   for `SIGSEGV`/`SIGILL`/`SIGBUS` `si_addr` at 16.
//! - x86_64 `ucontext_t`: `uc_flags`, `uc_link`, `uc_stack` (24 bytes),
//!   then `struct sigcontext` at 40: `r8..r15`, `rdi rsi rbp rbx rdx rax
//!   rcx rsp`, `rip` (+128), `eflags`, `cs/gs/fs/ss`, `err` (+152),
//!   `trapno` (+160), `oldmask`, `cr2` (+176).
//! - aarch64 `ucontext_t`: `uc_flags`, `uc_link`, `uc_stack`, `uc_sigmask`
//!   and 120 bytes of padding (glibc's 1024-bit sigset), then the
//!   16-byte-aligned `struct sigcontext` at 176: `fault_address`,
//!   `regs[31]` (+8), `sp` (+256), `pc` (+264), `pstate` (+272).
//!
//! [`store_u64`] and [`undefined_instruction`] are faulting instructions of
//! known length, so a handler can check the saved PC and step over them.

use core::ffi::c_void;

use crate::sys::{self, SysResult, nr};

/// `SIGILL`.
pub const SIGILL: usize = 4;
/// `SIGSEGV`.
pub const SIGSEGV: usize = 11;
/// `SA_SIGINFO`: the handler takes `(signo, siginfo, ucontext)`.
pub const SA_SIGINFO: usize = 4;
/// `SA_RESTORER`: return through `sa_restorer`.
pub const SA_RESTORER: usize = 0x0400_0000;
/// `si_code` of a `SIGSEGV` for an access the mapping does not allow.
pub const SEGV_ACCERR: i32 = 2;
/// `si_code` of a `SIGSEGV` for an address with no mapping.
pub const SEGV_MAPERR: i32 = 1;
/// `si_code` of a `SIGILL` for an illegal opcode (arm64's undefined
/// instruction).
pub const ILL_ILLOPC: i32 = 1;
/// `si_code` of a `SIGILL` for an illegal operand (x86's `#UD`).
pub const ILL_ILLOPN: i32 = 2;

/// The start of `siginfo_t` for a fault.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SigInfo {
    /// `si_signo`.
    pub signo: i32,
    /// `si_errno`.
    pub errno: i32,
    /// `si_code`.
    pub code: i32,
    _pad: i32,
    /// `si_addr`: the faulting address (or instruction, for `SIGILL`).
    pub addr: usize,
}

/// A `SA_SIGINFO` handler.
pub type Handler = extern "C" fn(i32, *mut SigInfo, *mut c_void);

/// The kernel's `struct sigaction`.
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: usize,
    restorer: usize,
    mask: u64,
}

/// Returns from a signal handler: `rt_sigreturn`, with the stack pointer
/// where the kernel left the frame.
#[unsafe(naked)]
pub extern "C" fn restorer() -> ! {
    #[cfg(target_arch = "x86_64")]
    core::arch::naked_asm!("mov eax, {n}", "syscall", "ud2", n = const nr::RT_SIGRETURN);
    #[cfg(target_arch = "aarch64")]
    core::arch::naked_asm!("mov x8, #{n}", "svc #0", "udf #0", n = const nr::RT_SIGRETURN);
}

/// Installs `handler` for `sig` with `SA_SIGINFO | SA_RESTORER | extra`
/// and an empty mask.
///
/// # Safety
///
/// The handler runs asynchronously at any instruction: it must only do
/// what is safe there (atomics, system calls), and what it changes in the
/// frame must leave the interrupted code able to continue.
pub unsafe fn sigaction(sig: usize, handler: Handler, extra: usize) -> SysResult {
    let act = KernelSigaction {
        handler: handler as usize,
        flags: SA_SIGINFO | SA_RESTORER | extra,
        restorer: restorer as *const () as usize,
        mask: 0,
    };
    // SAFETY: the kernel reads `act` (a live local) and keeps the two
    // function addresses, which live as long as the program; the caller
    // vouches for the handler.
    unsafe {
        sys::syscall(
            nr::RT_SIGACTION,
            &[sig, &act as *const KernelSigaction as usize, 0, 8],
        )
    }
}

/// The calling thread's blocked-signal mask (bit `s - 1` for signal `s`).
pub fn blocked() -> u64 {
    const SIG_BLOCK: usize = 0;
    let mut old: u64 = 0;
    // SAFETY: with a NULL new set nothing changes; the kernel writes the
    // old 8-byte mask into a live local.
    unsafe {
        sys::syscall(
            nr::RT_SIGPROCMASK,
            &[SIG_BLOCK, 0, &mut old as *mut u64 as usize, 8],
        )
    };
    old
}

#[cfg(target_arch = "x86_64")]
const PC: usize = 40 + 128;
#[cfg(target_arch = "aarch64")]
const PC: usize = 176 + 264;
#[cfg(target_arch = "x86_64")]
const FAULT_ADDRESS: usize = 40 + 176;
#[cfg(target_arch = "aarch64")]
const FAULT_ADDRESS: usize = 176;

/// The interrupted context a handler gets as its third argument.
pub struct Ucontext(*mut u8);

impl Ucontext {
    /// Wraps a handler's third argument.
    ///
    /// # Safety
    ///
    /// `uc` must be the `ucontext_t` pointer the kernel passed to a
    /// `SA_SIGINFO` handler that is still running.
    pub unsafe fn new(uc: *mut c_void) -> Ucontext {
        Ucontext(uc.cast())
    }

    fn word(&self, off: usize) -> usize {
        // SAFETY: `new`'s contract: the frame is live, and every offset
        // used here is an 8-byte field inside it (see the module docs).
        unsafe { self.0.add(off).cast::<usize>().read() }
    }

    /// The saved program counter.
    pub fn pc(&self) -> usize {
        self.word(PC)
    }

    /// Changes the program counter `rt_sigreturn` will resume at.
    pub fn set_pc(&mut self, pc: usize) {
        // SAFETY: as in `word`; the frame is the kernel's copy of our own
        // registers, which the handler may change.
        unsafe { self.0.add(PC).cast::<usize>().write(pc) }
    }

    /// The faulting address the kernel put in the context (x86_64 `cr2`,
    /// aarch64 `fault_address`).
    pub fn fault_address(&self) -> usize {
        self.word(FAULT_ADDRESS)
    }

    /// x86_64: the trap number (14 for a page fault, 6 for `#UD`).
    #[cfg(target_arch = "x86_64")]
    pub fn trapno(&self) -> usize {
        self.word(40 + 160)
    }

    /// x86_64: the page-fault error code (bit 1 write, bit 2 user).
    #[cfg(target_arch = "x86_64")]
    pub fn err(&self) -> usize {
        self.word(40 + 152)
    }
}

/// Bytes of the faulting store in [`store_u64`].
#[cfg(target_arch = "x86_64")]
pub const STORE_LEN: usize = 3;
/// Bytes of the faulting store in [`store_u64`].
#[cfg(target_arch = "aarch64")]
pub const STORE_LEN: usize = 4;

/// `*p = v` as one instruction at the function's address
/// (`mov [rdi], rsi` / `str x1, [x0]`) followed by a return, so a handler
/// can check the saved PC and step over the store with [`STORE_LEN`].
///
/// # Safety
///
/// Writes 8 bytes at `p` that Rust code does not own; a fault is delivered
/// as a signal.
#[unsafe(naked)]
pub unsafe extern "C" fn store_u64(p: *mut u64, v: u64) {
    #[cfg(target_arch = "x86_64")]
    core::arch::naked_asm!("mov qword ptr [rdi], rsi", "ret");
    #[cfg(target_arch = "aarch64")]
    core::arch::naked_asm!("str x1, [x0]", "ret");
}

/// `*p` as one instruction at the function's address (`mov rax, [rdi]` /
/// `ldr x0, [x0]`, [`STORE_LEN`] bytes as well) followed by a return, so
/// a handler can step over a faulting load; a skipped load returns what
/// the first argument register held (`p` itself on aarch64, garbage on
/// x86_64): callers look only at whether the handler ran.
///
/// # Safety
///
/// Reads 8 bytes at `p` that Rust code does not own; a fault is delivered
/// as a signal.
#[unsafe(naked)]
pub unsafe extern "C" fn load_u64(p: *const u64) -> u64 {
    #[cfg(target_arch = "x86_64")]
    core::arch::naked_asm!("mov rax, qword ptr [rdi]", "ret");
    #[cfg(target_arch = "aarch64")]
    core::arch::naked_asm!("ldr x0, [x0]", "ret");
}

/// Bytes of the undefined instruction in [`undefined_instruction`].
#[cfg(target_arch = "x86_64")]
pub const UNDEFINED_LEN: usize = 2;
/// Bytes of the undefined instruction in [`undefined_instruction`].
#[cfg(target_arch = "aarch64")]
pub const UNDEFINED_LEN: usize = 4;

/// An undefined instruction (`ud2` / `udf #0`) at the function's address,
/// then a return: `SIGILL`, which a handler can step over.
#[unsafe(naked)]
pub extern "C" fn undefined_instruction() {
    #[cfg(target_arch = "x86_64")]
    core::arch::naked_asm!("ud2", "ret");
    #[cfg(target_arch = "aarch64")]
    core::arch::naked_asm!("udf #0", "ret");
}

//! `sigsegv`: signal delivery for faults, with handlers installed by
//! `rt_sigaction(SA_SIGINFO | SA_RESTORER)` and our own restorer.
//!
//! 1. A write to a read-only page: the handler checks `si_signo`,
//!    `si_code == SEGV_ACCERR`, `si_addr`, the context's fault address
//!    (and on x86_64 the trap number and page-fault error code), that
//!    `SIGSEGV` is blocked while it runs, then makes the page writable and
//!    returns: the write is retried and lands.
//! 2. The same on a page that stays read-only: the handler checks the
//!    saved PC is the store's and moves it past the store; the store never
//!    happens and the program goes on.
//! 3. A store to an unmapped page: `SEGV_MAPERR`, skipped the same way.
//! 4. An undefined instruction (`ud2` / `udf #0`): `SIGILL` with its code
//!    and address, skipped.
//!
//! The handlers only record what they saw (atomics) and make system
//! calls; `main` checks and prints. Exits 0 when everything passed. (That
//! an unhandled `SIGSEGV` kills is `mm-edges`' ending.)
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("sigsegv: {}", linux_progs::explain_host());
}

#[cfg(target_os = "none")]
linux_progs::entry!(program::main);

#[cfg(target_os = "none")]
mod program {
    use core::ffi::c_void;
    use core::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering::SeqCst};

    use linux_progs::PAGE;
    use linux_progs::out::Report;
    use linux_progs::rt::Args;
    use linux_progs::signal::{self, SigInfo, Ucontext};
    use linux_progs::sys::{self, mm::*};

    /// What the handler does after recording: make the page writable, or
    /// step over the faulting instruction.
    const FIX_PROTECTION: usize = 1;
    const SKIP: usize = 2;

    static MODE: AtomicUsize = AtomicUsize::new(0);
    static SKIP_LEN: AtomicUsize = AtomicUsize::new(0);
    static FIX_PAGE: AtomicUsize = AtomicUsize::new(0);
    static HITS: AtomicUsize = AtomicUsize::new(0);
    static SIGNO: AtomicI32 = AtomicI32::new(0);
    static CODE: AtomicI32 = AtomicI32::new(0);
    static ADDR: AtomicUsize = AtomicUsize::new(0);
    static CTX_FAULT: AtomicUsize = AtomicUsize::new(0);
    static PC: AtomicUsize = AtomicUsize::new(0);
    #[cfg(target_arch = "x86_64")]
    static TRAPNO: AtomicUsize = AtomicUsize::new(0);
    #[cfg(target_arch = "x86_64")]
    static ERR: AtomicUsize = AtomicUsize::new(0);
    static BLOCKED: AtomicBool = AtomicBool::new(false);

    extern "C" fn handler(signo: i32, info: *mut SigInfo, uc: *mut c_void) {
        // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO.
        let info = unsafe { *info };
        // SAFETY: the kernel's ucontext for this running handler.
        let mut uc = unsafe { Ucontext::new(uc) };
        HITS.fetch_add(1, SeqCst);
        SIGNO.store(signo, SeqCst);
        CODE.store(info.code, SeqCst);
        ADDR.store(info.addr, SeqCst);
        PC.store(uc.pc(), SeqCst);
        CTX_FAULT.store(uc.fault_address(), SeqCst);
        #[cfg(target_arch = "x86_64")]
        {
            TRAPNO.store(uc.trapno(), SeqCst);
            ERR.store(uc.err(), SeqCst);
        }
        let bit = 1u64 << (signo as u32 - 1);
        BLOCKED.store(signal::blocked() & bit != 0, SeqCst);
        match MODE.load(SeqCst) {
            FIX_PROTECTION => {
                // SAFETY: the test's own page, made writable so the
                // interrupted write can be retried.
                unsafe { sys::mprotect(FIX_PAGE.load(SeqCst), PAGE, PROT_READ | PROT_WRITE) };
            }
            SKIP => uc.set_pc(uc.pc() + SKIP_LEN.load(SeqCst)),
            _ => sys::exit_group(3),
        }
    }

    fn install(r: &mut Report, name: &str, sig: usize) -> bool {
        // SAFETY: `handler` only touches atomics and makes system calls,
        // and leaves the context resumable (see MODE).
        let ret = unsafe { signal::sigaction(sig, handler, 0) };
        r.ret(name, ret, 0)
    }

    fn read(a: usize) -> u64 {
        // SAFETY: a readable page the test mapped.
        unsafe { (a as *const u64).read_volatile() }
    }

    pub fn main(_: &Args) -> i32 {
        let mut r = Report::new();
        if !install(
            &mut r,
            "rt_sigaction(SIGSEGV, SA_SIGINFO | SA_RESTORER)",
            signal::SIGSEGV,
        ) {
            return r.finish();
        }
        let page = sys::mmap_anon(PAGE, PROT_READ);
        if !r.succeeds("a read-only page", page) {
            return r.finish();
        }
        let page = page as usize;
        retry_after_mprotect(&mut r, page);
        skip_store(&mut r, page);
        unmapped(&mut r);
        undefined(&mut r);
        r.finish()
    }

    /// The checks every fault shares, under the scope `what`.
    fn common(r: &mut Report, what: &'static str, signo: usize, code: i32, addr: usize) {
        r.scope(what);
        r.eq("the handler ran once", HITS.load(SeqCst), 1);
        r.eq("si_signo", SIGNO.load(SeqCst), signo as i32);
        r.eq("si_code", CODE.load(SeqCst), code);
        r.eq("si_addr is the faulting address", ADDR.load(SeqCst), addr);
        r.check(
            "the signal is blocked while its handler runs",
            BLOCKED.load(SeqCst),
        );
        r.check(
            "and unblocked after rt_sigreturn",
            signal::blocked() & (1 << (signo - 1)) == 0,
        );
    }

    fn retry_after_mprotect(r: &mut Report, page: usize) {
        // Read it first, so the write faults on a present page.
        r.eq("a read-only page reads zero", read(page + 8), 0);
        MODE.store(FIX_PROTECTION, SeqCst);
        FIX_PAGE.store(page, SeqCst);
        // SAFETY: a write to the test's own read-only page: the handler
        // makes it writable and the write is retried.
        unsafe { ((page + 8) as *mut u64).write_volatile(42) };
        let what = "write to a read-only page";
        common(r, what, signal::SIGSEGV, signal::SEGV_ACCERR, page + 8);
        r.eq(
            "the context's fault address",
            CTX_FAULT.load(SeqCst),
            page + 8,
        );
        #[cfg(target_arch = "x86_64")]
        {
            r.eq("trapno is #PF", TRAPNO.load(SeqCst), 14);
            r.eq("error code is present|write|user", ERR.load(SeqCst), 7);
        }
        r.eq("retried after the handler's mprotect", read(page + 8), 42);
        r.scope("");
    }

    fn skip_store(r: &mut Report, page: usize) {
        // SAFETY: the test's own page, read-only again.
        let ro = unsafe { sys::mprotect(page, PAGE, PROT_READ) };
        r.ret("mprotect the page read-only again", ro, 0);
        HITS.store(0, SeqCst);
        MODE.store(SKIP, SeqCst);
        SKIP_LEN.store(signal::STORE_LEN, SeqCst);
        // SAFETY: the store faults; the handler steps over it.
        unsafe { signal::store_u64((page + 16) as *mut u64, 99) };
        let what = "store skipped by the handler";
        common(r, what, signal::SIGSEGV, signal::SEGV_ACCERR, page + 16);
        r.eq(
            "the saved PC is the store",
            PC.load(SeqCst),
            signal::store_u64 as *const () as usize,
        );
        r.eq("the store did not happen", read(page + 16), 0);
        r.scope("");
    }

    fn unmapped(r: &mut Report) {
        let a = sys::mmap_anon(PAGE, PROT_READ | PROT_WRITE);
        if !r.succeeds("a page to unmap", a) {
            return;
        }
        let a = a as usize;
        // SAFETY: the test's own page.
        unsafe { sys::munmap(a, PAGE) };
        HITS.store(0, SeqCst);
        // SAFETY: the store faults; the handler steps over it.
        unsafe { signal::store_u64((a + 24) as *mut u64, 1) };
        let what = "store to an unmapped page";
        common(r, what, signal::SIGSEGV, signal::SEGV_MAPERR, a + 24);
        #[cfg(target_arch = "x86_64")]
        r.eq("error code is write|user", ERR.load(SeqCst), 6);
        r.scope("");
    }

    fn undefined(r: &mut Report) {
        if !install(
            r,
            "rt_sigaction(SIGILL, SA_SIGINFO | SA_RESTORER)",
            signal::SIGILL,
        ) {
            return;
        }
        HITS.store(0, SeqCst);
        SKIP_LEN.store(signal::UNDEFINED_LEN, SeqCst);
        signal::undefined_instruction();
        let at = signal::undefined_instruction as *const () as usize;
        // x86 reports #UD as an illegal operand, arm64 as an illegal opcode.
        let code = if cfg!(target_arch = "x86_64") {
            signal::ILL_ILLOPN
        } else {
            signal::ILL_ILLOPC
        };
        common(r, "undefined instruction", signal::SIGILL, code, at);
        r.eq("the saved PC is the instruction", PC.load(SeqCst), at);
        r.scope("");
    }
}

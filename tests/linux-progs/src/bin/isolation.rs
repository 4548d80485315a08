//! `isolation`: what a Linux program sees above its own address space.
//!
//! On Linux, the addresses probed here are plain unmapped user addresses.
//! Under zx-subsystem's Linux personality they are the runner's: its
//! restricted-mode state page and its heap (`tests/linux-runner`'s
//! `STATE_AT` and `HEAP_AT`), in the *shared region* of the shared
//! process the program runs in, mapped and in use in normal mode while
//! the program runs. Either way a load and a store at each must fault
//! with `SIGSEGV` / `SEGV_MAPERR` at exactly that address (on x86_64
//! with error code `user` or `write|user`: not present), the store must
//! not happen, and the program goes on. Under the runner that is the
//! isolation shared processes promise: restricted mode runs on a root
//! table where nothing of the supervisor is mapped.
//!
//! Exits 0 when every check passed.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("isolation: {}", linux_progs::explain_host());
}

#[cfg(target_os = "none")]
linux_progs::entry!(program::main);

#[cfg(target_os = "none")]
mod program {
    use core::ffi::c_void;
    use core::sync::atomic::{AtomicI32, AtomicUsize, Ordering::SeqCst};

    use linux_progs::out::Report;
    use linux_progs::rt::Args;
    use linux_progs::signal::{self, SigInfo, Ucontext};

    /// The runner's state page and heap (`STATE_AT`, `HEAP_AT` in
    /// `tests/linux-runner/src/rt/cpu_*.rs`): just above the restricted
    /// region, `1 << 46` on x86_64 and `1 << 47` on aarch64.
    #[cfg(target_arch = "x86_64")]
    const RUNNER: [(&str, usize); 2] = [
        ("the runner's state page", 0x0000_4000_1f00_0000),
        ("the runner's heap", 0x0000_4000_2000_0000),
    ];
    #[cfg(target_arch = "aarch64")]
    const RUNNER: [(&str, usize); 2] = [
        ("the runner's state page", 0x0000_8000_1f00_0000),
        ("the runner's heap", 0x0000_8000_2000_0000),
    ];

    static HITS: AtomicUsize = AtomicUsize::new(0);
    static SIGNO: AtomicI32 = AtomicI32::new(0);
    static CODE: AtomicI32 = AtomicI32::new(0);
    static ADDR: AtomicUsize = AtomicUsize::new(0);
    #[cfg(target_arch = "x86_64")]
    static ERR: AtomicUsize = AtomicUsize::new(0);

    extern "C" fn handler(signo: i32, info: *mut SigInfo, uc: *mut c_void) {
        // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO.
        let info = unsafe { *info };
        // SAFETY: the kernel's ucontext for this running handler.
        let mut uc = unsafe { Ucontext::new(uc) };
        HITS.fetch_add(1, SeqCst);
        SIGNO.store(signo, SeqCst);
        CODE.store(info.code, SeqCst);
        ADDR.store(info.addr, SeqCst);
        #[cfg(target_arch = "x86_64")]
        ERR.store(uc.err(), SeqCst);
        // Both probes are one instruction of STORE_LEN bytes.
        uc.set_pc(uc.pc() + signal::STORE_LEN);
    }

    pub fn main(_: &Args) -> i32 {
        let mut r = Report::new();
        // SAFETY: `handler` only touches atomics and steps over the probe.
        let ret = unsafe { signal::sigaction(signal::SIGSEGV, handler, 0) };
        if !r.ret("rt_sigaction(SIGSEGV, SA_SIGINFO | SA_RESTORER)", ret, 0) {
            return r.finish();
        }
        for (what, at) in RUNNER {
            r.scope(what);
            HITS.store(0, SeqCst);
            // SAFETY: the load faults (the handler steps over it); if it
            // did not, it read a word nobody owns here, which is harmless.
            let _ = unsafe { signal::load_u64((at + 8) as *const u64) };
            fault(&mut r, "load", at + 8, 4);
            HITS.store(0, SeqCst);
            // SAFETY: the store faults and the handler steps over it; the
            // check that it faulted is the point of the program.
            unsafe { signal::store_u64((at + 16) as *mut u64, 0x5a5a_5a5a) };
            fault(&mut r, "store", at + 16, 6);
            r.scope("");
        }
        r.finish()
    }

    /// The checks for one probe of `addr`; `err` is the x86 error code.
    fn fault(r: &mut Report, what: &str, addr: usize, err: usize) {
        r.eq(what, HITS.load(SeqCst), 1);
        r.eq("si_signo", SIGNO.load(SeqCst), signal::SIGSEGV as i32);
        r.eq("si_code", CODE.load(SeqCst), signal::SEGV_MAPERR);
        r.eq("si_addr", ADDR.load(SeqCst), addr);
        #[cfg(target_arch = "x86_64")]
        r.eq("error code", ERR.load(SeqCst), err);
        let _ = err;
    }
}

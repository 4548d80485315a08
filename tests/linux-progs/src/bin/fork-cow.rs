//! `fork-cow`: after `fork` (`clone(SIGCHLD)`, as glibc does), parent and
//! child each write their own value to the same private anonymous page, a
//! `.data` variable and a `.bss` variable, and each must see only its own
//! write; a `MAP_SHARED` anonymous page stays shared. The child exits with
//! 42 when its checks passed, which the parent reads through `wait4`.
//!
//! The child prints its own `ok - child: ...` lines while the parent waits
//! (so the output order is fixed); the closing `N passed, N failed` line
//! is the parent's and counts the parent's checks, one of which is the
//! child's exit status. Exits 0 when everything passed.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("fork-cow: {}", linux_progs::explain_host());
}

#[cfg(target_os = "none")]
linux_progs::entry!(program::main);

#[cfg(target_os = "none")]
mod program {
    use core::sync::atomic::{AtomicU64, Ordering::SeqCst};

    use linux_progs::PAGE;
    use linux_progs::out::Report;
    use linux_progs::rt::Args;
    use linux_progs::sys::{self, mm::*};

    /// In `.data` (initialised to non-zero).
    static DATA: AtomicU64 = AtomicU64::new(1);
    /// In `.bss`.
    static BSS: AtomicU64 = AtomicU64::new(0);

    const CHILD_OK: i32 = 42;

    /// A word of a page the test mapped.
    struct Word(usize);

    impl Word {
        fn get(&self) -> u64 {
            // SAFETY: the test's own RW page, mapped for the whole run.
            unsafe { (self.0 as *const u64).read_volatile() }
        }
        fn set(&self, v: u64) {
            // SAFETY: as in `get`.
            unsafe { (self.0 as *mut u64).write_volatile(v) }
        }
    }

    pub fn main(_: &Args) -> i32 {
        let mut r = Report::new();
        let private = sys::mmap_anon(PAGE, PROT_READ | PROT_WRITE);
        // SAFETY: no MAP_FIXED: a new page, replacing nothing.
        let shared = unsafe {
            sys::mmap(
                0,
                PAGE,
                PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if !r.succeeds("a private anonymous page", private)
            || !r.succeeds("a shared anonymous page", shared)
        {
            return r.finish();
        }
        let (private, shared) = (Word(private as usize), Word(shared as usize));
        private.set(1);
        shared.set(1);
        let parent = sys::getpid();
        let pid = sys::fork();
        if pid == 0 {
            child(r, parent, &private, &shared);
        }
        if !r.succeeds("fork", pid) {
            return r.finish();
        }
        private.set(3);
        DATA.store(3, SeqCst);
        BSS.store(3, SeqCst);
        let (waited, status) = sys::wait4(pid);
        r.ret("parent: wait4 returns the child's pid", waited, pid);
        r.check("parent: the child exited normally", status & 0x7f == 0);
        r.eq(
            "parent: the child's exit code",
            (status >> 8) & 0xff,
            CHILD_OK,
        );
        r.eq(
            "parent: sees its own write to the private page",
            private.get(),
            3,
        );
        r.eq("parent: sees its own write to .data", DATA.load(SeqCst), 3);
        r.eq("parent: sees its own write to .bss", BSS.load(SeqCst), 3);
        r.eq(
            "parent: sees the child's write to the shared page",
            shared.get(),
            5,
        );
        let (again, _) = sys::wait4(-1);
        r.ret(
            "parent: no child left to wait for",
            again,
            -sys::errno::ECHILD,
        );
        r.finish()
    }

    /// The child's side; exits with [`CHILD_OK`] when every check passed.
    fn child(mut r: Report, parent: isize, private: &Word, shared: &Word) -> ! {
        let before = r.failed();
        r.scope("child");
        r.ret("getppid is the parent's pid", sys::getppid(), parent);
        r.eq("sees the private page as it was at fork", private.get(), 1);
        r.eq("sees .data as it was at fork", DATA.load(SeqCst), 1);
        r.eq("sees .bss as it was at fork", BSS.load(SeqCst), 0);
        private.set(2);
        DATA.store(2, SeqCst);
        BSS.store(2, SeqCst);
        shared.set(5);
        // Give the parent time to make its own writes.
        sys::sleep_ns(20_000_000);
        r.eq("sees its own write to the private page", private.get(), 2);
        r.eq("sees its own write to .data", DATA.load(SeqCst), 2);
        r.eq("sees its own write to .bss", BSS.load(SeqCst), 2);
        let ok = r.failed() == before;
        drop(r);
        sys::exit_group(if ok { CHILD_OK } else { 1 })
    }
}

//! `mm-edges`: `mmap`, `munmap`, `mprotect`, `madvise` and `brk` edge
//! cases with Linux's exact results, ending with a write to a read-only
//! page: when every check passed the process dies by `SIGSEGV` (a shell
//! sees 139). Any failed check exits 1 instead, so 139 means "all passed".
//!
//! Whether a range is writable is probed without faulting: the kernel
//! writes it for `getrandom`, which returns `-EFAULT` when it cannot.
//! Readability is checked by reading (a fault would end the run early,
//! without the closing line).
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("mm-edges: {}", linux_progs::explain_host());
}

#[cfg(target_os = "none")]
linux_progs::entry!(program::main);

#[cfg(target_os = "none")]
mod program {
    use linux_progs::PAGE;
    use linux_progs::out::Report;
    use linux_progs::rt::Args;
    use linux_progs::sys::errno::{EEXIST, EFAULT, EINVAL, ENOMEM};
    use linux_progs::sys::mm::*;
    use linux_progs::sys::{self, SysResult};

    /// Reads the byte at `a` (which Rust does not own).
    fn peek(a: usize) -> u8 {
        // SAFETY: a volatile read of memory the test mapped; if the test is
        // wrong the process takes a SIGSEGV, which fails the run.
        unsafe { (a as *const u8).read_volatile() }
    }

    /// Writes the byte at `a` (which Rust does not own).
    fn poke(a: usize, v: u8) {
        // SAFETY: as in `peek`, for a write.
        unsafe { (a as *mut u8).write_volatile(v) }
    }

    /// `getrandom` into `a..a+len`: `len` if the kernel could write it,
    /// `-EFAULT` if not.
    fn probe_write(a: usize, len: usize) -> SysResult {
        // SAFETY: the range belongs to the test's own mappings.
        unsafe { sys::getrandom_raw(a, len) }
    }

    /// An anonymous private RW mapping of `pages`, each page filled with
    /// `0xa0 + i`; 0 (and a failed check) if mmap fails.
    fn filled(r: &mut Report, name: &str, pages: usize) -> usize {
        let a = sys::mmap_anon(pages * PAGE, PROT_READ | PROT_WRITE);
        if !r.succeeds(name, a) {
            return 0;
        }
        let a = a as usize;
        for i in 0..pages {
            poke(a + i * PAGE, 0xa0 + i as u8);
            poke(a + i * PAGE + PAGE - 1, 0xa0 + i as u8);
        }
        a
    }

    fn keeps(a: usize, page: usize) -> bool {
        let v = 0xa0 + page as u8;
        peek(a + page * PAGE) == v && peek(a + page * PAGE + PAGE - 1) == v
    }

    fn zero(a: usize, page: usize) -> bool {
        peek(a + page * PAGE) == 0 && peek(a + page * PAGE + PAGE - 1) == 0
    }

    fn unmap(a: usize, len: usize) {
        // SAFETY: `a..a+len` is one of the test's own mappings.
        unsafe { sys::munmap(a, len) };
    }

    pub fn main(_: &Args) -> i32 {
        let mut r = Report::new();
        mmap_checks(&mut r);
        munmap_checks(&mut r);
        mprotect_checks(&mut r);
        madvise_checks(&mut r);
        brk_checks(&mut r);
        final_fault(r)
    }

    fn mmap_checks(r: &mut Report) {
        let a = sys::mmap_anon(4 * PAGE, PROT_READ | PROT_WRITE);
        if r.succeeds("mmap: anonymous private RW, 4 pages", a) {
            let a = a as usize;
            r.eq("mmap: the address is page-aligned", a % PAGE, 0);
            r.check(
                "mmap: new anonymous memory reads zero",
                (0..4).all(|p| zero(a, p)),
            );
            unmap(a, 4 * PAGE);
        }
        r.ret(
            "mmap: zero length is -EINVAL",
            sys::mmap_anon(0, PROT_READ),
            -EINVAL,
        );
        // SAFETY: no MAP_FIXED (here and below, unless said otherwise):
        // Linux replaces nothing.
        let none = unsafe { sys::mmap(0, PAGE, PROT_READ, MAP_ANONYMOUS, -1, 0) };
        r.ret(
            "mmap: neither MAP_SHARED nor MAP_PRIVATE is -EINVAL",
            none,
            -EINVAL,
        );
        let anon = MAP_PRIVATE | MAP_ANONYMOUS;
        // SAFETY: as above.
        let off = unsafe { sys::mmap(0, PAGE, PROT_READ, anon, -1, 100) };
        r.ret("mmap: an unaligned offset is -EINVAL", off, -EINVAL);

        let a = filled(r, "mmap: 4 pages for the hint checks", 4);
        if a == 0 {
            return;
        }
        // SAFETY: MAP_FIXED at an unaligned address fails before mapping.
        let fixed = unsafe { sys::mmap(a + 1, PAGE, PROT_READ, anon | MAP_FIXED, -1, 0) };
        r.ret(
            "mmap: MAP_FIXED at an unaligned address is -EINVAL",
            fixed,
            -EINVAL,
        );
        // SAFETY: NOREPLACE never replaces.
        let noreplace =
            unsafe { sys::mmap(a + PAGE, PAGE, PROT_READ, anon | MAP_FIXED_NOREPLACE, -1, 0) };
        r.ret(
            "mmap: MAP_FIXED_NOREPLACE over a mapping is -EEXIST",
            noreplace,
            -EEXIST,
        );
        // SAFETY: a hint, not MAP_FIXED: Linux does not replace the mapping.
        let busy = unsafe { sys::mmap(a, PAGE, PROT_READ, anon, -1, 0) };
        r.check(
            "mmap: a hint at a mapped address gives another address",
            busy >= 0 && busy as usize != a,
        );
        r.check("mmap: the hinted range kept its data", keeps(a, 0));
        if busy >= 0 {
            unmap(busy as usize, PAGE);
        }
        unmap(a, 4 * PAGE);
        // SAFETY: a hint into the range just unmapped.
        let hinted = unsafe { sys::mmap(a, 4 * PAGE, PROT_READ | PROT_WRITE, anon, -1, 0) };
        r.ret(
            "mmap: a hint at a free address is honoured",
            hinted,
            a as isize,
        );
        if hinted >= 0 {
            unmap(hinted as usize, 4 * PAGE);
        }
        // SAFETY: as above.
        let rounded = unsafe { sys::mmap(a + 100, 2 * PAGE, PROT_READ, anon, -1, 0) };
        // Both arches' top-down allocators mask the hint down to its page
        // (checked on x86_64 6.18 and arm64 6.1).
        r.ret(
            "mmap: an unaligned free hint is rounded down to its page",
            rounded,
            a as isize,
        );
        if rounded >= 0 {
            unmap(rounded as usize, 2 * PAGE);
        }

        let a = filled(r, "mmap: 4 pages for MAP_FIXED", 4);
        if a != 0 {
            // SAFETY: MAP_FIXED over pages 1..3 of the test's own mapping.
            let f = unsafe {
                sys::mmap(
                    a + PAGE,
                    2 * PAGE,
                    PROT_READ | PROT_WRITE,
                    anon | MAP_FIXED,
                    -1,
                    0,
                )
            };
            r.ret(
                "mmap: MAP_FIXED returns the address asked for",
                f,
                (a + PAGE) as isize,
            );
            r.check(
                "mmap: MAP_FIXED replaced pages read zero",
                zero(a, 1) && zero(a, 2),
            );
            r.check(
                "mmap: pages around a MAP_FIXED keep their data",
                keeps(a, 0) && keeps(a, 3),
            );
            unmap(a, 4 * PAGE);
        }

        let w = sys::mmap_anon(PAGE, PROT_WRITE);
        if r.succeeds("mmap: PROT_WRITE alone is allowed", w) {
            let w = w as usize;
            r.check("mmap: a PROT_WRITE-only page reads (zero)", peek(w) == 0);
            poke(w + 8, 0x5a);
            r.check(
                "mmap: a PROT_WRITE-only page is writable",
                peek(w + 8) == 0x5a,
            );
            unmap(w, PAGE);
        }
    }

    fn munmap_checks(r: &mut Report) {
        let a = filled(r, "munmap: 3 pages", 3);
        if a == 0 {
            return;
        }
        // SAFETY: the middle page of the test's own mapping.
        let mid = unsafe { sys::munmap(a + PAGE, PAGE) };
        r.ret("munmap: the middle page of a mapping", mid, 0);
        r.check(
            "munmap: the pages either side stay readable",
            keeps(a, 0) && keeps(a, 2),
        );
        r.ret(
            "munmap: the unmapped page is gone",
            probe_write(a + PAGE, 8),
            -EFAULT,
        );
        // SAFETY: the hole just made.
        let again = unsafe { sys::munmap(a + PAGE, PAGE) };
        r.ret("munmap: an unmapped range succeeds", again, 0);
        // SAFETY: zero length and unaligned starts fail before unmapping.
        let (zero_len, unaligned) = unsafe { (sys::munmap(a, 0), sys::munmap(a + 1, PAGE)) };
        r.ret("munmap: zero length is -EINVAL", zero_len, -EINVAL);
        r.ret(
            "munmap: an unaligned address is -EINVAL",
            unaligned,
            -EINVAL,
        );
        // SAFETY: page 2 of the test's mapping.
        let byte = unsafe { sys::munmap(a + 2 * PAGE, 1) };
        r.ret("munmap: one byte", byte, 0);
        r.ret(
            "munmap: one byte unmaps its whole page",
            probe_write(a + 2 * PAGE, 8),
            -EFAULT,
        );
        r.check("munmap: the first page is untouched", keeps(a, 0));
        unmap(a, PAGE);
    }

    fn mprotect_checks(r: &mut Report) {
        let a = filled(r, "mprotect: 3 pages with a hole in the middle", 3);
        if a == 0 {
            return;
        }
        unmap(a + PAGE, PAGE);
        // SAFETY: the test's own pages (here and below), which Rust code
        // only reaches through `peek`/`poke` and the probe.
        let hole = unsafe { sys::mprotect(a + PAGE, PAGE, PROT_READ) };
        r.ret("mprotect: an unmapped hole is -ENOMEM", hole, -ENOMEM);
        // SAFETY: as above.
        let across = unsafe { sys::mprotect(a, 3 * PAGE, PROT_READ) };
        r.ret(
            "mprotect: a range running into a hole is -ENOMEM",
            across,
            -ENOMEM,
        );
        r.ret(
            "mprotect: the part before the hole was changed (read-only)",
            probe_write(a, 8),
            -EFAULT,
        );
        r.ret(
            "mprotect: the part after the hole was not",
            probe_write(a + 2 * PAGE, 8),
            8,
        );
        // SAFETY: as above.
        let (unaligned, zero_len, bad) = unsafe {
            (
                sys::mprotect(a + 1, PAGE, PROT_READ),
                sys::mprotect(a, 0, PROT_READ),
                sys::mprotect(a, PAGE, PROT_READ | 0x40),
            )
        };
        r.ret(
            "mprotect: an unaligned address is -EINVAL",
            unaligned,
            -EINVAL,
        );
        r.ret("mprotect: zero length succeeds", zero_len, 0);
        r.ret("mprotect: an unknown PROT bit is -EINVAL", bad, -EINVAL);
        unmap(a, 3 * PAGE);

        let a = filled(r, "mprotect: 2 pages", 2);
        if a == 0 {
            return;
        }
        // SAFETY: as above.
        let ro = unsafe { sys::mprotect(a, 1, PROT_READ) };
        r.ret("mprotect: one byte to PROT_READ", ro, 0);
        r.ret(
            "mprotect: one byte protects its whole page",
            probe_write(a + PAGE - 8, 8),
            -EFAULT,
        );
        r.ret(
            "mprotect: the next page stays writable",
            probe_write(a + PAGE + 8, 8),
            8,
        );
        r.check(
            "mprotect: a read-only page still reads its data",
            keeps(a, 0),
        );
        // SAFETY: as above.
        let none = unsafe { sys::mprotect(a, 2 * PAGE, PROT_NONE) };
        r.ret("mprotect: PROT_NONE", none, 0);
        r.ret(
            "mprotect: a PROT_NONE page is not writable",
            probe_write(a + PAGE, 8),
            -EFAULT,
        );
        // SAFETY: as above.
        let rw = unsafe { sys::mprotect(a, 2 * PAGE, PROT_READ | PROT_WRITE) };
        r.ret("mprotect: PROT_NONE back to RW", rw, 0);
        r.check(
            "mprotect: PROT_NONE and back keeps the data",
            keeps(a, 0) && keeps(a, 1),
        );
        // SAFETY: as above.
        let w = unsafe { sys::mprotect(a, PAGE, PROT_WRITE) };
        r.ret("mprotect: PROT_WRITE alone is allowed", w, 0);
        r.check(
            "mprotect: a PROT_WRITE-only page stays readable",
            keeps(a, 0),
        );
        r.ret(
            "mprotect: a PROT_WRITE-only page is writable",
            probe_write(a + 8, 8),
            8,
        );
        unmap(a, 2 * PAGE);
    }

    fn madvise_checks(r: &mut Report) {
        let a = filled(r, "madvise: 2 pages", 2);
        if a == 0 {
            return;
        }
        // SAFETY: the test's own pages; their contents are about to go.
        let (dontneed, unaligned) = unsafe {
            (
                sys::madvise(a, PAGE, MADV_DONTNEED),
                sys::madvise(a + 1, PAGE, MADV_DONTNEED),
            )
        };
        r.ret(
            "madvise: MADV_DONTNEED on private anonymous memory",
            dontneed,
            0,
        );
        r.check(
            "madvise: MADV_DONTNEED zeroes private anonymous memory",
            zero(a, 0),
        );
        r.check(
            "madvise: the page after the range keeps its data",
            keeps(a, 1),
        );
        r.ret(
            "madvise: an unaligned address is -EINVAL",
            unaligned,
            -EINVAL,
        );
        unmap(a, 2 * PAGE);
    }

    unsafe extern "C" {
        /// The end of bss (the linker script's `_end`).
        static _end: u8;
    }

    fn brk(a: usize) -> usize {
        // SAFETY: the programs never allocate from the break; only this
        // test's own pages live there.
        unsafe { sys::brk(a) as usize }
    }

    fn brk_checks(r: &mut Report) {
        let end = (&raw const _end) as usize;
        let start = brk(0);
        r.check("brk: brk(0) is page-aligned", start.is_multiple_of(PAGE));
        r.check(
            "brk: brk(0) is at or above the end of bss",
            start >= end.next_multiple_of(PAGE),
        );
        r.eq("brk: brk(0) again gives the same break", brk(0), start);
        let want = start + 3 * PAGE + 100;
        r.eq(
            "brk: growing returns the new break exactly (unaligned)",
            brk(want),
            want,
        );
        r.check(
            "brk: new break memory reads zero",
            (0..4).all(|p| peek(start + p * PAGE) == 0 && peek(start + p * PAGE + PAGE - 1) == 0),
        );
        r.ret(
            "brk: the last page of the new break is writable",
            probe_write(start + 3 * PAGE, PAGE),
            PAGE as isize,
        );
        poke(start + 2 * PAGE, 7);
        r.eq(
            "brk: shrinking returns the new break",
            brk(start + PAGE),
            start + PAGE,
        );
        r.ret(
            "brk: shrinking unmaps the pages above",
            probe_write(start + 2 * PAGE, 8),
            -EFAULT,
        );
        r.eq(
            "brk: growing again",
            brk(start + 3 * PAGE),
            start + 3 * PAGE,
        );
        r.check(
            "brk: memory given back and taken again reads zero",
            peek(start + 2 * PAGE) == 0,
        );
        r.eq(
            "brk: below the start fails, returning the current break",
            brk(1),
            start + 3 * PAGE,
        );
        let anon = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
        // SAFETY: NOREPLACE never replaces anything.
        let m = unsafe { sys::mmap(start + 8 * PAGE, PAGE, PROT_READ, anon, -1, 0) };
        if r.ret(
            "brk: a mapping 8 pages above the start",
            m,
            (start + 8 * PAGE) as isize,
        ) {
            r.eq(
                "brk: up to one page below a mapping",
                brk(start + 7 * PAGE),
                start + 7 * PAGE,
            );
            r.eq(
                "brk: up to a mapping fails (Linux keeps a page of gap)",
                brk(start + 8 * PAGE),
                start + 7 * PAGE,
            );
            r.eq(
                "brk: into a mapping fails",
                brk(start + 9 * PAGE),
                start + 7 * PAGE,
            );
            unmap(start + 8 * PAGE, PAGE);
        }
        r.eq("brk: back to the start", brk(start), start);
    }

    /// All checks passed: die by writing to a read-only page.
    fn final_fault(r: Report) -> i32 {
        let failed = r.failed();
        let code = r.finish();
        if failed != 0 || code != 0 {
            return 1;
        }
        let p = sys::mmap_anon(PAGE, PROT_READ);
        if p < 0 {
            return 1;
        }
        let mut out = Report::new();
        out.note(format_args!(
            "writing to a read-only page: expect death by SIGSEGV"
        ));
        drop(out);
        poke(p as usize, 1);
        let mut out = Report::new();
        out.check("a write to a read-only page killed the process", false);
        1
    }
}

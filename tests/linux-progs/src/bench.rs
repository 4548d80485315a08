//! The microbenchmarks: the null system call and Zircon's
//! `Vmar/Protect{Toggle,Same}/{N}Mappings/{K}Protect` shapes through Linux
//! `mprotect`.
//!
//! Zircon's benchmark (`vmar_microbenchmarks`) maps N one-page mappings of
//! every second page of one VMO side by side (so they cannot merge),
//! leaves them unpopulated, and protects K of them starting
//! `(N - K) / 2` pages in; "Toggle" alternates RW and R on each call
//! (starting with RW, the mapping's own protection), "Same" protects RW
//! every time. Here that is the **memfd** layout (N `MAP_SHARED` mappings
//! of every second page of one `memfd_create` object); the **anon**
//! layout is one private anonymous mapping of N pages, where Linux splits
//! and merges its VMA instead.
//!
//! Every figure is the median over repetitions of a batch of calls,
//! converted to guest instructions per call with the calibration loop
//! ([`crate::counter`]); each line reads
//! `bench: <name> <I> insns/call`, which `cargo xtask bench` parses.

use crate::PAGE;
use crate::counter::{Calibration, median_ticks};
use crate::out::Report;
use crate::sys::{self, mm::*};

/// Repetitions per figure (the median is printed).
pub const REPS: usize = 11;

/// Parses a decimal count (`argv` text).
pub fn parse_count(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 12 {
        return None;
    }
    s.iter().try_fold(0usize, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + usize::from(c - b'0'))
    })
}

/// Measures `getppid` (`calls` per repetition) and prints its line.
pub fn getppid(r: &mut Report, cal: &Calibration, calls: usize) {
    let ppid = sys::getppid();
    let mut bad = 0usize;
    let ticks = median_ticks(REPS, calls, |_| {
        bad += usize::from(sys::getppid() != ppid);
    });
    r.ret("getppid succeeds", ppid.min(0), 0);
    r.eq("getppid returns the same pid every call", bad, 0);
    match cal.insns(ticks, calls as u64) {
        Some(i) => r.line(format_args!(
            "bench: getppid {i} insns/call ({calls} calls x {REPS}, calibration {} insns = {} ticks)",
            crate::counter::CAL_INSNS,
            cal.ticks
        )),
        None => {
            r.check("the counter advances", false);
        }
    }
}

/// How the N mappings are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// N shared mappings of every second page of one memfd (Zircon's).
    Memfd,
    /// One private anonymous mapping of N pages.
    Anon,
}

/// Whether each call changes the protection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// RW, R, RW, ... (Zircon's `ProtectToggle`).
    Toggle,
    /// RW every call (Zircon's `ProtectSame`).
    Same,
}

/// Whether the pages are populated before the measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pages {
    /// Never touched (Zircon's benchmark): `mprotect` changes VMAs only.
    Untouched,
    /// Each page written once after mapping: `mprotect` also rewrites the
    /// page-table entries and flushes the TLB.
    Touched,
}

/// One figure: Zircon's shape in one layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Toggle or Same.
    pub mode: Mode,
    /// memfd or anon.
    pub layout: Layout,
    /// Populated or not.
    pub pages: Pages,
    /// Mappings (memfd) or pages (anon).
    pub n: usize,
    /// Pages protected per call (`k <= n`).
    pub k: usize,
}

/// Zircon's `(mappings, protected)` pairs: `{1, 16, 128}²` with K ≤ N.
pub const SHAPES: [(usize, usize); 6] =
    [(1, 1), (16, 1), (16, 16), (128, 1), (128, 16), (128, 128)];

/// Maps the N pages of `layout`; returns the base address (and the memfd
/// to close, if any).
fn map(layout: Layout, n: usize) -> Result<(usize, Option<usize>), &'static str> {
    let rw = PROT_READ | PROT_WRITE;
    match layout {
        Layout::Anon => {
            let a = sys::mmap_anon(n * PAGE, rw);
            if a < 0 {
                Err("mmap")
            } else {
                Ok((a as usize, None))
            }
        }
        Layout::Memfd => {
            let fd = sys::memfd_create(b"protect-bench\0", 0);
            if fd < 0 {
                return Err("memfd_create");
            }
            let fd = fd as usize;
            // A range of N pages to place the mappings in.
            let base = sys::mmap_anon(n * PAGE, PROT_NONE);
            if sys::ftruncate(fd, 2 * n * PAGE) < 0 || base < 0 {
                sys::close(fd);
                return Err("ftruncate or the placeholder mmap");
            }
            let base = base as usize;
            for i in 0..n {
                // SAFETY: MAP_FIXED over the placeholder reserved above.
                let m = unsafe {
                    sys::mmap(
                        base + i * PAGE,
                        PAGE,
                        rw,
                        MAP_SHARED | MAP_FIXED,
                        fd as isize,
                        2 * i * PAGE,
                    )
                };
                if m != (base + i * PAGE) as isize {
                    sys::close(fd);
                    return Err("mmap of one memfd page");
                }
            }
            Ok((base, Some(fd)))
        }
    }
}

impl Shape {
    /// The shape's name: Zircon's, with the layout in the middle
    /// (`ProtectToggle/memfd/16Mappings/1Protect`; `memfd-touched` for
    /// populated pages).
    pub fn name(&self) -> ([u8; 64], usize) {
        use core::fmt::Write as _;
        struct Buf([u8; 64], usize);
        impl core::fmt::Write for Buf {
            fn write_str(&mut self, s: &str) -> core::fmt::Result {
                let end = self.1 + s.len();
                if end > self.0.len() {
                    return Err(core::fmt::Error);
                }
                self.0[self.1..end].copy_from_slice(s.as_bytes());
                self.1 = end;
                Ok(())
            }
        }
        let mut b = Buf([0; 64], 0);
        let m = match self.mode {
            Mode::Toggle => "Toggle",
            Mode::Same => "Same",
        };
        let l = match self.layout {
            Layout::Memfd => "memfd",
            Layout::Anon => "anon",
        };
        let t = match self.pages {
            Pages::Untouched => "",
            Pages::Touched => "-touched",
        };
        let _ = write!(b, "Protect{m}/{l}{t}/{}Mappings/{}Protect", self.n, self.k);
        (b.0, b.1)
    }
}

/// Measures one shape and prints its line (and a check that every
/// `mprotect` returned 0).
pub fn protect(r: &mut Report, cal: &Calibration, shape: Shape) {
    let Shape {
        mode,
        layout,
        pages,
        n,
        k,
    } = shape;
    let (buf, len) = shape.name();
    let name = core::str::from_utf8(&buf[..len]).unwrap_or("?");
    let (base, fd) = match map(layout, n) {
        Ok(m) => m,
        Err(what) => {
            r.check(name, false);
            r.note(format_args!("{name}: {what} failed"));
            return;
        }
    };
    if pages == Pages::Touched {
        for i in 0..n {
            // SAFETY: the benchmark's own RW pages; nothing else uses them.
            unsafe { ((base + i * PAGE) as *mut u8).write_volatile(1) };
        }
    }
    let addr = base + (n - k) / 2 * PAGE;
    // A batch long enough to dwarf the counter's resolution, short enough
    // to keep the boot quick.
    let calls = if k >= 128 { 8 } else { 64 };
    let mut bad = 0usize;
    let ticks = median_ticks(REPS, calls, |i| {
        let prot = match (mode, i % 2) {
            (Mode::Toggle, 1) => PROT_READ,
            _ => PROT_READ | PROT_WRITE,
        };
        // SAFETY: the benchmark's own pages; nothing reads or writes them.
        bad += usize::from(unsafe { sys::mprotect(addr, k * PAGE, prot) } != 0);
    });
    // SAFETY: the benchmark's own mappings, no longer used.
    unsafe { sys::munmap(base, n * PAGE) };
    if let Some(fd) = fd {
        sys::close(fd);
    }
    if bad != 0 {
        r.eq(name, bad, 0);
        return;
    }
    match cal.insns(ticks, calls as u64) {
        Some(i) => r.line(format_args!("bench: {name} {i} insns/call")),
        None => {
            r.check(name, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_names() {
        assert_eq!(parse_count(b"1000"), Some(1000));
        assert_eq!(parse_count(b""), None);
        assert_eq!(parse_count(b"12a"), None);
        assert_eq!(parse_count(b"9999999999999"), None);
        let shape = |mode, layout, pages, n, k| Shape {
            mode,
            layout,
            pages,
            n,
            k,
        };
        let (b, l) = shape(Mode::Toggle, Layout::Memfd, Pages::Untouched, 128, 16).name();
        assert_eq!(&b[..l], b"ProtectToggle/memfd/128Mappings/16Protect");
        let (b, l) = shape(Mode::Same, Layout::Anon, Pages::Touched, 1, 1).name();
        assert_eq!(&b[..l], b"ProtectSame/anon-touched/1Mappings/1Protect");
    }
}

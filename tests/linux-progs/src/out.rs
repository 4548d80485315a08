//! Output: a small buffered writer on a file descriptor, and the checks
//! report every program prints.
//!
//! The report's format is the project's: one `ok - <name>` or
//! `not ok - <name>: <why>` line per check, `# ...` notes, and a closing
//! `N passed, N failed` line. Check names carry no addresses or times, so
//! a run's stdout is the same on every machine that behaves the same; only
//! a failure's explanation shows the values that differed.

use core::fmt::{self, Write};

use crate::sys::{self, SysResult, errno};

/// A buffered writer on one file descriptor; flushes at each newline, when
/// full, and when dropped.
pub struct Out {
    fd: usize,
    buf: [u8; 512],
    len: usize,
}

impl Out {
    /// A writer on `fd` (1 for stdout, 2 for stderr).
    pub const fn new(fd: usize) -> Out {
        Out {
            fd,
            buf: [0; 512],
            len: 0,
        }
    }

    /// Writes out what is buffered (retrying short writes; gives up on an
    /// error, since there is nowhere to report it).
    pub fn flush(&mut self) {
        let mut done = 0;
        while done < self.len {
            let r = sys::write(self.fd, &self.buf[done..self.len]);
            if r <= 0 {
                break;
            }
            done += r as usize;
        }
        self.len = 0;
    }
}

impl Write for Out {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
            if b == b'\n' {
                self.flush();
            }
        }
        Ok(())
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A system-call result shown as Linux documents it: `-ENOMEM`, or the
/// value in hex when it is not an error.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ret(pub SysResult);

impl fmt::Debug for Ret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            r if (-4095..0).contains(&r) => match errno::name(-r) {
                Some(name) => write!(f, "-{name}"),
                None => write!(f, "-{}", -r),
            },
            r => write!(f, "{:#x}", r as usize),
        }
    }
}

/// The checks of one program, printed as they are made.
pub struct Report {
    out: Out,
    passed: u32,
    failed: u32,
    scope: &'static str,
}

impl Default for Report {
    fn default() -> Self {
        Report::new()
    }
}

impl Report {
    /// A report on stdout.
    pub const fn new() -> Report {
        Report {
            out: Out::new(1),
            passed: 0,
            failed: 0,
            scope: "",
        }
    }

    /// Prefixes the names of the checks that follow with `scope: ` (an
    /// empty scope clears it).
    pub fn scope(&mut self, scope: &'static str) {
        self.scope = scope;
    }

    /// Records `ok`; prints `ok - name` or `not ok - name`. Returns `ok`.
    pub fn check(&mut self, name: &str, ok: bool) -> bool {
        self.record(name, ok, format_args!("false"))
    }

    /// Checks `got == want`; a failure shows both.
    pub fn eq<T: PartialEq + fmt::Debug>(&mut self, name: &str, got: T, want: T) -> bool {
        let ok = got == want;
        self.record(name, ok, format_args!("got {got:?}, want {want:?}"))
    }

    /// Checks a system call's exact result.
    pub fn ret(&mut self, name: &str, got: SysResult, want: SysResult) -> bool {
        self.eq(name, Ret(got), Ret(want))
    }

    /// Checks that a system call succeeded (returned a non-negative value).
    pub fn succeeds(&mut self, name: &str, got: SysResult) -> bool {
        self.record(name, got >= 0, format_args!("got {:?}", Ret(got)))
    }

    fn record(&mut self, name: &str, ok: bool, why: fmt::Arguments<'_>) -> bool {
        let (scope, sep) = match self.scope {
            "" => ("", ""),
            s => (s, ": "),
        };
        if ok {
            self.passed += 1;
            let _ = writeln!(self.out, "ok - {scope}{sep}{name}");
        } else {
            self.failed += 1;
            let _ = writeln!(self.out, "not ok - {scope}{sep}{name}: {why}");
        }
        ok
    }

    /// Prints `# <text>`.
    pub fn note(&mut self, text: fmt::Arguments<'_>) {
        let _ = writeln!(self.out, "# {text}");
    }

    /// Prints a line as it is (for measurements).
    pub fn line(&mut self, text: fmt::Arguments<'_>) {
        let _ = writeln!(self.out, "{text}");
    }

    /// How many checks failed so far.
    pub fn failed(&self) -> u32 {
        self.failed
    }

    /// Prints `N passed, N failed` and returns the exit code: 0 when at
    /// least one check ran and none failed, 1 otherwise.
    pub fn finish(mut self) -> i32 {
        let _ = writeln!(self.out, "{} passed, {} failed", self.passed, self.failed);
        self.out.flush();
        if self.failed == 0 && self.passed > 0 {
            0
        } else {
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct S(std::string::String);
    impl Write for S {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0.push_str(s);
            Ok(())
        }
    }

    #[test]
    fn results_read_as_linux_documents_them() {
        let show = |r| {
            let mut s = S(std::string::String::new());
            write!(s, "{:?}", Ret(r)).unwrap();
            s.0
        };
        assert_eq!(show(-12), "-ENOMEM");
        assert_eq!(show(-22), "-EINVAL");
        assert_eq!(show(-99), "-99");
        assert_eq!(show(0), "0x0");
        assert_eq!(show(0x40_1000), "0x401000");
        assert_eq!(show(-4096), "0xfffffffffffff000");
    }
}

//! The test report: one `ok - <name>` / `not ok - <name>` line per check,
//! diagnostics as `#` lines, and the closing `N passed, N failed` line that
//! `cargo xtask test` parses.

use core::fmt::{self, Debug, Write};

/// How the run ended, and so which exit code the kernel reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every check passed.
    Passed,
    /// At least one check failed.
    Failed,
}

/// Counts checks and prints their lines to `out`.
pub struct Report<W: Write> {
    out: W,
    passed: u32,
    failed: u32,
    skipped: u32,
}

impl<W: Write> Report<W> {
    /// A report with nothing counted yet.
    pub fn new(out: W) -> Self {
        Report {
            out,
            passed: 0,
            failed: 0,
            skipped: 0,
        }
    }

    /// Records one check.
    pub fn check(&mut self, name: &str, ok: bool) -> bool {
        if ok {
            self.passed += 1;
            let _ = writeln!(self.out, "ok - {name}");
        } else {
            self.failed += 1;
            let _ = writeln!(self.out, "not ok - {name}");
        }
        ok
    }

    /// Records one check that `got == want`, printing both on failure.
    pub fn check_eq<T: PartialEq + Debug>(&mut self, name: &str, got: T, want: T) -> bool {
        let ok = self.check(name, got == want);
        if !ok {
            let _ = writeln!(self.out, "#   got:  {got:x?}");
            let _ = writeln!(self.out, "#   want: {want:x?}");
        }
        ok
    }

    /// Records a check that could not run here, with the reason.
    #[allow(dead_code, reason = "only the x86_64 scenario has optional checks")]
    pub fn skip(&mut self, name: &str, why: &str) {
        self.skipped += 1;
        let _ = writeln!(self.out, "ok - {name} # SKIP {why}");
    }

    /// Prints a diagnostic line.
    pub fn note(&mut self, args: fmt::Arguments<'_>) {
        let _ = writeln!(self.out, "# {args}");
    }

    /// Prints a line as it is (for output another tool parses).
    pub fn line(&mut self, args: fmt::Arguments<'_>) {
        let _ = writeln!(self.out, "{args}");
    }

    /// Prints the closing line and says how the run went.
    pub fn finish(&mut self) -> Outcome {
        let _ = write!(self.out, "{} passed, {} failed", self.passed, self.failed);
        if self.skipped != 0 {
            let _ = write!(self.out, ", {} skipped", self.skipped);
        }
        let _ = writeln!(self.out);
        if self.failed == 0 && self.passed != 0 {
            Outcome::Passed
        } else {
            Outcome::Failed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_summary() {
        let mut r = Report::new(String::new());
        assert!(r.check("first", true));
        assert!(!r.check_eq("second", 1u64, 2u64));
        r.skip("third", "no FSGSBASE");
        r.note(format_args!("x = {}", 5));
        r.line(format_args!("bench: {}", 7));
        assert_eq!(r.finish(), Outcome::Failed);
        assert_eq!(
            &r.out,
            "ok - first\nnot ok - second\n#   got:  1\n#   want: 2\n\
             ok - third # SKIP no FSGSBASE\n# x = 5\nbench: 7\n1 passed, 1 failed, 1 skipped\n"
        );
    }

    #[test]
    fn all_passed() {
        let mut r = Report::new(String::new());
        r.check_eq("a", 0x10u64, 0x10);
        assert_eq!(r.finish(), Outcome::Passed);
        assert!(&r.out.ends_with("1 passed, 0 failed\n"));
    }

    #[test]
    fn nothing_checked_is_a_failure() {
        let mut r = Report::new(String::new());
        assert_eq!(r.finish(), Outcome::Failed);
    }
}

//! The runner's [`Host`]: console streams through the hobby kernel's
//! `stream_write` host call, the clock through `zx_clock_get_monotonic`,
//! and the runner's own log and failure exit.

use core::fmt::{self, Write};

use zx_user::hobby::{self, stream};

use crate::errno::{Errno, Result};
use crate::sys::Host;

/// The host calls behind the Linux program's streams.
pub struct RunnerHost;

impl Host for RunnerHost {
    fn console(&mut self, s: u8, data: &[u8]) -> Result<u64> {
        let mut done = 0usize;
        while done < data.len() {
            let n = hobby::stream_write(u64::from(s), &data[done..]);
            if n <= 0 {
                return if done > 0 {
                    Ok(done as u64)
                } else {
                    Err(Errno::EIO)
                };
            }
            done += n as usize;
        }
        Ok(data.len() as u64)
    }

    fn monotonic_ns(&mut self) -> i64 {
        zx_user::handle::clock_get_monotonic()
    }
}

/// Writes formatted text to a host stream.
pub struct Stream(pub u64);

impl Write for Stream {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if hobby::stream_write(self.0, s.as_bytes()) < 0 {
            return Err(fmt::Error);
        }
        Ok(())
    }
}

/// Whether `--verbose` asked for the runner's log.
pub static VERBOSE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// A line on the runner's log (shown by `cargo xtask linux --verbose`).
macro_rules! log {
    ($($arg:tt)*) => {{
        if $crate::rt::host::VERBOSE.load(core::sync::atomic::Ordering::Relaxed) {
            use core::fmt::Write as _;
            let _ = writeln!($crate::rt::host::Stream(zx_user::hobby::stream::LOG), $($arg)*);
        }
    }};
}
pub(crate) use log;

/// Runner error codes (`linux_exit(EXIT_RUNNER_FAILED, code)`), each with
/// a message on the program's stderr first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Failure {
    /// The boot page is not what the kernel and runner agreed on.
    BadBoot = 1,
    /// A Zircon call the runner needs failed.
    Zircon = 2,
    /// The archive is malformed.
    Archive = 3,
    /// The program cannot be loaded (missing, not a static ELF, too big).
    Exec = 4,
    /// `zx_restricted_enter` refused the state (a runner bug).
    Enter = 5,
    /// The runner panicked.
    Panic = 6,
}

/// Ends the run as a runner failure, with `msg` on stderr.
pub fn fail(f: Failure, msg: fmt::Arguments<'_>) -> ! {
    let _ = writeln!(Stream(stream::STDERR), "linux-runner: {msg}");
    hobby::linux_exit(hobby::EXIT_RUNNER_FAILED, f as u64)
}

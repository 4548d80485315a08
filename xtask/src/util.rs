//! Running commands and reporting failures.

use std::ffi::OsStr;
use std::fmt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Why a command failed, for the user.
#[derive(Debug)]
pub struct Failure(String);

impl Failure {
    pub fn new(msg: impl Into<String>) -> Self {
        Failure(msg.into())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

static TO_STDERR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sends the banners and command lines to stderr (`cargo xtask linux`
/// keeps stdout for the program).
pub fn to_stderr(on: bool) {
    TO_STDERR.store(on, std::sync::atomic::Ordering::Relaxed);
}

fn say(line: &str) {
    if TO_STDERR.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

/// Prints a stage banner.
pub fn stage(name: &str) {
    say(&format!("\n==> {name}"));
}

/// A command run from the workspace root.
pub struct Cmd {
    cmd: Command,
    shown: String,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        let mut cmd = Command::new(program.as_ref());
        cmd.current_dir(root());
        Cmd {
            shown: program.as_ref().to_string_lossy().into_owned(),
            cmd,
        }
    }

    /// `cargo`, the same binary that runs xtask.
    pub fn cargo() -> Self {
        Cmd::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.shown.push(' ');
        self.shown.push_str(&a.as_ref().to_string_lossy());
        self.cmd.arg(a);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    /// Runs in `dir` instead of the workspace root.
    pub fn current_dir(mut self, dir: impl AsRef<std::path::Path>) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    /// Runs with inherited stdio; fails on a non-zero exit.
    pub fn run(mut self) -> Result<(), Failure> {
        say(&format!("$ {}", self.shown));
        if TO_STDERR.load(std::sync::atomic::Ordering::Relaxed) {
            self.cmd.stdout(Stdio::null());
        }
        let status = self
            .cmd
            .status()
            .map_err(|e| Failure::new(format!("cannot run `{}`: {e}", self.shown)))?;
        if status.success() {
            Ok(())
        } else {
            Err(Failure::new(format!("`{}` failed ({status})", self.shown)))
        }
    }

    /// Runs and returns stdout; fails on a non-zero exit.
    pub fn output(mut self) -> Result<String, Failure> {
        let out = self
            .cmd
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| Failure::new(format!("cannot run `{}`: {e}", self.shown)))?;
        if !out.status.success() {
            return Err(Failure::new(format!(
                "`{}` failed ({})",
                self.shown, out.status
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

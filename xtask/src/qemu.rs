//! Booting `tests/hobby-kernel` in QEMU: `cargo xtask run` and the `qemu`
//! stage of `cargo xtask test`.
//!
//! The kernel prints one `ok - ...` / `not ok - ...` line per check and a
//! closing `N passed, N failed` line, then leaves QEMU with a code that says
//! how it went: through `isa-debug-exit` on x86_64 (QEMU exits with
//! `value << 1 | 1`: 33 passed, 35 failed, 37 crashed) and through
//! semihosting on aarch64 (0 passed, 1 failed, 2 crashed). A boot passes
//! when the closing line says 0 failed and the exit code says passed.
//!
//! QEMU runs with `-icount shift=0`, so the kernel's measurements are
//! counted in guest instructions (x86_64 TSC ticks) or 16-instruction
//! counter ticks (aarch64), independent of the host's load. Each boot
//! prints one `bench: null_syscall <N> insns/iter, restricted_roundtrip
//! <M> insns/iter, ratio <R>` line (its user program converts the ticks
//! with a calibration loop), and checks the ratio target itself.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{self, Cmd, Failure};

/// How long one boot may take before QEMU is killed.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

/// The architectures the hobby kernel boots on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    pub(crate) fn parse(s: &str) -> Result<Arch, Failure> {
        match s {
            "x86_64" | "x86-64" | "amd64" => Ok(Arch::X86_64),
            "aarch64" | "arm64" => Ok(Arch::Aarch64),
            other => Err(Failure::new(format!(
                "unknown arch `{other}`: use x86_64 or aarch64"
            ))),
        }
    }

    pub(crate) fn target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-none",
            Arch::Aarch64 => "aarch64-unknown-none",
        }
    }

    pub(crate) fn qemu(self) -> &'static str {
        match self {
            Arch::X86_64 => "qemu-system-x86_64",
            Arch::Aarch64 => "qemu-system-aarch64",
        }
    }

    /// The exit status QEMU reports when every check passed.
    fn passed_code(self) -> i32 {
        match self {
            Arch::X86_64 => 33,
            Arch::Aarch64 => 0,
        }
    }

    /// What an exit status means for this arch's kernel.
    fn explain(self, code: Option<i32>) -> &'static str {
        match (self, code) {
            (Arch::X86_64, Some(33)) | (Arch::Aarch64, Some(0)) => "kernel: all checks passed",
            (Arch::X86_64, Some(35)) | (Arch::Aarch64, Some(1)) => "kernel: some check failed",
            (Arch::X86_64, Some(37)) | (Arch::Aarch64, Some(2)) => {
                "kernel: crashed (unexpected trap or panic)"
            }
            (Arch::X86_64, Some(0)) => "QEMU stopped without the kernel's exit (triple fault?)",
            _ => "QEMU stopped without the kernel's exit",
        }
    }

    /// QEMU's command line for `kernel`, plus `extra` arguments.
    fn command(self, kernel: &Path, extra: &[String]) -> Command {
        let mut cmd = Command::new(self.qemu());
        match self {
            Arch::X86_64 => {
                cmd.args(["-M", "q35"]);
                cmd.args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
            }
            Arch::Aarch64 => {
                cmd.args(["-M", "virt", "-cpu", "cortex-a57", "-semihosting"]);
            }
        }
        cmd.args(["-nodefaults", "-display", "none", "-serial", "stdio"]);
        cmd.args(["-no-reboot", "-icount", "shift=0", "-m", "128M"]);
        cmd.arg("-kernel").arg(kernel);
        cmd.args(extra);
        cmd
    }
}

/// One QEMU configuration `test_all` boots.
struct Machine {
    name: &'static str,
    arch: Arch,
    extra: &'static [&'static str],
}

/// Both arches; x86_64 twice, so both FS/GS base paths run: the default
/// CPU model (no FSGSBASE: MSRs) and `-cpu max` (FSGSBASE, SMEP, SMAP).
const MACHINES: [Machine; 3] = [
    Machine {
        name: "x86_64 (q35, default cpu)",
        arch: Arch::X86_64,
        extra: &[],
    },
    Machine {
        name: "x86_64 (q35, -cpu max)",
        arch: Arch::X86_64,
        extra: &["-cpu", "max"],
    },
    Machine {
        name: "aarch64 (virt, cortex-a57)",
        arch: Arch::Aarch64,
        extra: &[],
    },
];

/// `cargo xtask run [--arch x86_64|aarch64] [-- qemu args...]`.
pub fn run(args: &[String]) -> Result<(), Failure> {
    let mut arch = Arch::X86_64;
    let mut extra = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--arch" => {
                let v = it
                    .next()
                    .ok_or_else(|| Failure::new("`--arch` needs a value: x86_64 or aarch64"))?;
                arch = Arch::parse(v)?;
            }
            s if s.starts_with("--arch=") => arch = Arch::parse(&s["--arch=".len()..])?,
            "--" => {
                extra.extend(it.by_ref().cloned());
            }
            other => {
                return Err(Failure::new(format!(
                    "`run` takes `--arch x86_64|aarch64` and `-- <qemu args>`, got `{other}`"
                )));
            }
        }
    }
    ensure_qemu()?;
    let kernel = build(arch)?;
    let boot = boot(arch, &kernel, &extra)?;
    println!("xtask: {}", arch.explain(boot.code));
    if boot.code != Some(arch.passed_code()) {
        return Err(Failure::new(format!("QEMU exited with {}", boot.status)));
    }
    busybox_demo(arch)
}

/// The end of `cargo xtask run`: Debian's busybox, unmodified, in
/// restricted mode under the runner (`cargo xtask linux` with a fixed
/// command line), its stdout and exit status shown.
fn busybox_demo(arch: Arch) -> Result<(), Failure> {
    // Builtins and NOFORK applets only: fork and exec are not there yet.
    let script = "echo hello from busybox in restricted mode; \
                  x=$((6 * 7)); printf '6*7=%d\\n' $x; \
                  for w in /etc/passwd /tmp; do [ -d $w ] && echo dir $w || echo file $w; done";
    let argv: Vec<String> = ["sh", "-c", script].map(String::from).to_vec();
    println!("xtask: busybox demo: {argv:?}");
    let built = crate::linux::build(arch)?;
    let req = crate::linux::Request {
        argv,
        ..crate::linux::Request::default()
    };
    let out = crate::linux::run_built(&built, &req)?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    match out.status {
        Ok(0) => {
            println!("xtask: busybox exited with status 0");
            Ok(())
        }
        Ok(s) => Err(Failure::new(format!("busybox demo exited with status {s}"))),
        Err(e) => Err(Failure::new(format!("busybox demo: {e}"))),
    }
}

/// Boots every [`MACHINES`] entry and fails unless each one printed
/// `N passed, 0 failed` and exited with its arch's "passed" code.
pub fn test_all() -> Result<(), Failure> {
    ensure_qemu()?;
    let mut kernels: Vec<(Arch, PathBuf)> = Vec::new();
    for arch in [Arch::X86_64, Arch::Aarch64] {
        kernels.push((arch, build(arch)?));
    }
    let mut failures = Vec::new();
    for m in &MACHINES {
        util::stage(&format!("qemu: {}", m.name));
        let kernel = &kernels
            .iter()
            .find(|(a, _)| *a == m.arch)
            .expect("every arch was built")
            .1;
        let extra: Vec<String> = m.extra.iter().map(|s| s.to_string()).collect();
        match boot(m.arch, kernel, &extra).and_then(|b| judge(m.arch, &b)) {
            Ok(summary) => println!("xtask: {}: {summary}", m.name),
            Err(f) => {
                println!("xtask: {}: FAILED: {f}", m.name);
                failures.push(format!("{}: {f}", m.name));
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "QEMU boots failed:\n  {}",
            failures.join("\n  ")
        )))
    }
}

/// Builds and boots the hobby kernel for `arch` (`"x86_64"` or
/// `"aarch64"`, default machine) and returns its serial output, for the
/// benchmark report. Fails unless the boot passed.
pub fn serial_output(arch: &str) -> Result<String, Failure> {
    let arch = Arch::parse(arch)?;
    ensure_qemu()?;
    let kernel = build(arch)?;
    let boot = boot(arch, &kernel, &[])?;
    judge(arch, &boot)?;
    Ok(boot.lines.join("\n"))
}

/// What one boot produced.
struct Boot {
    /// The exit status, for messages.
    status: String,
    /// The exit code (`None` if QEMU was killed by a signal).
    code: Option<i32>,
    lines: Vec<String>,
}

/// Checks a boot's closing line and exit code.
fn judge(arch: Arch, boot: &Boot) -> Result<String, Failure> {
    let (passed, failed) = boot
        .lines
        .iter()
        .rev()
        .find_map(|l| parse_summary(l))
        .ok_or_else(|| {
            Failure::new(format!(
                "no `N passed, N failed` line; QEMU exited with {} ({})",
                boot.status,
                arch.explain(boot.code)
            ))
        })?;
    if failed != 0 || passed == 0 {
        return Err(Failure::new(format!(
            "{passed} passed, {failed} failed; QEMU exited with {}",
            boot.status
        )));
    }
    if boot.code != Some(arch.passed_code()) {
        return Err(Failure::new(format!(
            "{passed} passed, {failed} failed, but QEMU exited with {} ({}), expected {}",
            boot.status,
            arch.explain(boot.code),
            arch.passed_code()
        )));
    }
    Ok(format!(
        "{passed} passed, {failed} failed, exit code {}",
        arch.passed_code()
    ))
}

/// Parses `N passed, N failed` (optionally `, N skipped`, optionally after
/// one `word:`), the closing line of a kernel run.
pub(crate) fn parse_summary(line: &str) -> Option<(u32, u32)> {
    let mut rest = line.trim();
    if let Some((head, tail)) = rest.split_once(": ")
        && !head.contains(' ')
    {
        rest = tail;
    }
    let mut parts = rest.split(", ");
    let passed = parts.next()?.strip_suffix(" passed")?.parse().ok()?;
    let failed = parts.next()?.strip_suffix(" failed")?.parse().ok()?;
    match parts.next() {
        None => {}
        Some(s) => {
            s.strip_suffix(" skipped")?.parse::<u32>().ok()?;
        }
    }
    parts.next().is_none().then_some((passed, failed))
}

/// The directory cargo builds into.
pub(crate) fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                util::root().join(dir)
            }
        }
        None => util::root().join("target"),
    }
}

/// Builds the hobby kernel in release mode; returns the ELF's path.
pub fn build(arch: Arch) -> Result<PathBuf, Failure> {
    util::stage(&format!("build hobby-kernel ({}, release)", arch.target()));
    Cmd::cargo()
        .args(["build", "-p", "hobby-kernel", "--release", "--target"])
        .arg(arch.target())
        .run()?;
    let elf = target_dir()
        .join(arch.target())
        .join("release")
        .join("hobby-kernel");
    if elf.is_file() {
        Ok(elf)
    } else {
        Err(Failure::new(format!(
            "built, but {} is missing",
            elf.display()
        )))
    }
}

/// Runs QEMU, streaming the kernel's output, and kills it after
/// [`BOOT_TIMEOUT`].
fn boot(arch: Arch, kernel: &Path, extra: &[String]) -> Result<Boot, Failure> {
    let mut cmd = arch.command(kernel, extra);
    let shown = format!("{cmd:?}").replace('"', "");
    println!("$ {shown}");
    let mut child = cmd
        .current_dir(util::root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| Failure::new(format!("cannot run {}: {e}", arch.qemu())))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        let mut out = std::io::stdout();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + BOOT_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = reader.join();
                return Err(Failure::new(format!(
                    "{} did not finish within {} s; killed",
                    arch.qemu(),
                    BOOT_TIMEOUT.as_secs()
                )));
            }
            Ok(None) => thread::sleep(Duration::from_millis(50)),
            Err(e) => {
                let _ = child.kill();
                return Err(Failure::new(format!("waiting for {}: {e}", arch.qemu())));
            }
        }
    };
    let _ = reader.join();
    let lines = rx.try_iter().collect();
    Ok(Boot {
        code: status.code(),
        status: status.to_string(),
        lines,
    })
}

/// Whether `program --version` runs.
pub(crate) fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

const QEMU_BINARIES: [&str; 2] = ["qemu-system-x86_64", "qemu-system-aarch64"];
const APT_PACKAGES: [&str; 2] = ["qemu-system-x86", "qemu-system-arm"];

/// Makes sure both QEMU system emulators run, installing them with apt-get
/// when we are root on a Debian-like system; otherwise says what to install.
pub fn ensure_qemu() -> Result<(), Failure> {
    let missing: Vec<&str> = QEMU_BINARIES.into_iter().filter(|b| !runs(b)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = Cmd::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|uid| uid.trim() == "0");
    if !is_root || !runs_apt() {
        return Err(Failure::new(format!(
            "{} not found. Install QEMU's system emulators:\n  \
             Debian/Ubuntu: sudo apt-get install qemu-system-x86 qemu-system-arm\n  \
             Fedora:        sudo dnf install qemu-system-x86 qemu-system-aarch64\n  \
             macOS:         brew install qemu",
            missing.join(" and ")
        )));
    }
    util::stage("install QEMU (apt-get)");
    apt(&["update"])?;
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(APT_PACKAGES);
    if apt(&install).is_err() {
        // Some images carry a newer qemu-utils (from backports) than the
        // release's qemu-system packages, and it `Breaks` the older
        // qemu-system-common. Install the matching qemu-utils alongside.
        let version = candidate_version("qemu-system-common")?;
        let pin = format!("qemu-utils={version}");
        println!("xtask: retrying with {pin} to match qemu-system-common");
        let mut retry = install.clone();
        retry.push("--allow-downgrades");
        retry.push(&pin);
        apt(&retry)?;
    }
    let still: Vec<&str> = QEMU_BINARIES.into_iter().filter(|b| !runs(b)).collect();
    if still.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "apt-get installed {}, but {} still does not run",
            APT_PACKAGES.join(" "),
            still.join(" and ")
        )))
    }
}

pub(crate) fn runs_apt() -> bool {
    Command::new("apt-get")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub(crate) fn apt(args: &[&str]) -> Result<(), Failure> {
    Cmd::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run()
}

/// The version apt would install for `package`.
fn candidate_version(package: &str) -> Result<String, Failure> {
    let policy = Cmd::new("apt-cache").args(["policy", package]).output()?;
    policy
        .lines()
        .find_map(|l| l.trim().strip_prefix("Candidate: "))
        .filter(|v| *v != "(none)")
        .map(str::to_owned)
        .ok_or_else(|| Failure::new(format!("apt has no candidate for {package}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lines() {
        assert_eq!(parse_summary("22 passed, 0 failed"), Some((22, 0)));
        assert_eq!(
            parse_summary("22 passed, 1 failed, 1 skipped"),
            Some((22, 1))
        );
        assert_eq!(parse_summary("kernel: 3 passed, 2 failed\r"), Some((3, 2)));
        assert_eq!(parse_summary("ok - 3 passed, 2 failed"), None);
        assert_eq!(parse_summary("3 passed"), None);
        assert_eq!(parse_summary("3 passed, x failed"), None);
        assert_eq!(parse_summary("3 passed, 2 failed, 1 flaky"), None);
        assert_eq!(parse_summary(""), None);
    }

    #[test]
    fn judging() {
        let boot = |code: i32, last: &str| Boot {
            status: format!("exit status: {code}"),
            code: Some(code),
            lines: vec!["ok - a".into(), last.into()],
        };
        assert!(judge(Arch::X86_64, &boot(33, "1 passed, 0 failed")).is_ok());
        assert!(judge(Arch::X86_64, &boot(35, "1 passed, 0 failed")).is_err());
        assert!(judge(Arch::X86_64, &boot(33, "1 passed, 1 failed")).is_err());
        assert!(judge(Arch::X86_64, &boot(33, "ok - b")).is_err());
        assert!(judge(Arch::Aarch64, &boot(0, "1 passed, 0 failed")).is_ok());
        assert!(judge(Arch::Aarch64, &boot(33, "1 passed, 0 failed")).is_err());
        assert!(judge(Arch::Aarch64, &boot(0, "0 passed, 0 failed")).is_err());
    }

    #[test]
    fn arch_names() {
        assert_eq!(Arch::parse("x86_64").unwrap(), Arch::X86_64);
        assert_eq!(Arch::parse("arm64").unwrap(), Arch::Aarch64);
        assert!(Arch::parse("riscv64").is_err());
    }
}

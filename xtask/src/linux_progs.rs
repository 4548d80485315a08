//! `cargo xtask linux-progs`: builds `tests/linux-progs` (static Linux
//! programs without libc, for both arches) and checks them where Linux
//! really runs.
//!
//! ```text
//! cargo xtask linux-progs [--arch x86_64|aarch64] [--run-native] [--run-kernel] [--run-runner]
//! ```
//!
//! - `--run-native`: x86_64 programs run on this (x86_64 Linux) host,
//!   aarch64 ones under `qemu-aarch64` (Debian's `qemu-user`, installed
//!   with apt-get when missing). qemu-user emulates `mmap`, `brk` and
//!   signal delivery itself and gets a few edge cases wrong
//!   ([`QEMU_USER_DEVIATIONS`]); under it exactly those checks must fail
//!   and every other must pass.
//! - `--run-kernel`: Debian's cloud kernel booted in QEMU with the
//!   programs in its initramfs ([`crate::linux_boot`]): real Linux on both
//!   arches, where every check must pass.
//! - `--run-runner`: under our Linux personality (`cargo xtask linux`),
//!   where every check must pass too, except the programs
//!   [`RUNNER_UNSUPPORTED`] names (not run, and said so).
//!
//! A run passes when the program printed its closing `N passed, 0 failed`
//! line with N > 0, no `not ok` line, and ended as [`PROGRAMS`] says
//! (`mm-edges` dies by `SIGSEGV`: 139 in a shell). `cargo xtask test` runs
//! [`test_stage`]: the three places on both arches.
//!
//! The Linux personality's `cargo xtask linux` puts these programs into
//! its guest tree with [`build`].

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::linux_boot::{self, Clock};
use crate::qemu::{self, Arch};
use crate::util::{self, Cmd, Failure};

/// How a program must end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// `exit_group(n)`.
    Exit(i32),
    /// Killed by signal `s` (a shell reports `128 + s`).
    Signal(i32),
}

/// A test program and how it must end on Linux.
pub struct Program {
    pub name: &'static str,
    pub end: End,
}

/// The checking programs (the benchmarks and `init` are built too, see
/// [`build`]).
pub const PROGRAMS: [Program; 5] = [
    Program {
        name: "mm-edges",
        end: End::Signal(11),
    },
    Program {
        name: "sigsegv",
        end: End::Exit(0),
    },
    Program {
        name: "isolation",
        end: End::Exit(0),
    },
    Program {
        name: "fork-cow",
        end: End::Exit(0),
    },
    Program {
        name: "getppid-loop",
        end: End::Exit(0),
    },
];

/// Every binary of the crate.
pub const ALL: [&str; 7] = [
    "mm-edges",
    "sigsegv",
    "isolation",
    "fork-cow",
    "getppid-loop",
    "protect-bench",
    "init",
];

/// Checks whose results qemu-user 7.2 (Debian bookworm) gets wrong for
/// aarch64 guests, as `(program, check)`: it implements these calls in
/// its own code rather than passing them to the host kernel. The booted
/// arm64 kernel (`--run-kernel`) passes every one of them.
pub const QEMU_USER_DEVIATIONS: [(&str, &str); 9] = [
    // Treats MAP_FIXED_NOREPLACE as a plain hint.
    (
        "mm-edges",
        "mmap: MAP_FIXED_NOREPLACE over a mapping is -EEXIST",
    ),
    // Answers -ENOMEM for an empty range.
    ("mm-edges", "mprotect: zero length succeeds"),
    // Its user-memory access check wants PROT_READ with PROT_WRITE.
    ("mm-edges", "mprotect: a PROT_WRITE-only page is writable"),
    // Its brk never unmaps, and ignores the page of gap Linux keeps.
    ("mm-edges", "brk: shrinking unmaps the pages above"),
    (
        "mm-edges",
        "brk: up to a mapping fails (Linux keeps a page of gap)",
    ),
    ("mm-edges", "brk: into a mapping fails"),
    // Reports an undefined instruction as ILL_ILLOPN; arm64 Linux says
    // ILL_ILLOPC.
    ("sigsegv", "undefined instruction: si_code"),
    // Says si_addr 0 for a fault above 1 << 47 (more guest address space
    // than it can back on an x86_64 host); arm64 Linux gives the address.
    ("isolation", "the runner's state page: si_addr"),
    ("isolation", "the runner's heap: si_addr"),
];

/// Programs of [`PROGRAMS`] the Linux personality cannot run yet, with
/// why; every other must pass under it exactly as on Linux.
pub const RUNNER_UNSUPPORTED: [(&str, &str); 1] = [("fork-cow", "fork is not in the runner yet")];

/// Builds every program for `arch` (release); returns `(name, ELF path)`
/// for each of [`ALL`].
pub fn build(arch: Arch) -> Result<Vec<(String, PathBuf)>, Failure> {
    util::stage(&format!("build linux-progs ({}, release)", arch.target()));
    Cmd::cargo()
        .args(["build", "-p", "linux-progs", "--release", "--target"])
        .arg(arch.target())
        .run()?;
    let dir = qemu::target_dir().join(arch.target()).join("release");
    ALL.iter()
        .map(|name| {
            let p = dir.join(name);
            if p.is_file() {
                Ok((name.to_string(), p))
            } else {
                Err(Failure::new(format!(
                    "built, but {} is missing",
                    p.display()
                )))
            }
        })
        .collect()
}

/// What one run printed and how it ended.
pub struct Run {
    pub lines: Vec<String>,
    pub end: Option<End>,
}

/// Where the programs run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// This host (x86_64) or qemu-user (aarch64).
    Native,
    /// Debian's kernel in QEMU.
    Kernel,
    /// Our Linux personality (`tests/linux-runner`) on the hobby kernel in
    /// QEMU, in a shared process.
    Runner,
}

/// `cargo xtask linux-progs [--arch A] [--run-native] [--run-kernel] [--run-runner]`.
pub fn command(args: &[String]) -> Result<(), Failure> {
    let mut arches = vec![Arch::X86_64, Arch::Aarch64];
    let mut places = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--arch" => {
                let v = it
                    .next()
                    .ok_or_else(|| Failure::new("`--arch` needs a value"))?;
                arches = vec![Arch::parse(v)?];
            }
            "--run-native" => places.push(Place::Native),
            "--run-kernel" => places.push(Place::Kernel),
            "--run-runner" => places.push(Place::Runner),
            other => {
                return Err(Failure::new(format!(
                    "`linux-progs` takes --arch x86_64|aarch64, --run-native, --run-kernel, --run-runner; got `{other}`"
                )));
            }
        }
    }
    let mut failures = Vec::new();
    for arch in arches {
        let built = build(arch)?;
        for (name, path) in &built {
            println!("xtask: {name}: {}", path.display());
        }
        for &place in &places {
            if let Err(f) = check(arch, place, &built) {
                failures.push(f.to_string());
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(failures.join("\n")))
    }
}

/// The `linux-progs` stage of `cargo xtask test`: every program on this
/// host (x86_64), under qemu-aarch64, and in Debian's kernel on both
/// arches (a few seconds a boot once the kernels are cached).
pub fn test_stage() -> Result<(), Failure> {
    let mut failures = Vec::new();
    for arch in [Arch::X86_64, Arch::Aarch64] {
        let built = build(arch)?;
        for place in [Place::Native, Place::Kernel, Place::Runner] {
            if let Err(f) = check(arch, place, &built) {
                failures.push(f.to_string());
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(failures.join("\n")))
    }
}

/// Runs every program of [`PROGRAMS`] at `place` and judges each.
fn check(arch: Arch, place: Place, built: &[(String, PathBuf)]) -> Result<(), Failure> {
    let path = |name: &str| {
        built
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| Failure::new(format!("{name} was not built")))
    };
    let mut runs = Vec::new();
    match place {
        Place::Native => {
            util::stage(&format!(
                "linux-progs on {} ({})",
                arch.target(),
                native_name(arch)
            ));
            if arch == Arch::Aarch64 {
                ensure_qemu_user()?;
            }
            for p in &PROGRAMS {
                runs.push((p, run_native(arch, &path(p.name)?)?));
            }
        }
        Place::Kernel => {
            util::stage(&format!(
                "linux-progs in Debian's kernel ({})",
                arch.target()
            ));
            qemu::ensure_qemu()?;
            let kernel = linux_boot::kernel(arch)?;
            println!("xtask: kernel {}", kernel.version);
            let progs: Vec<(String, PathBuf)> =
                built.iter().filter(|(n, _)| n != "init").cloned().collect();
            let initrd = linux_boot::initramfs(arch, &path("init")?, &progs)?;
            let names: Vec<&str> = PROGRAMS.iter().map(|p| p.name).collect();
            let lines = linux_boot::boot(arch, &kernel, &initrd, &names, Clock::Free)?;
            for (p, run) in PROGRAMS.iter().zip(split_init_runs(&lines, &names)?) {
                runs.push((p, run));
            }
        }
        Place::Runner => {
            util::stage(&format!(
                "linux-progs under the Linux personality ({})",
                arch.target()
            ));
            let runner = crate::linux::build(arch)?;
            for p in &PROGRAMS {
                if let Some((_, why)) = RUNNER_UNSUPPORTED.iter().find(|u| u.0 == p.name) {
                    println!("xtask: {} {}: not run: {why}", arch.target(), p.name);
                    continue;
                }
                runs.push((p, run_runner(&runner, p.name, &path(p.name)?)?));
            }
        }
    }
    let mut failures = Vec::new();
    for (p, run) in &runs {
        let expected: Vec<&str> = match (arch, place) {
            (Arch::Aarch64, Place::Native) => QEMU_USER_DEVIATIONS
                .iter()
                .filter(|d| d.0 == p.name)
                .map(|d| d.1)
                .collect(),
            _ => Vec::new(),
        };
        match judge(p, run, &expected) {
            Ok(s) => println!("xtask: {} {}: {s}", arch.target(), p.name),
            Err(f) => {
                println!("xtask: {} {}: FAILED: {f}", arch.target(), p.name);
                failures.push(format!("{} {} ({place:?}): {f}", arch.target(), p.name));
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(failures.join("\n")))
    }
}

fn native_name(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "this host",
        Arch::Aarch64 => "qemu-aarch64",
    }
}

/// Runs one program with an empty environment and no core dumps; x86_64
/// directly, aarch64 under qemu-aarch64.
fn run_native(arch: Arch, path: &std::path::Path) -> Result<Run, Failure> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg("ulimit -c 0 && exec \"$@\"").arg("sh");
    if arch == Arch::Aarch64 {
        cmd.arg("qemu-aarch64");
    }
    cmd.arg(path);
    println!("$ {}", format!("{cmd:?}").replace('"', ""));
    let out = cmd
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir("/")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Failure::new(format!("cannot run {}: {e}", path.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    let end = match (out.status.code(), out.status.signal()) {
        (Some(c), _) => Some(End::Exit(c)),
        (None, Some(s)) => Some(End::Signal(s)),
        _ => None,
    };
    Ok(Run {
        lines: text.lines().map(str::to_owned).collect(),
        end,
    })
}

/// Runs one program under the Linux personality as `/bin/<name>`; a
/// status above 128 is a death by signal `status - 128`, as a shell says
/// it (the runner reports it so).
fn run_runner(
    built: &crate::linux::Built,
    name: &str,
    path: &std::path::Path,
) -> Result<Run, Failure> {
    let guest = format!("/bin/{name}");
    let req = crate::linux::Request {
        argv: vec![guest.clone()],
        files: vec![(path.to_path_buf(), guest)],
        ..crate::linux::Request::default()
    };
    let out = crate::linux::run_built(built, &req)?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    let end = match out.status {
        Ok(s) if s > 128 => Some(End::Signal(i32::from(s) - 128)),
        Ok(s) => Some(End::Exit(i32::from(s))),
        Err(why) => {
            println!("xtask: {name}: no status: {why}");
            None
        }
    };
    Ok(Run {
        lines: text.lines().map(str::to_owned).collect(),
        end,
    })
}

/// Splits a boot's console into one [`Run`] per program, at `/init`'s
/// `init: <name> exited <n>` / `init: <name> killed by signal <s>` lines.
pub fn split_init_runs(lines: &[String], names: &[&str]) -> Result<Vec<Run>, Failure> {
    let mut runs = Vec::new();
    let mut current = Vec::new();
    let mut next = names.iter();
    for line in lines {
        let Some(rest) = line.trim().strip_prefix("init: ") else {
            current.push(line.clone());
            continue;
        };
        let Some(&name) = next.next() else {
            return Err(Failure::new(format!("unexpected `{line}`")));
        };
        let end = rest.strip_prefix(name).and_then(|r| {
            if let Some(c) = r.strip_prefix(" exited ") {
                c.trim().parse().ok().map(End::Exit)
            } else {
                r.strip_prefix(" killed by signal ")
                    .and_then(|s| s.trim().parse().ok())
                    .map(End::Signal)
            }
        });
        if end.is_none() {
            return Err(Failure::new(format!("/init said `{line}` for {name}")));
        }
        runs.push(Run {
            lines: std::mem::take(&mut current),
            end,
        });
    }
    if runs.len() != names.len() {
        return Err(Failure::new(format!(
            "/init reported {} of {} programs",
            runs.len(),
            names.len()
        )));
    }
    Ok(runs)
}

/// Judges one run: the closing line, the `not ok` lines (exactly
/// `deviations` may fail), and how it ended.
pub fn judge(p: &Program, run: &Run, deviations: &[&str]) -> Result<String, Failure> {
    let (passed, failed) = run
        .lines
        .iter()
        .rev()
        .find_map(|l| qemu::parse_summary(l))
        .ok_or_else(|| {
            Failure::new(format!(
                "no `N passed, N failed` line (ended {:?})",
                run.end
            ))
        })?;
    let not_ok: Vec<&str> = run
        .lines
        .iter()
        .filter_map(|l| l.trim().strip_prefix("not ok - "))
        .collect();
    // `not ok - <name>: <why>`, where the why is `got ...` or `false`
    // (linux-progs' `Report`); names may hold `: ` themselves.
    let deviates = |l: &str, d: &str| {
        l.strip_prefix(d)
            .and_then(|r| r.strip_prefix(": "))
            .is_some_and(|why| why.starts_with("got ") || why == "false")
    };
    let unexpected: Vec<&str> = not_ok
        .iter()
        .copied()
        .filter(|l| !deviations.iter().any(|d| deviates(l, d)))
        .collect();
    if !unexpected.is_empty() {
        return Err(Failure::new(format!("not ok: {}", unexpected.join("; "))));
    }
    let missing: Vec<&str> = deviations
        .iter()
        .copied()
        .filter(|d| !not_ok.iter().any(|l| deviates(l, d)))
        .collect();
    if !missing.is_empty() {
        return Err(Failure::new(format!(
            "expected to fail under qemu-user but passed (update QEMU_USER_DEVIATIONS): {}",
            missing.join("; ")
        )));
    }
    if passed == 0 || failed as usize != not_ok.len() {
        return Err(Failure::new(format!(
            "{passed} passed, {failed} failed, but {} `not ok` lines",
            not_ok.len()
        )));
    }
    // A program with a failed check exits 1 instead of ending as usual.
    let want = if deviations.is_empty() {
        p.end
    } else {
        End::Exit(1)
    };
    if run.end != Some(want) {
        return Err(Failure::new(format!(
            "{passed} passed, {failed} failed, but ended {:?}, expected {want:?}",
            run.end
        )));
    }
    Ok(format!(
        "{passed} passed, {failed} failed{}, ended {want:?}",
        if failed > 0 {
            " (qemu-user's known deviations)"
        } else {
            ""
        }
    ))
}

/// Makes sure `qemu-aarch64` runs, installing Debian's `qemu-user` with
/// apt-get when we are root; fails with what to install otherwise.
pub fn ensure_qemu_user() -> Result<(), Failure> {
    if qemu::runs("qemu-aarch64") {
        return Ok(());
    }
    let is_root = Cmd::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|u| u.trim() == "0");
    if !is_root || !qemu::runs_apt() {
        return Err(Failure::new(
            "qemu-aarch64 not found: install qemu-user (Debian/Ubuntu: sudo apt-get install qemu-user)",
        ));
    }
    util::stage("install qemu-user (apt-get)");
    qemu::apt(&["update"])?;
    qemu::apt(&["install", "-y", "--no-install-recommends", "qemu-user"])?;
    if qemu::runs("qemu-aarch64") {
        Ok(())
    } else {
        Err(Failure::new(
            "apt-get installed qemu-user, but qemu-aarch64 still does not run",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    const MM: Program = Program {
        name: "mm-edges",
        end: End::Signal(11),
    };

    #[test]
    fn judging_a_run() {
        let run = |text: &str, end| Run {
            lines: lines(text),
            end: Some(end),
        };
        let good = "ok - a\nok - b: c\n2 passed, 0 failed\n# dying";
        assert!(judge(&MM, &run(good, End::Signal(11)), &[]).is_ok());
        assert!(
            judge(&MM, &run(good, End::Exit(0)), &[]).is_err(),
            "wrong end"
        );
        assert!(
            judge(&MM, &run("ok - a\n", End::Signal(11)), &[]).is_err(),
            "no summary"
        );
        assert!(judge(&MM, &run("0 passed, 0 failed", End::Signal(11)), &[]).is_err());
        let bad = "ok - a\nnot ok - b: c: got 1, want 2\n1 passed, 1 failed";
        assert!(judge(&MM, &run(bad, End::Exit(1)), &[]).is_err());
        // A known deviation must fail, and only it.
        assert!(judge(&MM, &run(bad, End::Exit(1)), &["b: c"]).is_ok());
        assert!(
            judge(&MM, &run(bad, End::Exit(1)), &["b"]).is_err(),
            "names match whole"
        );
        assert!(
            judge(&MM, &run(good, End::Exit(1)), &["a"]).is_err(),
            "stale deviation"
        );
        let lying = "not ok - b: c: x\n1 passed, 0 failed";
        assert!(judge(&MM, &run(lying, End::Exit(1)), &["b: c"]).is_err());
    }

    #[test]
    fn splitting_a_boot() {
        let boot = lines(
            "[ 0.1] kernel\nok - a\n1 passed, 0 failed\ninit: one killed by signal 11\n\
             ok - b\n1 passed, 0 failed\ninit: two exited 0\n[ 2.0] reboot: Power down",
        );
        let runs = split_init_runs(&boot, &["one", "two"]).unwrap();
        assert_eq!(runs[0].end, Some(End::Signal(11)));
        assert_eq!(runs[0].lines.last().unwrap(), "1 passed, 0 failed");
        assert_eq!(runs[1].end, Some(End::Exit(0)));
        assert_eq!(runs[1].lines, ["ok - b", "1 passed, 0 failed"]);
        assert!(split_init_runs(&boot, &["one", "two", "three"]).is_err());
        assert!(split_init_runs(&boot, &["one", "six"]).is_err());
        assert!(split_init_runs(&lines("init: one exited x"), &["one"]).is_err());
    }
}

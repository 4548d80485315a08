//! `cargo xtask`: the project's commands.
//!
//! - `cargo xtask test`: everything a change must pass (formatting, clippy
//!   on the host and both bare-metal targets (the crate and the hobby
//!   kernel), host tests, rustdoc, the
//!   bare-metal builds). Installs the rustup targets and components it needs.
//!   Last, the `qemu` stage boots `tests/hobby-kernel` on x86_64 (twice:
//!   default CPU and `-cpu max`) and aarch64 and checks its report
//!   (installing QEMU with apt-get when run as root and it is missing).
//!   Then the `linux` conformance stage runs Debian's busybox in
//!   restricted mode under `tests/linux-runner` on both arches and compares
//!   stdout and exit status byte for byte with the same busybox run
//!   natively (see `conformance`).
//!   Then the `linux-progs` stage runs `tests/linux-progs` natively, under
//!   qemu-aarch64 and in Debian's kernel booted in QEMU (see
//!   `linux_progs`).
//! - `cargo xtask linux-progs [--arch A] [--run-native] [--run-kernel] [--run-runner]`:
//!   builds the static Linux test programs and runs them.
//! - `cargo xtask run [--arch x86_64|aarch64] [-- <qemu args>]`: builds the
//!   hobby kernel and boots it in QEMU, streaming its serial output, then
//!   ends with a short busybox demo in restricted mode on the same arch.
//! - `cargo xtask linux [--arch A] [--file H:G]... [--stdin F] [--stats] --
//!   ARGV...`: runs a Linux command line under the runner (`linux`).
//! - `cargo xtask linux-conformance`: the conformance stage alone.
//! - `cargo xtask package`: the packaged-crate stage alone (`package`).
//! - `cargo xtask bench [--runs N]`: the benchmarks against their peers;
//!   writes `docs/bench-results.md` and `docs/bench-ratios.svg`.

mod archive;
mod bench;
mod busybox;
mod conformance;
mod fuzz;
mod linux;
mod linux_boot;
mod linux_progs;
mod package;
mod qemu;
mod util;

use std::process::ExitCode;

use util::{Cmd, Failure};

const BARE_METAL_TARGETS: [&str; 2] = ["x86_64-unknown-none", "aarch64-unknown-none"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("run") => ensure_toolchain().and_then(|()| qemu::run(&args[1..])),
        // The restricted-mode and switch rows boot the hobby kernel: its
        // targets must be there (a fresh machine has none).
        Some("bench") => ensure_toolchain().and_then(|()| bench::run(&args[1..])),
        Some("linux-conformance") => ensure_toolchain().and_then(|()| conformance::stage()),
        Some("linux") => {
            util::to_stderr(true);
            return match ensure_toolchain().and_then(|()| linux::command(&args[1..])) {
                Ok(code) => ExitCode::from(code),
                Err(f) => {
                    eprintln!("xtask linux: {f}; exit status {}", linux::FAILED);
                    ExitCode::from(linux::FAILED)
                }
            };
        }
        Some("fuzz") => fuzz::command(&args[1..]),
        Some("package") => package::stage(),
        Some("linux-progs") => ensure_toolchain().and_then(|()| linux_progs::command(&args[1..])),
        Some("help") | Some("--help") | Some("-h") | None => {
            print_help();
            Ok(())
        }
        Some(other) => Err(Failure::new(format!(
            "unknown command `{other}`; try `cargo xtask help`"
        ))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("xtask: {f}");
            ExitCode::FAILURE
        }
    }
}

fn print_help() {
    println!(
        "cargo xtask <command>\n\n\
         test    run every check a change must pass (ends by booting the\n\
         \x20       hobby kernel in QEMU on both arches)\n\
         run     [--arch x86_64|aarch64] [-- <qemu args>]: boot the hobby\n\
         \x20       kernel in QEMU (default x86_64), then a busybox demo\n\
         linux   [--arch A] [--file HOST:GUEST]... [--stdin FILE] [--stats]\n\
         \x20       [--verbose] -- ARGV...: run Debian's busybox (or ARGV[0]\n\
         \x20       from /bin) in restricted mode; stdout and exit status\n\
         \x20       are the program's (125: the kernel or runner failed)\n\
         linux-conformance: busybox under the runner vs native, both arches\n\
         bench   [--runs N] [--serial ARCH=FILE]: benchmarks against their\n\
         \x20       peers; writes docs/bench-results.md and the plot\n\
         fuzz    [--time S] [TARGET...]: run the fuzz targets\n\
         package the packaged crate's own tests (a stage of `test`)\n\
         linux-progs [--arch A] [--run-native] [--run-kernel] [--run-runner]:\n\
         \x20       build the static Linux test programs; run them on this\n\
         \x20       host and qemu-aarch64, in Debian's kernel booted in QEMU,\n\
         \x20       or under our Linux personality\n\
         help    this text"
    );
}

/// Installs the pinned toolchain's targets and components (rustup does not
/// add a toolchain file's targets by itself on every version).
fn ensure_toolchain() -> Result<(), Failure> {
    let installed = Cmd::new("rustup")
        .args(["target", "list", "--installed"])
        .output()?;
    let missing: Vec<&str> = BARE_METAL_TARGETS
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if !missing.is_empty() {
        Cmd::new("rustup")
            .args(["target", "add"])
            .args(missing)
            .run()?;
    }
    let components = Cmd::new("rustup")
        .args(["component", "list", "--installed"])
        .output()?;
    for c in ["clippy", "rustfmt"] {
        if !components.lines().any(|l| l.starts_with(c)) {
            Cmd::new("rustup").args(["component", "add", c]).run()?;
        }
    }
    Ok(())
}

fn test(args: &[String]) -> Result<(), Failure> {
    if let Some(a) = args.first() {
        return Err(Failure::new(format!("`test` takes no argument, got `{a}`")));
    }
    ensure_toolchain()?;
    util::stage("format");
    Cmd::cargo().args(["fmt", "--all", "--", "--check"]).run()?;
    util::stage("clippy (host, all targets)");
    Cmd::cargo()
        .args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ])
        .run()?;
    for target in BARE_METAL_TARGETS {
        util::stage(&format!("clippy ({target})"));
        Cmd::cargo()
            .args([
                "clippy",
                "-p",
                "zx-subsystem",
                "-p",
                "hobby-kernel",
                "-p",
                "linux-progs",
                "-p",
                "linux-runner",
                "-p",
                "zx-user",
                "--target",
                target,
                "--",
                "-D",
                "warnings",
            ])
            .run()?;
        util::stage(&format!("build ({target}, release)"));
        Cmd::cargo()
            .args([
                "build",
                "-p",
                "zx-subsystem",
                "--release",
                "--target",
                target,
            ])
            .run()?;
    }
    util::stage("host tests");
    Cmd::cargo().args(["test", "--workspace"]).run()?;
    bench::test_mode()?;
    util::stage("rustdoc");
    Cmd::cargo()
        .args([
            "doc",
            "-p",
            "zx-subsystem",
            "--no-deps",
            "--features",
            "sim",
        ])
        .env("RUSTDOCFLAGS", "-D warnings")
        .run()?;
    Cmd::cargo()
        .args(["doc", "-p", "linux-progs", "--no-deps"])
        .env("RUSTDOCFLAGS", "-D warnings")
        .run()?;
    package::stage()?;
    util::stage("qemu");
    qemu::test_all()?;
    // Debian's busybox under the runner, both arches, byte for byte
    // against the same busybox run natively (fetched on first use).
    conformance::stage()?;
    util::stage(
        "linux-progs (this host, qemu-aarch64, Debian's kernel in QEMU, our Linux personality)",
    );
    linux_progs::test_stage()?;
    fuzz::ci_stage()?;
    util::stage("all checks passed");
    Ok(())
}

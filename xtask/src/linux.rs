//! `cargo xtask linux [--arch A] [--file HOST:GUEST]... [--stdin FILE]
//! [--stats] [--verbose] -- ARGV...`: runs a Linux program (Debian's
//! `busybox-static`) under `tests/linux-runner` on the hobby kernel in
//! QEMU, as `/work/shared/LINUX.md` specifies.
//!
//! The xtask builds the runner and the kernel, packs the guest's files
//! into an archive ([`crate::archive`]), and places a blob (header, runner
//! ELF, archive, argv; the kernel's `linux/blob.rs`) in guest RAM with
//! QEMU's generic loader. The kernel's serial console carries frames
//! (`linux/frame.rs`): `0x00 'Z' stream len16 payload`; everything outside
//! frames is the kernel's own log. The program's stdout goes to ours
//! unchanged, its stderr to our stderr; logs only with `--verbose`; the
//! `--stats` report on stderr after the run.
//!
//! Exit status: the program's (`exit_group(n)` → `n & 0xff`, signal `s` →
//! `128 + s`); [`FAILED`] (125) when the runner, the kernel or QEMU failed,
//! with a message on stderr saying which.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::archive::{Node, Tree};
use crate::busybox;
use crate::qemu::{self, Arch};
use crate::util::{self, Cmd, Failure};

/// The status `cargo xtask linux` exits with when anything but the
/// program failed.
pub const FAILED: u8 = 125;
/// How long one run may take.
const TIMEOUT: Duration = Duration::from_secs(300);
/// Where the blob goes, from the start of RAM (the kernel's `BLOB_OFFSET`).
const BLOB_OFFSET: u64 = 96 << 20;
/// RAM for linux mode.
const RAM_MIB: u64 = 512;

/// What one run asks for.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// `argv`.
    pub argv: Vec<String>,
    /// Host files to copy in: (host path, guest path).
    pub files: Vec<(PathBuf, String)>,
    /// Extra guest files given as bytes (the conformance cases).
    pub data: Vec<(String, Vec<u8>)>,
    /// What fd 0 reads.
    pub stdin: Option<Vec<u8>>,
    /// `--stats`.
    pub stats: bool,
    /// `--verbose`.
    pub verbose: bool,
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The program's stdout.
    pub stdout: Vec<u8>,
    /// Its stderr.
    pub stderr: Vec<u8>,
    /// The runner's log.
    pub log: Vec<u8>,
    /// The `--stats` report.
    pub stats: Vec<u8>,
    /// The kernel's text outside frames.
    pub kernel: Vec<u8>,
    /// The Linux status, or why there is none.
    pub status: Result<u8, String>,
}

impl Default for Outcome {
    fn default() -> Self {
        Outcome {
            stdout: Vec::new(),
            stderr: Vec::new(),
            log: Vec::new(),
            stats: Vec::new(),
            kernel: Vec::new(),
            status: Err("not run".into()),
        }
    }
}

/// The built pieces for one arch.
pub struct Built {
    arch: Arch,
    kernel: PathBuf,
    runner: Vec<u8>,
    busybox: Vec<u8>,
    applets: Vec<String>,
}

/// The signal trampoline of each arch (`rt_sigreturn` by syscall).
fn trampoline(arch: Arch) -> &'static [u8] {
    match arch {
        Arch::X86_64 => &[0xb8, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05],
        Arch::Aarch64 => &[0x68, 0x11, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4],
    }
}

pub fn arch_name(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "x86_64",
        Arch::Aarch64 => "aarch64",
    }
}

/// The applets of the (amd64) busybox, from `busybox --list`: the arm64
/// build of the same package has the same configuration.
fn applets() -> Result<Vec<String>, Failure> {
    let bb = busybox::binary("x86_64")?;
    let out = Cmd::new(&bb).arg("--list").output()?;
    Ok(out
        .lines()
        .map(str::to_owned)
        .filter(|a| !a.is_empty() && a != "busybox")
        .collect())
}

/// Builds the runner and kernel for `arch` and fetches busybox.
pub fn build(arch: Arch) -> Result<Built, Failure> {
    util::stage(&format!("build linux-runner ({}, release)", arch.target()));
    Cmd::cargo()
        .args([
            "build",
            "-p",
            "linux-runner",
            "--release",
            "--target",
            arch.target(),
        ])
        .run()?;
    let runner_path = qemu::target_dir()
        .join(arch.target())
        .join("release")
        .join("linux-runner");
    let runner = std::fs::read(&runner_path)
        .map_err(|e| Failure::new(format!("{}: {e}", runner_path.display())))?;
    let kernel = qemu::build(arch)?;
    let bb = busybox::binary(arch_name(arch))?;
    let busybox = std::fs::read(&bb).map_err(|e| Failure::new(format!("{}: {e}", bb.display())))?;
    Ok(Built {
        arch,
        kernel,
        runner,
        busybox,
        applets: applets()?,
    })
}

impl Built {
    /// The applet names (for `/bin` links).
    pub fn applets(&self) -> &[String] {
        &self.applets
    }
}

/// The tree every run has, plus the request's files.
pub fn tree(busybox: &[u8], applets: &[String], req: &Request) -> Result<Tree, Failure> {
    let mut t = Tree::default();
    for d in ["bin", "etc", "root", "tmp", "dev"] {
        t.add(
            d,
            Node::Dir(if d == "tmp" {
                0o1777
            } else if d == "root" {
                0o700
            } else {
                0o755
            }),
        );
    }
    t.add("bin/busybox", Node::File(0o755, busybox.to_vec()));
    for a in applets {
        t.add(&format!("bin/{a}"), Node::Symlink("busybox".into()));
    }
    t.add(
        "etc/passwd",
        Node::File(0o644, b"root:x:0:0:root:/root:/bin/sh\n".to_vec()),
    );
    t.add("etc/group", Node::File(0o644, b"root:x:0:\n".to_vec()));
    for (host, guest) in &req.files {
        let data = std::fs::read(host)
            .map_err(|e| Failure::new(format!("--file {}: {e}", host.display())))?;
        t.add_parents(guest);
        t.add(guest, Node::File(0o644, data));
    }
    for (guest, data) in &req.data {
        t.add_parents(guest);
        t.add(guest, Node::File(0o644, data.clone()));
    }
    Ok(t)
}

fn blob(b: &Built, req: &Request, tree: &Tree) -> Vec<u8> {
    let mut specials: Vec<(&str, &[u8])> = vec![("!sigtramp", trampoline(b.arch))];
    if let Some(s) = &req.stdin {
        specials.push(("!stdin", s));
    }
    let archive = tree.archive(&specials);
    let mut argv = Vec::new();
    for a in &req.argv {
        argv.extend_from_slice(a.as_bytes());
        argv.push(0);
    }
    let page = |n: usize| n.next_multiple_of(4096);
    let runner_off = 4096;
    let archive_off = runner_off + page(b.runner.len());
    let argv_off = archive_off + page(archive.len());
    let total = argv_off + page(argv.len().max(1));
    let mut out = vec![0u8; total];
    let put = |o: &mut Vec<u8>, at: usize, v: u64| o[at..at + 8].copy_from_slice(&v.to_le_bytes());
    out[..8].copy_from_slice(b"ZXLINUX1");
    out[8..12].copy_from_slice(&1u32.to_le_bytes());
    let flags = u32::from(req.stats) | (u32::from(req.verbose) << 1);
    out[12..16].copy_from_slice(&flags.to_le_bytes());
    put(&mut out, 16, total as u64);
    put(&mut out, 24, runner_off as u64);
    put(&mut out, 32, b.runner.len() as u64);
    put(&mut out, 40, archive_off as u64);
    put(&mut out, 48, archive.len() as u64);
    put(&mut out, 56, argv_off as u64);
    put(&mut out, 64, argv.len() as u64);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    put(&mut out, 72, now);
    put(&mut out, 80, now ^ 0x9e37_79b9_7f4a_7c15);
    put(&mut out, 88, RAM_MIB << 20);
    out[runner_off..runner_off + b.runner.len()].copy_from_slice(&b.runner);
    out[archive_off..archive_off + archive.len()].copy_from_slice(&archive);
    out[argv_off..argv_off + argv.len()].copy_from_slice(&argv);
    out
}

/// Splits the console bytes into streams.
pub fn demux(bytes: &[u8], o: &mut Outcome) {
    let mut i = 0;
    let mut end = None;
    while i < bytes.len() {
        if bytes[i] == 0 && bytes.get(i + 1) == Some(&b'Z') && i + 5 <= bytes.len() {
            let stream = bytes[i + 2];
            let len = usize::from(u16::from_le_bytes([bytes[i + 3], bytes[i + 4]]));
            let Some(payload) = bytes.get(i + 5..i + 5 + len) else {
                break;
            };
            match stream {
                1 => o.stdout.extend_from_slice(payload),
                2 => o.stderr.extend_from_slice(payload),
                3 => o.log.extend_from_slice(payload),
                4 => o.stats.extend_from_slice(payload),
                0x7f if len == 16 => {
                    let kind = u64::from_le_bytes(payload[..8].try_into().unwrap_or([0; 8]));
                    let value = u64::from_le_bytes(payload[8..].try_into().unwrap_or([0; 8]));
                    end = Some((kind, value));
                }
                _ => {}
            }
            i += 5 + len;
        } else {
            o.kernel.push(bytes[i]);
            i += 1;
        }
    }
    o.status = match end {
        Some((0, v)) => Ok(v as u8),
        Some((1, v)) => Err(format!("the runner failed (code {v})")),
        Some((2, _)) => Err("the kernel could not run the runner".into()),
        Some((k, v)) => Err(format!("unknown end frame {k}/{v}")),
        None => Err("QEMU stopped without an end frame (kernel crash?)".into()),
    };
}

/// Runs one request on built pieces.
pub fn run_built(b: &Built, req: &Request) -> Result<Outcome, Failure> {
    let t = tree(&b.busybox, &b.applets, req)?;
    let blob = blob(b, req, &t);
    let dir = qemu::target_dir().join("linux");
    std::fs::create_dir_all(&dir).map_err(|e| Failure::new(format!("{}: {e}", dir.display())))?;
    let path = dir.join(format!(
        "blob-{}-{}.bin",
        arch_name(b.arch),
        std::process::id()
    ));
    std::fs::write(&path, &blob).map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
    let r = boot(b, &path);
    let _ = std::fs::remove_file(&path);
    r
}

fn boot(b: &Built, blob: &Path) -> Result<Outcome, Failure> {
    let mut cmd = Command::new(b.arch.qemu());
    let ram_start: u64 = match b.arch {
        Arch::X86_64 => {
            cmd.args([
                "-M",
                "q35",
                "-device",
                "isa-debug-exit,iobase=0xf4,iosize=0x04",
            ]);
            0
        }
        Arch::Aarch64 => {
            cmd.args(["-M", "virt", "-cpu", "cortex-a57", "-semihosting"]);
            0x4000_0000
        }
    };
    cmd.args([
        "-nodefaults",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-no-reboot",
        "-icount",
        "shift=0",
    ]);
    cmd.args(["-m", &format!("{RAM_MIB}M")]);
    cmd.arg("-kernel").arg(&b.kernel);
    cmd.arg("-device").arg(format!(
        "loader,file={},addr={:#x},force-raw=on",
        blob.display(),
        ram_start + BLOB_OFFSET
    ));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Failure::new(format!("cannot run {}: {e}", b.arch.qemu())))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let ereader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let timeout = std::env::var("XTASK_LINUX_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(TIMEOUT, Duration::from_secs);
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                timed_out = true;
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(Failure::new(format!("waiting for QEMU: {e}"))),
        }
    }
    let bytes = reader.join().unwrap_or_default();
    let qemu_err = ereader.join().unwrap_or_default();
    let mut o = Outcome::default();
    demux(&bytes, &mut o);
    o.kernel.extend_from_slice(&qemu_err);
    if timed_out {
        o.status = Err(format!(
            "{} did not finish within {} s; killed",
            b.arch.qemu(),
            timeout.as_secs()
        ));
    }
    Ok(o)
}

/// `cargo xtask linux ...`: returns the exit status to leave with.
pub fn command(args: &[String]) -> Result<u8, Failure> {
    let mut arch = Arch::X86_64;
    let mut req = Request::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| Failure::new(format!("`{name}` needs a value")))
        };
        match a.as_str() {
            "--arch" => arch = Arch::parse(&value("--arch")?)?,
            "--file" => {
                let v = value("--file")?;
                let (h, g) = v
                    .split_once(':')
                    .ok_or_else(|| Failure::new(format!("--file {v}: expected HOST:GUEST")))?;
                if !g.starts_with('/') {
                    return Err(Failure::new(format!(
                        "--file {v}: the guest path must be absolute"
                    )));
                }
                req.files.push((PathBuf::from(h), g.to_owned()));
            }
            "--stdin" => {
                let v = value("--stdin")?;
                req.stdin =
                    Some(std::fs::read(&v).map_err(|e| Failure::new(format!("--stdin {v}: {e}")))?);
            }
            "--stats" => req.stats = true,
            "--verbose" => req.verbose = true,
            "--" => req.argv.extend(it.by_ref().cloned()),
            other => {
                return Err(Failure::new(format!(
                    "`linux` takes [--arch A] [--file HOST:GUEST]... [--stdin FILE] [--stats] [--verbose] -- ARGV..., got `{other}`"
                )));
            }
        }
    }
    if req.argv.is_empty() {
        return Err(Failure::new(
            "`linux` needs a program: cargo xtask linux -- busybox echo hi",
        ));
    }
    qemu::ensure_qemu()?;
    let built = quiet_build(arch, req.verbose)?;
    let o = run_built(&built, &req)?;
    let mut out = std::io::stdout();
    let _ = out.write_all(&o.stdout);
    let _ = out.flush();
    let mut err = std::io::stderr();
    let _ = err.write_all(&o.stderr);
    if req.verbose {
        let _ = err.write_all(&o.kernel);
        let _ = err.write_all(&o.log);
    }
    let _ = err.write_all(&o.stats);
    match o.status {
        Ok(s) => Ok(s),
        Err(why) => {
            if !req.verbose {
                let _ = err.write_all(&o.kernel);
            }
            eprintln!("xtask linux: {why}; exit status {FAILED}");
            Ok(FAILED)
        }
    }
}

/// Builds with cargo's and the stages' output on stderr (stdout is the
/// program's alone).
fn quiet_build(arch: Arch, _verbose: bool) -> Result<Built, Failure> {
    util::to_stderr(true);
    let b = build(arch);
    util::to_stderr(false);
    b
}

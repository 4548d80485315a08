//! Booting Debian's Linux kernel in QEMU with an initramfs of our own
//! programs: `cargo xtask linux-progs --run-kernel` and the Linux stage of
//! `cargo xtask bench`.
//!
//! - [`kernel`] fetches `linux-image-cloud-amd64` / `-arm64` with
//!   `apt-get download` (the metapackage resolved to the real
//!   `linux-image-6.1.0-*-cloud-*` package with `apt-cache depends`; the
//!   arm64 one after `dpkg --add-architecture arm64` and `apt-get update`,
//!   undone afterwards when we added it), extracts it with `dpkg-deb -x`
//!   and keeps only `vmlinuz` under `target/linux-kernel/<arch>/`, with a
//!   `version` file. Nothing fetched leaves `target/`.
//! - [`initramfs`] writes a `newc` cpio: `/init` (linux-progs' `init`),
//!   `/bin/<program>` for each program, `/dev/console`.
//! - [`boot`] runs QEMU (x86_64 `-M q35`, default CPU; aarch64 `-M virt
//!   -cpu cortex-a57`; `-icount shift=0` when asked) with
//!   `console=ttyS0` / `console=ttyAMA0 quiet` and the programs after `--`,
//!   which the kernel hands to `/init` as its arguments; `/init` runs them
//!   one by one and powers the machine off.
//!
//! QEMU loads the arm64 `vmlinuz` (a gzip'd `Image`) itself: its aarch64
//! loader unpacks gzip, so no decompression happens here.

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::qemu::{self, Arch};
use crate::util::{self, Cmd, Failure};

/// A kernel ready to boot.
pub struct Kernel {
    pub image: PathBuf,
    /// `<package> <version>`, e.g. `linux-image-6.1.0-57-cloud-amd64 6.1.192-1`.
    pub version: String,
}

fn deb_arch(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "amd64",
        Arch::Aarch64 => "arm64",
    }
}

/// The cached kernel for `arch`, fetched on first use.
pub fn kernel(arch: Arch) -> Result<Kernel, Failure> {
    let dir = util::root()
        .join("target")
        .join("linux-kernel")
        .join(deb_arch(arch));
    let image = dir.join("vmlinuz");
    let version_file = dir.join("version");
    if let (true, Ok(version)) = (image.is_file(), std::fs::read_to_string(&version_file)) {
        return Ok(Kernel {
            image,
            version: version.trim().to_string(),
        });
    }
    util::stage(&format!("fetch Debian's cloud kernel ({})", deb_arch(arch)));
    let added = match arch {
        Arch::X86_64 => false,
        Arch::Aarch64 => add_foreign_arch("arm64")?,
    };
    let fetched = fetch(arch, &dir);
    if added {
        remove_foreign_arch("arm64")?;
    }
    let version = fetched?;
    std::fs::write(&version_file, format!("{version}\n"))
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", version_file.display())))?;
    Ok(Kernel { image, version })
}

/// Downloads, extracts and keeps `vmlinuz`; returns the version line.
fn fetch(arch: Arch, dir: &Path) -> Result<String, Failure> {
    let da = deb_arch(arch);
    let meta = format!("linux-image-cloud-{da}:{da}");
    let resolve = || -> Result<Option<String>, Failure> {
        let deps = Cmd::new("apt-cache").args(["depends", &meta]).output()?;
        Ok(deps
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Depends: "))
            .map(|p| p.split(':').next().unwrap_or(p).trim())
            .find(|p| p.starts_with("linux-image-") && p.ends_with(&format!("-cloud-{da}")))
            .map(str::to_owned))
    };
    // A fresh machine may have no package lists yet.
    let found = match resolve() {
        Ok(Some(p)) => Some(p),
        _ => {
            qemu::apt(&["update"])?;
            resolve()?
        }
    };
    let package = found.ok_or_else(|| {
        Failure::new(format!(
            "apt-cache depends {meta} names no linux-image-*-cloud-{da} package, \
             even after apt-get update"
        ))
    })?;
    let work = dir.join("download");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)
        .map_err(|e| Failure::new(format!("cannot create {}: {e}", work.display())))?;
    Cmd::new("apt-get")
        .args(["download", &format!("{package}:{da}")])
        .current_dir(&work)
        .run()?;
    let deb = std::fs::read_dir(&work)
        .map_err(|e| Failure::new(format!("{}: {e}", work.display())))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| Failure::new(format!("apt-get download {package} left no .deb")))?;
    let version = Cmd::new("dpkg-deb")
        .arg("-f")
        .arg(&deb)
        .arg("Version")
        .output()?;
    let root = work.join("root");
    Cmd::new("dpkg-deb").arg("-x").arg(&deb).arg(&root).run()?;
    let boot = root.join("boot");
    let vmlinuz = std::fs::read_dir(&boot)
        .map_err(|e| Failure::new(format!("{}: {e}", boot.display())))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .ok_or_else(|| Failure::new(format!("{package} has no /boot/vmlinuz-*")))?;
    std::fs::rename(&vmlinuz, dir.join("vmlinuz"))
        .map_err(|e| Failure::new(format!("cannot keep {}: {e}", vmlinuz.display())))?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(format!("{package} {}", version.trim()))
}

/// Adds a dpkg architecture (and updates apt's lists) unless it is there;
/// returns whether it was added.
fn add_foreign_arch(a: &str) -> Result<bool, Failure> {
    let have = Cmd::new("dpkg")
        .arg("--print-foreign-architectures")
        .output()?;
    if have.lines().any(|l| l.trim() == a) {
        return Ok(false);
    }
    Cmd::new("dpkg").args(["--add-architecture", a]).run()?;
    qemu::apt(&["update"])?;
    Ok(true)
}

/// Undoes [`add_foreign_arch`].
fn remove_foreign_arch(a: &str) -> Result<(), Failure> {
    Cmd::new("dpkg").args(["--remove-architecture", a]).run()?;
    qemu::apt(&["update"])
}

/// One file of the initramfs.
pub struct Entry {
    /// The path inside, without a leading `/`.
    pub path: String,
    /// `st_mode` (type and permissions).
    pub mode: u32,
    /// The contents (empty for directories and devices).
    pub data: Vec<u8>,
    /// `(major, minor)` for device nodes.
    pub rdev: (u32, u32),
}

/// The `newc` cpio archive of `entries`, with its trailer.
pub fn cpio(entries: &[Entry]) -> Vec<u8> {
    fn pad(out: &mut Vec<u8>) {
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }
    let mut out = Vec::new();
    let trailer = Entry {
        path: "TRAILER!!!".into(),
        mode: 0,
        data: Vec::new(),
        rdev: (0, 0),
    };
    for (ino, e) in entries.iter().chain([&trailer]).enumerate() {
        let fields = [
            ino as u32 + 1,
            e.mode,
            0, // uid
            0, // gid
            if e.mode & 0o170000 == 0o040000 { 2 } else { 1 },
            0, // mtime
            e.data.len() as u32,
            0, // devmajor
            0, // devminor
            e.rdev.0,
            e.rdev.1,
            e.path.len() as u32 + 1,
            0, // check
        ];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(e.path.as_bytes());
        out.push(0);
        pad(&mut out);
        out.extend_from_slice(&e.data);
        pad(&mut out);
    }
    out
}

/// Writes the initramfs with `init` as `/init` and each program as
/// `/bin/<name>`; returns its path.
pub fn initramfs(
    arch: Arch,
    init: &Path,
    programs: &[(String, PathBuf)],
) -> Result<PathBuf, Failure> {
    let read =
        |p: &Path| std::fs::read(p).map_err(|e| Failure::new(format!("{}: {e}", p.display())));
    let dir = |path: &str| Entry {
        path: path.into(),
        mode: 0o040755,
        data: Vec::new(),
        rdev: (0, 0),
    };
    let mut entries = vec![
        dir("bin"),
        dir("dev"),
        Entry {
            path: "dev/console".into(),
            mode: 0o020600,
            data: Vec::new(),
            rdev: (5, 1),
        },
        Entry {
            path: "init".into(),
            mode: 0o100755,
            data: read(init)?,
            rdev: (0, 0),
        },
    ];
    for (name, path) in programs {
        entries.push(Entry {
            path: format!("bin/{name}"),
            mode: 0o100755,
            data: read(path)?,
            rdev: (0, 0),
        });
    }
    let out = util::root()
        .join("target")
        .join("linux-kernel")
        .join(format!("initramfs-{}.cpio", deb_arch(arch)));
    std::fs::create_dir_all(out.parent().expect("has a parent"))
        .map_err(|e| Failure::new(format!("{}: {e}", out.display())))?;
    std::fs::write(&out, cpio(&entries))
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", out.display())))?;
    Ok(out)
}

/// Whether QEMU counts instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// `-icount shift=0`: one nanosecond of guest time per instruction.
    Icount,
    /// Plain TCG, as fast as it goes.
    Free,
}

/// How long a boot may take before QEMU is killed.
const TIMEOUT: Duration = Duration::from_secs(300);

/// Boots `kernel` with `initrd`, passing `args` to `/init`; returns the
/// console lines once QEMU has exited (the machine powered off).
pub fn boot(
    arch: Arch,
    kernel: &Kernel,
    initrd: &Path,
    args: &[&str],
    clock: Clock,
) -> Result<Vec<String>, Failure> {
    let mut cmd = Command::new(arch.qemu());
    let console = match arch {
        Arch::X86_64 => {
            cmd.args(["-M", "q35"]);
            "ttyS0"
        }
        Arch::Aarch64 => {
            cmd.args(["-M", "virt", "-cpu", "cortex-a57"]);
            "ttyAMA0"
        }
    };
    cmd.args([
        "-m",
        "512M",
        "-nodefaults",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-no-reboot",
    ]);
    if clock == Clock::Icount {
        cmd.args(["-icount", "shift=0"]);
    }
    cmd.arg("-kernel")
        .arg(&kernel.image)
        .arg("-initrd")
        .arg(initrd);
    cmd.arg("-append").arg(format!(
        "console={console} quiet panic=-1 -- {}",
        args.join(" ")
    ));
    println!("$ {}", format!("{cmd:?}").replace('"', ""));
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
            let line = line.trim_end_matches('\r').to_string();
            let _ = writeln!(out, "{line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = reader.join();
                return Err(Failure::new(format!(
                    "{} did not power off within {} s; killed",
                    arch.qemu(),
                    TIMEOUT.as_secs()
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
    let lines: Vec<String> = rx.try_iter().collect();
    if !status.success() {
        return Err(Failure::new(format!(
            "{} exited with {status}",
            arch.qemu()
        )));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_layout() {
        let a = cpio(&[Entry {
            path: "init".into(),
            mode: 0o100755,
            data: b"abc".to_vec(),
            rdev: (0, 0),
        }]);
        // Header (110 bytes) + "init\0" padded to 116, data padded to 120.
        assert_eq!(&a[..6], b"070701");
        assert_eq!(&a[6..14], b"00000001");
        assert_eq!(&a[14..22], b"000081ed");
        assert_eq!(&a[54..62], b"00000003", "file size");
        assert_eq!(&a[94..102], b"00000005", "name size with NUL");
        assert_eq!(&a[110..115], b"init\0");
        assert_eq!(&a[116..119], b"abc");
        assert_eq!(&a[120..126], b"070701");
        assert!(a.windows(10).any(|w| w == b"TRAILER!!!"));
        assert_eq!(a.len() % 4, 0);
    }
}

//! Fetching Debian's `busybox-static` (bookworm `1:1.35.0-4+deb12u1+b1`)
//! for `cargo xtask linux` and its conformance stage, as
//! `/work/shared/LINUX.md` fixes it: `apt-get download` (for arm64 after
//! `dpkg --add-architecture arm64` and `apt-get update`, undone
//! afterwards), the `.deb`'s SHA-256 checked, `dpkg-deb -x`, cached in
//! `target/busybox/<arch>/`. Nothing fetched is committed.
//!
//! Without apt-get (or not root), a `.deb` with the right hash placed in
//! the cache directory by hand is used; the error message says so.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{self, Cmd, Failure};

/// The package version.
pub const VERSION: &str = "1:1.35.0-4+deb12u1+b1";

/// `(Debian arch, SHA-256 of the .deb)`.
fn package(arch: &str) -> (&'static str, &'static str) {
    match arch {
        "aarch64" => (
            "arm64",
            "732c9135564fc71337e0e05fb4da4d11e6c28c1834bce3e405e575afef2a52f5",
        ),
        _ => (
            "amd64",
            "3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744",
        ),
    }
}

fn cache(arch: &str) -> PathBuf {
    util::root().join("target").join("busybox").join(arch)
}

fn sha256(path: &Path) -> Result<String, Failure> {
    let out = Cmd::new("sha256sum").arg(path).output()?;
    Ok(out.split_whitespace().next().unwrap_or("").to_owned())
}

fn find_deb(dir: &Path, deb_arch: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "deb")
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(&format!("_{deb_arch}.deb")))
        })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The path of the verified `busybox` binary for `arch` (`x86_64` or
/// `aarch64`), fetching it on first use.
pub fn binary(arch: &str) -> Result<PathBuf, Failure> {
    let dir = cache(arch);
    let bin = dir.join("root/bin/busybox");
    let stamp = dir.join("verified");
    if bin.is_file() && stamp.is_file() {
        return Ok(bin);
    }
    std::fs::create_dir_all(&dir).map_err(|e| Failure::new(format!("{}: {e}", dir.display())))?;
    let (deb_arch, hash) = package(arch);
    if find_deb(&dir, deb_arch).is_none() {
        download(&dir, deb_arch)?;
    }
    let deb = find_deb(&dir, deb_arch).ok_or_else(|| {
        Failure::new(format!(
            "apt-get download left no .deb in {}",
            dir.display()
        ))
    })?;
    let got = sha256(&deb)?;
    if got != hash {
        let _ = std::fs::remove_file(&deb);
        return Err(Failure::new(format!(
            "{}: SHA-256 {got}, expected {hash} (busybox-static {VERSION} {deb_arch}); removed it",
            deb.display()
        )));
    }
    let root = dir.join("root");
    let _ = std::fs::remove_dir_all(&root);
    Cmd::new("dpkg-deb").arg("-x").arg(&deb).arg(&root).run()?;
    if !bin.is_file() {
        return Err(Failure::new(format!(
            "{} has no bin/busybox",
            deb.display()
        )));
    }
    std::fs::write(&stamp, hash).map_err(|e| Failure::new(format!("{}: {e}", stamp.display())))?;
    Ok(bin)
}

fn download(dir: &Path, deb_arch: &str) -> Result<(), Failure> {
    let apt = Command::new("apt-get")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !apt || !is_root() {
        return Err(Failure::new(format!(
            "busybox-static {VERSION} ({deb_arch}) is not cached and cannot be fetched here \
             ({}). Fetch it on a Debian machine with `apt-get download busybox-static{}` and \
             put the .deb in {}",
            if apt {
                "apt-get needs root"
            } else {
                "no apt-get"
            },
            if deb_arch == "arm64" {
                ":arm64 (after dpkg --add-architecture arm64; apt-get update)"
            } else {
                ""
            },
            dir.display()
        )));
    }
    util::stage(&format!("fetch busybox-static {VERSION} ({deb_arch})"));
    let pkg = format!("busybox-static={VERSION}");
    if deb_arch == "amd64" {
        return Cmd::new("apt-get")
            .args(["download", &pkg])
            .current_dir(dir)
            .run();
    }
    let had = Cmd::new("dpkg")
        .arg("--print-foreign-architectures")
        .output()?
        .lines()
        .any(|l| l.trim() == "arm64");
    if !had {
        Cmd::new("dpkg")
            .args(["--add-architecture", "arm64"])
            .run()?;
    }
    let result = Cmd::new("apt-get")
        .args(["update", "-qq"])
        .run()
        .and_then(|()| {
            Cmd::new("apt-get")
                .args(["download", &format!("busybox-static:arm64={VERSION}")])
                .current_dir(dir)
                .run()
        });
    if !had {
        let _ = Cmd::new("dpkg")
            .args(["--remove-architecture", "arm64"])
            .run();
        let _ = Cmd::new("apt-get").args(["update", "-qq"]).run();
    }
    result
}

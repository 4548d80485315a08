//! The packaged-crate stage of `cargo xtask test`: what `cargo publish`
//! would upload must build and pass its own tests.
//!
//! `cargo package` makes the `.crate` (its include list: the library, its
//! tests and benches, the README it includes as docs, the licences); the
//! stage unpacks it under `target/package-test/`, makes it a workspace of
//! its own (it sits inside this one's directory), and runs `cargo test
//! --features sim` there with its own target directory. The packaged
//! manifest has no self dev-dependency (cargo strips path-only ones), so
//! the tests need the feature on the command line, as a user would pass
//! it; without it they compile to nothing (each is `cfg(feature = "sim")`).

use std::path::PathBuf;

use crate::util::{self, Cmd, Failure};

/// Runs the stage.
pub fn stage() -> Result<(), Failure> {
    util::stage("packaged crate (cargo package, then its tests with sim)");
    let root = util::root();
    Cmd::cargo()
        .args([
            "package",
            "-p",
            "zx-subsystem",
            "--allow-dirty",
            "--no-verify",
        ])
        .run()?;
    let version = crate_version(&root.join("Cargo.toml"))?;
    let name = format!("zx-subsystem-{version}");
    let file = root.join("target/package").join(format!("{name}.crate"));
    let out = root.join("target/package-test");
    if out.exists() {
        std::fs::remove_dir_all(&out)
            .map_err(|e| Failure::new(format!("cannot clear {}: {e}", out.display())))?;
    }
    std::fs::create_dir_all(&out)
        .map_err(|e| Failure::new(format!("cannot create {}: {e}", out.display())))?;
    Cmd::new("tar")
        .arg("xzf")
        .arg(&file)
        .arg("-C")
        .arg(&out)
        .run()?;
    let dir: PathBuf = out.join(&name);
    let manifest = dir.join("Cargo.toml");
    let mut text = std::fs::read_to_string(&manifest)
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", manifest.display())))?;
    text.push_str(
        "\n# Added by `cargo xtask test`: not a member of the outer workspace.\n[workspace]\n",
    );
    std::fs::write(&manifest, text)
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", manifest.display())))?;
    Cmd::cargo()
        .args(["test", "--features", "sim"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", root.join("target/package-test-target"))
        .run()
}

/// `version = "..."` of the `[package]` section.
fn crate_version(manifest: &std::path::Path) -> Result<String, Failure> {
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", manifest.display())))?;
    text.lines()
        .find_map(|l| {
            let v = l.trim().strip_prefix("version = \"")?;
            Some(v.strip_suffix('"')?.to_string())
        })
        .ok_or_else(|| Failure::new("no version in Cargo.toml"))
}

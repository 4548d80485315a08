//! Passes the linker script for the bare-metal targets. On the host the
//! crate is an ordinary (empty) program and needs nothing.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if os != "none" {
        return;
    }
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let script = match arch.as_str() {
        "x86_64" => dir.join("src/x86_64/linker.ld"),
        "aarch64" => dir.join("src/aarch64/linker.ld"),
        other => panic!("hobby-kernel: no linker script for {other}"),
    };
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    // Loaded where it is linked; nobody applies dynamic relocations.
    println!("cargo:rustc-link-arg-bins=--no-pie");
    println!("cargo:rustc-link-arg-bins=-znorelro");
    println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
}

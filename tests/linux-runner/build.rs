//! Links the runner where it will live: a static, non-PIE ELF high in the
//! user address space, inside the future *shared region* of a shared
//! process (x86_64 `[1 << 46, 1 << 47)`, aarch64 `[1 << 47, 1 << 48)`), so
//! that it can move into one without relinking. On the host the crate is
//! an ordinary program (for its unit tests) and needs nothing.

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
        "x86_64" => dir.join("src/x86_64.ld"),
        "aarch64" => dir.join("src/aarch64.ld"),
        other => panic!("linux-runner: no linker script for {other}"),
    };
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    println!("cargo:rustc-link-arg-bins=--no-pie");
    println!("cargo:rustc-link-arg-bins=-znorelro");
    println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
    println!("cargo:rustc-link-arg-bins=--no-dynamic-linker");
}

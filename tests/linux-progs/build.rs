//! Passes the linker script for the bare-metal targets: every program is a
//! static, non-PIE `ET_EXEC` at `0x400000` with page-aligned `PT_LOAD`
//! segments (text R+X, rodata R, data+bss RW). On the host the binaries are
//! ordinary programs and need nothing.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "none" {
        return;
    }
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let script = dir.join("linux.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    // ET_EXEC loaded where it is linked: no dynamic relocations, no PT_INTERP.
    println!("cargo:rustc-link-arg-bins=--no-pie");
    println!("cargo:rustc-link-arg-bins=-static");
    println!("cargo:rustc-link-arg-bins=-znorelro");
    println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
    println!("cargo:rustc-link-arg-bins=-zseparate-loadable-segments");
    println!("cargo:rustc-link-arg-bins=--build-id=none");
}

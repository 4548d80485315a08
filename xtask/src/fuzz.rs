//! `cargo xtask fuzz` and the fuzz/Miri stage of `cargo xtask test`.
//!
//! - `cargo xtask fuzz [--time S] [TARGET...]` runs each cargo-fuzz target
//!   (default: all of [`TARGETS`]) for `S` seconds (default 60), one after
//!   the other with one job (the machines have two cores), from the
//!   committed seeds in `fuzz/corpus/<target>/`. With a nightly toolchain
//!   it runs under AddressSanitizer; without one, on the pinned stable
//!   toolchain with `-s none` (cargo-fuzz's `RUSTC_BOOTSTRAP` route).
//! - [`ci_stage`], called by `cargo xtask test`: the Miri subset (nightly)
//!   and a short fuzz run of every target.
//!
//! Everything is installed here on a fresh machine: nightly with the `miri`
//! and `rust-src` components (`rustup toolchain install nightly --profile
//! minimal`), and cargo-fuzz (`cargo install cargo-fuzz --locked`). A
//! finding fails the command; its input is in `fuzz/artifacts/<target>/`
//! (rerun with `cargo +nightly fuzz run <target> <file>` in `fuzz/`).

use crate::util::{self, Cmd, Failure};

/// Every fuzz target (`fuzz/fuzz_targets/<name>.rs`).
pub const TARGETS: [&str; 4] = ["syscalls", "vm_ops", "restricted", "page_table"];

/// Seconds per target in `cargo xtask test` (CI has 90 minutes for all).
const CI_SECONDS: u64 = 20;

/// The host tests that touch raw memory (sim frames, `FrameMem`, page
/// tables, the pinned restricted-state page) and finish under Miri in a
/// few minutes: the library's unit tests, these integration tests, and the
/// page-table tests below (the 1 GiB splits and the seeded model run take
/// far too long interpreted; `objects` makes 2^18 handles).
const MIRI_TESTS: [&str; 3] = ["protect_smoke", "fuzz_regressions", "restricted"];
const MIRI_PAGE_TABLE_TESTS: [&str; 9] = [
    "map_query_round_trip",
    "map_rejects_bad_arguments",
    "protect_round_trip",
    "protect_same_flags_needs_no_flush",
    "protect_splits_2m_leaf",
    "unmap_splits_and_frees_tables",
    "stale_tlb_without_flush",
    "failed_reservation_changes_nothing",
    "reserve_ahead_then_apply",
];

/// Snapshot trees under Miri: copies, migrations, folds and trims on real
/// frame memory, where a read of a freed frame would be caught (a subset:
/// all of `vmo_snapshot_memory` takes minutes interpreted).
const MIRI_SNAPSHOT_TESTS: [&str; 6] = [
    "obj_mem_accounting",
    "split_page_closure",
    "overflow",
    "small_clones",
    "drop_parent_committed_bytes",
    "disjoint_clones",
];

/// Miri flags: the sim hands out frames as exposed addresses (its
/// "physical addresses" are heap addresses), so integer-to-pointer casts
/// must be allowed.
const MIRIFLAGS: &str = "-Zmiri-permissive-provenance";

/// `cargo xtask fuzz [--time S] [TARGET...]`.
pub fn command(args: &[String]) -> Result<(), Failure> {
    let mut seconds = 60;
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--time" => {
                seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| Failure::new("--time takes a number of seconds"))?;
            }
            t if TARGETS.contains(&t) => targets.push(t),
            other => {
                return Err(Failure::new(format!(
                    "unknown fuzz argument `{other}`; targets: {}",
                    TARGETS.join(", ")
                )));
            }
        }
    }
    if targets.is_empty() {
        targets.extend(TARGETS);
    }
    run_targets(&targets, seconds)
}

/// The stage `cargo xtask test` runs: Miri subset, then every target for
/// [`CI_SECONDS`].
pub fn ci_stage() -> Result<(), Failure> {
    let nightly = ensure_nightly(&["miri", "rust-src"]);
    if nightly {
        miri()?;
    } else {
        util::stage("miri (skipped: no nightly toolchain could be installed)");
    }
    run_targets(&TARGETS, CI_SECONDS)
}

fn run_targets(targets: &[&str], seconds: u64) -> Result<(), Failure> {
    let nightly = ensure_nightly(&[]);
    ensure_cargo_fuzz()?;
    for t in targets {
        util::stage(&format!(
            "fuzz {t} ({seconds} s, {})",
            if nightly {
                "nightly, ASan"
            } else {
                "stable, no sanitizer"
            }
        ));
        let mut cmd = Cmd::new("cargo");
        cmd = if nightly {
            cmd.args(["+nightly", "fuzz", "run"])
        } else {
            cmd.args(["fuzz", "run", "-s", "none"])
        };
        cmd.arg(t)
            .arg(format!("fuzz/corpus/{t}"))
            .args([
                "--",
                &format!("-max_total_time={seconds}"),
                "-timeout=10",
                "-rss_limit_mb=4096",
                "-print_final_stats=1",
            ])
            .run()?;
    }
    Ok(())
}

/// Runs the Miri subset on nightly.
fn miri() -> Result<(), Failure> {
    let miri_test = || {
        Cmd::new("cargo")
            .args([
                "+nightly",
                "miri",
                "test",
                "-p",
                "zx-subsystem",
                "--features",
                "sim",
            ])
            .env("MIRIFLAGS", MIRIFLAGS)
    };
    util::stage("miri (library unit tests)");
    // The IDT tests read the machine code of the `global_asm!` stubs, which
    // has no Miri allocation behind it; they run in every other stage.
    miri_test()
        .args(["--lib", "--", "--skip", "arch::x86_64::idt::"])
        .run()?;
    util::stage("miri (page-table tests)");
    miri_test()
        .args(["--test", "page_table", "--"])
        .args(MIRI_PAGE_TABLE_TESTS)
        .run()?;
    for t in MIRI_TESTS {
        util::stage(&format!("miri ({t})"));
        miri_test().args(["--test", t]).run()?;
    }
    util::stage("miri (snapshot trees)");
    miri_test()
        .args(["--test", "vmo_snapshot_memory", "--"])
        .args(MIRI_SNAPSHOT_TESTS)
        .run()?;
    Ok(())
}

/// Whether a nightly toolchain with `components` is available, installing
/// what is missing. A failed install is not an error: the caller falls
/// back (stable fuzzing without a sanitizer; no Miri).
fn ensure_nightly(components: &[&str]) -> bool {
    let has = |out: &str| out.lines().any(|l| l.starts_with("nightly"));
    let listed = Cmd::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .unwrap_or_default();
    if !has(&listed)
        && Cmd::new("rustup")
            .args(["toolchain", "install", "nightly", "--profile", "minimal"])
            .run()
            .is_err()
    {
        return false;
    }
    if components.is_empty() {
        return true;
    }
    let installed = Cmd::new("rustup")
        .args(["component", "list", "--installed", "--toolchain", "nightly"])
        .output()
        .unwrap_or_default();
    let missing: Vec<&str> = components
        .iter()
        .copied()
        .filter(|c| !installed.lines().any(|l| l.starts_with(c)))
        .collect();
    missing.is_empty()
        || Cmd::new("rustup")
            .args(["component", "add", "--toolchain", "nightly"])
            .args(missing)
            .run()
            .is_ok()
}

/// Installs cargo-fuzz if `cargo fuzz` is not there.
fn ensure_cargo_fuzz() -> Result<(), Failure> {
    if Cmd::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok()
    {
        return Ok(());
    }
    util::stage("install cargo-fuzz");
    Cmd::new("cargo")
        .args(["install", "cargo-fuzz", "--locked"])
        .run()
}

//! `cargo xtask bench`: runs the benchmarks in `benches/` (release),
//! turns their medians into ratios against the peers measured in the same
//! run, and writes `docs/bench-results.md` and `docs/bench-ratios.svg`.
//!
//! Every figure is a ratio of two medians from one run of one benchmark
//! binary (criterion writes them to `target/criterion/<group>/<id>/new/`),
//! so both sides saw the same machine. The whole set runs `--runs N` times
//! (default 3); the table shows the median ratio over the runs and the
//! range, since the machine is shared and noisy.
//!
//! The restricted-mode figure comes from the hobby kernel under QEMU
//! (`-icount shift=0`, instructions, not time): it prints
//! `bench: null_syscall <N> insns/iter, restricted_roundtrip <M> insns/iter,
//! ratio <R>`. `cargo xtask bench` boots the kernel on each arch for it
//! ([`hobby_serial`]); `--serial ARCH=FILE` reads a captured boot instead.
//! If a boot fails, that row says so with the reason, and the command
//! fails once the table is written (never a silent skip). The same boot
//! gives the address-space switch figures ([`switch`]).
//!
//! `cargo xtask test` runs [`test_mode`]: every benchmark once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::util::{self, Cmd, Failure};

mod linux;
mod report;
mod runner;
mod switch;

use report::{Figure, Machine, Target, markdown, svg};

/// The criterion benchmark binaries (`benches/*.rs`), run together.
const CRITERION_BENCHES: [&str; 3] = ["populated", "toggle", "scaling"];
/// The allocation-counting benchmark (a plain `main`).
const MEMORY_BENCH: &str = "memory";
const ARCHES: [&str; 2] = ["x86_64", "aarch64"];

/// The `bench` stage of `cargo xtask test`: compiles every benchmark and
/// runs each once (criterion's test mode; the memory bench counts a
/// smaller batch).
pub fn test_mode() -> Result<(), Failure> {
    util::stage("benches (compile, run each once)");
    Cmd::cargo()
        .args(["bench", "--benches", "--", "--test"])
        .run()
}

/// `cargo xtask bench [--runs N] [--serial ARCH=FILE]...`.
pub fn run(args: &[String]) -> Result<(), Failure> {
    let mut runs = 3usize;
    let mut serial: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--linux-only" => return linux_only(),
            "--runs" => {
                runs = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Failure::new("--runs takes a positive number"))?;
            }
            "--serial" => {
                let spec = it
                    .next()
                    .ok_or_else(|| Failure::new("--serial ARCH=FILE"))?;
                let (arch, file) = spec
                    .split_once('=')
                    .filter(|(a, _)| ARCHES.contains(a))
                    .ok_or_else(|| Failure::new("--serial takes x86_64=FILE or aarch64=FILE"))?;
                serial.insert(arch.to_string(), PathBuf::from(file));
            }
            other => {
                return Err(Failure::new(format!(
                    "unknown bench argument `{other}`; use --runs N, --serial ARCH=FILE, --linux-only"
                )));
            }
        }
    }
    let machine = Machine::now();
    let home = util::root().join("target").join("criterion");
    let mut medians: Vec<BTreeMap<String, f64>> = Vec::new();
    let mut memory = BTreeMap::new();
    for r in 1..=runs {
        util::stage(&format!("benches, run {r} of {runs}"));
        // Only this run's results may be read back.
        if home.exists() {
            std::fs::remove_dir_all(&home)
                .map_err(|e| Failure::new(format!("cannot clear {}: {e}", home.display())))?;
        }
        let mut cmd = Cmd::cargo().arg("bench");
        for b in CRITERION_BENCHES {
            cmd = cmd.args(["--bench", b]);
        }
        cmd.args(["--", "--noplot"])
            .env("CRITERION_HOME", &home)
            .run()?;
        medians.push(read_medians(&home)?);
    }
    util::stage("memory");
    let out = Cmd::cargo()
        .args(["bench", "--bench", MEMORY_BENCH])
        .output()?;
    for line in out.lines() {
        if let Some((name, value)) = parse_memory(line) {
            println!("{line}");
            memory.insert(name, value);
        }
    }
    util::stage("restricted round trip (hobby kernel)");
    let mut restricted = BTreeMap::new();
    let mut switches = Vec::new();
    for arch in ARCHES {
        let got = match serial.get(arch) {
            Some(file) => std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read {}: {e}", file.display())),
            None => hobby_serial(arch),
        };
        switches.push((
            arch,
            got.as_ref()
                .map_err(Clone::clone)
                .and_then(|out| switch::parse(out).ok_or_else(|| "no `# churn:` line".into())),
        ));
        let figure = got.and_then(|out| {
            parse_restricted(&out).ok_or_else(|| {
                "the hobby kernel printed no `bench: null_syscall ... restricted_roundtrip ...` \
                 line"
                    .to_string()
            })
        });
        match &figure {
            Ok(f) => println!("xtask: {arch}: restricted/null = {:.2}", f.ratio()),
            Err(why) => println!("xtask: {arch}: skipped: {why}"),
        }
        restricted.insert(arch, figure);
    }
    let linux = linux_figures();
    let figures = figures(&medians, &memory, &restricted);
    let docs = util::root().join("docs");
    std::fs::create_dir_all(&docs)
        .map_err(|e| Failure::new(format!("cannot create {}: {e}", docs.display())))?;
    let mut table = markdown(&figures, &machine, runs);
    table.push_str(&switch::markdown(&switches));
    table.push_str(&linux::markdown(&linux));
    write(&docs.join("bench-results.md"), &table)?;
    write(&docs.join("bench-ratios.svg"), &svg(&figures))?;
    println!("{table}");
    println!("xtask: wrote docs/bench-results.md and docs/bench-ratios.svg");
    let skipped: Vec<String> = restricted
        .iter()
        .filter_map(|(arch, r)| r.as_ref().err().map(|e| format!("{arch}: {e}")))
        .collect();
    linux_verdict(&linux)?;
    if skipped.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "the hobby kernel's rows were not measured (the table says so):\n  {}",
            skipped.join("\n  ")
        )))
    }
}

/// Boots Linux on both arches for the `mprotect` shapes (see
/// [`linux`]); a failure is kept, to be shown in the table and then
/// fail the command.
fn linux_figures() -> Vec<(&'static str, Result<linux::Measured, String>)> {
    use crate::qemu::Arch;
    util::stage("Linux booted in QEMU: mprotect shapes and getppid");
    [("x86_64", Arch::X86_64), ("aarch64", Arch::Aarch64)]
        .into_iter()
        .map(|(name, arch)| {
            let m = linux::measure(arch).map_err(|f| f.to_string());
            if let Err(why) = &m {
                println!("xtask: Linux {name}: FAILED: {why}");
            }
            (name, m)
        })
        .collect()
}

/// Fails when an arch could not be measured.
fn linux_verdict(linux: &[(&str, Result<linux::Measured, String>)]) -> Result<(), Failure> {
    let failed: Vec<String> = linux
        .iter()
        .filter_map(|(a, r)| r.as_ref().err().map(|e| format!("{a}: {e}")))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "Linux in QEMU was not measured on every arch:\n  {}",
            failed.join("\n  ")
        )))
    }
}

/// `cargo xtask bench --linux-only`: measures only Linux in QEMU and
/// replaces that section of `docs/bench-results.md` (the rest stays).
fn linux_only() -> Result<(), Failure> {
    let linux = linux_figures();
    let path = util::root().join("docs").join("bench-results.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let kept = match old.find(linux::HEADING) {
        Some(i) => old[..i].trim_end().to_string(),
        None => old.trim_end().to_string(),
    };
    let section = linux::markdown(&linux);
    write(&path, &format!("{kept}\n{section}"))?;
    println!("{section}");
    println!("xtask: wrote the Linux section of docs/bench-results.md");
    linux_verdict(&linux)
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text)
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))
}

/// The serial output of a hobby-kernel boot on `arch`, for the
/// `bench: null_syscall ...` line.
fn hobby_serial(arch: &str) -> Result<String, String> {
    crate::qemu::serial_output(arch).map_err(|f| f.to_string())
}

/// The kernel's restricted-mode figure, in guest instructions per
/// iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Restricted {
    null_syscall: f64,
    roundtrip: f64,
    /// The ratio the kernel printed (checked against the two counts).
    printed: f64,
}

impl Restricted {
    fn ratio(&self) -> f64 {
        self.roundtrip / self.null_syscall
    }
}

/// Finds `bench: null_syscall <N> insns/iter, restricted_roundtrip <M>
/// insns/iter, ratio <R>` in a boot's output (the last one, if several).
fn parse_restricted(output: &str) -> Option<Restricted> {
    output.lines().rev().find_map(|line| {
        let rest = line.trim().strip_prefix("bench: null_syscall ")?;
        let (n, rest) = rest.split_once(" insns/iter, restricted_roundtrip ")?;
        let (m, r) = rest.split_once(" insns/iter, ratio ")?;
        let f = Restricted {
            null_syscall: n.trim().parse().ok()?,
            roundtrip: m.trim().parse().ok()?,
            printed: r.trim().parse().ok()?,
        };
        let consistent = (f.ratio() - f.printed).abs() <= 0.01 * f.printed.abs() + 0.005;
        (f.null_syscall > 0.0 && consistent).then_some(f)
    })
}

/// `memory: <name> <value>` from the memory bench.
fn parse_memory(line: &str) -> Option<(String, f64)> {
    let (name, value) = line.strip_prefix("memory: ")?.split_once(' ')?;
    Some((name.to_string(), value.trim().parse().ok()?))
}

/// Every `<group>/<id>` under criterion's directory with its median (ns).
fn read_medians(home: &Path) -> Result<BTreeMap<String, f64>, Failure> {
    let mut out = BTreeMap::new();
    let mut stack = vec![home.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.ends_with("new/estimates.json") {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
                let median = json_median(&text).ok_or_else(|| {
                    Failure::new(format!("{}: no median estimate", path.display()))
                })?;
                let id = path
                    .parent()
                    .and_then(Path::parent)
                    .and_then(|p| p.strip_prefix(home).ok())
                    .map(|p| p.to_string_lossy().replace('\\', "/"))
                    .unwrap_or_default();
                out.insert(id, median);
            }
        }
    }
    Ok(out)
}

/// `median.point_estimate` of a criterion `estimates.json`.
fn json_median(text: &str) -> Option<f64> {
    let after = &text[text.find("\"median\":")?..];
    let value = &after[after.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = value.find([',', '}'])?;
    value[..end].trim().parse().ok()
}

fn median(mut v: Vec<f64>) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    Some((mid, v[0], v[v.len() - 1]))
}

/// Ratio `num / den` of one run, per run, summarised; with the median
/// absolute times for the note.
fn ratio(
    runs: &[BTreeMap<String, f64>],
    num: &str,
    den: &str,
) -> (Option<(f64, f64, f64)>, f64, f64) {
    let ratios = runs
        .iter()
        .filter_map(|m| Some(m.get(num)? / m.get(den)?))
        .collect();
    let abs = |k: &str| {
        median(runs.iter().filter_map(|m| m.get(k).copied()).collect()).map_or(f64::NAN, |v| v.0)
    };
    (median(ratios), abs(num), abs(den))
}

/// A `pair_*` benchmark's ratio (it reports `ratio` µs per iteration; see
/// `benches/common/mod.rs`), per run, summarised.
fn paired(runs: &[BTreeMap<String, f64>], key: &str) -> Option<(f64, f64, f64)> {
    median(
        runs.iter()
            .filter_map(|m| m.get(key).map(|ns| ns / 1e3))
            .collect(),
    )
}

fn ns(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} ms", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.2} µs", v / 1e3)
    } else {
        format!("{v:.0} ns")
    }
}

/// All rows, in the order of the issue.
fn figures(
    runs: &[BTreeMap<String, f64>],
    memory: &BTreeMap<String, f64>,
    restricted: &BTreeMap<&str, Result<Restricted, String>>,
) -> Vec<Figure> {
    let mut out = Vec::new();
    let pages = 262_144.0;
    for arch in ARCHES {
        let g = format!("populated_{arch}");
        let peer = if arch == "x86_64" {
            ("x86_64_crate", "`x86_64` crate `update_flags` per page")
        } else {
            ("aarch64_paging", "`aarch64-paging` `modify_range`")
        };
        // Against the floor the ratio is measured interleaved (`pair_*`).
        let rows = [
            ("ours_pt", "floor_plain", Some("pt_vs_floor_plain")),
            (
                "ours_syscall",
                "floor_plain",
                Some("syscall_vs_floor_plain"),
            ),
            ("ours_pt", "floor_atomic", Some("pt_vs_floor_atomic")),
            ("ours_pt", peer.0, None),
            ("ours_syscall", peer.0, None),
        ];
        for (num, den, pair) in rows {
            let (mut value, a, b) = ratio(runs, &format!("{g}/{num}"), &format!("{g}/{den}"));
            if let Some(pair) = pair {
                value = paired(runs, &format!("pair_{arch}/{pair}"));
            }
            let ours = if num == "ours_pt" {
                "`PageTable::protect`"
            } else {
                "`zx_vmar_protect`"
            };
            let (name, target) = match den {
                "floor_plain" => ("floor (plain loop)", Target::AtMost(1.5)),
                "floor_atomic" => ("floor (relaxed-atomic loop)", Target::None),
                _ => (peer.1, Target::Below(1.0)),
            };
            let name = format!("{ours} ÷ {name}");
            out.push(Figure {
                section: "Populated 1 GiB protect (262,144 leaves, R ↔ RW)",
                name: format!("{arch}: {name}"),
                value,
                unit: "×",
                target,
                note: format!("{:.3} vs {:.3} ns/page", a / pages, b / pages),
            });
        }
        // The per-entry path: one page in eight, tables never full.
        let (_, a, _) = ratio(
            runs,
            &format!("{g}/ours_pt_sparse"),
            &format!("{g}/floor_plain"),
        );
        out.push(Figure {
            section: "Populated 1 GiB protect (262,144 leaves, R ↔ RW)",
            name: format!(
                "{arch}: `PageTable::protect`, 1 page in 8 mapped (per-entry path) ÷ floor (plain loop)"
            ),
            value: paired(runs, &format!("pair_{arch}/pt_sparse_vs_floor_plain")),
            unit: "×",
            target: Target::None,
            note: format!("{:.3} ns per mapped page", a / (pages / 8.0)),
        });
    }
    for arch in ARCHES {
        for (n, k) in [(1, 1), (16, 1), (16, 16), (128, 1), (128, 16), (128, 128)] {
            let (value, a, b) = ratio(
                runs,
                &format!("toggle_{arch}/ours/{n}m_{k}p"),
                &format!("toggle_linux/mprotect/{n}m_{k}p"),
            );
            out.push(Figure {
                section: "ProtectToggle/{N}Mappings/{K}Protect: ours (sim) ÷ Linux mprotect (real syscall + TLB flush)",
                name: format!("{arch}: ProtectToggle {n}/{k} ÷ Linux mprotect"),
                value,
                unit: "×",
                target: Target::None,
                note: format!("{} vs {} per call", ns(a), ns(b)),
            });
        }
    }
    let (value, a, b) = ratio(runs, "toggle_linux/mprotect/1m_1p", "toggle_linux/getppid");
    out.push(Figure {
        section: "ProtectToggle/{N}Mappings/{K}Protect: ours (sim) ÷ Linux mprotect (real syscall + TLB flush)",
        name: "Linux: mprotect 1/1 ÷ getppid (null syscall), for scale".into(),
        value,
        unit: "×",
        target: Target::None,
        note: format!("{} vs {}", ns(a), ns(b)),
    });
    for arch in ARCHES {
        for (n, target) in [(1_000, Target::None), (100_000, Target::AtMost(2.0))] {
            let (_, a, b) = ratio(
                runs,
                &format!("scaling_{arch}/protect_one/{n}"),
                &format!("scaling_{arch}/protect_one/10"),
            );
            let value = paired(runs, &format!("pair_{arch}/scaling_{n}_vs_10"));
            out.push(Figure {
                section: "Scaling: protect one page in a VMAR of N mappings ÷ the same with 10",
                name: format!("{arch}: protect in {n} mappings ÷ in 10"),
                value,
                unit: "×",
                target,
                note: format!("{} vs {}", ns(a), ns(b)),
            });
        }
    }
    for arch in ARCHES {
        for (key, name) in [
            ("bytes_per_mapping", "bytes per mapping"),
            ("bytes_per_range", "bytes per protection range"),
        ] {
            let v = memory.get(&format!("{arch}/{key}")).copied();
            out.push(Figure {
                section: "Memory (counting allocator)",
                name: format!("{arch}: {name}"),
                value: v.map(|v| (v, v, v)),
                unit: " B",
                target: Target::None,
                note: if v.is_some() {
                    "live heap bytes ÷ count".into()
                } else {
                    "no output".into()
                },
            });
        }
    }
    for arch in ARCHES {
        let (value, note) = match restricted.get(arch) {
            Some(Ok(f)) => (
                Some((f.ratio(), f.ratio(), f.ratio())),
                format!("{:.0} vs {:.0} insns/iter", f.roundtrip, f.null_syscall),
            ),
            Some(Err(why)) => (None, why.clone()),
            None => (None, "not run".into()),
        };
        out.push(Figure {
            section: "Restricted mode (hobby kernel, QEMU -icount shift=0)",
            name: format!("{arch}: enter → syscall → vector ÷ null syscall"),
            value,
            unit: "×",
            target: Target::AtMost(2.5),
            note,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A captured stretch of hobby-kernel output (the format the kernel
    /// promises), with other `bench:` lines around it.
    const SERIAL: &str = "\
ok - restricted enter returns to the vector
bench: aarch64 null syscall round trip: 1.250 cntvct ticks/iteration = 20 ns at 62500000 Hz (12500 ticks / 10000)
bench: null_syscall 412 insns/iter, restricted_roundtrip 893 insns/iter, ratio 2.17
24 passed, 0 failed
";

    #[test]
    fn parses_the_restricted_line() {
        let f = parse_restricted(SERIAL).expect("found");
        assert_eq!(f.null_syscall, 412.0);
        assert_eq!(f.roundtrip, 893.0);
        assert_eq!(f.printed, 2.17);
        assert!((f.ratio() - 893.0 / 412.0).abs() < 1e-9);
    }

    #[test]
    fn rejects_missing_or_inconsistent_lines() {
        assert_eq!(
            parse_restricted("bench: calibration: 10 ticks\n1 passed, 0 failed"),
            None
        );
        assert_eq!(
            parse_restricted(
                "bench: null_syscall 100 insns/iter, restricted_roundtrip 200 insns/iter, ratio 3.5"
            ),
            None
        );
        assert_eq!(
            parse_restricted(
                "bench: null_syscall 0 insns/iter, restricted_roundtrip 200 insns/iter, ratio 0"
            ),
            None
        );
        assert_eq!(parse_restricted("bench: null_syscall x insns/iter"), None);
    }

    #[test]
    fn reads_criterion_medians_and_memory_lines() {
        let json = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0},"point_estimate":1.5,"standard_error":0.1},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":222.7,"upper_bound":232.5},"point_estimate":225.8,"standard_error":2.8}}"#;
        assert_eq!(json_median(json), Some(225.8));
        assert_eq!(
            parse_memory("memory: x86_64/bytes_per_range 26.2"),
            Some(("x86_64/bytes_per_range".into(), 26.2))
        );
        assert_eq!(parse_memory("Finished"), None);
    }

    #[test]
    fn ratios_are_per_run_then_median() {
        let run = |a: f64, b: f64| BTreeMap::from([("g/a".to_string(), a), ("g/b".to_string(), b)]);
        let runs = [run(3.0, 2.0), run(10.0, 2.0), run(4.0, 2.0)];
        let (v, a, b) = ratio(&runs, "g/a", "g/b");
        assert_eq!(v, Some((2.0, 1.5, 5.0)));
        assert_eq!((a, b), (4.0, 2.0));
        assert_eq!(ratio(&runs, "g/a", "g/missing").0, None);
    }
}

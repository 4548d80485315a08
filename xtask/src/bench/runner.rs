//! The same Linux program, `protect-bench`, run by our Linux personality
//! (`tests/linux-runner` in restricted mode on the hobby kernel, through
//! `cargo xtask linux`'s machinery), in the same QEMU flags as the Linux
//! boot (`-icount shift=0`): each `mprotect` becomes a Linux syscall at
//! the restricted-mode vector, serviced by the runner with
//! `zx_vmar_protect`, and `getppid` a whole restricted-mode round trip
//! plus the runner's dispatch. The runner has no `memfd_create`, so only
//! the anonymous layouts and `getppid` are measured.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::linux::{self, Request};
use crate::qemu::Arch;
use crate::util::{self, Failure};

use super::linux::{Measured, SHAPES, parse, thousands};

/// The prefix of the runner's figures in [`Measured::insns`].
pub const PREFIX: &str = "runner:";

/// Runs `protect-bench` (built at `program`) under the runner on `arch`;
/// returns its figures, prefixed with [`PREFIX`].
pub fn measure(arch: Arch, program: &std::path::Path) -> Result<BTreeMap<String, u64>, Failure> {
    util::stage(&format!(
        "protect-bench under our runner ({}, -icount shift=0)",
        arch.target()
    ));
    let bytes = std::fs::read(program).map_err(|e| Failure::new(e.to_string()))?;
    let built = linux::build(arch)?;
    let req = Request {
        argv: vec!["/bin/protect-bench".into()],
        data: vec![("/bin/protect-bench".into(), bytes)],
        ..Request::default()
    };
    let out = linux::run_built(&built, &req)?;
    let text = String::from_utf8_lossy(&out.stdout);
    let figures: BTreeMap<String, u64> = text
        .lines()
        .filter_map(parse)
        .map(|(n, v)| (format!("{PREFIX}{n}"), v))
        .collect();
    if !figures.contains_key(&format!("{PREFIX}getppid")) {
        return Err(Failure::new(format!(
            "protect-bench under the runner printed no getppid figure (status {:?}); stderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(figures)
}

/// The table comparing Linux with our runner, arch by arch.
pub fn markdown(results: &[(&str, Result<Measured, String>)]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n### The same program under our Linux personality\n\n\
         `protect-bench` again, now run by `tests/linux-runner` in restricted mode on the \
         hobby kernel (same QEMU machine and `-icount shift=0`): every `mprotect` is a \
         restricted-mode exit, the runner's Linux dispatch and a `zx_vmar_protect`; \
         `getppid` is the whole round trip. The runner has no `memfd_create`, so only \
         the anonymous layouts are shown. Guest instructions per call; ratio = runner / \
         Linux.\n"
    );
    let _ = writeln!(
        s,
        "| figure | x86_64 Linux | x86_64 runner | ratio | aarch64 Linux | aarch64 runner | ratio |\n\
         |---|---:|---:|---:|---:|---:|---:|"
    );
    let get = |arch: &str, name: &str| -> Option<u64> {
        results
            .iter()
            .find(|(a, _)| *a == arch)
            .and_then(|(_, r)| r.as_ref().ok())
            .and_then(|m| m.insns.get(name).copied())
    };
    let mut names = vec!["getppid".to_string()];
    for layout in ["anon", "anon-touched"] {
        for (n, k) in SHAPES {
            names.push(format!("ProtectToggle/{layout}/{n}Mappings/{k}Protect"));
        }
    }
    for name in names {
        let mut row = format!("| `{name}` |");
        for arch in ["x86_64", "aarch64"] {
            let l = get(arch, &name);
            let r = get(arch, &format!("{PREFIX}{name}"));
            let ratio = match (l, r) {
                (Some(l), Some(r)) if l > 0 => format!("{:.2}×", r as f64 / l as f64),
                _ => "—".into(),
            };
            let show = |v: Option<u64>| v.map_or("—".into(), thousands);
            let _ = write!(row, " {} | {} | {ratio} |", show(l), show(r));
        }
        let _ = writeln!(s, "{row}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_of_runner_to_linux() {
        let m = Measured {
            kernel: "k".into(),
            insns: BTreeMap::from([
                ("getppid".to_string(), 400),
                (format!("{PREFIX}getppid"), 1000),
            ]),
        };
        let md = markdown(&[("x86_64", Ok(m)), ("aarch64", Err("no".into()))]);
        assert!(
            md.contains("| `getppid` | 400 | 1,000 | 2.50× | — | — | — |"),
            "{md}"
        );
    }
}

//! The address-space switch figures of `cargo xtask bench`: what
//! `Kernel::user_view` costs the hobby kernel in guest instructions
//! (`-icount shift=0`), from the identifier-churn scenario's line in the
//! same boot as the restricted round trip:
//!
//! `# churn: Kernel::user_view, current identifier: <A> insns (root and a
//! stored identifier: <B>); every process in turn: <C> insns/switch (...)`
//!
//! `A` is a switch whose identifier is current (the lock-free path), `B`
//! the same choice of root with the identifier a stored field (what a
//! switch cost before identifiers were recycled), `C` the amortised cost
//! when 1,000 processes take turns on 8-bit identifiers (a rollover every
//! 255 switches). The same boot's futex ping-pong line gives the handoff
//! cost from a `zx_futex_wake` to the woken thread running.

use std::fmt::Write;

/// One arch's figures, in instructions per switch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Switch {
    current: f64,
    stored: f64,
    churned: f64,
    /// The futex ping-pong's handoff (`# pingpong: ... N insns per
    /// handoff`), if the boot printed it.
    handoff: Option<f64>,
}

/// Finds the churn line in a boot's output.
pub(super) fn parse(output: &str) -> Option<Switch> {
    output.lines().rev().find_map(|line| {
        let rest = line
            .trim()
            .strip_prefix("# churn: Kernel::user_view, current identifier: ")?;
        let (current, rest) = rest.split_once(" insns (root and a stored identifier: ")?;
        let (stored, rest) = rest.split_once("); every process in turn: ")?;
        let (churned, _) = rest.split_once(" insns/switch")?;
        Some(Switch {
            current: current.trim().parse().ok()?,
            stored: stored.trim().parse().ok()?,
            churned: churned.trim().parse().ok()?,
            handoff: handoff(output),
        })
    })
}

/// `# pingpong: <R> futex round trips, <N> insns per handoff ...`.
fn handoff(output: &str) -> Option<f64> {
    output.lines().rev().find_map(|line| {
        let rest = line.trim().strip_prefix("# pingpong: ")?;
        let (_, rest) = rest.split_once(" futex round trips, ")?;
        let (n, _) = rest.split_once(" insns per handoff")?;
        n.trim().parse().ok()
    })
}

/// The markdown section for the arches measured (`None`: skipped, why).
pub(super) fn markdown(figures: &[(&str, Result<Switch, String>)]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n## Address-space switch (hobby kernel, QEMU -icount)\n"
    );
    let _ = writeln!(
        s,
        "`Kernel::user_view` in guest instructions per call, out of line: with a current \
         identifier, against the same root choice with a stored identifier (what a switch \
         cost before identifiers were recycled), and amortised over 3,000 switches of 1,000 \
         processes on 8-bit identifiers (a rollover every 255).\n"
    );
    let _ = writeln!(
        s,
        "The last column is the futex ping-pong's handoff: one thread's `zx_futex_wake` to \
         the parked waiter running, through the crate's blocking contract and the hobby \
         kernel's scheduler.\n"
    );
    let _ = writeln!(
        s,
        "| arch | current identifier | stored identifier | across rollovers | futex handoff |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    for (arch, f) in figures {
        match f {
            Ok(f) => {
                let handoff = f.handoff.map_or("—".into(), |h| format!("{h:.0}"));
                let _ = writeln!(
                    s,
                    "| {arch} | {:.1} | {:.1} | {:.1} | {handoff} |",
                    f.current, f.stored, f.churned
                );
            }
            Err(why) => {
                let _ = writeln!(s, "| {arch} | skipped: {why} | | | |");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_churn_line() {
        let out = "# churn: PCIDs off\n# churn: Kernel::user_view, current identifier: 34.0 \
                   insns (root and a stored identifier: 22.0); every process in turn: 147.1 \
                   insns/switch (3000 switches, 11 rollovers)\n# pingpong: 1000 futex round \
                   trips, 3528 insns per handoff (wake to ...)\n";
        assert_eq!(
            parse(out),
            Some(Switch {
                current: 34.0,
                stored: 22.0,
                churned: 147.1,
                handoff: Some(3528.0),
            })
        );
        assert_eq!(parse("# churn: PCIDs off"), None);
    }
}

//! Rendering of `cargo xtask bench`'s figures: the Markdown table and the
//! SVG bar chart (drawn here; no plotting dependency).

use std::fmt::Write as _;

/// What a figure is held to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Target {
    /// The ratio must be at most this.
    AtMost(f64),
    /// The ratio must be below this (faster than the peer).
    Below(f64),
    /// Reported for context.
    None,
}

/// One row of the results.
#[derive(Clone, Debug)]
pub(super) struct Figure {
    pub(super) section: &'static str,
    pub(super) name: String,
    /// Median over runs, and the lowest and highest run.
    pub(super) value: Option<(f64, f64, f64)>,
    /// `×` for ratios, ` B` for bytes.
    pub(super) unit: &'static str,
    pub(super) target: Target,
    /// Absolute numbers behind the ratio, or why it is missing.
    pub(super) note: String,
}

impl Figure {
    pub(super) fn status(&self) -> &'static str {
        match (self.value, self.target) {
            (None, _) => "skipped",
            (_, Target::None) => "",
            (Some((v, ..)), Target::AtMost(t)) if v <= t => "met",
            (Some((v, ..)), Target::Below(t)) if v < t => "met",
            _ => "MISSED",
        }
    }
}

/// What the figures were measured on.
pub(super) struct Machine {
    cpu: String,
    cores: usize,
    load: String,
}

impl Machine {
    pub(super) fn now() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("model name")
                        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
                })
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let load = std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        Machine { cpu, cores, load }
    }
}

pub(super) fn markdown(figures: &[Figure], machine: &Machine, runs: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmark results\n");
    let _ = writeln!(
        s,
        "Made by `cargo xtask bench --runs {runs}` on {} ({} cores, load average {} at the \
         start). Each ratio comes from one run of one benchmark binary: against the floor and \
         in the scaling rows, ours and the peer alternate call by call and criterion's median \
         is over per-sample ratios (the `pair_*` benches); elsewhere it divides two criterion \
         medians. The table gives the median over {runs} runs and the lowest and highest run. \
         Below 1× means faster than the peer. Absolute times are unpaired medians. See \
         `benches/` for what each side does.\n",
        machine.cpu, machine.cores, machine.load
    );
    let _ = writeln!(s, "![ratios](bench-ratios.svg)\n");
    let mut section = "";
    for f in figures {
        if f.section != section {
            section = f.section;
            let _ = writeln!(s, "\n## {section}\n");
            let _ = writeln!(s, "| figure | value | range | target | status | absolute |");
            let _ = writeln!(s, "|---|---:|---:|---|---|---|");
        }
        let (value, range) = match f.value {
            Some((v, lo, hi)) if f.unit == " B" => {
                (format!("{v:.0} B"), format!("{lo:.0}–{hi:.0}"))
            }
            Some((v, lo, hi)) => (format!("{v:.2}×"), format!("{lo:.2}–{hi:.2}")),
            None => ("—".into(), String::new()),
        };
        let target = match f.target {
            Target::AtMost(t) => format!("≤ {t}×"),
            Target::Below(t) => format!("< {t}×"),
            Target::None => String::new(),
        };
        let _ = writeln!(
            s,
            "| {} | {value} | {range} | {target} | {} | {} |",
            f.name,
            f.status(),
            f.note.replace('|', "\\|")
        );
    }
    s
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('`', "")
}

/// A horizontal bar chart of the ratios on a log scale, bars growing from
/// 1× (left: faster than the peer; right: slower), a tick at each target.
pub(super) fn svg(figures: &[Figure]) -> String {
    let rows: Vec<&Figure> = figures.iter().filter(|f| f.unit == "×").collect();
    let (label_w, plot_w, row_h, top) = (470.0, 420.0, 22.0, 50.0);
    let (lo, hi) = (0.01f64, 10.0f64);
    let x = |v: f64| label_w + (v.clamp(lo, hi).log10() - lo.log10()) / (hi / lo).log10() * plot_w;
    let height = top + rows.len() as f64 * row_h + 50.0;
    let width = label_w + plot_w + 80.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="20" font-size="14" font-weight="bold">zx-subsystem: ratio to the peer measured in the same run (log scale; left of 1× is faster)</text>"#
    );
    for tick in [0.01, 0.1, 1.0, 10.0] {
        let tx = x(tick);
        let _ = writeln!(
            s,
            r##"<line x1="{tx:.1}" y1="{:.1}" x2="{tx:.1}" y2="{:.1}" stroke="{}"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle">{tick}×</text>"##,
            top - 8.0,
            height - 25.0,
            if tick == 1.0 { "#000" } else { "#ccc" },
            top - 12.0
        );
    }
    for (i, f) in rows.iter().enumerate() {
        let y = top + i as f64 * row_h;
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            label_w - 8.0,
            y + 14.0,
            xml(&f.name)
        );
        let Some((v, ..)) = f.value else {
            let _ = writeln!(
                s,
                r##"<text x="{:.1}" y="{:.1}" fill="#888">skipped</text>"##,
                x(1.0) + 4.0,
                y + 14.0
            );
            continue;
        };
        let color = match f.status() {
            "met" => "#2e7d32",
            "MISSED" => "#c62828",
            _ => "#78909c",
        };
        let (x0, x1) = (x(1.0).min(x(v)), x(1.0).max(x(v)));
        let _ = writeln!(
            s,
            r#"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}"/><text x="{:.1}" y="{:.1}">{v:.2}×</text>"#,
            y + 4.0,
            (x1 - x0).max(1.0),
            row_h - 8.0,
            x(hi) + 6.0,
            y + 14.0
        );
        if let Target::AtMost(t) | Target::Below(t) = f.target {
            let _ = writeln!(
                s,
                r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#000" stroke-width="2" stroke-dasharray="3,2"/>"##,
                x(t),
                y + 1.0,
                y + row_h - 1.0
            );
        }
    }
    let _ = writeln!(
        s,
        r##"<text x="10" y="{:.1}" fill="#444">green: target met; red: target missed; grey: no target; dashed tick: the target</text>"##,
        height - 8.0
    );
    let _ = writeln!(s, "</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_chart() {
        let f = |v: Option<f64>, target| Figure {
            section: "s",
            name: "a <b> & c".into(),
            value: v.map(|v| (v, v, v)),
            unit: "×",
            target,
            note: String::new(),
        };
        assert_eq!(f(Some(1.5), Target::AtMost(1.5)).status(), "met");
        assert_eq!(f(Some(1.6), Target::AtMost(1.5)).status(), "MISSED");
        assert_eq!(f(Some(1.0), Target::Below(1.0)).status(), "MISSED");
        assert_eq!(f(None, Target::AtMost(2.5)).status(), "skipped");
        let chart = svg(&[
            f(Some(0.05), Target::Below(1.0)),
            f(None, Target::AtMost(2.5)),
        ]);
        assert!(chart.starts_with("<svg") && chart.trim_end().ends_with("</svg>"));
        assert!(chart.contains("a &lt;b&gt; &amp; c") && chart.contains("skipped"));
    }
}

//! The PERF.md anchor: protect of a fully populated 1 GiB range of 4 KiB
//! leaves (262,144 entries), toggling write permission, against the floor
//! of rewriting the same 512 leaf tables with one relaxed load and store
//! per entry.
//!
//! Ignored by default (it wants a release build):
//!
//! ```text
//! cargo test --release --test page_table_perf -- --ignored --nocapture
//! ```
//!
//! It fails if the walker is slower than 1.5× the floor (the budget
//! PERF.md sets) in the best of three measurements.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use zx_subsystem::arch::Arch;
use zx_subsystem::mmu::{FrameMem, FrameReserve, MmuFlags, PageSize, PageTable, TlbBatch};
use zx_subsystem::platform::{PhysAddr, Platform};
use zx_subsystem::sim::Sim;

const PAGES: u64 = 262_144;
const BASE: u64 = 1 << 30;
const REPS: usize = 21;
/// The floor toggles a bit both formats leave to software (x86_64 ignores
/// bits 52..=58; aarch64 reserves 55..=58 for software), so it and the
/// walker never undo each other's work.
const TOGGLE: u64 = 1 << 58;
const RUNS: usize = 5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median over `RUNS` runs of the median of `REPS` repetitions of `a`
/// and of `b`, interleaved so both see the same machine conditions (the
/// CPUs are shared).
fn measure(mut a: impl FnMut(usize), mut b: impl FnMut()) -> (Duration, Duration) {
    let (mut runs_a, mut runs_b) = (Vec::new(), Vec::new());
    let mut i = 0;
    for _ in 0..RUNS {
        let (mut reps_a, mut reps_b) = (Vec::new(), Vec::new());
        for _ in 0..REPS {
            let t = Instant::now();
            a(i);
            reps_a.push(t.elapsed());
            let t = Instant::now();
            b();
            reps_b.push(t.elapsed());
            i += 1;
        }
        runs_a.push(median(reps_a));
        runs_b.push(median(reps_b));
    }
    (median(runs_a), median(runs_b))
}

fn ns_per_page(d: Duration) -> f64 {
    d.as_nanos() as f64 / PAGES as f64
}

fn protect_toggle<A: Arch>() -> (f64, f64) {
    let sim = Sim::<A>::new();
    let mut pt = PageTable::new(sim.clone(), 1).unwrap();
    let urw = MmuFlags::RW | MmuFlags::USER;
    let ur = MmuFlags::READ | MmuFlags::USER;
    let mut b = TlbBatch::new::<A>(1);
    for i in 0..PAGES {
        let va = BASE + i * 4096;
        pt.map(va, PhysAddr::new(va), PageSize::Size4K, urw, &mut b)
            .unwrap();
    }
    // The floor rewrites the same 512 leaf tables, found by walking down
    // from the root (1 GiB at `BASE`: root entry 0, PDPT entry 1).
    let table = |pa: u64| {
        // SAFETY: every table of `pt` stays allocated while `pt` lives,
        // which outlives these views; every access is atomic.
        unsafe { FrameMem::new(&sim, PhysAddr::new(pa)) }
    };
    let addr = |e: u64| e & 0x0000_ffff_ffff_f000;
    let pdpt = addr(table(pt.root().as_u64()).words()[0].load(Ordering::Relaxed));
    let pd = addr(table(pdpt).words()[1].load(Ordering::Relaxed));
    let tables: Vec<FrameMem<'_>> = table(pd)
        .words()
        .iter()
        .map(|e| table(addr(e.load(Ordering::Relaxed))))
        .collect();
    assert_eq!(tables.len(), 512);
    let (walker, floor) = measure(
        |i| {
            let flags = if i % 2 == 0 { ur } else { urw };
            let mut b = TlbBatch::new::<A>(1);
            let mut r = FrameReserve::empty(&sim);
            pt.protect(BASE, PAGES * 4096, flags, &mut b, &mut r)
                .unwrap();
            sim.flush_tlb(&b);
        },
        || {
            for t in &tables {
                let words: &[AtomicU64] = black_box(t.words());
                for w in words {
                    w.store(w.load(Ordering::Relaxed) ^ TOGGLE, Ordering::Relaxed);
                }
            }
        },
    );
    let mut plain = vec![0x7u64; PAGES as usize];
    let (_, vectorised) = measure(
        |_| {},
        || {
            for e in black_box(&mut plain[..]) {
                *e ^= 2;
            }
        },
    );
    println!(
        "{}: vectorised non-atomic floor {:.3} ns/page",
        A::NAME,
        ns_per_page(vectorised)
    );
    (ns_per_page(walker), ns_per_page(floor))
}

/// Best of three measurements: other load on the shared CPUs only ever
/// makes a ratio worse.
fn check<A: Arch>() {
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let (walker, floor) = protect_toggle::<A>();
        let ratio = walker / floor;
        println!(
            "{}: protect {walker:.3} ns/page, floor {floor:.3} ns/page, ratio {ratio:.2}",
            A::NAME
        );
        best = best.min(ratio);
    }
    assert!(best <= 1.5, "{} walker is {best:.2}x the floor", A::NAME);
}

#[test]
#[ignore = "timing: run in release with --ignored"]
fn x86_64_protect_toggle_within_budget() {
    check::<zx_subsystem::arch::X86_64>();
}

#[test]
#[ignore = "timing: run in release with --ignored"]
fn aarch64_protect_toggle_within_budget() {
    check::<zx_subsystem::arch::Aarch64>();
}

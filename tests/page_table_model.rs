//! Random operation sequences on a page table, checked after every step
//! against a reference model of its leaves, on both formats.
//!
//! The model is `zx_subsystem::sim::model::leaves` (shared with the
//! `page_table` fuzz target). After each step the test checks:
//! - the frames the sim has allocated equal the root plus the tables the
//!   model's leaves need (so no leak and no table left empty), and
//!   `PageTable::audit` finds the tables consistent;
//! - `query` and the software MMU's translations (through its TLB, which
//!   only the operations' batches invalidate) agree with the model on the
//!   step's range, its edges and random pages;
//! - with the frame budget set to `frames_needed` the operation succeeds,
//!   and with less it fails with `NO_MEMORY` and changes nothing.
#![cfg(feature = "sim")]

use zx_subsystem::Error;
use zx_subsystem::arch::Arch;
use zx_subsystem::mmu::{FrameReserve, MmuFlags, PageSize, PageTable, TlbBatch};
use zx_subsystem::platform::{PhysAddr, Platform};
use zx_subsystem::sim::Sim;
use zx_subsystem::sim::model::leaves::{Leaf, LeafModel, check_page};

const K4: u64 = 4 << 10;
const M2: u64 = 2 << 20;
const G1: u64 = 1 << 30;
/// The window the operations touch: two 1 GiB-aligned gigabytes.
const WINDOW: u64 = 4 * G1;
const WINDOW_LEN: u64 = 2 * G1;
/// 2 MiB regions that get most of the small mappings.
const HOT: u64 = 16;
const STEPS: usize = 3000;

/// xorshift64: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_flags(rng: &mut Rng) -> MmuFlags {
    let perms = [
        MmuFlags::empty(),
        MmuFlags::READ,
        MmuFlags::RW,
        MmuFlags::RX,
        MmuFlags::RW | MmuFlags::EXECUTE,
        MmuFlags::WRITE,
        MmuFlags::EXECUTE,
    ];
    let user = if rng.below(5) == 0 {
        MmuFlags::empty()
    } else {
        MmuFlags::USER
    };
    perms[rng.below(perms.len() as u64) as usize] | user
}

/// A page to start at: mostly in the hot 2 MiB regions of the first
/// gigabyte, else anywhere in the second (where the large leaves are).
fn random_page(rng: &mut Rng) -> u64 {
    if rng.below(5) < 3 {
        hot_base(rng) + rng.below(512) * K4
    } else {
        WINDOW + G1 + rng.below(G1 / K4) * K4
    }
}

/// One of the hot 2 MiB regions of the first gigabyte of the window.
fn hot_base(rng: &mut Rng) -> u64 {
    WINDOW + (rng.below(HOT) * 37 % 512) * M2
}

/// How often each outcome happened, to prove the run covered them.
#[derive(Debug, Default)]
struct Outcomes {
    mapped: usize,
    exists: usize,
    map_no_memory: usize,
    changed: usize,
    change_no_memory: usize,
}

struct Bench<A: Arch> {
    sim: Sim<A>,
    pt: PageTable<Sim<A>>,
    model: LeafModel,
    rng: Rng,
    seen: Outcomes,
    /// Steps so far; the full audit of the tables runs every fourth.
    steps: usize,
}

impl<A: Arch> Bench<A> {
    fn check_page(&self, va: u64) {
        check_page(&self.sim, &self.pt, &self.model, va).unwrap();
    }

    fn check(&mut self, va: u64, end: u64) {
        assert_eq!(self.sim.frames_allocated(), self.model.frames(), "frames");
        self.steps += 1;
        if self.steps.is_multiple_of(4) {
            // A broken table invariant persists until repaired, so checking
            // every fourth step still finds it, in a quarter of the time.
            assert_eq!(self.pt.audit(), Ok(self.model.frames()), "audit");
        }
        let pages = (end - va) / K4;
        if pages <= 64 {
            for p in 0..pages {
                self.check_page(va + p * K4);
            }
        } else {
            for _ in 0..64 {
                let p = self.rng.below(pages);
                self.check_page(va + p * K4);
            }
        }
        for edge in [va.wrapping_sub(K4), va, end - K4, end] {
            if (WINDOW..WINDOW + WINDOW_LEN).contains(&edge) {
                self.check_page(edge);
            }
        }
        for _ in 0..16 {
            let va = random_page(&mut self.rng);
            self.check_page(va);
        }
    }

    fn step_map(&mut self) {
        let size = match self.rng.below(100) {
            0..8 => PageSize::Size1G,
            8..30 => PageSize::Size2M,
            _ => PageSize::Size4K,
        };
        let va = match size {
            PageSize::Size1G => WINDOW + G1,
            _ => random_page(&mut self.rng) & !(size.bytes() - 1),
        };
        let pa = (self.rng.next() & ((1 << 40) - 1)) & !(size.bytes() - 1);
        let mut flags = random_flags(&mut self.rng);
        if !flags.grants_access() {
            flags |= MmuFlags::READ;
        }
        let tables_missing = {
            let has = |shift: u32, max: PageSize| {
                self.model
                    .leaves
                    .iter()
                    .any(|(&b, l)| b >> shift == va >> shift && l.size <= max)
            };
            let mut n = 0;
            for (level, max) in [
                (2, PageSize::Size1G),
                (1, PageSize::Size2M),
                (0, PageSize::Size4K),
            ] {
                if level >= size.level() && !has(21 + 9 * level as u32, max) {
                    n += 1;
                }
            }
            n
        };
        let budget = self.rng.below(4) as usize;
        self.sim.fail_after(budget);
        let mut b = TlbBatch::new::<A>(self.pt.asid());
        let res = self.pt.map(va, PhysAddr::new(pa), size, flags, &mut b);
        self.sim.set_frame_limit(None);
        self.sim.flush_tlb(&b);
        if self.model.overlaps(va, size.bytes()) {
            assert!(matches!(res, Err(Error::AlreadyExists(_))), "{res:?}");
            self.seen.exists += 1;
        } else if budget < tables_missing {
            assert_eq!(res, Err(Error::NoMemory));
            self.seen.map_no_memory += 1;
        } else {
            assert_eq!(res, Ok(()));
            self.seen.mapped += 1;
            self.model.leaves.insert(
                va,
                Leaf {
                    pa,
                    flags: flags.encodable(),
                    size,
                },
            );
        }
        self.check(va, va + size.bytes());
    }

    fn step_change(&mut self) {
        let mut va = random_page(&mut self.rng);
        let len = if self.rng.below(30) == 0 {
            // Clear the large-leaf gigabyte now and then.
            va = WINDOW + G1;
            G1
        } else if self.rng.below(10) == 0 {
            self.rng.below(G1 / K4) * K4 + K4
        } else {
            self.rng.below(1024) * K4 + K4
        };
        let end = (va + len).min(WINDOW + WINDOW_LEN);
        let flags = if self.rng.below(3) == 0 {
            MmuFlags::empty()
        } else {
            random_flags(&mut self.rng)
        };
        let need = self.pt.frames_needed(va, end - va);
        // Half the operations that need frames get too few.
        let budget = if need > 0 && self.rng.below(2) == 0 {
            self.rng.below(need as u64) as usize
        } else {
            need
        };
        self.sim.fail_after(budget);
        let mut b = TlbBatch::new::<A>(self.pt.asid());
        let mut r = FrameReserve::empty(&self.sim);
        let res = if !flags.grants_access() && self.rng.below(2) == 0 {
            self.pt.unmap(va, end - va, &mut b, &mut r)
        } else {
            self.pt.protect(va, end - va, flags, &mut b, &mut r)
        };
        drop(r);
        self.sim.set_frame_limit(None);
        self.sim.flush_tlb(&b);
        if budget < need {
            assert_eq!(res, Err(Error::NoMemory));
            self.seen.change_no_memory += 1;
        } else {
            assert_eq!(res, Ok(()));
            self.seen.changed += 1;
            let flags = if flags.grants_access() {
                flags.encodable()
            } else {
                MmuFlags::empty()
            };
            self.model.change(va, end, flags);
        }
        self.check(va, end);
    }
}

fn random_operations<A: Arch>(seed: u64) {
    let sim = Sim::<A>::new();
    let pt = PageTable::new(sim.clone(), 9).unwrap();
    let mut bench = Bench {
        sim,
        pt,
        model: LeafModel::default(),
        rng: Rng(seed),
        seen: Outcomes::default(),
        steps: 0,
    };
    for step in 0..STEPS {
        if bench.rng.below(5) < 2 {
            bench.step_map();
        } else {
            bench.step_change();
        }
        if step % 500 == 499 {
            for (&va, _) in bench.model.leaves.clone().iter().step_by(7) {
                bench.check_page(va);
            }
        }
    }
    let (seen, splits) = (&bench.seen, bench.model.splits);
    println!("{}: {seen:?}, splits {splits:?}", A::NAME);
    assert!(
        seen.mapped > 200 && seen.exists > 50 && seen.map_no_memory > 10,
        "{seen:?}"
    );
    assert!(
        seen.changed > 1000 && seen.change_no_memory > 20,
        "{seen:?}"
    );
    assert!(splits[0] >= 3 && splits[1] > 50, "{splits:?}");
    // Everything goes away and every table with it.
    let mut b = TlbBatch::new::<A>(bench.pt.asid());
    let mut r = FrameReserve::empty(&bench.sim);
    bench.pt.unmap(WINDOW, WINDOW_LEN, &mut b, &mut r).unwrap();
    bench.sim.flush_tlb(&b);
    drop(r);
    assert_eq!(bench.sim.frames_allocated(), 1);
    drop(bench.pt);
    assert_eq!(bench.sim.frames_allocated(), 0);
}

#[test]
fn x86_64_random_operations_match_model() {
    random_operations::<zx_subsystem::arch::X86_64>(0x9e37_79b9_7f4a_7c15);
}

#[test]
fn aarch64_random_operations_match_model() {
    random_operations::<zx_subsystem::arch::Aarch64>(0x2545_f491_4f6c_dd1d);
}

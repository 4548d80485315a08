//! Random map/protect/unmap with 4 KiB, 2 MiB and 1 GiB pages on both
//! page-table formats, against the leaf-granular model
//! `zx_subsystem::sim::model::leaves` (as `tests/page_table_model.rs`,
//! driven by the fuzzer instead of a seeded RNG). After every step: the sim's frames equal the root plus the tables
//! the model's leaves need; `query` and the soft MMU (through its TLB,
//! which only the operations' batches invalidate) agree with the model on
//! the step's range and edges; an operation given fewer frames than
//! `frames_needed` fails with `NO_MEMORY` and changes nothing.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use zx_subsystem::Error;
use zx_subsystem::arch::{Aarch64, Arch, X86_64};
use zx_subsystem::mmu::{FrameReserve, MmuFlags, PageSize, PageTable, TlbBatch};
use zx_subsystem::platform::{PhysAddr, Platform};
use zx_subsystem::sim::Sim;
use zx_subsystem::sim::model::leaves::{Leaf, LeafModel, check_page};

const K4: u64 = 4 << 10;
const M2: u64 = 2 << 20;
const G1: u64 = 1 << 30;
/// Two 1 GiB-aligned gigabytes.
const WINDOW: u64 = 4 * G1;
const WINDOW_LEN: u64 = 2 * G1;

#[derive(Arbitrary, Debug)]
enum Step {
    Map {
        size: u8,
        page: u32,
        pa: u32,
        flags: u8,
        budget: u8,
    },
    Change {
        page: u32,
        pages: u32,
        flags: u8,
        unmap: bool,
        short: Option<u8>,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    aarch64: bool,
    steps: Vec<Step>,
}

fn flags_of(f: u8) -> MmuFlags {
    let perms = [
        MmuFlags::empty(),
        MmuFlags::READ,
        MmuFlags::RW,
        MmuFlags::RX,
        MmuFlags::RW | MmuFlags::EXECUTE,
        MmuFlags::WRITE,
        MmuFlags::EXECUTE,
        MmuFlags::READ,
    ];
    let user = if f & 0x80 != 0 {
        MmuFlags::empty()
    } else {
        MmuFlags::USER
    };
    perms[usize::from(f % 8)] | user
}

/// A page of the window: mostly in a few hot 2 MiB regions of the first
/// gigabyte, else anywhere in the second (where large leaves go).
fn page_at(p: u32) -> u64 {
    let p = u64::from(p);
    if p % 4 != 0 {
        WINDOW + ((p >> 2) % 8 * 37 % 512) * M2 + (p >> 5) % 512 * K4
    } else {
        WINDOW + G1 + (p >> 2) % (G1 / K4) * K4
    }
}

struct Bench<A: Arch> {
    sim: Sim<A>,
    pt: PageTable<Sim<A>>,
    model: LeafModel,
}

impl<A: Arch> Bench<A> {
    fn check_page(&self, va: u64) {
        check_page(&self.sim, &self.pt, &self.model, va).unwrap();
    }

    fn check(&self, va: u64, end: u64) {
        assert_eq!(self.sim.frames_allocated(), self.model.frames(), "frames");
        let pages = (end - va) / K4;
        let step = (pages / 32).max(1);
        for p in (0..pages).step_by(step as usize) {
            self.check_page(va + p * K4);
        }
        for edge in [va.wrapping_sub(K4), va, end - K4, end] {
            if (WINDOW..WINDOW + WINDOW_LEN).contains(&edge) {
                self.check_page(edge);
            }
        }
    }

    fn step(&mut self, step: &Step) {
        match *step {
            Step::Map {
                size,
                page,
                pa,
                flags,
                budget,
            } => {
                let size = match size % 16 {
                    0 => PageSize::Size1G,
                    1..4 => PageSize::Size2M,
                    _ => PageSize::Size4K,
                };
                let va = match size {
                    PageSize::Size1G => WINDOW + G1,
                    _ => page_at(page) & !(size.bytes() - 1),
                };
                let pa = (u64::from(pa) << 12) & !(size.bytes() - 1);
                let mut flags = flags_of(flags);
                if !flags.grants_access() {
                    flags |= MmuFlags::READ;
                }
                let frames_before = self.sim.frames_allocated();
                let budget = usize::from(budget % 4);
                self.sim.fail_after(budget);
                let mut b = TlbBatch::new::<A>(self.pt.asid());
                let res = self.pt.map(va, PhysAddr::new(pa), size, flags, &mut b);
                self.sim.set_frame_limit(None);
                self.sim.flush_tlb(&b);
                if self.model.overlaps(va, size.bytes()) {
                    assert!(matches!(res, Err(Error::AlreadyExists(_))), "{res:?}");
                } else if res == Err(Error::NoMemory) {
                    assert_eq!(
                        self.sim.frames_allocated(),
                        frames_before,
                        "failed map leaked"
                    );
                } else {
                    assert_eq!(res, Ok(()));
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
            Step::Change {
                page,
                pages,
                flags,
                unmap,
                short,
            } => {
                let va = page_at(page);
                let len = match pages % 64 {
                    0 => (u64::from(pages) >> 6) % (G1 / K4) * K4 + K4,
                    _ => (u64::from(pages) >> 6) % 1024 * K4 + K4,
                };
                let end = (va + len).min(WINDOW + WINDOW_LEN);
                let flags = if unmap {
                    MmuFlags::empty()
                } else {
                    flags_of(flags)
                };
                let need = self.pt.frames_needed(va, end - va);
                let budget = match short {
                    Some(s) if need > 0 => usize::from(s) % need,
                    _ => need,
                };
                self.sim.fail_after(budget);
                let mut b = TlbBatch::new::<A>(self.pt.asid());
                let mut r = FrameReserve::empty(&self.sim);
                let res = if unmap {
                    self.pt.unmap(va, end - va, &mut b, &mut r)
                } else {
                    self.pt.protect(va, end - va, flags, &mut b, &mut r)
                };
                drop(r);
                self.sim.set_frame_limit(None);
                self.sim.flush_tlb(&b);
                if budget < need {
                    assert_eq!(res, Err(Error::NoMemory));
                } else {
                    assert_eq!(res, Ok(()));
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
    }
}

fn run<A: Arch>(steps: &[Step]) {
    let sim = Sim::<A>::new();
    let pt = PageTable::new(sim.clone(), 9).unwrap();
    let mut bench = Bench {
        sim,
        pt,
        model: LeafModel::default(),
    };
    for s in steps.iter().take(64) {
        bench.step(s);
    }
    let mut b = TlbBatch::new::<A>(bench.pt.asid());
    let mut r = FrameReserve::empty(&bench.sim);
    bench.pt.unmap(WINDOW, WINDOW_LEN, &mut b, &mut r).unwrap();
    bench.sim.flush_tlb(&b);
    drop(r);
    assert_eq!(
        bench.sim.frames_allocated(),
        1,
        "tables left after unmapping all"
    );
    let Bench { sim, pt, .. } = bench;
    drop(pt);
    assert_eq!(sim.frames_allocated(), 0);
}

fuzz_target!(|input: Input| {
    if input.aarch64 {
        run::<Aarch64>(&input.steps);
    } else {
        run::<X86_64>(&input.steps);
    }
});

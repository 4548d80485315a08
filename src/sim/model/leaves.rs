//! A leaf-granular model of one page table, for the page-table property
//! test (`tests/page_table_model.rs`, seeded) and fuzz target
//! (`fuzz/fuzz_targets/page_table.rs`), which drive it the same way.
//!
//! The model is a map from leaf base to (physical address, flags, size)
//! that splits leaves the way the walker must: protect splits a large leaf
//! the range cuts only if its permissions change; unmap always does.
//! [`check_page`] compares one page of a real table (its `query` and the
//! soft MMU's translation through its TLB) with the model.

use std::collections::{BTreeMap, BTreeSet};
use std::format;
use std::string::String;
use std::vec::Vec;

use crate::arch::Arch;
use crate::mmu::{MmuFlags, PageSize, PageTable};
use crate::platform::PhysAddr;
use crate::sim::{FaultKind, Sim};
use crate::trap::Access;

/// One leaf translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leaf {
    /// Physical address of the leaf's first byte.
    pub pa: u64,
    /// Its flags, as the table can encode them.
    pub flags: MmuFlags,
    /// Its size.
    pub size: PageSize,
}

/// The leaves of one page table.
#[derive(Clone, Debug, Default)]
pub struct LeafModel {
    /// Leaves by base address.
    pub leaves: BTreeMap<u64, Leaf>,
    /// Splits so far: of 1 GiB leaves, of 2 MiB leaves.
    pub splits: [usize; 2],
}

impl LeafModel {
    /// The leaf containing `va`, with its base.
    pub fn find(&self, va: u64) -> Option<(u64, Leaf)> {
        let (&base, &leaf) = self.leaves.range(..=va).next_back()?;
        (va < base + leaf.size.bytes()).then_some((base, leaf))
    }

    /// Whether any leaf intersects `[va, va + len)`.
    pub fn overlaps(&self, va: u64, len: u64) -> bool {
        self.find(va).is_some() || self.leaves.range(va..va + len).next().is_some()
    }

    /// Leaves intersecting `[va, end)`.
    fn hits(&self, va: u64, end: u64) -> Vec<(u64, Leaf)> {
        let mut out: Vec<_> = self.find(va).into_iter().collect();
        out.extend(self.leaves.range(va..end).map(|(&b, &l)| (b, l)));
        out.dedup_by_key(|(b, _)| *b);
        out
    }

    fn split(&mut self, base: u64) {
        let Some(leaf) = self.leaves.remove(&base) else {
            return;
        };
        let child = match leaf.size {
            PageSize::Size1G => PageSize::Size2M,
            _ => PageSize::Size4K,
        };
        self.splits[usize::from(child == PageSize::Size4K)] += 1;
        for i in 0..512 {
            let off = i * child.bytes();
            self.leaves.insert(
                base + off,
                Leaf {
                    pa: leaf.pa + off,
                    size: child,
                    ..leaf
                },
            );
        }
    }

    /// Protects `[va, end)` to `flags`, or unmaps it if `flags` is empty.
    pub fn change(&mut self, va: u64, end: u64, flags: MmuFlags) {
        for (base, leaf) in self.hits(va, end) {
            let whole = base >= va && base + leaf.size.bytes() <= end;
            if flags.is_empty() && whole {
                self.leaves.remove(&base);
            } else if !flags.is_empty() && leaf.flags == flags {
                // Unchanged: no split either.
            } else if whole {
                if let Some(l) = self.leaves.get_mut(&base) {
                    l.flags = flags;
                }
            } else {
                self.split(base);
                self.change(va.max(base), end.min(base + leaf.size.bytes()), flags);
            }
        }
    }

    /// Frames the table needs: the root plus the tables the leaves need.
    pub fn frames(&self) -> usize {
        let mut sets = [BTreeSet::new(), BTreeSet::new(), BTreeSet::new()];
        for (&va, leaf) in &self.leaves {
            for (level, set) in sets.iter_mut().enumerate().skip(leaf.size.level()) {
                set.insert(va >> (21 + 9 * level));
            }
        }
        1 + sets.iter().map(BTreeSet::len).sum::<usize>()
    }
}

/// Compares the page at `va` of `pt` with `model`: `query` must give the
/// model's leaf, and the soft MMU (through its TLB) must translate a user
/// read, write and fetch exactly when the leaf's flags allow it, fault
/// `NotPresent` where there is no leaf and `Permission` otherwise.
///
/// # Errors
///
/// The first disagreement, described.
pub fn check_page<A: Arch>(
    sim: &Sim<A>,
    pt: &PageTable<Sim<A>>,
    model: &LeafModel,
    va: u64,
) -> Result<(), String> {
    let want = model
        .find(va)
        .map(|(base, l)| (l.pa + (va - base), l.flags, l.size));
    let got = pt.query(va).map(|t| (t.pa.as_u64(), t.flags, t.size));
    if got != want {
        return Err(format!("query {va:#x}: {got:x?}, model {want:x?}"));
    }
    for (access, need) in [
        (Access::Read, MmuFlags::READ),
        (Access::Write, MmuFlags::WRITE),
        (Access::Execute, MmuFlags::EXECUTE),
    ] {
        let got = sim.translate(pt.root(), pt.asid(), va, access, true);
        let ok = match want {
            None => matches!(got, Err(f) if matches!(f.kind, FaultKind::NotPresent { .. })),
            Some((pa, flags, _)) if flags.contains(need | MmuFlags::USER) => {
                got.map(PhysAddr::as_u64) == Ok(pa)
            }
            Some(_) => got.map_err(|f| f.kind) == Err(FaultKind::Permission),
        };
        if !ok {
            return Err(format!("{access:?} {va:#x}: {got:x?}, model {want:x?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(pa: u64, size: PageSize) -> Leaf {
        Leaf {
            pa,
            flags: MmuFlags::READ | MmuFlags::USER,
            size,
        }
    }

    #[test]
    fn protect_splits_only_on_change_unmap_always() {
        let mut m = LeafModel::default();
        m.leaves.insert(0, leaf(0x4000_0000, PageSize::Size2M));
        // Same flags over half the leaf: no split.
        m.change(0, 0x10_0000, MmuFlags::READ | MmuFlags::USER);
        assert_eq!((m.leaves.len(), m.splits), (1, [0, 0]));
        // New flags over one page: split into 512, one changed.
        m.change(0x1000, 0x2000, MmuFlags::RW | MmuFlags::USER);
        assert_eq!((m.leaves.len(), m.splits), (512, [0, 1]));
        assert_eq!(
            m.find(0x1fff).unwrap().1.flags,
            MmuFlags::RW | MmuFlags::USER
        );
        assert_eq!(m.find(0x2000).unwrap().1.pa, 0x4000_2000);
        // Unmap a page: gone, neighbours stay; root + L3 + L2 + L1 table.
        m.change(0x1000, 0x2000, MmuFlags::empty());
        assert!(m.find(0x1000).is_none() && m.overlaps(0, 0x2000));
        assert_eq!(m.frames(), 4);
        m.change(0, 0x20_0000, MmuFlags::empty());
        assert_eq!((m.leaves.len(), m.frames()), (0, 1));
    }
}

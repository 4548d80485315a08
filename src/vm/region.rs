//! The VMAR tree of one address space: regions (VMARs), mappings, and the
//! walks over address ranges.
//!
//! Every region and mapping of a process lives in one of two arenas inside
//! the address-space lock. A region keeps its children in a `BTreeMap` keyed
//! by base address, so finding what covers an address is `O(depth · log n)`
//! and a walk over `k` items of a range is `O(k · depth · log n)`. Walks are
//! cursor-based loops, never recursion, since user space chooses the depth.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::heap::Reserve;
use crate::platform::Platform;

use super::Perms;
use super::slab::{Slab, SlabId};
use super::vmo::Vmo;

/// A child of a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Child {
    /// A sub-region (sub-VMAR).
    Region(SlabId),
    /// A mapping.
    Mapping(SlabId),
}

/// A VMAR.
pub struct Region {
    /// First address.
    pub base: u64,
    /// Size in bytes (a page multiple).
    pub size: u64,
    /// The parent region; `None` for the root VMAR.
    pub parent: Option<SlabId>,
    /// `CAN_MAP_READ/WRITE/EXECUTE`.
    pub can_map: Perms,
    /// `CAN_MAP_SPECIFIC`.
    pub can_map_specific: bool,
    /// Children by base address.
    pub children: BTreeMap<u64, Child>,
    /// The VMAR's koid.
    pub koid: u64,
    /// Where the next non-specific placement starts looking.
    pub hint: u64,
}

impl Region {
    /// One past the last address.
    pub fn end(&self) -> u64 {
        self.base + self.size
    }
}

/// A mapping of a VMO range, with its protection ranges.
pub struct Mapping<P: Platform> {
    /// First address.
    pub base: u64,
    /// Size in bytes (a page multiple).
    pub size: u64,
    /// The region holding the mapping.
    pub parent: SlabId,
    /// The mapped VMO.
    pub vmo: Arc<Vmo<P>>,
    /// VMO offset mapped at `base`.
    pub vmo_offset: u64,
    /// The most any protection of this mapping may grant (fixed at map
    /// time: the VMO handle's and the VMAR handle's rights).
    pub max: Perms,
    /// Current protections.
    pub prot: ProtRanges,
}

impl<P: Platform> Mapping<P> {
    /// One past the last address.
    pub fn end(&self) -> u64 {
        self.base + self.size
    }

    /// The VMO offset of address `va` (inside the mapping).
    pub fn offset_of(&self, va: u64) -> u64 {
        self.vmo_offset + (va - self.base)
    }
}

/// The protections of a mapping: one value for the whole mapping, or
/// ranges starting at the given addresses (sorted, the first at the
/// mapping's base, adjacent ranges differ).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtRanges {
    /// The whole mapping has these permissions.
    Uniform(Perms),
    /// `(start address, permissions)`, each range running to the next start
    /// (the last to the mapping's end).
    Ranges(Vec<(u64, Perms)>),
}

impl ProtRanges {
    /// The permissions at `va`.
    pub fn at(&self, va: u64) -> Perms {
        match self {
            ProtRanges::Uniform(p) => *p,
            ProtRanges::Ranges(v) => {
                let i = v.partition_point(|(start, _)| *start <= va);
                v[i.saturating_sub(1)].1
            }
        }
    }

    /// The `(start, end, perms)` pieces intersecting `[start, end)`, clipped.
    pub fn pieces(&self, start: u64, end: u64, map_end: u64) -> Vec<(u64, u64, Perms)> {
        match self {
            ProtRanges::Uniform(p) => alloc::vec![(start, end, *p)],
            ProtRanges::Ranges(v) => {
                let mut out = Vec::new();
                for (i, (s, p)) in v.iter().enumerate() {
                    let e = v.get(i + 1).map_or(map_end, |n| n.0);
                    let (lo, hi) = ((*s).max(start), e.min(end));
                    if lo < hi {
                        out.push((lo, hi, *p));
                    }
                }
                out
            }
        }
    }

    /// Whether every permission over `[start, end)` contains `perms`.
    pub fn all_contain(&self, start: u64, end: u64, map_end: u64, perms: Perms) -> bool {
        match self {
            ProtRanges::Uniform(p) => p.contains(perms),
            ProtRanges::Ranges(v) => v.iter().enumerate().all(|(i, (s, p))| {
                let e = v.get(i + 1).map_or(map_end, |n| n.0);
                (*s).max(start) >= e.min(end) || p.contains(perms)
            }),
        }
    }

    /// Makes room so that one [`set`](ProtRanges::set) cannot allocate.
    ///
    /// # Errors
    ///
    /// `NO_MEMORY`.
    pub fn reserve_for_set(&mut self, map_base: u64) -> Result<()> {
        match self {
            ProtRanges::Uniform(p) => {
                let mut v = Vec::new();
                v.reserve_fallibly(3)?;
                v.push((map_base, *p));
                *self = ProtRanges::Ranges(v);
            }
            ProtRanges::Ranges(v) => v.reserve_fallibly(2)?,
        }
        Ok(())
    }

    /// Sets `[start, end)` (inside `[map_base, map_end)`) to `perms`. Never
    /// allocates after [`reserve_for_set`](ProtRanges::reserve_for_set).
    pub fn set(&mut self, map_base: u64, map_end: u64, start: u64, end: u64, perms: Perms) {
        if start <= map_base && end >= map_end {
            *self = ProtRanges::Uniform(perms);
            return;
        }
        let resume = (end < map_end).then(|| (end, self.at(end)));
        let mut v = match core::mem::replace(self, ProtRanges::Uniform(perms)) {
            ProtRanges::Uniform(p) => alloc::vec![(map_base, p)],
            ProtRanges::Ranges(v) => v,
        };
        v.retain(|(s, _)| *s < start || *s > end);
        let i = v.partition_point(|(s, _)| *s < start);
        v.insert(i, (start, perms));
        if let Some(r) = resume {
            v.insert(i + 1, r);
        }
        v.dedup_by(|next, prev| next.1 == prev.1);
        *self = if v.len() == 1 {
            ProtRanges::Uniform(v[0].1)
        } else {
            ProtRanges::Ranges(v)
        };
    }

    /// The part of these ranges inside `[start, end)`, as a new value.
    pub fn slice(&self, start: u64, end: u64, map_end: u64) -> ProtRanges {
        match self {
            ProtRanges::Uniform(p) => ProtRanges::Uniform(*p),
            ProtRanges::Ranges(_) => {
                let mut v: Vec<(u64, Perms)> = self
                    .pieces(start, end, map_end)
                    .into_iter()
                    .map(|(s, _, p)| (s, p))
                    .collect();
                v.dedup_by(|next, prev| next.1 == prev.1);
                if v.len() == 1 {
                    ProtRanges::Uniform(v[0].1)
                } else {
                    ProtRanges::Ranges(v)
                }
            }
        }
    }
}

/// What a cursor walk finds at an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// A mapping; `nested` when it lies in a sub-region of the walk's root.
    Mapping {
        /// The mapping.
        id: SlabId,
        /// Whether it is inside a sub-VMAR of the region walked.
        nested: bool,
    },
    /// Nothing is mapped here (an empty sub-region is a hole too).
    Hole,
}

/// The regions and mappings of one address space.
pub struct Tree<P: Platform> {
    /// VMARs.
    pub regions: Slab<Region>,
    /// Mappings.
    pub mappings: Slab<Mapping<P>>,
    /// The root VMAR, `None` once destroyed.
    pub root: Option<SlabId>,
}

impl<P: Platform> Tree<P> {
    /// The region `id`.
    ///
    /// # Errors
    ///
    /// `BAD_STATE` if it was destroyed.
    pub fn region(&self, id: SlabId) -> Result<&Region> {
        self.regions
            .get(id)
            .ok_or(Error::BadState("VMAR destroyed"))
    }

    /// What covers `cursor` under region `root`, and where that item (or
    /// hole) ends, clipped to the innermost region containing it.
    pub fn item_at(&self, root: SlabId, cursor: u64) -> (Item, u64) {
        let mut region_id = root;
        let mut nested = false;
        loop {
            let Some(region) = self.regions.get(region_id) else {
                return (Item::Hole, cursor.saturating_add(1));
            };
            let covering = region
                .children
                .range(..=cursor)
                .next_back()
                .map(|(_, c)| *c)
                .filter(|c| self.child_end(*c) > cursor);
            match covering {
                Some(Child::Region(r)) => {
                    region_id = r;
                    nested = true;
                }
                Some(Child::Mapping(m)) => {
                    let end = self.mappings.get(m).map_or(cursor + 1, |m| m.end());
                    return (Item::Mapping { id: m, nested }, end);
                }
                None => {
                    let next = region
                        .children
                        .range(cursor..)
                        .next()
                        .map_or(region.end(), |(base, _)| *base);
                    return (Item::Hole, next.min(region.end()));
                }
            }
        }
    }

    /// The end address of a child.
    pub fn child_end(&self, child: Child) -> u64 {
        match child {
            Child::Region(r) => self.regions.get(r).map_or(0, Region::end),
            Child::Mapping(m) => self.mappings.get(m).map_or(0, Mapping::end),
        }
    }

    /// The mapping covering `va` anywhere in the tree.
    pub fn mapping_at(&self, va: u64) -> Option<SlabId> {
        let root = self.root?;
        let region = self.regions.get(root)?;
        if va < region.base || va >= region.end() {
            return None;
        }
        match self.item_at(root, va).0 {
            Item::Mapping { id, .. } => Some(id),
            Item::Hole => None,
        }
    }

    /// Whether `[start, end)` under `region` is free of children.
    pub fn is_free(&self, region: &Region, start: u64, end: u64) -> bool {
        let before = region
            .children
            .range(..start)
            .next_back()
            .is_some_and(|(_, c)| self.child_end(*c) > start);
        let inside = region.children.range(start..end).next().is_some();
        !before && !inside
    }

    /// A free, `align`-aligned spot of `size` bytes in `region`: first fit
    /// from the region's hint, then from its base. Deterministic (this crate
    /// does not randomise placement).
    pub fn find_spot(&self, region: &Region, size: u64, align: u64) -> Option<u64> {
        self.first_fit(region, region.hint.max(region.base), size, align)
            .or_else(|| self.first_fit(region, region.base, size, align))
    }

    /// A free spot ending at or below `end`, searched from the region's
    /// base (for `ZX_VM_OFFSET_IS_UPPER_LIMIT`).
    pub fn find_spot_below(&self, region: &Region, size: u64, align: u64, end: u64) -> Option<u64> {
        self.first_fit(region, region.base, size, align)
            .filter(|b| b.checked_add(size).is_some_and(|e| e <= end))
    }

    fn first_fit(&self, region: &Region, from: u64, size: u64, align: u64) -> Option<u64> {
        let mut gap_start = region
            .children
            .range(..from)
            .next_back()
            .map_or(from, |(_, c)| self.child_end(*c).max(from));
        let mut next = region.children.range(from..).map(|(b, c)| (*b, *c));
        loop {
            let (gap_end, following) = match next.next() {
                Some((base, c)) => (base, Some(c)),
                None => (region.end(), None),
            };
            let candidate = align_up(gap_start, align)?;
            if candidate.checked_add(size).is_some_and(|e| e <= gap_end) {
                return Some(candidate);
            }
            gap_start = following.map(|c| self.child_end(c))?;
        }
    }
}

/// `addr` rounded up to `align` (a power of two).
pub fn align_up(addr: u64, align: u64) -> Option<u64> {
    addr.checked_add(align - 1).map(|a| a & !(align - 1))
}

//! A read-only snapshot of an address space's VMAR tree, for tests, fuzzers
//! and debugging: [`AddressSpace::layout`]; and [`AddressSpace::audit_views`],
//! which checks every translation against what its VMO shows.
//!
//! The snapshot is taken under the address-space tree lock in one go and
//! reports the tree exactly as stored (children in key order, with the key
//! each is filed under), so a checker can verify the tree's invariants —
//! keys equal bases, siblings sorted and disjoint, children inside their
//! parent, every node in the arenas reachable — without access to the
//! crate's internals.

use alloc::vec::Vec;

use crate::mmu::MmuFlags;
use crate::platform::{PAGE_SIZE, Platform};

use super::Perms;
use super::aspace::AddressSpace;
use super::region::Child;

/// One region (VMAR) of a [`Layout`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionInfo {
    /// The VMAR's koid.
    pub koid: u64,
    /// First address.
    pub base: u64,
    /// Size in bytes.
    pub size: u64,
    /// Index of the parent in [`Layout::regions`]; `None` for the root.
    pub parent: Option<usize>,
    /// `CAN_MAP_READ/WRITE/EXECUTE`.
    pub can_map: Perms,
    /// `CAN_MAP_SPECIFIC`.
    pub can_map_specific: bool,
    /// The children as filed: `(key, child)` in key order.
    pub children: Vec<(u64, LayoutChild)>,
}

/// A child of a region in a [`Layout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutChild {
    /// Index into [`Layout::regions`].
    Region(usize),
    /// Index into [`Layout::mappings`].
    Mapping(usize),
}

/// One mapping of a [`Layout`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappingInfo {
    /// First address.
    pub base: u64,
    /// Size in bytes.
    pub size: u64,
    /// Index of the holding region in [`Layout::regions`].
    pub region: usize,
    /// The mapped VMO's koid.
    pub vmo_koid: u64,
    /// VMO offset mapped at `base`.
    pub vmo_offset: u64,
    /// Maximum permissions.
    pub max: Perms,
    /// Protection pieces `(start, end, perms)` covering the mapping, in
    /// address order, as stored.
    pub prot: Vec<(u64, u64, Perms)>,
}

/// A snapshot of an address space's VMAR tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// Regions reachable from the root, the root first.
    pub regions: Vec<RegionInfo>,
    /// Mappings reachable from the root.
    pub mappings: Vec<MappingInfo>,
    /// Regions in the arena (reachable or not).
    pub stored_regions: usize,
    /// Mappings in the arena (reachable or not).
    pub stored_mappings: usize,
}

impl<P: Platform> AddressSpace<P> {
    /// A snapshot of the VMAR tree (empty once the root was destroyed).
    pub fn layout(&self) -> Layout {
        let tree = self.tree.lock();
        let mut out = Layout {
            stored_regions: tree.regions.len(),
            stored_mappings: tree.mappings.len(),
            ..Layout::default()
        };
        let Some(root) = tree.root else {
            return out;
        };
        // (slab id, parent index): iterative, user space picks the depth.
        let mut work = alloc::vec![(root, None)];
        while let Some((id, parent)) = work.pop() {
            let Some(r) = tree.regions.get(id) else {
                continue;
            };
            let index = out.regions.len();
            let mut children = Vec::new();
            for (key, child) in &r.children {
                match *child {
                    Child::Region(sub) => {
                        // The index the sub-region will get is not known
                        // yet; patched below.
                        children.push((*key, LayoutChild::Region(usize::MAX)));
                        work.push((sub, Some((index, children.len() - 1))));
                    }
                    Child::Mapping(m) => {
                        let Some(m) = tree.mappings.get(m) else {
                            continue;
                        };
                        children.push((*key, LayoutChild::Mapping(out.mappings.len())));
                        out.mappings.push(MappingInfo {
                            base: m.base,
                            size: m.size,
                            region: index,
                            vmo_koid: m.vmo.koid(),
                            vmo_offset: m.vmo_offset,
                            max: m.max,
                            prot: m.prot.pieces(m.base, m.end(), m.end()),
                        });
                    }
                }
            }
            if let Some((p, slot)) = parent {
                let parent_region: &mut RegionInfo = &mut out.regions[p];
                parent_region.children[slot].1 = LayoutChild::Region(index);
            }
            out.regions.push(RegionInfo {
                koid: r.koid,
                base: r.base,
                size: r.size,
                parent: parent.map(|(p, _)| p),
                can_map: r.can_map,
                can_map_specific: r.can_map_specific,
                children,
            });
        }
        out
    }
}

/// A translation that does not match what its mapping's VMO shows
/// ([`AddressSpace::audit_views`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewMismatch {
    /// The page's address.
    pub va: u64,
    /// What is wrong.
    pub why: &'static str,
}

impl core::fmt::Display for ViewMismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:#x}: {}", self.va, self.why)
    }
}

impl<P: Platform> AddressSpace<P> {
    /// Checks the translations of every mapping (of a mapping larger than
    /// `2 * sample` pages, its first and last `sample` pages): each must
    /// translate to the frame the mapped VMO shows at that offset, and may
    /// be writable only where that frame is the VMO's own — never a frame
    /// a snapshot shares or an ancestor holds. Takes the address-space
    /// tree lock, then each VMO's, then the page-table lock, one at a time
    /// after the first: meant for quiescent address spaces (tests).
    ///
    /// # Errors
    ///
    /// The first page that does not match.
    pub fn audit_views(&self, sample: u64) -> Result<(), ViewMismatch> {
        let tree = self.tree.lock();
        for (_, m) in tree.mappings.iter() {
            let pages = m.size / PAGE_SIZE;
            let picks = (0..pages.min(sample))
                .chain(pages.saturating_sub(sample).max(sample.min(pages))..pages);
            for i in picks {
                let va = m.base + i * PAGE_SIZE;
                let Some(t) = self.page_table.lock().query(va) else {
                    continue;
                };
                let bad = |why| Err(ViewMismatch { va, why });
                let Some(view) = m.vmo.view(m.offset_of(va)) else {
                    return bad("translated where its VMO shows no page");
                };
                if view.frame.as_u64() != t.pa.as_u64() & !(PAGE_SIZE - 1) {
                    return bad("translated to another frame than its VMO shows");
                }
                if t.flags.contains(MmuFlags::WRITE) && !view.writable {
                    return bad("writable, but the frame is not the VMO's own");
                }
            }
        }
        Ok(())
    }
}

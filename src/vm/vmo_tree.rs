//! The inside of a VMO tree: its nodes, and the walks that find, commit,
//! copy and release pages and strip stale translations. [`super::vmo`]
//! explains the model; this module holds the algorithms.
//!
//! Every function here runs with the tree's lock held (`Tree::inner`).

use alloc::collections::BTreeMap;
use alloc::sync::Weak;
use alloc::vec::Vec;

use spin::Mutex;

use crate::error::{Error, Result};
use crate::mmu::FrameMem;
use crate::platform::{PAGE_SIZE, PhysAddr, Platform};

use super::aspace::AddressSpace;
use super::page_count;
use super::slab::{Slab, SlabId};
use super::vmo::ChildKind;

/// Where a mapping of a VMO lives, so the VMO can remove its translations.
pub(crate) struct Link<P: Platform> {
    pub aspace: Weak<AddressSpace<P>>,
    /// Virtual address of the mapping's first page.
    pub base: u64,
    /// VMO offset mapped at `base`.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
}

/// Identifies a mapping among a node's links: (address space id, mapping).
pub(crate) type LinkKey = (u64, SlabId);

pub(super) struct Node<P: Platform> {
    pub(super) size: u64,
    pub(super) parent: Option<(SlabId, u64, ChildKind)>,
    pub(super) pages: BTreeMap<u64, PhysAddr>,
    pub(super) children: Vec<SlabId>,
    pub(super) links: BTreeMap<LinkKey, Link<P>>,
    /// A [`Vmo`] refers to the node.
    pub(super) referenced: bool,
}

pub(crate) struct TreeInner<P: Platform> {
    pub(super) nodes: Slab<Node<P>>,
}

/// One VMO tree: a root VMO and all its descendants.
pub(crate) struct Tree<P: Platform> {
    pub(super) platform: P,
    pub(super) inner: Mutex<TreeInner<P>>,
}

/// A frame found for an access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The frame.
    pub frame: PhysAddr,
    /// Whether the frame may be mapped writable (false for an ancestor's
    /// frame seen through a snapshot).
    pub writable: bool,
}

/// Removes `id` and then its ancestors while they are unreferenced and
/// childless, collecting their frames.
pub(super) fn reap<P: Platform>(
    inner: &mut TreeInner<P>,
    mut id: SlabId,
    freed: &mut Vec<PhysAddr>,
) {
    loop {
        let removable = inner
            .nodes
            .get(id)
            .is_some_and(|n| !n.referenced && n.children.is_empty());
        if !removable {
            return;
        }
        let Some(node) = inner.nodes.remove(id) else {
            return;
        };
        freed.extend(node.pages.into_values());
        let Some((parent, _, _)) = node.parent else {
            return;
        };
        if let Some(p) = inner.nodes.get_mut(parent) {
            p.children.retain(|c| *c != id);
        }
        id = parent;
    }
}

impl<P: Platform> Tree<P> {
    pub(super) fn check_range(
        &self,
        inner: &TreeInner<P>,
        id: SlabId,
        offset: u64,
        len: u64,
    ) -> Result<()> {
        let size = inner.nodes.get(id).map_or(0, |n| n.size);
        match offset.checked_add(len) {
            Some(end) if end <= size => Ok(()),
            _ => Err(Error::OutOfRange("range beyond the VMO's size")),
        }
    }

    /// The frame whose contents page `index` of `id` shows, if any, without
    /// committing anything.
    pub(super) fn lookup(
        &self,
        inner: &TreeInner<P>,
        mut id: SlabId,
        mut index: u64,
    ) -> Option<PhysAddr> {
        loop {
            let node = inner.nodes.get(id)?;
            if index >= page_count(node.size) {
                return None;
            }
            if let Some(f) = node.pages.get(&index) {
                return Some(*f);
            }
            let (parent, offset, _) = node.parent?;
            index = index.checked_add(offset / PAGE_SIZE)?;
            // A snapshot at an unaligned offset would straddle parent pages;
            // create_child only makes page-aligned windows visible this way.
            id = parent;
        }
    }

    /// What page `index` of `id` shows: its owner's own frame (writable), an
    /// ancestor's frame seen through a snapshot (read-only), or nothing yet.
    /// Also returns the owning node (through slices) and the page index
    /// there.
    pub(super) fn visible(
        &self,
        inner: &TreeInner<P>,
        id: SlabId,
        index: u64,
    ) -> Result<(SlabId, u64, Option<Resolved>)> {
        let (owner, owner_index) = self.owner(inner, id, index)?;
        let node = inner
            .nodes
            .get(owner)
            .ok_or(Error::BadState("VMO node gone"))?;
        if let Some(frame) = node.pages.get(&owner_index) {
            let own = Resolved {
                frame: *frame,
                writable: true,
            };
            return Ok((owner, owner_index, Some(own)));
        }
        let shared = match node.parent {
            Some((p, off, ChildKind::Snapshot)) => self
                .lookup(inner, p, owner_index + off / PAGE_SIZE)
                .map(|frame| Resolved {
                    frame,
                    writable: false,
                }),
            _ => None,
        };
        Ok((owner, owner_index, shared))
    }

    /// The frame for a read of page `index` of `id`: the visible frame, else
    /// a freshly committed zero page in the node that owns the offset.
    pub(super) fn resolve_read(
        &self,
        inner: &mut TreeInner<P>,
        id: SlabId,
        index: u64,
    ) -> Result<Resolved> {
        match self.visible(inner, id, index)?.2 {
            Some(r) => Ok(r),
            None => self.commit(inner, id, index),
        }
    }

    /// Follows slices up to the node that owns page `index` of `id`.
    pub(super) fn owner(
        &self,
        inner: &TreeInner<P>,
        mut id: SlabId,
        mut index: u64,
    ) -> Result<(SlabId, u64)> {
        loop {
            let node = inner
                .nodes
                .get(id)
                .ok_or(Error::BadState("VMO node gone"))?;
            match node.parent {
                Some((parent, offset, ChildKind::Slice)) => {
                    index += offset / PAGE_SIZE;
                    id = parent;
                }
                _ => return Ok((id, index)),
            }
        }
    }

    /// Makes page `index` of `id` an owned, writable frame: through slices
    /// to the owning node; there, an existing page, or a copy of the visible
    /// ancestor page (snapshot), or a zero page.
    pub(super) fn commit(
        &self,
        inner: &mut TreeInner<P>,
        id: SlabId,
        index: u64,
    ) -> Result<Resolved> {
        let (owner, owner_index, seen) = self.visible(inner, id, index)?;
        let source = match seen {
            Some(own) if own.writable => return Ok(own),
            Some(shared) => Some(shared.frame),
            None => None,
        };
        let frame = self.platform.alloc_frame().ok_or(Error::NoMemory)?;
        // SAFETY: freshly allocated frame, owned by us until inserted below
        // (1); FrameMem-only access (2). `source` is a live frame of this
        // tree, whose lock we hold.
        let mem = unsafe { FrameMem::new(&self.platform, frame) };
        match source {
            // SAFETY: as above.
            Some(src) => mem.copy_from(&unsafe { FrameMem::new(&self.platform, src) }),
            None => mem.zero(),
        }
        if source.is_some() {
            // The owner's mappings (and its descendants') may map the
            // ancestor's frame read-only: drop those translations first.
            self.range_change(inner, owner, owner_index, 1);
        }
        match inner.nodes.get_mut(owner) {
            Some(node) => {
                node.pages.insert(owner_index, frame);
            }
            None => {
                self.platform.free_frame(frame);
                return Err(Error::BadState("VMO node gone"));
            }
        }
        Ok(Resolved {
            frame,
            writable: true,
        })
    }

    /// Removes the translations of pages `[first, first + count)` of `id`
    /// from every mapping of `id` and of its descendants. Iterative: the
    /// depth of a VMO tree is up to user space.
    pub(super) fn range_change(&self, inner: &TreeInner<P>, id: SlabId, first: u64, count: u64) {
        let mut work = Vec::new();
        let mut next = Some((id, first, count));
        while let Some((id, first, count)) = next.take().or_else(|| work.pop()) {
            let Some(node) = inner.nodes.get(id) else {
                continue;
            };
            let start = first.saturating_mul(PAGE_SIZE);
            let end = first.saturating_add(count).saturating_mul(PAGE_SIZE);
            for link in node.links.values() {
                let lo = link.offset.max(start);
                let hi = link.offset.saturating_add(link.len).min(end);
                if lo < hi
                    && let Some(aspace) = link.aspace.upgrade()
                {
                    aspace.unmap_translations(link.base + (lo - link.offset), hi - lo);
                }
            }
            for child in &node.children {
                let Some((_, offset, _)) = inner.nodes.get(*child).and_then(|c| c.parent) else {
                    continue;
                };
                let off_pages = offset / PAGE_SIZE;
                let c_first = first.saturating_sub(off_pages);
                let c_end = first.saturating_add(count).saturating_sub(off_pages);
                if c_end > c_first {
                    work.push((*child, c_first, c_end - c_first));
                }
            }
        }
    }
}

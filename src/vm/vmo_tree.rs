//! The inside of a VMO tree: its nodes and edges, and the walks that find,
//! commit, copy and migrate pages and strip stale translations.
//! [`super::vmo`] explains the model; [`super::vmo_clone`] makes children,
//! [`super::vmo_reclaim`] removes nodes and frees what no one can see.
//!
//! Every function here runs with the tree's lock held (`Tree::inner`, 3rd
//! in the crate's order); removing translations takes an address space's
//! page-table lock (4th) through [`AddressSpace::unmap_translations`].

use alloc::collections::BTreeMap;
use alloc::sync::Weak;
use alloc::vec::Vec;

use spin::Mutex;

use crate::error::{Error, Result};
use crate::heap::Reserve;
use crate::mmu::FrameMem;
use crate::platform::{PAGE_SIZE, PhysAddr, Platform};

use super::aspace::AddressSpace;
use super::page_count;
use super::slab::{Slab, SlabId};

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

/// How a node reads what it does not hold itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum EdgeKind {
    /// A slice: a window onto the parent's view, for reads and writes.
    Slice,
    /// A unidirectional copy-on-write child: reads the parent's *current*
    /// view (a `SNAPSHOT_AT_LEAST_ON_WRITE` child below a slice).
    OnWrite,
    /// A child of a hidden node, whose pages never change.
    Cow,
}

/// A node's edge to its parent. Child page `i` reads parent page
/// `i + offset` when `start <= i < end`; outside that window it reads
/// zero (for copy-on-write edges) — the window only ever shrinks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Edge {
    pub(super) parent: SlabId,
    pub(super) kind: EdgeKind,
    /// In pages.
    pub(super) offset: u64,
    /// First child page that reads through.
    pub(super) start: u64,
    /// One past the last child page that reads through.
    pub(super) end: u64,
}

impl Edge {
    /// The parent page that child page `index` reads, if any.
    pub(super) fn up(&self, index: u64) -> Option<u64> {
        if index < self.start || index >= self.end {
            return None;
        }
        index.checked_add(self.offset)
    }

    /// The child page that reads parent page `index`, if any.
    pub(super) fn down(&self, index: u64) -> Option<u64> {
        let i = index.checked_sub(self.offset)?;
        (self.start <= i && i < self.end).then_some(i)
    }

    /// The parent pages the window reads, `[lo, hi)`.
    pub(super) fn parent_range(&self) -> (u64, u64) {
        (
            self.start.saturating_add(self.offset),
            self.end.saturating_add(self.offset),
        )
    }
}

/// One node of a VMO tree.
///
/// A *visible* node is what a [`Vmo`](super::Vmo) names; its `children`
/// are its slices and unidirectional children. A *hidden* node holds the
/// pages two copy-on-write children shared when the younger was made; it
/// has exactly those two `children` and no mappings.
pub(super) struct Node<P: Platform> {
    pub(super) size: u64,
    pub(super) parent: Option<Edge>,
    pub(super) pages: BTreeMap<u64, PhysAddr>,
    pub(super) children: Vec<SlabId>,
    pub(super) links: BTreeMap<LinkKey, Link<P>>,
    /// A [`Vmo`](super::Vmo) refers to the node.
    pub(super) referenced: bool,
    pub(super) hidden: bool,
    /// For a node without a parent: where its page 0 lies in the root VMO
    /// it was cloned from, in pages (0 for a root VMO; a snapshot that
    /// shares nothing still inherits Zircon's root-offset limits).
    pub(super) origin: u64,
}

impl<P: Platform> Node<P> {
    /// A node without pages, children or mappings.
    pub(super) fn new(size: u64, parent: Option<Edge>, hidden: bool) -> Node<P> {
        Node {
            size,
            parent,
            pages: BTreeMap::new(),
            children: Vec::new(),
            links: BTreeMap::new(),
            referenced: !hidden,
            hidden,
            origin: 0,
        }
    }

    /// Pages a lookup may find here: a visible node shows nothing past its
    /// size (its unidirectional children may reach past it after it
    /// shrank); a hidden node's extent is its children's windows.
    fn extent(&self) -> u64 {
        if self.hidden {
            u64::MAX
        } else {
            page_count(self.size)
        }
    }
}

pub(crate) struct TreeInner<P: Platform> {
    pub(super) nodes: Slab<Node<P>>,
}

/// One VMO tree: a root VMO and all its descendants, hidden nodes included.
pub(crate) struct Tree<P: Platform> {
    pub(super) platform: P,
    pub(super) inner: Mutex<TreeInner<P>>,
}

/// A frame found for an access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The frame.
    pub frame: PhysAddr,
    /// Whether the frame may be mapped writable (false for a frame another
    /// node holds: an ancestor's, or a hidden node's shared page).
    pub writable: bool,
}

const GONE: Error = Error::BadState("VMO node gone");

impl<P: Platform> TreeInner<P> {
    pub(super) fn node(&self, id: SlabId) -> Result<&Node<P>> {
        self.nodes.get(id).ok_or(GONE)
    }

    pub(super) fn node_mut(&mut self, id: SlabId) -> Result<&mut Node<P>> {
        self.nodes.get_mut(id).ok_or(GONE)
    }

    /// Whether any visible node in the subtree of `top` (a child of a
    /// hidden node) shows the hidden node's page `index`: it is inside the
    /// windows on the way down and no node on the way holds its own copy.
    /// Iterative (user space chooses the depth); answers `true` if it
    /// cannot allocate its work list, which only costs a copy.
    pub(super) fn subtree_sees(&self, top: SlabId, index: u64) -> bool {
        let mut work: Vec<(SlabId, u64)> = Vec::new();
        if work.reserve_fallibly(8).is_err() {
            return true;
        }
        work.push((top, index));
        while let Some((id, index)) = work.pop() {
            let Some(node) = self.nodes.get(id) else {
                continue;
            };
            let Some(i) = node.parent.and_then(|e| e.down(index)) else {
                continue;
            };
            if i >= node.extent() || node.pages.contains_key(&i) {
                continue;
            }
            if !node.hidden {
                return true;
            }
            if work.reserve_fallibly(node.children.len()).is_err() {
                return true;
            }
            work.extend(node.children.iter().map(|c| (*c, i)));
        }
        false
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

    /// Which node holds the frame page `index` of `id` shows, the page
    /// index there and the frame; `None` for a page that reads as zero.
    /// Commits nothing.
    pub(super) fn locate(
        &self,
        inner: &TreeInner<P>,
        mut id: SlabId,
        mut index: u64,
    ) -> Option<(SlabId, u64, PhysAddr)> {
        loop {
            let node = inner.nodes.get(id)?;
            if index >= node.extent() {
                return None;
            }
            if let Some(f) = node.pages.get(&index) {
                return Some((id, index, *f));
            }
            let edge = node.parent?;
            index = edge.up(index)?;
            id = edge.parent;
        }
    }

    /// The frame whose contents page `index` of `id` shows, if any.
    pub(super) fn lookup(&self, inner: &TreeInner<P>, id: SlabId, index: u64) -> Option<PhysAddr> {
        self.locate(inner, id, index).map(|(_, _, f)| f)
    }

    /// What page `index` of `id` shows: its owner's own frame (writable),
    /// a frame another node holds (read-only), or nothing yet. Also returns
    /// the owning node (through slices) and the page index there.
    pub(super) fn visible(
        &self,
        inner: &TreeInner<P>,
        id: SlabId,
        index: u64,
    ) -> Result<(SlabId, u64, Option<Resolved>)> {
        let (owner, owner_index) = self.owner(inner, id, index)?;
        let node = inner.node(owner)?;
        if let Some(frame) = node.pages.get(&owner_index) {
            let own = Resolved {
                frame: *frame,
                writable: true,
            };
            return Ok((owner, owner_index, Some(own)));
        }
        let shared = node
            .parent
            .and_then(|e| Some((e.parent, e.up(owner_index)?)))
            .and_then(|(p, i)| self.lookup(inner, p, i))
            .map(|frame| Resolved {
                frame,
                writable: false,
            });
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
            match inner.node(id)?.parent {
                Some(edge) if edge.kind == EdgeKind::Slice => {
                    index = edge
                        .up(index)
                        .ok_or(Error::OutOfRange("beyond the slice"))?;
                    id = edge.parent;
                }
                _ => return Ok((id, index)),
            }
        }
    }

    /// Makes page `index` of `id` an owned, writable frame: through slices
    /// to the owning node; there, an existing page, or the page another
    /// node holds — moved here if no other VMO can see it any more,
    /// otherwise copied — or a zero page.
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
        if source.is_some()
            && let Some((holder, at)) = self.sole_viewer_source(inner, owner, owner_index)
        {
            // Nothing else can see the frame: it changes hands, not
            // contents, so every translation of it stays right (read-only
            // ones are upgraded by the next write fault).
            let frame = inner.node_mut(holder)?.pages.remove(&at).ok_or(GONE)?;
            inner.node_mut(owner)?.pages.insert(owner_index, frame);
            return Ok(Resolved {
                frame,
                writable: true,
            });
        }
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
            // The owner's mappings (and its slices' and unidirectional
            // children's) may map the shared frame read-only: drop those
            // translations first.
            self.range_change(inner, owner, owner_index, 1);
        }
        match inner.nodes.get_mut(owner) {
            Some(node) => {
                node.pages.insert(owner_index, frame);
            }
            None => {
                self.platform.free_frame(frame);
                return Err(GONE);
            }
        }
        Ok(Resolved {
            frame,
            writable: true,
        })
    }

    /// If the page `owner` shows at `index` is held by a hidden ancestor,
    /// reached through copy-on-write edges only, and no other VMO of the
    /// tree can see it: that ancestor and the page index there.
    fn sole_viewer_source(
        &self,
        inner: &TreeInner<P>,
        owner: SlabId,
        index: u64,
    ) -> Option<(SlabId, u64)> {
        let (mut id, mut index) = (owner, index);
        loop {
            let node = inner.nodes.get(id)?;
            if id != owner && node.pages.contains_key(&index) {
                return Some((id, index));
            }
            let edge = node.parent.filter(|e| e.kind == EdgeKind::Cow)?;
            let up = edge.up(index)?;
            let hidden = inner.nodes.get(edge.parent)?;
            for &other in &hidden.children {
                if other != id && inner.subtree_sees(other, up) {
                    return None;
                }
            }
            (id, index) = (edge.parent, up);
        }
    }

    /// Removes the translations of pages `[first, first + count)` of `id`
    /// from every mapping of `id` and of its children (slices and
    /// unidirectional children, which show its pages). Iterative: the depth
    /// of a VMO tree is up to user space.
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
                let Some(edge) = inner.nodes.get(*child).and_then(|c| c.parent) else {
                    continue;
                };
                let c_first = first.saturating_sub(edge.offset);
                let c_end = first.saturating_add(count).saturating_sub(edge.offset);
                if c_end > c_first {
                    work.push((*child, c_first, c_end - c_first));
                }
            }
        }
    }

    /// The offset, in bytes, of node `id`'s page 0 in the root VMO of its
    /// tree (every edge's offset added up, and the top node's origin), or
    /// `None` if it overflows.
    pub(super) fn root_offset(&self, inner: &TreeInner<P>, mut id: SlabId) -> Option<u64> {
        let mut pages = 0u64;
        loop {
            let node = inner.nodes.get(id)?;
            let Some(edge) = node.parent else {
                return pages.checked_add(node.origin)?.checked_mul(PAGE_SIZE);
            };
            pages = pages.checked_add(edge.offset)?;
            id = edge.parent;
        }
    }
}

//! Making VMO children: slices, unidirectional copy-on-write children and
//! bidirectional ones (`SNAPSHOT`, and `SNAPSHOT_AT_LEAST_ON_WRITE` where
//! Zircon makes those bidirectional too), in Zircon's check order.
//!
//! # Bidirectional clones
//!
//! To snapshot a visible node `V`, its pages in the range the child can
//! see move into a new *hidden* node `H` that takes `V`'s place in the
//! tree; `V` and the new child `C` become `H`'s two children. Under the
//! same lock, before the syscall returns, every translation of a moved
//! page in a mapping of `V` or of its slices loses `WRITE` (the only
//! translations that could write those frames; each address space flushes
//! its TLBs through its normal path), so from then on a write from either
//! side faults and takes its own copy, or the page itself once the other
//! side cannot see it ([`Tree::commit`](super::vmo_tree::Tree)). A child
//! that sees nothing of `V` (past its end, or `V` empty with no ancestors)
//! needs no hidden node. Everything that can fail (node slots, work lists)
//! is reserved before anything changes.
//!
//! Lock: the tree's (`Tree::inner`), held by the caller throughout; removing
//! `WRITE` takes each address space's page-table lock, which comes after it.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::heap::Reserve;
use crate::platform::{PAGE_SIZE, PhysAddr, Platform};

use super::page_count;
use super::slab::SlabId;
use super::vmo::{ChildKind, MAX_VMO_SIZE};
use super::vmo_tree::{Edge, EdgeKind, Node, Tree, TreeInner};

/// What kind of edges lie between a node and the root of its tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chain {
    /// Copy-on-write edges to hidden nodes only (or none).
    Bidirectional,
    /// A slice on the way, but no unidirectional child.
    ThroughSlice,
    /// A unidirectional child on the way (Zircon's only such trees are
    /// pager-backed).
    Unidirectional,
}

impl<P: Platform> Tree<P> {
    fn chain(&self, inner: &TreeInner<P>, mut id: SlabId) -> Result<Chain> {
        let mut chain = Chain::Bidirectional;
        while let Some(edge) = inner.node(id)?.parent {
            match edge.kind {
                EdgeKind::OnWrite => return Ok(Chain::Unidirectional),
                EdgeKind::Slice => chain = Chain::ThroughSlice,
                EdgeKind::Cow => {}
            }
            id = edge.parent;
        }
        Ok(chain)
    }

    /// The offset of node `id`'s page 0 in the node its slices lead to
    /// (Zircon's slice range offset), in bytes.
    fn slice_offset(&self, inner: &TreeInner<P>, mut id: SlabId) -> Result<u64> {
        let mut pages = 0u64;
        while let Some(edge) = inner.node(id)?.parent.filter(|e| e.kind == EdgeKind::Slice) {
            pages = pages.saturating_add(edge.offset);
            id = edge.parent;
        }
        Ok(pages.saturating_mul(PAGE_SIZE))
    }

    /// Creates a child of node `id` (`size` already a page multiple no
    /// larger than [`MAX_VMO_SIZE`], `offset` page aligned) and returns its
    /// node; `resizable` is whether `id` was created resizable.
    ///
    /// # Errors
    ///
    /// For a slice: `INVALID_ARGS` if it is not inside the parent (overflow
    /// included), then `NOT_SUPPORTED` if the parent is resizable. For the
    /// snapshot kinds (Zircon's `CreateClone` and `CreateCloneLocked`):
    /// `OUT_OF_RANGE` if `offset + size` overflows (through slices too);
    /// for `SNAPSHOT`, `NOT_SUPPORTED` below a unidirectional child; then
    /// `INVALID_ARGS` if the child's range, as an offset in the root VMO,
    /// overflows; for `SNAPSHOT`, `NOT_SUPPORTED` through a slice. Then
    /// `NO_MEMORY`. On any error nothing changed.
    pub(super) fn create_child(
        &self,
        inner: &mut TreeInner<P>,
        id: SlabId,
        kind: ChildKind,
        offset: u64,
        size: u64,
        parent_resizable: bool,
    ) -> Result<SlabId> {
        debug_assert!(size <= MAX_VMO_SIZE && offset.is_multiple_of(PAGE_SIZE));
        let parent_size = inner.node(id)?.size;
        if kind == ChildKind::Slice {
            // Zircon's overflow-safe InRange: a wrapping range is not
            // inside the parent either.
            if offset.checked_add(size).is_none_or(|end| end > parent_size) {
                return Err(Error::InvalidArgs("slice beyond the parent"));
            }
            if parent_resizable {
                return Err(Error::NotSupported("slice of a resizable VMO"));
            }
            return self.add_child(inner, id, EdgeKind::Slice, offset, size);
        }
        self.slice_offset(inner, id)?
            .checked_add(offset)
            .and_then(|o| o.checked_add(size))
            .ok_or(Error::OutOfRange("child range overflows"))?;
        let chain = self.chain(inner, id)?;
        if kind == ChildKind::Snapshot && chain == Chain::Unidirectional {
            return Err(Error::NotSupported(
                "SNAPSHOT below a SNAPSHOT_AT_LEAST_ON_WRITE child of a slice",
            ));
        }
        self.root_offset(inner, id)
            .and_then(|r| r.checked_add(offset))
            .and_then(|o| o.checked_add(size))
            .ok_or(Error::InvalidArgs("child range overflows in the root VMO"))?;
        match (kind, chain) {
            (_, Chain::Bidirectional) => self.clone_bidirectional(inner, id, offset, size),
            (ChildKind::Snapshot, _) => Err(Error::NotSupported("SNAPSHOT of a slice")),
            _ => self.add_child(inner, id, EdgeKind::OnWrite, offset, size),
        }
    }

    /// Adds a slice or unidirectional child of `parent`.
    fn add_child(
        &self,
        inner: &mut TreeInner<P>,
        parent: SlabId,
        kind: EdgeKind,
        offset: u64,
        size: u64,
    ) -> Result<SlabId> {
        inner.node_mut(parent)?.children.reserve_fallibly(1)?;
        let edge = Edge {
            parent,
            kind,
            offset: offset / PAGE_SIZE,
            start: 0,
            end: page_count(size),
        };
        let child = inner.nodes.insert(Node::new(size, Some(edge), false))?;
        inner.node_mut(parent)?.children.push(child);
        Ok(child)
    }

    /// A bidirectional clone of visible node `v` (see the module docs).
    fn clone_bidirectional(
        &self,
        inner: &mut TreeInner<P>,
        v: SlabId,
        offset: u64,
        size: u64,
    ) -> Result<SlabId> {
        let (first, count) = (offset / PAGE_SIZE, page_count(size));
        let node = inner.node(v)?;
        let v_pages = page_count(node.size);
        // The child sees `[first, first + window)` of `v`; past `v`'s end it
        // reads zeros.
        let window = count.min(v_pages.saturating_sub(first));
        let shares_nothing = window == 0
            || (node.parent.is_none() && node.pages.range(first..first + window).next().is_none());
        if shares_nothing {
            let mut alone = Node::new(size, None, false);
            alone.origin = self
                .root_offset(inner, v)
                .map_or(0, |r| r / PAGE_SIZE)
                .saturating_add(first);
            return inner.nodes.insert(alone);
        }
        // Everything that can fail, first.
        inner.nodes.reserve(2)?;
        let mut pair = Vec::new();
        pair.reserve_fallibly(2)?;
        let targets = self.writers_of(inner, v)?;

        let node = inner.node_mut(v)?;
        let moved: BTreeMap<u64, PhysAddr> = node
            .pages
            .extract_if(first..first + window, |_, _| true)
            .collect();
        let old_edge = node.parent;
        let v_size = node.size;
        let inner_ref: &TreeInner<P> = inner;
        self.remove_write(inner_ref, &targets, &moved);

        let mut hidden = Node::new(v_size, old_edge, true);
        hidden.pages = moved;
        hidden.origin = inner.node(v)?.origin;
        let h = inner.nodes.insert(hidden)?;
        let child_edge = Edge {
            parent: h,
            kind: EdgeKind::Cow,
            offset: first,
            start: 0,
            end: window,
        };
        let c = inner
            .nodes
            .insert(Node::new(size, Some(child_edge), false))?;
        pair.extend([v, c]);
        inner.node_mut(h)?.children = pair;
        if let Some(old) = old_edge {
            for child in inner.node_mut(old.parent)?.children.iter_mut() {
                if *child == v {
                    *child = h;
                }
            }
        }
        inner.node_mut(v)?.parent = Some(Edge {
            parent: h,
            kind: EdgeKind::Cow,
            offset: 0,
            start: 0,
            end: v_pages,
        });
        Ok(c)
    }

    /// `v` and its slices (transitively), each with the offset of its page
    /// 0 in `v`, in pages: every node whose mappings may map `v`'s own
    /// frames writable.
    fn writers_of(&self, inner: &TreeInner<P>, v: SlabId) -> Result<Vec<(SlabId, u64)>> {
        let mut out = Vec::new();
        out.reserve_fallibly(1)?;
        out.push((v, 0u64));
        let mut i = 0;
        while let Some(&(id, delta)) = out.get(i) {
            for child in &inner.node(id)?.children {
                if let Some(edge) = inner
                    .node(*child)?
                    .parent
                    .filter(|e| e.kind == EdgeKind::Slice)
                {
                    out.reserve_fallibly(1)?;
                    out.push((*child, delta.saturating_add(edge.offset)));
                }
            }
            i += 1;
        }
        Ok(out)
    }

    /// Takes `WRITE` away from every translation of a page in `moved`
    /// (keyed by page index in `v`) in the mappings of `targets` (from
    /// [`writers_of`](Tree::writers_of)), flushing each address space's
    /// TLBs.
    fn remove_write(
        &self,
        inner: &TreeInner<P>,
        targets: &[(SlabId, u64)],
        moved: &BTreeMap<u64, PhysAddr>,
    ) {
        if moved.is_empty() {
            return;
        }
        for &(id, delta) in targets {
            let Some(node) = inner.nodes.get(id) else {
                continue;
            };
            for link in node.links.values() {
                let first = link.offset / PAGE_SIZE;
                let end = first.saturating_add(link.len / PAGE_SIZE);
                let (lo, hi) = (first.saturating_add(delta), end.saturating_add(delta));
                if moved.range(lo..hi).next().is_none() {
                    continue;
                }
                let Some(aspace) = link.aspace.upgrade() else {
                    continue;
                };
                let pages = moved
                    .range(lo..hi)
                    .map(|(index, _)| link.base + (index - lo) * PAGE_SIZE);
                aspace.remove_write(pages);
            }
        }
    }
}

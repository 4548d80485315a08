//! Giving memory back: removing VMO-tree nodes no one needs, folding a
//! hidden node into its last child, and freeing the pages of hidden nodes
//! that no VMO can see any more.
//!
//! - A visible node goes when no [`Vmo`](super::Vmo) names it and it has no
//!   slice or unidirectional child left; its frames are freed.
//! - A hidden node lives while both its children do. When one goes, the
//!   hidden node's pages that a VMO below the survivor can still see
//!   (inside the windows on the way, not shadowed by a copy of its own)
//!   *migrate* into the survivor, the rest are freed, and the survivor
//!   takes the hidden node's place, its window narrowed to what the hidden
//!   node's own window let through.
//! - When a VMO stops seeing a range (it went away, or shrank), each hidden
//!   node above it, as far up as the range reaches, frees the pages of the
//!   range that no VMO below it sees any more (every one of them may hold
//!   its own copy by now) and narrows its own window to the hull of its
//!   children's.
//!
//! No translation needs removing here: a page is freed only when no VMO's
//! view shows it, and a mapping only ever translates to what its VMO's view
//! showed (views change only in [`Tree::commit`] and shrinking, which strip
//! translations first). Migrated frames keep their contents.
//!
//! Lock: the tree's (`Tree::inner`), held by the caller.

use alloc::vec::Vec;

use crate::heap::Reserve;
use crate::platform::{PhysAddr, Platform};

use super::slab::SlabId;
use super::vmo_tree::{Edge, EdgeKind, Tree, TreeInner};

/// Removes `id` and then its ancestors while they are unreferenced
/// visible nodes without children, collecting their frames; a hidden
/// parent left with one child is folded into it.
pub(super) fn reap<P: Platform>(
    inner: &mut TreeInner<P>,
    mut id: SlabId,
    freed: &mut Vec<PhysAddr>,
) {
    loop {
        let removable = inner
            .nodes
            .get(id)
            .is_some_and(|n| !n.referenced && !n.hidden && n.children.is_empty());
        if !removable {
            return;
        }
        let Some(node) = inner.nodes.remove(id) else {
            return;
        };
        freed.extend(node.pages.into_values());
        let Some(edge) = node.parent else {
            return;
        };
        if let Some(p) = inner.nodes.get_mut(edge.parent) {
            p.children.retain(|c| *c != id);
        }
        if edge.kind == EdgeKind::Cow {
            fold(inner, edge.parent, freed);
            return;
        }
        id = edge.parent;
    }
}

/// Child `r`'s edge `re` to hidden node `x`, composed with `x`'s edge `xe`:
/// the edge `r` has once `x` is gone.
fn compose(re: Edge, xe: Edge) -> Edge {
    let lo = xe.start.saturating_sub(re.offset).max(re.start);
    let hi = xe.end.saturating_sub(re.offset).min(re.end);
    let (start, end) = if lo < hi { (lo, hi) } else { (0, 0) };
    Edge {
        parent: xe.parent,
        kind: EdgeKind::Cow,
        offset: re.offset.saturating_add(xe.offset),
        start,
        end,
    }
}

/// The windows of hidden node `h`'s (at most two) children, in `h`'s page
/// indexes; `(0, 0)` for a missing one.
fn child_windows<P: Platform>(inner: &TreeInner<P>, h: SlabId) -> [(u64, u64); 2] {
    let mut out = [(0, 0); 2];
    let Some(node) = inner.nodes.get(h) else {
        return out;
    };
    for (slot, c) in out.iter_mut().zip(&node.children) {
        if let Some(edge) = inner.nodes.get(*c).and_then(|n| n.parent) {
            *slot = edge.parent_range();
        }
    }
    out
}

/// Whether a VMO below hidden node `h` can see `h`'s page `index`.
fn seen<P: Platform>(inner: &TreeInner<P>, h: SlabId, index: u64) -> bool {
    inner
        .nodes
        .get(h)
        .is_some_and(|n| n.children.iter().any(|c| inner.subtree_sees(*c, index)))
}

/// Folds hidden node `x`, left with one child, into that child.
fn fold<P: Platform>(inner: &mut TreeInner<P>, x: SlabId, freed: &mut Vec<PhysAddr>) {
    let foldable = inner
        .nodes
        .get(x)
        .is_some_and(|n| n.hidden && n.children.len() == 1);
    if !foldable {
        return;
    }
    let Some(xn) = inner.nodes.remove(x) else {
        return;
    };
    let r = xn.children[0];
    let Some((re, r_hidden)) = inner.nodes.get(r).and_then(|n| Some((n.parent?, n.hidden))) else {
        freed.extend(xn.pages.into_values());
        return;
    };
    for (k, frame) in xn.pages {
        // What `r` shows of `x`'s page `k`: inside its window, not its own
        // copy, and (if `r` is hidden) seen by a VMO below it.
        let keep = re.down(k).filter(|j| {
            inner.nodes.get(r).is_some_and(|n| !n.pages.contains_key(j))
                && (!r_hidden || seen(inner, r, *j))
        });
        match (keep, inner.nodes.get_mut(r)) {
            (Some(j), Some(rn)) => {
                rn.pages.insert(j, frame);
            }
            _ => freed.push(frame),
        }
    }
    if let Some(rn) = inner.nodes.get_mut(r) {
        rn.parent = xn.parent.map(|xe| compose(re, xe));
        if xn.parent.is_none() {
            rn.origin = xn.origin.saturating_add(re.offset);
        }
    }
    if let Some(xe) = xn.parent {
        if let Some(y) = inner.nodes.get_mut(xe.parent) {
            for child in y.children.iter_mut() {
                if *child == x {
                    *child = r;
                }
            }
        }
        // Everything `x` read of its parent: the VMO that went may have
        // been the last to see some of it.
        trim(inner, xe.parent, xe.parent_range(), freed);
    }
}

/// After a VMO below hidden node `h` stopped seeing `h`'s pages
/// `[range.0, range.1)` (it went away or shrank): frees those of them no
/// VMO below `h` sees any more, narrows `h`'s window to the hull of its
/// children's, and goes on up with the range as the parent sees it. (If
/// the list of doomed pages cannot be allocated they stay, unseen, until
/// the tree changes again.)
pub(super) fn trim<P: Platform>(
    inner: &mut TreeInner<P>,
    mut h: SlabId,
    mut range: (u64, u64),
    freed: &mut Vec<PhysAddr>,
) {
    while range.0 < range.1 {
        let Some(node) = inner.nodes.get(h).filter(|n| n.hidden) else {
            return;
        };
        let mut doomed = Vec::new();
        let candidates = node.pages.range(range.0..range.1);
        if doomed.reserve_fallibly(candidates.clone().count()).is_ok() {
            doomed.extend(
                candidates
                    .filter(|(k, _)| !seen(inner, h, **k))
                    .map(|(k, _)| *k),
            );
        }
        let windows = child_windows(inner, h);
        let Some(node) = inner.nodes.get_mut(h) else {
            return;
        };
        for k in doomed {
            freed.extend(node.pages.remove(&k));
        }
        let nonempty = windows.iter().filter(|(lo, hi)| lo < hi);
        let lo = nonempty.clone().map(|w| w.0).min().unwrap_or(0);
        let hi = nonempty.map(|w| w.1).max().unwrap_or(0);
        let Some(edge) = node.parent.as_mut() else {
            return;
        };
        // The parent's pages this node stopped reading, or that the VMO
        // that went could see through it.
        let (a, b) = (range.0.max(edge.start), range.1.min(edge.end));
        range = (a.saturating_add(edge.offset), b.saturating_add(edge.offset));
        let (start, end) = (edge.start.max(lo), edge.end.min(hi));
        (edge.start, edge.end) = if start < end { (start, end) } else { (0, 0) };
        h = edge.parent;
    }
}

impl<P: Platform> Tree<P> {
    /// Cuts node `id` (visible) down to `pages` pages: strips the
    /// translations past it, frees its own frames there, narrows its window
    /// so that growing again shows zeros, and lets its hidden parent free
    /// what no one sees any more.
    pub(super) fn shrink(
        &self,
        inner: &mut TreeInner<P>,
        id: SlabId,
        pages: u64,
        freed: &mut Vec<PhysAddr>,
    ) {
        let Some(old) = inner.nodes.get(id).map(|n| super::page_count(n.size)) else {
            return;
        };
        if pages < old {
            // Translations first, then the frames.
            self.range_change(inner, id, pages, old - pages);
        }
        let Some(node) = inner.nodes.get_mut(id) else {
            return;
        };
        freed.extend(node.pages.split_off(&pages).into_values());
        let Some(edge) = node.parent.as_mut() else {
            return;
        };
        if edge.end > pages {
            let gone = (
                edge.start.max(pages).saturating_add(edge.offset),
                edge.end.saturating_add(edge.offset),
            );
            edge.end = pages;
            if edge.start >= edge.end {
                (edge.start, edge.end) = (0, 0);
            }
            if edge.kind == EdgeKind::Cow {
                let parent = edge.parent;
                trim(inner, parent, gone, freed);
            }
        }
    }
}

impl<P: Platform> TreeInner<P> {
    /// Checks the tree's structure: every edge and child list agree; a
    /// copy-on-write edge leads to a hidden node, the others to visible
    /// ones; a hidden node has exactly two children, no mappings and no
    /// [`Vmo`](super::Vmo); no unreferenced childless visible node is left;
    /// windows are well-formed and a visible node's own pages lie inside
    /// its size; and every page a hidden node holds is seen by some VMO
    /// below it (what [`trim`] and [`fold`] free the moment it is not).
    pub(super) fn audit(&self) -> Result<(), &'static str> {
        for (id, node) in self.nodes.iter() {
            if let Some(edge) = node.parent {
                let parent = self
                    .nodes
                    .get(edge.parent)
                    .ok_or("edge to a removed node")?;
                if !parent.children.contains(&id) {
                    return Err("a node's parent does not list it");
                }
                if (edge.kind == EdgeKind::Cow) != parent.hidden {
                    return Err("copy-on-write edges must lead to hidden nodes, and only they");
                }
                if edge.start > edge.end {
                    return Err("window with start past end");
                }
                if !node.hidden
                    && edge.kind == EdgeKind::Cow
                    && edge.end > super::page_count(node.size)
                {
                    return Err("window past the node's size");
                }
            }
            for c in &node.children {
                let child = self.nodes.get(*c).ok_or("child removed but listed")?;
                if child.parent.map(|e| e.parent) != Some(id) {
                    return Err("a child's edge leads elsewhere");
                }
            }
            if node.hidden {
                if node.children.len() != 2 || !node.links.is_empty() || node.referenced {
                    return Err("hidden node with other than two children, or mapped, or named");
                }
                if node.pages.keys().any(|k| !seen(self, id, *k)) {
                    return Err("hidden page no VMO sees");
                }
            } else {
                if !node.referenced && node.children.is_empty() {
                    return Err("dead visible node left behind");
                }
                if node
                    .pages
                    .keys()
                    .next_back()
                    .is_some_and(|k| *k >= super::page_count(node.size))
                {
                    return Err("page past the VMO's size");
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::slab::Slab;

    fn ids() -> (SlabId, SlabId) {
        let mut s = Slab::default();
        (s.insert(()).unwrap(), s.insert(()).unwrap())
    }

    #[test]
    fn compose_narrows_to_both_windows() {
        let (x, y) = ids();
        // r reads x's pages [2, 6) as its [0, 4); x reads y's [1, 4) as
        // its [0, 3) at offset 1 (y pages 1..4).
        let re = Edge {
            parent: x,
            kind: EdgeKind::Cow,
            offset: 2,
            start: 0,
            end: 4,
        };
        let xe = Edge {
            parent: y,
            kind: EdgeKind::Cow,
            offset: 1,
            start: 0,
            end: 3,
        };
        let e = compose(re, xe);
        assert_eq!((e.parent, e.offset, e.start, e.end), (y, 3, 0, 1));
        // r page 0 is x page 2 is y page 3; r page 1 would be x page 3,
        // outside x's window.
        assert_eq!(e.up(0), Some(3));
        assert_eq!(e.up(1), None);
        // Disjoint windows compose to an empty one.
        let far = Edge { offset: 5, ..re };
        let e = compose(far, xe);
        assert_eq!((e.start, e.end), (0, 0));
        assert_eq!(e.up(0), None);
    }

    #[test]
    fn edge_maps_inside_its_window_only() {
        let (x, _) = ids();
        let e = Edge {
            parent: x,
            kind: EdgeKind::Cow,
            offset: u64::MAX - 1,
            start: 1,
            end: 3,
        };
        assert_eq!(e.up(0), None);
        assert_eq!(e.up(1), Some(u64::MAX));
        assert_eq!(e.up(2), None, "overflow reads nothing");
        assert_eq!(e.down(u64::MAX), Some(1));
        assert_eq!(e.down(3), None);
        assert_eq!(e.parent_range(), (u64::MAX, u64::MAX));
    }
}

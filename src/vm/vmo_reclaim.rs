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
//! - When a child's window shrinks (the child shrank, or it was folded as
//!   above), its hidden parent frees the pages no VMO below it can see any
//!   more and narrows its own window to the hull of its children's, and so
//!   on up while windows narrow.
//!
//! No translation needs removing here: a page is freed only when no VMO's
//! view shows it, and a mapping only ever translates to what its VMO's view
//! showed (views change only in [`Tree::commit`] and shrinking, which strip
//! translations first). Migrated frames keep their contents.
//!
//! Lock: the tree's (`Tree::inner`), held by the caller.

use alloc::vec::Vec;

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
        if doomed.try_reserve(candidates.clone().count()).is_ok() {
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

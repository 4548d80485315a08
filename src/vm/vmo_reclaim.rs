//! Giving memory back: removing VMO-tree nodes no one needs, folding a
//! hidden node into its last child, and freeing the pages of hidden nodes
//! that no VMO can see any more.
//!
//! - A visible node goes when no [`Vmo`](super::Vmo) names it and it has no
//!   slice or unidirectional child left; its frames are freed.
//! - A hidden node lives while both its children do. When one goes, the
//!   hidden node's pages that the survivor can see (inside its window, not
//!   shadowed by its own copy) *migrate* into the survivor, the rest are
//!   freed, and the survivor takes the hidden node's place, its window
//!   narrowed to what the hidden node's own window let through.
//! - When a child's window shrinks (the child shrank, or it was folded as
//!   above), its hidden parent frees the pages neither child's window
//!   covers and narrows its own window to the hull of theirs, and so on up.
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

fn inside(windows: &[(u64, u64)], index: u64) -> bool {
    windows.iter().any(|(lo, hi)| *lo <= index && index < *hi)
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
    let Some(re) = inner.nodes.get(r).and_then(|n| n.parent) else {
        freed.extend(xn.pages.into_values());
        return;
    };
    // What `r` can show of `x`'s pages: inside its window and, if `r` is
    // itself hidden, inside one of its children's.
    let windows = inner
        .nodes
        .get(r)
        .filter(|n| n.hidden)
        .map(|_| child_windows(inner, r));
    let Some(rn) = inner.nodes.get_mut(r) else {
        freed.extend(xn.pages.into_values());
        return;
    };
    for (k, frame) in xn.pages {
        let keep = re.down(k).filter(|j| {
            !rn.pages.contains_key(j) && windows.as_ref().is_none_or(|w| inside(w, *j))
        });
        match keep {
            Some(j) => {
                rn.pages.insert(j, frame);
            }
            None => freed.push(frame),
        }
    }
    rn.parent = xn.parent.map(|xe| compose(re, xe));
    if let Some(xe) = xn.parent {
        if let Some(y) = inner.nodes.get_mut(xe.parent) {
            for child in y.children.iter_mut() {
                if *child == x {
                    *child = r;
                }
            }
        }
        trim(inner, xe.parent, freed);
    }
}

/// Frees hidden node `h`'s pages outside its children's windows, narrows
/// its own window to the hull of theirs, and goes on up while windows
/// narrow.
pub(super) fn trim<P: Platform>(
    inner: &mut TreeInner<P>,
    mut h: SlabId,
    freed: &mut Vec<PhysAddr>,
) {
    loop {
        if !inner.nodes.get(h).is_some_and(|n| n.hidden) {
            return;
        }
        let windows = child_windows(inner, h);
        let Some(node) = inner.nodes.get_mut(h) else {
            return;
        };
        freed.extend(
            node.pages
                .extract_if(.., |k, _| !inside(&windows, *k))
                .map(|(_, f)| f),
        );
        let nonempty = windows.iter().filter(|(lo, hi)| lo < hi);
        let lo = nonempty.clone().map(|w| w.0).min().unwrap_or(0);
        let hi = nonempty.map(|w| w.1).max().unwrap_or(0);
        let Some(edge) = node.parent.as_mut() else {
            return;
        };
        let (start, end) = (edge.start.max(lo), edge.end.min(hi));
        let (start, end) = if start < end { (start, end) } else { (0, 0) };
        if (start, end) == (edge.start, edge.end) {
            return;
        }
        (edge.start, edge.end) = (start, end);
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
            edge.end = pages;
            if edge.start >= edge.end {
                (edge.start, edge.end) = (0, 0);
            }
            if edge.kind == EdgeKind::Cow {
                let parent = edge.parent;
                trim(inner, parent, freed);
            }
        }
    }
}

//! Memory of `ZX_VMO_CHILD_SNAPSHOT` trees: what is shared, copied, migrated
//! and freed, counted with the simulated machine's frame counter (every
//! test also ends with the counter back where it started).
//!
//! Ported from Zircon's `zircon/system/utest/core/vmo/vmo-clone2.cc`:
//! `ObjMemAccounting`, `ZeroPageWrite`, `SplitPageClosure`, `Offset`,
//! `OffsetTest2`, `OffsetProgressiveWrite`, `Overflow`, `OutOfBounds`,
//! `SmallClone`, `SmallCloneChild`, `SmallClones`,
//! `DisjointCloneEarlyClose`, `DisjointCloneLateClose`,
//! `DisjointCloneTest2`, `DisjointCloneProgressive`, `ManyChildren`,
//! `ManyChildrenRevClose`, `ManyCloneOffset`, `ParentStartLimitRegression`,
//! `DropParentCommittedBytes`; the resize cases are in
//! `tests/vmo_snapshot_resize.rs`. Upstream
//! checks each VMO's share of the attributed bytes (`ZX_INFO_VMO`); this
//! crate has no `ZX_INFO_VMO`, so the tests check the total upstream's
//! shares add up to (its `kImplCostAll`), which is the number of frames
//! the tree holds.
#![cfg(feature = "sim")]

mod common;
mod snaphelp;
mod vmhelp;

use snaphelp::{SNAPSHOT, T, permutations};
use vmhelp::*;
use zx_subsystem::arch::Arch;

/// `ObjMemAccounting`: a fork copies once; the second side's write to a
/// page the first already forked takes the original over instead.
fn obj_mem_accounting<A: Arch>() {
    let t = T::<A>::new();
    let vmo = t.env.vmo_create(2 * P, 0).unwrap();
    t.write(vmo, 0, 1);
    t.write(vmo, 1, 1);
    assert_eq!(t.pages(), 2);
    let clone = t.snap(vmo, SNAPSHOT, 0, 2);
    assert_eq!(t.pages(), 2);
    t.write(vmo, 0, 2);
    assert_eq!(t.pages(), 3);
    t.write(clone, 1, 2);
    assert_eq!(t.pages(), 4);
    t.write(vmo, 1, 2);
    t.write(clone, 0, 2);
    assert_eq!(t.pages(), 4);
    t.finish(&[vmo, clone]);
}

/// `ZeroPageWrite`: writes to never-committed pages of a tree allocate one
/// page per writer, nothing more.
fn zero_page_write<A: Arch>() {
    let t = T::<A>::new();
    let v0 = t.env.vmo_create(P, 0).unwrap();
    let v1 = t.snap(v0, SNAPSHOT, 0, 1);
    let v2 = t.snap(v0, SNAPSHOT, 0, 1);
    let v3 = t.snap(v1, SNAPSHOT, 0, 1);
    let vmos = [v0, v1, v2, v3];
    for i in 0..4 {
        t.write(vmos[i], 0, i as u32 + 1);
        for (j, v) in vmos.iter().enumerate() {
            t.check(*v, 0, if j <= i { j as u32 + 1 } else { 0 });
        }
        assert_eq!(t.pages(), i + 1);
    }
    t.finish(&vmos);
}

/// `SplitPageClosure`: a page every VMO but the original forked is freed
/// once the original goes.
fn split_page_closure<A: Arch>() {
    let t = T::<A>::new();
    let vmo = t.tagged(1);
    let clone1 = t.snap(vmo, SNAPSHOT, 0, 1);
    let clone2 = t.snap(clone1, SNAPSHOT, 0, 1);
    t.write(clone1, 0, 3);
    t.write(clone2, 0, 4);
    assert_eq!(t.pages(), 3);
    t.close(vmo);
    t.check(clone1, 0, 3);
    t.check(clone2, 0, 4);
    assert_eq!(t.pages(), 2);
    t.close(clone1);
    t.check(clone2, 0, 4);
    assert_eq!(t.pages(), 1);
    t.finish(&[clone2]);
}

/// `Offset`: a clone at an offset reads the right pages and keeps only what
/// it can see once the parent goes.
fn offset<A: Arch>() {
    let t = T::<A>::new();
    let vmo = t.tagged(3);
    let clone = t.snap(vmo, SNAPSHOT, 1, 3);
    assert_eq!(t.pages(), 3);
    t.check(clone, 0, 2);
    t.check(clone, 1, 3);
    t.check(clone, 2, 0);
    t.write(clone, 1, 4);
    t.close(vmo);
    t.check(clone, 0, 2);
    t.check(clone, 1, 4);
    t.check(clone, 2, 0);
    assert_eq!(t.pages(), 2);
    t.finish(&[clone]);
}

/// `OffsetTest2`: clones of an offset clone, the offset clone written and
/// closed, then the clones one by one.
fn offset_test2<A: Arch>() {
    let t = T::<A>::new();
    let vmo = t.tagged(4);
    let offset_clone = t.snap(vmo, SNAPSHOT, 1, 3);
    let clone1 = t.snap(offset_clone, SNAPSHOT, 0, 2);
    let clone2 = t.snap(offset_clone, SNAPSHOT, 2, 1);
    t.check(clone1, 0, 2);
    t.check(clone1, 1, 3);
    t.check(clone2, 0, 4);
    t.write(offset_clone, 1, 4);
    t.close(offset_clone);
    t.check(clone1, 0, 2);
    t.check(clone1, 1, 3);
    t.check(clone2, 0, 4);
    assert_eq!(t.pages(), 4);
    t.close(clone1);
    assert_eq!(t.pages(), 4);
    t.close(clone2);
    assert_eq!(t.pages(), 4);
    for i in 0..4 {
        t.check(vmo, i, i as u32 + 1);
    }
    t.finish(&[vmo]);
}

/// `OffsetProgressiveWrite`: a write to a page a later clone cannot see
/// costs nothing; closing leaves the written page only.
fn offset_progressive_write<A: Arch>() {
    let t = T::<A>::new();
    let vmo = t.tagged(2);
    let clone = t.snap(vmo, SNAPSHOT, 1, 2);
    t.check(clone, 0, 2);
    t.write(clone, 0, 3);
    t.check(clone, 0, 3);
    t.check(vmo, 0, 1);
    t.check(vmo, 1, 2);
    assert_eq!(t.pages(), 3);
    let clone2 = t.snap(clone, SNAPSHOT, 1, 1);
    t.write(clone, 0, 4);
    assert_eq!(t.pages(), 3);
    t.close(vmo);
    t.check(clone, 0, 4);
    t.close(clone2);
    t.check(clone, 0, 4);
    assert_eq!(t.pages(), 1);
    t.finish(&[clone]);
}

/// `Overflow`: a clone of a clone larger than both ancestors.
fn overflow<A: Arch>() {
    let t = T::<A>::new();
    let vmo = t.tagged(1);
    let clone = t.snap(vmo, SNAPSHOT, 0, 2);
    t.check(clone, 0, 1);
    t.check(clone, 1, 0);
    assert_eq!(t.pages(), 1);
    t.write(clone, 1, 2);
    let clone2 = t.snap(clone, SNAPSHOT, 0, 3);
    t.check(clone2, 0, 1);
    t.check(clone2, 1, 2);
    t.check(clone2, 2, 0);
    assert_eq!(t.pages(), 2);
    t.write(clone2, 2, 3);
    t.check(clone2, 2, 3);
    assert_eq!(t.pages(), 3);
    t.write(clone2, 0, 4);
    t.write(clone2, 1, 5);
    t.check(vmo, 0, 1);
    t.check(clone, 0, 1);
    t.check(clone, 1, 2);
    t.check(clone2, 0, 4);
    t.check(clone2, 1, 5);
    t.check(clone2, 2, 3);
    assert_eq!(t.pages(), 5);
    t.close(clone);
    t.check(vmo, 0, 1);
    t.check(clone2, 0, 4);
    t.check(clone2, 1, 5);
    t.check(clone2, 2, 3);
    assert_eq!(t.pages(), 4);
    t.finish(&[vmo, clone2]);
}

/// `OutOfBounds`: a clone that sees nothing of its parent.
fn out_of_bounds<A: Arch>() {
    let t = T::<A>::new();
    let vmo = t.tagged(1);
    let clone = t.snap(vmo, SNAPSHOT, 2, 2);
    t.check(clone, 0, 0);
    t.check(clone, 1, 0);
    assert_eq!(t.pages(), 1);
    t.write(clone, 1, 2);
    let clone2 = t.snap(clone, SNAPSHOT, 0, 3);
    t.check(clone2, 0, 0);
    t.check(clone2, 1, 2);
    t.check(clone2, 2, 0);
    assert_eq!(t.pages(), 2);
    t.write(clone2, 2, 3);
    t.check(clone2, 2, 3);
    assert_eq!(t.pages(), 3);
    t.finish(&[vmo, clone, clone2]);
}

/// `SmallClone`: writes outside a small clone's window cost nothing, and
/// only the page it sees survives the parent.
fn small_clone<A: Arch>() {
    let t = T::<A>::new();
    let vmo = t.tagged(3);
    let clone = t.snap(vmo, SNAPSHOT, 1, 1);
    t.check(clone, 0, 2);
    assert_eq!(t.pages(), 3);
    t.write(vmo, 0, 4);
    t.write(vmo, 2, 5);
    assert_eq!(t.pages(), 3);
    t.close(vmo);
    t.check(clone, 0, 2);
    assert_eq!(t.pages(), 1);
    t.finish(&[clone]);
}

/// `SmallCloneChild`: a clone of a small clone cannot see past it into the
/// original.
fn small_clone_child<A: Arch>() {
    let t = T::<A>::new();
    let vmo = t.tagged(3);
    let clone = t.snap(vmo, SNAPSHOT, 1, 1);
    t.check(clone, 0, 2);
    let clone2 = t.snap(clone, SNAPSHOT, 0, 2);
    t.check(clone2, 0, 2);
    t.check(clone2, 1, 0);
    t.finish(&[vmo, clone, clone2]);
}

/// `SmallClones`: closing a VMO with two small clones frees the page
/// neither sees and hands the others over.
fn small_clones<A: Arch>() {
    let t = T::<A>::new();
    let vmo = t.tagged(3);
    let clone = t.snap(vmo, SNAPSHOT, 1, 2);
    t.write(clone, 1, 4);
    let clone2 = t.snap(vmo, SNAPSHOT, 0, 1);
    t.check(clone, 0, 2);
    assert_eq!(t.pages(), 4);
    t.close(vmo);
    assert_eq!(t.pages(), 3);
    t.check(clone, 0, 2);
    t.check(clone, 1, 4);
    t.check(clone2, 0, 1);
    t.finish(&[clone, clone2]);
}

/// Zircon's disjoint-clone setup: one leaf clone per page of a four-page
/// VMO, two of them through an intermediate clone.
fn disjoint<A: Arch>(t: &T<A>) -> (u32, u32, [u32; 4]) {
    let vmo = t.tagged(4);
    let clone = t.snap(vmo, SNAPSHOT, 1, 2);
    let leaves = [
        t.snap(vmo, SNAPSHOT, 0, 1),
        t.snap(clone, SNAPSHOT, 0, 1),
        t.snap(clone, SNAPSHOT, 1, 1),
        t.snap(vmo, SNAPSHOT, 3, 1),
    ];
    (vmo, clone, leaves)
}

/// `DisjointCloneEarlyClose` and `DisjointCloneLateClose`: whenever the
/// originals go, each leaf ends up holding exactly its one page.
fn disjoint_clones<A: Arch>() {
    for early_close in [true, false] {
        let t = T::<A>::new();
        let (vmo, clone, leaves) = disjoint(&t);
        if early_close {
            t.close(vmo);
            t.close(clone);
        }
        for (i, leaf) in leaves.iter().enumerate() {
            t.check(*leaf, 0, i as u32 + 1);
            t.write(*leaf, 0, i as u32 + 5);
        }
        if !early_close {
            assert!(t.pages() <= 10, "at most the user-visible size");
            t.close(vmo);
            t.close(clone);
        }
        for (i, leaf) in leaves.iter().enumerate() {
            t.check(*leaf, 0, i as u32 + 5);
        }
        assert_eq!(t.pages(), 4, "early_close {early_close}");
        t.finish(&leaves);
    }
}

/// `DisjointCloneTest2`: closing unwritten disjoint leaves in every order
/// leaves each survivor its page, and only that.
fn disjoint_clone_test2<A: Arch>() {
    for perm in permutations(4) {
        let t = T::<A>::new();
        let (vmo, clone, leaves) = disjoint(&t);
        t.close(vmo);
        t.close(clone);
        for (i, leaf) in leaves.iter().enumerate() {
            t.check(*leaf, 0, i as u32 + 1);
        }
        let mut closed = [false; 4];
        for (n, &i) in perm.iter().enumerate() {
            t.close(leaves[i]);
            closed[i] = true;
            for (j, leaf) in leaves.iter().enumerate() {
                if !closed[j] {
                    t.check(*leaf, 0, j as u32 + 1);
                }
            }
            assert_eq!(t.pages(), 3 - n, "{perm:?}");
        }
    }
}

/// `DisjointCloneProgressive`: clones of a written clone at various
/// offsets, all closed, then a full clone of the original.
fn disjoint_clone_progressive<A: Arch>() {
    let t = T::<A>::new();
    let vmo = t.tagged(6);
    let main = t.snap(vmo, SNAPSHOT, 1, 5);
    t.write(main, 3, 7);
    let clones = [
        t.snap(main, SNAPSHOT, 1, 4),
        t.snap(main, SNAPSHOT, 4, 1),
        t.snap(main, SNAPSHOT, 2, 1),
        t.snap(main, SNAPSHOT, 10, 1),
    ];
    t.close(main);
    for i in [0, 2, 3, 1] {
        t.close(clones[i]);
    }
    assert_eq!(t.pages(), 6);
    let last = t.snap(vmo, SNAPSHOT, 0, 6);
    for i in 0..6 {
        t.check(vmo, i, i as u32 + 1);
        t.check(last, i, i as u32 + 1);
    }
    t.write(vmo, 4, 8);
    for i in 0..6 {
        t.check(vmo, i, if i == 4 { 8 } else { i as u32 + 1 });
        t.check(last, i, i as u32 + 1);
    }
    t.finish(&[vmo, last]);
}

/// `ManyChildren` and `ManyChildrenRevClose`: five clones of a committed
/// page, closed in creation or reverse order.
fn many_children<A: Arch>() {
    for reverse in [false, true] {
        let t = T::<A>::new();
        let vmo = t.tagged(1);
        let mut clones: Vec<u32> = (0..5).map(|_| t.snap(vmo, SNAPSHOT, 0, 1)).collect();
        assert_eq!(t.pages(), 1);
        if reverse {
            clones.reverse();
        }
        for c in &clones {
            t.check(*c, 0, 1);
            t.close(*c);
        }
        t.check(vmo, 0, 1);
        assert_eq!(t.pages(), 1);
        t.finish(&[vmo]);
    }
}

/// `ManyCloneOffset`.
fn many_clone_offset<A: Arch>() {
    let t = T::<A>::new();
    let vmo = t.env.vmo_create(P, 0).unwrap();
    t.write(vmo, 0, 1);
    let clone1 = t.snap(vmo, SNAPSHOT, 0, 1);
    let clone2 = t.snap(clone1, SNAPSHOT, 1, 1);
    t.write(clone1, 0, 1);
    t.close(clone1);
    t.check(vmo, 0, 1);
    t.finish(&[vmo, clone2]);
}

/// `ParentStartLimitRegression`: folding a hidden node whose child and
/// sibling both sit at offsets.
fn parent_start_limit_regression<A: Arch>() {
    let t = T::<A>::new();
    let r = t.env.vmo_create(3 * P, 0).unwrap();
    for i in 0..3 {
        t.write(r, i, i as u32 + 1);
    }
    let m = t.snap(r, SNAPSHOT, 1, 2);
    let c = t.snap(m, SNAPSHOT, 0, 1);
    let s = t.snap(r, SNAPSHOT, 2, 1);
    t.close(r);
    let h = t.snap(m, SNAPSHOT, 1, 1);
    t.close(m);
    let hc = t.snap(h, SNAPSHOT, 0, 1);
    t.close(c);
    t.check(h, 0, 3);
    t.check(hc, 0, 3);
    t.check(s, 0, 3);
    assert_eq!(t.pages(), 1);
    t.finish(&[s, h, hc]);
}

/// `DropParentCommittedBytes` (one thread here): once the parent goes, the
/// page the child still shared with it moves to the child.
fn drop_parent_committed_bytes<A: Arch>() {
    let t = T::<A>::new();
    let vmo = t.tagged(3);
    let child = t.snap(vmo, SNAPSHOT, 1, 2);
    t.check(child, 0, 2);
    t.check(child, 1, 3);
    t.write(child, 1, 4);
    assert_eq!(t.pages(), 4);
    t.close(vmo);
    t.check(child, 0, 2);
    t.check(child, 1, 4);
    assert_eq!(t.pages(), 2);
    assert_eq!(vmo_object(&t.env, child).committed_pages(), 2);
    t.finish(&[child]);
}

both_arches!(
    obj_mem_accounting,
    zero_page_write,
    split_page_closure,
    offset,
    offset_test2,
    offset_progressive_write,
    overflow,
    out_of_bounds,
    small_clone,
    small_clone_child,
    small_clones,
    disjoint_clones,
    disjoint_clone_test2,
    disjoint_clone_progressive,
    many_children,
    many_clone_offset,
    parent_start_limit_regression,
    drop_parent_committed_bytes,
);

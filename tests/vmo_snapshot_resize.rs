//! Resizing `ZX_VMO_CHILD_SNAPSHOT` trees: what shrinking either side frees,
//! that growing shows zeros (never a sibling's or an ancestor's pages), and
//! that every frame comes back, counted with the simulated machine's frame
//! counter.
//!
//! Ported from Zircon's `zircon/system/utest/core/vmo/vmo-clone2.cc`:
//! `ResizeChild`, `ResizeOriginal`, `ResizeGrow`, `ResizeOffsetChild`,
//! `ResizeDisjointChild`, `ResizeMultipleProgressive`,
//! `ResizeOverSiblingRange`, `ProgressiveCloneClose`,
//! `ProgressiveCloneTruncate`, checking (as `tests/vmo_snapshot_memory.rs`
//! explains) the total of upstream's per-VMO shares.
#![cfg(feature = "sim")]

mod common;
mod snaphelp;
mod vmhelp;

use snaphelp::{SNAPSHOT, SNAPSHOT_RESIZABLE, T, permutations};
use vmhelp::*;
use zx_subsystem::abi::*;
use zx_subsystem::arch::Arch;

/// `ResizeChild` and `ResizeOriginal` (non-contiguous): shrinking either
/// side frees what only it could see; growing shows zeros; a write to a
/// page only the other side sees any more costs nothing.
fn resize_either_side<A: Arch>() {
    for resize_child in [true, false] {
        let t = T::<A>::new();
        let vmo = tagged_vmo(&t.env, 4, ZX_VMO_RESIZABLE);
        let clone = t.snap(vmo, SNAPSHOT_RESIZABLE, 0, 4);
        t.write(vmo, 1, 5);
        t.write(clone, 2, 5);
        assert_eq!(t.pages(), 6);
        let (target, other) = if resize_child {
            (clone, vmo)
        } else {
            (vmo, clone)
        };
        t.resize(target, 1);
        let written = if resize_child { 1 } else { 2 };
        for i in 0..4 {
            t.check(other, i, if i == written { 5 } else { i as u32 + 1 });
        }
        t.check(target, 0, 1);
        assert_eq!(t.pages(), 4, "resize_child {resize_child}");
        t.resize(target, 2);
        t.check(target, 1, 0);
        t.write(other, 3, 6);
        assert_eq!(t.pages(), 4);
        t.close(other);
        t.check(target, 0, 1);
        assert_eq!(t.pages(), 1);
        t.finish(&[target]);
    }
}

/// `ResizeGrow`: growing a clone shows zeros and the parent's writes past
/// the clone's first size cost nothing.
fn resize_grow<A: Arch>() {
    let t = T::<A>::new();
    let vmo = t.tagged(2);
    let clone = t.snap(vmo, SNAPSHOT_RESIZABLE, 0, 1);
    t.check(clone, 0, 1);
    t.resize(clone, 2);
    t.check(clone, 1, 0);
    t.write(vmo, 1, 3);
    t.check(clone, 1, 0);
    assert_eq!(t.pages(), 2);
    t.finish(&[vmo, clone]);
}

/// `ResizeOffsetChild`: truncating the parent to nothing keeps the clone's
/// page.
fn resize_offset_child<A: Arch>() {
    let t = T::<A>::new();
    let vmo = tagged_vmo(&t.env, 3, ZX_VMO_RESIZABLE);
    let clone = t.snap(vmo, SNAPSHOT, 1, 1);
    t.resize(vmo, 0);
    t.check(clone, 0, 2);
    assert_eq!(vmo_object(&t.env, vmo).committed_pages(), 0);
    assert_eq!(t.pages(), 1);
    t.finish(&[vmo, clone]);
}

/// `ResizeDisjointChild`: one resizable clone per page; shrinking two of
/// them and the parent, in every order, leaves the third its page.
fn resize_disjoint_child<A: Arch>() {
    for perm in permutations(3) {
        let t = T::<A>::new();
        let vmo = tagged_vmo(&t.env, 3, ZX_VMO_RESIZABLE);
        let clones: Vec<u32> = (0..3)
            .map(|i| {
                let c = t.snap(vmo, SNAPSHOT_RESIZABLE, i, 1);
                t.check(c, 0, i as u32 + 1);
                c
            })
            .collect();
        assert_eq!(t.pages(), 3);
        t.resize(clones[perm[0]], 0);
        t.resize(clones[perm[1]], 0);
        t.resize(vmo, 0);
        t.check(clones[perm[2]], 0, perm[2] as u32 + 1);
        assert_eq!(t.pages(), 1, "{perm:?}");
        t.resize(clones[perm[2]], 0);
        assert_eq!(t.pages(), 0, "{perm:?}");
        let mut all = clones.clone();
        all.push(vmo);
        t.finish(&all);
    }
}

/// `ResizeMultipleProgressive`.
fn resize_multiple_progressive<A: Arch>() {
    let t = T::<A>::new();
    let vmo = tagged_vmo(&t.env, 3, ZX_VMO_RESIZABLE);
    let clone = t.snap(vmo, SNAPSHOT_RESIZABLE, 0, 2);
    t.write(vmo, 0, 4);
    t.write(clone, 1, 5);
    for (page, value) in [(0, 4), (1, 2), (2, 3)] {
        t.check(vmo, page, value);
    }
    t.check(clone, 0, 1);
    t.check(clone, 1, 5);
    let clone2 = t.snap(vmo, SNAPSHOT, 0, 1);
    t.check(clone2, 0, 4);
    t.resize(clone, 0);
    for (page, value) in [(0, 4), (1, 2), (2, 3)] {
        t.check(vmo, page, value);
    }
    t.check(clone2, 0, 4);
    assert_eq!(t.pages(), 3);
    t.resize(vmo, 0);
    t.check(clone2, 0, 4);
    assert_eq!(t.pages(), 1);
    t.finish(&[vmo, clone, clone2]);
}

/// `ResizeOverSiblingRange` (Zircon bug 53710): a VMO shrunk past a
/// sibling's window and grown again sees zeros there, and its writes there
/// take fresh pages.
fn resize_over_sibling_range<A: Arch>() {
    let t = T::<A>::new();
    let vmo = tagged_vmo(&t.env, 4, ZX_VMO_RESIZABLE);
    let intermediate = t.snap(vmo, SNAPSHOT, 0, 4);
    let sibling = t.snap(vmo, SNAPSHOT_RESIZABLE, 2, 1);
    t.resize(vmo, 1);
    t.resize(vmo, 4);
    t.check(vmo, 0, 1);
    for i in 1..4 {
        t.check(vmo, i, 0);
    }
    for i in 1..4 {
        t.write(vmo, i, i as u32 + 1);
    }
    for i in 0..4 {
        t.check(intermediate, i, i as u32 + 1);
    }
    t.check(sibling, 0, 3);
    t.finish(&[vmo, intermediate, sibling]);
}

/// `ProgressiveCloneClose` and `ProgressiveCloneTruncate`: five full clones
/// each forking a different page; the original's pages stay while some
/// clone sees them.
fn progressive_clone_discard<A: Arch>() {
    const N: u64 = 6;
    for close in [true, false] {
        let t = T::<A>::new();
        let mut vmos = vec![tagged_vmo(&t.env, N, ZX_VMO_RESIZABLE)];
        for i in 1..N {
            let c = t.snap(vmos[0], SNAPSHOT_RESIZABLE, 0, N);
            t.write(c, i, N as u32 + 2);
            vmos.push(c);
        }
        let expect = |i: u64, j: u64| {
            if i != 0 && j == i {
                N as u32 + 2
            } else {
                j as u32 + 1
            }
        };
        for i in 0..N {
            for j in 0..N {
                t.check(vmos[i as usize], j, expect(i, j));
            }
        }
        assert_eq!(t.pages(), (2 * N - 1) as usize);
        let discard = |h: u32| {
            if close {
                t.close(h);
            } else {
                t.resize(h, 0);
            }
        };
        discard(vmos[0]);
        for i in 1..N {
            for j in 0..N {
                t.check(vmos[i as usize], j, expect(i, j));
            }
        }
        assert_eq!(t.pages(), (2 * N - 1) as usize);
        for i in 1..N - 2 {
            discard(vmos[i as usize]);
        }
        for i in N - 2..N {
            for j in 0..N {
                t.check(vmos[i as usize], j, expect(i, j));
            }
        }
        assert_eq!(t.pages(), (N + 2) as usize, "close {close}");
        let left: Vec<u32> = if close {
            vmos[N as usize - 2..].to_vec()
        } else {
            vmos.clone()
        };
        t.finish(&left);
    }
}

both_arches!(
    resize_either_side,
    resize_grow,
    resize_offset_child,
    resize_disjoint_child,
    resize_multiple_progressive,
    resize_over_sibling_range,
    progressive_clone_discard,
);

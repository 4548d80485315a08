//! `ZX_VMO_CHILD_SNAPSHOT`: a true snapshot, through `zx_vmo_read`/`_write`
//! and through mappings on the simulated CPU (soft MMU, TLB model, the
//! crate's fault handler), both arches.
//!
//! Ported from Zircon's `zircon/system/utest/core/vmo/vmo-clone2.cc`
//! (`VmoClone2TestCase.Read`, `CloneVmoWrite`, `ParentVmoWrite`,
//! `CloneVmarWrite`, `ParentVmarWrite`, `CloseOriginal`, `CloseClone`,
//! `ManyCloneMapping`, `ManyCloneMappingOffset`, `MapRangeReadOnly`,
//! `SnapshotAtLeastOnWriteSliceInChain`, `NoSnapshotPager`) and
//! `vmo-clone.cc` (`VmoCloneTestCase.SizeAlign`, `Commit`); the rest is
//! this crate's: existing writable mappings, slices and several address
//! spaces at snapshot time, where a missing write-protect or TLB flush
//! would let a write reach the other side. Memory accounting:
//! `tests/vmo_snapshot_memory.rs`; errors and rights:
//! `tests/vmo_snapshot_rules.rs`.
#![cfg(feature = "sim")]

mod common;
mod snaphelp;
mod vmhelp;

use common::Env;
use snaphelp::permutations;
use vmhelp::*;
use zx_subsystem::abi::*;
use zx_subsystem::arch::Arch;
use zx_subsystem::object::KernelObject;

const SNAPSHOT: u32 = ZX_VMO_CHILD_SNAPSHOT;

fn map_rw<A: Arch>(env: &Env<A>, vmo: u32, len: u64) -> u64 {
    env.vmar_map(env.root_vmar, RW, 0, vmo, 0, len).unwrap()
}

fn cpu_u32<A: Arch>(env: &Env<A>, va: u64) -> u32 {
    let mut b = [0u8; 4];
    env.cpu_read(va, &mut b).unwrap();
    u32::from_ne_bytes(b)
}

fn cpu_put<A: Arch>(env: &Env<A>, va: u64, v: u32) {
    env.cpu_write(va, &v.to_ne_bytes()).unwrap();
}

/// `VmoCloneTestCase.SizeAlign`: a snapshot's size is rounded up to pages.
fn size_align<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(0, 0).unwrap();
    for s in (0..=4 * P).step_by(509).chain([P - 1, P, P + 1, 4 * P]) {
        let clone = create_child(&env, vmo, SNAPSHOT, 0, s).unwrap();
        assert_eq!(vmo_size(&env, clone), Ok(s.div_ceil(P) * P), "{s}");
        env.close(clone).unwrap();
    }
}

/// `VmoClone2TestCase.Read`.
fn read<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    write_u32(&env, vmo, 0, 0xdead_beef);
    let clone = create_child(&env, vmo, SNAPSHOT, 0, P).unwrap();
    assert_eq!(read_u32(&env, vmo, 0), 0xdead_beef);
    assert_eq!(read_u32(&env, clone, 0), 0xdead_beef);
}

/// `VmoClone2TestCase.CloneVmoWrite` and `ParentVmoWrite`: a
/// `zx_vmo_write` to either side is invisible to the other.
fn vmo_write_either_side<A: Arch>() {
    for clone_write in [true, false] {
        let env = Env::<A>::new();
        let vmo = env.vmo_create(P, 0).unwrap();
        write_u32(&env, vmo, 0, 0xdead_beef);
        let clone = create_child(&env, vmo, SNAPSHOT, 0, P).unwrap();
        write_u32(&env, if clone_write { clone } else { vmo }, 0, 0xc0ffee);
        let (vmo_sees, clone_sees) = if clone_write {
            (0xdead_beef, 0xc0ffee)
        } else {
            (0xc0ffee, 0xdead_beef)
        };
        assert_eq!(read_u32(&env, vmo, 0), vmo_sees);
        assert_eq!(read_u32(&env, clone, 0), clone_sees);
    }
}

/// `VmoClone2TestCase.CloneVmarWrite` and `ParentVmarWrite`: the same
/// through mappings, the parent's made (and written) before the snapshot.
fn vmar_write_either_side<A: Arch>() {
    for clone_write in [true, false] {
        let env = Env::<A>::new();
        let vmo = env.vmo_create(P, 0).unwrap();
        let vmo_map = map_rw(&env, vmo, P);
        cpu_put(&env, vmo_map, 0xdead_beef);
        let clone = create_child(&env, vmo, SNAPSHOT, 0, P).unwrap();
        let clone_map = map_rw(&env, clone, P);
        cpu_put(
            &env,
            if clone_write { clone_map } else { vmo_map },
            0xc0ffee,
        );
        let (vmo_sees, clone_sees) = if clone_write {
            (0xdead_beef, 0xc0ffee)
        } else {
            (0xc0ffee, 0xdead_beef)
        };
        assert_eq!(cpu_u32(&env, vmo_map), vmo_sees);
        assert_eq!(cpu_u32(&env, clone_map), clone_sees);
        assert_eq!(read_u32(&env, vmo, 0), vmo_sees);
        assert_eq!(read_u32(&env, clone, 0), clone_sees);
    }
}

/// `VmoClone2TestCase.CloseOriginal` and `CloseClone`.
fn close_either_side<A: Arch>() {
    for close_orig in [true, false] {
        let env = Env::<A>::new();
        let vmo = env.vmo_create(P, 0).unwrap();
        write_u32(&env, vmo, 0, 0xdead_beef);
        let clone = create_child(&env, vmo, SNAPSHOT, 0, P).unwrap();
        let (gone, kept) = if close_orig {
            (vmo, clone)
        } else {
            (clone, vmo)
        };
        env.close(gone).unwrap();
        assert_eq!(read_u32(&env, kept, 0), 0xdead_beef);
        write_u32(&env, kept, 0, 7);
        assert_eq!(read_u32(&env, kept, 0), 7);
    }
}

/// `VmoCloneTestCase.Commit`: a parent mapped before the snapshot; its
/// later writes (to pages never committed before) stay out of the clone,
/// and the clone's out of the parent.
fn commit<A: Arch>() {
    let env = Env::<A>::new();
    let size = 4 * P;
    let vmo = env.vmo_create(size, 0).unwrap();
    let p = map_rw(&env, vmo, size);
    let clone = create_child(&env, vmo, SNAPSHOT, 0, size).unwrap();
    let cp = map_rw(&env, clone, size);
    env.cpu_write(p, &[0x99; P as usize]).unwrap();
    assert_eq!(cpu_u32(&env, p), 0x9999_9999);
    assert_eq!(cpu_u32(&env, cp), 0);
    cpu_put(&env, cp, 0x4444_4444);
    assert_eq!(cpu_u32(&env, cp), 0x4444_4444);
    assert_eq!(cpu_u32(&env, p), 0x9999_9999);
}

/// A write through a mapping of the parent that was writable (with a
/// writable, dirty TLB entry) before the snapshot faults and copies: the
/// translation lost `WRITE` and the TLB entry was flushed. Without the
/// write-protect or the flush the store would land in the shared frame.
fn existing_writable_mapping_faults_and_copies<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(2 * P, 0).unwrap();
    let a = map_rw(&env, vmo, 2 * P);
    cpu_put(&env, a, 1);
    cpu_put(&env, a + P, 2);
    let aspace = env.process.aspace();
    let (root, asid) = (aspace.root_table(), aspace.asid());
    assert!(env.sim.table_entry(root, a).unwrap().write);
    assert!(env.sim.tlb_holds(asid, a));
    let flushes = env.sim.tlb_flushes();

    let clone = create_child(&env, vmo, SNAPSHOT, 0, 2 * P).unwrap();
    assert!(env.sim.tlb_flushes() > flushes, "the snapshot flushed");
    for va in [a, a + P] {
        let e = env.sim.table_entry(root, va).unwrap();
        assert!(e.read && !e.write, "{va:#x} is read-only now");
        assert!(
            !env.sim.tlb_stale(root, asid, va),
            "{va:#x}: stale TLB entry"
        );
    }
    // The store itself faults on the CPU...
    assert!(env.sim.user_write(root, asid, a, &[9]).is_err());
    // ... and the fault handler copies the page.
    cpu_put(&env, a, 3);
    assert_eq!(cpu_u32(&env, a), 3);
    assert_eq!(read_u32(&env, clone, 0), 1);
    assert_eq!(read_u32(&env, vmo, 0), 3);
    // Reads of the other page still share it, read-only.
    assert_eq!(cpu_u32(&env, a + P), 2);
    assert!(!env.sim.table_entry(root, a + P).unwrap().write);
    write_u32(&env, clone, P, 4);
    assert_eq!(cpu_u32(&env, a + P), 2);
}

/// A slice of the parent, mapped writable and written before the snapshot,
/// is write-protected too: its stores copy into the parent, never reach the
/// snapshot.
fn slice_mapping_is_write_protected<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(4 * P, 0).unwrap();
    let slice = create_child(&env, vmo, ZX_VMO_CHILD_SLICE, 2 * P, 2 * P).unwrap();
    let s = map_rw(&env, slice, 2 * P);
    cpu_put(&env, s, 5);
    let clone = create_child(&env, vmo, SNAPSHOT, 0, 4 * P).unwrap();
    let aspace = env.process.aspace();
    assert!(!env.sim.table_entry(aspace.root_table(), s).unwrap().write);
    cpu_put(&env, s, 6);
    assert_eq!(read_u32(&env, vmo, 2 * P), 6);
    assert_eq!(read_u32(&env, slice, 0), 6);
    assert_eq!(read_u32(&env, clone, 2 * P), 5);
    // And the clone's writes stay out of the slice.
    write_u32(&env, clone, 3 * P, 8);
    assert_eq!(cpu_u32(&env, s + P), 0);
}

/// Mappings of the parent in two address spaces, both written before the
/// snapshot: each loses `WRITE` and its TLB entries; after a write through
/// one, the other sees the parent's new page (its read-only translation of
/// the shared one was dropped), and the snapshot sees neither.
fn mappings_in_several_address_spaces<A: Arch>() {
    let env = Env::<A>::new();
    let job = env.kernel.root_job().create_child().unwrap();
    let other = Env::in_job(env.sim.clone(), env.kernel.clone(), &job);
    let vmo = env.vmo_create(2 * P, 0).unwrap();
    let shared = other
        .process
        .add_handle(
            KernelObject::Vmo(vmo_object(&env, vmo)),
            Rights::DEFAULT_VMO,
        )
        .unwrap();
    let a = map_rw(&env, vmo, 2 * P);
    let b = map_rw(&other, shared, 2 * P);
    cpu_put(&env, a, 1);
    cpu_put(&other, b + P, 2);
    assert_eq!(cpu_u32(&env, a + P), 2);
    assert_eq!(cpu_u32(&other, b), 1);

    let clone = create_child(&env, vmo, SNAPSHOT, 0, 2 * P).unwrap();
    for (e, va) in [(&env, a), (&env, a + P), (&other, b), (&other, b + P)] {
        let aspace = e.process.aspace();
        let (root, asid) = (aspace.root_table(), aspace.asid());
        assert!(!e.sim.table_entry(root, va).unwrap().write, "{va:#x}");
        assert!(!e.sim.tlb_stale(root, asid, va), "{va:#x}: stale TLB entry");
    }
    cpu_put(&env, a + P, 3);
    assert_eq!(cpu_u32(&other, b + P), 3, "the other space sees the copy");
    cpu_put(&other, b, 4);
    assert_eq!(cpu_u32(&env, a), 4);
    assert_eq!(read_u32(&env, clone, 0), 1);
    assert_eq!(read_u32(&env, clone, P), 2);
    let clone_there = other
        .process
        .add_handle(
            KernelObject::Vmo(vmo_object(&env, clone)),
            Rights::DEFAULT_VMO,
        )
        .unwrap();
    let c = map_rw(&other, clone_there, 2 * P);
    assert_eq!((cpu_u32(&other, c), cpu_u32(&other, c + P)), (1, 2));
}

/// Committed and never-committed pages: after the snapshot, writes to
/// either kind on either side stay on that side; pages neither wrote read
/// the old contents or zero.
fn committed_and_uncommitted_pages<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(4 * P, 0).unwrap();
    write_u32(&env, vmo, 0, 10);
    write_u32(&env, vmo, 2 * P, 12);
    let clone = create_child(&env, vmo, SNAPSHOT, 0, 4 * P).unwrap();
    write_u32(&env, vmo, P, 21);
    write_u32(&env, vmo, 2 * P, 22);
    write_u32(&env, clone, 0, 30);
    write_u32(&env, clone, 3 * P, 33);
    let got = |h| (0..4).map(|i| read_u32(&env, h, i * P)).collect::<Vec<_>>();
    assert_eq!(got(vmo), [10, 21, 22, 0]);
    assert_eq!(got(clone), [30, 0, 12, 33]);
}

/// A snapshot of a snapshot of a snapshot, each written at every level,
/// through mappings: four independent views.
fn snapshot_of_snapshot<A: Arch>() {
    let env = Env::<A>::new();
    let mut vmos = vec![env.vmo_create(P, 0).unwrap()];
    let mut maps = vec![map_rw(&env, vmos[0], P)];
    cpu_put(&env, maps[0], 1);
    for i in 1..4 {
        let c = create_child(&env, vmos[i - 1], SNAPSHOT, 0, P).unwrap();
        maps.push(map_rw(&env, c, P));
        vmos.push(c);
        assert_eq!(cpu_u32(&env, maps[i]), i as u32);
        cpu_put(&env, maps[i], i as u32 + 1);
        for (j, m) in maps.iter().enumerate() {
            let want = if j == 0 { 1 } else { j as u32 + 1 };
            assert_eq!(cpu_u32(&env, *m), want, "level {j} after {i}");
        }
    }
    cpu_put(&env, maps[1], 20);
    assert_eq!(
        maps.iter().map(|m| cpu_u32(&env, *m)).collect::<Vec<_>>(),
        [1, 20, 3, 4]
    );
}

/// `VmoClone2TestCase.ManyCloneMapping`: a parent, two snapshots of it and
/// one of the first, all mapped; writes through the mappings in every
/// order, each seen by its own VMO only.
fn many_clone_mapping<A: Arch>() {
    for perm in permutations(4) {
        let env = Env::<A>::new();
        let mut vmos = vec![env.vmo_create(P, 0).unwrap()];
        write_u32(&env, vmos[0], 0, 0xdead_beef);
        vmos.push(create_child(&env, vmos[0], SNAPSHOT, 0, P).unwrap());
        vmos.push(create_child(&env, vmos[0], SNAPSHOT, 0, P).unwrap());
        vmos.push(create_child(&env, vmos[1], SNAPSHOT, 0, P).unwrap());
        let maps: Vec<u64> = vmos.iter().map(|v| map_rw(&env, *v, P)).collect();
        for m in &maps {
            assert_eq!(cpu_u32(&env, *m), 0xdead_beef);
        }
        let mut written = [false; 4];
        for &i in &perm {
            cpu_put(&env, maps[i], 0xc0ffee);
            written[i] = true;
            for (j, m) in maps.iter().enumerate() {
                let want = if written[j] { 0xc0ffee } else { 0xdead_beef };
                assert_eq!(cpu_u32(&env, *m), want, "{perm:?}: vmo {j}");
            }
        }
    }
}

/// `VmoClone2TestCase.ManyCloneMappingOffset`.
fn many_clone_mapping_offset<A: Arch>() {
    let env = Env::<A>::new();
    let base = settled(&env);
    let v0 = env.vmo_create(2 * P, 0).unwrap();
    write_u32(&env, v0, 0, 1);
    let v1 = create_child(&env, v0, SNAPSHOT, 0, 2 * P).unwrap();
    let v2 = create_child(&env, v0, SNAPSHOT, P, P).unwrap();
    let v3 = create_child(&env, v0, SNAPSHOT, 0, 2 * P).unwrap();
    let maps: Vec<u64> = [v0, v1, v2, v3]
        .iter()
        .map(|v| map_rw(&env, *v, P))
        .collect();
    for (i, m) in maps.iter().enumerate() {
        if i != 2 {
            assert_eq!(cpu_u32(&env, *m), 1);
        }
    }
    write_u32(&env, v3, 0, 2);
    write_u32(&env, v1, 0, 3);
    assert_eq!(cpu_u32(&env, maps[1]), 3);
    assert_eq!(cpu_u32(&env, maps[3]), 2);
    assert_eq!(cpu_u32(&env, maps[0]), 1);
    // Upstream: each VMO but v2 is charged one page. Here v1 and v3 own
    // their copies; the original page stays in a hidden node that only v0
    // can see, so v0's next write takes it over without a new frame.
    for (h, pages) in [(v0, 0), (v1, 1), (v2, 0), (v3, 1)] {
        assert_eq!(vmo_object(&env, h).committed_pages(), pages);
    }
    let frames = env.sim.frames_allocated();
    cpu_put(&env, maps[0], 4);
    assert_eq!(env.sim.frames_allocated(), frames);
    assert_eq!(vmo_object(&env, v0).committed_pages(), 1);
    assert_eq!([v1, v3].map(|h| read_u32(&env, h, 0)), [3, 2]);
    for m in &maps {
        env.unmap(env.root_vmar, *m, P).unwrap();
    }
    for h in [v0, v1, v2, v3] {
        env.close(h).unwrap();
    }
    assert_eq!(env.sim.frames_allocated(), base);
}

/// `VmoClone2TestCase.MapRangeReadOnly`: a read-only `MAP_RANGE` mapping of
/// a snapshot commits nothing in it.
fn map_range_read_only<A: Arch>() {
    let env = Env::<A>::new();
    let n = 5;
    let vmo = env.vmo_create(n * P, 0).unwrap();
    for i in 0..n {
        write_u32(&env, vmo, i * P, 77);
    }
    let clone = create_child(&env, vmo, SNAPSHOT, 0, n * P).unwrap();
    let frames = env.sim.frames_allocated();
    let a = env
        .vmar_map(
            env.root_vmar,
            ZX_VM_PERM_READ | ZX_VM_MAP_RANGE,
            0,
            clone,
            0,
            n * P,
        )
        .unwrap();
    assert_eq!(vmo_object(&env, clone).committed_pages(), 0);
    let aspace = env.process.aspace();
    for i in 0..n {
        let e = env.sim.table_entry(aspace.root_table(), a + i * P).unwrap();
        assert!(e.read && !e.write);
    }
    // Only page-table frames were added.
    assert!(env.sim.frames_allocated() <= frames + 3);
    assert_eq!(cpu_u32(&env, a + 4 * P), 77);
}

/// `SNAPSHOT_AT_LEAST_ON_WRITE` of a VMO that is not a slice is made as a
/// snapshot, as Zircon does for anonymous memory: the parent's later writes
/// do not show through (the API would allow them to).
fn at_least_on_write_is_a_snapshot_here<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let a = map_rw(&env, vmo, P);
    cpu_put(&env, a, 1);
    let child = create_child(&env, vmo, ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE, 0, P).unwrap();
    cpu_put(&env, a, 2);
    assert_eq!(read_u32(&env, child, 0), 1);
    // And a true snapshot of it works.
    let snap = create_child(&env, child, SNAPSHOT, 0, P).unwrap();
    write_u32(&env, child, 0, 3);
    assert_eq!(read_u32(&env, snap, 0), 1);
}

/// `VmoClone2TestCase.SnapshotAtLeastOnWriteSliceInChain` and
/// `NoSnapshotPager`, for this crate's unidirectional children: an
/// at-least-on-write child of a slice in the middle of a chain reads
/// through the slice, copies on its own writes, and cannot be snapshotted
/// (`NOT_SUPPORTED`), nor can the slice.
fn at_least_on_write_of_slice_in_chain<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    write_u32(&env, vmo, 0, 0xdead_1eaf);
    let aow = ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE;
    let clone1 = create_child(&env, vmo, aow, 0, P).unwrap();
    write_u32(&env, clone1, 0, 0xc0ffee);
    let clone2 = create_child(&env, clone1, aow, 0, P).unwrap();
    write_u32(&env, clone2, 0, 0x1eaf);
    let slice = create_child(&env, clone1, ZX_VMO_CHILD_SLICE, 0, P).unwrap();
    let snapshot = create_child(&env, slice, aow, 0, P).unwrap();
    assert_eq!(read_u32(&env, vmo, 0), 0xdead_1eaf);
    assert_eq!(read_u32(&env, clone1, 0), 0xc0ffee);
    assert_eq!(read_u32(&env, slice, 0), 0xc0ffee);
    assert_eq!(read_u32(&env, snapshot, 0), 0xc0ffee);
    assert_eq!(read_u32(&env, clone2, 0), 0x1eaf);
    write_u32(&env, snapshot, 0, 5);
    assert_eq!(read_u32(&env, slice, 0), 0xc0ffee);
    for h in [slice, snapshot] {
        assert_eq!(
            create_child(&env, h, SNAPSHOT, 0, P),
            Err(Status::NotSupported)
        );
    }
    // Further at-least-on-write children of it stay unidirectional.
    let deeper = create_child(&env, snapshot, aow, 0, P).unwrap();
    assert_eq!(read_u32(&env, deeper, 0), 5);
}

/// `ProtectCowWritable` (`vmar.cc`) with `SNAPSHOT`, on both sides:
/// granting `WRITE` back after a protect must not make a shared page
/// writable.
fn protect_to_write_after_snapshot<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(2 * P, 0).unwrap();
    let a = map_rw(&env, vmo, 2 * P);
    cpu_put(&env, a, 42);
    let clone = create_child(&env, vmo, SNAPSHOT, 0, 2 * P).unwrap();
    let c = map_rw(&env, clone, 2 * P);
    for va in [a, c] {
        assert_eq!(
            env.protect(env.root_vmar, ZX_VM_PERM_READ, va, 2 * P),
            Ok(())
        );
        assert_eq!(env.protect(env.root_vmar, RW, va, 2 * P), Ok(()));
    }
    let root = env.process.aspace().root_table();
    assert!(!env.sim.table_entry(root, a).unwrap().write);
    cpu_put(&env, a, 1);
    cpu_put(&env, c, 2);
    assert_eq!((read_u32(&env, vmo, 0), read_u32(&env, clone, 0)), (1, 2));
}

/// Every frame comes back: a parent, a snapshot, a snapshot of that and a
/// resizable snapshot, mapped and written in two address spaces, resized,
/// then unmapped and closed parent first or children first.
fn frames_return_to_start<A: Arch>() {
    for parent_first in [true, false] {
        let env = Env::<A>::new();
        let job = env.kernel.root_job().create_child().unwrap();
        let other = Env::in_job(env.sim.clone(), env.kernel.clone(), &job);
        settled(&other);
        let base = settled(&env);
        let vmo = env.vmo_create(8 * P, ZX_VMO_RESIZABLE).unwrap();
        let a = map_rw(&env, vmo, 8 * P);
        for i in 0..8 {
            cpu_put(&env, a + i * P, i as u32);
        }
        let snap = create_child(&env, vmo, SNAPSHOT, 2 * P, 8 * P).unwrap();
        let deeper = create_child(&env, snap, SNAPSHOT, 0, 4 * P).unwrap();
        let grow = create_child(&env, vmo, SNAPSHOT | ZX_VMO_CHILD_RESIZABLE, 0, 4 * P).unwrap();
        let there = other
            .process
            .add_handle(
                KernelObject::Vmo(vmo_object(&env, snap)),
                Rights::DEFAULT_VMO,
            )
            .unwrap();
        let b = map_rw(&other, there, 8 * P);
        for i in 0..8 {
            cpu_put(&other, b + i * P, 100 + i as u32);
            cpu_put(&env, a + i * P, 200 + i as u32);
        }
        write_u32(&env, deeper, P, 300);
        vmo_set_size(&env, grow, 16 * P).unwrap();
        write_u32(&env, grow, 12 * P, 400);
        vmo_set_size(&env, vmo, 3 * P).unwrap();
        assert_eq!(read_u32(&env, deeper, 0), 2);
        assert_eq!(read_u32(&env, grow, 3 * P), 3);
        let (first, second) = if parent_first {
            (vec![vmo], vec![snap, deeper, grow])
        } else {
            (vec![grow, deeper, snap], vec![vmo])
        };
        env.unmap(env.root_vmar, a, 8 * P).unwrap();
        for h in first {
            env.close(h).unwrap();
        }
        other.unmap(other.root_vmar, b, 8 * P).unwrap();
        other.close(there).unwrap();
        for h in second {
            env.close(h).unwrap();
        }
        assert_eq!(
            env.sim.frames_allocated(),
            base,
            "parent_first {parent_first}"
        );
    }
}

both_arches!(
    frames_return_to_start,
    size_align,
    read,
    vmo_write_either_side,
    vmar_write_either_side,
    close_either_side,
    commit,
    existing_writable_mapping_faults_and_copies,
    slice_mapping_is_write_protected,
    mappings_in_several_address_spaces,
    committed_and_uncommitted_pages,
    snapshot_of_snapshot,
    many_clone_mapping,
    many_clone_mapping_offset,
    map_range_read_only,
    at_least_on_write_is_a_snapshot_here,
    at_least_on_write_of_slice_in_chain,
    protect_to_write_after_snapshot,
);

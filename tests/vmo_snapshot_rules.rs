//! `zx_vmo_create_child` with `ZX_VMO_CHILD_SNAPSHOT`: every error, in
//! Zircon's check order (`sys_vmo_create_child`, then
//! `VmObjectDispatcher::CreateChildInternal`, `VmObjectPaged::CreateClone`
//! and `VmCowPages::CreateCloneLocked`), the rights of the new handle, a
//! bad out pointer, and running out of memory on the first write.
//!
//! Ported from Zircon: `vmo-clone.cc` (`VmoCloneTestCase.Rights`,
//! `NoResize`), `vmo-clone2.cc` (`NoAccumulatedOverflow`,
//! `PinBeforeCreateFailure` for the pinned restricted-state VMO, which the
//! SPEC makes `NOT_SUPPORTED` where Zircon says `BAD_STATE`), `vmo.cc`
//! (`ChildPermsTestHelper` for `SNAPSHOT`) and `vmo-slice.cc`
//! (`CowPageSourceThroughSlices`).
#![cfg(feature = "sim")]

mod common;
mod vmhelp;

use common::Env;
use vmhelp::*;
use zx_subsystem::abi::*;
use zx_subsystem::arch::Arch;
use zx_subsystem::syscall::SyscallNumber;

const SNAPSHOT: u32 = ZX_VMO_CHILD_SNAPSHOT;
const AOW: u32 = ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE;
const NEAR_END: u64 = u64::MAX - P + 1;

/// `VmoCloneTestCase.Rights`: a snapshot of a `READ | DUPLICATE` handle
/// gains `WRITE` and the property rights.
fn rights_of_a_snapshot<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let reduced = env
        .duplicate(vmo, ZX_RIGHT_READ | ZX_RIGHT_DUPLICATE)
        .unwrap();
    let clone = create_child(&env, reduced, SNAPSHOT, 0, P).unwrap();
    env.close(reduced).unwrap();
    env.close(vmo).unwrap();
    assert_eq!(
        rights(&env, clone),
        Rights::READ | Rights::DUPLICATE | Rights::WRITE | Rights::PROPERTY
    );
}

/// `ChildPermsTestHelper` for `SNAPSHOT`: the parent handle's rights
/// without `RESIZE` and `EXECUTE`, with `WRITE` and the property rights;
/// `RESIZE` exactly when the child is `RESIZABLE`, whatever the parent.
fn child_perms<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = exec_vmo(&env, P);
    let base = rights(&env, vmo);
    for parent_rights in [
        base,
        Rights::READ | Rights::DUPLICATE,
        Rights::READ | Rights::DUPLICATE | Rights::MAP,
        Rights::READ | Rights::DUPLICATE | Rights::WRITE | Rights::EXECUTE,
    ] {
        let h = env.duplicate(vmo, parent_rights.bits()).unwrap();
        let child = create_child(&env, h, SNAPSHOT, 0, P).unwrap();
        assert_eq!(
            rights(&env, child),
            (parent_rights | Rights::PROPERTY | Rights::WRITE) - Rights::EXECUTE,
            "{parent_rights:?}"
        );
    }
    let resizable = env.vmo_create(P, ZX_VMO_RESIZABLE).unwrap();
    for (parent, options, resize) in [
        (resizable, SNAPSHOT, false),
        (resizable, SNAPSHOT | ZX_VMO_CHILD_RESIZABLE, true),
        (vmo, SNAPSHOT | ZX_VMO_CHILD_RESIZABLE, true),
    ] {
        let child = create_child(&env, parent, options, 0, P).unwrap();
        assert_eq!(rights(&env, child).contains(Rights::RESIZE), resize);
    }
}

/// `VmoCloneTestCase.NoResize`: a snapshot not made `RESIZABLE` cannot
/// change size, and maps with `REQUIRE_NON_RESIZABLE`.
fn no_resize<A: Arch>() {
    let env = Env::<A>::new();
    let len = 4 * P;
    let parent = env.vmo_create(len, 0).unwrap();
    let vmo = create_child(&env, parent, SNAPSHOT, 0, len).unwrap();
    assert_eq!(vmo_set_size(&env, vmo, len + P), Err(Status::Unavailable));
    assert_eq!(vmo_set_size(&env, vmo, len - P), Err(Status::Unavailable));
    assert_eq!(vmo_size(&env, vmo), Ok(len));
    let a = env
        .vmar_map(
            env.root_vmar,
            RW | ZX_VM_REQUIRE_NON_RESIZABLE,
            0,
            vmo,
            0,
            len,
        )
        .unwrap();
    assert_eq!(env.unmap(env.root_vmar, a, len), Ok(()));
}

/// The syscall's own checks, before the handle: the size, then `NO_WRITE`
/// with `RESIZABLE`; then the handle: `BAD_HANDLE`, `WRONG_TYPE`, then
/// `DUPLICATE` and `READ`; all before the options are looked at.
fn checks_before_and_of_the_handle<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let bad = 0x1234_5677;
    let nw_rs = SNAPSHOT | ZX_VMO_CHILD_NO_WRITE | ZX_VMO_CHILD_RESIZABLE;
    assert_eq!(
        create_child(&env, bad, nw_rs, 0, u64::MAX),
        Err(Status::OutOfRange)
    );
    assert_eq!(
        create_child(&env, bad, nw_rs, 0, P),
        Err(Status::InvalidArgs)
    );
    let conflicting = SNAPSHOT | AOW;
    assert_eq!(
        create_child(&env, bad, conflicting, 0, P),
        Err(Status::BadHandle)
    );
    assert_eq!(
        create_child(&env, env.root_vmar, conflicting, 0, P),
        Err(Status::WrongType)
    );
    let all = rights(&env, vmo);
    for missing in [Rights::DUPLICATE, Rights::READ] {
        let h = env.duplicate(vmo, (all - missing).bits()).unwrap();
        assert_eq!(
            create_child(&env, h, conflicting, 0, P),
            Err(Status::AccessDenied)
        );
    }
}

/// The options, read as `CreateChildInternal` does: one snapshot kind,
/// `SNAPSHOT` first; `RESIZABLE`; anything left over is `INVALID_ARGS`;
/// `REFERENCE` takes only `RESIZABLE`; kinds and flags this crate lacks
/// are then `NOT_SUPPORTED`.
fn option_decoding<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let rs = ZX_VMO_CHILD_RESIZABLE;
    let nw = ZX_VMO_CHILD_NO_WRITE;
    let cases = [
        (SNAPSHOT, Ok(())),
        (SNAPSHOT | rs, Ok(())),
        (SNAPSHOT | AOW, Err(Status::InvalidArgs)),
        (
            SNAPSHOT | ZX_VMO_CHILD_SNAPSHOT_MODIFIED,
            Err(Status::InvalidArgs),
        ),
        (
            AOW | ZX_VMO_CHILD_SNAPSHOT_MODIFIED,
            Err(Status::InvalidArgs),
        ),
        (SNAPSHOT | ZX_VMO_CHILD_SLICE, Err(Status::InvalidArgs)),
        (SNAPSHOT | ZX_VMO_CHILD_REFERENCE, Err(Status::InvalidArgs)),
        (SNAPSHOT | (1 << 12), Err(Status::InvalidArgs)),
        (rs, Err(Status::InvalidArgs)),
        (nw, Err(Status::InvalidArgs)),
        (ZX_VMO_CHILD_REFERENCE, Err(Status::NotSupported)),
        (ZX_VMO_CHILD_REFERENCE | rs, Err(Status::NotSupported)),
        (ZX_VMO_CHILD_SNAPSHOT_MODIFIED, Err(Status::NotSupported)),
        (
            ZX_VMO_CHILD_SNAPSHOT_MODIFIED | rs,
            Err(Status::NotSupported),
        ),
        (SNAPSHOT | nw, Err(Status::NotSupported)),
        (SNAPSHOT | nw | (1 << 12), Err(Status::InvalidArgs)),
    ];
    for (options, want) in cases {
        assert_eq!(
            create_child(&env, vmo, options, 0, P).map(|_| ()),
            want,
            "{options:#x}"
        );
    }
}

/// After the options: the pinned restricted-state VMO (`NOT_SUPPORTED`,
/// before the offset's alignment), the offset's alignment, then
/// `offset + size` overflowing (`OUT_OF_RANGE`). Sizes and offsets past
/// the parent's end are fine.
fn pinned_alignment_and_range<A: Arch>() {
    let env = Env::<A>::new();
    let out = env.out(20);
    env.call_ok(SyscallNumber::RestrictedBindState, &[0, out])
        .unwrap();
    let state = env.read_u32(out);
    assert_eq!(
        create_child(&env, state, SNAPSHOT | AOW, 0, P),
        Err(Status::InvalidArgs),
        "options first"
    );
    assert_eq!(
        create_child(&env, state, SNAPSHOT, 1, P),
        Err(Status::NotSupported)
    );
    let vmo = env.vmo_create(P, 0).unwrap();
    assert_eq!(
        create_child(&env, vmo, SNAPSHOT, NEAR_END + 1, 2 * P),
        Err(Status::InvalidArgs),
        "alignment before the range"
    );
    assert_eq!(
        create_child(&env, vmo, SNAPSHOT, NEAR_END, 2 * P),
        Err(Status::OutOfRange)
    );
    assert_eq!(
        create_child(&env, vmo, SNAPSHOT, NEAR_END, P),
        Err(Status::OutOfRange),
        "the end itself would be 2^64"
    );
    let far = create_child(&env, vmo, SNAPSHOT, NEAR_END - P, P).unwrap();
    assert_eq!(vmo_size(&env, far), Ok(P));
    assert_eq!(read_u32(&env, far, 0), 0);
    let big = create_child(&env, vmo, SNAPSHOT, 0, 1 << 40).unwrap();
    assert_eq!(read_u32(&env, big, (1 << 40) - 4), 0);
}

/// `VmoClone2TestCase.NoAccumulatedOverflow`: the child's range as an
/// offset in the root VMO must not overflow, at creation (`INVALID_ARGS`)
/// or when a resizable child grows.
fn no_accumulated_overflow<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(0, 0).unwrap();
    let child1 = create_child(&env, vmo, SNAPSHOT, 0xffff_ffff_ffff_8000, 0).unwrap();
    assert_eq!(
        create_child(&env, child1, SNAPSHOT, 0x8000, 0),
        Err(Status::InvalidArgs)
    );
    let child2 = create_child(&env, child1, SNAPSHOT | ZX_VMO_CHILD_RESIZABLE, 0x4000, 0).unwrap();
    assert_eq!(vmo_set_size(&env, child2, 0x8000), Err(Status::InvalidArgs));
    // Its end may reach 2^64 - 1, not 2^64.
    assert_eq!(vmo_set_size(&env, child2, 0x4000), Err(Status::InvalidArgs));
    assert_eq!(vmo_set_size(&env, child2, 0x3000), Ok(()));
    assert_eq!(vmo_size(&env, child2), Ok(0x3000));
    // At-least-on-write children are clones too.
    assert_eq!(
        create_child(&env, child1, AOW, 0x8000, 0),
        Err(Status::InvalidArgs)
    );
}

/// `VmoSliceTestCase.CowPageSourceThroughSlices` and Zircon's
/// `require_unidirectional` for slices: `SNAPSHOT` of a slice is
/// `NOT_SUPPORTED`, after the root-offset check; below an
/// at-least-on-write child of a slice (Zircon's pager-backed trees) it is
/// `NOT_SUPPORTED` before that check. A slice of a snapshot is fine.
fn slices_in_the_chain<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    write_u32(&env, vmo, 0, 1);
    let cow_child = create_child(&env, vmo, SNAPSHOT, 0, P).unwrap();
    let slice = create_child(&env, cow_child, ZX_VMO_CHILD_SLICE, 0, P).unwrap();
    assert_eq!(read_u32(&env, slice, 0), 1);
    assert_eq!(
        create_child(&env, slice, SNAPSHOT, 0, P),
        Err(Status::NotSupported)
    );
    let nested = create_child(&env, slice, ZX_VMO_CHILD_SLICE, 0, P).unwrap();
    assert_eq!(
        create_child(&env, nested, SNAPSHOT, 0, P),
        Err(Status::NotSupported)
    );
    // Root offset before the slice rule: a slice of a child far out.
    let far = create_child(&env, vmo, SNAPSHOT, 1 << 63, 2 * P).unwrap();
    let far_slice = create_child(&env, far, ZX_VMO_CHILD_SLICE, 0, P).unwrap();
    assert_eq!(
        create_child(&env, far_slice, SNAPSHOT, 1 << 63, P),
        Err(Status::InvalidArgs)
    );
    assert_eq!(
        create_child(&env, far_slice, SNAPSHOT, 0, P),
        Err(Status::NotSupported)
    );
    // Below an at-least-on-write child of a slice: NOT_SUPPORTED first
    // (the range check through slices still comes before).
    let uni = create_child(&env, slice, AOW, 1 << 63, P).unwrap();
    assert_eq!(
        create_child(&env, uni, SNAPSHOT, 1 << 63, P),
        Err(Status::NotSupported)
    );
    assert_eq!(
        create_child(&env, uni, AOW, 1 << 63, P),
        Err(Status::InvalidArgs)
    );
    assert_eq!(
        create_child(&env, uni, SNAPSHOT, NEAR_END, 2 * P),
        Err(Status::OutOfRange)
    );
}

/// A bad out pointer: `INVALID_ARGS`, no handle, and the child goes at
/// once: the parent's pages are its own again (a write through its mapping,
/// which lost `WRITE`, faults but copies nothing).
fn bad_out_pointer_leaves_nothing<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(2 * P, 0).unwrap();
    let a = env.vmar_map(env.root_vmar, RW, 0, vmo, 0, 2 * P).unwrap();
    env.cpu_write(a, &[1]).unwrap();
    env.cpu_write(a + P, &[2]).unwrap();
    let ro = env
        .vmar_map(env.root_vmar, ZX_VM_PERM_READ, 0, vmo, 0, P)
        .unwrap();
    let handles = env.process.with_handles(|t| t.len());
    let frames = env.sim.frames_allocated();
    for out in [BAD_OUT, ro, 1 << 60] {
        assert_eq!(
            env.call_ok(
                SyscallNumber::VmoCreateChild,
                &[vmo as u64, SNAPSHOT as u64, 0, 2 * P, out]
            ),
            Err(Status::InvalidArgs)
        );
        assert_eq!(env.process.with_handles(|t| t.len()), handles);
    }
    assert_eq!(vmo_object(&env, vmo).committed_pages(), 2);
    env.cpu_write(a, &[3]).unwrap();
    env.cpu_write(a + P, &[4]).unwrap();
    assert_eq!(env.sim.frames_allocated(), frames);
    assert_eq!(vmo_read(&env, vmo, 0, 1).unwrap(), [3]);
}

/// Out of memory at the first write of either side: `NO_MEMORY` (from
/// `zx_vmo_write`, and from the fault handler), neither side changed; the
/// same write succeeds once memory is back.
fn no_memory_on_first_write<A: Arch>() {
    let env = Env::<A>::new();
    settled(&env);
    let vmo = env.vmo_create(P, 0).unwrap();
    let a = env.vmar_map(env.root_vmar, RW, 0, vmo, 0, P).unwrap();
    env.cpu_write(a, &[1]).unwrap();
    let clone = create_child(&env, vmo, SNAPSHOT, 0, P).unwrap();
    let c = env.vmar_map(env.root_vmar, RW, 0, clone, 0, P).unwrap();
    assert_eq!(env.probe_read(c), Ok(1));
    env.sim.fail_after(0);
    assert_eq!(vmo_write(&env, clone, 0, &[2]), Err(Status::NoMemory));
    assert_eq!(env.probe_write(a, 3), Err(Status::NoMemory));
    assert_eq!(env.probe_write(c, 3), Err(Status::NoMemory));
    env.sim.set_frame_limit(None);
    assert_eq!((env.probe_read(a), env.probe_read(c)), (Ok(1), Ok(1)));
    assert_eq!(vmo_write(&env, clone, 0, &[2]), Ok(()));
    assert_eq!(env.probe_write(a, 3), Ok(()));
    assert_eq!((env.probe_read(a), env.probe_read(c)), (Ok(3), Ok(2)));
}

both_arches!(
    rights_of_a_snapshot,
    child_perms,
    no_resize,
    checks_before_and_of_the_handle,
    option_decoding,
    pinned_alignment_and_range,
    no_accumulated_overflow,
    slices_in_the_chain,
    bad_out_pointer_leaves_nothing,
    no_memory_on_first_write,
);

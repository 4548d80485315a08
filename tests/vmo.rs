//! Ports of Zircon's `zircon/system/utest/core/vmo/vmo.cc` and `vmo-slice.cc`
//! cases about sizes, rights, children and read/write ranges, on both
//! architectures.
//!
//! This crate supports `ZX_VMO_CHILD_SLICE`, `ZX_VMO_CHILD_SNAPSHOT` and
//! `ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE` children; where upstream loops
//! over `SNAPSHOT_MODIFIED` too, it gives `NOT_SUPPORTED` here, and the
//! tests check that instead. Snapshot semantics: `tests/vmo_snapshot*.rs`.
#![cfg(feature = "sim")]

mod common;
mod vmhelp;

use common::Env;
use vmhelp::*;
use zx_subsystem::abi::*;
use zx_subsystem::arch::Arch;
use zx_subsystem::syscall::SyscallNumber;

const AT_LEAST_ON_WRITE: u32 = ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE;

/// `NoResize`: a VMO not created resizable cannot change size.
fn no_resize<A: Arch>() {
    let env = Env::<A>::new();
    let len = 4 * P;
    let vmo = env.vmo_create(len, 0).unwrap();
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
    assert_ne!(a, 0);
    assert_eq!(env.unmap(env.root_vmar, a, len), Ok(()));
}

/// `ResizeRight`: `RESIZE` comes with `ZX_VMO_RESIZABLE` and is needed to
/// resize.
fn resize_right<A: Arch>() {
    let env = Env::<A>::new();
    let fixed = env.vmo_create(P, 0).unwrap();
    assert!(!rights(&env, fixed).contains(Rights::RESIZE));
    assert_eq!(vmo_set_size(&env, fixed, 2 * P), Err(Status::Unavailable));

    let vmo = env.vmo_create(P, ZX_VMO_RESIZABLE).unwrap();
    assert!(rights(&env, vmo).contains(Rights::RESIZE));
    assert_eq!(vmo_set_size(&env, vmo, 2 * P), Ok(()));
    let no_resize = env
        .duplicate(vmo, (rights(&env, vmo) - Rights::RESIZE).bits())
        .unwrap();
    assert_eq!(vmo_set_size(&env, no_resize, P), Err(Status::AccessDenied));
    // WRITE is checked first.
    let no_write = env
        .duplicate(vmo, (rights(&env, vmo) - Rights::WRITE).bits())
        .unwrap();
    assert_eq!(vmo_set_size(&env, no_write, P), Err(Status::AccessDenied));
    let ro_fixed = env
        .duplicate(fixed, (rights(&env, fixed) - Rights::WRITE).bits())
        .unwrap();
    assert_eq!(vmo_set_size(&env, ro_fixed, P), Err(Status::AccessDenied));
    assert_eq!(vmo_size(&env, vmo), Ok(2 * P));
}

/// `Resize`: sizes round up to pages; an enormous size is `OUT_OF_RANGE`;
/// `REQUIRE_NON_RESIZABLE` refuses a resizable VMO; resizing while mapped
/// works.
fn resize<A: Arch>() {
    let env = Env::<A>::new();
    let len = 4 * P;
    let vmo = env.vmo_create(len, ZX_VMO_RESIZABLE).unwrap();
    assert_eq!(vmo_size(&env, vmo), Ok(len));
    assert_eq!(vmo_set_size(&env, vmo, u64::MAX), Err(Status::OutOfRange));
    assert_eq!(vmo_size(&env, vmo), Ok(len));
    assert_eq!(vmo_set_size(&env, vmo, len + 1), Ok(()));
    assert_eq!(vmo_size(&env, vmo), Ok(len + P));
    assert_eq!(
        env.vmar_map(
            env.root_vmar,
            ZX_VM_PERM_READ | ZX_VM_REQUIRE_NON_RESIZABLE,
            0,
            vmo,
            0,
            len
        ),
        Err(Status::NotSupported)
    );
    let a = env.vmar_map(env.root_vmar, RW, 0, vmo, 0, len).unwrap();
    env.cpu_write(a, &[1]).unwrap();
    assert_eq!(vmo_set_size(&env, vmo, len * 2), Ok(()));
    assert_eq!(env.probe_read(a), Ok(1));
    assert_eq!(vmo_set_size(&env, vmo, P), Ok(()));
    assert_eq!(env.probe_read(a), Ok(1));
    assert_eq!(env.probe_read(a + P), Err(Status::OutOfRange));
    assert_eq!(env.unmap(env.root_vmar, a, len), Ok(()));
}

/// `ResizeHazard`: shrinking a mapped VMO to 0 removes its translations;
/// accesses then fault with `OUT_OF_RANGE`, and the pages are freed.
fn resize_hazard<A: Arch>() {
    let env = Env::<A>::new();
    let size = 2 * P;
    let vmo = env.vmo_create(size, ZX_VMO_RESIZABLE).unwrap();
    let obj = vmo_object(&env, vmo);
    let a = env.vmar_map(env.root_vmar, RW, 0, vmo, 0, size).unwrap();
    env.cpu_write(a, &[7]).unwrap();
    env.cpu_write(a + P, &[8]).unwrap();
    let asid = env.process.aspace().asid();
    assert!(env.sim.tlb_holds(asid, a));
    let frames = env.sim.frames_allocated();
    assert_eq!(vmo_set_size(&env, vmo, 0), Ok(()));
    assert!(!env.sim.tlb_holds(asid, a));
    assert_eq!(obj.committed_pages(), 0);
    assert!(
        env.sim.frames_allocated() <= frames - 2,
        "the two pages were freed"
    );
    assert_eq!(env.probe_read(a), Err(Status::OutOfRange));
    assert_eq!(env.probe_write(a + P, 1), Err(Status::OutOfRange));
    // Growing again shows zeros.
    assert_eq!(vmo_set_size(&env, vmo, size), Ok(()));
    assert_eq!(env.probe_read(a), Ok(0));
}

/// `ChildResizeRight`: children get `RESIZE` exactly when created
/// `RESIZABLE` (slices never can be); `SNAPSHOT_MODIFIED` is not supported
/// by this crate.
fn child_resize_right<A: Arch>() {
    let env = Env::<A>::new();
    let len = 4 * P;
    let parent = env.vmo_create(len, 0).unwrap();
    for kind in [AT_LEAST_ON_WRITE, ZX_VMO_CHILD_SNAPSHOT, ZX_VMO_CHILD_SLICE] {
        let child = create_child(&env, parent, kind, 0, len).unwrap();
        assert!(!rights(&env, child).contains(Rights::RESIZE), "{kind:#x}");
        assert_eq!(vmo_set_size(&env, child, len + P), Err(Status::Unavailable));
        assert_eq!(vmo_size(&env, child), Ok(len));
    }
    for kind in [AT_LEAST_ON_WRITE, ZX_VMO_CHILD_SNAPSHOT] {
        let child = create_child(&env, parent, kind | ZX_VMO_CHILD_RESIZABLE, 0, len).unwrap();
        assert!(rights(&env, child).contains(Rights::RESIZE), "{kind:#x}");
        assert_eq!(vmo_set_size(&env, child, len + P), Ok(()));
        assert_eq!(vmo_size(&env, child), Ok(len + P));
    }
    assert_eq!(
        create_child(
            &env,
            parent,
            ZX_VMO_CHILD_SLICE | ZX_VMO_CHILD_RESIZABLE,
            0,
            len
        ),
        Err(Status::InvalidArgs)
    );
    assert_eq!(
        create_child(&env, parent, ZX_VMO_CHILD_SNAPSHOT_MODIFIED, 0, len),
        Err(Status::NotSupported)
    );
}

/// `Rights`: the map matrix of `RightsTestMapHelper` (MAP first, then
/// W-without-R, then the permission rights), and read/write rights even
/// for a zero length.
fn rights_map_matrix<A: Arch>() {
    let env = Env::<A>::new();
    let len = 4 * P;
    let vmo = env.vmo_create(len, 0).unwrap();
    let map = |h: u32, perms: u32| -> Result<(), Status> {
        let a = env.vmar_map(env.root_vmar, perms, 0, h, 0, len)?;
        env.unmap(env.root_vmar, a, len).unwrap();
        Ok(())
    };
    let (r, w, ok) = (ZX_VM_PERM_READ, ZX_VM_PERM_WRITE, Ok(()));
    let ad = Err(Status::AccessDenied);
    let ia = Err(Status::InvalidArgs);
    // Full handle.
    assert_eq!(
        [map(vmo, 0), map(vmo, r), map(vmo, w), map(vmo, r | w)],
        [ok, ok, ia, ok]
    );
    let cases = [
        (
            ZX_RIGHT_READ | ZX_RIGHT_WRITE | ZX_RIGHT_DUPLICATE,
            [ad, ad, ad, ad],
        ),
        (
            ZX_RIGHT_READ | ZX_RIGHT_MAP | ZX_RIGHT_DUPLICATE,
            [ok, ok, ia, ad],
        ),
        (
            ZX_RIGHT_WRITE | ZX_RIGHT_MAP | ZX_RIGHT_DUPLICATE,
            [ok, ad, ia, ad],
        ),
        (
            ZX_RIGHT_READ | ZX_RIGHT_WRITE | ZX_RIGHT_MAP | ZX_RIGHT_DUPLICATE,
            [ok, ok, ia, ok],
        ),
    ];
    for (rights, expect) in cases {
        let h = env.duplicate(vmo, rights).unwrap();
        assert_eq!(
            [map(h, 0), map(h, r), map(h, w), map(h, r | w)],
            expect,
            "{rights:#x}"
        );
        env.close(h).unwrap();
    }
    // Read/write rights, even for zero lengths.
    let rd = env.duplicate(vmo, ZX_RIGHT_READ).unwrap();
    let wr = env.duplicate(vmo, ZX_RIGHT_WRITE).unwrap();
    let none = env.duplicate(vmo, 0).unwrap();
    assert_eq!(vmo_write(&env, rd, 0, &[]), Err(Status::AccessDenied));
    assert_eq!(vmo_read(&env, wr, 0, 0), Err(Status::AccessDenied));
    assert_eq!(vmo_write(&env, none, 0, &[]), Err(Status::AccessDenied));
    assert_eq!(vmo_read(&env, none, 0, 0), Err(Status::AccessDenied));
    assert_eq!(vmo_read(&env, rd, 0, 0), Ok(vec![]));
    assert_eq!(vmo_write(&env, wr, 0, &[]), Ok(()));
    // Another object's handle: WRONG_TYPE before rights.
    let no_rights_vmar = env.duplicate(env.root_vmar, 0).unwrap();
    assert_eq!(vmo_read(&env, no_rights_vmar, 0, 0), Err(Status::WrongType));
}

/// `Rights`: the children's rights (`ChildPermsTestHelper`), for the kinds
/// this crate supports.
fn child_rights<A: Arch>() {
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
        let snapshot = create_child(&env, h, AT_LEAST_ON_WRITE, 0, P).unwrap();
        assert_eq!(
            rights(&env, snapshot),
            ((parent_rights | Rights::PROPERTY | Rights::WRITE) - Rights::EXECUTE),
            "snapshot of {parent_rights:?}"
        );
        let slice = create_child(&env, h, ZX_VMO_CHILD_SLICE, 0, P).unwrap();
        assert_eq!(
            rights(&env, slice),
            parent_rights | Rights::PROPERTY,
            "slice of {parent_rights:?}"
        );
    }
    // The child needs DUPLICATE and READ on the parent handle.
    for missing in [Rights::DUPLICATE, Rights::READ] {
        let h = env.duplicate(vmo, (base - missing).bits()).unwrap();
        assert_eq!(
            create_child(&env, h, AT_LEAST_ON_WRITE, 0, P),
            Err(Status::AccessDenied)
        );
        assert_eq!(
            create_child(&env, h, ZX_VMO_CHILD_SLICE, 0, P),
            Err(Status::AccessDenied)
        );
    }
    // NO_WRITE is not supported by this crate, with either
    // kind (Zircon accepts it with both).
    assert_eq!(
        create_child(&env, vmo, ZX_VMO_CHILD_SLICE | ZX_VMO_CHILD_NO_WRITE, 0, P),
        Err(Status::NotSupported)
    );
    assert_eq!(
        create_child(&env, vmo, ZX_VMO_CHILD_SLICE | ZX_VMO_CHILD_SNAPSHOT, 0, P),
        Err(Status::InvalidArgs)
    );
    assert_eq!(
        create_child(&env, vmo, AT_LEAST_ON_WRITE | ZX_VMO_CHILD_NO_WRITE, 0, P),
        Err(Status::NotSupported)
    );
    // No kind at all, or unknown bits.
    assert_eq!(create_child(&env, vmo, 0, 0, P), Err(Status::InvalidArgs));
    assert_eq!(
        create_child(&env, vmo, AT_LEAST_ON_WRITE | (1 << 20), 0, P),
        Err(Status::InvalidArgs)
    );
}

/// `zx_vmo_create_child` checks the size before the handle.
fn create_child_size_before_handle<A: Arch>() {
    let env = Env::<A>::new();
    assert_eq!(
        create_child(&env, 0x1234_5677, ZX_VMO_CHILD_SLICE, 0, u64::MAX),
        Err(Status::OutOfRange)
    );
    assert_eq!(
        create_child(&env, env.root_vmar, AT_LEAST_ON_WRITE, 0, u64::MAX - P + 1),
        Err(Status::OutOfRange)
    );
    assert_eq!(
        create_child(&env, 0x1234_5677, ZX_VMO_CHILD_SLICE, 0, P),
        Err(Status::BadHandle)
    );
    assert_eq!(
        create_child(&env, env.root_vmar, ZX_VMO_CHILD_SLICE, 0, P),
        Err(Status::WrongType)
    );
}

/// `VmoSliceTestCase.NonResizable`.
fn slice_non_resizable<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, ZX_VMO_RESIZABLE).unwrap();
    assert_eq!(
        create_child(&env, vmo, ZX_VMO_CHILD_SLICE, 0, P),
        Err(Status::NotSupported)
    );
    assert_eq!(
        create_child(&env, vmo, ZX_VMO_CHILD_SLICE | ZX_VMO_CHILD_RESIZABLE, 0, P),
        Err(Status::InvalidArgs)
    );
    let vmo = env.vmo_create(P, 0).unwrap();
    assert_eq!(
        create_child(&env, vmo, ZX_VMO_CHILD_SLICE | ZX_VMO_CHILD_RESIZABLE, 0, P),
        Err(Status::InvalidArgs)
    );
    // A snapshot of a resizable VMO is fine.
    let vmo = env.vmo_create(P, ZX_VMO_RESIZABLE).unwrap();
    assert!(create_child(&env, vmo, AT_LEAST_ON_WRITE, 0, P).is_ok());
}

/// `VmoSliceTestCase.NonSlice`: a slice must lie inside its parent
/// (`INVALID_ARGS`, checked before the resizable parent's `NOT_SUPPORTED`
/// and overflow-safe); sizes that do not round are `OUT_OF_RANGE`.
fn slice_non_slice<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(2 * P, ZX_VMO_RESIZABLE).unwrap();
    let slice = |off, size| create_child(&env, vmo, ZX_VMO_CHILD_SLICE, off, size);
    assert_eq!(slice(0, 3 * P), Err(Status::InvalidArgs));
    assert_eq!(slice(P, 2 * P), Err(Status::InvalidArgs));
    assert_eq!(slice(2 * P, P), Err(Status::InvalidArgs));
    assert_eq!(slice(0, u64::MAX), Err(Status::OutOfRange));
    let nearly = u64::MAX - P + 1;
    assert_eq!(slice(0, nearly), Err(Status::OutOfRange));
    assert_eq!(slice(nearly, P), Err(Status::InvalidArgs));
    assert_eq!(slice(nearly, nearly), Err(Status::OutOfRange));
    assert_eq!(slice(nearly, u64::MAX), Err(Status::OutOfRange));
    // An unaligned offset is INVALID_ARGS too, before NOT_SUPPORTED.
    assert_eq!(slice(1, P), Err(Status::InvalidArgs));
    // Inside: the resizable parent is what is wrong.
    assert_eq!(slice(0, 2 * P), Err(Status::NotSupported));
}

/// `VmoSliceTestCase.ZeroSized`.
fn slice_zero_sized<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let s1 = create_child(&env, vmo, ZX_VMO_CHILD_SLICE, 0, 0).unwrap();
    let s2 = create_child(&env, vmo, ZX_VMO_CHILD_SLICE, P, 0).unwrap();
    for s in [s1, s2] {
        assert_eq!(vmo_read(&env, s, 0, 1), Err(Status::OutOfRange));
        assert_eq!(vmo_write(&env, s, 0, &[42]), Err(Status::OutOfRange));
        assert_eq!(vmo_size(&env, s), Ok(0));
    }
}

/// `VmoSliceTestCase.WriteThrough` (and `Nested`): slices share pages with
/// their parent both ways, also through a mapping.
fn slice_write_through<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(4 * P, 0).unwrap();
    let val = 42u32.to_ne_bytes();
    vmo_write(&env, vmo, 0, &val).unwrap();
    vmo_write(&env, vmo, P, &val).unwrap();
    let slice = create_child(&env, vmo, ZX_VMO_CHILD_SLICE, P, 2 * P).unwrap();
    assert_eq!(vmo_read(&env, slice, 0, 4).unwrap(), val);
    let val2 = 84u32.to_ne_bytes();
    vmo_write(&env, slice, 0, &val2).unwrap();
    vmo_write(&env, slice, P, &val2).unwrap();
    assert_eq!(vmo_read(&env, vmo, 0, 4).unwrap(), val);
    assert_eq!(vmo_read(&env, vmo, P, 4).unwrap(), val2);
    assert_eq!(vmo_read(&env, vmo, 2 * P, 4).unwrap(), val2);
    assert_eq!(vmo_read(&env, vmo, 3 * P, 4).unwrap(), [0; 4]);
    assert_eq!(vmo_object(&env, vmo).committed_pages(), 3);

    // Nested, and through mappings of both.
    let nested = create_child(&env, slice, ZX_VMO_CHILD_SLICE, P, P).unwrap();
    let a = env.vmar_map(env.root_vmar, RW, 0, nested, 0, P).unwrap();
    let b = env.vmar_map(env.root_vmar, RW, 0, vmo, 0, 4 * P).unwrap();
    assert_eq!(env.probe_read(a), Ok(84));
    env.cpu_write(a, &[1]).unwrap();
    assert_eq!(env.probe_read(b + 2 * P), Ok(1));
    env.cpu_write(b + 2 * P, &[2]).unwrap();
    assert_eq!(env.probe_read(a), Ok(2));
}

/// `ReadWriteRange` and `ReadWriteBadLen`: `offset + len` must lie inside
/// the VMO (`OUT_OF_RANGE`, overflow-safe), a zero length at the end is fine.
fn read_write_range<A: Arch>() {
    let env = Env::<A>::new();
    let len = P;
    let vmo = env.vmo_create(len, 0).unwrap();
    let rw = |read: bool, offset: u64, n: u64| {
        let nr = if read {
            SyscallNumber::VmoRead
        } else {
            SyscallNumber::VmoWrite
        };
        env.call_ok(nr, &[vmo as u64, env.scratch + P, offset, n])
    };
    for read in [true, false] {
        assert_eq!(rw(read, 0, 2 * len), Err(Status::OutOfRange));
        assert_eq!(rw(read, len, 0), Ok(()));
        assert_eq!(rw(read, len + 1, 0), Err(Status::OutOfRange));
        assert_eq!(rw(read, u64::MAX - len / 2, len), Err(Status::OutOfRange));
        for i in 1..=8 {
            assert_eq!(rw(read, 0, u64::MAX - P / i), Err(Status::OutOfRange));
        }
        assert_eq!(rw(read, 0, len), Ok(()));
    }
    // A bad user buffer is NOT_FOUND (Zircon's ReadWriteInvalid*Buffer).
    for read in [SyscallNumber::VmoRead, SyscallNumber::VmoWrite] {
        for buf in [0, 1 << 60, env.scratch + 64 * P] {
            assert_eq!(
                env.call_ok(read, &[vmo as u64, buf, 0, 8]),
                Err(Status::NotFound)
            );
        }
    }
}

/// `zx_vmo_create`: sizes round up, size 0 is valid, an oversized size is
/// `OUT_OF_RANGE`, unknown options `INVALID_ARGS`.
fn create_sizes<A: Arch>() {
    let env = Env::<A>::new();
    let z = env.vmo_create(0, 0).unwrap();
    assert_eq!(vmo_size(&env, z), Ok(0));
    let h = env.vmo_create(1, 0).unwrap();
    assert_eq!(vmo_size(&env, h), Ok(P));
    assert_eq!(env.vmo_create(u64::MAX, 0), Err(Status::OutOfRange));
    assert_eq!(env.vmo_create(P, 1 << 10), Err(Status::InvalidArgs));
    assert_eq!(
        env.vmo_create(P, ZX_VMO_RESIZABLE | ZX_VMO_UNBOUNDED),
        Err(Status::InvalidArgs)
    );
}

both_arches!(
    no_resize,
    resize_right,
    resize,
    resize_hazard,
    child_resize_right,
    rights_map_matrix,
    child_rights,
    create_child_size_before_handle,
    slice_non_resizable,
    slice_non_slice,
    slice_zero_sized,
    slice_write_through,
    read_write_range,
    create_sizes,
);

//! VMAR map/allocate/unmap/destroy rules beyond the upstream ports in
//! `tests/vmar.rs`: Zircon's check order where a test can observe it
//! (`CreateSubVmarInner`, `sys_vmar_unmap`), `OFFSET_IS_UPPER_LIMIT`, the
//! undo of a call whose out-pointer is bad, TLB invalidation by unmap,
//! destroy and overwrite, and protections carried into the pieces of a cut
//! mapping. Both architectures.
#![cfg(feature = "sim")]

mod common;
mod vmhelp;

use common::Env;
use vmhelp::*;
use zx_subsystem::PAGE_SIZE;
use zx_subsystem::abi::*;
use zx_subsystem::arch::Arch;
use zx_subsystem::syscall::SyscallNumber;

/// Zircon checks a specific offset's page alignment before the VMAR's
/// `CAN_MAP_SPECIFIC` (`CreateSubVmarInner`), for `SPECIFIC` and
/// `SPECIFIC_OVERWRITE` alike.
fn specific_offset_alignment_before_can_map_specific<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let (r0, _) = env.vmar_allocate(env.root_vmar, CAN_RW, 0, 10 * P).unwrap();
    for specific in [ZX_VM_SPECIFIC, ZX_VM_SPECIFIC_OVERWRITE] {
        assert_eq!(
            env.vmar_map(r0, specific | ZX_VM_PERM_READ, P + 1, vmo, 0, P),
            Err(Status::InvalidArgs),
            "{specific:#x}"
        );
    }
    assert_eq!(
        env.vmar_allocate(r0, ZX_VM_SPECIFIC | ZX_VM_CAN_MAP_READ, P + 1, P),
        Err(Status::InvalidArgs)
    );
}

/// On a destroyed VMAR, Zircon's `CreateSubVmarInner` reports `BAD_STATE`
/// before looking at the size or the placement (A.2 step 7 of the notes).
fn destroyed_vmar_bad_state_before_placement<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let (r0, _) = env
        .vmar_allocate(env.root_vmar, CAN_RW | ZX_VM_CAN_MAP_SPECIFIC, 0, 10 * P)
        .unwrap();
    assert_eq!(destroy(&env, r0), Ok(()));
    // Size 0.
    assert_eq!(env.vmar_allocate(r0, CAN_RW, 0, 0), Err(Status::BadState));
    assert_eq!(
        env.vmar_map(r0, ZX_VM_PERM_READ, 0, vmo, 0, 0),
        Err(Status::BadState)
    );
    // An offset without SPECIFIC, and SPECIFIC with OFFSET_IS_UPPER_LIMIT.
    assert_eq!(env.vmar_allocate(r0, CAN_RW, P, P), Err(Status::BadState));
    assert_eq!(
        env.vmar_map(r0, ZX_VM_PERM_READ, P, vmo, 0, P),
        Err(Status::BadState)
    );
    let both = ZX_VM_SPECIFIC | ZX_VM_OFFSET_IS_UPPER_LIMIT;
    assert_eq!(
        env.vmar_allocate(r0, CAN_RW | both, P, P),
        Err(Status::BadState)
    );
    assert_eq!(
        env.vmar_map(r0, ZX_VM_PERM_READ | both, P, vmo, 0, P),
        Err(Status::BadState)
    );
    // Unaligned or out-of-range specific offsets.
    assert_eq!(
        env.vmar_map(r0, ZX_VM_PERM_READ | ZX_VM_SPECIFIC, 1, vmo, 0, P),
        Err(Status::BadState)
    );
    assert_eq!(
        env.vmar_map(r0, ZX_VM_PERM_READ | ZX_VM_SPECIFIC, 100 * P, vmo, 0, P),
        Err(Status::BadState)
    );
    // What is checked before the region lock stays first: VMO offset
    // alignment, option bits, the rounded length.
    assert_eq!(
        env.vmar_map(r0, ZX_VM_PERM_READ, 0, vmo, 1, P),
        Err(Status::InvalidArgs)
    );
    assert_eq!(
        env.vmar_map(r0, ZX_VM_PERM_READ | ZX_VM_COMPACT, 0, vmo, 0, P),
        Err(Status::InvalidArgs)
    );
    assert_eq!(
        env.vmar_allocate(r0, CAN_RW, 0, P - 1),
        Err(Status::InvalidArgs)
    );
}

/// `OFFSET_IS_UPPER_LIMIT` (Zircon's `CreateSubVmarInner`): like `SPECIFIC`
/// it needs `CAN_MAP_SPECIFIC`; the limit must be page aligned, inside the
/// VMAR and at least the size; the child ends at or below it.
fn offset_is_upper_limit<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let upper = ZX_VM_OFFSET_IS_UPPER_LIMIT;
    let (pg, base) = playground(&env, 16 * P);
    for i in 1..=4u64 {
        let (_, a) = env.vmar_allocate(pg, CAN_RW | upper, 4 * P, P).unwrap();
        assert!(a >= base && a + P <= base + 4 * P, "{i}: {a:#x}");
    }
    assert_eq!(
        env.vmar_allocate(pg, CAN_RW | upper, 4 * P, P),
        Err(Status::NoResources)
    );
    let m = env
        .vmar_map(pg, ZX_VM_PERM_READ | upper, 8 * P, vmo, 0, P)
        .unwrap();
    assert!(m + P <= base + 8 * P);
    // Bad limits.
    assert_eq!(
        env.vmar_allocate(pg, CAN_RW | upper, 4 * P + 1, P),
        Err(Status::InvalidArgs)
    );
    assert_eq!(
        env.vmar_allocate(pg, CAN_RW | upper, 17 * P, P),
        Err(Status::InvalidArgs)
    );
    assert_eq!(
        env.vmar_allocate(pg, CAN_RW | upper, P, 2 * P),
        Err(Status::InvalidArgs)
    );
    assert_eq!(
        env.vmar_map(pg, ZX_VM_PERM_READ | upper, P, vmo, 0, 2 * P),
        Err(Status::InvalidArgs)
    );
    assert_eq!(
        env.vmar_allocate(pg, CAN_RW | upper, 16 * P, 16 * P)
            .map(|_| ()),
        Err(Status::NoResources)
    );
    // No CAN_MAP_SPECIFIC: ACCESS_DENIED, after the alignment check.
    let (plain, _) = env.vmar_allocate(env.root_vmar, CAN_RW, 0, 16 * P).unwrap();
    assert_eq!(
        env.vmar_allocate(plain, CAN_RW | upper, 4 * P, P),
        Err(Status::AccessDenied)
    );
    assert_eq!(
        env.vmar_map(plain, ZX_VM_PERM_READ | upper, 4 * P, vmo, 0, P),
        Err(Status::AccessDenied)
    );
    assert_eq!(
        env.vmar_allocate(plain, CAN_RW | upper, 4 * P + 1, P),
        Err(Status::InvalidArgs)
    );
    assert_eq!(env.vmar_allocate(plain, CAN_RW, 0, P).map(|_| ()), Ok(()));
}

/// `zx_vmar_unmap` in Zircon's order: address alignment, length (0 or
/// rounding to 0), then `BAD_STATE`, then the range (overflow included).
fn unmap_check_order<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let (sub, addr) = env.vmar_allocate(env.root_vmar, CAN_RW, 0, 4 * P).unwrap();
    env.vmar_map(sub, RW, 0, vmo, 0, P).unwrap();
    assert_eq!(env.unmap(sub, addr - P, 2 * P), Err(Status::InvalidArgs));
    assert_eq!(
        env.unmap(sub, addr + 3 * P, 2 * P),
        Err(Status::InvalidArgs)
    );
    assert_eq!(
        env.unmap(sub, addr, u64::MAX - addr - P + 2),
        Err(Status::InvalidArgs)
    );
    assert_eq!(env.probe_read(addr), Ok(0), "nothing changed");
    // An unaligned length is rounded up; holes are fine.
    assert_eq!(env.unmap(sub, addr, 4 * P - 1), Ok(()));
    assert_eq!(env.probe_read(addr), Err(Status::NotFound));
    destroy(&env, sub).unwrap();
    assert_eq!(env.unmap(sub, addr + 1, P), Err(Status::InvalidArgs));
    assert_eq!(env.unmap(sub, addr, 0), Err(Status::InvalidArgs));
    assert_eq!(
        env.unmap(sub, addr, u64::MAX - P + 2),
        Err(Status::InvalidArgs)
    );
    assert_eq!(env.unmap(sub, addr, P), Err(Status::BadState));
    assert_eq!(env.unmap(sub, addr - P, 8 * P), Err(Status::BadState));
    assert_eq!(
        env.unmap(sub, 0u64.wrapping_sub(P), 2 * P),
        Err(Status::BadState)
    );
}

/// A map or allocate whose out-pointer is bad leaves no mapping or VMAR
/// behind: the same range can be used again at once.
fn bad_out_pointer_leaves_nothing<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(4 * P, 0).unwrap();
    let (small, base) = env
        .vmar_allocate(env.root_vmar, CAN_RW | ZX_VM_CAN_MAP_SPECIFIC, 0, 4 * P)
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            map_raw(&env, small, RW, vmo, 4 * P, BAD_OUT),
            Err(Status::InvalidArgs)
        );
        assert_eq!(
            map_raw(&env, small, RW, vmo, 4 * P, 0),
            Err(Status::InvalidArgs)
        );
        for (h, a) in [(env.out(2), BAD_OUT), (BAD_OUT, env.out(3))] {
            assert_eq!(
                env.call_ok(
                    SyscallNumber::VmarAllocate,
                    &[small as u64, CAN_RW as u64, 0, 4 * P, h, a],
                ),
                Err(Status::InvalidArgs)
            );
        }
    }
    assert_eq!(env.probe_read(base), Err(Status::NotFound));
    let a = env.vmar_map(small, RW, 0, vmo, 0, 4 * P).unwrap();
    assert_eq!(a, base);
    env.unmap(small, a, 4 * P).unwrap();
    let (_, b) = env.vmar_allocate(small, CAN_RW, 0, 4 * P).unwrap();
    assert_eq!(b, base);
}

/// Mapping with permissions 0 needs no right on the VMAR handle (Zircon's
/// `vmar_map_common` asks only for the rights of the requested
/// permissions), and the mapping's maximum still comes from the handles.
fn map_needs_only_the_rights_asked_for<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let none = env.duplicate(env.root_vmar, 0).unwrap();
    let a = env.vmar_map(none, 0, 0, vmo, 0, P).unwrap();
    assert_eq!(env.probe_read(a), Err(Status::AccessDenied));
    // The maximum is empty: nothing can be granted later.
    assert_eq!(
        env.protect(env.root_vmar, ZX_VM_PERM_READ, a, P),
        Err(Status::AccessDenied)
    );
    assert_eq!(env.unmap(none, a, P), Ok(()));
}

/// Unmap and destroy invalidate the TLB: a translation cached by a write is
/// gone, and the soft MMU (without the fault handler) refuses the access.
fn unmap_and_destroy_invalidate_tlb<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(4 * P, 0).unwrap();
    let aspace = env.process.aspace();
    let asid = aspace.asid();
    let cached = |a: u64| {
        for i in 0..4 {
            env.cpu_write(a + i * P, &[1]).unwrap();
            assert!(env.sim.tlb_holds(asid, a + i * P));
        }
    };
    let gone = |a: u64, what: &str| {
        for i in 0..4 {
            assert!(
                !env.sim.tlb_holds(asid, a + i * P),
                "{what}: page {i} still cached"
            );
            let r = env
                .sim
                .user_write(aspace.root_table(), asid, a + i * P, &[2]);
            assert!(r.is_err(), "{what}: page {i} still writable");
        }
    };
    let a = env.vmar_map(env.root_vmar, RW, 0, vmo, 0, 4 * P).unwrap();
    cached(a);
    env.unmap(env.root_vmar, a, 4 * P).unwrap();
    gone(a, "unmap");
    let (sub, _) = env.vmar_allocate(env.root_vmar, CAN_RW, 0, 4 * P).unwrap();
    let a = env.vmar_map(sub, RW, 0, vmo, 0, 4 * P).unwrap();
    cached(a);
    destroy(&env, sub).unwrap();
    gone(a, "destroy");
    let a = env.vmar_map(env.root_vmar, RW, 0, vmo, 0, 4 * P).unwrap();
    cached(a);
    env.vmar_map(
        env.root_vmar,
        ZX_VM_PERM_READ | ZX_VM_SPECIFIC_OVERWRITE,
        a - env.process.root_vmar().range().unwrap().0,
        vmo,
        0,
        4 * P,
    )
    .unwrap();
    gone(a, "overwrite");
    assert_eq!(vmo_byte(&env, vmo, 0), 1);
}

/// A mapping cut by unmap keeps the protections of what remains.
fn unmap_keeps_protection_of_the_rest<A: Arch>() {
    let env = Env::<A>::new();
    let vmar = env.root_vmar;
    let vmo = env.vmo_create(6 * P, 0).unwrap();
    let a = env.vmar_map(vmar, RW, 0, vmo, 0, 6 * P).unwrap();
    // [RW, R, RW, 0, R, RW]
    env.protect(vmar, ZX_VM_PERM_READ, a + P, P).unwrap();
    env.protect(vmar, 0, a + 3 * P, P).unwrap();
    env.protect(vmar, ZX_VM_PERM_READ, a + 4 * P, P).unwrap();
    let rw = (Ok(0), Ok(()));
    let r = (Ok(0), Err(Status::AccessDenied));
    let none = (Err(Status::AccessDenied), Err(Status::AccessDenied));
    let nf = (Err(Status::NotFound), Err(Status::NotFound));
    assert_eq!(access_map(&env, a, 6), [rw, r, rw, none, r, rw]);
    env.unmap(vmar, a + 2 * P, P).unwrap();
    assert_eq!(access_map(&env, a, 6), [rw, r, nf, none, r, rw]);
    env.unmap(vmar, a, P).unwrap();
    env.unmap(vmar, a + 5 * P, P).unwrap();
    assert_eq!(access_map(&env, a, 6), [nf, r, nf, none, r, nf]);
    // The pieces are separate mappings: protect across the gap is NOT_FOUND.
    assert_eq!(
        env.protect(vmar, ZX_VM_PERM_READ, a + P, 4 * P),
        Err(Status::NotFound)
    );
    assert_eq!(env.protect(vmar, RW, a + 3 * P, 2 * P), Ok(()));
    assert_eq!(access_map(&env, a, 6), [nf, r, nf, rw, rw, nf]);
}

/// `MAP_RANGE` maps the committed pages at once; for a snapshot child the
/// parent's pages are mapped read-only, so a write still copies.
fn map_range_of_snapshot_copies_on_write<A: Arch>() {
    let env = Env::<A>::new();
    let parent = env.vmo_create(2 * P, 0).unwrap();
    vmo_write(&env, parent, 0, &[42]).unwrap();
    vmo_write(&env, parent, P, &[43]).unwrap();
    let child = create_child(
        &env,
        parent,
        ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE,
        0,
        2 * P,
    )
    .unwrap();
    let a = env
        .vmar_map(env.root_vmar, RW | ZX_VM_MAP_RANGE, 0, child, 0, 2 * P)
        .unwrap();
    let aspace = env.process.aspace();
    let mut b = [0u8; 1];
    // Mapped without a fault.
    env.sim
        .user_read(aspace.root_table(), aspace.asid(), a + P, &mut b)
        .unwrap();
    assert_eq!(b, [43]);
    assert!(
        env.sim
            .user_write(aspace.root_table(), aspace.asid(), a, &[1])
            .is_err()
    );
    env.cpu_write(a, &[77]).unwrap();
    assert_eq!(vmo_byte(&env, parent, 0), 42);
    assert_eq!(vmo_byte(&env, child, 0), 77);
    assert_eq!(vmo_object(&env, child).committed_pages(), 1);
}

both_arches!(
    vmo_read_write_buffer_fault_statuses,
    specific_offset_alignment_before_can_map_specific,
    destroyed_vmar_bad_state_before_placement,
    offset_is_upper_limit,
    unmap_check_order,
    bad_out_pointer_leaves_nothing,
    map_needs_only_the_rights_asked_for,
    unmap_and_destroy_invalidate_tlb,
    unmap_keeps_protection_of_the_rest,
    map_range_of_snapshot_copies_on_write,
);

/// A `zx_vmo_read`/`_write` buffer reports its fault's status: unmapped is
/// NOT_FOUND, read-only (for read) is ACCESS_DENIED, mapped past the end of
/// its (smaller) VMO is OUT_OF_RANGE; a bad out-parameter stays
/// INVALID_ARGS.
fn vmo_read_write_buffer_fault_statuses<A: Arch>() {
    let env = Env::<A>::new();
    let src = env.vmo_create(2 * PAGE_SIZE, 0).unwrap();
    let small = env.vmo_create(PAGE_SIZE, 0).unwrap();
    // Two pages mapped over a one-page VMO: the second is past its end.
    let buf = env
        .vmar_map(
            env.root_vmar,
            ZX_VM_PERM_READ | ZX_VM_PERM_WRITE,
            0,
            small,
            0,
            2 * PAGE_SIZE,
        )
        .unwrap();
    let ro = env
        .vmar_map(env.root_vmar, ZX_VM_PERM_READ, 0, src, 0, PAGE_SIZE)
        .unwrap();
    let read = |to: u64| env.call_ok(SyscallNumber::VmoRead, &[src as u64, to, 0, 16]);
    let write = |from: u64| env.call_ok(SyscallNumber::VmoWrite, &[src as u64, from, 0, 16]);
    assert_eq!(read(buf), Ok(()));
    assert_eq!(read(buf + PAGE_SIZE), Err(Status::OutOfRange));
    assert_eq!(write(buf + PAGE_SIZE), Err(Status::OutOfRange));
    assert_eq!(read(ro), Err(Status::AccessDenied));
    assert_eq!(write(ro), Ok(()), "reading from a read-only buffer is fine");
    assert_eq!(read(0x10), Err(Status::NotFound));
    assert_eq!(write(u64::MAX - 4), Err(Status::NotFound));
    // Out-parameters: INVALID_ARGS whatever the fault.
    assert_eq!(
        env.call_ok(SyscallNumber::VmoGetSize, &[src as u64, ro]),
        Err(Status::InvalidArgs)
    );
    assert_eq!(
        env.call_ok(SyscallNumber::VmoGetSize, &[src as u64, buf + PAGE_SIZE]),
        Err(Status::InvalidArgs)
    );
}

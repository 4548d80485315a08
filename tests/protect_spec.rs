//! `zx_vmar_protect`, SPEC §2 rule by rule: the check order (inputs that
//! break two rules at once report the earlier one), every error code, the
//! effects on translations and TLBs, and atomicity. Zircon's own cases are
//! in `tests/vmar_protect.rs`.
//!
//! Accesses go through the soft MMU and its TLB model plus the crate's
//! page-fault handler ([`Env::probe_read`], [`Env::probe_write`]), so a
//! missing TLB invalidation or a wrong page-table bit fails a test.
#![cfg(feature = "sim")]

mod common;
mod vmhelp;

use common::Env;
use vmhelp::*;
use zx_subsystem::abi::*;
use zx_subsystem::arch::Arch;

const R: u32 = ZX_VM_PERM_READ;
const RX: u32 = ZX_VM_PERM_READ | ZX_VM_PERM_EXECUTE;

/// A root-like VMAR handle duplicated with `rights`.
fn vmar_with<A: Arch>(env: &Env<A>, rights: Rights) -> u32 {
    env.duplicate(env.root_vmar, rights.bits()).unwrap()
}

/// Step 1: `READ_IF_XOM_UNSUPPORTED` folds into `READ` before anything else:
/// it makes `WRITE` alone valid, it needs the `READ` right, and the bit is
/// not an unknown option.
fn step1_xom_fold<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let a = env.vmar_map(env.root_vmar, R, 0, vmo, 0, P).unwrap();
    let xom = ZX_VM_PERM_READ_IF_XOM_UNSUPPORTED;
    assert_eq!(
        env.protect(env.root_vmar, xom | ZX_VM_PERM_WRITE, a, P),
        Ok(())
    );
    assert_eq!(env.probe_write(a, 1), Ok(()));
    // Without the fold this would be INVALID_ARGS (step 3); with it, the
    // handle lacks READ (step 2).
    let no_read = vmar_with(&env, Rights::DEFAULT_VMAR | Rights::WRITE);
    assert_eq!(
        env.protect(no_read, xom | ZX_VM_PERM_WRITE, a, P),
        Err(Status::AccessDenied)
    );
    assert_eq!(env.protect(no_read, xom, a, P), Err(Status::AccessDenied));
    assert_eq!(env.protect(no_read, 0, a, P), Ok(()));
}

/// Step 2: `BAD_HANDLE`, then `WRONG_TYPE`, then the rights, before any
/// argument check.
fn step2_handle_then_type_then_rights<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let (bad_opts, bad_addr, bad_len) = (ZX_VM_PERM_WRITE | ZX_VM_CAN_MAP_READ, 1, 0);
    assert_eq!(
        env.protect(0x1234_5677, bad_opts, bad_addr, bad_len),
        Err(Status::BadHandle)
    );
    assert_eq!(env.protect(0, R, 0, P), Err(Status::BadHandle));
    assert_eq!(
        env.protect(vmo, bad_opts, bad_addr, bad_len),
        Err(Status::WrongType)
    );
    // Each permission needs its right.
    let all = Rights::DEFAULT_VMAR | Rights::READ | Rights::WRITE | Rights::EXECUTE;
    for (perm, right) in [
        (R, Rights::READ),
        (RW, Rights::WRITE),
        (RX, Rights::EXECUTE),
    ] {
        let h = vmar_with(&env, all - right);
        // A right missing beats W-without-R, an unaligned address, bad
        // option bits and a zero length.
        assert_eq!(
            env.protect(h, perm, 1, 0),
            Err(Status::AccessDenied),
            "{perm:#x}"
        );
        assert_eq!(
            env.protect(h, perm | (1 << 31), 0, 0),
            Err(Status::AccessDenied)
        );
        env.close(h).unwrap();
    }
    let no_write = vmar_with(&env, all - Rights::WRITE);
    assert_eq!(
        env.protect(no_write, ZX_VM_PERM_WRITE, 0, 0),
        Err(Status::AccessDenied)
    );
    // Permissions 0 need no right at all.
    let none = vmar_with(&env, Rights::empty());
    let a = env.vmar_map(env.root_vmar, R, 0, vmo, 0, P).unwrap();
    assert_eq!(env.protect(none, 0, a, P), Ok(()));
    assert_eq!(env.probe_read(a), Err(Status::AccessDenied));
}

/// Steps 3–6 come before the VMAR's state: on a destroyed VMAR each bad
/// argument is `INVALID_ARGS`, not `BAD_STATE`, up to a length that rounds
/// to 0. Then (SPEC §2 step 6 as corrected, current Zircon's
/// `VmAddressRegion::Protect`) `BAD_STATE` comes before every range check,
/// an overflowing range included.
fn steps3_to_6_before_bad_state<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let (sub, addr) = env.vmar_allocate(env.root_vmar, CAN_RW, 0, 4 * P).unwrap();
    env.vmar_map(sub, RW, 0, vmo, 0, P).unwrap();
    assert_eq!(destroy(&env, sub), Ok(()));
    // 3. WRITE without READ.
    assert_eq!(
        env.protect(sub, ZX_VM_PERM_WRITE, addr, P),
        Err(Status::InvalidArgs)
    );
    // 4. Unaligned address.
    assert_eq!(env.protect(sub, R, addr + 1, P), Err(Status::InvalidArgs));
    // 5. Option bits other than the permissions.
    for bit in [
        ZX_VM_CAN_MAP_READ,
        ZX_VM_CAN_MAP_WRITE,
        ZX_VM_CAN_MAP_EXECUTE,
        ZX_VM_CAN_MAP_SPECIFIC,
        ZX_VM_SPECIFIC,
        ZX_VM_SPECIFIC_OVERWRITE,
        ZX_VM_COMPACT,
        ZX_VM_MAP_RANGE,
        ZX_VM_REQUIRE_NON_RESIZABLE,
        ZX_VM_ALLOW_FAULTS,
        ZX_VM_OFFSET_IS_UPPER_LIMIT,
        ZX_VM_FAULT_BEYOND_STREAM_SIZE,
        ZX_VM_ALIGN_64KB,
        1 << 16,
        1 << 31,
    ] {
        assert_eq!(
            env.protect(sub, R | bit, addr, P),
            Err(Status::InvalidArgs),
            "{bit:#x}"
        );
    }
    // 6. Length 0, or one that rounds (wraps) to 0.
    assert_eq!(env.protect(sub, R, addr, 0), Err(Status::InvalidArgs));
    assert_eq!(
        env.protect(sub, R, addr, u64::MAX - P + 2),
        Err(Status::InvalidArgs)
    );
    // Then BAD_STATE, even for a range that overflows or lies outside the
    // (former) VMAR.
    assert_eq!(
        env.protect(sub, R, addr, u64::MAX - addr - P + 2),
        Err(Status::BadState)
    );
    assert_eq!(
        env.protect(sub, R, 0u64.wrapping_sub(P), 2 * P),
        Err(Status::BadState)
    );
    assert_eq!(env.protect(sub, R, addr, P), Err(Status::BadState));
    assert_eq!(env.protect(sub, R, addr, 1), Err(Status::BadState));
    assert_eq!(env.protect(sub, R, 0, P), Err(Status::BadState));
    assert_eq!(env.protect(sub, R, addr, 1 << 40), Err(Status::BadState));
}

/// Step 6: an unaligned length is rounded up, not rejected; a range not
/// inside the VMAR is `INVALID_ARGS`, even where a mapping of a parent
/// lies.
fn step6_length_rounding_and_range<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(4 * P, 0).unwrap();
    let (pg, base) = playground(&env, 16 * P);
    let (sub, sub_addr) = env
        .vmar_allocate(
            pg,
            CAN_RW | ZX_VM_SPECIFIC | ZX_VM_CAN_MAP_SPECIFIC,
            4 * P,
            4 * P,
        )
        .unwrap();
    env.vmar_map(pg, RW | ZX_VM_SPECIFIC, 0, vmo, 0, 4 * P)
        .unwrap();
    let m = env
        .vmar_map(sub, RW | ZX_VM_SPECIFIC, 0, vmo, 0, 4 * P)
        .unwrap();
    assert_eq!(m, sub_addr);
    assert_eq!(env.protect(sub, R, m, 1), Ok(()));
    assert!(!writable(&env, m));
    assert!(writable(&env, m + P));
    assert_eq!(env.protect(sub, R, m + P, P + 1), Ok(()));
    assert_eq!(
        (0..4)
            .map(|i| writable(&env, m + i * P))
            .collect::<Vec<_>>(),
        [false, false, false, true]
    );
    // Outside the sub-VMAR (the parent's mapping is right before it).
    assert_eq!(
        env.protect(sub, R, sub_addr - P, 2 * P),
        Err(Status::InvalidArgs)
    );
    assert_eq!(
        env.protect(sub, R, sub_addr + 3 * P, 2 * P),
        Err(Status::InvalidArgs)
    );
    assert_eq!(env.protect(sub, R, base, P), Err(Status::InvalidArgs));
    assert!(writable(&env, base + 3 * P), "nothing changed");
    assert!(writable(&env, m + 3 * P), "nothing changed");
    // The parent reaches both.
    assert_eq!(env.protect(pg, R, base + 3 * P, 2 * P), Ok(()));
    assert!(!writable(&env, base + 3 * P));
}

/// Step 7: holes. A hole before a mapping, a hole at the end, no mapping at
/// all, and an empty sub-VMAR are `NOT_FOUND`.
fn step7_holes_not_found<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let (pg, base) = playground(&env, 16 * P);
    let spec = RW | ZX_VM_SPECIFIC;
    // Nothing mapped.
    assert_eq!(env.protect(pg, R, base, 16 * P), Err(Status::NotFound));
    assert_eq!(env.protect(pg, 0, base, P), Err(Status::NotFound));
    env.vmar_map(pg, spec, P, vmo, 0, P).unwrap();
    // Hole before.
    assert_eq!(env.protect(pg, R, base, 2 * P), Err(Status::NotFound));
    // Hole after.
    assert_eq!(env.protect(pg, R, base + P, 2 * P), Err(Status::NotFound));
    assert!(writable(&env, base + P), "nothing changed");
    // Exactly the mapping.
    assert_eq!(env.protect(pg, R, base + P, P), Ok(()));
    // An empty sub-VMAR, alone or after a mapping.
    let (sub, sub_addr) = env
        .vmar_allocate(
            pg,
            CAN_RW | ZX_VM_SPECIFIC | ZX_VM_CAN_MAP_SPECIFIC,
            2 * P,
            2 * P,
        )
        .unwrap();
    assert_eq!(env.protect(pg, R, sub_addr, 2 * P), Err(Status::NotFound));
    assert_eq!(env.protect(sub, R, sub_addr, 2 * P), Err(Status::NotFound));
    assert_eq!(env.protect(pg, R, base + P, 2 * P), Err(Status::NotFound));
    // A sub-VMAR with a hole at its end.
    env.vmar_map(sub, spec, 0, vmo, 0, P).unwrap();
    assert_eq!(env.protect(pg, R, base + P, 3 * P), Err(Status::NotFound));
    assert_eq!(env.protect(pg, R, base + P, 2 * P), Ok(()));
}

/// Step 7: the checks run per mapping in address order, so which error
/// comes out depends on what comes first; for one mapping, "beyond the
/// maximum" (`ACCESS_DENIED`) comes before "in a sub-VMAR without
/// `OP_CHILDREN`" (`INVALID_ARGS`).
fn step7_order_within_and_across_mappings<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let ro_vmo = env.duplicate(vmo, ZX_RIGHT_MAP | ZX_RIGHT_READ).unwrap();
    let (pg, base) = playground(&env, 16 * P);
    let no_op = env
        .duplicate(pg, (rights(&env, pg) - Rights::OP_CHILDREN).bits())
        .unwrap();
    let spec = ZX_VM_SPECIFIC;
    // [0] RW, [1] hole, [2] max R, [3] in a sub-VMAR (max R), [4] RW.
    env.vmar_map(pg, RW | spec, 0, vmo, 0, P).unwrap();
    env.vmar_map(pg, R | spec, 2 * P, ro_vmo, 0, P).unwrap();
    let (sub, _) = env
        .vmar_allocate(
            pg,
            CAN_RW | ZX_VM_SPECIFIC | ZX_VM_CAN_MAP_SPECIFIC,
            3 * P,
            P,
        )
        .unwrap();
    env.vmar_map(sub, R | spec, 0, ro_vmo, 0, P).unwrap();
    env.vmar_map(pg, RW | spec, 4 * P, vmo, 0, P).unwrap();

    // The hole comes before the mapping with the small maximum.
    assert_eq!(env.protect(pg, RW, base, 3 * P), Err(Status::NotFound));
    // Without the hole in range, the maximum.
    assert_eq!(
        env.protect(pg, RW, base + 2 * P, 3 * P),
        Err(Status::AccessDenied)
    );
    // The nested mapping: maximum first, then OP_CHILDREN.
    assert_eq!(
        env.protect(no_op, RW, base + 3 * P, P),
        Err(Status::AccessDenied)
    );
    assert_eq!(
        env.protect(no_op, R, base + 3 * P, P),
        Err(Status::InvalidArgs)
    );
    // Across mappings, the first failing one decides.
    assert_eq!(
        env.protect(no_op, R, base + 2 * P, 3 * P),
        Err(Status::InvalidArgs)
    );
    assert_eq!(env.protect(no_op, R, base, 4 * P), Err(Status::NotFound));
    assert_eq!(
        env.protect(no_op, RW, base + 3 * P, 2 * P),
        Err(Status::AccessDenied)
    );
    // With OP_CHILDREN, a downgrade into the sub-VMAR is fine.
    assert_eq!(env.protect(pg, R, base + 2 * P, 3 * P), Ok(()));
    assert!(!writable(&env, base + 4 * P));
    assert!(writable(&env, base));
}

/// Step 7: with `OP_CHILDREN`, every protection range a nested mapping
/// already has must include every requested bit.
fn step7_nested_only_downgrades_every_range<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = exec_vmo(&env, 4 * P);
    let (pg, _) = playground(&env, 16 * P);
    let (sub, sub_addr) = env.vmar_allocate(pg, RWX_ALLOC, 0, 4 * P).unwrap();
    let m = env.vmar_map(sub, RWX_MAP, 0, vmo, 0, 4 * P).unwrap();
    assert_eq!(m, sub_addr);
    // Ranges: [RWX, RW, R, RWX].
    env.protect(sub, RW, m + P, P).unwrap();
    env.protect(sub, R, m + 2 * P, P).unwrap();
    assert_eq!(env.protect(pg, RW, m, 4 * P), Err(Status::AccessDenied));
    assert_eq!(env.protect(pg, RX, m, 2 * P), Err(Status::AccessDenied));
    assert_eq!(
        env.protect(pg, RWX_MAP, m + 3 * P, P),
        Ok(()),
        "no change is fine"
    );
    assert_eq!(env.protect(pg, RW, m, 2 * P), Ok(()));
    assert_eq!(env.protect(pg, R, m, 4 * P), Ok(()));
    assert_eq!(env.protect(pg, 0, m + P, 2 * P), Ok(()));
    assert_eq!(env.probe_read(m + P), Err(Status::AccessDenied));
    // Permissions 0 are now there: even R is an upgrade.
    assert_eq!(env.protect(pg, R, m, 2 * P), Err(Status::AccessDenied));
    assert_eq!(env.probe_read(m), Ok(0));
    // The direct parent can restore anything within the maximum.
    assert_eq!(env.protect(sub, RWX_MAP, m, 4 * P), Ok(()));
    assert!(writable(&env, m + 2 * P));
}

/// Step 8 / atomicity: a protect that fails on its last mapping changed
/// nothing in the earlier ones, for each way the check pass can fail.
fn atomic_when_last_mapping_fails<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = exec_vmo(&env, 4 * P);
    let rw_vmo = env
        .duplicate(vmo, (Rights::DEFAULT_VMO - Rights::EXECUTE).bits())
        .unwrap();
    let (pg, base) = playground(&env, 32 * P);
    let no_op = env
        .duplicate(pg, (rights(&env, pg) - Rights::OP_CHILDREN).bits())
        .unwrap();
    let spec = ZX_VM_SPECIFIC;
    // [0..4) and [4..8) max RWX, mapped RW and partly faulted in.
    env.vmar_map(pg, RW | spec, 0, vmo, 0, 4 * P).unwrap();
    env.vmar_map(pg, RW | spec, 4 * P, vmo, 0, 4 * P).unwrap();
    env.protect(pg, R, base + 5 * P, P).unwrap();
    env.cpu_write(base, &[1]).unwrap();
    env.probe_read(base + 6 * P).unwrap();

    let check = |what: &str, last: &dyn Fn()| {
        let before = access_map(&env, base, 8);
        let tlb: Vec<bool> = (0..8)
            .map(|i| env.sim.tlb_holds(env.process.aspace().asid(), base + i * P))
            .collect();
        last();
        let tlb_after: Vec<bool> = (0..8)
            .map(|i| env.sim.tlb_holds(env.process.aspace().asid(), base + i * P))
            .collect();
        assert_eq!(tlb_after, tlb, "{what}: cached translations were dropped");
        assert_eq!(access_map(&env, base, 8), before, "{what}");
    };

    // ACCESS_DENIED: [8..12) has maximum RW (no EXECUTE).
    let m = env
        .vmar_map(pg, RW | spec, 8 * P, rw_vmo, 0, 4 * P)
        .unwrap();
    check("beyond the maximum", &|| {
        assert_eq!(env.protect(pg, RX, base, 12 * P), Err(Status::AccessDenied));
        assert_eq!(
            env.protect(pg, RWX_MAP, base, 12 * P),
            Err(Status::AccessDenied)
        );
    });
    env.unmap(pg, m, 4 * P).unwrap();

    // NOT_FOUND: a hole at the end, for a downgrade and for permissions 0.
    check("hole at the end", &|| {
        assert_eq!(env.protect(pg, R, base, 9 * P), Err(Status::NotFound));
        assert_eq!(env.protect(pg, 0, base, 9 * P), Err(Status::NotFound));
    });

    // INVALID_ARGS: the last mapping is in a sub-VMAR and the handle lacks
    // OP_CHILDREN.
    let (sub, _) = env
        .vmar_allocate(pg, RWX_ALLOC | spec | ZX_VM_CAN_MAP_SPECIFIC, 8 * P, 4 * P)
        .unwrap();
    env.vmar_map(sub, RW | spec, 0, vmo, 0, 4 * P).unwrap();
    check("nested without OP_CHILDREN", &|| {
        assert_eq!(
            env.protect(no_op, R, base, 12 * P),
            Err(Status::InvalidArgs)
        );
        assert_eq!(
            env.protect(no_op, 0, base, 12 * P),
            Err(Status::InvalidArgs)
        );
    });

    // ACCESS_DENIED: an upgrade inside the sub-VMAR, after two mappings the
    // upgrade would have changed.
    env.protect(sub, R, base + 8 * P, 4 * P).unwrap();
    env.protect(pg, R, base, 8 * P).unwrap();
    check("upgrade inside a sub-VMAR", &|| {
        assert_eq!(env.protect(pg, RW, base, 12 * P), Err(Status::AccessDenied));
        assert_eq!(env.protect(pg, RX, base, 12 * P), Err(Status::AccessDenied));
    });
    assert!(!writable(&env, base));
}

/// Step 8: the apply pass reserves before it changes anything, and what it
/// reserves is page-table frames for splitting large leaves. VMO mappings
/// here only ever have 4 KiB leaves (the fault handler maps
/// `PageSize::Size4K`; the page-table layer's own tests cover splits and a
/// failing reservation), so a protect never needs a frame: with every frame
/// allocation failing it still succeeds and changes exactly what it names.
/// A `NO_MEMORY` from the other reservation (heap room for protection
/// ranges) cannot be injected from a test: the host allocator does not
/// fail on request.
fn protect_needs_no_frames<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(8 * P, 0).unwrap();
    let (pg, base) = playground(&env, 16 * P);
    env.vmar_map(pg, RW | ZX_VM_SPECIFIC, 0, vmo, 0, 4 * P)
        .unwrap();
    let (sub, _) = env
        .vmar_allocate(
            pg,
            CAN_RW | ZX_VM_SPECIFIC | ZX_VM_CAN_MAP_SPECIFIC,
            4 * P,
            4 * P,
        )
        .unwrap();
    env.vmar_map(sub, RW | ZX_VM_SPECIFIC, 0, vmo, 4 * P, 4 * P)
        .unwrap();
    for i in 0..8 {
        env.cpu_write(base + i * P, &[i as u8]).unwrap();
    }
    let frames = env.sim.frames_allocated();
    env.sim.fail_after(0);
    assert_eq!(env.protect(pg, R, base + P, 6 * P), Ok(()));
    assert_eq!(env.protect(pg, 0, base + 2 * P, 2 * P), Ok(()));
    assert_eq!(env.sim.frames_allocated(), frames);
    env.sim.set_frame_limit(None);
    let w: Vec<bool> = (0..8).map(|i| writable(&env, base + i * P)).collect();
    assert_eq!(w, [true, false, false, false, false, false, false, true]);
    assert_eq!(env.probe_read(base + 2 * P), Err(Status::AccessDenied));
    assert_eq!(env.probe_read(base + 5 * P), Ok(5));
}

/// Effects: permissions 0 remove the translations (the TLB forgets them)
/// but the pages stay committed, and the data is there after restoring.
fn perms_zero_keeps_pages<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(4 * P, 0).unwrap();
    let obj = vmo_object(&env, vmo);
    let a = env.vmar_map(env.root_vmar, RW, 0, vmo, 0, 4 * P).unwrap();
    for i in 0..4 {
        env.cpu_write(a + i * P, &[10 + i as u8]).unwrap();
    }
    let asid = env.process.aspace().asid();
    assert!((0..4).all(|i| env.sim.tlb_holds(asid, a + i * P)));
    assert_eq!(obj.committed_pages(), 4);
    assert_eq!(env.protect(env.root_vmar, 0, a + P, 2 * P), Ok(()));
    assert!(!env.sim.tlb_holds(asid, a + P));
    assert!(!env.sim.tlb_holds(asid, a + 2 * P));
    assert!(env.sim.tlb_holds(asid, a));
    assert_eq!(obj.committed_pages(), 4, "pages stay committed");
    for i in [1, 2] {
        assert_eq!(env.probe_read(a + i * P), Err(Status::AccessDenied));
        assert_eq!(env.probe_write(a + i * P, 0), Err(Status::AccessDenied));
    }
    assert_eq!(vmo_read(&env, vmo, P, 1).unwrap(), [11]);
    assert_eq!(env.protect(env.root_vmar, R, a + P, 2 * P), Ok(()));
    assert_eq!(env.probe_read(a + P), Ok(11));
    assert_eq!(env.probe_read(a + 2 * P), Ok(12));
    assert_eq!(obj.committed_pages(), 4);
}

/// Effects: pages not faulted in yet take the new permissions when they are
/// faulted, for every kind of access.
fn unfaulted_pages_take_new_permissions<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = exec_vmo(&env, 4 * P);
    let obj = vmo_object(&env, vmo);
    let a = env
        .vmar_map(env.root_vmar, RWX_MAP, 0, vmo, 0, 4 * P)
        .unwrap();
    env.protect(env.root_vmar, R, a, P).unwrap();
    env.protect(env.root_vmar, 0, a + P, P).unwrap();
    env.protect(env.root_vmar, RX, a + 2 * P, P).unwrap();
    assert_eq!(obj.committed_pages(), 0);
    assert_eq!(env.probe_write(a, 1), Err(Status::AccessDenied));
    assert_eq!(env.probe_read(a), Ok(0));
    assert_eq!(env.probe_read(a + P), Err(Status::AccessDenied));
    assert_eq!(env.probe_write(a + P, 1), Err(Status::AccessDenied));
    assert_eq!(env.probe_write(a + 2 * P, 1), Err(Status::AccessDenied));
    assert_eq!(env.probe_write(a + 3 * P, 1), Ok(()));
    // Execute permission, through the soft MMU directly.
    let aspace = env.process.aspace();
    let fetch = |va| {
        env.sim
            .translate(
                aspace.root_table(),
                aspace.asid(),
                va,
                zx_subsystem::trap::Access::Execute,
                true,
            )
            .map(|_| ())
    };
    env.probe_read(a + 2 * P).unwrap();
    assert!(fetch(a + 2 * P).is_ok(), "RX page executes");
    env.probe_read(a).unwrap();
    assert!(fetch(a).is_err(), "R page does not execute");
    // The page given 0 was never committed by those attempts.
    assert_eq!(obj.committed_pages(), 3);
}

/// Effects: every changed translation is invalidated before protect
/// returns. A translation cached by a write must not allow another write
/// after protect to R, on every page of the range and in sub-VMARs reached
/// through the parent.
fn tlb_invalidated<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(8 * P, 0).unwrap();
    let (pg, base) = playground(&env, 16 * P);
    env.vmar_map(pg, RW | ZX_VM_SPECIFIC, 0, vmo, 0, 4 * P)
        .unwrap();
    let (sub, _) = env
        .vmar_allocate(
            pg,
            CAN_RW | ZX_VM_SPECIFIC | ZX_VM_CAN_MAP_SPECIFIC,
            4 * P,
            4 * P,
        )
        .unwrap();
    env.vmar_map(sub, RW | ZX_VM_SPECIFIC, 0, vmo, 4 * P, 4 * P)
        .unwrap();
    let aspace = env.process.aspace();
    let asid = aspace.asid();
    for i in 0..8 {
        env.cpu_write(base + i * P, &[i as u8]).unwrap();
        assert!(env.sim.tlb_holds(asid, base + i * P));
    }
    let flushes = env.sim.tlb_flushes();
    assert_eq!(env.protect(pg, R, base, 8 * P), Ok(()));
    assert!(env.sim.tlb_flushes() > flushes);
    for i in 0..8 {
        assert!(
            !env.sim.tlb_holds(asid, base + i * P),
            "page {i} still cached"
        );
        // Directly through the soft MMU: no fault handler to "fix" it.
        let w = env
            .sim
            .user_write(aspace.root_table(), asid, base + i * P, &[0xff]);
        assert!(w.is_err(), "page {i}: write allowed after protect to R");
        assert_eq!(env.probe_read(base + i * P), Ok(i as u8));
    }
    // And back (through the parent only downgrades reach the sub-VMAR):
    // writes work, data kept.
    assert_eq!(env.protect(pg, RW, base, 8 * P), Err(Status::AccessDenied));
    assert_eq!(env.protect(pg, RW, base, 4 * P), Ok(()));
    assert_eq!(env.protect(sub, RW, base + 4 * P, 4 * P), Ok(()));
    for i in 0..8 {
        assert_eq!(env.probe_write(base + i * P, 0x80 | i as u8), Ok(()));
    }
    assert_eq!(vmo_read(&env, vmo, 7 * P, 1).unwrap(), [0x87]);
}

both_arches!(
    step1_xom_fold,
    step2_handle_then_type_then_rights,
    steps3_to_6_before_bad_state,
    step6_length_rounding_and_range,
    step7_holes_not_found,
    step7_order_within_and_across_mappings,
    step7_nested_only_downgrades_every_range,
    atomic_when_last_mapping_fails,
    protect_needs_no_frames,
    perms_zero_keeps_pages,
    unfaulted_pages_take_new_permissions,
    tlb_invalidated,
);

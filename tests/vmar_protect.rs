//! `zx_vmar_protect`: ports of Zircon's `Protect*` cases (vmar.cc) and of
//! `NoPermMap`/`NoPermProtect` (vmo.cc), plus the suggested `ProtectToWrite`.
//! The SPEC §2 rules one by one are in `tests/protect_spec.rs`.
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

/// `ProtectTest`: a mapping's maximum is the VMO handle's rights AND the
/// VMAR handle's, fixed at map time; closing the VMO handle changes nothing.
fn protect_max_from_vmo_rights<A: Arch>() {
    let env = Env::<A>::new();
    let vmar = env.root_vmar;
    let vmo = exec_vmo(&env, P);
    let cases = [
        (ZX_RIGHT_READ, R),
        (ZX_RIGHT_READ | ZX_RIGHT_WRITE, RW),
        (ZX_RIGHT_READ | ZX_RIGHT_EXECUTE, RX),
    ];
    for (right, perm) in cases {
        let h = env.duplicate(vmo, right | ZX_RIGHT_MAP).unwrap();
        assert_eq!(
            env.vmar_map(vmar, RWX_MAP, 0, h, 0, P),
            Err(Status::AccessDenied)
        );
        let a = env.vmar_map(vmar, perm, 0, h, 0, P).unwrap();
        assert_eq!(env.protect(vmar, RWX_MAP, a, P), Err(Status::AccessDenied));
        env.close(h).unwrap();
        assert_eq!(env.protect(vmar, RWX_MAP, a, P), Err(Status::AccessDenied));
        // What the maximum allows still works after the close.
        assert_eq!(env.protect(vmar, perm, a, P), Ok(()));
        assert_eq!(env.unmap(vmar, a, P), Ok(()));
    }
}

/// `ProtectSubregionTest`: through a parent only downgrades, and only with
/// `OP_CHILDREN`; through the direct parent the maximum is what counts.
fn protect_subregion<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let (vmar, addr) = env.vmar_allocate(env.root_vmar, CAN_RW, 0, P).unwrap();
    let (child, child_addr) = env.vmar_allocate(vmar, CAN_RW, 0, P).unwrap();
    let m = env.vmar_map(child, RW, 0, vmo, 0, P).unwrap();
    assert_eq!((child_addr, m), (addr, addr));

    assert_eq!(env.protect(vmar, R, addr, P), Ok(()));
    assert_eq!(env.probe_write(m, 1), Err(Status::AccessDenied));
    assert_eq!(env.protect(vmar, RW, addr, P), Err(Status::AccessDenied));
    assert_eq!(env.probe_write(m, 1), Err(Status::AccessDenied));
    assert_eq!(env.protect(child, RW, child_addr, P), Ok(()));
    assert_eq!(env.probe_write(m, 1), Ok(()));

    let dup = env
        .duplicate(vmar, (rights(&env, vmar) - Rights::OP_CHILDREN).bits())
        .unwrap();
    assert_eq!(env.protect(dup, R, addr, P), Err(Status::InvalidArgs));
    assert_eq!(env.probe_write(m, 2), Ok(()), "nothing changed");
    assert_eq!(destroy(&env, vmar), Ok(()));
}

/// `ProtectSplitTest`, plus the check the upstream test leaves as a TODO:
/// the permissions of each page.
fn protect_split<A: Arch>() {
    let env = Env::<A>::new();
    let vmar = env.root_vmar;
    let vmo = env.vmo_create(4 * P, 0).unwrap();
    // (protected range in pages, expected writable pages)
    for (first, expect) in [
        (0, [false, false, true, true]),
        (2, [true, true, false, false]),
        (1, [true, false, false, true]),
    ] {
        let a = env.vmar_map(vmar, RW, 0, vmo, 0, 4 * P).unwrap();
        assert_eq!(env.protect(vmar, R, a + first * P, 2 * P), Ok(()));
        assert_eq!(pages_mapped(&env, a, 4), 0b1111);
        let w: Vec<bool> = (0..4).map(|i| writable(&env, a + i * P)).collect();
        assert_eq!(w, expect);
        assert_eq!(env.unmap(vmar, a, 4 * P), Ok(()));
        assert_eq!(pages_mapped(&env, a, 4), 0);
    }
}

/// The five `ProtectMultipleTest` variants; `M` = 4 pages.
fn protect_multiple<A: Arch>() {
    let env = Env::<A>::new();
    let m = 4 * P;
    let vmo = env.vmo_create(m, 0).unwrap();
    let vmo2 = env.duplicate(vmo, ZX_RIGHT_MAP | ZX_RIGHT_READ).unwrap();
    let spec = |perms| perms | ZX_VM_SPECIFIC;

    // 1. Three adjacent RW mappings.
    let (vmar, base) = playground(&env, 16 * m);
    for i in 0..3 {
        assert_eq!(
            env.vmar_map(vmar, spec(RW), i * m, vmo, 0, m),
            Ok(base + i * m)
        );
    }
    assert_eq!(env.protect(vmar, R, base + P, 3 * m - 2 * P), Ok(()));
    assert_eq!(pages_mapped(&env, base, 12), 0xfff);
    let w: Vec<bool> = (0..12).map(|i| writable(&env, base + i * P)).collect();
    assert_eq!(w, (0..12).map(|i| i == 0 || i == 11).collect::<Vec<_>>());
    assert_eq!(env.unmap(vmar, base, 3 * m), Ok(()));

    // 2. The middle one's maximum is R: RW is ACCESS_DENIED, nothing changes.
    env.vmar_map(vmar, spec(RW), 0, vmo, 0, m).unwrap();
    env.vmar_map(vmar, spec(R), m, vmo2, 0, m).unwrap();
    env.vmar_map(vmar, spec(RW), 2 * m, vmo, 0, m).unwrap();
    env.protect(vmar, R, base, P).unwrap();
    let before = access_map(&env, base, 12);
    assert_eq!(
        env.protect(vmar, RW, base + P, 3 * m - 2 * P),
        Err(Status::AccessDenied)
    );
    assert_eq!(access_map(&env, base, 12), before);
    assert_eq!(pages_mapped(&env, base, 12), 0xfff);
    assert_eq!(env.unmap(vmar, base, 3 * m), Ok(()));

    // 3. A gap: NOT_FOUND.
    env.vmar_map(vmar, spec(RW), 0, vmo, 0, m).unwrap();
    env.vmar_map(vmar, spec(RW), 2 * m, vmo, 0, m).unwrap();
    let before = access_map(&env, base, 12);
    assert_eq!(
        env.protect(vmar, R, base + P, 3 * m - 2 * P),
        Err(Status::NotFound)
    );
    assert_eq!(pages_mapped(&env, base, 12), 0b1111_0000_1111);
    assert_eq!(access_map(&env, base, 12), before);
    assert_eq!(env.unmap(vmar, base, 3 * m), Ok(()));

    // 4. An empty sub-VMAR in the middle is a hole.
    env.vmar_map(vmar, spec(RW), 0, vmo, 0, m).unwrap();
    let (sub, _) = env
        .vmar_allocate(vmar, CAN_RW | ZX_VM_SPECIFIC, m, m)
        .unwrap();
    env.vmar_map(vmar, spec(RW), 2 * m, vmo, 0, m).unwrap();
    let before = access_map(&env, base, 12);
    assert_eq!(
        env.protect(vmar, R, base + P, 3 * m - 2 * P),
        Err(Status::NotFound)
    );
    assert_eq!(access_map(&env, base, 12), before);
    assert_eq!(env.unmap(vmar, base, 3 * m), Ok(()));
    env.close(sub).unwrap();

    // 5. A filled sub-VMAR: a downgrade through the parent (the handle has
    // OP_CHILDREN) reaches into it.
    env.vmar_map(vmar, spec(RW), 0, vmo, 0, m).unwrap();
    let (sub, _) = env
        .vmar_allocate(vmar, CAN_RW | ZX_VM_SPECIFIC | ZX_VM_CAN_MAP_SPECIFIC, m, m)
        .unwrap();
    env.vmar_map(sub, spec(RW), 0, vmo, 0, m).unwrap();
    env.vmar_map(vmar, spec(RW), 2 * m, vmo, 0, m).unwrap();
    assert_eq!(env.protect(vmar, R, base + P, 3 * m - 2 * P), Ok(()));
    let w: Vec<bool> = (0..12).map(|i| writable(&env, base + i * P)).collect();
    assert_eq!(w, (0..12).map(|i| i == 0 || i == 11).collect::<Vec<_>>());
    assert_eq!(env.unmap(vmar, base, 3 * m), Ok(()));
    assert_eq!(pages_mapped(&env, base, 12), 0);
}

/// `ProtectOverDemandPagedTest`: pages never faulted in take the new
/// permissions too.
fn protect_over_demand_paged<A: Arch>() {
    let env = Env::<A>::new();
    let size = 100 * P;
    let vmo = env.vmo_create(size, 0).unwrap();
    let a = env.vmar_map(env.root_vmar, RW, 0, vmo, 0, size).unwrap();
    env.close(vmo).unwrap();
    env.cpu_write(a, &[5]).unwrap();
    env.cpu_write(a + size / 2, &[6]).unwrap();
    env.cpu_write(a + size - 1, &[7]).unwrap();
    assert_eq!(env.protect(env.root_vmar, R, a, size), Ok(()));
    for at in [a, a + size / 4, a + size / 2, a + size - 1] {
        assert_eq!(env.probe_write(at, 1), Err(Status::AccessDenied), "{at:#x}");
    }
    assert_eq!(env.probe_read(a + size / 2), Ok(6));
    assert_eq!(env.probe_read(a + size / 4), Ok(0));
    assert_eq!(env.unmap(env.root_vmar, a, size), Ok(()));
}

/// `ProtectLargeUncomittedTest`: a 1 GiB mapping with three pages touched;
/// protect from one page past a 2 MiB boundary to the end. Only the
/// touched pages have translations, so this is fast.
fn protect_large_uncommitted<A: Arch>() {
    let env = Env::<A>::new();
    let size = 1u64 << 30;
    let vmo = env.vmo_create(size, 0).unwrap();
    let a = env.vmar_map(env.root_vmar, RW, 0, vmo, 0, size).unwrap();
    env.close(vmo).unwrap();
    for at in [a, a + size / 2, a + size - 1] {
        env.cpu_write(at, &[1]).unwrap();
    }
    let frames = env.sim.frames_allocated();
    let base = (a + 512 * P).next_multiple_of(512 * P) + P;
    assert_eq!(env.protect(env.root_vmar, R, base, a + size - base), Ok(()));
    assert_eq!(
        env.sim.frames_allocated(),
        frames,
        "4 KiB pages: nothing to split"
    );
    assert_eq!(env.probe_write(a, 2), Ok(()));
    for at in [a + size / 4, a + size / 2, a + size - 1] {
        assert_eq!(env.probe_write(at, 2), Err(Status::AccessDenied), "{at:#x}");
    }
    assert_eq!(env.probe_read(a + size - 1), Ok(1));
    assert_eq!(env.unmap(env.root_vmar, a, size), Ok(()));
}

/// `ProtectCowWritable`: granting WRITE to a copy-on-write child's mapping
/// must go through a write fault that copies the page; the parent keeps its
/// data. Upstream uses `ZX_VMO_CHILD_SNAPSHOT`, as here; `tests/vmo_snapshot.rs`
/// does it from both sides.
fn protect_cow_writable<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(2 * P, 0).unwrap();
    vmo_write(&env, vmo, 0, &[42]).unwrap();
    let clone = create_child(&env, vmo, ZX_VMO_CHILD_SNAPSHOT, 0, 2 * P).unwrap();
    let a = env.vmar_map(env.root_vmar, RW, 0, clone, 0, 2 * P).unwrap();
    assert_eq!(env.protect(env.root_vmar, R, a, 2 * P), Ok(()));
    assert_eq!(env.probe_read(a), Ok(vmo_byte(&env, clone, 0)));
    assert_eq!(env.probe_read(a), Ok(42));
    assert_eq!(env.protect(env.root_vmar, RW, a, P), Ok(()));
    env.cpu_write(a, &[77]).unwrap();
    assert_eq!(vmo_byte(&env, vmo, 0), 42);
    assert_eq!(vmo_byte(&env, clone, 0), 77);
    assert_eq!(env.probe_read(a), Ok(77));
    // The second page is still read-only.
    assert_eq!(env.probe_write(a + P, 1), Err(Status::AccessDenied));
}

/// `ProtectReadIfXomUnsupported`.
fn protect_read_if_xom_unsupported<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = exec_vmo(&env, P);
    let a = env.vmar_map(env.root_vmar, RX, 0, vmo, 0, P).unwrap();
    assert_eq!(env.protect(env.root_vmar, 0, a, P), Ok(()));
    assert_eq!(env.probe_read(a), Err(Status::AccessDenied));
    assert_eq!(
        env.protect(
            env.root_vmar,
            ZX_VM_PERM_READ_IF_XOM_UNSUPPORTED | ZX_VM_PERM_EXECUTE,
            a,
            P
        ),
        Ok(())
    );
    assert_eq!(env.probe_read(a), Ok(0));
    assert_eq!(
        env.protect(env.root_vmar, ZX_VM_PERM_READ_IF_XOM_UNSUPPORTED, a, P),
        Ok(())
    );
    assert_eq!(env.probe_read(a), Ok(0));
}

/// `NoPermMap` (vmo.cc).
fn no_perm_map<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let p = env.vmar_map(env.root_vmar, R, 0, vmo, 0, P).unwrap();
    assert_eq!(env.protect(env.root_vmar, 0, p, P), Ok(()));
    assert_eq!(env.probe_read(p), Err(Status::AccessDenied));
    assert_eq!(env.probe_write(p, 1), Err(Status::AccessDenied));
    assert_eq!(env.unmap(env.root_vmar, p, P), Ok(()));
}

/// `NoPermProtect` (vmo.cc).
fn no_perm_protect<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let p = env.vmar_map(env.root_vmar, 0, 0, vmo, 0, P).unwrap();
    assert_eq!(env.probe_write(p, 1), Err(Status::AccessDenied));
    assert_eq!(env.probe_read(p), Err(Status::AccessDenied));
    assert_eq!(env.protect(env.root_vmar, R, p, P), Ok(()));
    assert_eq!(env.probe_write(p, 1), Err(Status::AccessDenied));
    assert_eq!(env.probe_read(p), Ok(0));
    assert_eq!(env.unmap(env.root_vmar, p, P), Ok(()));
}

/// `ProtectToWrite`: not in upstream's vmo.cc; the port suggested by the
/// research notes (SPEC §2 "Effects"): a write after protect to R faults,
/// protect back to RW makes writes work and the data is kept.
fn protect_to_write<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let p = env.vmar_map(env.root_vmar, RW, 0, vmo, 0, P).unwrap();
    env.cpu_write(p, b"X").unwrap();
    assert_eq!(env.protect(env.root_vmar, R, p, P), Ok(()));
    assert_eq!(env.probe_write(p, b'Z'), Err(Status::AccessDenied));
    assert_eq!(env.probe_read(p), Ok(b'X'));
    assert_eq!(env.protect(env.root_vmar, RW, p, P), Ok(()));
    env.cpu_write(p + 1, b"Y").unwrap();
    assert_eq!(vmo_read(&env, vmo, 0, 2).unwrap(), b"XY");
}

both_arches!(
    protect_max_from_vmo_rights,
    protect_subregion,
    protect_split,
    protect_multiple,
    protect_over_demand_paged,
    protect_large_uncommitted,
    protect_cow_writable,
    protect_read_if_xom_unsupported,
    no_perm_map,
    no_perm_protect,
    protect_to_write,
);

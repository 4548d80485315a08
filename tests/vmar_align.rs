//! Ports of Zircon's `zircon/system/utest/core/vmar/vmar.cc` cases about
//! alignment (`ZX_VM_ALIGN_*` for map and allocate), overmapping
//! (`SPECIFIC_OVERWRITE`) and read-if-no-XOM, on both architectures; the
//! other map/unmap/allocate/destroy cases are in `tests/vmar.rs`, with the
//! differences from upstream listed there.
#![cfg(feature = "sim")]

mod common;
mod vmhelp;

use common::Env;
use vmhelp::*;
use zx_subsystem::abi::*;
use zx_subsystem::arch::Arch;

/// `MapReadIfXomUnsupported`: neither architecture maps execute-only user
/// pages here, so the flag folds into `PERM_READ`.
fn map_read_if_xom_unsupported<A: Arch>() {
    assert!(!A::XOM_SUPPORTED);
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    vmo_write(&env, vmo, 0, &[3]).unwrap();
    let a = env
        .vmar_map(
            env.root_vmar,
            ZX_VM_PERM_READ_IF_XOM_UNSUPPORTED,
            0,
            vmo,
            0,
            P,
        )
        .unwrap();
    assert_eq!(env.probe_read(a), Ok(3));
    assert_eq!(env.probe_write(a, 1), Err(Status::AccessDenied));
    // With WRITE and without READ the fold makes the request valid.
    let b = env
        .vmar_map(
            env.root_vmar,
            ZX_VM_PERM_READ_IF_XOM_UNSUPPORTED | ZX_VM_PERM_WRITE,
            0,
            vmo,
            0,
            P,
        )
        .unwrap();
    assert_eq!(env.probe_write(b, 4), Ok(()));
    assert_eq!(env.probe_read(a), Ok(4));
}

/// `AlignmentVmarMapTest`.
fn alignment_map<A: Arch>() {
    let env = Env::<A>::new();
    let size = 2 * P;
    let vmo = env.vmo_create(size, 0).unwrap();
    // An 8 GiB sub-VMAR aligned to 8 GiB (MakeManualAlignedVmar).
    let vmar_size = 8u64 << 30;
    let (vmar, vmar_base) = env
        .vmar_allocate(
            env.root_vmar,
            CAN_RW | ZX_VM_CAN_MAP_SPECIFIC | ZX_VM_ALIGN_4GB,
            0,
            vmar_size,
        )
        .unwrap();
    assert_eq!(vmar_base % (4 << 30), 0);
    let spec = RW | ZX_VM_ALIGN_64KB | ZX_VM_SPECIFIC;
    assert_eq!(
        env.vmar_map(vmar, spec, 4096, vmo, 0, size),
        Err(Status::InvalidArgs)
    );
    let a = env.vmar_map(vmar, spec, 64 * 1024, vmo, 0, size).unwrap();
    assert_eq!(env.unmap(vmar, a, 64 * 1024), Ok(()));
    assert_eq!(
        env.vmar_map(vmar, RW | (9 << 24), 0, vmo, 0, size),
        Err(Status::InvalidArgs)
    );
    assert_eq!(
        env.vmar_map(vmar, RW | (33 << 24), 0, vmo, 0, size),
        Err(Status::InvalidArgs)
    );
    for log2 in 10..=32u32 {
        let a = env
            .vmar_map(vmar, RW | (log2 << ZX_VM_ALIGN_BASE), 0, vmo, 0, size)
            .unwrap();
        assert_ne!(a, 0);
        assert!(a.trailing_zeros() >= log2, "{a:#x} not aligned to 2^{log2}");
        env.cpu_write(a + 8, &0x1234321u64.to_ne_bytes()).unwrap();
        assert_eq!(env.unmap(vmar, a, size), Ok(()));
    }
    // An alignment no spot of a small VMAR can meet.
    let (small, small_base) = env
        .vmar_allocate(vmar, CAN_RW | ZX_VM_SPECIFIC, 64 * 1024, 64 * 1024)
        .unwrap();
    assert_ne!(small_base % (1 << 20), 0);
    assert_eq!(
        env.vmar_map(small, RW | ZX_VM_ALIGN_1MB, 0, vmo, 0, size),
        Err(Status::NoResources)
    );
    assert_eq!(destroy(&env, vmar), Ok(()));
}

/// `AlignmentVmarAllocateTest`.
fn alignment_allocate<A: Arch>() {
    let env = Env::<A>::new();
    let size = 16 * P;
    let (vmar, _) = env
        .vmar_allocate(
            env.root_vmar,
            CAN_RW | ZX_VM_CAN_MAP_SPECIFIC | ZX_VM_ALIGN_4GB,
            0,
            8u64 << 30,
        )
        .unwrap();
    let spec = CAN_RW | ZX_VM_ALIGN_64KB | ZX_VM_SPECIFIC;
    assert_eq!(
        env.vmar_allocate(vmar, spec, 4096, size),
        Err(Status::InvalidArgs)
    );
    let (h, _) = env.vmar_allocate(vmar, spec, 64 * 1024, size).unwrap();
    assert_eq!(destroy(&env, h), Ok(()));
    env.close(h).unwrap();
    assert_eq!(
        env.vmar_allocate(vmar, CAN_RW | (9 << 24), 0, size),
        Err(Status::InvalidArgs)
    );
    assert_eq!(
        env.vmar_allocate(vmar, CAN_RW | (33 << 24), 0, size),
        Err(Status::InvalidArgs)
    );
    for log2 in 10..=32u32 {
        let (h, a) = env
            .vmar_allocate(vmar, CAN_RW | (log2 << ZX_VM_ALIGN_BASE), 0, size)
            .unwrap();
        assert_ne!(a, 0);
        assert!(a.trailing_zeros() >= log2, "{a:#x} not aligned to 2^{log2}");
        assert_eq!(destroy(&env, h), Ok(()));
        env.close(h).unwrap();
    }
    assert_eq!(destroy(&env, vmar), Ok(()));
}

/// `OvermappingTest` and the `SPECIFIC_OVERWRITE` parts of
/// `MapSpecificOverwriteTest`.
fn overmapping<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(P, 0).unwrap();
    let vmo2 = env.vmo_create(4 * P, 0).unwrap();
    let (r0, r0_addr) = env
        .vmar_allocate(env.root_vmar, CAN_RW | ZX_VM_CAN_MAP_SPECIFIC, 0, 10 * P)
        .unwrap();
    let spec = RW | ZX_VM_SPECIFIC;
    let m = env.vmar_map(r0, spec, P, vmo, 0, 2 * P).unwrap();
    for len in [2 * P, P, 4 * P] {
        assert_eq!(
            env.vmar_map(r0, spec, m - r0_addr, vmo2, 0, len),
            Err(Status::AlreadyExists)
        );
    }
    assert_eq!(
        env.vmar_allocate(r0, CAN_RW | ZX_VM_SPECIFIC, m - r0_addr, P),
        Err(Status::AlreadyExists)
    );
    // SPECIFIC_OVERWRITE replaces the mapping.
    vmo_write(&env, vmo2, 0, &[2]).unwrap();
    let m2 = env
        .vmar_map(r0, RW | ZX_VM_SPECIFIC_OVERWRITE, m - r0_addr, vmo2, 0, P)
        .unwrap();
    assert_eq!(m2, m);
    assert_eq!(env.probe_read(m), Ok(2));
    assert_eq!(env.unmap(r0, r0_addr, 10 * P), Ok(()));

    let (r1, r1_addr) = env
        .vmar_allocate(r0, CAN_RW | ZX_VM_SPECIFIC, P, 2 * P)
        .unwrap();
    for len in [2 * P, P, 4 * P] {
        assert_eq!(
            env.vmar_map(r0, spec, r1_addr - r0_addr, vmo2, 0, len),
            Err(Status::AlreadyExists)
        );
    }
    // Overwrite never reaches into a sub-VMAR.
    assert_eq!(
        env.vmar_map(r0, RW | ZX_VM_SPECIFIC_OVERWRITE, 0, vmo2, 0, 4 * P),
        Err(Status::InvalidArgs)
    );
    assert_eq!(
        env.vmar_allocate(r0, CAN_RW | ZX_VM_SPECIFIC, r1_addr - r0_addr, P),
        Err(Status::AlreadyExists)
    );
    env.close(r1).unwrap();
}

both_arches!(
    map_read_if_xom_unsupported,
    alignment_map,
    alignment_allocate,
    overmapping,
);

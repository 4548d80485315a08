//! Regression tests for what the fuzzers and the model tests found (see
//! `fuzz/` and `tests/model_props.rs`). Each test names the finding.

mod common;

use common::Env;
use zx_subsystem::PAGE_SIZE;
use zx_subsystem::abi::*;
use zx_subsystem::arch::Arch;
use zx_subsystem::sim::model::driver::check_layout;

/// `zx_vmar_allocate` and `zx_vmar_map` with size 0 used to succeed and
/// file an empty node under the base of an existing child, replacing it in
/// the parent's child map: the child became unreachable (its translations
/// and its VMO reference leaked). Zircon returns `INVALID_ARGS`.
fn zero_size_allocate_and_map_are_invalid<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(PAGE_SIZE, 0).unwrap();
    let (sub, base) = env
        .vmar_allocate(
            env.root_vmar,
            ZX_VM_CAN_MAP_READ | ZX_VM_CAN_MAP_WRITE | ZX_VM_CAN_MAP_SPECIFIC,
            0,
            8 * PAGE_SIZE,
        )
        .unwrap();
    let a = env
        .vmar_map(sub, ZX_VM_PERM_READ | ZX_VM_SPECIFIC, 0, vmo, 0, PAGE_SIZE)
        .unwrap();
    assert_eq!(a, base);
    for options in [ZX_VM_SPECIFIC, 0] {
        assert_eq!(
            env.vmar_allocate(sub, options | ZX_VM_CAN_MAP_READ, 0, 0),
            Err(Status::InvalidArgs)
        );
        assert_eq!(
            env.vmar_map(sub, options | ZX_VM_PERM_READ, 0, vmo, 0, 0),
            Err(Status::InvalidArgs)
        );
    }
    assert_eq!(
        env.vmar_map(
            sub,
            ZX_VM_PERM_READ | ZX_VM_SPECIFIC_OVERWRITE,
            0,
            vmo,
            0,
            0
        ),
        Err(Status::InvalidArgs)
    );
    check_layout(&env.process.aspace().layout()).unwrap();
    // The first mapping is still there and still reachable.
    assert_eq!(env.probe_read(a), Ok(0));
    env.unmap(sub, a, PAGE_SIZE).unwrap();
    assert_eq!(env.probe_read(a), Err(Status::NotFound));
}

/// `SPECIFIC_OVERWRITE` with an unaligned offset into a VMAR without
/// `CAN_MAP_SPECIFIC` gave `ACCESS_DENIED`; a plain `SPECIFIC` map (and
/// Zircon, whose placement checks the offset's alignment first) gives
/// `INVALID_ARGS`. Found by the `vm_ops` fuzzer.
fn overwrite_checks_offset_alignment_before_can_map_specific<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(PAGE_SIZE, 0).unwrap();
    let (sub, _) = env
        .vmar_allocate(env.root_vmar, ZX_VM_CAN_MAP_READ, 0, 8 * PAGE_SIZE)
        .unwrap();
    for options in [ZX_VM_SPECIFIC, ZX_VM_SPECIFIC_OVERWRITE] {
        assert_eq!(
            env.vmar_map(sub, options, 0x66e6, vmo, 0, PAGE_SIZE),
            Err(Status::InvalidArgs),
            "{options:#x}"
        );
        assert_eq!(
            env.vmar_map(sub, options, PAGE_SIZE, vmo, 0, PAGE_SIZE),
            Err(Status::AccessDenied),
            "{options:#x}"
        );
    }
}

both_arches!(
    zero_size_allocate_and_map_are_invalid,
    overwrite_checks_offset_alignment_before_can_map_specific,
);

//! Regression tests for what the fuzzers and the model tests found (see
//! `fuzz/` and `tests/model_props.rs`). Each test names the finding.
#![cfg(feature = "sim")]

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

/// `OFFSET_IS_UPPER_LIMIT` with a length beyond the limit: the kernel says
/// `INVALID_ARGS` (as Zircon), the reference model used to predict
/// `NO_RESOURCES`. Found by the model property test in CI.
fn upper_limit_shorter_than_length_is_invalid<A: Arch>() {
    use zx_subsystem::sim::model::driver::{HandleRef, Op, run_ops};
    let env = Env::<A>::new();
    let vmo = env.vmo_create(4 * PAGE_SIZE, 0).unwrap();
    let (sub, base) = env
        .vmar_allocate(
            env.root_vmar,
            ZX_VM_CAN_MAP_READ | ZX_VM_CAN_MAP_SPECIFIC,
            0,
            16 * PAGE_SIZE,
        )
        .unwrap();
    let options = ZX_VM_PERM_READ_IF_XOM_UNSUPPORTED | ZX_VM_OFFSET_IS_UPPER_LIMIT;
    for limit in [0, 2 * PAGE_SIZE] {
        assert_eq!(
            env.vmar_map(sub, options, limit, vmo, 0, 3 * PAGE_SIZE),
            Err(Status::InvalidArgs),
            "limit {limit:#x}"
        );
    }
    // An unaligned limit is invalid too; one the length fits under is fine.
    assert_eq!(
        env.vmar_map(sub, options, 3 * PAGE_SIZE + 1, vmo, 0, PAGE_SIZE),
        Err(Status::InvalidArgs)
    );
    let a = env
        .vmar_map(sub, options, 8 * PAGE_SIZE, vmo, 0, 3 * PAGE_SIZE)
        .unwrap();
    assert!(
        base <= a && a + 3 * PAGE_SIZE <= base + 8 * PAGE_SIZE,
        "{a:#x}"
    );
    // The model agrees on the sequence CI shrank to.
    let ops = [
        Op::VmoCreate {
            size: 4 * PAGE_SIZE,
            options: 0,
        },
        Op::Map {
            vmar: HandleRef::Vmar(0),
            options: ZX_VM_PERM_READ_IF_XOM_UNSUPPORTED
                | ZX_VM_OFFSET_IS_UPPER_LIMIT
                | ZX_VM_MAP_RANGE,
            offset: 0,
            vmo: HandleRef::Vmo(0),
            vmo_offset: 0,
            len: 3 * PAGE_SIZE,
        },
    ];
    run_ops::<A>(&ops).unwrap();
}

/// `zx_vmar_allocate` with `CAN_MAP_SPECIFIC` in a parent without it is
/// allowed (Zircon's documentation says so; only R/W/X are bounded by the
/// parent). The kernel used to answer `ACCESS_DENIED`.
fn allocate_may_add_can_map_specific<A: Arch>() {
    let env = Env::<A>::new();
    let (sub, _) = env
        .vmar_allocate(env.root_vmar, ZX_VM_CAN_MAP_READ, 0, 16 * PAGE_SIZE)
        .unwrap();
    let (grand, base) = env
        .vmar_allocate(
            sub,
            ZX_VM_CAN_MAP_READ | ZX_VM_CAN_MAP_SPECIFIC,
            0,
            4 * PAGE_SIZE,
        )
        .unwrap();
    let vmo = env.vmo_create(PAGE_SIZE, 0).unwrap();
    assert_eq!(
        env.vmar_map(
            grand,
            ZX_VM_PERM_READ | ZX_VM_SPECIFIC,
            PAGE_SIZE,
            vmo,
            0,
            PAGE_SIZE
        ),
        Ok(base + PAGE_SIZE)
    );
    // The parent itself still refuses specific placement.
    assert_eq!(
        env.vmar_allocate(
            sub,
            ZX_VM_CAN_MAP_READ | ZX_VM_SPECIFIC,
            8 * PAGE_SIZE,
            PAGE_SIZE
        ),
        Err(Status::AccessDenied)
    );
    // R/W/X stay bounded by the parent.
    assert_eq!(
        env.vmar_allocate(sub, ZX_VM_CAN_MAP_WRITE, 0, PAGE_SIZE),
        Err(Status::AccessDenied)
    );
}

both_arches!(
    zero_size_allocate_and_map_are_invalid,
    overwrite_checks_offset_alignment_before_can_map_specific,
    upper_limit_shorter_than_length_is_invalid,
    allocate_may_add_can_map_specific,
);

//! Property tests: random operation sequences run on the kernel and on the
//! reference model (`zx_subsystem::sim::model`) side by side, both arches,
//! with every invariant checked after each step and a leak check at the
//! end. Failing sequences shrink to a minimal one. Two generators: the
//! broad one (`ops_gen::op`, every syscall and odd argument) and a
//! snapshot-heavy one (`ops_gen::snapshot_op`: VMO trees with mapped
//! snapshots written and read from every side, closed and resized), and
//! two shapes: an ordinary process and a shared process's restricted
//! region seen through both of its roots.
#![cfg(feature = "sim")]

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use zx_subsystem::arch::Arch;
use zx_subsystem::sim::model::driver::{Op, Shape, run_ops_in};
use zx_subsystem::sim::model::ops_gen::{RawOp, op, snapshot_op};

fn raw_op() -> impl Strategy<Value = RawOp> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(|(kind, h1, h2, flags, x, y, z)| RawOp {
            kind,
            h1,
            h2,
            flags,
            x,
            y,
            z,
        })
}

fn model_matches<A: Arch>(shape: Shape, generate: fn(RawOp) -> Op, len: std::ops::Range<usize>) {
    let cases = std::env::var("MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    // Locally every run draws a new seed (set `PROPTEST_RNG_SEED` to replay
    // one); under CI the seed is fixed so a landing run is reproducible.
    let mut config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    if std::env::var_os("CI").is_some() && std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x7a78_5f76_6d61_7231);
    }
    let mut runner = TestRunner::new(config);
    let result = runner.run(&prop::collection::vec(raw_op(), len), |raws| {
        let ops: Vec<_> = raws.into_iter().map(generate).collect();
        run_ops_in::<A>(shape, &ops).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{} ({shape:?}): {e}", A::NAME);
    }
}

#[test]
fn x86_64_kernel_matches_model() {
    model_matches::<zx_subsystem::arch::X86_64>(Shape::Plain, op, 1..60);
}

#[test]
fn aarch64_kernel_matches_model() {
    model_matches::<zx_subsystem::arch::Aarch64>(Shape::Plain, op, 1..60);
}

/// The same sequences in the restricted region of a shared process, seen
/// through both of its roots.
#[test]
fn x86_64_shared_process_matches_model() {
    model_matches::<zx_subsystem::arch::X86_64>(Shape::Member, op, 1..60);
}

#[test]
fn aarch64_shared_process_matches_model() {
    model_matches::<zx_subsystem::arch::Aarch64>(Shape::Member, op, 1..60);
}

#[test]
fn x86_64_snapshots_match_model() {
    model_matches::<zx_subsystem::arch::X86_64>(Shape::Plain, snapshot_op, 1..120);
}

#[test]
fn aarch64_snapshots_match_model() {
    model_matches::<zx_subsystem::arch::Aarch64>(Shape::Plain, snapshot_op, 1..120);
}

/// Snapshots in a shared process's restricted region.
#[test]
fn x86_64_shared_snapshots_match_model() {
    model_matches::<zx_subsystem::arch::X86_64>(Shape::Member, snapshot_op, 1..120);
}

#[test]
fn basic_sequence_matches() {
    use zx_subsystem::abi::*;
    use zx_subsystem::sim::model::driver::{AddrRef, HandleRef, Harness, Op};
    use zx_subsystem::trap::Access;
    let mut h = Harness::<zx_subsystem::arch::X86_64>::new();
    let p = zx_subsystem::PAGE_SIZE;
    let ops = [
        Op::VmoCreate {
            size: 4 * p,
            options: 0,
        },
        Op::Map {
            vmar: HandleRef::Vmar(0),
            options: ZX_VM_PERM_READ | ZX_VM_PERM_WRITE | ZX_VM_SPECIFIC,
            offset: 2 * p,
            vmo: HandleRef::Vmo(0),
            vmo_offset: 0,
            len: 4 * p,
        },
        Op::Touch {
            addr: AddrRef::Page(3, 5),
            access: Access::Write,
            value: 9,
        },
        Op::Protect {
            vmar: HandleRef::Vmar(0),
            options: ZX_VM_PERM_READ,
            addr: AddrRef::Page(2, 0),
            len: 2 * p,
        },
        Op::Touch {
            addr: AddrRef::Page(3, 5),
            access: Access::Write,
            value: 9,
        },
        Op::Touch {
            addr: AddrRef::Page(3, 5),
            access: Access::Read,
            value: 0,
        },
        Op::Unmap {
            vmar: HandleRef::Vmar(0),
            addr: AddrRef::Page(3, 0),
            len: p,
        },
    ];
    for op in &ops {
        h.step(op).unwrap();
    }
    println!("{:?}", h.outcomes);
    h.finish().unwrap();
}

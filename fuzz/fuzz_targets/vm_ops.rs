//! Sequences of VMO/VMAR/handle operations and user accesses on a small
//! address window, compared step by step with the reference model
//! (`zx_subsystem::sim::model`), with the kernel's invariants checked after
//! every step and a leak check after teardown. Both arches.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use zx_subsystem::arch::{Aarch64, X86_64};
use zx_subsystem::sim::model::driver::{Shape, run_ops_in};
use zx_subsystem::sim::model::ops_gen::{RawOp, op, snapshot_op};

/// One operation's raw material; `ops_gen::op` biases it toward live
/// handles, mapped pages and mostly-valid options.
#[derive(Arbitrary, Debug)]
struct FuzzOp {
    kind: u8,
    h1: u8,
    h2: u8,
    flags: u32,
    x: u64,
    y: u64,
    z: u64,
}

#[derive(Arbitrary, Debug)]
struct Input {
    aarch64: bool,
    /// The window in a shared process's restricted region (both roots
    /// checked) instead of an ordinary process.
    shared: bool,
    /// `ops_gen::snapshot_op` instead of `ops_gen::op`.
    snapshots: bool,
    ops: Vec<FuzzOp>,
}

fuzz_target!(|input: Input| {
    let generate = if input.snapshots { snapshot_op } else { op };
    let ops: Vec<_> = input
        .ops
        .iter()
        .take(128)
        .map(|o| {
            generate(RawOp {
                kind: o.kind,
                h1: o.h1,
                h2: o.h2,
                flags: o.flags,
                x: o.x,
                y: o.y,
                z: o.z,
            })
        })
        .collect();
    let shape = if input.shared {
        Shape::Member
    } else {
        Shape::Plain
    };
    let result = if input.aarch64 {
        run_ops_in::<Aarch64>(shape, &ops)
    } else {
        run_ops_in::<X86_64>(shape, &ops)
    };
    if let Err(e) = result {
        panic!("kernel and model disagree: {e}\nops: {ops:#x?}");
    }
});

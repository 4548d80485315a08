//! `NO_MEMORY` from the heap changes nothing: every fallible heap
//! reservation an operation makes is failed in turn
//! (`Sim::fail_heap_after`), and each failure must come back as
//! `NO_MEMORY` with the VMAR tree, the frames and the handles
//! as they were; past the last reservation the operation succeeds. The
//! frame-exhaustion counterpart is in the protect, page-table and snapshot
//! tests.
#![cfg(feature = "sim")]

mod common;

use common::Env;
use zx_subsystem::PAGE_SIZE;
use zx_subsystem::abi::*;
use zx_subsystem::arch::Arch;
use zx_subsystem::object::KernelObject;
use zx_subsystem::sim::Sim;
use zx_subsystem::syscall::SyscallNumber;
use zx_subsystem::vm::inspect::Layout;

const P: u64 = PAGE_SIZE;
const RW: u32 = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE;

/// What a failed operation must leave as it found it.
#[derive(Debug, PartialEq)]
struct State {
    layout: Layout,
    frames: usize,
    handles: usize,
}

fn state<A: Arch>(env: &Env<A>) -> State {
    State {
        layout: env.process.aspace().layout(),
        frames: env.sim.frames_allocated(),
        handles: env.process.with_handles(|t| t.len()),
    }
}

/// Sweeps `op` over every fallible heap reservation it makes, each run on
/// a fresh environment prepared by `setup(env, m)`, for `m` in `0..FILL`:
/// `m` more objects of the kind `op` makes first, so that for some `m`
/// the collection it grows is exactly full (a reservation the spare
/// capacity covers cannot fail). Returns the most reservations seen.
fn sweep<A: Arch, T>(
    name: &str,
    setup: impl Fn(&Env<A>, usize) -> T,
    op: impl Fn(&Env<A>, &T) -> Result<(), Status>,
) -> u64 {
    (0..FILL)
        .map(|m| sweep_one(name, |env| setup(env, m), &op))
        .max()
        .unwrap_or(0)
}

/// How many extra objects the sweeps try before the operation.
const FILL: usize = 9;

fn sweep_one<A: Arch, T>(
    name: &str,
    setup: impl Fn(&Env<A>) -> T,
    op: &impl Fn(&Env<A>, &T) -> Result<(), Status>,
) -> u64 {
    for k in 0..200 {
        let env = Env::<A>::new();
        let t = setup(&env);
        let before = state(&env);
        Sim::<A>::fail_heap_after(Some(k));
        let r = op(&env, &t);
        let fired = Sim::<A>::heap_failure_fired();
        Sim::<A>::fail_heap_after(None);
        if !fired {
            assert_eq!(r, Ok(()), "{name}: with every reservation granted");
            return k;
        }
        // A reservation with a fallback (a flush instead of a retired
        // list) may fail without failing the operation.
        if r.is_err() {
            assert_eq!(r, Err(Status::NoMemory), "{name}: reservation {k}");
            assert_eq!(state(&env), before, "{name}: reservation {k} changed state");
        }
    }
    panic!("{name}: more than 200 reservations");
}

fn map_setup<A: Arch>(env: &Env<A>) -> zx_handle_t {
    env.vmo_create(16 * P, 0).unwrap()
}

/// A VMO mapped 16 pages read-write, after `m` one-page mappings.
fn mapped<A: Arch>(env: &Env<A>, m: usize) -> (zx_handle_t, u64) {
    let vmo = map_setup(env);
    for _ in 0..m {
        env.vmar_map(env.root_vmar, RW, 0, vmo, 0, P).unwrap();
    }
    (
        vmo,
        env.vmar_map(env.root_vmar, RW, 0, vmo, 0, 16 * P).unwrap(),
    )
}

fn every_fallible_reservation_fails_cleanly<A: Arch>() {
    let mut counts = Vec::new();
    counts.push(sweep::<A, _>(
        "vmar_map",
        |env, m| mapped(env, m).0,
        |env, &vmo| env.vmar_map(env.root_vmar, RW, 0, vmo, 0, 16 * P).map(drop),
    ));
    counts.push(sweep::<A, _>(
        "vmar_protect (splits a mapping)",
        |env, m| mapped(env, m).1,
        |env, &a| env.protect(env.root_vmar, ZX_VM_PERM_READ, a + 4 * P, 2 * P),
    ));
    counts.push(sweep::<A, _>(
        "vmar_unmap (splits a mapping)",
        |env, m| mapped(env, m).1,
        |env, &a| env.unmap(env.root_vmar, a + 4 * P, 2 * P),
    ));
    let sub_opts = ZX_VM_CAN_MAP_READ | ZX_VM_CAN_MAP_WRITE;
    counts.push(sweep::<A, _>(
        "vmar_allocate",
        |env, m| {
            for _ in 0..m {
                env.vmar_allocate(env.root_vmar, sub_opts, 0, P).unwrap();
            }
        },
        |env, ()| {
            env.vmar_allocate(env.root_vmar, sub_opts, 0, 16 * P)
                .map(drop)
        },
    ));
    counts.push(sweep::<A, _>(
        "handle_duplicate",
        |env, m| {
            for _ in 0..m {
                env.duplicate(env.root_vmar, ZX_RIGHT_SAME_RIGHTS).unwrap();
            }
        },
        |env, ()| env.duplicate(env.root_vmar, ZX_RIGHT_SAME_RIGHTS).map(drop),
    ));
    counts.push(sweep::<A, _>(
        "vmo_create_child (snapshot)",
        |env, m| {
            let (vmo, a) = mapped(env, m);
            env.cpu_write(a, &[1]).unwrap();
            vmo
        },
        |env, &vmo| {
            env.call_ok(
                SyscallNumber::VmoCreateChild,
                &[
                    vmo as u64,
                    ZX_VMO_CHILD_SNAPSHOT as u64,
                    0,
                    16 * P,
                    env.out(1),
                ],
            )
        },
    ));
    let thread_create = |env: &Env<A>, proc: zx_handle_t| {
        let name = env.scratch + 3 * P;
        env.call_ok(
            SyscallNumber::ThreadCreate,
            &[proc as u64, name, 0, 0, env.out(1)],
        )
    };
    counts.push(sweep::<A, _>(
        "thread_create",
        |env, m| {
            let rights = Rights::DEFAULT_PROCESS;
            let proc = env
                .process
                .add_handle(KernelObject::Process(env.process.clone()), rights);
            let proc = proc.unwrap();
            for _ in 0..m {
                thread_create(env, proc).unwrap();
            }
            proc
        },
        |env, &proc| thread_create(env, proc),
    ));
    counts.push(sweep::<A, _>(
        "restricted_bind_state",
        |_, _| (),
        |env, ()| env.call_ok(SyscallNumber::RestrictedBindState, &[0, env.out(1)]),
    ));
    // Every operation grows some collection fallibly before its first
    // change (for one of the fills): the sweep reached each.
    assert!(
        counts.iter().all(|&c| c > 0),
        "reservations per operation: {counts:?}"
    );
}

both_arches!(every_fallible_reservation_fails_cleanly);

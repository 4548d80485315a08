//! Blocking and dying (issue "Tasks"), both arches: `zx_object_wait_one`,
//! futexes, `zx_nanosleep`, `zx_clock_get_monotonic` and `zx_task_kill`
//! through `Kernel::syscall`, every error in Zircon's order, the blocking
//! contract (`Outcome::Blocked`, `Kernel::park`, `Platform::wake`,
//! `Kernel::boundary`), wakes before the park, time-outs on the sim's fake
//! clock, and wait/wake races on real host threads (kills and leaks:
//! `tests/wait_kill.rs`).
#![cfg(feature = "sim")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::host::{Host, status};
use common::waitenv::W;
use zx_subsystem::abi::*;
use zx_subsystem::object::wait::Park;
use zx_subsystem::object::{ProcessState, ThreadState};
use zx_subsystem::sim::cpu::SimArch;
use zx_subsystem::syscall::SyscallNumber as Sys;
use zx_subsystem::{Outcome, PAGE_SIZE};

fn wait_one_checks_and_polls<A: SimArch>() {
    let w = W::<A>::new();
    let mut t = w.host.task(&w.env.thread);
    let obs = w.env.out(5);
    let wait = |t: &mut _, h: u64, deadline: i64, obs: u64| {
        status(w.host.syscall(
            t,
            Sys::ObjectWaitOne,
            &[h, ZX_TASK_TERMINATED as u64, deadline as u64, obs],
        ))
    };
    assert_eq!(wait(&mut t, 0x77, 0, obs), Status::BadHandle);
    let (child, ch) = w.child();
    let no_wait = w
        .env
        .duplicate(ch, (Rights::DEFAULT_PROCESS - Rights::WAIT).bits())
        .unwrap();
    assert_eq!(wait(&mut t, no_wait.into(), 0, obs), Status::AccessDenied);
    let vmo = w.env.vmo_create(PAGE_SIZE, 0).unwrap();
    assert_eq!(wait(&mut t, vmo.into(), 0, obs), Status::NotSupported);
    // Deadline 0 polls: TIMED_OUT, observed written (nothing raised).
    w.env.write_bytes(obs, &[0xff; 4]);
    assert_eq!(wait(&mut t, ch.into(), 0, obs), Status::TimedOut);
    assert_eq!(w.env.read_u32(obs), 0);
    // A bad observed pointer: INVALID_ARGS.
    assert_eq!(wait(&mut t, ch.into(), 0, 0x10), Status::InvalidArgs);
    // Dead: satisfied at once, observed = TERMINATED.
    child.terminate();
    assert_eq!(wait(&mut t, ch.into(), ZX_TIME_INFINITE, obs), Status::Ok);
    assert_eq!(w.env.read_u32(obs), ZX_TASK_TERMINATED);
}

fn wait_one_blocks_until_the_process_dies<A: SimArch>() {
    let w = W::<A>::new();
    let (child, ch) = w.child();
    let ct = child.create_thread(5).unwrap();
    let mut t = w.host.task(&w.env.thread);
    let obs = w.env.out(5);
    let o = w.host.syscall(
        &mut t,
        Sys::ObjectWaitOne,
        &[
            ch.into(),
            ZX_TASK_TERMINATED.into(),
            ZX_TIME_INFINITE as u64,
            obs,
        ],
    );
    assert!(
        matches!(o, Outcome::Blocked(b) if b.deadline.is_infinite()),
        "{o:?}"
    );
    assert_eq!(w.env.kernel.park(&w.env.thread), Park::Parked);
    assert!(w.env.sim.take_woken().is_empty());
    // The child's last thread exits: the waiter is woken.
    ct.exit();
    assert_eq!(child.state(), ProcessState::Dead);
    let woken = w.env.sim.take_woken();
    assert_eq!(
        woken.iter().map(|t| t.koid).collect::<Vec<_>>(),
        vec![w.env.thread.koid()]
    );
    assert_eq!(
        status(w.env.kernel.boundary(&w.env.thread, &mut t.ctx)),
        Status::Ok
    );
    assert_eq!(A::syscall_status(&t.ctx), 0);
    assert_eq!(w.env.read_u32(obs), ZX_TASK_TERMINATED);
}

fn a_wake_before_the_park_is_not_lost<A: SimArch>() {
    let w = W::<A>::new();
    let (child, ch) = w.child();
    let ct = child.create_thread(5).unwrap();
    let mut t = w.host.task(&w.env.thread);
    let o = w.host.syscall(
        &mut t,
        Sys::ObjectWaitOne,
        &[
            ch.into(),
            ZX_TASK_TERMINATED.into(),
            ZX_TIME_INFINITE as u64,
            0,
        ],
    );
    assert!(matches!(o, Outcome::Blocked(_)));
    // The signal comes before the host parks the thread: no wake call
    // (nothing was parked), and the park says so.
    ct.exit();
    assert!(w.env.sim.take_woken().is_empty());
    assert_eq!(w.env.kernel.park(&w.env.thread), Park::Woken);
    assert_eq!(
        status(w.env.kernel.boundary(&w.env.thread, &mut t.ctx)),
        Status::Ok
    );
}

fn waits_time_out_on_the_clock<A: SimArch>() {
    let w = W::<A>::new();
    let (_child, ch) = w.child();
    w.env.sim.set_now(1_000);
    let mut t = w.host.task(&w.env.thread);
    let obs = w.env.out(5);
    w.env.write_bytes(obs, &[0xff; 4]);
    let o = w.host.syscall(
        &mut t,
        Sys::ObjectWaitOne,
        &[ch.into(), ZX_TASK_TERMINATED.into(), 1_500, obs],
    );
    assert!(matches!(o, Outcome::Blocked(b) if b.deadline.ns() == 1_500));
    assert_eq!(w.env.kernel.park(&w.env.thread), Park::Parked);
    // Resumed early (a spurious or early timer): blocks again.
    w.env.sim.advance(200);
    let o = w.env.kernel.boundary(&w.env.thread, &mut t.ctx);
    assert!(
        matches!(o, Outcome::Blocked(b) if b.deadline.ns() == 1_500),
        "{o:?}"
    );
    assert_eq!(w.env.kernel.park(&w.env.thread), Park::Parked);
    w.env.sim.advance(300);
    assert_eq!(
        status(w.env.kernel.boundary(&w.env.thread, &mut t.ctx)),
        Status::TimedOut
    );
    assert_eq!(w.env.read_u32(obs), 0, "observed written on time-out");
    // Past deadlines do not block.
    assert_eq!(
        status(w.host.syscall(
            &mut t,
            Sys::ObjectWaitOne,
            &[
                ch.into(),
                ZX_TASK_TERMINATED.into(),
                ZX_TIME_INFINITE_PAST as u64,
                0
            ]
        )),
        Status::TimedOut
    );
}

fn futex_wait_checks_in_zircons_order<A: SimArch>() {
    let w = W::<A>::new();
    let mut t = w.host.task(&w.env.thread);
    let word = w.env.out(10);
    w.env.write_bytes(word, &7i32.to_ne_bytes());
    let wait = |t: &mut _, ptr: u64, value: u64, owner: u64, deadline: i64| {
        status(
            w.host
                .syscall(t, Sys::FutexWait, &[ptr, value, owner, deadline as u64]),
        )
    };
    assert_eq!(wait(&mut t, 0, 7, 0, 0), Status::InvalidArgs);
    assert_eq!(wait(&mut t, word + 2, 7, 0, 0), Status::InvalidArgs);
    // Unmapped: the read fails.
    assert_eq!(wait(&mut t, 0x1000, 7, 0, 0), Status::InvalidArgs);
    // The value check comes before the owner's.
    assert_eq!(wait(&mut t, word, 8, 0x77, 0), Status::BadState);
    assert_eq!(wait(&mut t, word, 7, 0x77, 0), Status::BadHandle);
    let vmo = w.env.vmo_create(PAGE_SIZE, 0).unwrap();
    assert_eq!(wait(&mut t, word, 7, vmo.into(), 0), Status::WrongType);
    let me = w.thread_handle(&w.env.thread);
    assert_eq!(wait(&mut t, word, 7, me.into(), 0), Status::InvalidArgs);
    // A past deadline: TIMED_OUT, nothing left queued.
    assert_eq!(wait(&mut t, word, 7, 0, 0), Status::TimedOut);
    assert_eq!(w.env.process.futexes().waiters(word), 0);
    // Only the low 32 bits of the value count.
    assert_eq!(wait(&mut t, word, 7 | (1 << 40), 0, 0), Status::TimedOut);
}

fn futex_wake_and_requeue<A: SimArch>() {
    let w = W::<A>::new();
    let (a, b) = (
        w.env.thread.clone(),
        w.env.process.create_thread(8).unwrap(),
    );
    let c = w.env.process.create_thread(9).unwrap();
    let (f1, f2) = (w.env.out(10), w.env.out(11));
    let waker = w.env.process.create_thread(10).unwrap();
    let mut tw = w.host.task(&waker);
    let mut tasks: Vec<_> = [&a, &b, &c].into_iter().map(|t| w.host.task(t)).collect();
    for t in tasks.iter_mut() {
        let o = w
            .host
            .syscall(t, Sys::FutexWait, &[f1, 0, 0, ZX_TIME_INFINITE as u64]);
        assert!(matches!(o, Outcome::Blocked(_)));
        assert_eq!(w.env.kernel.park(&t.thread), Park::Parked);
    }
    assert_eq!(w.env.process.futexes().waiters(f1), 3);
    // Requeue: misaligned, same futex, wrong value.
    let rq = |t: &mut _, wake: u64, value: u64, to: u64, count: u64| {
        status(
            w.host
                .syscall(t, Sys::FutexRequeue, &[f1, wake, value, to, count, 0]),
        )
    };
    assert_eq!(rq(&mut tw, 1, 0, f2 + 1, 1), Status::InvalidArgs);
    assert_eq!(rq(&mut tw, 1, 0, f1, 1), Status::InvalidArgs);
    assert_eq!(rq(&mut tw, 1, 5, f2, 1), Status::BadState);
    // Wake one (the first in), move one to f2, one stays.
    assert_eq!(rq(&mut tw, 1, 0, f2, 1), Status::Ok);
    let woken: Vec<u64> = w.env.sim.take_woken().iter().map(|t| t.koid).collect();
    assert_eq!(woken, vec![a.koid()]);
    assert_eq!(w.env.process.futexes().waiters(f1), 1);
    assert_eq!(w.env.process.futexes().waiters(f2), 1);
    // Wake on f2 wakes the moved one; a wake of 0 wakes nobody.
    assert_eq!(
        status(w.host.syscall(&mut tw, Sys::FutexWake, &[f1, 0])),
        Status::Ok
    );
    assert!(w.env.sim.take_woken().is_empty());
    assert_eq!(
        status(
            w.host
                .syscall(&mut tw, Sys::FutexWake, &[f2, u32::MAX.into()])
        ),
        Status::Ok
    );
    assert_eq!(
        w.env
            .sim
            .take_woken()
            .iter()
            .map(|t| t.koid)
            .collect::<Vec<_>>(),
        vec![b.koid()]
    );
    assert_eq!(
        status(w.host.syscall(&mut tw, Sys::FutexWake, &[f1 + 1, 1])),
        Status::InvalidArgs
    );
    for t in tasks.iter_mut().take(2) {
        assert_eq!(
            status(w.env.kernel.boundary(&t.thread, &mut t.ctx)),
            Status::Ok
        );
    }
    // The last waiter is still parked; kill it: woken, then reaped.
    c.kill();
    assert_eq!(
        w.env
            .sim
            .take_woken()
            .iter()
            .map(|t| t.koid)
            .collect::<Vec<_>>(),
        vec![c.koid()]
    );
    let tc = &mut tasks[2];
    assert_eq!(
        w.env.kernel.boundary(&tc.thread, &mut tc.ctx),
        Outcome::ThreadExited
    );
    assert_eq!(c.state(), ThreadState::Dead);
    assert_eq!(w.env.process.futexes().waiters(f1), 0);
}

fn a_sharing_group_shares_its_futexes<A: SimArch>() {
    let g = common::group::Group::<A>::new();
    let (a, b) = (g.member(), g.member());
    let host = Host::new(g.sim.clone(), g.kernel.clone());
    let word = g.out(20);
    let mut ta = host.task(&a.thread);
    let o = host.syscall(
        &mut ta,
        Sys::FutexWait,
        &[word, 0, 0, ZX_TIME_INFINITE as u64],
    );
    assert!(matches!(o, Outcome::Blocked(_)));
    assert_eq!(g.kernel.park(&a.thread), Park::Parked);
    let mut tb = host.task(&b.thread);
    assert_eq!(
        status(host.syscall(&mut tb, Sys::FutexWake, &[word, 1])),
        Status::Ok
    );
    assert!(host.take_wake(a.thread.koid()));
    assert_eq!(
        status(g.kernel.boundary(&a.thread, &mut ta.ctx)),
        Status::Ok
    );
    assert!(Arc::ptr_eq(a.process.futexes(), b.process.futexes()));
}

fn nanosleep_and_the_clock<A: SimArch>() {
    let w = W::<A>::new();
    let mut t = w.host.task(&w.env.thread);
    w.env.sim.set_now(10_000);
    assert_eq!(
        w.host.syscall(&mut t, Sys::ClockGetMonotonic, &[]),
        Outcome::ReturnedValue(10_000)
    );
    assert_eq!(A::syscall_status(&t.ctx) as u32 as u64, 10_000);
    // Past: returns at once.
    assert_eq!(
        status(w.host.syscall(&mut t, Sys::Nanosleep, &[5])),
        Status::Ok
    );
    let o = w.host.syscall(&mut t, Sys::Nanosleep, &[12_000]);
    assert!(matches!(o, Outcome::Blocked(b) if b.deadline.ns() == 12_000));
    assert_eq!(w.env.kernel.park(&w.env.thread), Park::Parked);
    w.env.sim.advance(2_000);
    assert_eq!(
        status(w.env.kernel.boundary(&w.env.thread, &mut t.ctx)),
        Status::Ok
    );
    // Through syscall_raw a blocking call cannot block.
    let mut args = [0u64; 8];
    args[0] = 1 << 40;
    assert_eq!(
        w.env
            .kernel
            .syscall_raw(&w.env.thread, Sys::Nanosleep as u64, args),
        Status::NotSupported.into_raw()
    );
}

/// Two host threads ping-pong through one futex word: each waits while it
/// is not its turn and wakes the other after passing the turn. A lost wake
/// hangs one of them (the wait's host limit turns that into a failure).
fn ping_pong_on_host_threads<A: SimArch>() {
    let w = Arc::new(W::<A>::new());
    let word = w.env.out(40);
    w.env.write_bytes(word, &0i32.to_ne_bytes());
    let second = w.env.process.create_thread(12).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    const ROUNDS: i32 = 400;
    let play = move |w: Arc<W<A>>,
                     thread: Arc<zx_subsystem::object::Thread<zx_subsystem::sim::Sim<A>>>,
                     me: i32| {
        let mut t = w.host.task(&thread);
        for _ in 0..ROUNDS {
            loop {
                let mut b = [0u8; 4];
                w.env.process.aspace().copy_from_user(word, &mut b).unwrap();
                if i32::from_ne_bytes(b) == me {
                    break;
                }
                let mut o = w.host.syscall(
                    &mut t,
                    Sys::FutexWait,
                    &[word, (1 - me) as u64, 0, ZX_TIME_INFINITE as u64],
                );
                while let Outcome::Blocked(_) = o {
                    o = w.host.park_and_resume(&mut t, Duration::from_secs(30));
                }
                let s = status(o);
                assert!(s == Status::Ok || s == Status::BadState, "{s:?}");
            }
            w.env
                .process
                .aspace()
                .copy_to_user(word, &(1 - me).to_ne_bytes())
                .unwrap();
            assert_eq!(
                status(w.host.syscall(&mut t, Sys::FutexWake, &[word, 1])),
                Status::Ok
            );
        }
    };
    let (w1, w2) = (w.clone(), w.clone());
    let (t1, t2) = (w.env.thread.clone(), second.clone());
    let a = std::thread::spawn(move || play(w1, t1, 0));
    let b = std::thread::spawn(move || play(w2, t2, 1));
    a.join().unwrap();
    b.join().unwrap();
    done.store(true, Ordering::SeqCst);
    assert_eq!(w.env.process.futexes().waiters(word), 0);
}

both_arches!(
    wait_one_checks_and_polls,
    wait_one_blocks_until_the_process_dies,
    a_wake_before_the_park_is_not_lost,
    waits_time_out_on_the_clock,
    futex_wait_checks_in_zircons_order,
    futex_wake_and_requeue,
    a_sharing_group_shares_its_futexes,
    nanosleep_and_the_clock,
    ping_pong_on_host_threads,
);

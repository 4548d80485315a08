//! Blocking and dying (issue "Tasks"), both arches: `zx_object_wait_one`,
//! futexes, `zx_nanosleep`, `zx_clock_get_monotonic` and `zx_task_kill`
//! through `Kernel::syscall`, every error in Zircon's order, the blocking
//! contract (`Outcome::Blocked`, `Kernel::park`, `Platform::wake`,
//! `Kernel::boundary`), wakes before the park, time-outs on the sim's fake
//! clock, kills of blocked and restricted threads, no leaks; and wait/wake
//! races on real host threads.
#![cfg(feature = "sim")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::Env;
use common::host::{Host, status};
use zx_subsystem::abi::*;
use zx_subsystem::object::wait::Park;
use zx_subsystem::object::{KernelObject, ProcessState, ThreadState};
use zx_subsystem::sim::cpu::SimArch;
use zx_subsystem::syscall::SyscallNumber as Sys;
use zx_subsystem::{Outcome, PAGE_SIZE};

struct W<A: SimArch> {
    env: Env<A>,
    host: Host<A>,
}

impl<A: SimArch> W<A> {
    fn new() -> Self {
        let env = Env::<A>::new();
        let host = Host::new(env.sim.clone(), env.kernel.clone());
        W { env, host }
    }

    /// A second process with one host-run thread, and a handle to it.
    fn child(
        &self,
    ) -> (
        Arc<zx_subsystem::object::Process<zx_subsystem::sim::Sim<A>>>,
        zx_handle_t,
    ) {
        let job = self.env.kernel.root_job().create_child().unwrap();
        let p = self.env.kernel.create_process(&job).unwrap();
        let h = self
            .env
            .process
            .add_handle(KernelObject::Process(p.clone()), Rights::DEFAULT_PROCESS)
            .unwrap();
        (p, h)
    }

    fn thread_handle(
        &self,
        t: &Arc<zx_subsystem::object::Thread<zx_subsystem::sim::Sim<A>>>,
    ) -> zx_handle_t {
        self.env
            .process
            .add_handle(KernelObject::Thread(t.clone()), Rights::DEFAULT_THREAD)
            .unwrap()
    }
}

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

fn task_kill_rules<A: SimArch>() {
    let w = W::<A>::new();
    let mut t = w.host.task(&w.env.thread);
    let kill = |t: &mut _, h: u64| status(w.host.syscall(t, Sys::TaskKill, &[h]));
    assert_eq!(kill(&mut t, 0x77), Status::BadHandle);
    let (child, ch) = w.child();
    let weak = w
        .env
        .duplicate(ch, (Rights::DEFAULT_PROCESS - Rights::DESTROY).bits())
        .unwrap();
    assert_eq!(kill(&mut t, weak.into()), Status::AccessDenied);
    let vmo = w.env.vmo_create(PAGE_SIZE, 0).unwrap();
    let vmo_destroy = w.env.duplicate(vmo, ZX_RIGHT_SAME_RIGHTS).unwrap();
    let _ = vmo_destroy;
    // A process with a thread blocked in a futex and one never started.
    let blocked = child.create_thread(3).unwrap();
    let mut tb = w.host.task(&blocked);
    let cw = w.env.out(30);
    let cmap = child.root_vmar();
    let cvmo = zx_subsystem::vm::Vmo::create(&w.env.sim, PAGE_SIZE).unwrap();
    let caddr = cmap
        .map(
            zx_subsystem::vm::Placement::ANYWHERE,
            &cvmo,
            0,
            PAGE_SIZE,
            zx_subsystem::vm::Perms::READ | zx_subsystem::vm::Perms::WRITE,
        )
        .unwrap();
    let _ = cw;
    assert!(matches!(
        w.host.syscall(
            &mut tb,
            Sys::FutexWait,
            &[caddr, 0, 0, ZX_TIME_INFINITE as u64]
        ),
        Outcome::Blocked(_)
    ));
    assert_eq!(w.env.kernel.park(&blocked), Park::Parked);
    // Another thread waits for the child's death.
    let waiter = w.env.process.create_thread(4).unwrap();
    let mut tw = w.host.task(&waiter);
    assert!(matches!(
        w.host.syscall(
            &mut tw,
            Sys::ObjectWaitOne,
            &[
                ch.into(),
                ZX_TASK_TERMINATED.into(),
                ZX_TIME_INFINITE as u64,
                0
            ]
        ),
        Outcome::Blocked(_)
    ));
    assert_eq!(w.env.kernel.park(&waiter), Park::Parked);
    assert_eq!(kill(&mut t, ch.into()), Status::Ok);
    assert_eq!(child.state(), ProcessState::Dying);
    assert!(
        w.host.take_wake(blocked.koid()),
        "the blocked thread is woken to die"
    );
    assert_eq!(
        w.env.kernel.boundary(&blocked, &mut tb.ctx),
        Outcome::ThreadExited
    );
    assert_eq!(child.state(), ProcessState::Dead);
    assert_eq!(child.retcode(), ZX_TASK_RETCODE_SYSCALL_KILL);
    assert!(
        w.host.take_wake(waiter.koid()),
        "its death wakes the waiter"
    );
    assert_eq!(
        status(w.env.kernel.boundary(&waiter, &mut tw.ctx)),
        Status::Ok
    );
    // Killing a dead process is fine; a thread handle works too.
    assert_eq!(kill(&mut t, ch.into()), Status::Ok);
    let other = w.env.process.create_thread(6).unwrap();
    let oh = w.thread_handle(&other);
    assert_eq!(kill(&mut t, oh.into()), Status::Ok);
    assert_eq!(other.state(), ThreadState::Dying);
    assert!(
        w.env
            .sim
            .interrupts()
            .iter()
            .any(|i| i.koid == other.koid())
    );
    assert_eq!(
        status(w.host.syscall(&mut t, Sys::RestrictedKick, &[oh.into(), 0])),
        Status::BadState,
        "kick of a dying thread"
    );
    let mut to = w.host.task(&other);
    assert_eq!(
        w.env.kernel.boundary(&other, &mut to.ctx),
        Outcome::ThreadExited
    );
}

fn killing_oneself_ends_the_syscall<A: SimArch>() {
    let w = W::<A>::new();
    let keep = w.env.process.create_thread(11).unwrap();
    let me = w.thread_handle(&w.env.thread);
    let mut t = w.host.task(&w.env.thread);
    assert_eq!(
        w.host.syscall(&mut t, Sys::TaskKill, &[me.into()]),
        Outcome::ThreadExited
    );
    assert_eq!(w.env.thread.state(), ThreadState::Dead);
    let _ = keep;
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

fn no_leaks_after_waits_and_kills<A: SimArch>() {
    let sim = {
        let w = W::<A>::new();
        let (child, ch) = w.child();
        let ct = child.create_thread(1).unwrap();
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
        assert_eq!(w.env.kernel.park(&w.env.thread), Park::Parked);
        let mut tc = w.host.task(&ct);
        assert!(matches!(
            w.host
                .syscall(&mut tc, Sys::Nanosleep, &[ZX_TIME_INFINITE as u64]),
            Outcome::Blocked(_)
        ));
        assert_eq!(w.env.kernel.park(&ct), Park::Parked);
        child.kill(0);
        assert_eq!(
            w.env.kernel.boundary(&ct, &mut tc.ctx),
            Outcome::ThreadExited
        );
        assert_eq!(
            status(w.env.kernel.boundary(&w.env.thread, &mut t.ctx)),
            Status::Ok
        );
        w.env.sim.clone()
    };
    assert_eq!(sim.frames_allocated(), 0);
}

/// A thread spinning in restricted mode is killed from another thread: its
/// CPU is interrupted, it leaves at that boundary for good (never back at
/// the vector), its restricted state is released, and a waiter on its
/// handle sees `ZX_THREAD_TERMINATED`. (Zircon's restricted-mode tests have
/// no kill case; RFC-0007 removed thread kills from current Zircon, which
/// this crate keeps as older Zircon had them.)
fn kill_of_a_thread_spinning_in_restricted_mode<A: SimArch>() {
    use zx_subsystem::sim::cpu::Insn;
    use zx_subsystem::trap::Trap;
    let mut g = common::group::Group::<A>::new();
    let m = g.member();
    let host = Host::new(g.sim.clone(), g.kernel.clone());
    let code = g.map_code(m.process.restricted_vmar().unwrap());
    g.cpu.load(code, vec![Insn::Spin]);
    let state = g.bind(&m.thread);
    g.write_state(state, code, 0);
    g.call(&g.proto_thread, Sys::HandleClose, &[state.into()])
        .unwrap();
    // Another thread keeps the process alive, so the frame count below
    // moves by the state page alone.
    let keep = m.process.create_thread(9).unwrap();
    let mut ctx = A::UserContext::default();
    A::set_syscall(&mut ctx, Sys::RestrictedEnter as u64, &[0, 0x1000, 0]);
    assert_eq!(
        g.kernel.syscall(&m.thread, &mut ctx),
        Outcome::EnteredRestricted
    );
    // It spins through a time slice (after its code page is faulted in).
    let view = g.sim.switch_in(&g.kernel, &m.thread);
    loop {
        match g.cpu.run(view.root, view.asid, m.thread.koid(), &mut ctx) {
            Trap::PageFault(f) => {
                assert_eq!(g.kernel.page_fault(&m.thread, &mut ctx, f), Outcome::Resume)
            }
            trap => {
                assert_eq!(trap, Trap::Interrupt(32));
                assert_eq!(
                    g.kernel.exception(&m.thread, &mut ctx, trap),
                    Outcome::Resume
                );
                break;
            }
        }
    }
    let before = g.sim.frames_allocated();
    // A waiter on the thread, then the kill from another thread.
    let th = m
        .process
        .add_handle(
            KernelObject::Thread(m.thread.clone()),
            Rights::DEFAULT_THREAD,
        )
        .unwrap();
    let mut tw = host.task(&g.proto_thread);
    assert!(matches!(
        host.syscall(
            &mut tw,
            Sys::ObjectWaitOne,
            &[
                th.into(),
                ZX_THREAD_TERMINATED.into(),
                ZX_TIME_INFINITE as u64,
                0
            ]
        ),
        Outcome::Blocked(_)
    ));
    assert_eq!(g.kernel.park(&g.proto_thread), Park::Parked);
    assert_eq!(
        status(host.syscall(&mut tw, Sys::TaskKill, &[th.into()])),
        Status::Ok
    );
    assert!(
        g.sim.interrupts().iter().any(|t| t.koid == m.thread.koid()),
        "its CPU is interrupted"
    );
    // Its CPU takes the interrupt: the boundary ends it.
    let trap = g.cpu.run(view.root, view.asid, m.thread.koid(), &mut ctx);
    assert_eq!(trap, Trap::Interrupt(0));
    assert_eq!(
        g.kernel.exception(&m.thread, &mut ctx, trap),
        Outcome::ThreadExited
    );
    assert_ne!(A::pc(&ctx), 0x1000, "never back at the vector");
    assert!(!g.kernel.in_restricted_mode(&m.thread));
    assert_eq!(
        g.sim.frames_allocated(),
        before - 1,
        "the state page is freed"
    );
    assert!(host.take_wake(g.proto_thread.koid()));
    assert_eq!(
        status(g.kernel.boundary(&g.proto_thread, &mut tw.ctx)),
        Status::Ok
    );
    assert_eq!(m.process.state(), ProcessState::Running);
    keep.exit();
    assert_eq!(m.process.state(), ProcessState::Dead);
}

both_arches!(
    kill_of_a_thread_spinning_in_restricted_mode,
    wait_one_checks_and_polls,
    wait_one_blocks_until_the_process_dies,
    a_wake_before_the_park_is_not_lost,
    waits_time_out_on_the_clock,
    futex_wait_checks_in_zircons_order,
    futex_wake_and_requeue,
    a_sharing_group_shares_its_futexes,
    nanosleep_and_the_clock,
    task_kill_rules,
    killing_oneself_ends_the_syscall,
    ping_pong_on_host_threads,
    no_leaks_after_waits_and_kills,
);

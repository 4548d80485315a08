//! Dying (issue "Tasks"), both arches: `zx_task_kill`'s rules, a thread
//! killing itself, kills of blocked and restricted threads, and no leaks
//! after waits and kills; the waits themselves are in `tests/wait.rs`.
#![cfg(feature = "sim")]

mod common;

use common::host::{Host, status};
use common::waitenv::W;
use zx_subsystem::abi::*;
use zx_subsystem::object::wait::Park;
use zx_subsystem::object::{KernelObject, ProcessState, ThreadState};
use zx_subsystem::sim::cpu::SimArch;
use zx_subsystem::syscall::SyscallNumber as Sys;
use zx_subsystem::{Outcome, PAGE_SIZE};

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
    task_kill_rules,
    killing_oneself_ends_the_syscall,
    no_leaks_after_waits_and_kills,
    kill_of_a_thread_spinning_in_restricted_mode,
);

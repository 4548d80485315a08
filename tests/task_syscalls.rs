//! The process and thread syscalls (SPEC §5), both arches: every error in
//! Zircon's check order (`sys_process_create`, `sys_process_create_shared`,
//! `sys_process_start`, `sys_thread_create`, `sys_thread_start`), bad out
//! pointers leaving nothing behind, `ZX_POL_NEW_PROCESS`, names, and what
//! the host is told (`Platform::thread_started`, outcomes).
#![cfg(feature = "sim")]

mod common;

use common::Env;
use zx_subsystem::abi::*;
use zx_subsystem::object::{KernelObject, ProcessState, ThreadState};
use zx_subsystem::sim::cpu::SimArch;
use zx_subsystem::syscall::SyscallNumber as Sys;
use zx_subsystem::{Outcome, PAGE_SIZE};

/// A caller with a job handle and a name in user memory.
struct Caller<A: SimArch> {
    env: Env<A>,
    job: zx_handle_t,
    name: u64,
}

const NAME: &[u8] = b"a-name\0";

impl<A: SimArch> Caller<A> {
    fn new() -> Self {
        let env = Env::<A>::new();
        let job = env.kernel.root_job().create_child().unwrap();
        let job = env
            .process
            .add_handle(KernelObject::Job(job), Rights::DEFAULT_JOB)
            .unwrap();
        let name = env.out(200);
        env.write_bytes(name, NAME);
        Caller { env, job, name }
    }

    fn handles(&self) -> usize {
        self.env.process.with_handles(|t| t.len())
    }

    /// `zx_process_create`; returns (process, vmar).
    fn create(&self, options: u32) -> Result<(zx_handle_t, zx_handle_t), Status> {
        let e = &self.env;
        e.call_ok(
            Sys::ProcessCreate,
            &[
                self.job as u64,
                self.name,
                NAME.len() as u64,
                options as u64,
                e.out(20),
                e.out(21),
            ],
        )?;
        Ok((e.read_u32(e.out(20)), e.read_u32(e.out(21))))
    }

    /// `zx_process_create_shared`; returns (process, restricted vmar).
    fn create_shared(&self, proto: zx_handle_t) -> Result<(zx_handle_t, zx_handle_t), Status> {
        let e = &self.env;
        e.call_ok(
            Sys::ProcessCreateShared,
            &[
                proto as u64,
                0,
                self.name,
                NAME.len() as u64,
                e.out(22),
                e.out(23),
            ],
        )?;
        Ok((e.read_u32(e.out(22)), e.read_u32(e.out(23))))
    }

    fn thread_create(&self, process: zx_handle_t) -> Result<zx_handle_t, Status> {
        let e = &self.env;
        e.call_ok(
            Sys::ThreadCreate,
            &[process as u64, self.name, NAME.len() as u64, 0, e.out(24)],
        )?;
        Ok(e.read_u32(e.out(24)))
    }

    fn thread_start(&self, thread: zx_handle_t, entry: u64) -> Result<(), Status> {
        self.env
            .call_ok(Sys::ThreadStart, &[thread as u64, entry, 0x8000, 11, 22])
    }

    fn process_start(
        &self,
        process: zx_handle_t,
        thread: zx_handle_t,
        arg: zx_handle_t,
    ) -> Result<(), Status> {
        self.env.call_ok(
            Sys::ProcessStart,
            &[
                process as u64,
                thread as u64,
                0x1000_0000,
                0x8000,
                arg as u64,
                5,
            ],
        )
    }
}

fn process_create_checks_in_zircons_order<A: SimArch>() {
    let c = Caller::<A>::new();
    let e = &c.env;
    let args = |job: u64, name: u64, options: u64, out: u64| {
        e.call_ok(Sys::ProcessCreate, &[job, name, 7, options, out, e.out(21)])
    };
    // Options first: a bad handle and a bad name are not looked at.
    assert_eq!(args(0x77, 0, 2, 0), Err(Status::InvalidArgs));
    // The name next (a null name is INVALID_ARGS), then the handle.
    assert_eq!(args(0x77, 0, 0, e.out(20)), Err(Status::InvalidArgs));
    assert_eq!(args(0x77, c.name, 0, e.out(20)), Err(Status::BadHandle));
    let vmo = e.vmo_create(PAGE_SIZE, 0).unwrap();
    assert_eq!(
        args(vmo as u64, c.name, 0, e.out(20)),
        Err(Status::WrongType)
    );
    let weak = e
        .duplicate(c.job, (Rights::DEFAULT_JOB - Rights::MANAGE_PROCESS).bits())
        .unwrap();
    assert_eq!(
        args(weak as u64, c.name, 0, e.out(20)),
        Err(Status::AccessDenied)
    );
    // A bad out pointer leaves no handle and no process behind.
    let before = c.handles();
    assert_eq!(
        args(c.job as u64, c.name, 0, 0x10),
        Err(Status::InvalidArgs)
    );
    assert_eq!(c.handles(), before);
    let job = e
        .process
        .get_object::<zx_subsystem::object::Job>(c.job, Rights::empty())
        .unwrap()
        .0;
    // No live process in the job: its policy can still be set.
    assert!(
        job.set_basic_policy(
            ZX_JOB_POL_RELATIVE,
            &[zx_policy_basic_v2_t {
                condition: ZX_POL_NEW_VMO,
                action: ZX_POL_ACTION_ALLOW,
                flags: ZX_POL_OVERRIDE_ALLOW,
            }]
        )
        .is_ok()
    );
    // Both shapes succeed, with the rights Zircon gives.
    for options in [0, ZX_PROCESS_SHARED] {
        let (p, v) = c.create(options).unwrap();
        assert_eq!(e.info(p).unwrap().rights, Rights::DEFAULT_PROCESS.bits());
        let vr = Rights::DEFAULT_VMAR | Rights::READ | Rights::WRITE | Rights::EXECUTE;
        assert_eq!(e.info(v).unwrap().rights, vr.bits());
    }
}

fn the_policy_is_the_callers<A: SimArch>() {
    let c = Caller::<A>::new();
    // The caller's job denies new processes: checked after the options,
    // before the name and the handle.
    let job = c.env.kernel.root_job().create_child().unwrap();
    job.set_basic_policy(
        ZX_JOB_POL_ABSOLUTE,
        &[zx_policy_basic_v2_t {
            condition: ZX_POL_NEW_PROCESS,
            action: ZX_POL_ACTION_DENY,
            flags: ZX_POL_OVERRIDE_DENY,
        }],
    )
    .unwrap();
    let denied = Env::<A>::in_job(c.env.sim.clone(), c.env.kernel.clone(), &job);
    let jh = denied
        .process
        .add_handle(
            KernelObject::Job(c.env.kernel.root_job().clone()),
            Rights::DEFAULT_JOB,
        )
        .unwrap();
    let r = |options: u64| {
        denied.call_ok(
            Sys::ProcessCreate,
            &[jh as u64, 0, 0, options, denied.out(0), denied.out(1)],
        )
    };
    assert_eq!(r(4), Err(Status::InvalidArgs));
    assert_eq!(r(0), Err(Status::AccessDenied));
    assert_eq!(
        denied.call_ok(
            Sys::ProcessCreateShared,
            &[0x99, 0, 0, 0, denied.out(0), denied.out(1)]
        ),
        Err(Status::AccessDenied)
    );
}

fn process_create_shared_checks_in_zircons_order<A: SimArch>() {
    let c = Caller::<A>::new();
    let e = &c.env;
    let (proto, _) = c.create(ZX_PROCESS_SHARED).unwrap();
    let call = |h: u64, options: u64, name: u64| {
        e.call_ok(
            Sys::ProcessCreateShared,
            &[h, options, name, 7, e.out(22), e.out(23)],
        )
    };
    assert_eq!(call(0x77, 1, 0), Err(Status::InvalidArgs));
    assert_eq!(call(0x77, 0, 0), Err(Status::InvalidArgs));
    assert_eq!(call(0x77, 0, c.name), Err(Status::BadHandle));
    assert_eq!(call(c.job as u64, 0, c.name), Err(Status::WrongType));
    for missing in [Rights::MANAGE_PROCESS, Rights::GET_PROPERTY] {
        let weak = e
            .duplicate(proto, (Rights::DEFAULT_PROCESS - missing).bits())
            .unwrap();
        assert_eq!(call(weak as u64, 0, c.name), Err(Status::AccessDenied));
    }
    // A plain process: INVALID_ARGS.
    let (plain, _) = c.create(0).unwrap();
    assert_eq!(call(plain as u64, 0, c.name), Err(Status::InvalidArgs));
    // A member can make more members.
    let (member, _) = c.create_shared(proto).unwrap();
    let (member2, _) = c.create_shared(member).unwrap();
    let (m1, m2) = (
        e.process
            .get_object::<zx_subsystem::object::Process<_>>(member, Rights::empty())
            .unwrap()
            .0,
        e.process
            .get_object::<zx_subsystem::object::Process<_>>(member2, Rights::empty())
            .unwrap()
            .0,
    );
    assert!(m1.shares_with(&m2));
    // A bad out pointer leaves nothing behind.
    let before = c.handles();
    assert_eq!(
        e.call_ok(
            Sys::ProcessCreateShared,
            &[proto as u64, 0, c.name, 7, e.out(22), 0x10]
        ),
        Err(Status::InvalidArgs)
    );
    assert_eq!(c.handles(), before);
    // Once every process of the group is dead: BAD_STATE.
    for h in [proto, member, member2] {
        e.process
            .get_object::<zx_subsystem::object::Process<_>>(h, Rights::empty())
            .unwrap()
            .0
            .terminate();
    }
    assert_eq!(call(proto as u64, 0, c.name), Err(Status::BadState));
}

fn names_are_truncated_and_copied_safely<A: SimArch>() {
    let c = Caller::<A>::new();
    let e = &c.env;
    let long = [b'x'; 40];
    e.write_bytes(e.out(300), &long);
    e.call_ok(
        Sys::ProcessCreate,
        &[c.job as u64, e.out(300), 40, 0, e.out(20), e.out(21)],
    )
    .unwrap();
    let p = e
        .process
        .get_object::<zx_subsystem::object::Process<_>>(e.read_u32(e.out(20)), Rights::empty())
        .unwrap()
        .0;
    assert_eq!(p.name(), &[b'x'; 31][..]);
    // An unreadable name: INVALID_ARGS.
    assert_eq!(
        e.call_ok(
            Sys::ProcessCreate,
            &[c.job as u64, 0x10, 4, 0, e.out(20), e.out(21)]
        ),
        Err(Status::InvalidArgs)
    );
    // Length 0 is the empty name.
    e.call_ok(
        Sys::ProcessCreate,
        &[c.job as u64, c.name, 0, 0, e.out(20), e.out(21)],
    )
    .unwrap();
}

fn thread_create_and_start<A: SimArch>() {
    let c = Caller::<A>::new();
    let e = &c.env;
    let (p, _) = c.create(0).unwrap();
    let call = |h: u64, name: u64, options: u64, out: u64| {
        e.call_ok(Sys::ThreadCreate, &[h, name, 7, options, out])
    };
    assert_eq!(call(0x77, 0, 1, 0), Err(Status::InvalidArgs));
    assert_eq!(call(0x77, 0, 0, e.out(24)), Err(Status::InvalidArgs));
    assert_eq!(call(0x77, c.name, 0, e.out(24)), Err(Status::BadHandle));
    assert_eq!(
        call(c.job as u64, c.name, 0, e.out(24)),
        Err(Status::WrongType)
    );
    let weak = e
        .duplicate(p, (Rights::DEFAULT_PROCESS - Rights::MANAGE_THREAD).bits())
        .unwrap();
    assert_eq!(
        call(weak as u64, c.name, 0, e.out(24)),
        Err(Status::AccessDenied)
    );
    let before = c.handles();
    assert_eq!(call(p as u64, c.name, 0, 0x10), Err(Status::InvalidArgs));
    assert_eq!(c.handles(), before);
    let t = c.thread_create(p).unwrap();
    assert_eq!(e.info(t).unwrap().rights, Rights::DEFAULT_THREAD.bits());
    let thread = e
        .process
        .get_object::<zx_subsystem::object::Thread<_>>(t, Rights::empty())
        .unwrap()
        .0;
    assert_eq!(thread.name(), b"a-name");
    assert_eq!(thread.state(), ThreadState::New);
    // Start: handle checks, then the entry, then the thread's state.
    assert_eq!(c.thread_start(0x77, 0x1000), Err(Status::BadHandle));
    let weak_t = e
        .duplicate(t, (Rights::DEFAULT_THREAD - Rights::MANAGE_THREAD).bits())
        .unwrap();
    assert_eq!(c.thread_start(weak_t, 0x1000), Err(Status::AccessDenied));
    // Before zx_process_start the process has no thread to join: BAD_STATE
    // (Zircon's AddInitializedThread), whatever the entry.
    assert_eq!(c.thread_start(t, 0x1000_0000), Err(Status::BadState));
    assert_eq!(c.thread_start(t, u64::MAX), Err(Status::BadState));
    assert!(e.sim.take_started().is_empty(), "nothing started yet");
    assert_eq!(thread.state(), ThreadState::New);
    let first = c.thread_create(p).unwrap();
    c.process_start(p, first, ZX_HANDLE_INVALID).unwrap();
    assert_eq!(e.sim.take_started().len(), 1);
    assert_eq!(c.thread_start(t, u64::MAX), Err(Status::InvalidArgs));
    assert!(e.sim.take_started().is_empty(), "nothing more started");
    c.thread_start(t, 0x1000_0000).unwrap();
    let started = e.sim.take_started();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].0.koid(), thread.koid());
    let ctx = &started[0].1;
    assert_eq!(A::pc(ctx), 0x1000_0000);
    assert_eq!(&A::syscall_args(ctx)[..2], &[11, 22]);
    assert_eq!(thread.state(), ThreadState::Running);
    // Twice: BAD_STATE.
    assert_eq!(c.thread_start(t, 0x1000_0000), Err(Status::BadState));
    // A second thread starts while the process runs.
    let t2 = c.thread_create(p).unwrap();
    c.thread_start(t2, 0x1000_0000).unwrap();
    assert_eq!(e.sim.take_started().len(), 1);
    // A dead process refuses new threads.
    let process = thread.process().clone();
    process.terminate();
    assert_eq!(call(p as u64, c.name, 0, e.out(24)), Err(Status::BadState));
}

fn process_start_moves_the_handle<A: SimArch>() {
    let c = Caller::<A>::new();
    let e = &c.env;
    let (p, _) = c.create(0).unwrap();
    let t = c.thread_create(p).unwrap();
    let vmo = e.vmo_create(PAGE_SIZE, 0).unwrap();
    // Failures close the argument handle.
    for (process, thread, want) in [
        (0x77, t, Status::BadHandle),
        (p, 0x77, Status::BadHandle),
        (t, t, Status::WrongType),
    ] {
        let arg = e.duplicate(vmo, ZX_RIGHT_SAME_RIGHTS).unwrap();
        assert_eq!(c.process_start(process, thread, arg), Err(want));
        assert_eq!(e.close(arg), Err(Status::BadHandle), "arg closed");
    }
    let no_write = e
        .duplicate(p, (Rights::DEFAULT_PROCESS - Rights::WRITE).bits())
        .unwrap();
    let arg = e.duplicate(vmo, ZX_RIGHT_SAME_RIGHTS).unwrap();
    assert_eq!(c.process_start(no_write, t, arg), Err(Status::AccessDenied));
    assert_eq!(e.close(arg), Err(Status::BadHandle));
    // A thread of another process: ACCESS_DENIED.
    let (q, _) = c.create(0).unwrap();
    let tq = c.thread_create(q).unwrap();
    let arg = e.duplicate(vmo, ZX_RIGHT_SAME_RIGHTS).unwrap();
    assert_eq!(c.process_start(p, tq, arg), Err(Status::AccessDenied));
    assert_eq!(e.close(arg), Err(Status::BadHandle));
    // An argument without TRANSFER: ACCESS_DENIED, closed.
    let arg = e
        .duplicate(vmo, (Rights::DEFAULT_VMO - Rights::TRANSFER).bits())
        .unwrap();
    assert_eq!(c.process_start(p, t, arg), Err(Status::AccessDenied));
    assert_eq!(e.close(arg), Err(Status::BadHandle));
    // Success: the handle moves into the process; its value there is the
    // first argument.
    let arg = e.duplicate(vmo, ZX_RIGHT_SAME_RIGHTS).unwrap();
    c.process_start(p, t, arg).unwrap();
    assert_eq!(e.close(arg), Err(Status::BadHandle), "moved out");
    let started = e.sim.take_started();
    assert_eq!(started.len(), 1);
    let (thread, ctx) = &started[0];
    let moved = A::syscall_args(ctx)[0] as zx_handle_t;
    let target = thread.process();
    assert!(
        target
            .get_object::<zx_subsystem::vm::Vmo<_>>(moved, Rights::READ)
            .is_ok()
    );
    assert_eq!(A::syscall_args(ctx)[1], 5);
    assert_eq!(target.state(), ProcessState::Running);
    // Starting it again: BAD_STATE (and the argument is closed).
    let t2 = c.thread_create(p).unwrap();
    let arg = e.duplicate(vmo, ZX_RIGHT_SAME_RIGHTS).unwrap();
    assert_eq!(c.process_start(p, t2, arg), Err(Status::BadState));
    assert_eq!(e.close(arg), Err(Status::BadHandle));
    // ZX_HANDLE_INVALID as the argument is allowed.
    let (r, _) = c.create(0).unwrap();
    let tr = c.thread_create(r).unwrap();
    c.process_start(r, tr, ZX_HANDLE_INVALID).unwrap();
    let started = e.sim.take_started();
    assert_eq!(A::syscall_args(&started[0].1)[0], 0);
}

fn exit_outcomes<A: SimArch>() {
    let c = Caller::<A>::new();
    let e = &c.env;
    let (p, _) = c.create(0).unwrap();
    let (t1, t2) = (c.thread_create(p).unwrap(), c.thread_create(p).unwrap());
    c.process_start(p, t1, ZX_HANDLE_INVALID).unwrap();
    c.thread_start(t2, 0x1000_0000).unwrap();
    let started = e.sim.take_started();
    let (a, b) = (started[0].0.clone(), started[1].0.clone());
    let mut ctx = A::UserContext::default();
    A::set_syscall(&mut ctx, Sys::ThreadExit as u64, &[]);
    assert_eq!(e.kernel.syscall(&a, &mut ctx), Outcome::ThreadExited);
    assert_eq!(a.state(), ThreadState::Dead);
    let process = a.process().clone();
    assert_eq!(process.state(), ProcessState::Running);
    // The last thread's exit ends the process (return code 0).
    assert_eq!(e.kernel.syscall(&b, &mut ctx), Outcome::ThreadExited);
    assert_eq!(process.state(), ProcessState::Dead);
    assert_eq!(process.retcode(), 0);
    // A dead thread's next crate call says so again.
    assert_eq!(e.kernel.syscall(&b, &mut ctx), Outcome::ThreadExited);
}

fn killed_threads_never_run_again<A: SimArch>() {
    let c = Caller::<A>::new();
    let e = &c.env;
    let (p, _) = c.create(0).unwrap();
    let (t1, t2) = (c.thread_create(p).unwrap(), c.thread_create(p).unwrap());
    let unstarted = c.thread_create(p).unwrap();
    c.process_start(p, t1, ZX_HANDLE_INVALID).unwrap();
    c.thread_start(t2, 0x1000_0000).unwrap();
    let started = e.sim.take_started();
    let (a, b) = (started[0].0.clone(), started[1].0.clone());
    let mut ctx = A::UserContext::default();
    A::set_syscall(&mut ctx, Sys::ProcessExit as u64, &[(-3i64) as u64]);
    assert_eq!(e.kernel.syscall(&a, &mut ctx), Outcome::ProcessExited(-3));
    // b is dying: its CPU was interrupted; every crate entry reaps it.
    assert_eq!(b.state(), ThreadState::Dying);
    assert!(e.sim.interrupts().iter().any(|t| t.koid == b.koid()));
    let process = a.process().clone();
    assert_eq!(process.state(), ProcessState::Dying);
    let u = e
        .process
        .get_object::<zx_subsystem::object::Thread<_>>(unstarted, Rights::empty())
        .unwrap()
        .0;
    assert_eq!(u.state(), ThreadState::Dead, "never started: dead at once");
    A::set_syscall(&mut ctx, Sys::HandleClose as u64, &[0]);
    assert_eq!(e.kernel.syscall(&b, &mut ctx), Outcome::ThreadExited);
    assert_eq!(process.state(), ProcessState::Dead);
    assert_eq!(process.retcode(), -3);
    // Its restricted state was released, and kicks now fail.
    assert_eq!(
        e.call_ok(Sys::RestrictedKick, &[t2 as u64, 0]),
        Err(Status::BadState)
    );
}

both_arches!(
    process_create_checks_in_zircons_order,
    the_policy_is_the_callers,
    process_create_shared_checks_in_zircons_order,
    names_are_truncated_and_copied_safely,
    thread_create_and_start,
    process_start_moves_the_handle,
    exit_outcomes,
    killed_threads_never_run_again,
);

//! Restricted mode on the simulated machine, both arches: kicks
//! (`zx_restricted_kick` before and during restricted code), and the state
//! VMO's rules (policy, out of memory, bad out pointers, resizing, its
//! lifetime). The harness is `resthelp`, shared with
//! `tests/restricted.rs`.
#![cfg(feature = "sim")]

mod common;
mod resthelp;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::Env;
use resthelp::*;
use zx_subsystem::PAGE_SIZE;
use zx_subsystem::abi::*;
use zx_subsystem::object::{KernelObject, ProcessState};
use zx_subsystem::sim::cpu::{INSN_SIZE, Insn, SimArch};
use zx_subsystem::syscall::SyscallNumber;

fn kick_before_enter<A: SimArch>()
where
    A::RestrictedState: StateView,
{
    let mut b = Bench::<A>::new();
    let syscall_at = b.code + 2 * INSN_SIZE;
    b.cpu.load(
        b.code,
        vec![
            twiddle::<A>(),
            store_reg2_at_tls::<A>(),
            Insn::Syscall,
            Insn::Jump(syscall_at),
        ],
    );
    let vmo = b.bind().unwrap();
    let init = b.initial_state(b.code);
    b.write_state(vmo, &init);
    let me = b.self_thread_handle(Rights::DEFAULT_THREAD);
    // Several kicks collapse into one.
    for _ in 0..3 {
        b.env
            .call_ok(SyscallNumber::RestrictedKick, &[me as u64, 0])
            .unwrap();
    }
    assert!(
        b.env.sim.interrupts().is_empty(),
        "a thread in normal mode needs no IPI"
    );
    let mut ctx = b.normal_ctx();
    b.enter(&mut ctx, 0, b.vector(), 9).unwrap();
    assert!(!b.env.kernel.in_restricted_mode(&b.env.thread));
    assert_eq!(b.check_vector_frame(&ctx, 9), ZX_RESTRICTED_REASON_KICK);
    // The VMO was not touched.
    assert_eq!(b.read_state(vmo), init);
    // The kick was consumed: the next enter runs.
    let mut ctx = b.normal_ctx();
    b.enter(&mut ctx, 0, b.vector(), 9).unwrap();
    assert_eq!(b.run_to_vector(&mut ctx, 9), ZX_RESTRICTED_REASON_SYSCALL);
    assert_eq!(b.read_state(vmo).gprs()[0], init.gprs()[0].wrapping_add(1));
}

fn kick_while_running<A: SimArch>()
where
    A::RestrictedState: StateView,
{
    let mut b = Bench::<A>::new();
    let flag = b.env.scratch + 2 * PAGE_SIZE;
    // store_one: bump register 1, store 1 at the address in register 0,
    // then spin until something takes the thread out.
    b.cpu.load(
        b.code,
        vec![
            Insn::Regs(Box::new(|ctx| {
                let r = &mut A::gprs(ctx);
                *r[1] = 42 + 1;
            })),
            Insn::Store(
                Box::new(|ctx: &A::UserContext| {
                    let mut c = ctx.clone();
                    *A::gprs(&mut c)[0]
                }),
                Box::new(|_| 1u32.to_ne_bytes().to_vec()),
            ),
            Insn::Spin,
        ],
    );
    let vmo = b.bind().unwrap();
    let init = b.state_with(b.code, |ctx| *A::gprs(ctx)[0] = flag);
    b.write_state(vmo, &init);

    // A second thread of the process kicks once the flag is set.
    let kicker = b.env.process.create_thread(8).unwrap();
    let me = b.self_thread_handle(Rights::MANAGE_THREAD);
    let aspace = b.env.process.aspace().clone();
    let kernel = b.env.kernel.clone();
    let done = Arc::new(AtomicBool::new(false));
    let done2 = done.clone();
    let handle = std::thread::spawn(move || {
        loop {
            let mut v = [0u8; 4];
            aspace.copy_from_user(flag, &mut v).unwrap();
            if u32::from_ne_bytes(v) == 1 {
                break;
            }
            if done2.load(Ordering::SeqCst) {
                return;
            }
            std::thread::yield_now();
        }
        let st = kernel.syscall_raw(
            &kicker,
            SyscallNumber::RestrictedKick as u64,
            [me as u64, 0, 0, 0, 0, 0, 0, 0],
        );
        assert_eq!(st, ZX_OK);
    });
    let mut ctx = b.normal_ctx();
    b.enter(&mut ctx, 0, b.vector(), 3).unwrap();
    let reason = b.run_to_vector(&mut ctx, 3);
    done.store(true, Ordering::SeqCst);
    handle.join().unwrap();
    assert_eq!(reason, ZX_RESTRICTED_REASON_KICK);
    assert_eq!(b.env.read_u32(flag), 1);
    assert_eq!(b.read_state(vmo).gprs()[1], 43);
    assert!(
        b.env
            .sim
            .interrupts()
            .iter()
            .any(|t| t.koid == b.env.thread.koid()),
        "the host was asked to interrupt the running thread"
    );
}

// --- The rest of SPEC §3 ------------------------------------------------

fn bind_denied_by_new_vmo_policy<A: SimArch>()
where
    A::RestrictedState: StateView,
{
    let sim = zx_subsystem::sim::Sim::<A>::new();
    let kernel = zx_subsystem::Kernel::new(sim.clone());
    let job = kernel.root_job().create_child().unwrap();
    job.set_basic_policy(
        ZX_JOB_POL_RELATIVE,
        &[zx_policy_basic_v2_t {
            condition: ZX_POL_NEW_VMO,
            action: ZX_POL_ACTION_DENY,
            flags: ZX_POL_OVERRIDE_DENY,
        }],
    )
    .unwrap();
    let b = Bench::<A>::with_env(Env::in_job(sim, kernel, &job));
    let frames = b.env.sim.frames_allocated();
    assert_eq!(b.bind(), Err(Status::AccessDenied));
    assert_eq!(b.env.sim.frames_allocated(), frames);
    let mut ctx = b.normal_ctx();
    assert_eq!(b.enter(&mut ctx, 0, b.vector(), 0), Err(Status::BadState));
}

fn bind_out_of_memory_binds_nothing<A: SimArch>()
where
    A::RestrictedState: StateView,
{
    let b = Bench::<A>::new();
    b.env.sim.fail_after(0);
    assert_eq!(b.bind(), Err(Status::NoMemory));
    b.env.sim.set_frame_limit(None);
    let mut ctx = b.normal_ctx();
    assert_eq!(b.enter(&mut ctx, 0, b.vector(), 0), Err(Status::BadState));
}

fn bad_out_pointer_leaves_the_vmo_bound<A: SimArch>()
where
    A::RestrictedState: StateView,
{
    let b = Bench::<A>::new();
    let handles = b.env.process.with_handles(|t| t.len());
    let mut ctx = b.normal_ctx();
    b.syscall(&mut ctx, SyscallNumber::RestrictedBindState, &[0, 0x10]);
    assert_eq!(A::syscall_status(&ctx), ZX_ERR_INVALID_ARGS);
    assert_eq!(
        b.env.process.with_handles(|t| t.len()),
        handles,
        "no handle leaked"
    );
    // Still bound: the zeroed state (pc 0) is valid and enters; running at
    // an unmapped pc 0 exits with an exception.
    let mut ctx = b.normal_ctx();
    b.enter(&mut ctx, 0, b.vector(), 0).unwrap();
    assert_eq!(b.run_to_vector(&mut ctx, 0), ZX_RESTRICTED_REASON_EXCEPTION);
}

fn state_vmo_cannot_resize_or_have_children<A: SimArch>()
where
    A::RestrictedState: StateView,
{
    let b = Bench::<A>::new();
    let vmo = b.bind().unwrap();
    assert_eq!(
        b.env
            .call_ok(SyscallNumber::VmoSetSize, &[vmo as u64, 2 * PAGE_SIZE]),
        Err(Status::Unavailable)
    );
    for kind in [
        ZX_VMO_CHILD_SLICE,
        ZX_VMO_CHILD_SNAPSHOT,
        ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE,
    ] {
        assert_eq!(
            b.env.call_ok(
                SyscallNumber::VmoCreateChild,
                &[vmo as u64, kind as u64, 0, PAGE_SIZE, b.env.out(50)]
            ),
            Err(Status::NotSupported)
        );
    }
    b.env
        .call_ok(SyscallNumber::VmoGetSize, &[vmo as u64, b.env.out(51)])
        .unwrap();
    assert_eq!(b.env.read_u64(b.env.out(51)), PAGE_SIZE);
}

fn state_vmo_lifetime<A: SimArch>()
where
    A::RestrictedState: StateView,
{
    let b = Bench::<A>::new();
    let mut ctx = b.normal_ctx();
    let unbind = |ctx: &mut A::UserContext| {
        b.syscall(ctx, SyscallNumber::RestrictedUnbindState, &[0]);
        assert_eq!(A::syscall_status(ctx), ZX_OK);
    };
    // Commit the scratch page the out-parameters go to first.
    b.env.write_bytes(b.env.out(40), &[0; 8]);
    let base = b.env.sim.frames_allocated();
    // A handle keeps it after unbind.
    let vmo = b.bind().unwrap();
    assert_eq!(b.env.sim.frames_allocated(), base + 1);
    unbind(&mut ctx);
    assert_eq!(b.env.sim.frames_allocated(), base + 1);
    b.env.close(vmo).unwrap();
    assert_eq!(b.env.sim.frames_allocated(), base);
    // A mapping keeps it after unbind and close.
    let vmo = b.bind().unwrap();
    let ptr = b
        .env
        .vmar_map(b.env.root_vmar, ZX_VM_PERM_READ, 0, vmo, 0, PAGE_SIZE)
        .unwrap();
    b.env.probe_read(ptr).unwrap();
    let with_mapping = b.env.sim.frames_allocated();
    b.env.close(vmo).unwrap();
    unbind(&mut ctx);
    assert_eq!(b.env.sim.frames_allocated(), with_mapping);
    b.env.unmap(b.env.root_vmar, ptr, PAGE_SIZE).unwrap();
    assert!(b.env.sim.frames_allocated() < with_mapping);
    let after_unmap = b.env.sim.frames_allocated();
    // The binding alone keeps it; rebinding releases the old one; thread
    // exit releases the last.
    let vmo = b.bind().unwrap();
    b.env.close(vmo).unwrap();
    assert_eq!(b.env.sim.frames_allocated(), after_unmap + 1);
    let vmo2 = b.bind().unwrap();
    b.env.close(vmo2).unwrap();
    assert_eq!(b.env.sim.frames_allocated(), after_unmap + 1);
    // A second thread keeps the process alive when this one exits.
    let other = b.env.process.create_thread(99).unwrap();
    b.env.thread.exit();
    assert_eq!(b.env.sim.frames_allocated(), after_unmap);
    assert_eq!(b.env.process.state(), ProcessState::Running);
    // The last thread's exit ends the process and tears it down.
    other.exit();
    assert_eq!(b.env.process.state(), ProcessState::Dead);
    assert!(b.env.sim.frames_allocated() < after_unmap);
}

fn kick_rules<A: SimArch>()
where
    A::RestrictedState: StateView,
{
    let b = Bench::<A>::new();
    let kick = |h: u64, options: u64| b.env.call_ok(SyscallNumber::RestrictedKick, &[h, options]);
    // Options first, even before the handle.
    assert_eq!(kick(0x1234_5677, 1), Err(Status::InvalidArgs));
    assert_eq!(kick(0x1234_5677, 0), Err(Status::BadHandle));
    let vmo = b.env.vmo_create(PAGE_SIZE, 0).unwrap();
    assert_eq!(kick(vmo as u64, 0), Err(Status::WrongType));
    let weak = b.self_thread_handle(Rights::DEFAULT_THREAD.difference(Rights::MANAGE_THREAD));
    assert_eq!(kick(weak as u64, 0), Err(Status::AccessDenied));
    let other = b.env.process.create_thread(9).unwrap();
    let oh = b
        .env
        .process
        .add_handle(KernelObject::Thread(other.clone()), Rights::DEFAULT_THREAD)
        .unwrap();
    assert_eq!(kick(oh as u64, 0), Ok(()));
    other.exit();
    assert_eq!(kick(oh as u64, 0), Err(Status::BadState));
}

both_arches!(
    kick_before_enter,
    kick_while_running,
    bind_denied_by_new_vmo_policy,
    bind_out_of_memory_binds_nothing,
    bad_out_pointer_leaves_the_vmo_bound,
    state_vmo_cannot_resize_or_have_children,
    state_vmo_lifetime,
    kick_rules,
);

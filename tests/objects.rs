//! Handles, rights, job policy and the dispatch table, through syscalls on
//! the simulated machine.
#![cfg(feature = "sim")]

mod common;

use common::Env;
use zx_subsystem::abi::*;
use zx_subsystem::arch::Arch;
use zx_subsystem::object::{HandleTable, KernelObject};
use zx_subsystem::syscall::SyscallNumber;

fn handle_values_are_scrambled_and_never_zero<A: Arch>() {
    let env = Env::<A>::new();
    let mut values = Vec::new();
    for _ in 0..64 {
        let h = env.vmo_create(4096, 0).unwrap();
        assert_ne!(h, ZX_HANDLE_INVALID);
        assert_eq!(h & ZX_HANDLE_FIXED_BITS_MASK, ZX_HANDLE_FIXED_BITS_MASK);
        values.push(h);
    }
    let sequential = values
        .windows(2)
        .filter(|w| w[1].wrapping_sub(w[0]) == 4)
        .count();
    assert!(sequential < 8, "handle values look sequential: {values:x?}");
    let mut sorted = values.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), values.len());
}

fn closed_handle_value_is_not_reused_as_is<A: Arch>() {
    let env = Env::<A>::new();
    let h = env.vmo_create(4096, 0).unwrap();
    env.close(h).unwrap();
    let h2 = env.vmo_create(4096, 0).unwrap();
    assert_ne!(h, h2, "a stale value must not name the new handle");
    assert_eq!(env.close(h), Err(Status::BadHandle));
    assert_eq!(env.close(h2), Ok(()));
}

fn close_invalid_is_ok_and_bad_values_are_bad_handle<A: Arch>() {
    let env = Env::<A>::new();
    assert_eq!(env.close(ZX_HANDLE_INVALID), Ok(()));
    for bad in [1u32, 2, 0xffff_ffff, 0x1234_5677, env.root_vmar ^ 4] {
        assert_eq!(env.close(bad), Err(Status::BadHandle), "{bad:#x}");
    }
}

fn lookup_order_is_bad_handle_then_type_then_rights<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(4096, 0).unwrap();
    let no_read = env
        .duplicate(env.root_vmar, (Rights::DEFAULT_VMAR).bits())
        .unwrap();
    // Bad handle beats everything else.
    assert_eq!(
        env.protect(0x7777_7777, ZX_VM_PERM_READ, 0x1000_0000, 4096),
        Err(Status::BadHandle)
    );
    // Wrong type beats rights: a VMO handle where a VMAR is expected.
    assert_eq!(
        env.protect(vmo, ZX_VM_PERM_READ, 0x1000_0000, 4096),
        Err(Status::WrongType)
    );
    // Then rights.
    assert_eq!(
        env.protect(no_read, ZX_VM_PERM_READ, 0x1000_0000, 4096),
        Err(Status::AccessDenied)
    );
}

fn duplicate_only_reduces_rights<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(4096, 0).unwrap();
    let ro = env
        .duplicate(vmo, (Rights::READ | Rights::DUPLICATE | Rights::MAP).bits())
        .unwrap();
    assert_eq!(
        env.info(ro).unwrap().rights,
        (Rights::READ | Rights::DUPLICATE | Rights::MAP).bits()
    );
    // Asking for more than the handle has.
    assert_eq!(
        env.duplicate(ro, (Rights::READ | Rights::WRITE).bits()),
        Err(Status::InvalidArgs)
    );
    // SAME_RIGHTS keeps them.
    let same = env.duplicate(ro, ZX_RIGHT_SAME_RIGHTS).unwrap();
    assert_eq!(env.info(same).unwrap().rights, env.info(ro).unwrap().rights);
    // Without DUPLICATE a handle cannot be duplicated at all.
    let nodup = env.duplicate(vmo, Rights::READ.bits()).unwrap();
    assert_eq!(
        env.duplicate(nodup, ZX_RIGHT_SAME_RIGHTS),
        Err(Status::AccessDenied)
    );
    // Same object.
    assert_eq!(env.info(ro).unwrap().koid, env.info(vmo).unwrap().koid);
}

fn replace_closes_the_source_even_on_failure<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(4096, 0).unwrap();
    let r = env.call_ok(
        SyscallNumber::HandleReplace,
        &[vmo as u64, Rights::READ.bits() as u64, env.out(5)],
    );
    assert_eq!(r, Ok(()));
    let new = env.read_u32(env.out(5));
    assert_eq!(env.info(new).unwrap().rights, Rights::READ.bits());
    assert_eq!(env.close(vmo), Err(Status::BadHandle));
    // More rights than held: INVALID_ARGS, and the source is gone anyway.
    let r = env.call_ok(
        SyscallNumber::HandleReplace,
        &[new as u64, Rights::WRITE.bits() as u64, env.out(5)],
    );
    assert_eq!(r, Err(Status::InvalidArgs));
    assert_eq!(env.close(new), Err(Status::BadHandle));
}

fn out_pointer_failure_closes_the_new_handle<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(4096, 0).unwrap();
    let before = env.process.with_handles(|t| t.len());
    let r = env.call_ok(
        SyscallNumber::HandleDuplicate,
        &[vmo as u64, ZX_RIGHT_SAME_RIGHTS as u64, 0x10],
    );
    assert_eq!(r, Err(Status::InvalidArgs));
    assert_eq!(env.process.with_handles(|t| t.len()), before);
}

fn handle_basic_info<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(4096, ZX_VMO_RESIZABLE).unwrap();
    let info = env.info(vmo).unwrap();
    assert_eq!(info.type_, ZX_OBJ_TYPE_VMO);
    assert_eq!(info.rights, (Rights::DEFAULT_VMO | Rights::RESIZE).bits());
    assert!(info.koid >= ZX_KOID_FIRST);
    let vmar = env.info(env.root_vmar).unwrap();
    assert_eq!(vmar.type_, ZX_OBJ_TYPE_VMAR);
    // Buffer too small.
    assert_eq!(
        env.call_ok(
            SyscallNumber::ObjectGetInfo,
            &[
                vmo as u64,
                ZX_INFO_HANDLE_BASIC as u64,
                env.out(8),
                31,
                0,
                0
            ]
        ),
        Err(Status::BufferTooSmall)
    );
    // actual / avail are written when given.
    env.call_ok(
        SyscallNumber::ObjectGetInfo,
        &[
            vmo as u64,
            ZX_INFO_HANDLE_BASIC as u64,
            env.out(8),
            32,
            env.out(20),
            env.out(21),
        ],
    )
    .unwrap();
    assert_eq!(
        (env.read_u64(env.out(20)), env.read_u64(env.out(21))),
        (1, 1)
    );
    // A thread handle reports its process as related.
    let t = env
        .process
        .add_handle(
            KernelObject::Thread(env.thread.clone()),
            Rights::DEFAULT_THREAD,
        )
        .unwrap();
    let ti = env.info(t).unwrap();
    assert_eq!(ti.type_, ZX_OBJ_TYPE_THREAD);
    assert_eq!(ti.related_koid, env.process.koid());
}

fn unknown_syscall_numbers_are_bad_syscall<A: Arch>() {
    let env = Env::<A>::new();
    let count = SyscallNumber::ALL.len() as u64;
    for nr in [count, count + 1, 1000, u32::MAX as u64, u64::MAX, 1 << 40] {
        let mut args = [0u64; 8];
        args[0] = env.root_vmar as u64;
        assert_eq!(
            env.kernel.syscall_raw(&env.thread, nr, args),
            ZX_ERR_BAD_SYSCALL,
            "nr {nr}"
        );
    }
}

fn the_context_entry_writes_the_status_register<A: Arch>() {
    let env = Env::<A>::new();
    let mut ctx = A::UserContext::default();
    // An unknown syscall through the context entry.
    set_syscall::<A>(&mut ctx, 999, &[]);
    assert_eq!(
        env.kernel.syscall(&env.thread, &mut ctx),
        zx_subsystem::Outcome::Returned(Status::BadSyscall)
    );
    assert_eq!(status_register::<A>(&ctx), ZX_ERR_BAD_SYSCALL as i64);
    // A real call: close of ZX_HANDLE_INVALID succeeds.
    set_syscall::<A>(&mut ctx, SyscallNumber::HandleClose as u64, &[0]);
    assert_eq!(
        env.kernel.syscall(&env.thread, &mut ctx),
        zx_subsystem::Outcome::Returned(Status::Ok)
    );
    assert_eq!(status_register::<A>(&ctx), 0);
}

fn status_register<A: Arch>(ctx: &A::UserContext) -> i64 {
    let any = ctx as &dyn std::any::Any;
    if let Some(c) = any.downcast_ref::<zx_subsystem::arch::x86_64::UserContext>() {
        c.rax as i64
    } else if let Some(c) = any.downcast_ref::<zx_subsystem::arch::aarch64::UserContext>() {
        c.x[0] as i64
    } else {
        unreachable!("unknown arch")
    }
}

fn set_syscall<A: Arch>(ctx: &mut A::UserContext, nr: u64, args: &[u64]) {
    // Both arches' contexts are plain register files: write through the
    // Arch accessors' inverse by name.
    let any = ctx as &mut dyn std::any::Any;
    if let Some(c) = any.downcast_mut::<zx_subsystem::arch::x86_64::UserContext>() {
        c.rax = nr;
        let regs = [
            &mut c.rdi, &mut c.rsi, &mut c.rdx, &mut c.r10, &mut c.r8, &mut c.r9, &mut c.r12,
            &mut c.r13,
        ];
        for (r, a) in regs.into_iter().zip(args) {
            *r = *a;
        }
    } else if let Some(c) = any.downcast_mut::<zx_subsystem::arch::aarch64::UserContext>() {
        c.x[16] = nr;
        c.x[..args.len()].copy_from_slice(args);
    }
}

fn thirty_two_bit_arguments_use_the_low_half<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(4096, 0).unwrap();
    // A handle with garbage in the upper half of the register still names
    // the handle, as in the C ABI.
    assert_eq!(
        env.call_ok(
            SyscallNumber::HandleClose,
            &[(0xdead_beef_u64 << 32) | vmo as u64]
        ),
        Ok(())
    );
}

fn job_policy_new_vmo_deny<A: Arch>() {
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
    let env = Env::in_job(sim, kernel, &job);
    assert_eq!(env.vmo_create(4096, 0), Err(Status::AccessDenied));
}

fn job_policy_new_any_covers_new_vmo<A: Arch>() {
    let sim = zx_subsystem::sim::Sim::<A>::new();
    let kernel = zx_subsystem::Kernel::new(sim.clone());
    let job = kernel.root_job().create_child().unwrap();
    job.set_basic_policy(
        ZX_JOB_POL_ABSOLUTE,
        &[zx_policy_basic_v2_t {
            condition: ZX_POL_NEW_ANY,
            action: ZX_POL_ACTION_DENY,
            flags: ZX_POL_OVERRIDE_ALLOW,
        }],
    )
    .unwrap();
    let env = Env::in_job(sim, kernel, &job);
    assert_eq!(env.vmo_create(4096, 0), Err(Status::AccessDenied));
}

fn job_policy_is_inherited_and_only_stricter<A: Arch>() {
    let sim = zx_subsystem::sim::Sim::<A>::new();
    let kernel = zx_subsystem::Kernel::new(sim.clone());
    let parent = kernel.root_job().create_child().unwrap();
    let deny = zx_policy_basic_v2_t {
        condition: ZX_POL_NEW_VMO,
        action: ZX_POL_ACTION_DENY,
        flags: ZX_POL_OVERRIDE_DENY,
    };
    parent
        .set_basic_policy(ZX_JOB_POL_RELATIVE, &[deny])
        .unwrap();
    let child = parent.create_child().unwrap();
    let allow = zx_policy_basic_v2_t {
        action: ZX_POL_ACTION_ALLOW,
        flags: ZX_POL_OVERRIDE_ALLOW,
        ..deny
    };
    // Relative: the locked entry is silently kept.
    assert_eq!(
        child.set_basic_policy(ZX_JOB_POL_RELATIVE, &[allow]),
        Ok(())
    );
    // Absolute: the call fails.
    assert_eq!(
        child
            .set_basic_policy(ZX_JOB_POL_ABSOLUTE, &[allow])
            .map_err(|e| e.status()),
        Err(Status::AlreadyExists)
    );
    // Same action and still locked: fine.
    assert_eq!(child.set_basic_policy(ZX_JOB_POL_ABSOLUTE, &[deny]), Ok(()));
    let env = Env::in_job(sim, kernel, &child);
    assert_eq!(env.vmo_create(4096, 0), Err(Status::AccessDenied));
    // A job with a process can no longer change its policy.
    assert_eq!(
        child
            .set_basic_policy(ZX_JOB_POL_RELATIVE, &[deny])
            .map_err(|e| e.status()),
        Err(Status::BadState)
    );
    // ... and neither can its parent, which has a child job.
    assert_eq!(
        parent
            .set_basic_policy(ZX_JOB_POL_RELATIVE, &[deny])
            .map_err(|e| e.status()),
        Err(Status::BadState)
    );
}

fn job_set_policy_syscall_rules<A: Arch>() {
    let env = Env::<A>::new();
    let job = env.kernel.root_job().create_child().unwrap();
    let jh = env
        .process
        .add_handle(KernelObject::Job(job.clone()), Rights::DEFAULT_JOB)
        .unwrap();
    let buf = env.out(30);
    let write_v1 = |entries: &[(u32, u32)]| {
        let mut bytes = Vec::new();
        for (c, p) in entries {
            bytes.extend_from_slice(&c.to_ne_bytes());
            bytes.extend_from_slice(&p.to_ne_bytes());
        }
        env.write_bytes(buf, &bytes);
    };
    let set = |options: u32, topic: u32, ptr: u64, count: u64| {
        env.call_ok(
            SyscallNumber::JobSetPolicy,
            &[jh as u64, options as u64, topic as u64, ptr, count],
        )
    };
    write_v1(&[(ZX_POL_NEW_VMO, ZX_POL_ACTION_DENY)]);
    assert_eq!(
        set(2, ZX_JOB_POL_BASIC_V1, buf, 1),
        Err(Status::InvalidArgs),
        "bad mode"
    );
    assert_eq!(set(0, 77, buf, 1), Err(Status::InvalidArgs), "bad topic");
    assert_eq!(
        set(0, ZX_JOB_POL_BASIC_V1, 0, 1),
        Err(Status::InvalidArgs),
        "null"
    );
    assert_eq!(
        set(0, ZX_JOB_POL_BASIC_V1, buf, 0),
        Err(Status::InvalidArgs),
        "count 0"
    );
    assert_eq!(
        set(0, ZX_JOB_POL_BASIC_V1, buf, 33),
        Err(Status::InvalidArgs),
        "count 33"
    );
    assert_eq!(
        set(0, ZX_JOB_POL_BASIC_V1, 0x10, 1),
        Err(Status::InvalidArgs),
        "bad ptr"
    );
    write_v1(&[(ZX_POL_MAX, ZX_POL_ACTION_DENY)]);
    assert_eq!(
        set(0, ZX_JOB_POL_BASIC_V1, buf, 1),
        Err(Status::InvalidArgs),
        "condition"
    );
    write_v1(&[(ZX_POL_NEW_VMO, ZX_POL_ACTION_MAX)]);
    assert_eq!(
        set(0, ZX_JOB_POL_BASIC_V1, buf, 1),
        Err(Status::NotSupported),
        "action"
    );
    write_v1(&[(ZX_POL_NEW_VMO, ZX_POL_ACTION_KILL)]);
    assert_eq!(
        set(0, ZX_JOB_POL_BASIC_V1, buf, 1),
        Err(Status::NotSupported),
        "kill"
    );
    // A failed call changed nothing.
    assert_eq!(
        job.policy().query(ZX_POL_NEW_VMO),
        zx_subsystem::object::PolicyAction::Allow
    );
    // Rights: SET_POLICY needed.
    let weak = env.duplicate(jh, Rights::DUPLICATE.bits()).unwrap();
    write_v1(&[(ZX_POL_NEW_VMO, ZX_POL_ACTION_DENY)]);
    assert_eq!(
        env.call_ok(
            SyscallNumber::JobSetPolicy,
            &[weak as u64, 0, ZX_JOB_POL_BASIC_V1 as u64, buf, 1]
        ),
        Err(Status::AccessDenied)
    );
    assert_eq!(set(0, ZX_JOB_POL_BASIC_V1, buf, 1), Ok(()));
    assert_eq!(
        job.policy().query(ZX_POL_NEW_VMO),
        zx_subsystem::object::PolicyAction::Deny
    );
}

fn table_handle_count_is_bounded<A: Arch>() {
    // The table refuses to grow past MAX_HANDLES instead of panicking.
    let mut t = HandleTable::<zx_subsystem::sim::Sim<A>>::new(0x5555_0000_1234);
    let job = zx_subsystem::object::Job::new_root();
    for _ in 0..zx_subsystem::object::MAX_HANDLES {
        t.add(zx_subsystem::object::Handle {
            object: KernelObject::Job(job.clone()),
            rights: Rights::empty(),
        })
        .unwrap();
    }
    let err = t
        .add(zx_subsystem::object::Handle {
            object: KernelObject::Job(job.clone()),
            rights: Rights::empty(),
        })
        .unwrap_err();
    assert_eq!(err.status(), Status::NoResources);
}

both_arches!(
    handle_values_are_scrambled_and_never_zero,
    closed_handle_value_is_not_reused_as_is,
    close_invalid_is_ok_and_bad_values_are_bad_handle,
    lookup_order_is_bad_handle_then_type_then_rights,
    duplicate_only_reduces_rights,
    replace_closes_the_source_even_on_failure,
    out_pointer_failure_closes_the_new_handle,
    handle_basic_info,
    unknown_syscall_numbers_are_bad_syscall,
    the_context_entry_writes_the_status_register,
    thirty_two_bit_arguments_use_the_low_half,
    job_policy_new_vmo_deny,
    job_policy_new_any_covers_new_vmo,
    job_policy_is_inherited_and_only_stricter,
    job_set_policy_syscall_rules,
    table_handle_count_is_bounded,
);

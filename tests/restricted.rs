//! Restricted mode on the simulated machine, both arches: Zircon's
//! restricted-mode core cases (`restricted-mode.cc`) and the rules of
//! SPEC §3: entering, binding, exits and their state. Restricted code is
//! scripted on the sim's CPU; normal mode is played by the test, which
//! makes syscalls through `Kernel::syscall` with a register context,
//! exactly as a host's trap loop would (`resthelp`). Kicks and the state
//! VMO's rules are in `tests/restricted_kick.rs`.
#![cfg(feature = "sim")]

mod common;
mod resthelp;

use resthelp::*;
use zx_subsystem::Outcome;
use zx_subsystem::PAGE_SIZE;
use zx_subsystem::abi::*;
use zx_subsystem::arch::{Arch, X86_64};
use zx_subsystem::sim::cpu::{INSN_SIZE, Insn, SimArch};
use zx_subsystem::syscall::SyscallNumber;
use zx_subsystem::trap::Trap;

fn enter_invalid_args<A: SimArch>()
where
    A::RestrictedState: StateView,
{
    let b = Bench::<A>::new();
    let mut ctx = b.normal_ctx();
    assert_eq!(
        b.enter(&mut ctx, 0xffff_ffff, b.vector(), 0),
        Err(Status::InvalidArgs)
    );
    // The vector check comes before the bound-state check.
    assert_eq!(b.enter(&mut ctx, 0, u64::MAX, 0), Err(Status::InvalidArgs));
    let kernel_half = if A::NAME == X86_64::NAME {
        1 << 47
    } else {
        1 << 55
    };
    assert_eq!(
        b.enter(&mut ctx, 0, kernel_half, 0),
        Err(Status::InvalidArgs)
    );
    // 0 passes the range check; nothing is bound.
    assert_eq!(b.enter(&mut ctx, 0, 0, 0), Err(Status::BadState));
    assert_eq!(b.enter(&mut ctx, 0, b.vector(), 0), Err(Status::BadState));
}

fn bind_state<A: SimArch>()
where
    A::RestrictedState: StateView,
{
    let b = Bench::<A>::new();
    let out = b.env.out(40);
    for bad in [1u64, 2, 0xffff_ffff] {
        b.env.write_bytes(out, &[0xee; 4]);
        let mut ctx = b.normal_ctx();
        b.syscall(&mut ctx, SyscallNumber::RestrictedBindState, &[bad, out]);
        assert_eq!(A::syscall_status(&ctx), ZX_ERR_INVALID_ARGS);
        assert_eq!(b.env.read_u32(out), 0xeeee_eeee, "no handle written");
    }
    let first = b.bind().unwrap();
    let vmo = b.bind().unwrap();
    assert_ne!(first, vmo);
    // The state VMO: default VMO rights (no RESIZE), one page.
    let info = b.env.info(vmo).unwrap();
    assert_eq!(info.rights, Rights::DEFAULT_VMO.bits());
    assert_eq!(info.type_, ZX_OBJ_TYPE_VMO);
    let ptr = b
        .env
        .vmar_map(
            b.env.root_vmar,
            ZX_VM_PERM_READ | ZX_VM_PERM_WRITE,
            0,
            vmo,
            0,
            PAGE_SIZE,
        )
        .unwrap();
    let n = std::mem::size_of::<A::RestrictedState>();
    let mut through_map = vec![0u8; n];
    b.env.cpu_read(ptr, &mut through_map).unwrap();
    assert_eq!(b.read_bytes(vmo, n), through_map);
    b.env.cpu_write(ptr, &vec![0x99; n]).unwrap();
    assert_eq!(b.read_bytes(vmo, n), vec![0x99; n]);
    let buf = b.env.out(100);
    b.env.write_bytes(buf, &vec![0x55; n]);
    b.env
        .call_ok(SyscallNumber::VmoWrite, &[vmo as u64, buf, 0, n as u64])
        .unwrap();
    b.env.cpu_read(ptr, &mut through_map).unwrap();
    assert_eq!(through_map, vec![0x55; n]);
    b.env.unmap(b.env.root_vmar, ptr, PAGE_SIZE).unwrap();
}

fn unbind_state<A: SimArch>()
where
    A::RestrictedState: StateView,
{
    let b = Bench::<A>::new();
    let mut ctx = b.normal_ctx();
    for _ in 0..3 {
        b.syscall(&mut ctx, SyscallNumber::RestrictedUnbindState, &[0]);
        assert_eq!(A::syscall_status(&ctx), ZX_OK);
    }
    for bad in [1u64, 0xffff_ffff] {
        b.syscall(&mut ctx, SyscallNumber::RestrictedUnbindState, &[bad]);
        assert_eq!(A::syscall_status(&ctx), ZX_ERR_INVALID_ARGS);
    }
    b.bind().unwrap();
    b.syscall(&mut ctx, SyscallNumber::RestrictedUnbindState, &[0]);
    assert_eq!(A::syscall_status(&ctx), ZX_OK);
    assert_eq!(b.enter(&mut ctx, 0, b.vector(), 0), Err(Status::BadState));
}

fn basic<A: SimArch>()
where
    A::RestrictedState: StateView,
{
    let mut b = Bench::<A>::new();
    let syscall_at = b.code + 2 * INSN_SIZE;
    let post = b.cpu.load(
        b.code,
        vec![
            twiddle::<A>(),
            store_reg2_at_tls::<A>(),
            Insn::Syscall,
            Insn::Jump(syscall_at),
        ],
    ) - INSN_SIZE;
    let vmo = b.bind().unwrap();
    let init = b.initial_state(b.code);
    b.write_state(vmo, &init);
    let mut ctx = b.normal_ctx();
    b.enter(&mut ctx, 0, b.vector(), 0x1234).unwrap();
    assert!(b.env.kernel.in_restricted_mode(&b.env.thread));
    assert_eq!(
        b.run_to_vector(&mut ctx, 0x1234),
        ZX_RESTRICTED_REASON_SYSCALL
    );
    let saved = b.read_state(vmo);
    assert_eq!(saved.pc(), post, "saved pc is after the syscall");
    let is_x86 = A::NAME == X86_64::NAME;
    for (i, (got, was)) in saved.gprs().into_iter().zip(init.gprs()).enumerate() {
        if is_x86 && (i == 2 || i == 11) {
            assert_eq!(got, 0, "rcx and r11 read 0 after a syscall exit");
        } else {
            assert_eq!(got, was.wrapping_add(1), "register {i}");
        }
    }
    // Flags: nothing outside the user-settable set (x86 reserved bits clear).
    if is_x86 {
        assert_eq!(
            saved.flags() & !zx_subsystem::arch::x86_64::restricted::X86_FLAGS_USER,
            0
        );
    } else {
        assert_eq!(saved.flags() & 0x0fff_ffff, 0);
    }
    // TLS was live in restricted mode.
    assert_eq!(b.env.read_u64(b.tls), pattern(2).wrapping_add(1));
}

fn in_thread_exception<A: SimArch>()
where
    A::RestrictedState: StateView,
{
    let mut b = Bench::<A>::new();
    let ud_at = b.code + INSN_SIZE;
    b.cpu.load(b.code, vec![twiddle::<A>(), Insn::Undefined]);
    let vmo = b.bind().unwrap();
    let init = b.initial_state(b.code);
    b.write_state(vmo, &init);
    let mut ctx = b.normal_ctx();
    b.enter(&mut ctx, 0, b.vector(), 7).unwrap();
    assert_eq!(b.run_to_vector(&mut ctx, 7), ZX_RESTRICTED_REASON_EXCEPTION);
    let saved = b.read_state(vmo);
    assert_eq!(saved.pc(), ud_at);
    // Exceptions do not zero rcx/r11.
    for (got, was) in saved.gprs().into_iter().zip(init.gprs()) {
        assert_eq!(got, was.wrapping_add(1));
    }
    let report = b.read_report(vmo);
    assert_eq!(report.header.size, 40);
    assert_eq!(report.header.type_, ZX_EXCP_UNDEFINED_INSTRUCTION);
    assert_eq!((report.synth_code, report.synth_data), (0, 0));
    if A::NAME == X86_64::NAME {
        assert_eq!(report.arch, [6, 0, 0], "vector 6, err_code 0, cr2 0");
    } else {
        assert_eq!(report.arch[0] as u32, 1 << 25, "esr");
        assert_eq!(report.arch[1], 0, "far");
    }
}

fn enter_bad_state_struct<A: SimArch>()
where
    A::RestrictedState: StateView,
{
    let b = Bench::<A>::new();
    let vmo = b.bind().unwrap();
    let good = b.initial_state(b.code);
    let mut bad_states = Vec::new();
    let mut s = good;
    let kernel_pc = if A::NAME == X86_64::NAME {
        1u64 << 47
    } else {
        1 << 55
    };
    for pc in [u64::MAX, kernel_pc] {
        let mut bytes = s.as_bytes().to_vec();
        let off = pc_offset::<A>();
        bytes[off..off + 8].copy_from_slice(&pc.to_ne_bytes());
        bad_states.push(A::RestrictedState::from_bytes(&bytes).unwrap());
    }
    s.set_bad_flags();
    bad_states.push(s);
    if A::NAME == X86_64::NAME {
        for field in [144usize, 152] {
            let mut bytes = good.as_bytes().to_vec();
            bytes[field..field + 8].copy_from_slice(&(1u64 << 63).to_ne_bytes());
            bad_states.push(A::RestrictedState::from_bytes(&bytes).unwrap());
        }
    }
    for bad in bad_states {
        b.write_state(vmo, &bad);
        let mut ctx = b.normal_ctx();
        assert_eq!(
            b.enter(&mut ctx, 0, b.vector(), 0),
            Err(Status::BadState),
            "{bad:?}"
        );
        assert!(!b.env.kernel.in_restricted_mode(&b.env.thread));
    }
}

fn write_to_read_only_page_exits_with_the_fault_address<A: SimArch>()
where
    A::RestrictedState: StateView,
{
    let mut b = Bench::<A>::new();
    let data = b.env.vmo_create(2 * PAGE_SIZE, 0).unwrap();
    let page = b
        .env
        .vmar_map(
            b.env.root_vmar,
            ZX_VM_PERM_READ | ZX_VM_PERM_WRITE,
            0,
            data,
            0,
            2 * PAGE_SIZE,
        )
        .unwrap();
    b.env
        .protect(
            b.env.root_vmar,
            ZX_VM_PERM_READ,
            page + PAGE_SIZE,
            PAGE_SIZE,
        )
        .unwrap();
    let target = page + PAGE_SIZE + 0x40;
    // The first store demand-faults a fresh page (resolved, no exit); the
    // load faults the read-only page in (resolved); the second store hits
    // the now present read-only translation.
    let store_at = b.code + 2 * INSN_SIZE;
    b.cpu.load(
        b.code,
        vec![
            Insn::Store(Box::new(move |_| page + 8), Box::new(|_| vec![1, 2, 3])),
            Insn::Load(Box::new(move |_| target), Box::new(|_, _| {})),
            Insn::Store(Box::new(move |_| target), Box::new(|_| vec![4])),
        ],
    );
    let vmo = b.bind().unwrap();
    b.write_state(vmo, &b.initial_state(b.code));
    let mut ctx = b.normal_ctx();
    b.enter(&mut ctx, 0, b.vector(), 0).unwrap();
    assert_eq!(b.run_to_vector(&mut ctx, 0), ZX_RESTRICTED_REASON_EXCEPTION);
    let report = b.read_report(vmo);
    assert_eq!(report.header.type_, ZX_EXCP_FATAL_PAGE_FAULT);
    assert_eq!(report.synth_code, ZX_ERR_ACCESS_DENIED as u32);
    if A::NAME == X86_64::NAME {
        // #PF error code: present, write, user.
        assert_eq!(report.arch, [14, 0b111, target]);
    } else {
        assert_eq!(report.arch[1], target, "far");
        assert_eq!(report.arch[0] >> 26, 0x24, "data abort from EL0");
        assert_ne!(report.arch[0] & (1 << 6), 0, "WnR");
        assert_eq!(report.arch[0] & 0x3c, 0x0c, "permission fault");
    }
    assert_eq!(b.read_state(vmo).pc(), store_at);
    // The first store went through.
    let mut got = [0u8; 3];
    b.env.cpu_read(page + 8, &mut got).unwrap();
    assert_eq!(got, [1, 2, 3]);
}

fn syscalls_in_restricted_mode_are_not_dispatched<A: SimArch>()
where
    A::RestrictedState: StateView,
{
    let mut b = Bench::<A>::new();
    let victim = b.env.vmo_create(PAGE_SIZE, 0).unwrap();
    b.cpu.load(
        b.code,
        vec![
            Insn::Regs(Box::new(move |ctx| {
                A::set_syscall(ctx, SyscallNumber::HandleClose as u64, &[victim as u64])
            })),
            Insn::Syscall,
        ],
    );
    let vmo = b.bind().unwrap();
    b.write_state(vmo, &b.initial_state(b.code));
    let mut ctx = b.normal_ctx();
    b.enter(&mut ctx, 0, b.vector(), 0).unwrap();
    assert_eq!(b.run_to_vector(&mut ctx, 0), ZX_RESTRICTED_REASON_SYSCALL);
    assert!(b.env.info(victim).is_ok(), "zx_handle_close did not run");
}

fn normal_mode_faults_are_not_restricted_exits<A: SimArch>()
where
    A::RestrictedState: StateView,
{
    let b = Bench::<A>::new();
    let mut ctx = b.normal_ctx();
    A::set_pc(&mut ctx, 0x10);
    let r = b.env.kernel.exception(
        &b.env.thread,
        &mut ctx,
        Trap::Exception(A::undefined_instruction()),
    );
    assert_eq!(r, Outcome::Unhandled);
    assert_eq!(A::pc(&ctx), 0x10, "context untouched");
    // An interrupt in normal mode with a kick pending does nothing.
    let me = b.self_thread_handle(Rights::DEFAULT_THREAD);
    b.env
        .call_ok(SyscallNumber::RestrictedKick, &[me as u64, 0])
        .unwrap();
    let r = b
        .env
        .kernel
        .exception(&b.env.thread, &mut ctx, Trap::Interrupt(32));
    assert_eq!(r, Outcome::Resume);
    assert_eq!(A::pc(&ctx), 0x10);
}

both_arches!(
    enter_invalid_args,
    bind_state,
    unbind_state,
    basic,
    in_thread_exception,
    enter_bad_state_struct,
    write_to_read_only_page_exits_with_the_fault_address,
    syscalls_in_restricted_mode_are_not_dispatched,
    normal_mode_faults_are_not_restricted_exits,
);

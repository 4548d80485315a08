//! Shared processes (SPEC §5), both arches: Zircon's
//! `ProcessTest.SharedMapInPrototype`, `ProcessTest.RestrictedVmarNotShared`,
//! `ProcessTest.SharedProcessInvalidPrototype` (`process_shared.cc`'s
//! `ProcessShared.*`) and `RestrictedModeUnified.Basic` /
//! `.TestRestrictedAccessToSharedRegion` (`restricted-mode` unified tests),
//! plus the isolation rules: restricted code cannot read, write or run
//! anything in the shared region, two members see different bytes at the
//! same restricted address, shared mappings are seen by every member, a
//! shared-region protect reaches every member's TLB entries, and the last
//! process out frees every frame.
#![cfg(feature = "sim")]

mod common;

use std::sync::Arc;

use common::group::{Group, ROOT_VMAR_RIGHTS};
use zx_subsystem::abi::*;
use zx_subsystem::arch::Arch;
use zx_subsystem::object::{KernelObject, ProcessState};
use zx_subsystem::sim::cpu::{INSN_SIZE, Insn, SimArch};
use zx_subsystem::syscall::SyscallNumber;
use zx_subsystem::vm::{AspaceKind, UserMemory};
use zx_subsystem::{ExitReason, Outcome, PAGE_SIZE};

const RW: u32 = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE;
const STACK_WORD: u64 = 0xaaaa_bbbb_cccc_dddd;

/// The layout SPEC §5 fixes: the restricted region ends on a top-level
/// entry, the shared region starts one page above it.
fn layout<A: SimArch>() {
    let g = Group::<A>::new();
    let m = g.member();
    let shared = g.proto.aspace();
    let restricted = m.process.restricted_aspace().unwrap();
    let top: u64 = if A::NAME == "x86_64" {
        1 << 46
    } else {
        1 << 47
    };
    assert_eq!(restricted.kind(), AspaceKind::Restricted);
    assert_eq!(restricted.range(), (0x20_0000, top - 0x20_0000));
    assert_eq!(shared.kind(), AspaceKind::Shared);
    let (sbase, ssize) = shared.range();
    assert_eq!(sbase, top + PAGE_SIZE);
    assert_eq!(sbase + ssize, A::USER_ASPACE_BASE + A::USER_ASPACE_SIZE);
    // The member's root VMAR is the shared region, the prototype's too.
    assert!(Arc::ptr_eq(m.process.aspace(), shared));
    assert!(g.proto.restricted_aspace().is_none());
    assert!(m.process.shares_with(&g.proto));
}

/// `ProcessShared.MapInPrototype`: a mapping made through the prototype's
/// shared VMAR is visible to the member at the same address.
fn shared_map_in_prototype<A: SimArch>() {
    let g = Group::<A>::new();
    let m = g.member();
    let (vmo, addr) = g.map_new(g.shared_vmar, 1, RW);
    g.vmo_write(vmo, 0, b"abc");
    let mut read = *b"def";
    g.proto.copy_from_user(addr, &mut read).unwrap();
    assert_eq!(&read, b"abc");
    let mut read = *b"def";
    m.process.copy_from_user(addr, &mut read).unwrap();
    assert_eq!(&read, b"abc");
}

/// `ProcessShared.RestrictedVmarNotShared`: a mapping of the member's
/// restricted VMAR is not visible to the prototype.
fn restricted_vmar_not_shared<A: SimArch>() {
    let g = Group::<A>::new();
    let m = g.member();
    let (vmo, addr) = g.map_new(m.restricted_vmar, 1, RW);
    g.vmo_write(vmo, 0, b"abc");
    let mut read = *b"def";
    assert!(g.proto.copy_from_user(addr, &mut read).is_err());
    assert_eq!(&read, b"def");
    let mut read = *b"def";
    m.process.copy_from_user(addr, &mut read).unwrap();
    assert_eq!(&read, b"abc");
}

/// `ProcessShared.InvalidPrototype`: a process made without
/// `ZX_PROCESS_SHARED` cannot start a group.
fn shared_process_invalid_prototype<A: SimArch>() {
    let g = Group::<A>::new();
    let job = g.kernel.root_job().create_child().unwrap();
    let plain = g.kernel.create_process(&job).unwrap();
    let h = g
        .proto
        .add_handle(
            KernelObject::Process(plain.clone()),
            Rights::DEFAULT_PROCESS,
        )
        .unwrap();
    let name = g.out(10);
    g.proto.copy_to_user(name, b"process\0").unwrap();
    assert_eq!(
        g.call(
            &g.proto_thread,
            SyscallNumber::ProcessCreateShared,
            &[h as u64, 0, name, 8, g.out(11), g.out(12)],
        ),
        Err(Status::InvalidArgs)
    );
    plain.terminate();
}

/// Maps code for the sim's CPU: `insns` at the start of a new RX mapping
/// in `vmar`; returns its address.
fn load_code<A: SimArch>(
    g: &mut Group<A>,
    vmar: &zx_subsystem::vm::Vmar<zx_subsystem::sim::Sim<A>>,
    insns: Vec<Insn<A>>,
) -> u64 {
    let addr = g.map_code(vmar);
    g.cpu.load(addr, insns);
    addr
}

/// A vector page in the shared region.
fn vector<A: SimArch>(g: &Group<A>) -> u64 {
    g.map_code(g.proto.root_vmar())
}

/// Restricted code that stores `STACK_WORD` just below its stack pointer
/// and makes a syscall.
fn push_and_syscall<A: SimArch>() -> Vec<Insn<A>> {
    vec![
        Insn::Store(
            Box::new(|ctx: &A::UserContext| sp_of::<A>(ctx) - 8),
            Box::new(|_: &A::UserContext| STACK_WORD.to_ne_bytes().to_vec()),
        ),
        Insn::Syscall,
    ]
}

fn sp_of<A: SimArch>(ctx: &A::UserContext) -> u64 {
    let mut c = ctx.clone();
    let regs = A::gprs(&mut c);
    if A::NAME == "x86_64" {
        *regs[7]
    } else {
        *regs[regs.len() - 1]
    }
}

/// `RestrictedModeUnified.Basic`: restricted code in the member's
/// restricted region writes to its stack there; normal mode, back at the
/// vector, reads the word straight through the unified view (no VMO read)
/// and through the stack VMO.
fn restricted_mode_unified_basic<A: SimArch>() {
    let mut g = Group::<A>::new();
    let m = g.member();
    let (stack_vmo, stack) = g.map_new(m.restricted_vmar, 1, RW);
    let code = load_code(
        &mut g,
        m.process.restricted_vmar().unwrap(),
        push_and_syscall(),
    );
    let vector = vector(&g);
    let state = g.bind(&m.thread);
    g.write_state(state, code, stack + PAGE_SIZE);
    let mut ctx = A::UserContext::default();
    assert_eq!(
        g.enter_and_run(&m.thread, &mut ctx, vector),
        ExitReason::Syscall
    );
    // Normal mode runs on the unified root: the restricted stack is there.
    let view = g.sim.switch_in(&g.kernel, &m.thread);
    let r = m.process.restricted_aspace().unwrap();
    assert_eq!(view.root, r.unified_root().unwrap());
    assert_eq!(view.asid, r.unified_asid().unwrap());
    assert_eq!(g.cpu_read(&m.thread, stack + PAGE_SIZE - 8), Ok(STACK_WORD));
    assert_eq!(
        g.vmo_read(stack_vmo, PAGE_SIZE - 8, 8),
        STACK_WORD.to_ne_bytes().to_vec()
    );
}

/// `RestrictedModeUnified.TestRestrictedAccessToSharedRegion`: a stack in
/// the shared region faults in restricted mode: `EXCEPTION`, a fatal page
/// fault report at the address, and the shared page untouched.
fn restricted_access_to_shared_region<A: SimArch>() {
    let mut g = Group::<A>::new();
    let m = g.member();
    let (stack_vmo, stack) = g.map_new(g.shared_vmar, 1, RW);
    g.vmo_write(stack_vmo, PAGE_SIZE - 8, &[0x5a; 8]);
    let code = load_code(
        &mut g,
        m.process.restricted_vmar().unwrap(),
        push_and_syscall(),
    );
    let vector = vector(&g);
    let state = g.bind(&m.thread);
    g.write_state(state, code, stack + PAGE_SIZE);
    let mut ctx = A::UserContext::default();
    assert_eq!(
        g.enter_and_run(&m.thread, &mut ctx, vector),
        ExitReason::Exception
    );
    let report = g.report(state);
    assert_eq!(report.header.type_, ZX_EXCP_FATAL_PAGE_FAULT);
    assert_eq!(fault_address::<A>(&report), stack + PAGE_SIZE - 8);
    assert_eq!(g.vmo_read(stack_vmo, PAGE_SIZE - 8, 8), vec![0x5a; 8]);
}

/// The address of a fatal page fault report.
fn fault_address<A: Arch>(report: &zx_exception_report_t) -> u64 {
    let words = report.as_bytes();
    let word = |at: usize| u64::from_ne_bytes(words[at..at + 8].try_into().unwrap());
    if A::NAME == "x86_64" {
        // x86: vector, err_code, cr2.
        word(8 + 16)
    } else {
        // arm64: esr (u32) + pad, far.
        word(8 + 8)
    }
}

/// Restricted code reading, writing and executing each page of the shared
/// region the group maps (code, data, read-only data): every access leaves
/// with `EXCEPTION` at that address, and nothing changes.
fn restricted_code_cannot_touch_the_shared_region<A: SimArch>() {
    let mut g = Group::<A>::new();
    let m = g.member();
    let vector = vector(&g);
    let (data_vmo, data) = g.map_new(g.shared_vmar, 2, RW);
    let (ro_vmo, ro) = g.map_new(g.shared_vmar, 1, ZX_VM_PERM_READ);
    g.vmo_write(data_vmo, 0, &[0x11; 8]);
    g.vmo_write(data_vmo, PAGE_SIZE, &[0x22; 8]);
    g.vmo_write(ro_vmo, 0, &[0x33; 8]);
    // Normal mode touches them first, so the unified view caches them.
    let setup = g.member();
    for va in [data, data + PAGE_SIZE, ro] {
        g.cpu_read(&setup.thread, va).unwrap();
    }
    let state = g.bind(&m.thread);
    let pages = [vector, data, data + PAGE_SIZE, ro];
    for &target in &pages {
        let accesses: [(&str, Vec<Insn<A>>); 3] = [
            (
                "read",
                vec![
                    Insn::Load(Box::new(move |_| target), Box::new(|_, _| {})),
                    Insn::Syscall,
                ],
            ),
            (
                "write",
                vec![
                    Insn::Store(Box::new(move |_| target), Box::new(|_| vec![0xee; 8])),
                    Insn::Syscall,
                ],
            ),
            ("execute", vec![Insn::Jump(target)]),
        ];
        for (what, insns) in accesses {
            let code = load_code(&mut g, m.process.restricted_vmar().unwrap(), insns);
            g.write_state(state, code, 0);
            let mut ctx = A::UserContext::default();
            assert_eq!(
                g.enter_and_run(&m.thread, &mut ctx, vector),
                ExitReason::Exception,
                "{what} of {target:#x}"
            );
            let report = g.report(state);
            assert_eq!(report.header.type_, ZX_EXCP_FATAL_PAGE_FAULT, "{what}");
            assert_eq!(fault_address::<A>(&report), target, "{what}");
        }
    }
    assert_eq!(g.vmo_read(data_vmo, 0, 8), vec![0x11; 8]);
    assert_eq!(g.vmo_read(data_vmo, PAGE_SIZE, 8), vec![0x22; 8]);
    assert_eq!(g.vmo_read(ro_vmo, 0, 8), vec![0x33; 8]);
}

/// Two members of one group map different VMOs at the same restricted
/// address: each sees only its own bytes, in normal and restricted mode.
fn members_see_their_own_restricted_bytes<A: SimArch>() {
    let g = Group::<A>::new();
    let (a, b) = (g.member(), g.member());
    let at = 0x40_0000;
    let mut mapped = Vec::new();
    for (member, byte) in [(&a, 0xa1u8), (&b, 0xb2u8)] {
        let t = &g.proto_thread;
        g.call(t, SyscallNumber::VmoCreate, &[PAGE_SIZE, 0, g.out(0)])
            .unwrap();
        let vmo = g.read_u32(g.out(0));
        let r = member.process.restricted_vmar().unwrap();
        let offset = at - r.range().unwrap().0;
        g.call(
            t,
            SyscallNumber::VmarMap,
            &[
                member.restricted_vmar as u64,
                (RW | ZX_VM_SPECIFIC) as u64,
                offset,
                vmo as u64,
                0,
                PAGE_SIZE,
                g.out(1),
            ],
        )
        .unwrap();
        assert_eq!(g.read_u64(g.out(1)), at);
        g.vmo_write(vmo, 0, &[byte; 8]);
        mapped.push(vmo);
    }
    assert_eq!(g.cpu_read(&a.thread, at), Ok(u64::from_ne_bytes([0xa1; 8])));
    assert_eq!(g.cpu_read(&b.thread, at), Ok(u64::from_ne_bytes([0xb2; 8])));
    g.cpu_write(&a.thread, at, 0x1234).unwrap();
    assert_eq!(g.cpu_read(&b.thread, at), Ok(u64::from_ne_bytes([0xb2; 8])));
    assert_eq!(g.cpu_read(&a.thread, at), Ok(0x1234));
    // And the prototype has nothing there.
    let mut byte = [0u8; 1];
    assert!(g.proto.copy_from_user(at, &mut byte).is_err());
}

/// A mapping one member makes in the shared region (through a handle to
/// the shared VMAR in the common table) is read by the other.
fn a_shared_mapping_by_one_member_is_seen_by_the_other<A: SimArch>() {
    let g = Group::<A>::new();
    let (a, b) = (g.member(), g.member());
    let t = &a.thread;
    g.call(t, SyscallNumber::VmoCreate, &[PAGE_SIZE, 0, g.out(0)])
        .unwrap();
    let vmo = g.read_u32(g.out(0));
    g.call(
        t,
        SyscallNumber::VmarMap,
        &[
            g.shared_vmar as u64,
            RW as u64,
            0,
            vmo as u64,
            0,
            PAGE_SIZE,
            g.out(1),
        ],
    )
    .unwrap();
    let addr = g.read_u64(g.out(1));
    g.cpu_write(&a.thread, addr, 0xfeed_f00d).unwrap();
    assert_eq!(g.cpu_read(&b.thread, addr), Ok(0xfeed_f00d));
}

/// A protect of a shared page while another member has it cached in its
/// unified view's TLB entries: that member's next write faults (the sim's
/// TLB model keeps stale entries of any identifier the flush misses).
fn shared_protect_reaches_every_member<A: SimArch>() {
    let g = Group::<A>::new();
    let (a, b) = (g.member(), g.member());
    let (_, addr) = g.map_new(g.shared_vmar, 1, RW);
    g.cpu_write(&b.thread, addr, 7).unwrap();
    let vb = g.sim.switch_in(&g.kernel, &b.thread);
    assert!(g.sim.tlb_holds(vb.asid, addr), "b's view caches the page");
    g.call(
        &a.thread,
        SyscallNumber::VmarProtect,
        &[
            g.shared_vmar as u64,
            ZX_VM_PERM_READ as u64,
            addr,
            PAGE_SIZE,
        ],
    )
    .unwrap();
    assert!(
        !g.sim.tlb_stale(vb.root, vb.asid, addr),
        "no stale entry in b's view"
    );
    assert!(g.cpu_write(&b.thread, addr, 8).is_err(), "b's write faults");
    assert_eq!(g.cpu_read(&b.thread, addr), Ok(7));
}

/// The same for a restricted-region change: both roots of the member (the
/// restricted one and the unified one) lose the translation.
fn restricted_unmap_reaches_both_views<A: SimArch>() {
    let mut g = Group::<A>::new();
    let m = g.member();
    let (_, page) = g.map_new(m.restricted_vmar, 1, RW);
    let vector = vector(&g);
    // Normal mode caches it in the unified view, restricted mode in the
    // restricted view.
    g.cpu_write(&m.thread, page, 1).unwrap();
    let code = load_code(
        &mut g,
        m.process.restricted_vmar().unwrap(),
        vec![
            Insn::Load(Box::new(move |_| page), Box::new(|_, _| {})),
            Insn::Syscall,
        ],
    );
    let state = g.bind(&m.thread);
    g.write_state(state, code, 0);
    let mut ctx = A::UserContext::default();
    assert_eq!(
        g.enter_and_run(&m.thread, &mut ctx, vector),
        ExitReason::Syscall
    );
    let r = m.process.restricted_aspace().unwrap();
    let (unified, restricted) = (r.unified_asid().unwrap(), r.asid());
    assert!(g.sim.tlb_holds(unified, page) && g.sim.tlb_holds(restricted, page));
    g.call(
        &g.proto_thread,
        SyscallNumber::VmarUnmap,
        &[m.restricted_vmar as u64, page, PAGE_SIZE],
    )
    .unwrap();
    assert!(!g.sim.tlb_holds(unified, page) && !g.sim.tlb_holds(restricted, page));
}

/// The last process of a group out frees every frame: the group's shared
/// tables, both roots of each member, the VMOs only they mapped.
fn last_process_out_frees_every_frame<A: SimArch>() {
    let g = Group::<A>::new();
    let before_members = g.sim.frames_allocated();
    {
        let (a, b) = (g.member(), g.member());
        for m in [&a, &b] {
            let (_, addr) = g.map_new(m.restricted_vmar, 3, RW);
            for i in 0..3 {
                g.cpu_write(&m.thread, addr + i * PAGE_SIZE, i).unwrap();
            }
        }
        let (_, shared) = g.map_new(g.shared_vmar, 2, RW);
        g.cpu_write(&a.thread, shared, 1).unwrap();
        g.cpu_write(&b.thread, shared + PAGE_SIZE, 2).unwrap();
        // Members leave: their restricted regions go, the group stays.
        for m in [&a, &b] {
            m.thread.exit();
            assert_eq!(m.process.state(), ProcessState::Dead);
        }
        assert_eq!(g.proto.state(), ProcessState::Running);
    }
    // The shared mapping stays with the group (2 pages + the VMO handles'
    // pages were freed with the members only if nothing else holds them).
    assert!(g.sim.frames_allocated() >= before_members);
    let sim = g.sim.clone();
    drop(g);
    assert_eq!(sim.frames_allocated(), 0, "every frame back");
}

/// A group is gone once every process left: it cannot be joined.
fn a_dead_group_cannot_be_joined<A: SimArch>() {
    let g = Group::<A>::new();
    let m = g.member();
    let h = m
        .process
        .add_handle(
            KernelObject::Process(g.proto.clone()),
            Rights::DEFAULT_PROCESS,
        )
        .unwrap();
    let _ = h;
    m.thread.exit();
    g.proto_thread.exit();
    assert_eq!(g.proto.state(), ProcessState::Dead);
    let e = g.kernel.create_process_in_group(&g.proto).err();
    assert_eq!(e.map(|e| e.status()), Some(Status::BadState));
}

/// The handle table is the group's: a handle made by one member is usable
/// by another.
fn members_share_the_handle_table<A: SimArch>() {
    let g = Group::<A>::new();
    let (a, b) = (g.member(), g.member());
    g.call(
        &a.thread,
        SyscallNumber::VmoCreate,
        &[PAGE_SIZE, 0, g.out(0)],
    )
    .unwrap();
    let vmo = g.read_u32(g.out(0));
    assert_eq!(
        g.call(
            &b.thread,
            SyscallNumber::VmoGetSize,
            &[vmo as u64, g.out(1)]
        ),
        Ok(())
    );
    assert_eq!(g.read_u64(g.out(1)), PAGE_SIZE);
    assert_eq!(a.process.group_id(), b.process.group_id());
    let _ = ROOT_VMAR_RIGHTS;
}

/// A member's thread in restricted mode with a pending kick, killed by its
/// process's exit elsewhere, is reaped at its next crate call.
fn outcomes_of_exit_and_reap<A: SimArch>() {
    let g = Group::<A>::new();
    let m = g.member();
    let other = m.process.create_thread(3).unwrap();
    let mut ctx = A::UserContext::default();
    A::set_syscall(&mut ctx, SyscallNumber::ProcessExit as u64, &[42]);
    assert_eq!(
        g.kernel.syscall(&m.thread, &mut ctx),
        Outcome::ProcessExited(42)
    );
    assert!(m.thread.is_dead());
    assert_eq!(m.process.state(), ProcessState::Dying);
    // The other thread is interrupted and reaped at its next boundary.
    assert!(g.sim.interrupts().iter().any(|t| t.koid == other.koid()));
    let mut octx = A::UserContext::default();
    assert_eq!(g.kernel.boundary(&other, &mut octx), Outcome::ThreadExited);
    assert_eq!(m.process.state(), ProcessState::Dead);
    assert_eq!(m.process.retcode(), 42);
    let _ = INSN_SIZE;
}

both_arches!(
    layout,
    shared_map_in_prototype,
    restricted_vmar_not_shared,
    shared_process_invalid_prototype,
    restricted_mode_unified_basic,
    restricted_access_to_shared_region,
    restricted_code_cannot_touch_the_shared_region,
    members_see_their_own_restricted_bytes,
    a_shared_mapping_by_one_member_is_seen_by_the_other,
    shared_protect_reaches_every_member,
    restricted_unmap_reaches_both_views,
    last_process_out_frees_every_frame,
    a_dead_group_cannot_be_joined,
    members_share_the_handle_table,
    outcomes_of_exit_and_reap,
);

//! Restricted mode on the simulated machine, both arches: Zircon's
//! restricted-mode core cases (`restricted-mode.cc`) and the rules of
//! SPEC §3. Restricted code is scripted on the sim's CPU; normal mode is
//! played by the test, which makes syscalls through `Kernel::syscall` with a
//! register context, exactly as a host's trap loop would.
#![cfg(feature = "sim")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::Env;
use zx_subsystem::Outcome;
use zx_subsystem::PAGE_SIZE;
use zx_subsystem::abi::*;
use zx_subsystem::arch::{Arch, X86_64};
use zx_subsystem::object::{KernelObject, ProcessState};
use zx_subsystem::sim::cpu::{Cpu, INSN_SIZE, Insn, SimArch};
use zx_subsystem::syscall::SyscallNumber;
use zx_subsystem::trap::Trap;
use zx_subsystem::vm::{Perms, Placement, Vmo};

/// Where the normal-mode code "is" when it makes a syscall.
const NORMAL_PC_PAGE: u64 = 2;
/// The vector page.
const VECTOR_PAGE: u64 = 3;

/// A uniform view of both arches' `zx_restricted_state_t`.
trait StateView {
    /// General registers in `SimArch::gprs` order.
    fn gprs(&self) -> Vec<u64>;
    fn pc(&self) -> u64;
    fn flags(&self) -> u64;
    /// Settable flags that validation must refuse.
    fn set_bad_flags(&mut self);
}

impl StateView for zx_restricted_state_x86_64_t {
    fn gprs(&self) -> Vec<u64> {
        vec![
            self.rax, self.rbx, self.rcx, self.rdx, self.rsi, self.rdi, self.rbp, self.rsp,
            self.r8, self.r9, self.r10, self.r11, self.r12, self.r13, self.r14, self.r15,
        ]
    }
    fn pc(&self) -> u64 {
        self.ip
    }
    fn flags(&self) -> u64 {
        self.flags
    }
    fn set_bad_flags(&mut self) {
        self.flags = 1 << 31;
    }
}

impl StateView for zx_restricted_state_arm64_t {
    fn gprs(&self) -> Vec<u64> {
        let mut v = self.x.to_vec();
        v.push(self.sp);
        v
    }
    fn pc(&self) -> u64 {
        self.pc
    }
    fn flags(&self) -> u64 {
        u64::from(self.cpsr)
    }
    fn set_bad_flags(&mut self) {
        self.cpsr = 0x1;
    }
}

/// A restricted-mode test bench: a process, a CPU with a code area, and the
/// normal-mode register context.
struct Bench<A: SimArch> {
    env: Env<A>,
    cpu: Cpu<A>,
    code: u64,
    tls: u64,
}

fn pattern(i: usize) -> u64 {
    0x0101_0101_0101_0101u64.wrapping_mul(i as u64 + 1)
}

impl<A: SimArch> Bench<A>
where
    A::RestrictedState: StateView,
{
    fn new() -> Self {
        Self::with_env(Env::new())
    }

    fn with_env(env: Env<A>) -> Self {
        let code_vmo = Vmo::create(&env.sim, 4 * PAGE_SIZE).unwrap();
        let code = env
            .process
            .root_vmar()
            .map(
                Placement::ANYWHERE,
                &code_vmo,
                0,
                4 * PAGE_SIZE,
                Perms::READ | Perms::EXECUTE,
            )
            .unwrap();
        let tls = env.scratch + 3 * PAGE_SIZE;
        let cpu = Cpu::new(&env.sim);
        Bench {
            env,
            cpu,
            code,
            tls,
        }
    }

    fn vector(&self) -> u64 {
        self.code + VECTOR_PAGE * PAGE_SIZE
    }

    fn normal_pc(&self) -> u64 {
        self.code + NORMAL_PC_PAGE * PAGE_SIZE
    }

    /// A normal-mode context with its own TLS values.
    fn normal_ctx(&self) -> A::UserContext {
        let mut ctx = A::UserContext::default();
        A::set_tls(&mut ctx, 0x1111_0000, 0x2222_0000);
        A::set_pc(&mut ctx, self.normal_pc());
        ctx
    }

    /// A syscall from normal mode through the context entry; returns the
    /// context afterwards.
    fn syscall(&self, ctx: &mut A::UserContext, nr: SyscallNumber, args: &[u64]) {
        A::set_syscall(ctx, nr as u64, args);
        A::set_pc(ctx, self.normal_pc());
        match self.env.kernel.syscall(&self.env.thread, ctx) {
            Outcome::Returned(s) => assert_eq!(s.into_raw(), A::syscall_status(ctx)),
            other => panic!("{nr:?} did not return: {other:?}"),
        }
    }

    fn bind(&self) -> Result<zx_handle_t, Status> {
        let out = self.env.out(40);
        let mut ctx = self.normal_ctx();
        self.syscall(&mut ctx, SyscallNumber::RestrictedBindState, &[0, out]);
        match Status::try_from(A::syscall_status(&ctx)).unwrap() {
            Status::Ok => Ok(self.env.read_u32(out)),
            s => Err(s),
        }
    }

    /// The initial restricted registers: distinct patterns, pc at `pc`, no
    /// flags, TLS pointing at the bench's TLS slots; `tweak` may change the
    /// registers further.
    fn state_with(&self, pc: u64, tweak: impl FnOnce(&mut A::UserContext)) -> A::RestrictedState {
        let mut ctx = A::UserContext::default();
        for (i, r) in A::gprs(&mut ctx).into_iter().enumerate() {
            *r = pattern(i);
        }
        A::set_pc(&mut ctx, pc);
        A::set_tls(&mut ctx, self.tls, self.tls + 8);
        tweak(&mut ctx);
        A::save_restricted(&ctx, false)
    }

    fn initial_state(&self, pc: u64) -> A::RestrictedState {
        self.state_with(pc, |_| {})
    }

    fn write_state(&self, vmo: zx_handle_t, state: &A::RestrictedState) {
        let buf = self.env.out(100);
        self.env.write_bytes(buf, state.as_bytes());
        self.env
            .call_ok(
                SyscallNumber::VmoWrite,
                &[vmo as u64, buf, 0, state.as_bytes().len() as u64],
            )
            .unwrap();
    }

    fn read_bytes(&self, vmo: zx_handle_t, len: usize) -> Vec<u8> {
        let buf = self.env.out(100);
        self.env
            .call_ok(SyscallNumber::VmoRead, &[vmo as u64, buf, 0, len as u64])
            .unwrap();
        let mut out = vec![0u8; len];
        self.env
            .process
            .aspace()
            .copy_from_user(buf, &mut out)
            .unwrap();
        out
    }

    fn read_state(&self, vmo: zx_handle_t) -> A::RestrictedState {
        let n = std::mem::size_of::<A::RestrictedState>();
        A::RestrictedState::from_bytes(&self.read_bytes(vmo, n)).unwrap()
    }

    fn read_report(&self, vmo: zx_handle_t) -> zx_exception_report_t {
        let n = std::mem::size_of::<A::RestrictedState>();
        let bytes = self.read_bytes(vmo, n + 40);
        zx_exception_report_t::from_bytes(&bytes[n..]).unwrap()
    }

    /// `zx_restricted_enter(options, vector, context)` from normal mode.
    /// `Err` is the status when the call returned; `Ok(())` when the
    /// context was replaced (restricted mode, or the vector for a kick).
    fn enter(
        &self,
        ctx: &mut A::UserContext,
        options: u64,
        vector: u64,
        context: u64,
    ) -> Result<(), Status> {
        A::set_syscall(
            ctx,
            SyscallNumber::RestrictedEnter as u64,
            &[options, vector, context],
        );
        A::set_pc(ctx, self.normal_pc());
        match self.env.kernel.syscall(&self.env.thread, ctx) {
            Outcome::EnteredRestricted | Outcome::LeftRestricted(_) => {
                assert_ne!(A::pc(ctx), self.normal_pc());
                Ok(())
            }
            Outcome::Returned(s) => {
                assert_eq!(A::pc(ctx), self.normal_pc());
                assert_eq!(s.into_raw(), A::syscall_status(ctx));
                Err(s)
            }
            other => panic!("enter: {other:?}"),
        }
    }

    /// Runs restricted code, feeding every trap to the kernel as a host
    /// would, until the thread is back in normal mode; returns the reason
    /// and checks the normal-mode entry frame.
    fn run_to_vector(&self, ctx: &mut A::UserContext, context: u64) -> u64 {
        let kernel = &self.env.kernel;
        let thread = &self.env.thread;
        let mut steps = 0;
        while kernel.in_restricted_mode(thread) {
            steps += 1;
            assert!(steps < 1000, "restricted code never left");
            let view = self.env.sim.switch_in(kernel, thread);
            let trap = self.cpu.run(view.root, view.asid, thread.koid(), ctx);
            let r = match trap {
                Trap::Syscall => kernel.syscall(thread, ctx),
                Trap::PageFault(f) => kernel.page_fault(thread, ctx, f),
                other => kernel.exception(thread, ctx, other),
            };
            assert!(r.resumes(), "restricted traps always resolve: {r:?}");
            assert_eq!(
                r.switches_view(),
                !kernel.in_restricted_mode(thread),
                "an exit says the view changes"
            );
        }
        self.check_vector_frame(ctx, context)
    }

    /// The normal-mode entry: pc at the vector, every register zero except
    /// context and reason, normal TLS back. Returns the reason.
    fn check_vector_frame(&self, ctx: &A::UserContext, context: u64) -> u64 {
        assert_eq!(A::pc(ctx), self.vector());
        let args = A::syscall_args(ctx);
        assert_eq!(args[0], context, "context argument");
        let reason = args[1];
        let mut expected = A::UserContext::default();
        A::set_syscall(&mut expected, 0, &[context, reason]);
        let mut got = ctx.clone();
        let got_regs: Vec<u64> = A::gprs(&mut got).into_iter().map(|r| *r).collect();
        let want_regs: Vec<u64> = A::gprs(&mut expected).into_iter().map(|r| *r).collect();
        assert_eq!(got_regs, want_regs, "registers at the vector");
        assert_eq!(A::tls(ctx), 0x1111_0000, "normal TLS restored");
        reason
    }

    fn self_thread_handle(&self, rights: Rights) -> zx_handle_t {
        self.env
            .process
            .add_handle(KernelObject::Thread(self.env.thread.clone()), rights)
            .unwrap()
    }
}

/// `twiddle_registers`: every register + 1.
fn twiddle<A: SimArch>() -> Insn<A> {
    Insn::Regs(Box::new(|ctx| {
        for r in A::gprs(ctx) {
            *r = r.wrapping_add(1);
        }
    }))
}

/// Stores register 2 at the TLS pointer, so TLS must be live in
/// restricted mode.
fn store_reg2_at_tls<A: SimArch>() -> Insn<A> {
    Insn::Store(
        Box::new(|ctx| A::tls(ctx)),
        Box::new(|ctx: &A::UserContext| {
            let mut c = ctx.clone();
            let v = *A::gprs(&mut c)[2];
            v.to_ne_bytes().to_vec()
        }),
    )
}

// --- Zircon's cases ----------------------------------------------------

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

fn pc_offset<A: Arch>() -> usize {
    if A::NAME == X86_64::NAME { 128 } else { 256 }
}

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
    kick_before_enter,
    kick_while_running,
    write_to_read_only_page_exits_with_the_fault_address,
    syscalls_in_restricted_mode_are_not_dispatched,
    bind_denied_by_new_vmo_policy,
    bind_out_of_memory_binds_nothing,
    bad_out_pointer_leaves_the_vmo_bound,
    state_vmo_cannot_resize_or_have_children,
    state_vmo_lifetime,
    kick_rules,
    normal_mode_faults_are_not_restricted_exits,
);

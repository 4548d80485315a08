//! The restricted-mode harness shared by `tests/restricted.rs` and
//! `tests/restricted_kick.rs`: a process whose thread binds a state VMO,
//! scripted restricted code on the sim's CPU, and normal mode played by
//! the test through `Kernel::syscall`, as a host's trap loop would.
#![allow(dead_code)]

use crate::common::Env;
use zx_subsystem::Outcome;
use zx_subsystem::PAGE_SIZE;
use zx_subsystem::abi::*;
use zx_subsystem::arch::{Arch, X86_64};
use zx_subsystem::object::KernelObject;
use zx_subsystem::sim::cpu::{Cpu, Insn, SimArch};
use zx_subsystem::syscall::SyscallNumber;
use zx_subsystem::trap::Trap;
use zx_subsystem::vm::{Perms, Placement, Vmo};

/// Where the normal-mode code "is" when it makes a syscall.
pub const NORMAL_PC_PAGE: u64 = 2;
/// The vector page.
pub const VECTOR_PAGE: u64 = 3;

/// A uniform view of both arches' `zx_restricted_state_t`.
pub trait StateView {
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
pub struct Bench<A: SimArch> {
    pub env: Env<A>,
    pub cpu: Cpu<A>,
    pub code: u64,
    pub tls: u64,
}

pub fn pattern(i: usize) -> u64 {
    0x0101_0101_0101_0101u64.wrapping_mul(i as u64 + 1)
}

impl<A: SimArch> Bench<A>
where
    A::RestrictedState: StateView,
{
    pub fn new() -> Self {
        Self::with_env(Env::new())
    }

    pub fn with_env(env: Env<A>) -> Self {
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

    pub fn vector(&self) -> u64 {
        self.code + VECTOR_PAGE * PAGE_SIZE
    }

    pub fn normal_pc(&self) -> u64 {
        self.code + NORMAL_PC_PAGE * PAGE_SIZE
    }

    /// A normal-mode context with its own TLS values.
    pub fn normal_ctx(&self) -> A::UserContext {
        let mut ctx = A::UserContext::default();
        A::set_tls(&mut ctx, 0x1111_0000, 0x2222_0000);
        A::set_pc(&mut ctx, self.normal_pc());
        ctx
    }

    /// A syscall from normal mode through the context entry; returns the
    /// context afterwards.
    pub fn syscall(&self, ctx: &mut A::UserContext, nr: SyscallNumber, args: &[u64]) {
        A::set_syscall(ctx, nr as u64, args);
        A::set_pc(ctx, self.normal_pc());
        match self.env.kernel.syscall(&self.env.thread, ctx) {
            Outcome::Returned(s) => assert_eq!(s.into_raw(), A::syscall_status(ctx)),
            other => panic!("{nr:?} did not return: {other:?}"),
        }
    }

    pub fn bind(&self) -> Result<zx_handle_t, Status> {
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
    pub fn state_with(
        &self,
        pc: u64,
        tweak: impl FnOnce(&mut A::UserContext),
    ) -> A::RestrictedState {
        let mut ctx = A::UserContext::default();
        for (i, r) in A::gprs(&mut ctx).into_iter().enumerate() {
            *r = pattern(i);
        }
        A::set_pc(&mut ctx, pc);
        A::set_tls(&mut ctx, self.tls, self.tls + 8);
        tweak(&mut ctx);
        A::save_restricted(&ctx, false)
    }

    pub fn initial_state(&self, pc: u64) -> A::RestrictedState {
        self.state_with(pc, |_| {})
    }

    pub fn write_state(&self, vmo: zx_handle_t, state: &A::RestrictedState) {
        let buf = self.env.out(100);
        self.env.write_bytes(buf, state.as_bytes());
        self.env
            .call_ok(
                SyscallNumber::VmoWrite,
                &[vmo as u64, buf, 0, state.as_bytes().len() as u64],
            )
            .unwrap();
    }

    pub fn read_bytes(&self, vmo: zx_handle_t, len: usize) -> Vec<u8> {
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

    pub fn read_state(&self, vmo: zx_handle_t) -> A::RestrictedState {
        let n = std::mem::size_of::<A::RestrictedState>();
        A::RestrictedState::from_bytes(&self.read_bytes(vmo, n)).unwrap()
    }

    pub fn read_report(&self, vmo: zx_handle_t) -> zx_exception_report_t {
        let n = std::mem::size_of::<A::RestrictedState>();
        let bytes = self.read_bytes(vmo, n + 40);
        zx_exception_report_t::from_bytes(&bytes[n..]).unwrap()
    }

    /// `zx_restricted_enter(options, vector, context)` from normal mode.
    /// `Err` is the status when the call returned; `Ok(())` when the
    /// context was replaced (restricted mode, or the vector for a kick).
    pub fn enter(
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
    pub fn run_to_vector(&self, ctx: &mut A::UserContext, context: u64) -> u64 {
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
    pub fn check_vector_frame(&self, ctx: &A::UserContext, context: u64) -> u64 {
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

    pub fn self_thread_handle(&self, rights: Rights) -> zx_handle_t {
        self.env
            .process
            .add_handle(KernelObject::Thread(self.env.thread.clone()), rights)
            .unwrap()
    }
}

/// `twiddle_registers`: every register + 1.
pub fn twiddle<A: SimArch>() -> Insn<A> {
    Insn::Regs(Box::new(|ctx| {
        for r in A::gprs(ctx) {
            *r = r.wrapping_add(1);
        }
    }))
}

/// Stores register 2 at the TLS pointer, so TLS must be live in
/// restricted mode.
pub fn store_reg2_at_tls<A: SimArch>() -> Insn<A> {
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

pub fn pc_offset<A: Arch>() -> usize {
    if A::NAME == X86_64::NAME { 128 } else { 256 }
}

//! Restricted mode: arbitrary state bytes and bind/unbind/enter/exit/kick
//! sequences, both arches, against the target's own description of
//! SPEC §3 (written from the ABI layout, not from the crate's code):
//!
//! - an invalid state (or no state, or bad options or vector) fails with
//!   the predicted status and never switches the context: the registers are
//!   unchanged but for the status register;
//! - a valid state is loaded; leaving restricted mode (syscall, exception,
//!   unresolved fault, kick at a boundary) writes it back to the VMO
//!   exactly (x86_64: `rcx`/`r11` read 0 after a syscall; aarch64: padding
//!   reads 0) and resumes normal mode at the vector with every register
//!   zero except context, reason and the normal-mode TLS;
//! - a kick is latched, collapses, and is taken at the next enter (without
//!   touching the VMO) or the next boundary in restricted mode;
//! - no frame leaks after teardown.
#![no_main]

use std::sync::Arc;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use zx_subsystem::abi::{Rights, Status};
use zx_subsystem::arch::{Aarch64, X86_64, aarch64, x86_64};
use zx_subsystem::object::{KernelObject, Process, Thread};
use zx_subsystem::sim::Sim;
use zx_subsystem::sim::cpu::SimArch;
use zx_subsystem::syscall::SyscallNumber;
use zx_subsystem::trap::{Access, PageFault, Trap};
use zx_subsystem::vm::{Perms, Placement, Vmo};
use zx_subsystem::{ExitReason, Outcome};
use zx_subsystem::{Kernel, PAGE_SIZE};

const SYSCALL: u64 = 0;
const EXCEPTION: u64 = 1;
const KICK: u64 = 2;

/// What the target knows about an arch's state layout and register
/// conventions (SPEC §3's table; independent of the crate's structs).
trait Layout: SimArch {
    const STATE_SIZE: usize;
    /// Offsets of the program counter and the flags word.
    const PC: usize;
    /// The flag bits a state may hold.
    const GOOD_FLAGS: u64;
    /// Whether `bytes` is a state enter accepts.
    fn valid(b: &[u8]) -> bool;
    /// Fills the fields validation looks at from fuzzer choices.
    fn shape(b: &mut [u8], pc: u64, flags: u64, fs: u64, gs: u64);
    /// The state leaving restricted mode writes back, for a state entered
    /// and left without running code.
    fn written_back(b: &[u8], syscall: bool) -> Vec<u8>;
    /// The normal-mode registers at the vector.
    fn normal_entry(tls: (u64, u64), vector: u64, context: u64, reason: u64) -> Self::UserContext;
    fn tls_pair(ctx: &Self::UserContext) -> (u64, u64);
    fn is_user(addr: u64) -> bool;
    fn status_of(ctx: &Self::UserContext) -> i32;
    fn with_status(ctx: &Self::UserContext, status: i32) -> Self::UserContext;
    fn exception(code: u64) -> Self::ExceptionInfo;
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn put(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn canonical(a: u64) -> bool {
    let top = (a as i64) >> 47;
    top == 0 || top == -1
}

const X86_FLAGS_USER: u64 = 0x24_4dd5;

impl Layout for X86_64 {
    const STATE_SIZE: usize = 160;
    const PC: usize = 128;
    const GOOD_FLAGS: u64 = X86_FLAGS_USER;
    fn valid(b: &[u8]) -> bool {
        u64_at(b, 128) < 1 << 47
            && u64_at(b, 136) & !X86_FLAGS_USER == 0
            && canonical(u64_at(b, 144))
            && canonical(u64_at(b, 152))
    }
    fn shape(b: &mut [u8], pc: u64, flags: u64, fs: u64, gs: u64) {
        put(b, 128, pc);
        put(b, 136, flags);
        put(b, 144, fs);
        put(b, 152, gs);
    }
    fn written_back(b: &[u8], syscall: bool) -> Vec<u8> {
        let mut out = b.to_vec();
        if syscall {
            put(&mut out, 40, 0); // rcx
            put(&mut out, 88, 0); // r11
        }
        out
    }
    fn normal_entry(
        tls: (u64, u64),
        vector: u64,
        context: u64,
        reason: u64,
    ) -> x86_64::UserContext {
        x86_64::UserContext {
            rdi: context,
            rsi: reason,
            rip: vector,
            rflags: (1 << 9) | (1 << 1),
            fs_base: tls.0,
            gs_base: tls.1,
            ..Default::default()
        }
    }
    fn tls_pair(ctx: &x86_64::UserContext) -> (u64, u64) {
        (ctx.fs_base, ctx.gs_base)
    }
    fn is_user(addr: u64) -> bool {
        addr < 1 << 47
    }
    fn status_of(ctx: &x86_64::UserContext) -> i32 {
        ctx.rax as i32
    }
    fn with_status(ctx: &x86_64::UserContext, status: i32) -> x86_64::UserContext {
        x86_64::UserContext {
            rax: status as i64 as u64,
            ..*ctx
        }
    }
    fn exception(code: u64) -> x86_64::ExceptionInfo {
        x86_64::ExceptionInfo {
            vector: code % 32,
            error_code: code >> 8,
            cr2: code,
        }
    }
}

impl Layout for Aarch64 {
    const STATE_SIZE: usize = 280;
    const PC: usize = 256;
    const GOOD_FLAGS: u64 = 0xf000_0000;
    fn valid(b: &[u8]) -> bool {
        let cpsr = u32::from_le_bytes(b[272..276].try_into().unwrap());
        // Zircon's user-visible A64 flags (NZCV, BTYPE); an AArch32 state
        // (M[4]) is refused: the simulated CPU has no AArch32 at EL0.
        u64_at(b, 256) & (1 << 55) == 0 && cpsr & !0xf000_0c00 == 0
    }
    fn shape(b: &mut [u8], pc: u64, flags: u64, fs: u64, _gs: u64) {
        put(b, 256, pc);
        put(b, 264, fs);
        b[272..276].copy_from_slice(&(flags as u32).to_le_bytes());
    }
    fn written_back(b: &[u8], _syscall: bool) -> Vec<u8> {
        let mut out = b.to_vec();
        out[276..280].fill(0);
        out
    }
    fn normal_entry(
        tls: (u64, u64),
        vector: u64,
        context: u64,
        reason: u64,
    ) -> aarch64::UserContext {
        let mut x = [0; 31];
        x[0] = context;
        x[1] = reason;
        aarch64::UserContext {
            x,
            sp: 0,
            pc: vector,
            spsr: 0,
            tpidr_el0: tls.0,
            tpidrro_el0: 0,
            ..aarch64::UserContext::default()
        }
    }
    fn tls_pair(ctx: &aarch64::UserContext) -> (u64, u64) {
        (ctx.tpidr_el0, 0)
    }
    fn is_user(addr: u64) -> bool {
        addr & (1 << 55) == 0
    }
    fn status_of(ctx: &aarch64::UserContext) -> i32 {
        ctx.x[0] as i32
    }
    fn with_status(ctx: &aarch64::UserContext, status: i32) -> aarch64::UserContext {
        let mut c = *ctx;
        c.x[0] = status as i64 as u64;
        c
    }
    fn exception(code: u64) -> aarch64::ExceptionInfo {
        aarch64::ExceptionInfo {
            esr: code & 0xffff_ffff,
            far: code >> 32,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Sel {
    /// A likely-valid value (a user address, user flags, canonical).
    Good(u32),
    /// Anything.
    Raw(u64),
    /// One bit.
    Bit(u8),
}

#[derive(Arbitrary, Debug)]
enum Step {
    /// Writes a state (random bytes with shaped fields) through
    /// `zx_vmo_write` on the bound VMO's handle.
    Write {
        fill: u8,
        regs: [u64; 4],
        pc: Sel,
        flags: Sel,
        fs: Sel,
        gs: Sel,
    },
    /// `zx_restricted_enter` through `Kernel::syscall`.
    Enter {
        options: Option<u32>,
        vector: Sel,
        context: u64,
    },
    /// Some other syscall (number 4095: none) through `Kernel::syscall`.
    Syscall,
    /// An exception trap.
    Exception(u64),
    /// A page fault at a mapped (resolvable) or unmapped address.
    Fault { mapped: bool, write: bool },
    /// An interrupt (a kernel boundary).
    Interrupt,
    /// `zx_restricted_kick` (as another thread).
    Kick { options: Option<u32> },
    /// `zx_restricted_bind_state`.
    Bind { options: Option<u32>, bad_out: bool },
    /// `zx_restricted_unbind_state`.
    Unbind { options: Option<u32> },
}

#[derive(Arbitrary, Debug)]
struct Input {
    aarch64: bool,
    steps: Vec<Step>,
}

/// A stay in restricted mode: the state entered, the vector, the context
/// and the normal-mode TLS.
type Active = (Vec<u8>, u64, u64, (u64, u64));

struct Bench<A: Layout> {
    sim: Sim<A>,
    kernel: Kernel<Sim<A>>,
    process: Arc<Process<Sim<A>>>,
    thread: Arc<Thread<Sim<A>>>,
    thread_handle: u32,
    scratch: u64,
    /// The thread's registers.
    ctx: A::UserContext,
    /// The bound VMO's handle and what the target believes it holds.
    bound: Option<(u32, Vec<u8>)>,
    /// While in restricted mode: where it came from.
    active: Option<Active>,
    kick: bool,
}

fn good_or_raw(s: Sel, good: impl Fn(u32) -> u64) -> u64 {
    match s {
        Sel::Good(v) => good(v),
        Sel::Raw(v) => v,
        Sel::Bit(b) => 1u64 << (b % 64),
    }
}

impl<A: Layout> Bench<A> {
    fn new() -> Self {
        let sim = Sim::<A>::new();
        let kernel = Kernel::new(sim.clone());
        let job = kernel.root_job().create_child().unwrap();
        let process = kernel.create_process(&job).unwrap();
        let thread = process.create_thread(9).unwrap();
        let vmo = Vmo::create(&sim, 2 * PAGE_SIZE).unwrap();
        let scratch = process
            .root_vmar()
            .map(
                Placement::ANYWHERE,
                &vmo,
                0,
                2 * PAGE_SIZE,
                Perms::READ | Perms::WRITE,
            )
            .unwrap();
        let thread_handle = process
            .add_handle(KernelObject::Thread(thread.clone()), Rights::DEFAULT_THREAD)
            .unwrap();
        let mut ctx = A::UserContext::default();
        A::set_tls(&mut ctx, 0x1000_0000, 0x2000_0000);
        Bench {
            sim,
            kernel,
            process,
            thread,
            thread_handle,
            scratch,
            ctx,
            bound: None,
            active: None,
            kick: false,
        }
    }

    fn raw(&self, nr: SyscallNumber, args: &[u64]) -> i32 {
        let mut a = [0u64; 8];
        a[..args.len()].copy_from_slice(args);
        self.kernel.syscall_raw(&self.thread, nr as u64, a)
    }

    /// A syscall instruction: in normal mode with `nr` and `args` in the
    /// ABI registers; in restricted mode with whatever restricted code has
    /// in them (it leaves restricted mode whatever they hold).
    fn syscall(&mut self, nr: u64, args: &[u64]) {
        if self.active.is_none() {
            A::set_syscall(&mut self.ctx, nr, args);
        }
        let mut ctx = self.ctx.clone();
        let outcome = self.kernel.syscall(&self.thread, &mut ctx);
        assert!(outcome.resumes(), "{outcome:?}");
        self.ctx = ctx;
    }

    fn vmo_bytes(&self, h: u32) -> Vec<u8> {
        let buf = self.scratch + PAGE_SIZE;
        let n = A::STATE_SIZE as u64;
        assert_eq!(self.raw(SyscallNumber::VmoRead, &[h.into(), buf, 0, n]), 0);
        let mut b = vec![0u8; A::STATE_SIZE];
        self.process.aspace().copy_from_user(buf, &mut b).unwrap();
        b
    }

    /// Leaves restricted mode (if in it) as `reason`: checks the VMO and
    /// the normal-mode registers.
    fn expect_exit(&mut self, reason: u64) {
        let (state, vector, context, tls) = self.active.take().expect("in restricted mode");
        let (h, believed) = self.bound.as_mut().expect("bound");
        let want = A::written_back(&state, reason == SYSCALL);
        *believed = want.clone();
        let h = *h;
        assert!(!self.kernel.in_restricted_mode(&self.thread));
        assert_eq!(
            self.vmo_bytes(h),
            want,
            "state written back on exit {reason}"
        );
        assert_eq!(
            self.ctx,
            A::normal_entry(tls, vector, context, reason),
            "normal entry"
        );
    }

    fn step(&mut self, step: &Step) {
        let in_restricted = self.active.is_some();
        match *step {
            Step::Write {
                fill,
                regs,
                pc,
                flags,
                fs,
                gs,
            } => {
                let Some((h, _)) = self.bound else { return };
                let mut b = vec![fill; A::STATE_SIZE];
                for (i, r) in regs.iter().enumerate() {
                    put(&mut b, 8 * i, *r);
                }
                let pc = good_or_raw(pc, |v| u64::from(v) << 12);
                let flags = good_or_raw(flags, |v| u64::from(v) & A::GOOD_FLAGS);
                let fs = good_or_raw(fs, |v| u64::from(v) << 16);
                let gs = good_or_raw(gs, |v| (u64::from(v) << 16) | 0xffff_8000_0000_0000);
                A::shape(&mut b, pc, flags, fs, gs);
                let buf = self.scratch + PAGE_SIZE;
                self.process.aspace().copy_to_user(buf, &b).unwrap();
                let n = A::STATE_SIZE as u64;
                assert_eq!(self.raw(SyscallNumber::VmoWrite, &[h.into(), buf, 0, n]), 0);
                self.bound.as_mut().unwrap().1 = b;
            }
            Step::Enter {
                options,
                vector,
                context,
            } => {
                let options = options.unwrap_or(0);
                let vector = good_or_raw(vector, |v| u64::from(v) << 12);
                let args = [options.into(), vector, context];
                let before = self.ctx.clone();
                self.syscall(SyscallNumber::RestrictedEnter as u64, &args);
                if in_restricted {
                    // A syscall instruction in restricted mode leaves it.
                    return self.expect_exit(SYSCALL);
                }
                let expect = if options != 0 || !A::is_user(vector) {
                    Some(Status::InvalidArgs)
                } else if self.bound.as_ref().is_none_or(|(_, b)| !A::valid(b)) {
                    Some(Status::BadState)
                } else {
                    None
                };
                let mut before = before;
                A::set_syscall(&mut before, SyscallNumber::RestrictedEnter as u64, &args);
                if let Some(status) = expect {
                    // Never switches: only the status register changed.
                    assert_eq!(
                        self.ctx,
                        A::with_status(&before, status.into_raw()),
                        "failed enter must not switch ({status:?})"
                    );
                    assert!(!self.kernel.in_restricted_mode(&self.thread));
                    return;
                }
                let tls = A::tls_pair(&before);
                let state = self.bound.as_ref().unwrap().1.clone();
                if std::mem::take(&mut self.kick) {
                    assert_eq!(
                        self.ctx,
                        A::normal_entry(tls, vector, context, KICK),
                        "kicked enter"
                    );
                    assert!(!self.kernel.in_restricted_mode(&self.thread));
                    let h = self.bound.as_ref().unwrap().0;
                    assert_eq!(
                        self.vmo_bytes(h),
                        state,
                        "a kicked enter leaves the VMO alone"
                    );
                    return;
                }
                assert!(self.kernel.in_restricted_mode(&self.thread));
                assert_eq!(A::pc(&self.ctx), u64_at(&state, A::PC), "restricted pc");
                self.active = Some((state, vector, context, tls));
            }
            Step::Syscall => {
                let before = self.ctx.clone();
                self.syscall(4095, &[]);
                if in_restricted {
                    return self.expect_exit(SYSCALL);
                }
                let mut want = before;
                A::set_syscall(&mut want, 4095, &[]);
                assert_eq!(A::status_of(&self.ctx), Status::BadSyscall.into_raw());
                assert_eq!(
                    self.ctx,
                    A::with_status(&want, Status::BadSyscall.into_raw())
                );
            }
            Step::Exception(code) => {
                let before = self.ctx.clone();
                let mut ctx = self.ctx.clone();
                let r = self.kernel.exception(
                    &self.thread,
                    &mut ctx,
                    Trap::Exception(A::exception(code)),
                );
                self.ctx = ctx;
                if in_restricted {
                    assert_eq!(r, Outcome::LeftRestricted(ExitReason::Exception));
                    self.expect_exit(EXCEPTION);
                } else {
                    assert_eq!(r, Outcome::Unhandled);
                    assert_eq!(self.ctx, before);
                }
            }
            Step::Fault { mapped, write } => {
                let addr = if mapped { self.scratch + 8 } else { 0x10 };
                let access = if write { Access::Write } else { Access::Read };
                let before = self.ctx.clone();
                let mut ctx = self.ctx.clone();
                let fault = PageFault {
                    addr,
                    access,
                    info: A::exception(addr),
                };
                let r = self.kernel.page_fault(&self.thread, &mut ctx, fault);
                self.ctx = ctx;
                if mapped {
                    // Resolved: a kernel boundary (a pending kick exits).
                    if in_restricted && std::mem::take(&mut self.kick) {
                        assert_eq!(r, Outcome::LeftRestricted(ExitReason::Kick));
                        self.expect_exit(KICK);
                    } else {
                        assert_eq!(r, Outcome::Resume);
                        assert_eq!(self.ctx, before);
                    }
                } else if in_restricted {
                    assert_eq!(r, Outcome::LeftRestricted(ExitReason::Exception));
                    self.expect_exit(EXCEPTION);
                } else {
                    assert_eq!(r, Outcome::Unhandled);
                    assert_eq!(self.ctx, before);
                }
            }
            Step::Interrupt => {
                let before = self.ctx.clone();
                let mut ctx = self.ctx.clone();
                let r = self
                    .kernel
                    .exception(&self.thread, &mut ctx, Trap::Interrupt(32));
                self.ctx = ctx;
                if in_restricted && std::mem::take(&mut self.kick) {
                    assert_eq!(r, Outcome::LeftRestricted(ExitReason::Kick));
                    self.expect_exit(KICK);
                } else {
                    assert_eq!(r, Outcome::Resume);
                    assert_eq!(self.ctx, before);
                }
            }
            Step::Kick { options } => {
                let options = options.unwrap_or(0);
                let interrupts = self.sim.interrupts().len();
                let st = self.raw(
                    SyscallNumber::RestrictedKick,
                    &[self.thread_handle.into(), options.into()],
                );
                if options != 0 {
                    assert_eq!(st, Status::InvalidArgs.into_raw());
                } else {
                    assert_eq!(st, 0);
                    self.kick = true;
                    let asked = self.sim.interrupts().len() > interrupts;
                    assert_eq!(asked, in_restricted, "interrupt only a restricted thread");
                    self.sim.take_interrupt(self.thread.koid());
                }
            }
            Step::Bind { options, bad_out } => {
                if in_restricted {
                    return;
                }
                let options = options.unwrap_or(0);
                let out = if bad_out { 0x10 } else { self.scratch };
                let st = self.raw(SyscallNumber::RestrictedBindState, &[options.into(), out]);
                if options != 0 {
                    assert_eq!(st, Status::InvalidArgs.into_raw());
                } else if bad_out {
                    // Bound all the same, but no handle: the target can no
                    // longer write it, so it forgets the handle and keeps
                    // only that a zero state is bound.
                    assert_eq!(st, Status::InvalidArgs.into_raw());
                    self.bound = None;
                    assert_eq!(self.raw(SyscallNumber::RestrictedUnbindState, &[0]), 0);
                } else {
                    assert_eq!(st, 0);
                    let mut b = [0u8; 4];
                    self.process
                        .aspace()
                        .copy_from_user(self.scratch, &mut b)
                        .unwrap();
                    let h = u32::from_ne_bytes(b);
                    assert_eq!(
                        self.vmo_bytes(h),
                        vec![0u8; A::STATE_SIZE],
                        "fresh state is zero"
                    );
                    self.bound = Some((h, vec![0u8; A::STATE_SIZE]));
                }
            }
            Step::Unbind { options } => {
                if in_restricted {
                    return;
                }
                let options = options.unwrap_or(0);
                let st = self.raw(SyscallNumber::RestrictedUnbindState, &[options.into()]);
                if options != 0 {
                    assert_eq!(st, Status::InvalidArgs.into_raw());
                } else {
                    assert_eq!(st, 0);
                    // The handle stays valid; the target simply stops using it.
                    self.bound = None;
                }
            }
        }
    }

    fn finish(self) {
        let Bench {
            sim,
            kernel,
            process,
            thread,
            ..
        } = self;
        thread.exit();
        process.aspace().teardown();
        process.terminate();
        drop((thread, process, kernel));
        assert_eq!(sim.frames_allocated(), 0, "frames leaked");
    }
}

fn run<A: Layout>(steps: &[Step]) {
    let mut b = Bench::<A>::new();
    for s in steps.iter().take(128) {
        b.step(s);
    }
    b.finish();
}

fuzz_target!(|input: Input| {
    if input.aarch64 {
        run::<Aarch64>(&input.steps);
    } else {
        run::<X86_64>(&input.steps);
    }
});

//! A simulated CPU that runs scripted user code.
//!
//! Tests (and kernels testing their integration on the host) describe user
//! code as [`Insn`]s placed at user addresses of a [`Cpu`]. [`Cpu::run`]
//! plays the role of the arch's `run_user`: it fetches at the context's
//! program counter through the software MMU (so the page must be mapped
//! executable for user mode), executes instructions, and returns the first
//! [`Trap`] — exactly the traps real hardware would give, with the same
//! register side effects:
//!
//! - `syscall` / `svc`: the pc moves past the instruction; on x86_64
//!   `rcx` gets the return address and `r11` the flags, as the instruction
//!   does;
//! - an undefined instruction: `#UD` (vector 6) / ESR EC 0 with IL set, pc
//!   unchanged;
//! - a load, store or fetch the MMU refuses: a page fault with the address
//!   and access, x86_64 error code (P/W/U/I bits) and CR2, or aarch64 ESR
//!   (data/instruction abort from EL0, WnR) and FAR; pc unchanged, so the
//!   instruction re-executes once the kernel resolved the fault;
//! - an interrupt the crate asked for
//!   ([`Platform::interrupt_thread`](crate::Platform::interrupt_thread)),
//!   taken before the next instruction; and a timer interrupt every
//!   [`Cpu::TIMESLICE`] instructions, so spinning code always comes back.
//!
//! Every instruction is [`INSN_SIZE`] bytes long.

use std::boxed::Box;
use std::collections::BTreeMap;
use std::vec::Vec;

use crate::arch::Arch;
use crate::arch::aarch64::{self, Aarch64};
use crate::arch::x86_64::{self, X86_64};
use crate::platform::PhysAddr;
use crate::sim::{Fault, FaultKind, Sim};
use crate::trap::{Access, PageFault, Trap};

/// The size of every simulated instruction.
pub const INSN_SIZE: u64 = 4;

/// What the simulated CPU needs to know about an architecture.
pub trait SimArch: Arch {
    /// The program counter.
    fn pc(ctx: &Self::UserContext) -> u64;
    /// Sets the program counter.
    fn set_pc(ctx: &mut Self::UserContext, pc: u64);
    /// General-purpose registers, including the stack pointer, in a fixed
    /// order (x86_64: rax..r15 as in the context; aarch64: x0..x30, sp).
    fn gprs(ctx: &mut Self::UserContext) -> Vec<&mut u64>;
    /// The thread pointer user code uses for TLS (x86_64 FS base, aarch64
    /// TPIDR_EL0).
    fn tls(ctx: &Self::UserContext) -> u64;
    /// Sets the TLS registers (x86_64: FS and GS base; aarch64: TPIDR_EL0
    /// from `fs`, `gs` unused).
    fn set_tls(ctx: &mut Self::UserContext, fs: u64, gs: u64);
    /// What the syscall instruction does to the registers besides the pc
    /// (x86_64: `rcx` = return address, `r11` = RFLAGS).
    fn syscall_side_effects(ctx: &mut Self::UserContext, return_pc: u64);
    /// Sets up a syscall: number and arguments in the ABI registers.
    fn set_syscall(ctx: &mut Self::UserContext, number: u64, args: &[u64]);
    /// The status a syscall left in the return register.
    fn syscall_status(ctx: &Self::UserContext) -> i32;
    /// The exception info of an undefined instruction.
    fn undefined_instruction() -> Self::ExceptionInfo;
    /// The exception info of a page fault.
    fn page_fault_info(fault: &Fault) -> Self::ExceptionInfo;
}

impl SimArch for X86_64 {
    fn pc(ctx: &x86_64::UserContext) -> u64 {
        ctx.rip
    }
    fn set_pc(ctx: &mut x86_64::UserContext, pc: u64) {
        ctx.rip = pc;
    }
    fn gprs(c: &mut x86_64::UserContext) -> Vec<&mut u64> {
        std::vec![
            &mut c.rax, &mut c.rbx, &mut c.rcx, &mut c.rdx, &mut c.rsi, &mut c.rdi, &mut c.rbp,
            &mut c.rsp, &mut c.r8, &mut c.r9, &mut c.r10, &mut c.r11, &mut c.r12, &mut c.r13,
            &mut c.r14, &mut c.r15,
        ]
    }
    fn tls(ctx: &x86_64::UserContext) -> u64 {
        ctx.fs_base
    }
    fn set_tls(ctx: &mut x86_64::UserContext, fs: u64, gs: u64) {
        ctx.fs_base = fs;
        ctx.gs_base = gs;
    }
    fn syscall_side_effects(ctx: &mut x86_64::UserContext, return_pc: u64) {
        ctx.rcx = return_pc;
        ctx.r11 = ctx.rflags;
    }
    fn set_syscall(c: &mut x86_64::UserContext, number: u64, args: &[u64]) {
        c.rax = number;
        let regs = [
            &mut c.rdi, &mut c.rsi, &mut c.rdx, &mut c.r10, &mut c.r8, &mut c.r9, &mut c.r12,
            &mut c.r13,
        ];
        for (r, a) in regs.into_iter().zip(args) {
            *r = *a;
        }
    }
    fn syscall_status(ctx: &x86_64::UserContext) -> i32 {
        ctx.rax as i32
    }
    fn undefined_instruction() -> x86_64::ExceptionInfo {
        x86_64::ExceptionInfo {
            vector: 6,
            error_code: 0,
            cr2: 0,
        }
    }
    fn page_fault_info(f: &Fault) -> x86_64::ExceptionInfo {
        // #PF error code: P (present, i.e. a protection fault), W, U, I.
        let present = u64::from(f.kind == FaultKind::Permission);
        let write = u64::from(f.access == Access::Write) << 1;
        let user = u64::from(f.user) << 2;
        let fetch = u64::from(f.access == Access::Execute) << 4;
        x86_64::ExceptionInfo {
            vector: 14,
            error_code: present | write | user | fetch,
            cr2: f.va,
        }
    }
}

impl SimArch for Aarch64 {
    fn pc(ctx: &aarch64::UserContext) -> u64 {
        ctx.pc
    }
    fn set_pc(ctx: &mut aarch64::UserContext, pc: u64) {
        ctx.pc = pc;
    }
    fn gprs(c: &mut aarch64::UserContext) -> Vec<&mut u64> {
        let mut v: Vec<&mut u64> = c.x.iter_mut().collect();
        v.push(&mut c.sp);
        v
    }
    fn tls(ctx: &aarch64::UserContext) -> u64 {
        ctx.tpidr_el0
    }
    fn set_tls(ctx: &mut aarch64::UserContext, fs: u64, _gs: u64) {
        ctx.tpidr_el0 = fs;
    }
    fn syscall_side_effects(_ctx: &mut aarch64::UserContext, _return_pc: u64) {}
    fn set_syscall(ctx: &mut aarch64::UserContext, number: u64, args: &[u64]) {
        ctx.x[16] = number;
        for (r, a) in ctx.x.iter_mut().zip(args) {
            *r = *a;
        }
    }
    fn syscall_status(ctx: &aarch64::UserContext) -> i32 {
        ctx.x[0] as i32
    }
    fn undefined_instruction() -> aarch64::ExceptionInfo {
        aarch64::ExceptionInfo {
            esr: 1 << 25,
            far: 0,
        }
    }
    fn page_fault_info(f: &Fault) -> aarch64::ExceptionInfo {
        let class = if f.access == Access::Execute {
            aarch64::restricted::ec::INSTRUCTION_ABORT_LOWER
        } else {
            aarch64::restricted::ec::DATA_ABORT_LOWER
        };
        // Fault status: translation fault level 3 (0b000111) or permission
        // fault level 3 (0b001111); WnR for writes.
        let fsc = if f.kind == FaultKind::Permission {
            0x0f
        } else {
            0x07
        };
        let wnr = u64::from(f.access == Access::Write) << 6;
        aarch64::ExceptionInfo {
            esr: (class << 26) | (1 << 25) | wnr | fsc,
            far: f.va,
        }
    }
}

/// Computes an address from the registers.
pub type AddrFn<A> = Box<dyn Fn(&<A as Arch>::UserContext) -> u64 + Send + Sync>;
/// Changes registers.
pub type RegsFn<A> = Box<dyn Fn(&mut <A as Arch>::UserContext) + Send + Sync>;
/// Computes the bytes a store writes.
pub type BytesFn<A> = Box<dyn Fn(&<A as Arch>::UserContext) -> Vec<u8> + Send + Sync>;
/// Receives the value a load read.
pub type LoadFn<A> = Box<dyn Fn(&mut <A as Arch>::UserContext, u64) + Send + Sync>;

/// One simulated instruction.
pub enum Insn<A: Arch> {
    /// Changes registers (any computation), then falls through.
    Regs(RegsFn<A>),
    /// Stores `bytes(ctx)` at `addr(ctx)` through the MMU.
    Store(AddrFn<A>, BytesFn<A>),
    /// Loads 8 bytes at `addr(ctx)` and hands them to `into(ctx, value)`.
    Load(AddrFn<A>, LoadFn<A>),
    /// The syscall instruction (`syscall` / `svc #0`).
    Syscall,
    /// An undefined instruction (`ud2` / `udf #0`).
    Undefined,
    /// Jumps to an absolute address.
    Jump(u64),
    /// Jumps to itself: spins until an interrupt.
    Spin,
}

/// A simulated CPU with a program.
pub struct Cpu<A: SimArch> {
    sim: Sim<A>,
    code: BTreeMap<u64, Insn<A>>,
}

impl<A: SimArch> Cpu<A> {
    /// Instructions between two timer interrupts.
    pub const TIMESLICE: usize = 10_000;

    /// A CPU of machine `sim` with no code.
    pub fn new(sim: &Sim<A>) -> Self {
        Cpu {
            sim: sim.clone(),
            code: BTreeMap::new(),
        }
    }

    /// Places `insns` one after another from `addr`; returns the address
    /// after the last one.
    pub fn load(&mut self, addr: u64, insns: Vec<Insn<A>>) -> u64 {
        let mut at = addr;
        for insn in insns {
            self.code.insert(at, insn);
            at += INSN_SIZE;
        }
        at
    }

    /// Runs user code in address space `(root, asid)` from `ctx` until a
    /// trap, as `run_user` would for thread `koid`.
    pub fn run(&self, root: PhysAddr, asid: u16, koid: u64, ctx: &mut A::UserContext) -> Trap<A> {
        for _ in 0..Self::TIMESLICE {
            if self.sim.take_interrupt(koid) {
                return Trap::Interrupt(0);
            }
            let pc = A::pc(ctx);
            if let Err(f) = self.sim.translate(root, asid, pc, Access::Execute, true) {
                return self.fault(&f);
            }
            let Some(insn) = self.code.get(&pc) else {
                // Mapped executable but no instruction here: the bytes are
                // not a valid instruction.
                return Trap::Exception(A::undefined_instruction());
            };
            let next = pc.wrapping_add(INSN_SIZE);
            match insn {
                Insn::Regs(f) => {
                    f(ctx);
                    A::set_pc(ctx, next);
                }
                Insn::Store(addr, bytes) => {
                    let (va, data) = (addr(ctx), bytes(ctx));
                    if let Err(f) = self.sim.user_write(root, asid, va, &data) {
                        return self.fault(&f);
                    }
                    A::set_pc(ctx, next);
                }
                Insn::Load(addr, into) => {
                    let mut b = [0u8; 8];
                    if let Err(f) = self.sim.user_read(root, asid, addr(ctx), &mut b) {
                        return self.fault(&f);
                    }
                    into(ctx, u64::from_ne_bytes(b));
                    A::set_pc(ctx, next);
                }
                Insn::Syscall => {
                    A::set_pc(ctx, next);
                    A::syscall_side_effects(ctx, next);
                    return Trap::Syscall;
                }
                Insn::Undefined => return Trap::Exception(A::undefined_instruction()),
                Insn::Jump(to) => A::set_pc(ctx, *to),
                Insn::Spin => {}
            }
        }
        // The timer.
        Trap::Interrupt(32)
    }

    fn fault(&self, f: &Fault) -> Trap<A> {
        Trap::PageFault(PageFault {
            addr: f.va,
            access: f.access,
            info: A::page_fault_info(f),
        })
    }
}

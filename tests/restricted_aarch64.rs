//! aarch64 restricted-mode fidelity (SPEC §5, Zircon's current
//! `ArchValidateStatePreRestrictedEntry` and `ArchEnterRestricted`): the
//! `cpsr` rules with and without AArch32 at EL0, AArch32 states carrying
//! only `r0`-`r14` with `TPIDRRO_EL0` mirroring `tpidr_el0`, and normal
//! mode's `TPIDR_EL0` / `TPIDRRO_EL0` restored at the vector.
#![cfg(feature = "sim")]

mod common;

use common::Env;
use zx_subsystem::abi::*;
use zx_subsystem::arch::aarch64::restricted::{
    CPSR_AARCH32, CPSR_BTYPE, CPSR_GE_Q, CPSR_IT, CPSR_NZCV, CPSR_THUMB,
};
use zx_subsystem::arch::aarch64::{Aarch64, UserContext};
use zx_subsystem::arch::{Aarch32, Arch};
use zx_subsystem::sim::cpu::SimArch;
use zx_subsystem::syscall::SyscallNumber;
use zx_subsystem::{ExitReason, Outcome, PAGE_SIZE};

struct Bench {
    env: Env<Aarch64>,
    state: zx_handle_t,
}

const VECTOR: u64 = 0x7000_0000;

impl Bench {
    fn new(a32: Aarch32) -> Bench {
        let env = Env::<Aarch64>::new();
        env.sim.set_aarch32(a32);
        env.call_ok(SyscallNumber::RestrictedBindState, &[0, env.out(0)])
            .unwrap();
        let state = env.read_u32(env.out(0));
        Bench { env, state }
    }

    fn write_state(&self, s: &zx_restricted_state_arm64_t) {
        let buf = self.env.out(64);
        self.env.write_bytes(buf, s.as_bytes());
        self.env
            .call_ok(
                SyscallNumber::VmoWrite,
                &[self.state as u64, buf, 0, s.as_bytes().len() as u64],
            )
            .unwrap();
    }

    fn read_state(&self) -> zx_restricted_state_arm64_t {
        let buf = self.env.out(64);
        let n = std::mem::size_of::<zx_restricted_state_arm64_t>();
        self.env
            .call_ok(
                SyscallNumber::VmoRead,
                &[self.state as u64, buf, 0, n as u64],
            )
            .unwrap();
        let mut b = vec![0u8; n];
        self.env
            .process
            .aspace()
            .copy_from_user(buf, &mut b)
            .unwrap();
        zx_restricted_state_arm64_t::from_bytes(&b).unwrap()
    }

    /// `zx_restricted_enter` from a normal-mode context with its own TLS.
    fn enter(&self, ctx: &mut UserContext) -> Outcome {
        ctx.tpidr_el0 = 0x1111;
        ctx.tpidrro_el0 = 0x2222;
        Aarch64::set_syscall(
            ctx,
            SyscallNumber::RestrictedEnter as u64,
            &[0, VECTOR, 0x55],
        );
        self.env.kernel.syscall(&self.env.thread, ctx)
    }
}

fn state(pc: u64, cpsr: u32) -> zx_restricted_state_arm64_t {
    let mut x = [0u64; 31];
    for (i, r) in x.iter_mut().enumerate() {
        *r = 0xabcd_0000_0000_0000 | (i as u64 + 1);
    }
    zx_restricted_state_arm64_t {
        x,
        sp: 0x9000,
        pc,
        tpidr_el0: 0x7777,
        cpsr,
        padding1: [0; 4],
    }
}

#[test]
fn aarch64_states_accept_the_user_visible_flags_only() {
    let b = Bench::new(Aarch32::Available);
    for (cpsr, ok) in [
        (CPSR_NZCV, true),
        (CPSR_NZCV | CPSR_BTYPE, true),
        (CPSR_GE_Q, false),
        (CPSR_THUMB, false),
        (0x3c0, false),
        (0x5, false),
        (1 << 21, false),
    ] {
        b.write_state(&state(0x40_0000, cpsr));
        let mut ctx = UserContext::default();
        let outcome = b.enter(&mut ctx);
        if ok {
            assert_eq!(outcome, Outcome::EnteredRestricted, "{cpsr:#x}");
            assert_eq!(ctx.spsr, u64::from(cpsr));
            // Leave again through a syscall instruction.
            let left = b.env.kernel.syscall(&b.env.thread, &mut ctx);
            assert_eq!(left, Outcome::LeftRestricted(ExitReason::Syscall));
            assert_eq!(b.read_state().cpsr, cpsr, "flags saved back");
        } else {
            assert_eq!(outcome, Outcome::Returned(Status::BadState), "{cpsr:#x}");
        }
    }
}

#[test]
fn aarch32_states_need_the_isa_and_follow_its_rules() {
    let a32 = CPSR_AARCH32 | CPSR_NZCV | CPSR_GE_Q | CPSR_IT;
    let t32 = a32 | CPSR_THUMB;
    // Without AArch32 at EL0: BAD_STATE.
    let b = Bench::new(Aarch32::Unavailable);
    b.write_state(&state(0x8000, a32));
    assert_eq!(
        b.enter(&mut UserContext::default()),
        Outcome::Returned(Status::BadState)
    );
    let b = Bench::new(Aarch32::Available);
    for (pc, cpsr, ok) in [
        (0x8000, a32, true),
        (0x8002, a32, false),
        (0x8002, t32, true),
        (0x8001, t32, false),
        (1 << 32, a32, false),
        (0x8000, a32 | 0x1c0, false),
        (0x8000, a32 | (1 << 9), false),
    ] {
        b.write_state(&state(pc, cpsr));
        let mut ctx = UserContext::default();
        let outcome = b.enter(&mut ctx);
        if !ok {
            assert_eq!(
                outcome,
                Outcome::Returned(Status::BadState),
                "{pc:#x} {cpsr:#x}"
            );
            continue;
        }
        assert_eq!(outcome, Outcome::EnteredRestricted);
        // r0-r14 carried as 32-bit values, the rest zero.
        for (i, r) in ctx.x.iter().enumerate() {
            let want = if i < 15 { i as u64 + 1 } else { 0 };
            assert_eq!(*r, want, "x{i}");
        }
        assert_eq!(ctx.spsr, u64::from(cpsr));
        assert_eq!(ctx.tpidr_el0, 0x7777);
        assert_eq!(ctx.tpidrro_el0, 0x7777, "TPIDRRO_EL0 mirrors tpidr_el0");
        // AArch32 code ran: upper halves and x15.. are not its own.
        ctx.x[2] = 0xffff_ffff_0000_0042;
        ctx.x[20] = 99;
        let left = b.env.kernel.syscall(&b.env.thread, &mut ctx);
        assert_eq!(left, Outcome::LeftRestricted(ExitReason::Syscall));
        let saved = b.read_state();
        assert_eq!(saved.x[2], 0x42);
        assert_eq!(saved.x[20], 0);
        assert_eq!(saved.cpsr, cpsr);
        // Normal mode's TLS registers are back.
        assert_eq!((ctx.tpidr_el0, ctx.tpidrro_el0), (0x1111, 0x2222));
        assert_eq!(ctx.pc, VECTOR);
        assert_eq!(ctx.spsr, 0, "normal mode is AArch64 EL0t");
    }
}

#[test]
fn normal_tpidrro_is_restored_after_every_exit() {
    let b = Bench::new(Aarch32::Unavailable);
    b.write_state(&state(0x40_0000, 0));
    let mut ctx = UserContext::default();
    assert_eq!(b.enter(&mut ctx), Outcome::EnteredRestricted);
    assert_eq!(ctx.tpidrro_el0, 0x2222, "AArch64 restricted code keeps it");
    // A kick at a boundary is an exit too.
    let me = b
        .env
        .process
        .add_handle(
            zx_subsystem::object::KernelObject::Thread(b.env.thread.clone()),
            Rights::DEFAULT_THREAD,
        )
        .unwrap();
    b.env
        .call_ok(SyscallNumber::RestrictedKick, &[me as u64, 0])
        .unwrap();
    ctx.tpidr_el0 = 0xdead;
    let r = b.env.kernel.boundary(&b.env.thread, &mut ctx);
    assert_eq!(r, Outcome::LeftRestricted(ExitReason::Kick));
    assert_eq!((ctx.tpidr_el0, ctx.tpidrro_el0), (0x1111, 0x2222));
    assert_eq!(b.read_state().tpidr_el0, 0xdead);
    let _ = (PAGE_SIZE, Aarch64::NAME);
}

//! The smoke scenario on aarch64: real EL0 code through
//! `zx_subsystem::arch::aarch64::run_user`, every result checked.

use zx_subsystem::arch::Arch;
use zx_subsystem::arch::aarch64::entry::{EC_DABT_LOWER, EC_PC_ALIGNMENT, ESR_IL, exception_class};
use zx_subsystem::arch::aarch64::{Aarch64, ExceptionInfo, FpState, UserContext, run_user};
use zx_subsystem::trap::{Access, PageFault, Trap};

use super::Console;
use super::cpu::{Gic, VTIMER_INTID, cntfrq, cntvct};
use super::paging::{USER_DATA, USER_RO, USER_STACK_TOP, UserPages, phys_to_virt};
use super::user::{Entry, NZCV_PATTERN, SP_PATTERN, addr};
use crate::report::Report;
use crate::user_abi::*;

/// What the scenario runs with.
pub struct Env {
    /// The frames behind the user pages.
    pub pages: UserPages,
    /// The interrupt controller and virtual timer, for the interrupt check.
    pub gic: Gic,
}

type R = Report<Console>;

/// `ESR_EL1.EC` of `brk` from AArch64.
const EC_BRK64: u64 = 0x3c;
/// Data abort ISS: WnR.
const ISS_WNR: u64 = 1 << 6;
/// Fault status: permission fault, level 3.
const FSC_PERMISSION_L3: u64 = 0x0f;

fn start(entry: Entry) -> UserContext {
    UserContext {
        pc: addr(entry),
        sp: USER_STACK_TOP,
        ..UserContext::default()
    }
}

fn enter(ctx: &mut UserContext) -> Trap<Aarch64> {
    // SAFETY: `cpu::init` installed the crate's vector table and the kernel
    // runs at EL1 with SPSel = 1 and FP open (1); we run on the 64 KiB
    // boot stack in TTBR1 (2); `ctx` is a live `&mut` (3); the EL0 pages
    // hold only the test's code and data (4).
    unsafe { run_user(ctx) }
}

/// Runs user code, answering `SYS_NULL` and `SYS_GET`, until `SYS_REPORT`
/// (`Some`) or anything else (`None`).
fn run_to_report(r: &mut R, ctx: &mut UserContext) -> Option<()> {
    for _ in 0..8 {
        match enter(ctx) {
            Trap::Syscall => match Aarch64::syscall_number(ctx) {
                SYS_NULL => ctx.x[0] = 0,
                SYS_GET => ctx.x[0] = RETVAL,
                SYS_REPORT => return Some(()),
                n => r.note(format_args!("unexpected syscall {n}")),
            },
            other => {
                r.note(format_args!(
                    "unexpected trap {other:x?} at pc {:#x}",
                    ctx.pc
                ));
                return None;
            }
        }
    }
    None
}

/// Runs every check.
pub fn run(r: &mut R, env: &mut Env) {
    svc_saves_every_register(r);
    eret_loads_every_register(r);
    write_to_read_only_page(r, env);
    syscall_return_value(r);
    tls(r, env);
    faults(r);
    interrupt_from_user(r, env);
    bench_null_syscall(r);
}

/// (a) Every register set to a pattern, `svc`: all saved, `pc` after the
/// `svc`, NZCV in SPSR.
fn svc_saves_every_register(r: &mut R) {
    let mut ctx = start(Entry::Regs);
    let trap = enter(&mut ctx);
    r.check_eq("svc traps as Trap::Syscall", trap, Trap::Syscall);
    let mut want = UserContext {
        x: core::array::from_fn(|i| pattern(i as u64)),
        sp: SP_PATTERN,
        pc: addr(Entry::RegsRet),
        spsr: NZCV_PATTERN,
        tpidr_el0: 0,
        tpidrro_el0: 0,
        fp: Default::default(),
    };
    want.x[16] = SYS_CHECK;
    r.check_eq(
        "svc saves x0-x30, sp_el0, pc after svc, spsr (NZCV, EL0t)",
        ctx,
        want,
    );
}

/// (b) `eret` loads every register and `udf` saves them all back.
fn eret_loads_every_register(r: &mut R) {
    let mut ctx = UserContext {
        x: core::array::from_fn(|i| pattern(i as u64)),
        sp: SP_PATTERN,
        pc: addr(Entry::Udf),
        spsr: NZCV_PATTERN,
        tpidr_el0: TLS_WORD,
        tpidrro_el0: 0,
        fp: FpState {
            q: core::array::from_fn(|i| {
                u128::from(pattern(i as u64)) << 64 | u128::from(!pattern(i as u64))
            }),
            // FPSR's cumulative flags; FPCR round-toward-zero.
            fpsr: 0x9f,
            fpcr: 0x00c0_0000,
        },
    };
    let before = ctx;
    let trap = enter(&mut ctx);
    r.check_eq(
        "udf #0 is an Exception with EC 0 and IL set",
        trap,
        Trap::Exception(ExceptionInfo {
            esr: ESR_IL,
            far: 0,
        }),
    );
    r.check_eq(
        "eret entry and udf exit keep every register, FP and SIMD too (pc at udf)",
        ctx,
        before,
    );
}

/// (c) A write to a read-only user page.
fn write_to_read_only_page(r: &mut R, env: &mut Env) {
    let ro = phys_to_virt(env.pages.ro).cast::<u64>();
    // SAFETY: the RO frame is ours, in the direct map; EL0 cannot write it.
    unsafe { ro.add(1).write_volatile(0x0bad_c0de) };
    let mut ctx = start(Entry::WriteRo);
    ctx.x[1] = 0x77;
    let trap = enter(&mut ctx);
    let fault = match trap {
        Trap::PageFault(pf) => Some((pf.addr, pf.access, pf.info.far)),
        _ => None,
    };
    r.check_eq(
        "write to a read-only page: PageFault, address, Write",
        fault,
        Some((USER_RO + 8, Access::Write, USER_RO + 8)),
    );
    if let Trap::PageFault(PageFault { info, .. }) = trap {
        r.check_eq(
            "page fault ESR: data abort from EL0, WnR, permission fault L3",
            (
                exception_class(info.esr),
                info.esr & ISS_WNR != 0,
                info.esr & 0x3f,
            ),
            (EC_DABT_LOWER, true, FSC_PERMISSION_L3),
        );
    }
    r.check_eq(
        "page fault: pc at the faulting instruction",
        ctx.pc,
        addr(Entry::WriteRoInsn),
    );
    // SAFETY: as above.
    let word = unsafe { ro.add(1).read_volatile() };
    r.check_eq("read-only page unchanged", word, 0x0bad_c0de);
}

/// (d) The kernel's return value reaches user `x0`, and a callee register
/// survives.
fn syscall_return_value(r: &mut R) {
    let mut ctx = start(Entry::Retval);
    let got = run_to_report(r, &mut ctx).map(|()| ctx.x[0]);
    r.check_eq(
        "syscall return value seen by user code (x0), x19 kept",
        got,
        Some(3),
    );
}

/// (e) TPIDR_EL0 set by the kernel survives a syscall round trip; one set
/// at EL0 is what the kernel saves.
fn tls(r: &mut R, env: &mut Env) {
    let data = phys_to_virt(env.pages.data).cast::<u64>();
    // SAFETY: the data frame is ours, in the direct map.
    unsafe { data.write_volatile(TLS_WORD) };
    let mut ctx = start(Entry::Tls);
    ctx.tpidr_el0 = USER_DATA;
    let got = run_to_report(r, &mut ctx).map(|()| (ctx.x[0], ctx.x[1], ctx.tpidr_el0));
    r.check_eq(
        "TLS: [tpidr_el0] read at EL0 after a syscall, tpidr_el0 saved unchanged",
        got,
        Some((TLS_WORD, USER_DATA, USER_DATA)),
    );
    let mut ctx = start(Entry::SetTls);
    ctx.x[0] = USER_DATA + 0x800;
    let got = run_to_report(r, &mut ctx).map(|()| ctx.tpidr_el0);
    r.check_eq(
        "TLS: tpidr_el0 written at EL0 saved at the next svc",
        got,
        Some(USER_DATA + 0x800),
    );
}

/// Breakpoint, kernel-half pc, misaligned pc, SPSR sanitising.
fn faults(r: &mut R) {
    let mut ctx = start(Entry::Brk);
    let trap = enter(&mut ctx);
    r.check_eq(
        "brk #0x42: Exception EC 0x3c with the immediate, pc at brk",
        (trap, ctx.pc),
        (
            Trap::Exception(ExceptionInfo {
                esr: (EC_BRK64 << 26) | ESR_IL | 0x42,
                far: 0,
            }),
            addr(Entry::Brk),
        ),
    );

    let kernel_pc = super::kernel_main as *const () as u64;
    let mut ctx = start(Entry::Spin);
    ctx.pc = kernel_pc;
    let trap = enter(&mut ctx);
    let got = match trap {
        Trap::PageFault(pf) => Some((pf.addr, pf.access)),
        _ => None,
    };
    r.check_eq(
        "kernel-half pc: instruction abort at EL0, PageFault Execute",
        got,
        Some((kernel_pc, Access::Execute)),
    );

    let mut ctx = start(Entry::Spin);
    ctx.pc += 2;
    let trap = enter(&mut ctx);
    r.check_eq(
        "misaligned pc: PC alignment exception with FAR",
        trap,
        Trap::Exception(ExceptionInfo {
            esr: (EC_PC_ALIGNMENT << 26) | ESR_IL,
            far: ctx.pc,
        }),
    );

    // An SPSR asking for EL1h with interrupts masked still runs at EL0.
    let mut ctx = start(Entry::Udf);
    ctx.spsr = 0x6000_03c5;
    let trap = enter(&mut ctx);
    r.check_eq(
        "hostile SPSR (EL1h, DAIF) is forced to EL0t: udf traps from EL0",
        (trap, ctx.spsr),
        (
            Trap::Exception(ExceptionInfo {
                esr: ESR_IL,
                far: 0,
            }),
            0x6000_0000,
        ),
    );
}

/// An IRQ at EL0 comes back as `Trap::Interrupt(0)`, and the thread resumes
/// where it was.
fn interrupt_from_user(r: &mut R, env: &mut Env) {
    let mut ctx = start(Entry::Spin);
    let spin = addr(Entry::Spin)..addr(Entry::Spin) + 8;
    env.gic.timer_one_shot(1000);
    let first = enter(&mut ctx);
    let intid = env.gic.ack();
    env.gic.timer_stop();
    env.gic.eoi(intid);
    let count = ctx.x[0];
    r.check_eq(
        "virtual timer at EL0: Trap::Interrupt(0), GIC says INTID 27",
        (first, intid),
        (Trap::Interrupt(0), VTIMER_INTID),
    );
    r.check("interrupt: pc inside the user loop", spin.contains(&ctx.pc));
    env.gic.timer_one_shot(1000);
    let second = enter(&mut ctx);
    let intid = env.gic.ack();
    env.gic.timer_stop();
    env.gic.eoi(intid);
    r.check(
        "interrupt: user code resumes and keeps counting",
        second == Trap::Interrupt(0) && ctx.x[0] > count && count > 0,
    );
}

/// 10,000 null syscalls: user `svc` -> kernel returns at once -> user.
fn bench_null_syscall(r: &mut R) {
    let mut ctx = start(Entry::NullLoop);
    ctx.x[19] = BENCH_ITERATIONS;
    let mut count = 0;
    let t0 = cntvct();
    let done = loop {
        match enter(&mut ctx) {
            Trap::Syscall if ctx.x[16] == SYS_NULL => count += 1,
            Trap::Syscall if ctx.x[16] == SYS_DONE => break true,
            _ => break false,
        }
    };
    let t1 = cntvct();
    r.check("null-syscall loop ran to SYS_DONE", done);
    r.check_eq("null-syscall loop count", count, BENCH_ITERATIONS);
    let ticks = t1 - t0;
    let freq = cntfrq().max(1);
    let milli_ticks = ticks * 1000 / BENCH_ITERATIONS;
    let ns = ticks * 1_000_000_000 / freq / BENCH_ITERATIONS;
    crate::kprintln!(
        "# run_user alone (no crate dispatch): null syscall round trip {}.{:03} cntvct ticks/iteration = {ns} ns at {freq} Hz ({ticks} ticks / {count})",
        milli_ticks / 1000,
        milli_ticks % 1000,
    );
    // What a tick is: under `-icount shift=0` one guest instruction is one
    // virtual nanosecond, so a known loop reads as its length / 16 ticks.
    let c0 = cntvct();
    // SAFETY: a register-only countdown loop.
    unsafe {
        core::arch::asm!("2:", "subs {n}, {n}, #1", "b.ne 2b", n = inout(reg) 5000u64 => _, options(nomem, nostack));
    }
    let c1 = cntvct();
    crate::kprintln!(
        "# calibration: a 10000-instruction loop reads {} cntvct ticks = {} ns",
        c1 - c0,
        (c1 - c0) * 1_000_000_000 / freq
    );
}

//! The smoke scenario on x86_64: real ring-3 code through
//! `zx_subsystem::arch::x86_64::run_user`, every result checked.

use zx_subsystem::arch::Arch;
use zx_subsystem::arch::x86_64::{ExceptionInfo, UserContext, X86_64, run_user};
use zx_subsystem::trap::{Access, PageFault, Trap};

use super::Console;
use super::cpu::{Features, Lapic, MSR_GS_BASE, PER_CPU, TIMER_VECTOR, rdmsr, rdtsc};
use super::paging::{USER_DATA, USER_RO, USER_STACK_TOP, UserPages, phys_to_virt};
use super::user::{Entry, RSP_PATTERN, addr};
use crate::report::Report;
use crate::user_abi::*;

/// What the scenario runs with.
pub struct Env {
    /// CPU features the kernel enabled.
    pub features: Features,
    /// The frames behind the user pages.
    pub pages: UserPages,
    /// The local APIC, for the interrupt check.
    pub lapic: Lapic,
    /// Traps after which GS base was not the kernel's per-CPU block.
    gs_mismatches: u32,
}

type R = Report<Console>;

const EXC_BP: u64 = 3;
const EXC_UD: u64 = 6;
const EXC_GP: u64 = 13;
const EXC_PF: u64 = 14;
/// Page-fault error code bits.
const PF_PRESENT: u64 = 1;
const PF_WRITE: u64 = 2;
const PF_USER: u64 = 4;
const PF_FETCH: u64 = 16;
/// RFLAGS: IF | fixed bit 1.
const RFLAGS_BASE: u64 = 0x202;
const RFLAGS_CF: u64 = 1;
const RFLAGS_DF: u64 = 1 << 10;
/// The word at the start of the GS TLS block.
const TLS_WORD_GS: u64 = 0x7715_0000_9595_0002;

impl Env {
    /// The environment for [`run`].
    pub fn new(features: Features, pages: UserPages, lapic: Lapic) -> Env {
        Env {
            features,
            pages,
            lapic,
            gs_mismatches: 0,
        }
    }

    /// Runs user code until the next trap, and checks the kernel's GS came
    /// back.
    fn enter(&mut self, ctx: &mut UserContext) -> Trap<X86_64> {
        // SAFETY: `cpu::init` met the module-doc obligations (GDT layout,
        // syscall MSRs, IDT from `fill_idt`, TSS rsp0 given to PER_CPU, GS
        // at PER_CPU) (1); we run on the 64 KiB boot stack in the kernel
        // half (2); `ctx` is a live `&mut` (3); user pages hold only the
        // test's code and data (4).
        let trap = unsafe { run_user(ctx) };
        // SAFETY: IA32_GS_BASE exists on every x86_64 CPU.
        let gs = unsafe { rdmsr(MSR_GS_BASE) };
        if gs != &raw const PER_CPU as u64 {
            self.gs_mismatches += 1;
        }
        trap
    }

    /// Runs user code, answering `SYS_NULL` and `SYS_GET`, until
    /// `SYS_REPORT` (returns the context then) or anything else (`None`).
    fn run_to_report(&mut self, r: &mut R, ctx: &mut UserContext) -> Option<()> {
        for _ in 0..8 {
            match self.enter(ctx) {
                Trap::Syscall => match X86_64::syscall_number(ctx) {
                    SYS_NULL => ctx.rax = 0,
                    SYS_GET => ctx.rax = RETVAL,
                    SYS_REPORT => return Some(()),
                    n => r.note(format_args!("unexpected syscall {n}")),
                },
                other => {
                    r.note(format_args!(
                        "unexpected trap {other:x?} at rip {:#x}",
                        ctx.rip
                    ));
                    return None;
                }
            }
        }
        None
    }
}

fn start(entry: Entry) -> UserContext {
    UserContext {
        rip: addr(entry),
        rsp: USER_STACK_TOP,
        rflags: RFLAGS_BASE,
        ..UserContext::default()
    }
}

fn exception(vector: u64, error_code: u64) -> Trap<X86_64> {
    Trap::Exception(ExceptionInfo {
        vector,
        error_code,
        cr2: 0,
    })
}

/// Runs every check.
pub fn run(r: &mut R, env: &mut Env) {
    syscall_saves_every_register(r, env);
    iret_loads_every_register(r, env);
    write_to_read_only_page(r, env);
    syscall_return_value(r, env);
    tls_survives(r, env);
    tls_written_by_user(r, env);
    faults_and_refusals(r, env);
    interrupt_from_user(r, env);
    r.check_eq(
        "kernel GS base is back after every trap",
        env.gs_mismatches,
        0,
    );
    bench_null_syscall(r);
}

/// (a) Every GPR set to a pattern, `syscall`: all saved, `rip` after the
/// `syscall`, `rcx`/`r11` as the CPU left them.
fn syscall_saves_every_register(r: &mut R, env: &mut Env) {
    let mut ctx = start(Entry::Regs);
    let trap = env.enter(&mut ctx);
    r.check_eq("syscall traps as Trap::Syscall", trap, Trap::Syscall);
    let ret = addr(Entry::RegsRet);
    let rflags = RFLAGS_BASE | RFLAGS_CF | RFLAGS_DF;
    let want = UserContext {
        rax: SYS_CHECK,
        rbx: pattern(1),
        rcx: ret,
        rdx: pattern(3),
        rsi: pattern(4),
        rdi: pattern(5),
        rbp: pattern(6),
        rsp: RSP_PATTERN,
        r8: pattern(8),
        r9: pattern(9),
        r10: pattern(10),
        r11: rflags,
        r12: pattern(12),
        r13: pattern(13),
        r14: pattern(14),
        r15: pattern(15),
        rip: ret,
        rflags,
        fs_base: 0,
        gs_base: 0,
    };
    r.check_eq(
        "syscall saves every register (rip after syscall, rcx = rip, r11 = rflags)",
        ctx,
        want,
    );
}

/// (b) `iretq` path (rcx != rip) loads every register, and `#UD` saves
/// them all back unchanged.
fn iret_loads_every_register(r: &mut R, env: &mut Env) {
    let mut ctx = UserContext {
        rax: pattern(0),
        rbx: pattern(1),
        rcx: pattern(2),
        rdx: pattern(3),
        rsi: pattern(4),
        rdi: pattern(5),
        rbp: pattern(6),
        rsp: RSP_PATTERN,
        r8: pattern(8),
        r9: pattern(9),
        r10: pattern(10),
        r11: pattern(11),
        r12: pattern(12),
        r13: pattern(13),
        r14: pattern(14),
        r15: pattern(15),
        rip: addr(Entry::Ud2),
        rflags: RFLAGS_BASE | RFLAGS_CF | RFLAGS_DF,
        fs_base: USER_DATA,
        gs_base: USER_DATA + 0x100,
    };
    let before = ctx;
    let trap = env.enter(&mut ctx);
    r.check_eq("ud2 raises #UD (vector 6)", trap, exception(EXC_UD, 0));
    r.check_eq(
        "iretq entry and #UD exit keep every register (rip at ud2)",
        ctx,
        before,
    );
}

/// (c) A write to a read-only user page.
fn write_to_read_only_page(r: &mut R, env: &mut Env) {
    let ro = phys_to_virt(env.pages.ro).cast::<u64>();
    // SAFETY: the RO frame is ours, mapped in the direct map; ring 3 cannot
    // write it (that is the point).
    unsafe { ro.add(1).write_volatile(0x0bad_c0de) };
    let mut ctx = start(Entry::WriteRo);
    ctx.rbx = 0x77;
    let trap = env.enter(&mut ctx);
    let want = Trap::PageFault(PageFault {
        addr: USER_RO + 8,
        access: Access::Write,
        info: ExceptionInfo {
            vector: EXC_PF,
            error_code: PF_PRESENT | PF_WRITE | PF_USER,
            cr2: USER_RO + 8,
        },
    });
    r.check_eq(
        "write to a read-only page: PageFault, address, Write",
        trap,
        want,
    );
    r.check_eq(
        "page fault: rip at the faulting instruction",
        ctx.rip,
        addr(Entry::WriteRoInsn),
    );
    // SAFETY: as above.
    let word = unsafe { ro.add(1).read_volatile() };
    r.check_eq("read-only page unchanged", word, 0x0bad_c0de);
}

/// (d) The kernel's return value reaches user `rax` (via `sysretq`), and a
/// callee register survives.
fn syscall_return_value(r: &mut R, env: &mut Env) {
    let mut ctx = start(Entry::Retval);
    let got = env.run_to_report(r, &mut ctx).map(|()| ctx.rdi);
    r.check_eq(
        "syscall return value seen by user code (rax), rbx kept",
        got,
        Some(3),
    );
}

/// (e) FS/GS base set by the kernel survive a syscall round trip; user
/// code reads its TLS through them.
fn tls_survives(r: &mut R, env: &mut Env) {
    let data = phys_to_virt(env.pages.data).cast::<u64>();
    // SAFETY: the data frame is ours, in the direct map.
    unsafe {
        data.write_volatile(TLS_WORD);
        data.add(0x100 / 8).write_volatile(TLS_WORD_GS);
    }
    let mut ctx = start(Entry::Tls);
    ctx.fs_base = USER_DATA;
    ctx.gs_base = USER_DATA + 0x100;
    let got = env.run_to_report(r, &mut ctx).map(|()| (ctx.rdi, ctx.rsi));
    r.check_eq(
        "TLS: fs:[0] and gs:[0] read in ring 3 after a syscall",
        got,
        Some((TLS_WORD, TLS_WORD_GS)),
    );
    r.check_eq(
        "TLS: fs_base and gs_base saved unchanged",
        (ctx.fs_base, ctx.gs_base),
        (USER_DATA, USER_DATA + 0x100),
    );
}

/// (e') With FSGSBASE, bases written in ring 3 are what the kernel saves.
fn tls_written_by_user(r: &mut R, env: &mut Env) {
    let name = "TLS: wrfsbase/wrgsbase in ring 3 saved at the next syscall";
    if !env.features.fsgsbase {
        r.skip(name, "CPU has no FSGSBASE");
        return;
    }
    let mut ctx = start(Entry::WrBases);
    ctx.rdi = USER_DATA + 0x800;
    ctx.rsi = USER_DATA + 0x900;
    let got = env
        .run_to_report(r, &mut ctx)
        .map(|()| (ctx.fs_base, ctx.gs_base));
    r.check_eq(name, got, Some((USER_DATA + 0x800, USER_DATA + 0x900)));
}

/// Privileged instruction, breakpoint, odd `rip`s.
fn faults_and_refusals(r: &mut R, env: &mut Env) {
    let mut ctx = start(Entry::Hlt);
    let trap = env.enter(&mut ctx);
    r.check_eq(
        "hlt in ring 3 raises #GP(0)",
        (trap, ctx.rip),
        (exception(EXC_GP, 0), addr(Entry::Hlt)),
    );

    let mut ctx = start(Entry::Int3);
    let trap = env.enter(&mut ctx);
    r.check_eq(
        "int3 raises #BP (DPL 3 gate), rip after it",
        (trap, ctx.rip),
        (exception(EXC_BP, 0), addr(Entry::Int3Ret)),
    );

    // A kernel (upper-half, supervisor) rip: ring 3 faults on the fetch.
    let kernel_rip = super::kernel_main as *const () as u64;
    let mut ctx = start(Entry::Spin);
    ctx.rip = kernel_rip;
    let trap = env.enter(&mut ctx);
    let want = Trap::PageFault(PageFault {
        addr: kernel_rip,
        access: Access::Execute,
        info: ExceptionInfo {
            vector: EXC_PF,
            error_code: PF_PRESENT | PF_USER | PF_FETCH,
            cr2: kernel_rip,
        },
    });
    r.check_eq(
        "kernel-half rip: fetch PageFault in ring 3 (iretq)",
        trap,
        want,
    );

    // sysretq to an unmapped, canonical user rip.
    let far = 0x7fff_ffff_e000;
    let mut ctx = start(Entry::Spin);
    ctx.rip = far;
    ctx.rcx = far;
    ctx.r11 = RFLAGS_BASE;
    let trap = env.enter(&mut ctx);
    let want = Trap::PageFault(PageFault {
        addr: far,
        access: Access::Execute,
        info: ExceptionInfo {
            vector: EXC_PF,
            error_code: PF_USER | PF_FETCH,
            cr2: far,
        },
    });
    r.check_eq(
        "unmapped user rip (sysretq path): fetch PageFault",
        trap,
        want,
    );

    // A non-canonical rip never reaches sysretq or iretq.
    let mut ctx = start(Entry::Spin);
    ctx.rip = 0x0000_8000_0000_0000;
    ctx.rcx = ctx.rip;
    ctx.r11 = RFLAGS_BASE;
    let before = ctx;
    let trap = env.enter(&mut ctx);
    r.check_eq(
        "non-canonical rip refused with #GP, nothing run",
        (trap, ctx),
        (exception(EXC_GP, 0), before),
    );
    let mut ctx = start(Entry::Spin);
    ctx.fs_base = 0x0001_0000_0000_0000;
    let trap = env.enter(&mut ctx);
    r.check_eq(
        "non-canonical fs_base refused with #GP",
        trap,
        exception(EXC_GP, 0),
    );
}

/// An interrupt in ring 3 comes back as `Trap::Interrupt(vector)`, and the
/// thread resumes where it was.
fn interrupt_from_user(r: &mut R, env: &mut Env) {
    let mut ctx = start(Entry::Spin);
    let spin = addr(Entry::Spin)..addr(Entry::Spin) + 8;
    env.lapic.one_shot(20_000);
    let first = env.enter(&mut ctx);
    env.lapic.eoi();
    let count = ctx.rax;
    r.check_eq(
        "local APIC timer in ring 3: Trap::Interrupt(0x40)",
        first,
        Trap::Interrupt(u64::from(TIMER_VECTOR)),
    );
    r.check(
        "interrupt: rip inside the user loop",
        spin.contains(&ctx.rip),
    );
    env.lapic.one_shot(20_000);
    let second = env.enter(&mut ctx);
    env.lapic.eoi();
    env.lapic.stop();
    r.check(
        "interrupt: user code resumes and keeps counting",
        second == Trap::Interrupt(u64::from(TIMER_VECTOR)) && ctx.rax > count && count > 0,
    );
}

/// 10,000 null syscalls: user `syscall` -> kernel returns at once -> user.
fn bench_null_syscall(r: &mut R) {
    let mut ctx = start(Entry::NullLoop);
    ctx.rbx = BENCH_ITERATIONS;
    let mut count = 0;
    let t0 = rdtsc();
    let done = loop {
        // SAFETY: as in `Env::enter` (no GS check here, to time only the
        // round trip).
        match unsafe { run_user(&mut ctx) } {
            Trap::Syscall if ctx.rax == SYS_NULL => count += 1,
            Trap::Syscall if ctx.rax == SYS_DONE => break true,
            _ => break false,
        }
    };
    let t1 = rdtsc();
    r.check("null-syscall loop ran to SYS_DONE", done);
    r.check_eq("null-syscall loop count", count, BENCH_ITERATIONS);
    let per = (t1 - t0) / BENCH_ITERATIONS.max(1);
    crate::kprintln!(
        "# run_user alone (no crate dispatch): null syscall round trip {per} TSC ticks/iteration ({} ticks / {count})",
        t1 - t0
    );
    // What a tick is: under `-icount shift=0` the TSC advances one tick
    // per guest instruction, so a known loop reads as its length.
    let c0 = rdtsc();
    // SAFETY: a register-only countdown loop.
    unsafe {
        core::arch::asm!("2:", "dec {n}", "jnz 2b", n = inout(reg) 5000u64 => _, options(nomem, nostack));
    }
    let c1 = rdtsc();
    crate::kprintln!(
        "# calibration: a 10000-instruction loop reads {} TSC ticks",
        c1 - c0
    );
}

//! The host side of the restricted-mode scenario, shared by both arches.
//!
//! The kernel links `zx-subsystem` for real here: it creates a [`Kernel`]
//! over its [`Platform`] (frames from `memory::FRAMES`, its direct map, its
//! TLB maintenance), a process and one thread, and maps the user program
//! and a stack through the crate's own VMO/VMAR calls
//! ([`Program::load`]). Everything after that — creating and mapping a VMO,
//! `zx_vmar_protect`, binding and entering restricted mode, kicks — is done
//! by the user program through the crate's syscall table; the arch module
//! only switches to the process's page tables and runs [`Program::run`],
//! the trap loop of the crate's integration guide.
//!
//! # Host syscalls
//!
//! A host may add syscalls outside the crate's numbers; this kernel answers
//! numbers from [`abi::HOST_SYSCALL_BASE`] up, **in normal mode only** (in
//! restricted mode every syscall instruction belongs to the crate: it
//! leaves restricted mode). They are how the ring-3 / EL0 program reports:
//!
//! | number | call | effect |
//! |---|---|---|
//! | [`abi::HOST_CHECK`] | `check(name, got, want)` | one `ok - name` / `not ok - name` line; status 0 if `got == want`, else 1 |
//! | [`abi::HOST_BENCH`] | `bench(null, restricted, cal_ticks, cal_insns, iterations)` | the `bench:` line |
//! | [`abi::HOST_EXIT`] | `exit(code)` | ends [`Program::run`] |
//! | [`abi::HOST_KICK_ON_IRQ`] | `kick_on_irq()` | arms a one-shot timer; when it interrupts the thread, a second thread of the process kicks it first |
//! | [`abi::HOST_KILL_ON_IRQ`] | `kill_on_irq()` | arms a one-shot timer; when it interrupts the thread, the host kills it (`zx_task_kill` of the thread): the program's last act |
//!
//! The last one covers the kick of a thread *in* restricted mode, which a
//! single-threaded program cannot do itself: at the interrupt, the host
//! runs `zx_restricted_kick` for a second thread of the process (one that
//! never runs, it only names the caller, as another CPU's thread would),
//! and then hands the interrupt to the crate (`Kernel::exception` with
//! `Trap::Interrupt`): a kernel boundary, where the thread leaves
//! restricted mode with `KICK`. The host checks that the crate asked it to
//! interrupt the thread's CPU ([`Platform::interrupt_thread`], counted in
//! [`INTERRUPT_REQUESTS`]).
//!
//! `name` is a NUL-terminated string in user memory, read through the
//! crate's user-copy path like any other user pointer.
//!
//! Everything here is generic over the platform and compiles on the host
//! too; it only runs on bare metal.

use alloc::sync::Arc;
use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering};

use zx_subsystem::abi::{Rights, Status};
use zx_subsystem::arch::Arch;
use zx_subsystem::object::{KernelObject, Process, Thread};
use zx_subsystem::syscall::SyscallNumber;
use zx_subsystem::vm::{Perms, Placement, Vmar, Vmo};
use zx_subsystem::{Kernel, PAGE_SIZE, Platform};

use crate::report::Report;
use crate::sched::{self, Host, Machine, Stop, Task};

/// What the user program and this module agree on: host syscall numbers,
/// the layout of the program's globals, the values it stores and expects.
#[allow(dead_code, reason = "each arch's program uses its own subset")]
pub mod abi {
    /// The first host syscall number; the crate's own numbers are far below.
    pub const HOST_SYSCALL_BASE: u64 = 0x1000;
    /// `check(name, got, want)`.
    pub const HOST_CHECK: u64 = 0x1000;
    /// `bench(null_ticks, restricted_ticks, calibration_ticks,
    /// calibration_insns, iterations)`.
    pub const HOST_BENCH: u64 = 0x1001;
    /// `exit(code)`.
    pub const HOST_EXIT: u64 = 0x1002;
    /// `kick_on_irq()`: arm a one-shot timer; at its interrupt, kick the
    /// thread from a second thread.
    pub const HOST_KICK_ON_IRQ: u64 = 0x1003;
    /// `kill_on_irq()`: arm a one-shot timer; at its interrupt, kill the
    /// thread (it spins in restricted mode by then and never runs again).
    pub const HOST_KILL_ON_IRQ: u64 = 0x1004;

    /// Size of the stack VMO the host maps.
    pub const STACK_SIZE: u64 = 4 * 4096;
    /// The top of the stack mapping holds the program's globals and TLS
    /// blocks. Their base `G` (stack top minus this) is the initial stack
    /// pointer and the `context` the program passes to
    /// `zx_restricted_enter`: the vector finds its stack (growing down from
    /// `G`) and its globals through it.
    pub const GLOBALS_SIZE: u64 = 0x200;

    /// Offsets from `G`: handles and addresses the program keeps.
    pub const G_VMAR: u64 = 0x00;
    /// Its own thread's handle.
    pub const G_THREAD: u64 = 0x08;
    /// The VMO it creates.
    pub const G_VMO: u64 = 0x10;
    /// Where it mapped that VMO.
    pub const G_ADDR: u64 = 0x18;
    /// The restricted state VMO.
    pub const G_STATE_VMO: u64 = 0x20;
    /// Where it mapped the state VMO.
    pub const G_STATE_ADDR: u64 = 0x28;
    /// Where the common vector continues after it recorded the exit.
    pub const G_CONT: u64 = 0x30;
    /// At the vector: the OR of every register but the context and reason.
    pub const G_V_OR: u64 = 0x38;
    /// At the vector: the reason register.
    pub const G_V_REASON: u64 = 0x40;
    /// At the vector: the context register.
    pub const G_V_CTX: u64 = 0x48;
    /// At the vector: RFLAGS / NZCV.
    pub const G_V_FLAGS: u64 = 0x50;
    /// At the vector: the first TLS word (x86 `fs:[0]`, arm `[tpidr_el0]`).
    pub const G_V_TLS0: u64 = 0x58;
    /// At the vector: x86 `gs:[0]`, arm `tpidr_el0` itself.
    pub const G_V_TLS1: u64 = 0x60;
    /// Benchmark: round trips left.
    pub const G_COUNT: u64 = 0x68;
    /// Benchmark: sum of the exit reasons (0 when every exit was SYSCALL).
    pub const G_BAD: u64 = 0x70;
    /// Benchmark: start time.
    pub const G_T0: u64 = 0x78;
    /// Benchmark: calibration ticks.
    pub const G_CAL: u64 = 0x80;
    /// Benchmark: null-syscall loop ticks.
    pub const G_NULL: u64 = 0x88;
    /// Benchmark: restricted round-trip loop ticks.
    pub const G_RESTRICTED: u64 = 0x90;
    /// At the vector: the stack pointer.
    pub const G_V_RSP: u64 = 0x98;
    /// Restricted-mode TLS block 1 (x86 GS).
    pub const G_RTLS1: u64 = 0x1c0;
    /// Restricted-mode TLS block 0 (x86 FS, arm TPIDR_EL0).
    pub const G_RTLS0: u64 = 0x1d0;
    /// Normal-mode TLS block 1 (x86 GS).
    pub const G_NTLS1: u64 = 0x1e0;
    /// Normal-mode TLS block 0 (x86 FS, arm TPIDR_EL0): the host points
    /// the initial TLS register(s) here.
    pub const G_NTLS0: u64 = 0x1f0;

    /// The word at the start of normal TLS block 0.
    pub const NTLS0_WORD: u64 = 0x4e4f_524d_0000_0f50;
    /// The word at the start of normal TLS block 1.
    pub const NTLS1_WORD: u64 = 0x4e4f_524d_0000_0651;
    /// The word at the start of restricted TLS block 0.
    pub const RTLS0_WORD: u64 = 0x5245_5354_0000_0f52;
    /// The word at the start of restricted TLS block 1.
    pub const RTLS1_WORD: u64 = 0x5245_5354_0000_0653;

    /// Size of the VMO the program creates.
    pub const VMO_SIZE: u64 = 2 * 4096;
    /// What normal mode writes into it first.
    pub const MAGIC: u64 = 0x0a11_ce00_c0ff_ee01;
    /// What restricted code tries to write to the read-only page.
    pub const VALUE_FAULT: u64 = 0x0bad_0bad_0bad_0bad;
    /// What restricted code writes after the page is writable again.
    pub const VALUE_OK: u64 = 0x600d_600d_600d_600d;
    /// A marker in the state VMO that a kicked enter must leave alone.
    pub const KICK_MARK: u64 = 0x0c1c_c0c1_c0c1_c0c1;

    /// Round trips per measurement.
    pub const ITERATIONS: u64 = 10_000;
    /// Iterations of the two-instruction calibration loop.
    pub const CAL_LOOPS: u64 = 50_000;
    /// Instructions the calibration loop executes.
    pub const CAL_INSNS: u64 = 2 * CAL_LOOPS;

    /// The highest ratio (restricted round trip / null syscall, times 100)
    /// the run accepts: the shared-process issue's target of 3x (the
    /// round trip now goes through the scheduler's outcome handling and,
    /// for shared processes, a root switch).
    pub const MAX_RATIO_X100: u64 = 300;
}

/// Maps a new `len`-byte VMO holding `contents` (then zeros) anywhere in
/// `vmar` with `perms`; returns its address.
///
/// # Errors
///
/// What the crate returns (`NO_MEMORY`, `NO_RESOURCES`, ...).
pub fn map_new<P: Platform>(
    platform: &P,
    vmar: &Vmar<P>,
    len: u64,
    contents: &[u8],
    perms: Perms,
) -> zx_subsystem::Result<u64> {
    let vmo = Vmo::create(platform, len)?;
    vmo.write(0, contents)?;
    vmar.map(Placement::ANYWHERE, &vmo, 0, len, perms)
}

/// How many times the crate called `Platform::interrupt_thread` (the arch
/// platforms count here).
pub static INTERRUPT_REQUESTS: AtomicU64 = AtomicU64::new(0);

/// A process with one thread, the user program and its stack mapped.
pub struct Program<P: Platform> {
    /// The crate's kernel state.
    pub kernel: Kernel<P>,
    /// The process.
    pub process: Arc<Process<P>>,
    /// Its thread.
    pub thread: Arc<Thread<P>>,
    /// A second thread that never runs: the caller of the kick that
    /// `kick_on_irq` asks for.
    pub kicker: Arc<Thread<P>>,
    /// User address of the program's first instruction.
    pub entry: u64,
    /// Bytes of code mapped at [`entry`](Program::entry).
    pub code_len: u64,
    /// `G`: the program's initial stack pointer and globals base.
    pub globals: u64,
    /// The program's handle to its root VMAR.
    pub vmar_handle: u32,
    /// The program's handle to its own thread.
    pub thread_handle: u32,
}

impl<P: Platform> Program<P> {
    /// Creates the kernel, a process under the root job and a thread, maps
    /// `code` (read + execute) and a [`abi::STACK_SIZE`] stack (read +
    /// write) with `root_vmar().map`, and gives the process handles to its
    /// root VMAR (`DEFAULT_VMAR | READ | WRITE | EXECUTE`, as Zircon) and
    /// its thread (`DEFAULT_THREAD`, which has `MANAGE_THREAD` for kicks).
    ///
    /// # Errors
    ///
    /// Whatever the crate returns (`NO_MEMORY`, ...).
    pub fn load(platform: P, code: &[u8]) -> zx_subsystem::Result<Program<P>> {
        let kernel = Kernel::new(platform.clone());
        let process = kernel.create_process(kernel.root_job())?;
        let thread = process.create_thread(1)?;
        let kicker = process.create_thread(2)?;
        let code_len = (code.len() as u64).next_multiple_of(PAGE_SIZE);
        let vmar = process.root_vmar();
        let entry = map_new(
            &platform,
            vmar,
            code_len,
            code,
            Perms::READ | Perms::EXECUTE,
        )?;
        let rw = Perms::READ | Perms::WRITE;
        let stack_base = map_new(&platform, vmar, abi::STACK_SIZE, &[], rw)?;
        let vmar_handle = process.add_handle(
            KernelObject::Vmar(vmar.clone()),
            Rights::DEFAULT_VMAR | Rights::READ | Rights::WRITE | Rights::EXECUTE,
        )?;
        let thread_handle =
            process.add_handle(KernelObject::Thread(thread.clone()), Rights::DEFAULT_THREAD)?;
        Ok(Program {
            kernel,
            process,
            thread,
            kicker,
            entry,
            code_len,
            globals: stack_base + abi::STACK_SIZE - abi::GLOBALS_SIZE,
            vmar_handle,
            thread_handle,
        })
    }

    /// Runs the thread from `ctx` until it calls `exit`, through the
    /// kernel's scheduler ([`sched::run`]) with `machine` taking threads to
    /// user mode: syscalls go to the host calls (normal mode, host numbers)
    /// or the crate's table, page faults and other traps to the crate's
    /// handlers, interrupts are acknowledged and then handed to the crate
    /// as kernel boundaries. Records one check: the program ended as it
    /// should, killed by the host while it spun in restricted mode
    /// (`kill_on_irq`), or `exit` with code 0 (a normal-mode fault the
    /// crate cannot resolve ends the run and fails it).
    pub fn run<W: Write>(
        &self,
        ctx: <P::Arch as Arch>::UserContext,
        r: &mut Report<W>,
        machine: &mut impl Machine<P>,
    ) -> bool {
        let first = alloc::vec![Task {
            thread: self.thread.clone(),
            ctx,
        }];
        let mut host = ProgramHost {
            program: self,
            report: r,
            kick_on_irq: false,
            kill_on_irq: false,
            killed: false,
        };
        let stop = sched::run(&self.kernel, first, machine, &mut host);
        let killed = host.killed;
        match stop {
            Stop::NoThreads if killed => r.check(
                "killed while spinning in restricted mode: the thread died at the interrupt, never back at the vector",
                self.thread.is_dead(),
            ),
            Stop::Exit(code) => r.check_eq("user program exited with code 0", code, 0),
            Stop::Unhandled(trap, ctx) => {
                r.note(format_args!(
                    "normal-mode trap the crate cannot resolve: {trap:x?}"
                ));
                r.note(format_args!("context: {ctx:x?}"));
                r.check("user program exited with code 0", false)
            }
            Stop::NoThreads => {
                r.note(format_args!("every thread exited without HOST_EXIT"));
                r.check("user program exited with code 0", false)
            }
        }
    }

    /// `zx_restricted_kick(thread, 0)` called by the second thread, as one
    /// on another CPU would while the thread runs (restricted) code.
    fn kick_from_another_thread<W: Write>(&self, r: &mut Report<W>) {
        let before = INTERRUPT_REQUESTS.load(Ordering::Relaxed);
        let mut args = [0; 8];
        args[0] = u64::from(self.thread_handle);
        let status =
            self.kernel
                .syscall_raw(&self.kicker, SyscallNumber::RestrictedKick as u64, args);
        r.check_eq(
            "kick from a second thread while in restricted mode: zx_restricted_kick = ZX_OK",
            status,
            0,
        );
        r.check_eq(
            "kick from a second thread: the crate asks the host to interrupt the thread's CPU",
            INTERRUPT_REQUESTS.load(Ordering::Relaxed) - before,
            1,
        );
    }

    /// Answers a host syscall; `Some(code)` for `exit`.
    fn host_call<W: Write>(
        &self,
        number: u64,
        ctx: &mut <P::Arch as Arch>::UserContext,
        r: &mut Report<W>,
    ) -> Option<u64> {
        let args = P::Arch::syscall_args(ctx);
        let status = match number {
            abi::HOST_CHECK => {
                let mut buf = [0u8; 128];
                let name = self.read_str(args[0], &mut buf);
                if r.check_eq(name, args[1], args[2]) {
                    0
                } else {
                    1
                }
            }
            abi::HOST_BENCH => {
                bench(r, args[0], args[1], args[2], args[3], args[4]);
                0
            }
            abi::HOST_EXIT => return Some(args[0]),
            _ => Status::BadSyscall.into_raw(),
        };
        P::Arch::set_syscall_status(ctx, status);
        None
    }

    /// The NUL-terminated string at user address `addr` (at most
    /// `buf.len()` bytes of it), read through the crate's user copies.
    fn read_str<'b>(&self, addr: u64, buf: &'b mut [u8]) -> &'b str {
        let aspace = self.process.aspace();
        let mut len = 0;
        while len < buf.len() {
            let at = addr.wrapping_add(len as u64);
            let n = ((PAGE_SIZE - at % PAGE_SIZE) as usize).min(buf.len() - len);
            if aspace.copy_from_user(at, &mut buf[len..len + n]).is_err() {
                return "(unreadable check name)";
            }
            if let Some(nul) = buf[len..len + n].iter().position(|&b| b == 0) {
                len += nul;
                break;
            }
            len += n;
        }
        core::str::from_utf8(&buf[..len]).unwrap_or("(check name not UTF-8)")
    }
}

/// The host calls of [`Program::run`].
struct ProgramHost<'a, 'r, P: Platform, W: Write> {
    program: &'a Program<P>,
    report: &'r mut Report<W>,
    kick_on_irq: bool,
    kill_on_irq: bool,
    /// The host killed the thread at `kill_on_irq`'s interrupt.
    killed: bool,
}

impl<P: Platform, W: Write> Host<P> for ProgramHost<'_, '_, P, W> {
    fn host_base(&self) -> u64 {
        abi::HOST_SYSCALL_BASE
    }

    fn host_call<M: Machine<P>>(&mut self, task: &mut Task<P>, machine: &mut M) -> Option<u64> {
        let number = P::Arch::syscall_number(&task.ctx);
        if number == abi::HOST_KICK_ON_IRQ || number == abi::HOST_KILL_ON_IRQ {
            if number == abi::HOST_KICK_ON_IRQ {
                self.kick_on_irq = true;
            } else {
                self.kill_on_irq = true;
            }
            machine.arm_timer(KICK_TIMER_INSNS);
            P::Arch::set_syscall_status(&mut task.ctx, 0);
            return None;
        }
        self.program.host_call(number, &mut task.ctx, self.report)
    }

    fn on_timer(&mut self, task: &Task<P>) {
        if core::mem::take(&mut self.kick_on_irq) {
            self.program.kick_from_another_thread(self.report);
        }
        if core::mem::take(&mut self.kill_on_irq) {
            // zx_task_kill of the thread, as another thread of the runtime
            // would: it is in restricted mode, and leaves it dead at this
            // interrupt's kernel boundary.
            self.report.check(
                "kill_on_irq: the thread spins in restricted mode at the interrupt",
                self.program.kernel.in_restricted_mode(&task.thread),
            );
            task.thread.kill();
            self.killed = true;
        }
    }
}

/// How soon the `kick_on_irq` timer fires: the restricted loop is running
/// by then.
const KICK_TIMER_INSNS: u64 = 20_000;

/// Prints the `bench:` line (instructions per iteration, from the counter
/// ticks and the calibration loop) and checks the ratio target.
fn bench<W: Write>(
    r: &mut Report<W>,
    null_ticks: u64,
    restricted_ticks: u64,
    cal_ticks: u64,
    cal_insns: u64,
    iterations: u64,
) {
    r.note(format_args!(
        "bench raw: null {null_ticks} ticks, restricted {restricted_ticks} ticks, \
         calibration {cal_insns} insns = {cal_ticks} ticks, {iterations} iterations"
    ));
    if null_ticks == 0 || cal_ticks == 0 || iterations == 0 {
        r.check("bench: counters advanced", false);
        return;
    }
    let per_iter = |ticks: u64| {
        let num = u128::from(ticks) * u128::from(cal_insns);
        let den = u128::from(cal_ticks) * u128::from(iterations);
        ((num + den / 2) / den) as u64
    };
    let null = per_iter(null_ticks);
    let restricted = per_iter(restricted_ticks);
    let ratio_x100 = ((u128::from(restricted_ticks) * 100 + u128::from(null_ticks) / 2)
        / u128::from(null_ticks)) as u64;
    r.line(format_args!(
        "bench: null_syscall {null} insns/iter, restricted_roundtrip {restricted} insns/iter, ratio {}.{:02}",
        ratio_x100 / 100,
        ratio_x100 % 100
    ));
    r.check(
        "bench: restricted round trip costs at most 3 null syscalls",
        ratio_x100 <= abi::MAX_RATIO_X100,
    );
}

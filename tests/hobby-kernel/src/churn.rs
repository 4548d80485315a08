//! The identifier-churn scenario, shared by both arches: more live
//! processes than the CPU has address-space identifiers, every one entered
//! and checked twice, so the crate recycles PCIDs / ASIDs by generation
//! under real ring-3 / EL0 code.
//!
//! The host creates [`PROCESSES`] processes with the crate's kernel API
//! (not yet from user code: no user program here creates processes), each
//! with the same code page and a private data page holding its own marker
//! at the same address, and a handle to a *gate* process that has no
//! threads. Each process's one thread (`*/churn_user.rs`):
//!
//! 1. reports the marker it reads (`HOST_CHURN(index, seen, 1, 0)`);
//! 2. waits for the gate to terminate (`zx_object_wait_one(gate,
//!    ZX_TASK_TERMINATED, ZX_TIME_INFINITE, &observed)`): every process is
//!    now live and parked, none has exited;
//! 3. once the host has seen all first reports, it kills the gate; every
//!    thread wakes and reports its marker again with the wait's status
//!    (`HOST_CHURN(index, seen, 2, status)`), then `zx_process_exit(0)`.
//!
//! The checks: every report read its own marker, every wait returned
//! `ZX_OK`, and the identifier generation advanced (rollovers happened).
//! QEMU's TLBs are not tagged by identifier (a TTBR0 / CR3 write with a
//! new one flushes), so a missing flush would go unseen here; the host
//! tests (`tests/asid_generations.rs`) catch those on the sim's tagged
//! TLB. This scenario proves the protocol on the real switch and trap
//! paths: 16-bit or forced 8-bit ASIDs with `TCR_EL1.AS`, PCIDs, the
//! lazy flush at `load_view`.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;

use zx_subsystem::abi::{Rights, Status};
use zx_subsystem::arch::Arch;
use zx_subsystem::object::{KernelObject, Process, Thread};
use zx_subsystem::vm::{Perms, Placement, Vmo};
use zx_subsystem::{Kernel, PAGE_SIZE, PhysAddr, Platform};

use crate::report::Report;
use crate::sched::{self, Host, Machine, Stop, Task};
use crate::zx_host::abi::HOST_SYSCALL_BASE;
use crate::zx_host::map_new;

/// Live processes (each with one thread).
pub const PROCESSES: usize = 1000;
/// `churn(index, seen, pass, status)`.
pub const HOST_CHURN: u64 = HOST_SYSCALL_BASE + 0x10;

/// Process `i`'s marker.
fn marker(i: usize) -> u64 {
    0x6368_7572_0000_0000 | i as u64
}

/// What a thread's first instruction finds in its argument registers.
pub struct Start {
    /// Its handle to the gate process.
    pub gate: u32,
    /// Its index.
    pub index: u64,
    /// Its data page (the marker, then `observed`).
    pub data: u64,
}

/// The arch's part of [`run`].
pub trait ChurnArch<P: Platform>: Machine<P> {
    /// The first thread's context: `entry` with `start` in its argument
    /// registers.
    fn context(&self, entry: u64, start: &Start) -> <P::Arch as Arch>::UserContext;
    /// Makes the code mapped at `entry` (`len` bytes) in `process`
    /// fetchable (aarch64: the instruction cache).
    fn prepare(&mut self, process: &Arc<Process<P>>, entry: u64, len: u64);
    /// Loads the boot root again: the processes' roots are freed next.
    fn unload(&mut self);
    /// A counter and how many instructions one tick is under `-icount
    /// shift=0` (x86_64 `rdtsc`: 1; aarch64 `cntvct_el0`: 16).
    fn counter(&self) -> (u64, u64);
}

/// Runs the scenario with `code` (the arch's `churn_user::blob`) on
/// `machine`. Records its checks in `r`.
pub fn run<P: Platform, W: Write>(
    platform: P,
    code: &[u8],
    machine: &mut impl ChurnArch<P>,
    r: &mut Report<W>,
) {
    let kernel = Kernel::new(platform.clone());
    let bits = kernel.asids().bits();
    let built = build(&kernel, &platform, code, &|entry, start| {
        machine.context(entry, start)
    });
    let Ok((gate, procs, tasks, entry)) = built else {
        r.note(format_args!("churn: setup failed: {:?}", built.err()));
        r.check("churn: 1000 processes created", false);
        return;
    };
    r.check_eq(
        "churn: processes created",
        procs.len() as u64,
        PROCESSES as u64,
    );
    measure(&kernel, &tasks, machine, r);
    machine.prepare(&procs[0], entry, code.len() as u64);
    let mut host = ChurnHost {
        gate: gate.clone(),
        seen: alloc::vec![[0, 0, u64::MAX]; PROCESSES],
        first: 0,
    };
    let stop = sched::run(&kernel, tasks, machine, &mut host);
    r.check(
        "churn: every thread ran to zx_process_exit",
        matches!(stop, Stop::NoThreads),
    );
    let own = |pass: usize| {
        host.seen
            .iter()
            .enumerate()
            .filter(|(i, s)| s[pass] == marker(*i))
            .count() as u64
    };
    r.check_eq(
        "churn: first entry reads its own marker",
        own(0),
        PROCESSES as u64,
    );
    r.check_eq(
        "churn: entry after all others reads its own marker",
        own(1),
        PROCESSES as u64,
    );
    let waits_ok = host.seen.iter().filter(|s| s[2] == 0).count() as u64;
    r.check_eq(
        "churn: every wait on the gate returned ZX_OK",
        waits_ok,
        PROCESSES as u64,
    );
    let generation = kernel.asids().generation();
    r.note(format_args!(
        "churn: {PROCESSES} live processes, {bits}-bit identifiers, generation {generation}"
    ));
    r.check(
        "churn: identifiers were recycled (generation > 1)",
        generation > 1,
    );
    machine.unload();
    for p in procs.iter().chain([&gate]) {
        p.terminate();
    }
}

/// The gate, the processes, their threads, and where the code is.
/// Times `Kernel::user_view` (what a switch costs the crate): one thread
/// again and again (its identifier current: the lock-free path), and every
/// thread in turn, three rounds (8-bit identifiers: a rollover every 255
/// switches, its cost spread over them). Before any thread runs; the
/// generations this adds are in the figure the scenario reports.
fn measure<P: Platform, W: Write>(
    kernel: &Kernel<P>,
    tasks: &[Task<P>],
    machine: &impl ChurnArch<P>,
    r: &mut Report<W>,
) {
    const SAME: u64 = 10_000;
    // Tenths of an instruction per switch.
    let insns = |from: u64, to: u64, n: u64| (to - from) * machine.counter().1 * 10 / n;
    let first = &tasks[0].thread;
    let _ = kernel.user_view(0, first);
    // What the view cost before identifiers were recycled: the same
    // choice of root, out of line, with the identifier a field next to it.
    #[inline(never)]
    fn stored<P: Platform>(thread: &Thread<P>) -> (PhysAddr, u16, bool) {
        let p = thread.process();
        let a = p.restricted_aspace().unwrap_or(p.aspace());
        (a.root_table(), a.range().0 as u16, false)
    }
    let t = machine.counter().0;
    for _ in 0..SAME {
        core::hint::black_box(stored(core::hint::black_box(first)));
    }
    let baseline = insns(t, machine.counter().0, SAME);
    let t0 = machine.counter().0;
    for _ in 0..SAME {
        core::hint::black_box(kernel.user_view(0, core::hint::black_box(first)));
    }
    let current = insns(t0, machine.counter().0, SAME);
    let gen0 = kernel.asids().generation();
    let t1 = machine.counter().0;
    for _ in 0..3 {
        for t in tasks {
            core::hint::black_box(kernel.user_view(0, core::hint::black_box(&t.thread)));
        }
    }
    let switches = 3 * tasks.len() as u64;
    let churned = insns(t1, machine.counter().0, switches);
    let rollovers = kernel.asids().generation() - gen0;
    r.note(format_args!(
        "churn: Kernel::user_view, current identifier: {}.{} insns (root and a stored identifier: {}.{}); every process in turn: {}.{} insns/switch ({switches} switches, {rollovers} rollovers)",
        current / 10,
        current % 10,
        baseline / 10,
        baseline % 10,
        churned / 10,
        churned % 10
    ));
}

type Built<P> = (Arc<Process<P>>, Vec<Arc<Process<P>>>, Vec<Task<P>>, u64);

fn build<P: Platform>(
    kernel: &Kernel<P>,
    platform: &P,
    code: &[u8],
    ctx: &impl Fn(u64, &Start) -> <P::Arch as Arch>::UserContext,
) -> zx_subsystem::Result<Built<P>> {
    let job = kernel.root_job();
    let gate = kernel.create_process(job)?;
    let code_len = (code.len() as u64).next_multiple_of(PAGE_SIZE);
    let code_vmo = Vmo::create(platform, code_len)?;
    code_vmo.write(0, code)?;
    let mut procs = Vec::with_capacity(PROCESSES);
    let mut tasks = Vec::with_capacity(PROCESSES);
    let mut code_at = 0;
    for index in 0..PROCESSES {
        let process = kernel.create_process(job)?;
        let vmar = process.root_vmar();
        let entry = vmar.map(
            Placement::ANYWHERE,
            &code_vmo,
            0,
            code_len,
            Perms::READ | Perms::EXECUTE,
        )?;
        let rw = Perms::READ | Perms::WRITE;
        let data = map_new(platform, vmar, PAGE_SIZE, &marker(index).to_ne_bytes(), rw)?;
        let gate_handle = process.add_handle(KernelObject::Process(gate.clone()), Rights::WAIT)?;
        let thread = process.create_thread(index as u64)?;
        code_at = entry;
        let start = Start {
            gate: gate_handle,
            index: index as u64,
            data,
        };
        tasks.push(Task {
            thread,
            ctx: ctx(entry, &start),
        });
        procs.push(process);
    }
    Ok((gate, procs, tasks, code_at))
}

/// Records the reports and kills the gate after the last first report.
struct ChurnHost<P: Platform> {
    gate: Arc<Process<P>>,
    /// Per process: first marker seen, second marker seen, wait status.
    seen: Vec<[u64; 3]>,
    /// First reports so far.
    first: usize,
}

impl<P: Platform> Host<P> for ChurnHost<P> {
    fn host_base(&self) -> u64 {
        HOST_SYSCALL_BASE
    }

    fn host_call<M: Machine<P>>(&mut self, task: &mut Task<P>, _machine: &mut M) -> Option<u64> {
        let [index, seen, pass, status, ..] = P::Arch::syscall_args(&task.ctx);
        let known = P::Arch::syscall_number(&task.ctx) == HOST_CHURN;
        let slot = self.seen.get_mut(index as usize).filter(|_| known);
        let answer = match (slot, pass) {
            (Some(s), 1) => {
                s[0] = seen;
                self.first += 1;
                if self.first == PROCESSES {
                    // Every process is live and waiting: open the gate.
                    self.gate.kill(0);
                }
                0
            }
            (Some(s), 2) => {
                s[1] = seen;
                s[2] = status;
                0
            }
            _ => Status::BadSyscall.into_raw(),
        };
        P::Arch::set_syscall_status(&mut task.ctx, answer);
        None
    }

    fn on_timer(&mut self, _task: &Task<P>) {}
}

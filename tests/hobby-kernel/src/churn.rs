//! The identifier-churn scenario, shared by both arches: more live
//! processes than the CPU has address-space identifiers, created by ring-3
//! / EL0 code through the syscall table, every one entered and checked
//! twice, so the crate recycles PCIDs / ASIDs by generation under real
//! user code.
//!
//! The host makes one *parent* process (its code, a page of handles and
//! scratch, a job handle, the code VMO and a *gate* process that has no
//! threads). The parent (`*/churn_user.rs`) makes [`PROCESSES`] children,
//! each with `zx_process_create`, `zx_vmar_map` of the shared code,
//! `zx_vmo_create` + `zx_vmo_write` of its own marker mapped at
//! [`CHILD_DATA`], `zx_handle_duplicate` of the gate, `zx_thread_create`
//! and `zx_process_start` (which moves the gate handle into the child),
//! closing its own handles as it goes; then reports the count
//! (`HOST_CHURN(count, 0, 3, 0)`) and exits. Each child:
//!
//! 1. reports the marker it reads (`HOST_CHURN(index, seen, 1, 0)`);
//! 2. waits for the gate to terminate (`zx_object_wait_one(gate,
//!    ZX_TASK_TERMINATED, ZX_TIME_INFINITE, &observed)`): every child is
//!    now live and parked, none has exited;
//! 3. once the host has seen all first reports, it kills the gate; every
//!    child wakes and reports its marker again with the wait's status
//!    (`HOST_CHURN(index, seen, 2, status)`), then `zx_process_exit(0)`.
//!
//! A failed syscall in the parent is reported (`HOST_CHURN(index, 0, 4,
//! status)`). The checks: every child made, every report read its own
//! marker, every wait returned `ZX_OK`, and the identifier generation
//! advanced. QEMU's TLBs are not tagged by identifier (a TTBR0 / CR3 write
//! with a new one flushes), so a missing flush would go unseen here; the
//! host tests (`tests/asid_generations.rs`) catch those on the sim's
//! tagged TLB. This scenario proves the protocol on the real switch and
//! trap paths: 16-bit or forced 8-bit ASIDs with `TCR_EL1.AS`, PCIDs, the
//! lazy flush at `load_view`.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;

use zx_subsystem::abi::{Rights, Status};
use zx_subsystem::arch::{Aarch64, Arch, X86_64};
use zx_subsystem::object::{KernelObject, Process, Thread};
use zx_subsystem::vm::{Perms, Vmo};
use zx_subsystem::{Kernel, PAGE_SIZE, PhysAddr, Platform};

use crate::report::Report;
use crate::sched::{self, Host, Machine, Stop, Task};
use crate::zx_host::abi::HOST_SYSCALL_BASE;
use crate::zx_host::map_new;

/// Live processes (each with one thread), made by the parent.
pub const PROCESSES: usize = 1000;
/// `churn(index, seen, pass, status)`.
pub const HOST_CHURN: u64 = HOST_SYSCALL_BASE + 0x10;
/// The high bits of every marker; child `i`'s is `MARKER_BASE | i`.
pub const MARKER_BASE: u64 = 0x6368_7572_0000_0000;
/// Where the parent maps each child's marker page in the child's root
/// VMAR (`ZX_VM_SPECIFIC`), from its base.
pub const CHILD_DATA_OFFSET: u64 = 0x10_0000;
/// The child's marker page (`USER_ASPACE_BASE` is 2 MiB on both arches).
pub const CHILD_DATA: u64 = 0x20_0000 + CHILD_DATA_OFFSET;
const _: () =
    assert!(X86_64::USER_ASPACE_BASE == 0x20_0000 && Aarch64::USER_ASPACE_BASE == 0x20_0000);

/// Byte offsets in the parent's page: what the host puts there, then the
/// parent's out-parameters.
pub mod parent_page {
    /// Its job handle (`u32`).
    pub const JOB: usize = 0;
    /// Its handle to the code VMO.
    pub const CODE: usize = 8;
    /// Its handle to the gate process.
    pub const GATE: usize = 16;
    /// The code's length in bytes (`u64`).
    pub const CODE_LEN: usize = 24;
    /// How many children to make (`u64`).
    pub const COUNT: usize = 32;
    /// Out: the child process.
    pub const PROCESS: usize = 40;
    /// Out: its root VMAR.
    pub const VMAR: usize = 48;
    /// Out: where its code is mapped (its entry).
    pub const ENTRY: usize = 56;
    /// Out: its marker VMO.
    pub const DATA: usize = 64;
    /// Out: the gate handle it gets.
    pub const GATE_DUP: usize = 72;
    /// Out: its thread.
    pub const THREAD: usize = 80;
    /// The marker being written.
    pub const MARKER: usize = 88;
    /// Out: where the marker page is mapped.
    pub const DATA_AT: usize = 96;
}

fn marker(i: usize) -> u64 {
    MARKER_BASE | i as u64
}

/// What a thread's first instruction finds in its argument registers.
pub struct Start {
    /// A child's gate handle (unused by the parent).
    pub gate: u32,
    /// A child's index.
    pub index: u64,
    /// The parent's page.
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

/// Runs the scenario with `code` (the arch's `churn_user::blob`, the
/// parent at `parent_offset` in it) on `machine`. Records its checks in
/// `r`.
pub fn run<P: Platform, W: Write>(
    platform: P,
    code: &[u8],
    parent_offset: u64,
    machine: &mut impl ChurnArch<P>,
    r: &mut Report<W>,
) {
    let kernel = Kernel::new(platform.clone());
    let bits = kernel.asids().bits();
    measure(&kernel, machine, r);
    let built = build(&kernel, &platform, code);
    let Ok((gate, parent, thread, entry, page)) = built else {
        r.note(format_args!("churn: setup failed: {:?}", built.err()));
        r.check("churn: parent process made", false);
        return;
    };
    let code_len = (code.len() as u64).next_multiple_of(PAGE_SIZE);
    machine.prepare(&parent, entry, code_len);
    let start = Start {
        gate: 0,
        index: 0,
        data: page,
    };
    let ctx = machine.context(entry + parent_offset, &start);
    let mut host = ChurnHost {
        gate: gate.clone(),
        seen: alloc::vec![[0, 0, u64::MAX]; PROCESSES],
        first: 0,
        created: None,
        failed: None,
    };
    let stop = sched::run(
        &kernel,
        alloc::vec![Task { thread, ctx }],
        machine,
        &mut host,
    );
    if let Some((index, status)) = host.failed {
        r.note(format_args!(
            "churn: the parent's syscall for child {index} returned {}",
            status as i64 as i32
        ));
    }
    r.check_eq(
        "churn: ring-3 code made every child through the syscall table",
        host.created.unwrap_or(0),
        PROCESSES as u64,
    );
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
    for p in [&parent, &gate] {
        p.terminate();
    }
}

/// The gate, the parent, its thread, its entry (the blob's start) and its
/// page.
type Built<P> = (Arc<Process<P>>, Arc<Process<P>>, Arc<Thread<P>>, u64, u64);

fn build<P: Platform>(
    kernel: &Kernel<P>,
    platform: &P,
    code: &[u8],
) -> zx_subsystem::Result<Built<P>> {
    let job = kernel.root_job();
    let gate = kernel.create_process(job)?;
    let parent = kernel.create_process(job)?;
    let code_len = (code.len() as u64).next_multiple_of(PAGE_SIZE);
    let code_vmo = Vmo::create(platform, code_len)?;
    code_vmo.write(0, code)?;
    let vmar = parent.root_vmar();
    let entry = vmar.map(
        zx_subsystem::vm::Placement::ANYWHERE,
        &code_vmo,
        0,
        code_len,
        Perms::READ | Perms::EXECUTE,
    )?;
    let handles = [
        parent.add_handle(KernelObject::Job(job.clone()), Rights::DEFAULT_JOB)?,
        parent.add_handle(
            KernelObject::Vmo(code_vmo),
            Rights::DEFAULT_VMO | Rights::EXECUTE,
        )?,
        parent.add_handle(KernelObject::Process(gate.clone()), Rights::DEFAULT_PROCESS)?,
    ];
    let mut header = [0u8; 40];
    for (i, h) in handles.iter().enumerate() {
        header[i * 8..i * 8 + 4].copy_from_slice(&h.to_ne_bytes());
    }
    header[24..32].copy_from_slice(&code_len.to_ne_bytes());
    header[32..40].copy_from_slice(&(PROCESSES as u64).to_ne_bytes());
    let rw = Perms::READ | Perms::WRITE;
    let page = map_new(platform, vmar, PAGE_SIZE, &header, rw)?;
    let thread = parent.create_thread(0)?;
    Ok((gate, parent, thread, entry, page))
}

/// Times `Kernel::user_view` (what a switch costs the crate) on processes
/// made for it alone: one thread again and again (its identifier current:
/// the lock-free path), and every thread in turn, three rounds (8-bit
/// identifiers: a rollover every 255 switches, its cost spread over them).
/// The generations this adds are in the figure the scenario reports.
fn measure<P: Platform, W: Write>(
    kernel: &Kernel<P>,
    machine: &impl ChurnArch<P>,
    r: &mut Report<W>,
) {
    const SAME: u64 = 10_000;
    let made: zx_subsystem::Result<Vec<_>> = (0..PROCESSES)
        .map(|_| {
            let p = kernel.create_process(kernel.root_job())?;
            let t = p.create_thread(0)?;
            Ok((p, t))
        })
        .collect();
    let Ok(made) = made else {
        r.note(format_args!("churn: no processes to time user_view with"));
        return;
    };
    // Tenths of an instruction per switch.
    let insns = |from: u64, to: u64, n: u64| (to - from) * machine.counter().1 * 10 / n;
    let first = &made[0].1;
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
        for (_, t) in &made {
            core::hint::black_box(kernel.user_view(0, core::hint::black_box(t)));
        }
    }
    let switches = 3 * made.len() as u64;
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
    // No CPU runs them: their roots can go.
    for (p, _) in &made {
        p.terminate();
    }
}

/// Records the reports and kills the gate after the last first report.
struct ChurnHost<P: Platform> {
    gate: Arc<Process<P>>,
    /// Per child: first marker seen, second marker seen, wait status.
    seen: Vec<[u64; 3]>,
    /// First reports so far.
    first: usize,
    /// The parent's count of children made.
    created: Option<u64>,
    /// The parent's failure: which child, what status.
    failed: Option<(u64, u64)>,
}

impl<P: Platform> Host<P> for ChurnHost<P> {
    fn host_base(&self) -> u64 {
        HOST_SYSCALL_BASE
    }

    fn host_call<M: Machine<P>>(&mut self, task: &mut Task<P>, _machine: &mut M) -> Option<u64> {
        let [index, seen, pass, status, ..] = P::Arch::syscall_args(&task.ctx);
        let known = P::Arch::syscall_number(&task.ctx) == HOST_CHURN;
        let answer = match (known, pass) {
            (true, 3) => {
                self.created = Some(index);
                0
            }
            (true, 4) => {
                self.failed = Some((index, status));
                0
            }
            (true, 1 | 2) => match self.seen.get_mut(index as usize) {
                Some(s) if pass == 1 => {
                    s[0] = seen;
                    self.first += 1;
                    if self.first == PROCESSES {
                        // Every child is live and waiting: open the gate.
                        self.gate.kill(0);
                    }
                    0
                }
                Some(s) => {
                    s[1] = seen;
                    s[2] = status;
                    0
                }
                None => Status::BadSyscall.into_raw(),
            },
            _ => Status::BadSyscall.into_raw(),
        };
        P::Arch::set_syscall_status(&mut task.ctx, answer);
        None
    }

    fn on_timer(&mut self, _task: &Task<P>) {}
}

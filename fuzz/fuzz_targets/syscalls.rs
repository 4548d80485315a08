//! Arbitrary syscall numbers and raw arguments into the dispatch table, on
//! the simulated machine, both arches, from an ordinary process or from a
//! member of a sharing group (its normal view split between the shared and
//! the restricted region). Arguments are biased toward real handle values
//! (those the process starts with and any the calls write to the scratch
//! page) and addresses inside or around mapped ranges. Every call goes
//! through `syscall_raw` or, for some, `Kernel::syscall` with a register
//! context (which can enter restricted mode), made by the first thread or
//! by any thread a call started (`zx_thread_start`, `zx_process_start`).
//! The run must never panic or hang; afterwards every VMAR tree must be
//! well-formed, no page may translate beyond its protection or show another
//! frame than its VMO (writable only for the VMO's own page: snapshots share
//! no writable frame), and after the job's teardown every frame must be
//! back. `zx_vmo_create_child` options are drawn from its kinds and their
//! combinations.
//!
//! With `ZX_FUZZ_STATS` set it prints, every 4096 runs, how often each
//! syscall was called and succeeded.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::sync::atomic::{AtomicU64, Ordering};

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use zx_subsystem::abi::{Rights, Status, ZX_TIME_INFINITE};
use zx_subsystem::arch::{Aarch64, X86_64};
use zx_subsystem::object::wait::{Deadline, Park};
use zx_subsystem::object::{KernelObject, Thread};
use zx_subsystem::sim::Sim;
use zx_subsystem::sim::cpu::SimArch;
use zx_subsystem::sim::model::driver::{check_layout, check_translations_within};
use zx_subsystem::syscall::SyscallNumber;
use zx_subsystem::vm::{Perms, Placement, UserMemory, Vmo};
use zx_subsystem::{Kernel, Outcome, PAGE_SIZE};

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Arg {
    /// A handle from the pool.
    Handle(u8),
    /// An address in the scratch (read-write) mapping.
    Scratch(u16),
    /// An address near one of the mappings (may fall outside).
    Mapped(u8, i32),
    /// A multiple of the page size.
    Pages(u16),
    /// A small number (options, rights, topics, counts, sizes).
    Small(u8),
    /// A single bit.
    Bit(u8),
    /// A `zx_vmo_create_child` option word: a kind, maybe `RESIZABLE` or
    /// `NO_WRITE`, sometimes two kinds.
    ChildOptions(u8),
    Raw(u64),
    Zero,
}

#[derive(Arbitrary, Debug)]
struct Call {
    number: u8,
    args: [Arg; 8],
    /// Through `Kernel::syscall` with a register context.
    with_context: bool,
    /// Which live thread makes the call.
    thread: u8,
    /// Shape the arguments by the syscall's signature (handles from the
    /// pool, out-pointers into distinct scratch slots, small options and
    /// lengths), so that calls with many arguments succeed often enough
    /// to reach their deeper paths.
    typed: bool,
    /// How far the fake clock moves after the call (microseconds).
    clock_step: u8,
}

/// What a syscall argument is, for typed calls.
#[derive(Clone, Copy)]
enum Kind {
    Handle,
    Out,
    In,
    Len,
    Options,
    Addr,
    /// A futex word: one of eight aligned words in the scratch page.
    Futex,
    /// A deadline: the past, soon on the fake clock, or never.
    Deadline,
    /// `ZX_HANDLE_INVALID` half the time, else a handle from the pool.
    MaybeHandle,
    Any,
}

fn signature(n: SyscallNumber) -> [Kind; 8] {
    use Kind::*;
    use SyscallNumber as S;
    let head: &[Kind] = match n {
        S::HandleClose => &[Handle],
        S::HandleDuplicate | S::HandleReplace => &[Handle, Options, Out],
        S::ObjectGetInfo => &[Handle, Options, Out, Len, Out, Out],
        S::JobSetPolicy => &[Handle, Options, Options, In, Len],
        S::VmoCreate => &[Len, Options, Out],
        S::VmoRead | S::VmoWrite => &[Handle, In, Len, Len],
        S::VmoGetSize => &[Handle, Out],
        S::VmoSetSize => &[Handle, Len],
        S::VmoCreateChild => &[Handle, Options, Len, Len, Out],
        S::VmarAllocate => &[Handle, Options, Len, Len, Out, Out],
        S::VmarMap => &[Handle, Options, Len, Handle, Len, Len, Out],
        S::VmarUnmap => &[Handle, Addr, Len],
        S::VmarProtect => &[Handle, Options, Addr, Len],
        S::VmarDestroy => &[Handle],
        S::RestrictedBindState => &[Options, Out],
        S::RestrictedUnbindState => &[Options],
        S::RestrictedEnter => &[Options, Addr, Any],
        S::RestrictedKick => &[Handle, Options],
        S::ProcessCreate => &[Handle, In, Len, Options, Out, Out],
        S::ProcessCreateShared => &[Handle, Options, In, Len, Out, Out],
        S::ProcessStart => &[Handle, Handle, Addr, Addr, Handle, Any],
        S::ProcessExit => &[Any],
        S::ThreadCreate => &[Handle, In, Len, Options, Out],
        S::ThreadStart => &[Handle, Addr, Addr, Any, Any],
        S::ThreadExit => &[],
        S::TaskKill => &[Handle],
        S::ObjectWaitOne => &[Handle, Options, Deadline, Out],
        S::FutexWait => &[Futex, Options, MaybeHandle, Deadline],
        S::FutexWake => &[Futex, Len],
        S::FutexRequeue => &[Futex, Len, Options, Futex, Len, MaybeHandle],
        S::Nanosleep => &[Deadline],
        S::ClockGetMonotonic => &[],
    };
    let mut kinds = [Any; 8];
    kinds[..head.len()].copy_from_slice(head);
    kinds
}

#[derive(Arbitrary, Debug)]
struct Input {
    aarch64: bool,
    /// Run as a member of a sharing group.
    shared: bool,
    /// Frames the run may allocate on top of the setup's.
    frame_budget: u16,
    calls: Vec<Call>,
}

/// Calls and successes per syscall number, for `ZX_FUZZ_STATS`.
static CALLS: [AtomicU64; 64] = [const { AtomicU64::new(0) }; 64];
static OKS: [AtomicU64; 64] = [const { AtomicU64::new(0) }; 64];
static RUNS: AtomicU64 = AtomicU64::new(0);

fn report_stats() {
    let runs = RUNS.fetch_add(1, Ordering::Relaxed) + 1;
    if runs % 4096 != 0 || std::env::var_os("ZX_FUZZ_STATS").is_none() {
        return;
    }
    eprintln!("syscall stats after {runs} runs (calls / ZX_OK):");
    for n in SyscallNumber::ALL {
        let i = *n as usize;
        eprintln!(
            "  {:28} {:8} {:8}",
            n.name(),
            CALLS[i].load(Ordering::Relaxed),
            OKS[i].load(Ordering::Relaxed)
        );
    }
}

const SCRATCH_PAGES: u64 = 4;

fn run<A: SimArch>(input: &Input) {
    let sim = Sim::<A>::new();
    let kernel = Kernel::new(sim.clone());
    let job = kernel.root_job().create_child().expect("job");
    let (process, proto) = if input.shared {
        let proto = kernel.create_shared_process(&job).expect("prototype");
        let member = kernel.create_process_in_group(&proto).expect("member");
        (member, Some(proto))
    } else {
        (kernel.create_process(&job).expect("process"), None)
    };
    let thread = process.create_thread(1).expect("thread");
    let root = process.root_vmar();
    let scratch_vmo = Vmo::create(&sim, SCRATCH_PAGES * PAGE_SIZE).expect("vmo");
    let scratch = root
        .map(
            Placement::ANYWHERE,
            &scratch_vmo,
            0,
            SCRATCH_PAGES * PAGE_SIZE,
            Perms::READ | Perms::WRITE,
        )
        .expect("scratch");
    // Data and a read-only page where the restricted region is, if any.
    let data_vmar = process.restricted_vmar().unwrap_or(root);
    let ro_vmo = Vmo::create(&sim, PAGE_SIZE).expect("vmo");
    let ro = data_vmar
        .map(Placement::ANYWHERE, &ro_vmo, 0, PAGE_SIZE, Perms::READ)
        .expect("ro");
    let data_vmo = Vmo::create_resizable(&sim, 8 * PAGE_SIZE).expect("vmo");
    let data = data_vmar
        .map(
            Placement::ANYWHERE,
            &data_vmo,
            0,
            8 * PAGE_SIZE,
            Perms::READ | Perms::WRITE,
        )
        .expect("data");
    let vmar_rights = Rights::DEFAULT_VMAR | Rights::READ | Rights::WRITE | Rights::EXECUTE;
    let mut pool: Vec<u32> = vec![
        process
            .add_handle(KernelObject::Vmar(root.clone()), vmar_rights)
            .unwrap(),
        process
            .add_handle(
                KernelObject::Vmo(data_vmo.clone()),
                Rights::DEFAULT_VMO | Rights::RESIZE,
            )
            .unwrap(),
        process
            .add_handle(KernelObject::Thread(thread.clone()), Rights::DEFAULT_THREAD)
            .unwrap(),
        process
            .add_handle(
                KernelObject::Process(process.clone()),
                Rights::DEFAULT_PROCESS,
            )
            .unwrap(),
        process
            .add_handle(KernelObject::Job(job.clone()), Rights::DEFAULT_JOB)
            .unwrap(),
    ];
    if let Some(r) = process.restricted_vmar() {
        pool.push(
            process
                .add_handle(KernelObject::Vmar(r.clone()), vmar_rights)
                .unwrap(),
        );
    }
    if let Some(p) = &proto {
        pool.push(
            process
                .add_handle(KernelObject::Process(p.clone()), Rights::DEFAULT_PROCESS)
                .unwrap(),
        );
    }
    drop((scratch_vmo, ro_vmo, data_vmo));
    // Not-yet-started tasks, so that the start syscalls have targets: a
    // thread of this process, and a new process with a thread of its own.
    let out = |i: u64| scratch + PAGE_SIZE + 8 * i;
    let name = scratch + PAGE_SIZE + 64;
    let sys = |n: SyscallNumber, args: &[u64]| {
        let mut a = [0u64; 8];
        a[..args.len()].copy_from_slice(args);
        assert_eq!(kernel.syscall_raw(&thread, n as u64, a), 0, "{n:?}");
    };
    let read = |at: u64| {
        let mut b = [0u8; 4];
        process.copy_from_user(at, &mut b).expect("setup read");
        u32::from_ne_bytes(b)
    };
    sys(
        SyscallNumber::ThreadCreate,
        &[u64::from(pool[3]), name, 0, 0, out(0)],
    );
    pool.push(read(out(0)));
    sys(
        SyscallNumber::ProcessCreate,
        &[u64::from(pool[4]), name, 0, 0, out(1), out(2)],
    );
    let child = read(out(1));
    pool.extend([child, read(out(2))]);
    sys(
        SyscallNumber::ThreadCreate,
        &[u64::from(child), name, 0, 0, out(3)],
    );
    pool.push(read(out(3)));
    let bases = [scratch, ro, data, root.range().unwrap().0];
    sim.fail_after(usize::from(input.frame_budget % 4096));

    let resolve = |a: Arg, pool: &[u32]| -> u64 {
        match a {
            Arg::Handle(i) => u64::from(pool[usize::from(i) % pool.len()]),
            Arg::Scratch(off) => scratch + u64::from(off) % (SCRATCH_PAGES * PAGE_SIZE),
            Arg::Mapped(i, off) => {
                bases[usize::from(i) % bases.len()].wrapping_add_signed(i64::from(off))
            }
            Arg::Pages(n) => u64::from(n) * PAGE_SIZE,
            Arg::Small(n) => u64::from(n),
            Arg::Bit(b) => 1u64 << (b % 64),
            Arg::ChildOptions(o) => {
                // SNAPSHOT, RESIZABLE, SLICE, AT_LEAST_ON_WRITE, NO_WRITE,
                // REFERENCE, SNAPSHOT_MODIFIED: bits 0, 2..=7.
                let kinds = [1u64 << 0, 1 << 4, 1 << 3, 1 << 7, 1 << 6];
                let mut v = kinds[usize::from(o % 5)];
                if o & 0x10 != 0 {
                    v |= 1 << 2;
                }
                if o & 0x20 != 0 {
                    v |= 1 << 5;
                }
                if o & 0x40 != 0 {
                    v |= kinds[usize::from((o >> 3) % 5)];
                }
                v
            }
            Arg::Raw(v) => v,
            Arg::Zero => 0,
        }
    };
    let mut threads = vec![thread.clone()];
    let mut threads_all = vec![thread];
    let mut futexes = FutexModel::default();
    let mut blocked: Vec<(Arc<Thread<Sim<A>>>, A::UserContext, Deadline)> = Vec::new();
    for call in input.calls.iter().take(64) {
        let count = SyscallNumber::ALL.len() as u8;
        let number = if call.number < 224 {
            u64::from(call.number % count)
        } else {
            u64::from(call.number) << 24
        };
        threads.retain(|t| !t.is_dead() && !blocked.iter().any(|(b, _, _)| Arc::ptr_eq(b, t)));
        let Some(caller) = threads
            .get(usize::from(call.thread) % threads.len().max(1))
            .cloned()
        else {
            break;
        };
        let mut args = call.args.map(|a| resolve(a, &pool));
        if let Some(n) = SyscallNumber::from_raw(number).filter(|_| call.typed) {
            for (i, kind) in signature(n).into_iter().enumerate() {
                let entropy = args[i];
                args[i] = match kind {
                    Kind::Handle => u64::from(pool[entropy as usize % pool.len()]),
                    Kind::MaybeHandle if entropy % 2 == 0 => 0,
                    Kind::MaybeHandle => u64::from(pool[(entropy / 2) as usize % pool.len()]),
                    // Distinct 8-byte slots in the scratch page's first 64
                    // bytes, where new handles are picked up from.
                    Kind::Out => scratch + 8 * i as u64,
                    Kind::In => scratch + 64 + entropy % 256,
                    Kind::Len => match entropy % 4 {
                        0 => entropy % 64,
                        _ => (entropy % 8) * PAGE_SIZE,
                    },
                    Kind::Options => match entropy % 4 {
                        0 => 0,
                        1 => 1,
                        2 => entropy % 8,
                        _ => entropy,
                    },
                    Kind::Addr => {
                        bases[entropy as usize % bases.len()] + (entropy >> 8) % (8 * PAGE_SIZE)
                    }
                    Kind::Futex => scratch + 128 + 4 * (entropy % 8),
                    Kind::Deadline => match entropy % 4 {
                        0 => 0,
                        1 => ZX_TIME_INFINITE as u64,
                        _ => (sim.now() + (entropy % 5000) as i64) as u64,
                    },
                    Kind::Any => entropy,
                };
            }
        }
        let ok = if call.with_context {
            let mut ctx = A::UserContext::default();
            A::set_syscall(&mut ctx, number, &args);
            let outcome = kernel.syscall(&caller, &mut ctx);
            if let Outcome::Blocked(_) = outcome
                && number == SyscallNumber::FutexWait as u64
            {
                futexes.block(args[0], caller.koid());
            }
            if let Outcome::Blocked(b) = outcome {
                match kernel.park(&caller) {
                    Park::Parked => blocked.push((caller.clone(), ctx, b.deadline)),
                    Park::Woken => {
                        let o = kernel.boundary(&caller, &mut ctx);
                        assert!(
                            !matches!(o, Outcome::Blocked(_)),
                            "woken but blocked: {o:?}"
                        );
                    }
                }
            }
            matches!(
                outcome,
                Outcome::Returned(Status::Ok)
                    | Outcome::EnteredRestricted
                    | Outcome::ReturnedValue(_)
                    | Outcome::Blocked(_)
            )
        } else {
            kernel.syscall_raw(&caller, number, args) == 0
        };
        let woken = sim.take_woken();
        // The futex model: exactly the threads it says a wake or requeue
        // wakes are woken, in queue order.
        let dead = |k: u64| threads_all.iter().any(|t| t.koid() == k && t.is_dead());
        if ok && number == SyscallNumber::FutexWake as u64 {
            let want = futexes.wake(args[0], args[1] as u32, &dead);
            assert_futex_wakes(&want, &woken);
        }
        if ok && number == SyscallNumber::FutexRequeue as u64 {
            let want = futexes.requeue(args[0], args[1] as u32, args[3], args[4] as u32, &dead);
            assert_futex_wakes(&want, &woken);
        }
        // The host's side: woken threads and passed deadlines resume.
        sim.advance(i64::from(call.clock_step) * 1000);
        let now = sim.now();
        let mut still = Vec::new();
        for (t, mut ctx, deadline) in blocked.drain(..) {
            if !woken.iter().any(|w| w.koid == t.koid()) && !deadline.passed(now) {
                still.push((t, ctx, deadline));
                continue;
            }
            let o = kernel.boundary(&t, &mut ctx);
            if !matches!(o, Outcome::Blocked(_)) {
                futexes.forget(t.koid());
            }
            match o {
                Outcome::Blocked(b) => {
                    assert!(!b.deadline.passed(now), "blocked past its deadline");
                    match kernel.park(&t) {
                        Park::Parked => still.push((t, ctx, b.deadline)),
                        Park::Woken => still.push((t, ctx, Deadline::at(now))),
                    }
                }
                o => assert!(o.resumes() || o == Outcome::ThreadExited, "{o:?}"),
            }
        }
        blocked = still;
        if let Some(i) = usize::try_from(number).ok().filter(|i| *i < 64) {
            CALLS[i].fetch_add(1, Ordering::Relaxed);
            OKS[i].fetch_add(u64::from(ok), Ordering::Relaxed);
        }
        let started: Vec<_> = sim.take_started().into_iter().map(|(t, _)| t).collect();
        threads_all.extend(started.iter().cloned());
        threads.extend(started);
        // Out-parameters land in the scratch page: any word there may be a
        // new handle.
        let mut words = [0u8; 64];
        if process.copy_from_user(scratch, &mut words).is_ok() {
            for w in words.chunks_exact(4) {
                let v = u32::from_ne_bytes(w.try_into().unwrap());
                if v & 3 == 3 && !pool.contains(&v) && pool.len() < 64 {
                    pool.push(v);
                }
            }
        }
    }
    sim.set_frame_limit(None);

    for aspace in [Some(process.aspace()), process.restricted_aspace()]
        .into_iter()
        .flatten()
    {
        let layout = aspace.layout();
        if let Err(e) = check_layout(&layout) {
            panic!("VMAR tree broken: {e}");
        }
        if let Err(e) = check_translations_within(&sim, aspace.root_table(), &layout, 16) {
            panic!("translation beyond protection: {e}");
        }
        if let Err(e) = aspace.audit_views(16) {
            panic!("translation and VMO disagree: {e}");
        }
    }
    for h in &pool {
        if let Ok((vmo, _)) = process.get_object::<Vmo<Sim<A>>>(*h, Rights::empty())
            && let Err(e) = vmo.audit_tree()
        {
            panic!("VMO tree broken: {e}");
        }
    }
    // The host's teardown: nothing runs any more.
    job.terminate_processes();
    drop((threads, threads_all, blocked, process, proto, job, kernel));
    sim.take_started();
    let left = sim.frames_allocated();
    assert_eq!(left, 0, "{left} frames leaked after teardown");
    report_stats();
}

/// The futex queues as the crate must keep them: FIFO per key, a wake
/// takes waiters from the front (dropping dead ones, which a wake skips),
/// a requeue moves the next ones to the back of the other key's queue.
#[derive(Default)]
struct FutexModel {
    queues: BTreeMap<u64, VecDeque<u64>>,
}

impl FutexModel {
    fn block(&mut self, key: u64, koid: u64) {
        self.queues.entry(key).or_default().push_back(koid);
    }

    fn forget(&mut self, koid: u64) {
        for q in self.queues.values_mut() {
            q.retain(|k| *k != koid);
        }
    }

    fn take(&mut self, key: u64, count: u32, dead: &dyn Fn(u64) -> bool) -> Vec<u64> {
        let mut out = Vec::new();
        let Some(q) = self.queues.get_mut(&key) else {
            return out;
        };
        while (out.len() as u32) < count {
            let Some(k) = q.pop_front() else { break };
            if !dead(k) {
                out.push(k);
            }
        }
        out
    }

    fn wake(&mut self, key: u64, count: u32, dead: &dyn Fn(u64) -> bool) -> Vec<u64> {
        self.take(key, count, dead)
    }

    fn requeue(
        &mut self,
        key: u64,
        wake: u32,
        to: u64,
        count: u32,
        dead: &dyn Fn(u64) -> bool,
    ) -> Vec<u64> {
        let woken = self.take(key, wake, dead);
        let moved = self.take(key, count, dead);
        self.queues.entry(to).or_default().extend(moved);
        woken
    }
}

fn assert_futex_wakes(want: &[u64], woken: &[zx_subsystem::ThreadToken]) {
    let got: Vec<u64> = woken.iter().map(|t| t.koid).collect();
    assert_eq!(got, want, "futex model: woken threads");
}

fuzz_target!(|input: Input| {
    if input.aarch64 {
        run::<Aarch64>(&input);
    } else {
        run::<X86_64>(&input);
    }
});

//! The kernel's scheduler: the crate's threads on its one CPU, round robin.
//!
//! Every thread the kernel runs is a [`Task`]: the crate's thread and the
//! user context the kernel saves for it. The first ones the kernel makes
//! itself ([`Process::create_thread`](zx_subsystem::object::Process::create_thread));
//! the crate hands over every thread user space starts
//! (`zx_thread_start`, `zx_process_start`) through
//! `Platform::thread_started`, which the arch's platform queues and
//! [`Machine::take_started`] drains after each crate call.
//!
//! The loop is the crate's host contract, written out:
//!
//! 1. Before a thread returns to user mode, its view
//!    ([`Kernel::user_view`]) is loaded (CR3 / TTBR0 with its PCID /
//!    ASID), when it was switched in and whenever an [`Outcome`] says
//!    [`switches_view`](Outcome::switches_view) (restricted enter and
//!    every exit).
//! 2. Every trap goes to the crate (`syscall`, `page_fault`, `exception`)
//!    except the kernel's own host calls in normal mode; its [`Outcome`]
//!    says whether the thread resumes, is dead, or needs the kernel's
//!    decision (a normal-mode fault nobody resolves: the kernel stops).
//! 3. A thread switched in again after waiting in the queue first passes
//!    [`Kernel::boundary`]: a thread killed meanwhile is reaped there.
//! 4. With more than one runnable thread a timer interrupt preempts the
//!    running one after a time slice; with one, no timer runs (so the
//!    benchmarks' loops see no interrupts).
//! 5. A thread whose syscall blocks ([`Outcome::Blocked`]) is parked
//!    through [`Kernel::park`] and waits, off the run queue, until the
//!    crate names it (`Platform::wake`, drained by
//!    [`Machine::take_woken`]) or its deadline passes; then it is switched
//!    in through [`Kernel::boundary`] (step 3), which finishes the
//!    syscall. With nothing runnable the kernel idles to the earliest
//!    deadline; if every thread waits forever, it stops.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use spin::Mutex;

use zx_subsystem::arch::Arch;
use zx_subsystem::object::Thread;
use zx_subsystem::object::wait::{Deadline, Park};
use zx_subsystem::platform::UserContextOf;
use zx_subsystem::{Kernel, Outcome, Platform, Trap, UserView};

/// The CPU this scheduler runs on (the kernel has one): what it tells
/// [`Kernel::user_view`], which tracks per CPU what is loaded.
const CPU: usize = 0;

/// A thread the kernel runs, with its saved user registers.
pub struct Task<P: Platform> {
    /// The crate's thread.
    pub thread: Arc<Thread<P>>,
    /// Its user context while it is not on the CPU.
    pub ctx: UserContextOf<P>,
}

/// What the arch gives the scheduler.
pub trait Machine<P: Platform> {
    /// Runs the current thread in user mode until its next trap (the arch's
    /// `run_user`).
    fn enter(&mut self, ctx: &mut UserContextOf<P>) -> Trap<P::Arch>;
    /// Arms a one-shot timer interrupt about `insns` instructions from now.
    fn arm_timer(&mut self, insns: u64);
    /// Acknowledges the interrupt `Trap::Interrupt(vector)` reported and
    /// stops the timer.
    fn ack_interrupt(&mut self, vector: u64);
    /// Loads `view` (root table and identifier) for user mode.
    fn load_view(&mut self, view: UserView);
    /// Moves the threads the crate started since the last call to the back
    /// of `queue`, oldest first (cheap when there are none: it runs after
    /// every trap); says whether there were any.
    fn take_started(&mut self, queue: &mut VecDeque<Box<Task<P>>>) -> bool;
    /// Appends the koids of the threads the crate woke
    /// (`Platform::wake`) since the last call.
    fn take_woken(&mut self, woken: &mut Vec<u64>);
}

/// Instructions a thread runs before another runnable one gets the CPU.
pub const TIMESLICE_INSNS: u64 = 200_000;

/// What the kernel's own code decides about a trap the scheduler saw
/// first: host calls in normal mode, and the interrupt of a one-shot timer
/// it armed.
pub trait Host<P: Platform> {
    /// A syscall with a number at or above the host range, made in normal
    /// mode: answer it (status in the context) and say whether everything
    /// stops (`Some(code)`).
    fn host_call<M: Machine<P>>(&mut self, task: &mut Task<P>, machine: &mut M) -> Option<u64>;
    /// The first syscall number the host answers itself.
    fn host_base(&self) -> u64;
    /// A timer interrupt arrived (before the crate sees it as a boundary).
    fn on_timer(&mut self, task: &Task<P>);
}

/// Why [`run`] stopped.
#[derive(Debug)]
pub enum Stop<A: Arch> {
    /// A host call asked to stop with this code.
    Exit(u64),
    /// A normal-mode trap the crate could not resolve.
    Unhandled(Trap<A>, A::UserContext),
    /// Every thread is gone.
    NoThreads,
}

/// The threads that are not on the CPU: runnable ones in order, parked
/// ones with their deadlines.
struct Queues<P: Platform> {
    // Boxed: a task is moved between the queues at every switch, and its
    // context is large (aarch64: 800 bytes with the FP registers).
    runnable: VecDeque<Box<Task<P>>>,
    parked: Vec<(Box<Task<P>>, Deadline)>,
}

impl<P: Platform> Queues<P> {
    /// Moves parked threads the crate woke, or whose deadline passed, to
    /// the runnable queue.
    fn unpark(&mut self, woken: &mut Vec<u64>, now: i64) {
        let mut i = 0;
        while i < self.parked.len() {
            let (t, deadline) = &self.parked[i];
            let koid = t.thread.koid();
            if let Some(w) = woken.iter().position(|k| *k == koid) {
                woken.swap_remove(w);
            } else if !deadline.passed(now) {
                i += 1;
                continue;
            }
            let (t, _) = self.parked.swap_remove(i);
            self.runnable.push_back(t);
        }
        // Wakes of threads not parked (already runnable) are ignored.
        woken.clear();
    }

    /// The next thread to run, switched in through a kernel boundary (a
    /// thread killed while it waited is reaped, a woken one finishes its
    /// syscall, one still waiting parks again). When nothing is runnable,
    /// waits for the earliest deadline; `None` when no thread is left or
    /// every one waits forever.
    fn next<M: Machine<P>>(&mut self, kernel: &Kernel<P>, machine: &mut M) -> Option<Box<Task<P>>> {
        loop {
            let mut woken = Vec::new();
            machine.take_woken(&mut woken);
            self.unpark(&mut woken, kernel.platform().now());
            if let Some(mut t) = self.runnable.pop_front() {
                match kernel.boundary(&t.thread, &mut t.ctx) {
                    Outcome::ThreadExited | Outcome::ProcessExited(_) | Outcome::Unhandled => {}
                    Outcome::Blocked(b) => self.block(kernel, t, b.deadline),
                    Outcome::Returned(_)
                    | Outcome::ReturnedValue(_)
                    | Outcome::Resume
                    | Outcome::EnteredRestricted
                    | Outcome::LeftRestricted(_) => return Some(t),
                }
                continue;
            }
            let earliest = self.parked.iter().map(|(_, d)| *d).min()?;
            if earliest.is_infinite() {
                return None;
            }
            // Idle until the deadline (under -icount, time is instructions).
            while !earliest.passed(kernel.platform().now()) {
                core::hint::spin_loop();
            }
        }
    }

    /// Whether the running thread needs a time slice: another is runnable,
    /// or a parked one has a deadline to be checked.
    fn needs_timer(&self) -> bool {
        !self.runnable.is_empty() || self.parked.iter().any(|(_, d)| !d.is_infinite())
    }

    /// Parks `t` as the crate's blocking contract says.
    fn block(&mut self, kernel: &Kernel<P>, t: Box<Task<P>>, deadline: Deadline) {
        match kernel.park(&t.thread) {
            Park::Parked => self.parked.push((t, deadline)),
            Park::Woken => self.runnable.push_back(t),
        }
    }
}

/// Runs `first` (and every thread started since) until a host call stops
/// everything, a normal-mode fault nobody resolves, or no thread is left.
pub fn run<P: Platform, M: Machine<P>, H: Host<P>>(
    kernel: &Kernel<P>,
    first: Vec<Task<P>>,
    machine: &mut M,
    host: &mut H,
) -> Stop<P::Arch> {
    let mut q = Queues {
        runnable: first.into_iter().map(Box::new).collect(),
        parked: Vec::new(),
    };
    let mut loaded: Option<UserView> = None;
    let Some(mut task) = q.runnable.pop_front() else {
        return Stop::NoThreads;
    };
    let mut timer_armed = false;
    // Whether anything but the common case (a syscall returned, nothing
    // started, no switch) happened since the last look: then the view
    // (after a switch, or an outcome that says so) and the time slice are
    // looked at again before returning to user mode.
    let mut view_stale = true;
    let mut recheck = true;
    // Whether the current thread's process has two views (a process made
    // by zx_process_create_shared): only then does restricted mode switch
    // roots.
    let mut split = task.thread.process().restricted_aspace().is_some();
    loop {
        if recheck {
            if view_stale {
                split = task.thread.process().restricted_aspace().is_some();
                let view = kernel.user_view(CPU, &task.thread);
                if loaded != Some(view) {
                    machine.load_view(view);
                    loaded = Some(view);
                }
            }
            if !timer_armed && q.needs_timer() {
                machine.arm_timer(TIMESLICE_INSNS);
                timer_armed = true;
            }
        }
        // The hot path, in a loop of its own: syscalls of the crate that
        // return, or enter and leave restricted mode on the same root, with
        // no thread started meanwhile, go straight back to user mode.
        let (trap, outcome) = loop {
            let trap = machine.enter(&mut task.ctx);
            if !matches!(trap, Trap::Syscall)
                || (P::Arch::syscall_number(&task.ctx) >= host.host_base()
                    && !kernel.in_restricted_mode(&task.thread))
            {
                break (trap, None);
            }
            let outcome = kernel.syscall(&task.thread, &mut task.ctx);
            let same_view = match outcome {
                Outcome::Returned(_) => true,
                Outcome::EnteredRestricted | Outcome::LeftRestricted(_) => !split,
                _ => false,
            };
            if !same_view || machine.take_started(&mut q.runnable) {
                break (trap, Some(outcome));
            }
        };
        let mut preempt = false;
        let outcome = match (trap, outcome) {
            (_, Some(outcome)) => outcome,
            (Trap::Syscall, None) => {
                if let Some(code) = host.host_call(&mut task, machine) {
                    return Stop::Exit(code);
                }
                Outcome::Resume
            }
            (Trap::PageFault(fault), None) => kernel.page_fault(&task.thread, &mut task.ctx, fault),
            (trap, None) => {
                if let Trap::Interrupt(vector) = trap {
                    machine.ack_interrupt(vector);
                    timer_armed = false;
                    host.on_timer(&task);
                    preempt = true;
                }
                kernel.exception(&task.thread, &mut task.ctx, trap)
            }
        };
        machine.take_started(&mut q.runnable);
        recheck = true;
        view_stale = outcome.switches_view();
        // What to do with the current thread: keep running it, or put it
        // away (queued, parked, or dropped once dead) and switch.
        match outcome {
            Outcome::Returned(_)
            | Outcome::ReturnedValue(_)
            | Outcome::Resume
            | Outcome::EnteredRestricted
            | Outcome::LeftRestricted(_) => {
                // The view is reloaded at the top of the loop if it changed.
                if !preempt {
                    continue;
                }
                // Parked threads whose deadline passed get their turn.
                let mut woken = Vec::new();
                machine.take_woken(&mut woken);
                q.unpark(&mut woken, kernel.platform().now());
                if q.runnable.is_empty() {
                    continue;
                }
                q.runnable.push_back(task);
            }
            Outcome::Blocked(b) => q.block(kernel, task, b.deadline),
            Outcome::ThreadExited | Outcome::ProcessExited(_) => drop(task),
            Outcome::Unhandled => return Stop::Unhandled(trap, task.ctx),
        }
        task = match q.next(kernel, machine) {
            Some(t) => t,
            None => return Stop::NoThreads,
        };
        view_stale = true;
    }
}

/// Where a platform's `thread_started` puts threads until the scheduler
/// takes them ([`Machine::take_started`]).
pub struct StartedQueue<P: Platform> {
    any: AtomicBool,
    tasks: Mutex<Vec<Task<P>>>,
}

impl<P: Platform> StartedQueue<P> {
    /// An empty queue.
    pub const fn new() -> Self {
        StartedQueue {
            any: AtomicBool::new(false),
            tasks: Mutex::new(Vec::new()),
        }
    }

    /// Queues a started thread.
    pub fn push(&self, task: Task<P>) {
        self.tasks.lock().push(task);
        self.any.store(true, Ordering::Release);
    }

    /// Moves every queued thread to the back of `queue`; says whether
    /// there were any.
    #[inline]
    pub fn drain_into(&self, queue: &mut VecDeque<Box<Task<P>>>) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
        let mut tasks = self.tasks.lock();
        self.any.store(false, Ordering::Release);
        queue.extend(tasks.drain(..).map(Box::new));
        true
    }
}

/// Where a platform's `wake` puts the koids of woken threads until the
/// scheduler takes them ([`Machine::take_woken`]).
pub struct WokenQueue {
    any: AtomicBool,
    koids: Mutex<Vec<u64>>,
}

impl WokenQueue {
    /// An empty queue.
    pub const fn new() -> Self {
        WokenQueue {
            any: AtomicBool::new(false),
            koids: Mutex::new(Vec::new()),
        }
    }

    /// Records a wake.
    pub fn push(&self, koid: u64) {
        self.koids.lock().push(koid);
        self.any.store(true, Ordering::Release);
    }

    /// Moves every recorded wake to `out`.
    pub fn drain_into(&self, out: &mut Vec<u64>) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let mut koids = self.koids.lock();
        self.any.store(false, Ordering::Release);
        out.append(&mut koids);
    }
}

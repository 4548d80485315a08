//! Threads.
//!
//! A thread belongs to one process for life. It carries its lifecycle state
//! (see below) and the per-thread restricted-mode state: the bound state
//! VMO, whether it is in restricted mode, and the latched kick flag.
//!
//! # Lifecycle
//!
//! ```text
//! New ──start──▶ Running ──kill──▶ Dying ──next crate call──▶ Dead
//!  │                │                                          ▲
//!  └──kill──────────┴──────────── zx_thread_exit ──────────────┘
//! ```
//!
//! A thread made by `zx_thread_create` is `New` until `zx_thread_start` /
//! `zx_process_start` hands it to the host
//! ([`Platform::thread_started`](crate::Platform::thread_started)). One the
//! host made with [`Process::create_thread`](super::Process::create_thread)
//! starts `Running`: the host runs it from a context of its own. A thread
//! the host runs is killed in two steps: the kill marks it `Dying` and asks
//! the host to interrupt its CPU; its next call into the crate (a syscall,
//! a fault, an interrupt's [`Kernel::boundary`](crate::Kernel::boundary))
//! answers [`Outcome::ThreadExited`](crate::Outcome::ThreadExited) and makes
//! it `Dead`. So a thread never runs user code after it was seen dead, and
//! the process is torn down only once none of its threads can still be on
//! a CPU.
//!
//! Locks: `Thread::state` and `Thread::restricted` (leaves).

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use spin::Mutex;

use crate::abi::{Status, ZX_THREAD_TERMINATED};
use crate::platform::{Platform, ThreadToken};
use crate::restricted::Slot;

use super::wait::{self, Pending, Signals, WaitKind};
use super::{Name, Process, next_koid};

/// Where a thread is in its life (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadState {
    /// Created, not started.
    New,
    /// Started: the host runs it (or it waits in the host's queue).
    Running,
    /// Killed while the host runs it: it leaves at its next crate call.
    Dying,
    /// Gone: never runs again.
    Dead,
}

/// A thread of a [`Process`].
pub struct Thread<P: Platform> {
    koid: u64,
    cookie: AtomicU64,
    name: Name,
    process: Arc<Process<P>>,
    state: Mutex<ThreadState>,
    /// Mirrors `state == Dying || state == Dead`, for the hot paths.
    doomed: AtomicBool,
    /// Bound state and, while in restricted mode, where to return.
    pub(crate) restricted: Mutex<Slot<P>>,
    /// Set while the thread's context is the restricted one.
    pub(crate) in_restricted: AtomicBool,
    /// A latched `zx_restricted_kick`.
    pub(crate) kick: AtomicBool,
    /// Where a blocking wait stands ([`wait`]'s `RUNNING` ... `WOKEN`).
    pub(crate) park: AtomicU8,
    /// The wait in progress, if any.
    pub(crate) pending: Mutex<Option<Pending<P>>>,
    /// `ZX_THREAD_TERMINATED` and its waiters.
    signals: Signals<P>,
}

impl<P: Platform> Thread<P> {
    pub(crate) fn new(
        process: Arc<Process<P>>,
        cookie: u64,
        name: Name,
        state: ThreadState,
    ) -> Thread<P> {
        Thread {
            koid: next_koid(),
            cookie: AtomicU64::new(cookie),
            name,
            process,
            state: Mutex::new(state),
            doomed: AtomicBool::new(false),
            restricted: Mutex::new(Slot::default()),
            in_restricted: AtomicBool::new(false),
            kick: AtomicBool::new(false),
            park: AtomicU8::new(wait::RUNNING),
            pending: Mutex::new(None),
            signals: Signals::default(),
        }
    }

    /// The thread's signals (`ZX_THREAD_TERMINATED` once dead).
    pub fn signals(&self) -> &Signals<P> {
        &self.signals
    }

    /// The thread's koid.
    pub fn koid(&self) -> u64 {
        self.koid
    }

    /// The host's value for this thread: given at creation by
    /// [`Process::create_thread`](super::Process::create_thread), 0 for a
    /// thread user space created, until the host sets one.
    pub fn cookie(&self) -> u64 {
        self.cookie.load(Ordering::Relaxed)
    }

    /// Sets the host's value for this thread (typically when
    /// [`Platform::thread_started`](crate::Platform::thread_started) hands
    /// it over).
    pub fn set_cookie(&self, cookie: u64) {
        self.cookie.store(cookie, Ordering::Relaxed);
    }

    /// The thread's name (`zx_thread_create`'s, truncated to 31 bytes).
    pub fn name(&self) -> &[u8] {
        self.name.as_bytes()
    }

    /// What the crate passes to
    /// [`Platform::interrupt_thread`](crate::Platform::interrupt_thread).
    pub fn token(&self) -> ThreadToken {
        ThreadToken {
            koid: self.koid,
            cookie: self.cookie(),
        }
    }

    /// The owning process.
    pub fn process(&self) -> &Arc<Process<P>> {
        &self.process
    }

    /// Where the thread is in its life.
    pub fn state(&self) -> ThreadState {
        *self.state.lock()
    }

    /// Whether the thread was killed or exited: it will never run user code
    /// again (a `Dying` thread leaves at its next crate call).
    pub fn is_dead(&self) -> bool {
        self.doomed.load(Ordering::Acquire)
    }

    /// Marks the thread dead and releases its restricted state: the host
    /// calls this when it ends a thread itself (the crate does it when a
    /// thread exits or is reaped). Idempotent.
    pub fn exit(&self) {
        if self.set_state(ThreadState::Dead) {
            self.process.thread_gone();
        }
    }

    /// `zx_task_kill` of this thread: one not started dies at once; one the
    /// host runs is `Dying` (woken if parked, its CPU interrupted) and dies
    /// at its next crate call. The process dies with its last thread.
    pub fn kill(&self) {
        let was = self.state();
        if self.set_state(ThreadState::Dying) {
            self.process.thread_gone();
        }
        if was == ThreadState::Running {
            self.process
                .aspace()
                .platform()
                .interrupt_thread(self.token());
        }
    }

    /// Moves to `to` (`Dying` or `Dead`); returns whether the thread was
    /// counted as started and is now dead (the caller then tells the
    /// process). A move to `Dying` of a `New` thread makes it `Dead`.
    pub(crate) fn set_state(&self, to: ThreadState) -> bool {
        let (was, now) = {
            let mut state = self.state.lock();
            let was = *state;
            let now = match (was, to) {
                (ThreadState::Dead, _) => return false,
                (ThreadState::New, _) => ThreadState::Dead,
                (_, to) => to,
            };
            *state = now;
            self.doomed.store(true, Ordering::Release);
            (was, now)
        };
        if now == ThreadState::Dead {
            self.release_restricted();
            self.abandon_wait();
            self.signals.raise(ZX_THREAD_TERMINATED);
        } else if was == ThreadState::Running {
            // Killed while parked: wake it so it dies at its next crate
            // call.
            if self.record_result(Status::Canceled) {
                self.notify_woken();
            }
        }
        was != ThreadState::New && now == ThreadState::Dead
    }

    /// Records the thread as blocking on `kind` until `deadline`: the
    /// caller holds the lock of the queue the thread is in.
    pub(crate) fn begin_wait(&self, kind: WaitKind<P>, deadline: wait::Deadline) {
        *self.pending.lock() = Some(Pending {
            kind,
            deadline,
            result: None,
        });
        self.park.store(wait::BLOCKING, Ordering::Release);
    }

    /// A waker's first step, under the queue's lock: records `status` as
    /// the result of the thread's wait if it has one without a result yet.
    /// `true` if it did: the caller then calls
    /// [`notify_woken`](Thread::notify_woken) outside every lock.
    pub(crate) fn record_result(&self, status: Status) -> bool {
        let mut pending = self.pending.lock();
        match pending.as_mut() {
            Some(p) if p.result.is_none() => {
                p.result = Some(status);
                true
            }
            _ => false,
        }
    }

    /// A waker's second step: the thread is woken; if the host had parked
    /// it, the host is told ([`Platform::wake`](crate::Platform::wake)).
    pub(crate) fn notify_woken(&self) {
        if self.park.swap(wait::WOKEN, Ordering::AcqRel) == wait::PARKED {
            self.process.aspace().platform().wake(self.token());
        }
    }

    /// Drops the wait in progress, if any, and takes the thread out of its
    /// queue (its death, or its own timeout).
    pub(crate) fn abandon_wait(&self) {
        let pending = self.pending.lock().take();
        self.park.store(wait::RUNNING, Ordering::Release);
        if let Some(p) = pending {
            p.kind.dequeue(self);
        }
    }

    /// `New` → `Running`, under the caller's checks.
    pub(crate) fn mark_started(&self) -> bool {
        let mut state = self.state.lock();
        if *state != ThreadState::New {
            return false;
        }
        *state = ThreadState::Running;
        true
    }

    /// If the thread was killed while the host ran it, completes its death
    /// (`Dying` → `Dead`) and returns `true`: the host must not run it again.
    pub(crate) fn reap(&self) -> bool {
        if !self.doomed.load(Ordering::Acquire) {
            return false;
        }
        if self.set_state(ThreadState::Dead) {
            self.process.thread_gone();
        }
        true
    }

    fn release_restricted(&self) {
        let slot = core::mem::take(&mut *self.restricted.lock());
        drop(slot);
        self.in_restricted.store(false, Ordering::SeqCst);
    }
}

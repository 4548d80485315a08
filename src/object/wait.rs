//! Blocking: how a syscall parks its thread, how other threads wake it, and
//! how the host is told (the blocking contract).
//!
//! # The contract
//!
//! 1. A syscall that must wait (`zx_object_wait_one`, `zx_futex_wait`,
//!    `zx_nanosleep`) registers the thread where a waker will find it (a
//!    waitable object's [`Signals`], a futex queue), records what it waits
//!    for in the thread, and returns [`Outcome::Blocked`] with its deadline.
//!    No status is written yet.
//! 2. The host calls [`Kernel::park`] before it takes the thread off the
//!    CPU. [`Park::Parked`]: deschedule it (and arm a timer for the
//!    deadline, if any). [`Park::Woken`]: it was already woken, between the
//!    syscall's decision and now; keep it runnable. Because the decision
//!    and the wake both go through one atomic in the thread, a wake raised
//!    in that window is never lost.
//! 3. A waker (another thread's syscall, a death, a kill) records the
//!    result in the waiting thread and, if it had parked, calls
//!    [`Platform::wake`]: the host makes it runnable. A wake may also reach
//!    a thread the host already made runnable (after its timer); the host
//!    ignores it then.
//! 4. When its deadline passes, the host makes the thread runnable itself
//!    (no crate call is needed: early or spurious wakes are fine).
//! 5. A parked thread made runnable is switched in through
//!    [`Kernel::boundary`], which finishes the wait: the status goes into
//!    the return register (and a `zx_object_wait_one`'s `observed` into
//!    user memory) and it answers [`Outcome::Returned`]; a wait neither
//!    woken nor past its deadline answers [`Outcome::Blocked`] again (back
//!    to step 2); a killed thread answers [`Outcome::ThreadExited`].
//!
//! Time is the host's monotonic clock in nanoseconds, [`Platform::now`].
//!
//! # Locks
//!
//! A wait queue's lock ([`Signals`]' or a futex table's) is taken before
//! the waiting thread's `pending` lock; both are leaves otherwise. No lock
//! is held when [`Platform::wake`] is called.
//!
//! [`Outcome::Blocked`]: crate::Outcome::Blocked
//! [`Outcome::Returned`]: crate::Outcome::Returned
//! [`Outcome::ThreadExited`]: crate::Outcome::ThreadExited
//! [`Kernel::park`]: crate::Kernel::park
//! [`Kernel::boundary`]: crate::Kernel::boundary
//! [`Platform::wake`]: crate::Platform::wake
//! [`Platform::now`]: crate::Platform::now

use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU8, Ordering};

use spin::Mutex;

use crate::abi::{Status, ZX_TIME_INFINITE, zx_signals_t, zx_time_t};
use crate::platform::Platform;

use super::{Process, Thread};

/// When a blocked wait gives up: a `ZX_CLOCK_MONOTONIC` time in
/// nanoseconds, or never.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline(zx_time_t);

impl Deadline {
    /// A deadline that never passes (`ZX_TIME_INFINITE`).
    pub const INFINITE: Deadline = Deadline(ZX_TIME_INFINITE);

    /// The deadline at `ns` (as a syscall passed it).
    pub const fn at(ns: zx_time_t) -> Deadline {
        Deadline(ns)
    }

    /// The time, in nanoseconds (`ZX_TIME_INFINITE` for never).
    pub const fn ns(self) -> zx_time_t {
        self.0
    }

    /// Whether it never passes.
    pub const fn is_infinite(self) -> bool {
        self.0 == ZX_TIME_INFINITE
    }

    /// Whether it has passed at `now`.
    pub const fn passed(self, now: zx_time_t) -> bool {
        !self.is_infinite() && self.0 <= now
    }
}

/// What [`Outcome::Blocked`](crate::Outcome::Blocked) tells the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// Make the thread runnable again by then at the latest.
    pub deadline: Deadline,
}

/// What [`Kernel::park`](crate::Kernel::park) answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "the host must deschedule a parked thread, and only then"]
pub enum Park {
    /// Take the thread off the CPU until [`Platform::wake`] or its
    /// deadline.
    ///
    /// [`Platform::wake`]: crate::Platform::wake
    Parked,
    /// It was already woken: keep it runnable (switch it in through
    /// [`Kernel::boundary`](crate::Kernel::boundary)).
    Woken,
}

/// The thread's park state (`Thread::park`).
pub(crate) const RUNNING: u8 = 0;
/// A syscall decided to block; the host has not parked it yet.
pub(crate) const BLOCKING: u8 = 1;
/// The host parked it.
pub(crate) const PARKED: u8 = 2;
/// A waker recorded a result; the thread is (or will be) runnable.
pub(crate) const WOKEN: u8 = 3;

/// What a blocked thread waits for.
pub(crate) enum WaitKind<P: Platform> {
    /// `zx_object_wait_one` on an object's signals; `observed` is the user
    /// pointer the signals are written to (0 for none).
    Object {
        target: Waitable<P>,
        signals: zx_signals_t,
        observed: u64,
    },
    /// `zx_futex_wait` on the futex at `key` of a futex table.
    Futex { table: Arc<FutexTable<P>>, key: u64 },
    /// `zx_nanosleep`: only the deadline.
    Sleep,
}

/// A thread's wait in progress (`Thread::pending`).
pub(crate) struct Pending<P: Platform> {
    pub(crate) kind: WaitKind<P>,
    pub(crate) deadline: Deadline,
    /// Set by the waker (under the queue's lock and then this one).
    pub(crate) result: Option<Status>,
}

/// A waitable object.
pub(crate) enum Waitable<P: Platform> {
    Process(Arc<Process<P>>),
    Thread(Arc<Thread<P>>),
}

impl<P: Platform> Clone for Waitable<P> {
    fn clone(&self) -> Self {
        match self {
            Waitable::Process(p) => Waitable::Process(p.clone()),
            Waitable::Thread(t) => Waitable::Thread(t.clone()),
        }
    }
}

impl<P: Platform> Clone for WaitKind<P> {
    fn clone(&self) -> Self {
        match self {
            WaitKind::Object {
                target,
                signals,
                observed,
            } => WaitKind::Object {
                target: target.clone(),
                signals: *signals,
                observed: *observed,
            },
            WaitKind::Futex { table, key } => WaitKind::Futex {
                table: table.clone(),
                key: *key,
            },
            WaitKind::Sleep => WaitKind::Sleep,
        }
    }
}

impl<P: Platform> Waitable<P> {
    pub(crate) fn signals(&self) -> &Signals<P> {
        match self {
            Waitable::Process(p) => p.signals(),
            Waitable::Thread(t) => t.signals(),
        }
    }
}

/// An object's signal bits and the threads waiting for some of them.
pub struct Signals<P: Platform> {
    state: Mutex<SignalState<P>>,
}

struct SignalState<P: Platform> {
    bits: zx_signals_t,
    waiters: Vec<(Weak<Thread<P>>, zx_signals_t)>,
}

impl<P: Platform> Default for Signals<P> {
    fn default() -> Self {
        Signals {
            state: Mutex::new(SignalState {
                bits: 0,
                waiters: Vec::new(),
            }),
        }
    }
}

impl<P: Platform> Signals<P> {
    /// The bits now.
    pub fn bits(&self) -> zx_signals_t {
        self.state.lock().bits
    }

    /// Raises `bits` and wakes every waiter some of them satisfy.
    pub(crate) fn raise(&self, bits: zx_signals_t) {
        let woken: Vec<Arc<Thread<P>>> = {
            let mut s = self.state.lock();
            s.bits |= bits;
            let now = s.bits;
            let mut woken = Vec::new();
            s.waiters.retain(|(w, wanted)| {
                if wanted & now == 0 {
                    return w.strong_count() > 0;
                }
                if let Some(t) = w.upgrade() {
                    woken.push(t);
                }
                false
            });
            woken
                .into_iter()
                .filter(|t| t.record_result(Status::Ok))
                .collect()
        };
        for t in woken {
            t.notify_woken();
        }
    }

    /// Registers `thread` for `wanted` unless some of it is already raised:
    /// `Err(bits)` then. Runs `record` under the lock, so that a raise
    /// cannot come between the check and the thread's wait record.
    pub(crate) fn add_waiter(
        &self,
        thread: &Arc<Thread<P>>,
        wanted: zx_signals_t,
        record: impl FnOnce(),
    ) -> Result<(), zx_signals_t> {
        let mut s = self.state.lock();
        if s.bits & wanted != 0 {
            return Err(s.bits);
        }
        s.waiters.retain(|(w, _)| w.strong_count() > 0);
        s.waiters.push((Arc::downgrade(thread), wanted));
        record();
        Ok(())
    }

    /// Removes `thread`'s registration; runs `settle` under the lock (so no
    /// raise can interleave).
    pub(crate) fn remove_waiter(&self, thread: &Thread<P>, settle: impl FnOnce()) {
        let mut s = self.state.lock();
        s.waiters
            .retain(|(w, _)| w.strong_count() > 0 && !core::ptr::eq(w.as_ptr(), thread));
        settle();
    }
}

/// A futex context: the queues of threads blocked on futex words, keyed by
/// user address. One per process, or one per sharing group (as Zircon's
/// `FutexContext` in `ShareableProcessState`).
pub struct FutexTable<P: Platform> {
    queues: Mutex<BTreeMap<u64, VecDeque<Weak<Thread<P>>>>>,
}

impl<P: Platform> Default for FutexTable<P> {
    fn default() -> Self {
        FutexTable {
            queues: Mutex::new(BTreeMap::new()),
        }
    }
}

impl<P: Platform> FutexTable<P> {
    /// Runs `f` with the queues locked.
    pub(crate) fn with<R>(
        &self,
        f: impl FnOnce(&mut BTreeMap<u64, VecDeque<Weak<Thread<P>>>>) -> R,
    ) -> R {
        f(&mut self.queues.lock())
    }

    /// Number of threads queued at `key` (for tests and diagnostics).
    pub fn waiters(&self, key: u64) -> usize {
        self.queues
            .lock()
            .get(&key)
            .map_or(0, |q| q.iter().filter(|w| w.strong_count() > 0).count())
    }
}

/// Takes up to `count` live waiters off `queue` and records `Ok` in each;
/// returns those the caller must notify (outside every lock).
pub(crate) fn wake_from<P: Platform>(
    queue: &mut VecDeque<Weak<Thread<P>>>,
    count: u32,
) -> Vec<Arc<Thread<P>>> {
    let mut woken = Vec::new();
    let mut left = count;
    while left > 0 {
        let Some(w) = queue.pop_front() else { break };
        let Some(t) = w.upgrade() else { continue };
        if t.record_result(Status::Ok) {
            woken.push(t);
            left -= 1;
        }
    }
    woken
}

impl<P: Platform> WaitKind<P> {
    /// Takes `thread` out of the queue this wait put it in.
    pub(crate) fn dequeue(&self, thread: &Thread<P>) {
        match self {
            WaitKind::Object { target, .. } => target.signals().remove_waiter(thread, || {}),
            WaitKind::Futex { table, key } => table.with(|queues| {
                if let Some(q) = queues.get_mut(key) {
                    q.retain(|w| w.strong_count() > 0 && !core::ptr::eq(w.as_ptr(), thread));
                    if q.is_empty() {
                        queues.remove(key);
                    }
                }
            }),
            WaitKind::Sleep => {}
        }
    }
}

/// The park state as the host sees it.
pub(crate) fn park_state(park: &AtomicU8) -> u8 {
    park.load(Ordering::Acquire)
}

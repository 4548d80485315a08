//! Threads.
//!
//! A thread belongs to one process for life. It carries the per-thread
//! restricted-mode state: the bound state VMO, whether it is in restricted
//! mode, and the latched kick flag.
//!
//! Lock: `Thread::state` (leaf).

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

use spin::Mutex;

use crate::platform::{Platform, ThreadToken};
use crate::restricted::Slot;

use super::{Process, next_koid};

/// A thread of a [`Process`].
pub struct Thread<P: Platform> {
    koid: u64,
    cookie: u64,
    process: Arc<Process<P>>,
    dead: AtomicBool,
    /// Bound state and, while in restricted mode, where to return.
    pub(crate) restricted: Mutex<Slot<P>>,
    /// Set while the thread's context is the restricted one.
    pub(crate) in_restricted: AtomicBool,
    /// A latched `zx_restricted_kick`.
    pub(crate) kick: AtomicBool,
}

impl<P: Platform> Thread<P> {
    pub(crate) fn new(process: Arc<Process<P>>, cookie: u64) -> Thread<P> {
        Thread {
            koid: next_koid(),
            cookie,
            process,
            dead: AtomicBool::new(false),
            restricted: Mutex::new(Slot::default()),
            in_restricted: AtomicBool::new(false),
            kick: AtomicBool::new(false),
        }
    }

    /// The thread's koid.
    pub fn koid(&self) -> u64 {
        self.koid
    }

    /// The host's value for this thread, given at creation.
    pub fn cookie(&self) -> u64 {
        self.cookie
    }

    /// What the crate passes to
    /// [`Platform::interrupt_thread`](crate::Platform::interrupt_thread).
    pub fn token(&self) -> ThreadToken {
        ThreadToken {
            koid: self.koid,
            cookie: self.cookie,
        }
    }

    /// The owning process.
    pub fn process(&self) -> &Arc<Process<P>> {
        &self.process
    }

    /// Whether [`exit`](Thread::exit) was called.
    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// Marks the thread dead and releases its restricted state. Called by
    /// the host when the thread exits.
    pub fn exit(&self) {
        self.dead.store(true, Ordering::Release);
        let slot = core::mem::take(&mut *self.restricted.lock());
        drop(slot);
        self.in_restricted.store(false, Ordering::SeqCst);
    }
}

//! A host's side of the blocking contract for tests: syscalls with a
//! register context, `Kernel::park` after `Outcome::Blocked`, wakes taken
//! from the sim (`Platform::wake`) into a per-thread set, and resumption
//! through `Kernel::boundary`. Safe to use from several host threads at
//! once (one per crate thread).
#![allow(dead_code)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zx_subsystem::abi::*;
use zx_subsystem::object::Thread;
use zx_subsystem::object::wait::Park;
use zx_subsystem::sim::Sim;
use zx_subsystem::sim::cpu::SimArch;
use zx_subsystem::syscall::SyscallNumber;
use zx_subsystem::{Kernel, Outcome};

/// The host: the kernel and the wakes seen so far.
pub struct Host<A: SimArch> {
    pub sim: Sim<A>,
    pub kernel: Kernel<Sim<A>>,
    woken: Mutex<HashSet<u64>>,
}

/// One thread as the host runs it.
pub struct Task<A: SimArch> {
    pub thread: Arc<Thread<Sim<A>>>,
    pub ctx: A::UserContext,
}

impl<A: SimArch> Host<A> {
    pub fn new(sim: Sim<A>, kernel: Kernel<Sim<A>>) -> Self {
        Host {
            sim,
            kernel,
            woken: Mutex::new(HashSet::new()),
        }
    }

    pub fn task(&self, thread: &Arc<Thread<Sim<A>>>) -> Task<A> {
        Task {
            thread: thread.clone(),
            ctx: A::UserContext::default(),
        }
    }

    /// The syscall as user code would make it: its outcome (`Blocked`
    /// not yet parked).
    pub fn syscall(&self, t: &mut Task<A>, nr: SyscallNumber, args: &[u64]) -> Outcome {
        A::set_syscall(&mut t.ctx, nr as u64, args);
        self.kernel.syscall(&t.thread, &mut t.ctx)
    }

    /// Whether the sim reported a wake of `koid` (it is consumed).
    pub fn take_wake(&self, koid: u64) -> bool {
        let mut woken = self.woken.lock().unwrap();
        for token in self.sim.take_woken() {
            woken.insert(token.koid);
        }
        woken.remove(&koid)
    }

    /// Parks `t` and, if it parked, waits (on the host's wall clock, up to
    /// `limit`) for its wake; then switches it in. Returns the outcome of
    /// the boundary (`Returned`, `Blocked` again, `ThreadExited`).
    pub fn park_and_resume(&self, t: &mut Task<A>, limit: Duration) -> Outcome {
        if self.kernel.park(&t.thread) == Park::Parked {
            let start = Instant::now();
            while !self.take_wake(t.thread.koid()) {
                assert!(
                    start.elapsed() < limit,
                    "thread {} never woken",
                    t.thread.koid()
                );
                std::thread::yield_now();
            }
        }
        self.kernel.boundary(&t.thread, &mut t.ctx)
    }

    /// Runs a syscall to its end: while it blocks, parks and resumes it as
    /// the host would, with `tick` run between tries (to make progress
    /// for it: advance the clock, wake it...). Returns the final status.
    pub fn run_to_end(
        &self,
        t: &mut Task<A>,
        nr: SyscallNumber,
        args: &[u64],
        mut tick: impl FnMut(),
    ) -> Outcome {
        let mut outcome = self.syscall(t, nr, args);
        for _ in 0..100 {
            match outcome {
                Outcome::Blocked(_) => {
                    let _ = self.kernel.park(&t.thread);
                    tick();
                    outcome = self.kernel.boundary(&t.thread, &mut t.ctx);
                }
                other => return other,
            }
        }
        panic!("{nr:?} never ended");
    }
}

/// The status an outcome returned.
pub fn status(o: Outcome) -> Status {
    match o {
        Outcome::Returned(s) => s,
        other => panic!("not returned: {other:?}"),
    }
}

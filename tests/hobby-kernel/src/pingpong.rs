//! The futex ping-pong scenario, shared by both arches: two threads of one
//! process hand a turn back and forth [`ROUNDS`] times through
//! `zx_futex_wait` / `zx_futex_wake` on one word, so every handoff parks a
//! thread in the crate and the scheduler, and the wake makes it runnable
//! again (the blocking contract, end to end, in ring 3 / EL0).
//!
//! The word says whose turn it is (0: ping, 1: pong). Each thread
//! (`*/pingpong_user.rs`) loops: while the word is not its own number it
//! `zx_futex_wait`s on it (a changed value is `BAD_STATE`, and it looks
//! again); then it flips the word and `zx_futex_wake`s one waiter. At the
//! end each reports `HOST_PINGPONG(role, rounds, ticks)` (ping's counter
//! ticks over the whole exchange) and calls `zx_thread_exit`.
//!
//! The checks: both threads did every round, and the process ended with
//! its last thread. The note gives the handoff cost: instructions from one
//! thread's wake to the other running and waking it back, halved.

use alloc::vec;
use core::fmt::Write;

use zx_subsystem::abi::Status;
use zx_subsystem::arch::Arch;
use zx_subsystem::{Kernel, PAGE_SIZE, Platform};

use crate::churn::{ChurnArch, Start};
use crate::report::Report;
use crate::sched::{self, Host, Machine, Stop, Task};
use crate::zx_host::abi::HOST_SYSCALL_BASE;
use crate::zx_host::map_new;

/// Round trips (each is two handoffs).
pub const ROUNDS: u64 = 1000;
/// `pingpong(role, rounds, ticks)`.
pub const HOST_PINGPONG: u64 = HOST_SYSCALL_BASE + 0x11;

/// Runs the scenario with `code` (the arch's `pingpong_user::blob`) on
/// `machine`. Records its checks in `r`.
pub fn run<P: Platform, W: Write>(
    platform: P,
    code: &[u8],
    machine: &mut impl ChurnArch<P>,
    r: &mut Report<W>,
) {
    let kernel = Kernel::new(platform.clone());
    let built = (|| {
        let process = kernel.create_process(kernel.root_job())?;
        let vmar = process.root_vmar();
        let code_len = (code.len() as u64).next_multiple_of(PAGE_SIZE);
        let rx = zx_subsystem::vm::Perms::READ | zx_subsystem::vm::Perms::EXECUTE;
        let entry = map_new(&platform, vmar, code_len, code, rx)?;
        let rw = zx_subsystem::vm::Perms::READ | zx_subsystem::vm::Perms::WRITE;
        let word = map_new(&platform, vmar, PAGE_SIZE, &[], rw)?;
        let tasks = (0..2u64)
            .map(|role| {
                let thread = process.create_thread(role)?;
                let start = Start {
                    gate: 0,
                    index: role,
                    data: word,
                };
                Ok(Task {
                    thread,
                    ctx: machine.context(entry, &start),
                })
            })
            .collect::<zx_subsystem::Result<alloc::vec::Vec<_>>>()?;
        Ok::<_, zx_subsystem::Error>((process, entry, code_len, tasks))
    })();
    let Ok((process, entry, code_len, tasks)) = built else {
        r.note(format_args!("pingpong: setup failed: {:?}", built.err()));
        r.check("pingpong: process and two threads made", false);
        return;
    };
    machine.prepare(&process, entry, code_len);
    let mut host = PingHost {
        reports: vec![None; 2],
    };
    let stop = sched::run(&kernel, tasks, machine, &mut host);
    machine.unload();
    r.check(
        "pingpong: both threads ran to zx_thread_exit",
        matches!(stop, Stop::NoThreads),
    );
    let rounds = |role: usize| host.reports[role].map_or(0, |(n, _)| n);
    r.check_eq(
        "pingpong: ping took every turn through the futex",
        rounds(0),
        ROUNDS,
    );
    r.check_eq(
        "pingpong: pong took every turn through the futex",
        rounds(1),
        ROUNDS,
    );
    let dead = process.state() == zx_subsystem::object::ProcessState::Dead;
    r.check("pingpong: the process died with its last thread", dead);
    if let Some((_, ticks)) = host.reports[0] {
        let insns = ticks * machine.counter().1;
        r.note(format_args!(
            "pingpong: {ROUNDS} futex round trips, {} insns per handoff (wake to the waiter running and waking back, halved)",
            insns / (2 * ROUNDS)
        ));
    }
}

/// Records each thread's report.
struct PingHost {
    /// Per role: rounds done and counter ticks.
    reports: alloc::vec::Vec<Option<(u64, u64)>>,
}

impl<P: Platform> Host<P> for PingHost {
    fn host_base(&self) -> u64 {
        HOST_SYSCALL_BASE
    }

    fn host_call<M: Machine<P>>(&mut self, task: &mut Task<P>, _machine: &mut M) -> Option<u64> {
        let [role, rounds, ticks, ..] = P::Arch::syscall_args(&task.ctx);
        let known = P::Arch::syscall_number(&task.ctx) == HOST_PINGPONG;
        let answer = match self.reports.get_mut(role as usize).filter(|_| known) {
            Some(slot) => {
                *slot = Some((rounds, ticks));
                0
            }
            None => Status::BadSyscall.into_raw(),
        };
        P::Arch::set_syscall_status(&mut task.ctx, answer);
        None
    }

    fn on_timer(&mut self, _task: &Task<P>) {}
}

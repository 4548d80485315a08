//! The syscalls that block or end tasks: `zx_object_wait_one`,
//! `zx_futex_wait`, `zx_futex_wake`, `zx_futex_requeue`, `zx_nanosleep`,
//! `zx_clock_get_monotonic`, `zx_task_kill`; and the two halves of the
//! blocking contract the host calls: [`Kernel::park`] and the finishing of
//! a wait at [`Kernel::boundary`] (see [`crate::object::wait`]).
//!
//! Check orders are Zircon's (`sys_object_wait_one`,
//! `FutexContext::FutexWait` / `FutexWake` / `FutexRequeue`,
//! `sys_task_kill`). A blocking syscall made through
//! [`Kernel::syscall_raw`] (no register context to finish it in) that would
//! block gives `ZX_ERR_NOT_SUPPORTED` instead.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use crate::abi::{
    Rights, Status, ZX_HANDLE_INVALID, ZX_TASK_RETCODE_SYSCALL_KILL, zx_futex_t, zx_signals_t,
};
use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::heap::Reserve;
use crate::kernel::Kernel;
use crate::object::wait::{
    self, Block, Deadline, FutexTable, Park, WaitKind, Waitable, park_state, wake_from,
};
use crate::object::{KernelObject, Thread, check_rights};
use crate::outcome::Outcome;
use crate::platform::Platform;
use crate::vm::UserMemory;

use super::user::UserOut;
use super::{Call, arg_u32};

/// Blocks the caller: the outcome the host sees, or `NOT_SUPPORTED`
/// without a register context (the wait is undone).
fn block<P: Platform>(call: &mut Call<'_, P>, deadline: Deadline) -> Result<()> {
    if call.ctx.is_none() {
        call.thread.abandon_wait();
        return Err(Error::NotSupported(
            "a blocking syscall needs Kernel::syscall",
        ));
    }
    // A kill that came before the wait was recorded found nothing to
    // cancel; it set the thread's doom first, so looking now (after the
    // record's lock) cannot miss it.
    let thread = call.thread;
    if thread.is_dead() && thread.record_result(Status::Canceled) {
        thread.notify_woken();
    }
    call.outcome = Some(Outcome::Blocked(Block { deadline }));
    Ok(())
}

/// `zx_object_wait_one(handle, signals, deadline, observed)`: processes
/// and threads (`ZX_TASK_TERMINATED`); other types are `NOT_SUPPORTED`
/// here. `observed` is written on success and on time-out.
pub(super) fn object_wait_one<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let [handle, signals, deadline, observed, ..] = call.args;
    let (signals, deadline) = (
        arg_u32(signals) as zx_signals_t,
        Deadline::at(deadline as i64),
    );
    let caller = call.process().clone();
    let (object, rights) =
        caller.with_handles(|t| t.get(arg_u32(handle)).map(|h| (h.object.clone(), h.rights)))?;
    check_rights(rights, Rights::WAIT)?;
    let target = match object {
        KernelObject::Process(p) => Waitable::Process(p),
        KernelObject::Thread(t) => Waitable::Thread(t),
        _ => return Err(Error::NotSupported("waiting on this object type")),
    };
    let now = call.kernel.platform().now();
    let thread = call.thread.clone();
    let registered = {
        let bits = target.signals().bits();
        if bits & signals != 0 {
            Err(Status::Ok)
        } else if deadline.passed(now) {
            Err(Status::TimedOut)
        } else {
            let kind_target = target.clone();
            target
                .signals()
                .add_waiter(&thread, signals, || {
                    thread.begin_wait(
                        WaitKind::Object {
                            target: kind_target,
                            signals,
                            observed,
                        },
                        deadline,
                    );
                })
                .map_err(|_| Status::Ok)
        }
    };
    match registered {
        Ok(()) => block(call, deadline),
        Err(status) => {
            write_observed(&caller, observed, target.signals().bits())?;
            status_result(status)
        }
    }
}

fn write_observed<P: Platform>(
    caller: &crate::object::Process<P>,
    observed: u64,
    bits: zx_signals_t,
) -> Result<()> {
    if observed == 0 {
        return Ok(());
    }
    UserOut::<u32>::new(observed).write(caller, &bits)
}

fn status_result(status: Status) -> Result<()> {
    match status {
        Status::Ok => Ok(()),
        Status::TimedOut => Err(Error::TimedOut),
        _ => Err(Error::BadState("wait canceled")),
    }
}

/// Zircon's `ValidateFutexPointer`: non-null and 4-byte aligned.
fn futex_key(ptr: u64) -> Result<u64> {
    if ptr == 0 || !ptr.is_multiple_of(core::mem::size_of::<zx_futex_t>() as u64) {
        return Err(Error::InvalidArgs("futex pointer null or misaligned"));
    }
    Ok(ptr)
}

/// Zircon's `ValidateFutexOwner`, whose error is reported only after the
/// value check.
fn futex_owner<P: Platform>(call: &Call<'_, P>, handle: u32) -> Result<Option<Arc<Thread<P>>>> {
    if handle == ZX_HANDLE_INVALID {
        return Ok(None);
    }
    let (t, _) = call
        .process()
        .get_object::<Thread<P>>(handle, Rights::empty())?;
    Ok(Some(t))
}

/// The futex word at `key`, read as a user-mode load would.
fn futex_value<P: Platform>(call: &Call<'_, P>, key: u64) -> Result<zx_futex_t> {
    let mut b = [0u8; 4];
    call.process()
        .copy_from_user(key, &mut b)
        .map_err(super::user::invalid_args)?;
    Ok(zx_futex_t::from_ne_bytes(b))
}

/// Whether `owner` is blocked on one of `keys` of `table`.
fn blocked_on<P: Platform>(owner: &Thread<P>, table: &Arc<FutexTable<P>>, keys: &[u64]) -> bool {
    match owner.pending.lock().as_ref().map(|p| &p.kind) {
        Some(WaitKind::Futex { table: t, key }) => Arc::ptr_eq(t, table) && keys.contains(key),
        _ => false,
    }
}

/// `zx_futex_wait(value_ptr, current_value, new_futex_owner, deadline)`.
pub(super) fn futex_wait<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let [ptr, current, owner, deadline, ..] = call.args;
    let key = futex_key(ptr)?;
    let owner = futex_owner(call, arg_u32(owner));
    let deadline = Deadline::at(deadline as i64);
    let table = call.process().futexes().clone();
    let thread = call.thread.clone();
    let now = call.kernel.platform().now();
    table.clone().with(|queues| {
        if futex_value(call, key)? != current as u32 as zx_futex_t {
            return Err(Error::BadState("futex value changed"));
        }
        if let Some(owner) = owner?
            && (Arc::ptr_eq(&owner, &thread) || blocked_on(&owner, &table, &[key]))
        {
            return Err(Error::InvalidArgs("bad new futex owner"));
        }
        if deadline.passed(now) {
            return Err(Error::TimedOut);
        }
        let queue = queues.entry(key).or_default();
        queue.reserve_fallibly(1)?;
        queue.push_back(Arc::downgrade(&thread));
        thread.begin_wait(
            WaitKind::Futex {
                table: table.clone(),
                key,
            },
            deadline,
        );
        Ok(())
    })?;
    block(call, deadline)
}

/// `zx_futex_wake(value_ptr, wake_count)`.
pub(super) fn futex_wake<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let key = futex_key(call.args[0])?;
    let count = arg_u32(call.args[1]);
    let woken = call.process().futexes().with(|queues| {
        let Some(queue) = queues.get_mut(&key) else {
            return Vec::new();
        };
        let woken = wake_from(queue, count);
        if queue.is_empty() {
            queues.remove(&key);
        }
        woken
    });
    for t in woken {
        t.notify_woken();
    }
    Ok(())
}

/// `zx_futex_requeue(value_ptr, wake_count, current_value, requeue_ptr,
/// requeue_count, new_requeue_owner)`.
pub(super) fn futex_requeue<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let [
        ptr,
        wake_count,
        current,
        requeue_ptr,
        requeue_count,
        owner,
        ..,
    ] = call.args;
    let key = futex_key(ptr)?;
    let requeue_key = futex_key(requeue_ptr)?;
    if key == requeue_key {
        return Err(Error::InvalidArgs("requeue onto the same futex"));
    }
    let owner = futex_owner(call, arg_u32(owner));
    let table = call.process().futexes().clone();
    let woken = table.clone().with(|queues| {
        if futex_value(call, key)? != current as u32 as zx_futex_t {
            return Err(Error::BadState("futex value changed"));
        }
        if let Some(owner) = owner?
            && blocked_on(&owner, &table, &[key, requeue_key])
        {
            return Err(Error::InvalidArgs("bad new requeue owner"));
        }
        let Some(mut queue) = queues.remove(&key) else {
            return Ok(Vec::new());
        };
        let woken = wake_from(&mut queue, arg_u32(wake_count));
        let mut moved = Vec::new();
        let mut left = arg_u32(requeue_count);
        while left > 0 {
            let Some(w) = queue.pop_front() else { break };
            let Some(t) = w.upgrade() else { continue };
            let retargeted = match t.pending.lock().as_mut() {
                Some(p) if p.result.is_none() => {
                    p.kind = WaitKind::Futex {
                        table: table.clone(),
                        key: requeue_key,
                    };
                    true
                }
                _ => false,
            };
            if retargeted {
                moved.push(w);
                left -= 1;
            }
        }
        if !queue.is_empty() {
            queues.insert(key, queue);
        }
        if !moved.is_empty() {
            let target = queues.entry(requeue_key).or_default();
            target.reserve_fallibly(moved.len())?;
            target.extend(moved);
        }
        Ok(woken)
    })?;
    for t in woken {
        t.notify_woken();
    }
    Ok(())
}

/// `zx_nanosleep(deadline)`: a deadline already passed returns at once.
pub(super) fn nanosleep<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let deadline = Deadline::at(call.args[0] as i64);
    if deadline.passed(call.kernel.platform().now()) {
        return Ok(());
    }
    call.thread.begin_wait(WaitKind::Sleep, deadline);
    block(call, deadline)
}

/// `zx_clock_get_monotonic()`: the time, in the return register.
pub(super) fn clock_get_monotonic<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let now = call.kernel.platform().now();
    if let Some(ctx) = call.ctx.as_deref_mut() {
        P::Arch::set_return_value(ctx, now as u64);
        call.outcome = Some(Outcome::ReturnedValue(now));
    }
    Ok(())
}

/// `zx_task_kill(handle)`: `ZX_RIGHT_DESTROY`; a process (every thread, then
/// the address space), a thread (as older Zircon; current Zircon refuses
/// threads with `WRONG_TYPE`), or a job (every process under it).
pub(super) fn task_kill<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let (object, rights) = call.process().with_handles(|t| {
        t.get(arg_u32(call.args[0]))
            .map(|h| (h.object.clone(), h.rights))
    })?;
    check_rights(rights, Rights::DESTROY)?;
    match object {
        KernelObject::Process(p) => p.kill(ZX_TASK_RETCODE_SYSCALL_KILL),
        KernelObject::Thread(t) => t.kill(),
        KernelObject::Job(j) => j.kill_processes(ZX_TASK_RETCODE_SYSCALL_KILL),
        other => {
            return Err(Error::WrongType {
                expected: crate::abi::ObjectType::Process,
                found: other.object_type(),
            });
        }
    }
    // A task that killed itself does not return from the syscall.
    if call.thread.reap() {
        call.outcome = Some(Outcome::ThreadExited);
    }
    Ok(())
}

impl<P: Platform> Kernel<P> {
    /// Step 2 of the blocking contract: the host is about to take `thread`
    /// off the CPU after [`Outcome::Blocked`]. [`Park::Parked`]: do so (it
    /// comes back through [`Platform::wake`] or its deadline);
    /// [`Park::Woken`]: it was woken already, keep it runnable.
    ///
    /// [`Platform::wake`]: crate::Platform::wake
    pub fn park(&self, thread: &Thread<P>) -> Park {
        match thread.park.compare_exchange(
            wait::BLOCKING,
            wait::PARKED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Park::Parked,
            Err(_) => Park::Woken,
        }
    }

    /// Step 5 of the blocking contract, at a kernel boundary: finishes a
    /// wait that was woken or whose deadline passed (status, `observed`),
    /// or says to block again. `None` when the thread waits for nothing.
    pub(crate) fn finish_wait(
        &self,
        thread: &Thread<P>,
        ctx: &mut <P::Arch as Arch>::UserContext,
    ) -> Option<Outcome> {
        if park_state(&thread.park) == wait::RUNNING {
            return None;
        }
        loop {
            let mut pending = thread.pending.lock();
            let Some(p) = pending.as_mut() else {
                thread.park.store(wait::RUNNING, Ordering::Release);
                return None;
            };
            if let Some(status) = p.result {
                let done = pending.take();
                thread.park.store(wait::RUNNING, Ordering::Release);
                drop(pending);
                let kind = done.map(|d| d.kind);
                return Some(self.complete_wait(thread, ctx, kind, status));
            }
            if !p.deadline.passed(self.platform().now()) {
                thread.park.store(wait::BLOCKING, Ordering::Release);
                return Some(Outcome::Blocked(Block {
                    deadline: p.deadline,
                }));
            }
            // The deadline passed: out of the queue, then time out unless a
            // waker got there first (it holds the queue's lock to record).
            let timeout = match p.kind {
                WaitKind::Sleep => Status::Ok,
                _ => Status::TimedOut,
            };
            let kind = p.kind.clone();
            drop(pending);
            kind.dequeue(thread);
            if let Some(p) = thread.pending.lock().as_mut() {
                p.result.get_or_insert(timeout);
            }
        }
    }

    /// Writes a finished wait's status (and `observed`) into `ctx`.
    fn complete_wait(
        &self,
        thread: &Thread<P>,
        ctx: &mut <P::Arch as Arch>::UserContext,
        kind: Option<WaitKind<P>>,
        status: Status,
    ) -> Outcome {
        let status = match kind {
            Some(WaitKind::Object {
                target, observed, ..
            }) => {
                let bits = target.signals().bits();
                match write_observed(thread.process(), observed, bits) {
                    Ok(()) => status,
                    Err(e) => e.status(),
                }
            }
            _ => status,
        };
        P::Arch::set_syscall_status(ctx, status.into_raw());
        Outcome::Returned(status)
    }
}

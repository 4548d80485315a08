//! The syscall dispatch table.
//!
//! [`SyscallNumber`] fixes this crate's syscall numbers (Zircon's own
//! numbering is generated per build and is not an ABI, so a kernel using
//! this crate uses these). [`Kernel::syscall_raw`] takes a number and eight
//! raw arguments and returns a `zx_status_t`; [`Kernel::syscall`] reads them
//! from a thread's saved [`UserContext`](crate::arch::Arch::UserContext)
//! and writes the status back, and is the one that can run
//! `zx_restricted_enter`, which replaces the context instead of returning.
//!
//! Arguments arrive as `u64` registers. Parameters that are 32-bit in the C
//! ABI (handles, options, rights, topics, counts) use the low 32 bits, as a
//! C callee would. Unknown numbers give `ZX_ERR_BAD_SYSCALL`. Each handler
//! returns a [`Result`]; the conversion to `zx_status_t` happens here and
//! nowhere else.

mod handle;
mod object;
mod restricted;
mod task;
pub mod user;
mod vm;
mod wait;

use alloc::sync::Arc;

use crate::abi::{Status, zx_status_t};
use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::kernel::Kernel;
use crate::object::{Process, Thread};
use crate::outcome::{ExitReason, Outcome};
use crate::platform::Platform;

macro_rules! syscalls {
    ($($(#[$doc:meta])* $name:ident = $num:literal, $cname:literal => $family:ident :: $func:ident;)*) => {
        /// This crate's syscall numbers.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum SyscallNumber {
            $($(#[$doc])* $name = $num,)*
        }

        impl SyscallNumber {
            /// Every syscall, in number order.
            pub const ALL: &'static [SyscallNumber] = &[$(SyscallNumber::$name),*];

            /// The number for `raw`, if it names a syscall.
            pub fn from_raw(raw: u64) -> Option<SyscallNumber> {
                match raw {
                    $($num => Some(SyscallNumber::$name),)*
                    _ => None,
                }
            }

            /// The C name, e.g. `"zx_vmar_protect"`.
            pub fn name(self) -> &'static str {
                match self {
                    $(SyscallNumber::$name => $cname,)*
                }
            }
        }

        impl<P: Platform> Table<P> {
            /// The handlers, indexed by syscall number.
            const HANDLERS: &'static [Handler<P>] = &[$($family::$func::<P>),*];
        }
    };
}

syscalls! {
    /// `zx_handle_close(handle)`.
    HandleClose = 0, "zx_handle_close" => handle::close;
    /// `zx_handle_duplicate(handle, rights, out)`.
    HandleDuplicate = 1, "zx_handle_duplicate" => handle::duplicate;
    /// `zx_handle_replace(handle, rights, out)`.
    HandleReplace = 2, "zx_handle_replace" => handle::replace;
    /// `zx_object_get_info(handle, topic, buffer, buffer_size, actual, avail)`.
    ObjectGetInfo = 3, "zx_object_get_info" => object::get_info;
    /// `zx_job_set_policy(handle, options, topic, policy, count)`.
    JobSetPolicy = 4, "zx_job_set_policy" => object::job_set_policy;
    /// `zx_vmo_create(size, options, out)`.
    VmoCreate = 5, "zx_vmo_create" => vm::vmo_create;
    /// `zx_vmo_read(handle, buffer, offset, buffer_size)`.
    VmoRead = 6, "zx_vmo_read" => vm::vmo_read;
    /// `zx_vmo_write(handle, buffer, offset, buffer_size)`.
    VmoWrite = 7, "zx_vmo_write" => vm::vmo_write;
    /// `zx_vmo_get_size(handle, size)`.
    VmoGetSize = 8, "zx_vmo_get_size" => vm::vmo_get_size;
    /// `zx_vmo_set_size(handle, size)`.
    VmoSetSize = 9, "zx_vmo_set_size" => vm::vmo_set_size;
    /// `zx_vmo_create_child(handle, options, offset, size, out)`.
    VmoCreateChild = 10, "zx_vmo_create_child" => vm::vmo_create_child;
    /// `zx_vmar_allocate(parent, options, offset, size, child_vmar, child_addr)`.
    VmarAllocate = 11, "zx_vmar_allocate" => vm::vmar_allocate;
    /// `zx_vmar_map(handle, options, vmar_offset, vmo, vmo_offset, len, mapped_addr)`.
    VmarMap = 12, "zx_vmar_map" => vm::vmar_map;
    /// `zx_vmar_unmap(handle, addr, len)`.
    VmarUnmap = 13, "zx_vmar_unmap" => vm::vmar_unmap;
    /// `zx_vmar_protect(handle, options, addr, len)`.
    VmarProtect = 14, "zx_vmar_protect" => vm::vmar_protect;
    /// `zx_vmar_destroy(handle)`.
    VmarDestroy = 15, "zx_vmar_destroy" => vm::vmar_destroy;
    /// `zx_restricted_bind_state(options, out_vmo)`.
    RestrictedBindState = 16, "zx_restricted_bind_state" => restricted::bind_state;
    /// `zx_restricted_unbind_state(options)`.
    RestrictedUnbindState = 17, "zx_restricted_unbind_state" => restricted::unbind_state;
    /// `zx_restricted_enter(options, vector_table_ptr, context)`.
    RestrictedEnter = 18, "zx_restricted_enter" => restricted::enter;
    /// `zx_restricted_kick(thread, options)`.
    RestrictedKick = 19, "zx_restricted_kick" => restricted::kick;
    /// `zx_process_create(job, name, name_size, options, proc_handle, vmar_handle)`.
    ProcessCreate = 20, "zx_process_create" => task::process_create;
    /// `zx_process_create_shared(shared_proc, options, name, name_size, proc_handle, restricted_vmar_handle)`.
    ProcessCreateShared = 21, "zx_process_create_shared" => task::process_create_shared;
    /// `zx_process_start(process, thread, entry, stack, arg1, arg2)`.
    ProcessStart = 22, "zx_process_start" => task::process_start;
    /// `zx_process_exit(retcode)`.
    ProcessExit = 23, "zx_process_exit" => task::process_exit;
    /// `zx_thread_create(process, name, name_size, options, out)`.
    ThreadCreate = 24, "zx_thread_create" => task::thread_create;
    /// `zx_thread_start(thread, thread_entry, stack, arg1, arg2)`.
    ThreadStart = 25, "zx_thread_start" => task::thread_start;
    /// `zx_thread_exit()`.
    ThreadExit = 26, "zx_thread_exit" => task::thread_exit;
    /// `zx_task_kill(handle)`.
    TaskKill = 27, "zx_task_kill" => wait::task_kill;
    /// `zx_object_wait_one(handle, signals, deadline, observed)`.
    ObjectWaitOne = 28, "zx_object_wait_one" => wait::object_wait_one;
    /// `zx_futex_wait(value_ptr, current_value, new_futex_owner, deadline)`.
    FutexWait = 29, "zx_futex_wait" => wait::futex_wait;
    /// `zx_futex_wake(value_ptr, wake_count)`.
    FutexWake = 30, "zx_futex_wake" => wait::futex_wake;
    /// `zx_futex_requeue(value_ptr, wake_count, current_value, requeue_ptr, requeue_count, new_requeue_owner)`.
    FutexRequeue = 31, "zx_futex_requeue" => wait::futex_requeue;
    /// `zx_nanosleep(deadline)`.
    Nanosleep = 32, "zx_nanosleep" => wait::nanosleep;
    /// `zx_clock_get_monotonic()`: the time, not a status, in the return register.
    ClockGetMonotonic = 33, "zx_clock_get_monotonic" => wait::clock_get_monotonic;
}

/// A syscall in progress.
pub struct Call<'a, P: Platform> {
    kernel: &'a Kernel<P>,
    thread: &'a Arc<Thread<P>>,
    /// The eight raw arguments.
    args: [u64; 8],
    /// The caller's saved registers, when the call came through
    /// [`Kernel::syscall`].
    ctx: Option<&'a mut <P::Arch as Arch>::UserContext>,
    /// Set by a handler that did more than return a status (replaced `ctx`,
    /// ended the thread): no status is written back, and this is what the
    /// host is told.
    outcome: Option<Outcome>,
}

impl<P: Platform> Call<'_, P> {
    fn process(&self) -> &Arc<Process<P>> {
        self.thread.process()
    }
}

type Handler<P> = for<'a, 'b> fn(&'b mut Call<'a, P>) -> Result<()>;

struct Table<P>(core::marker::PhantomData<P>);

/// The low 32 bits of an argument register.
fn arg_u32(raw: u64) -> u32 {
    raw as u32
}

impl<P: Platform> Kernel<P> {
    fn dispatch(&self, call: &mut Call<'_, P>, number: u64) -> Result<()> {
        let handler = usize::try_from(number)
            .ok()
            .and_then(|n| Table::<P>::HANDLERS.get(n))
            .ok_or(Error::BadSyscall { number })?;
        handler(call)
    }

    /// Runs syscall `number` for `thread` with raw arguments and returns its
    /// status. `zx_restricted_enter` needs the caller's registers and gives
    /// `ZX_ERR_NOT_SUPPORTED` here; use [`Kernel::syscall`] for it. A
    /// syscall that ends the thread (`zx_thread_exit`, `zx_process_exit`)
    /// does so and returns `ZX_OK`; [`Kernel::syscall`] says it happened.
    pub fn syscall_raw(&self, thread: &Arc<Thread<P>>, number: u64, args: [u64; 8]) -> zx_status_t {
        let mut call = Call {
            kernel: self,
            thread,
            args,
            ctx: None,
            outcome: None,
        };
        status_of(self.dispatch(&mut call, number))
    }

    /// Runs the syscall whose number and arguments are in `ctx` (the
    /// registers `thread` trapped with) and stores the status in the return
    /// register, unless the syscall replaced the context (a successful
    /// `zx_restricted_enter`) or ended the thread. The [`Outcome`] says
    /// which; the host acts on it.
    ///
    /// A syscall instruction executed in restricted mode dispatches nothing:
    /// it leaves restricted mode with reason `SYSCALL`. A thread that was
    /// killed is reaped instead ([`Outcome::ThreadExited`]), at the start of
    /// the syscall, or at its end when it killed itself (`zx_task_kill` of
    /// itself or its process, which does not return, as in Zircon).
    pub fn syscall(
        &self,
        thread: &Arc<Thread<P>>,
        ctx: &mut <P::Arch as Arch>::UserContext,
    ) -> Outcome {
        if thread.reap() {
            return Outcome::ThreadExited;
        }
        if self.restricted_syscall_exit(thread, ctx) {
            return Outcome::LeftRestricted(ExitReason::Syscall);
        }
        let number = P::Arch::syscall_number(ctx);
        let args = P::Arch::syscall_args(ctx);
        // The hot half of every restricted-mode round trip goes straight to
        // its handler, without the table's `Call`: the same checks, in the
        // same order, as `restricted::enter` through the table.
        if number == SyscallNumber::RestrictedEnter as u64 {
            let (options, vector, context) = (arg_u32(args[0]), args[1], args[2]);
            return match crate::restricted::enter(thread, options, vector, context, Some(ctx)) {
                Ok(outcome) => outcome,
                Err(e) => {
                    P::Arch::set_syscall_status(ctx, e.status().into_raw());
                    Outcome::Returned(e.status())
                }
            };
        }
        let mut call = Call {
            kernel: self,
            thread,
            args,
            ctx: Some(ctx),
            outcome: None,
        };
        let result = self.dispatch(&mut call, number);
        if let Some(outcome) = call.outcome {
            return outcome;
        }
        // A thread killed by another while this syscall ran returns to user
        // mode and leaves at its next trap, which the kill's interrupt
        // brings about at once; one that killed itself has its outcome.
        let status = match result {
            Ok(()) => Status::Ok,
            Err(e) => e.status(),
        };
        if let Some(ctx) = call.ctx {
            P::Arch::set_syscall_status(ctx, status.into_raw());
        }
        Outcome::Returned(status)
    }
}

fn status_of(result: Result<()>) -> zx_status_t {
    match result {
        Ok(()) => Status::Ok.into_raw(),
        Err(e) => e.status().into_raw(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_index_the_handler_table() {
        for (i, n) in SyscallNumber::ALL.iter().enumerate() {
            assert_eq!(*n as usize, i);
            assert_eq!(SyscallNumber::from_raw(i as u64), Some(*n));
            assert!(n.name().starts_with("zx_"), "{}", n.name());
        }
        assert_eq!(
            SyscallNumber::from_raw(SyscallNumber::ALL.len() as u64),
            None
        );
    }
}

//! Tasks: shared processes, threads, and waiting for them to end.
//!
//! - [`Process::create_shared`]: `zx_process_create_shared`, a new process
//!   in the caller's sharing group with its own restricted region;
//! - [`Process::create_thread`], [`Process::start`] and [`Thread::start`]:
//!   `zx_thread_create`, `zx_process_start` and `zx_thread_start`;
//! - [`Handle::wait_one`]: `zx_object_wait_one` (the crate waits on
//!   processes and threads, e.g. for `ZX_TASK_TERMINATED`).

use zx_subsystem::abi::{ZX_HANDLE_INVALID, zx_handle_t, zx_signals_t};

use crate::raw::call;
use crate::{Handle, Process, Result, SyscallNumber as S, Thread, Vmar, ok};

impl Process {
    /// `zx_process_create_shared(self, 0, name, ..)`: a new process that
    /// shares `self`'s shared region, handle table and futexes, and its
    /// private restricted region's root VMAR.
    ///
    /// # Errors
    ///
    /// `BAD_HANDLE`, `WRONG_TYPE`, `ACCESS_DENIED` (no `MANAGE_PROCESS`),
    /// `INVALID_ARGS` (`self` not in a sharing group), `BAD_STATE`,
    /// `NO_MEMORY`, `NO_RESOURCES`.
    pub fn create_shared(&self, name: &[u8]) -> Result<(Process, Vmar)> {
        let (mut proc, mut vmar): (zx_handle_t, zx_handle_t) =
            (ZX_HANDLE_INVALID, ZX_HANDLE_INVALID);
        // SAFETY: the name is read for its length; `proc` and `vmar` are
        // live locals the call writes one handle each to.
        let r = unsafe {
            call(
                S::ProcessCreateShared,
                [
                    self.raw().into(),
                    0,
                    name.as_ptr() as u64,
                    name.len() as u64,
                    &mut proc as *mut zx_handle_t as u64,
                    &mut vmar as *mut zx_handle_t as u64,
                    0,
                    0,
                ],
            )
        };
        ok(r)?;
        // SAFETY: the kernel just gave us these two handles.
        Ok(unsafe { (Process::from_raw(proc), Vmar::from_raw(vmar)) })
    }

    /// `zx_thread_create(self, name, .., 0)`: a new, not yet started
    /// thread of this process.
    ///
    /// # Errors
    ///
    /// `BAD_HANDLE`, `WRONG_TYPE`, `ACCESS_DENIED` (no `MANAGE_THREAD`),
    /// `BAD_STATE` (the process is dying or dead), `NO_MEMORY`.
    pub fn create_thread(&self, name: &[u8]) -> Result<Thread> {
        let mut out: zx_handle_t = ZX_HANDLE_INVALID;
        // SAFETY: the name is read for its length; `out` is a live local
        // the call writes one handle to.
        let r = unsafe {
            call(
                S::ThreadCreate,
                [
                    self.raw().into(),
                    name.as_ptr() as u64,
                    name.len() as u64,
                    0,
                    &mut out as *mut zx_handle_t as u64,
                    0,
                    0,
                    0,
                ],
            )
        };
        ok(r)?;
        // SAFETY: the kernel just gave us this handle.
        Ok(unsafe { Thread::from_raw(out) })
    }
}

impl Process {
    /// `zx_process_start(self, thread, entry, stack, arg1, arg2)`: starts
    /// the process with its first thread; `arg1` (if any) is moved into
    /// the process, its new value in the first argument register.
    ///
    /// # Safety
    ///
    /// As [`Thread::start`], for `thread` in `self`.
    ///
    /// # Errors
    ///
    /// `BAD_HANDLE`, `WRONG_TYPE`, `ACCESS_DENIED` (no `WRITE`, a thread of
    /// another process, an argument without `TRANSFER`), `INVALID_ARGS`
    /// (`entry` not a user address), `BAD_STATE` (started already). `arg1`
    /// is closed on any failure.
    pub unsafe fn start(
        &self,
        thread: &Thread,
        entry: u64,
        stack: u64,
        arg1: Option<Handle>,
        arg2: u64,
    ) -> Result<()> {
        let arg1 = arg1.map_or(ZX_HANDLE_INVALID, Handle::into_raw);
        // SAFETY: no pointer the kernel writes; the kernel takes `arg1`
        // (given up above) whatever happens; what the thread does with its
        // registers is the caller's obligation.
        ok(unsafe {
            call(
                S::ProcessStart,
                [
                    self.raw().into(),
                    thread.raw().into(),
                    entry,
                    stack,
                    arg1.into(),
                    arg2,
                    0,
                    0,
                ],
            )
        })
    }
}

impl Thread {
    /// `zx_thread_start(self, entry, stack, arg1, arg2)`.
    ///
    /// # Safety
    ///
    /// 1. `entry` is code of this program that runs correctly from the
    ///    initial register state the kernel gives (`stack` as the stack
    ///    pointer, `arg1` and `arg2` in the first two argument registers)
    ///    in the thread's process.
    /// 2. `[.., stack)` is memory of that process nothing else uses while
    ///    the thread runs, and what `arg1` / `arg2` point to (if anything)
    ///    is valid for what `entry` does with it.
    ///
    /// # Errors
    ///
    /// `BAD_HANDLE`, `WRONG_TYPE`, `ACCESS_DENIED` (no `MANAGE_THREAD`),
    /// `INVALID_ARGS` (`entry` not a user address), `BAD_STATE` (started
    /// already, or the process is not running).
    pub unsafe fn start(&self, entry: u64, stack: u64, arg1: u64, arg2: u64) -> Result<()> {
        // SAFETY: no pointer the kernel writes; what the new thread does
        // with its registers is the caller's obligation.
        ok(unsafe {
            call(
                S::ThreadStart,
                [self.raw().into(), entry, stack, arg1, arg2, 0, 0, 0],
            )
        })
    }
}

impl Handle {
    /// `zx_object_wait_one(self, signals, deadline, &observed)`: blocks
    /// until one of `signals` is asserted or `deadline` passes; the
    /// signals observed.
    ///
    /// # Errors
    ///
    /// `BAD_HANDLE`, `ACCESS_DENIED` (no `WAIT`), `NOT_SUPPORTED` (an
    /// object that cannot be waited on), `TIMED_OUT`, `CANCELED` (the
    /// handle was closed meanwhile).
    pub fn wait_one(&self, signals: zx_signals_t, deadline: i64) -> Result<zx_signals_t> {
        let mut observed: zx_signals_t = 0;
        // SAFETY: `observed` is a live local the call writes to.
        let r = unsafe {
            call(
                S::ObjectWaitOne,
                [
                    self.raw().into(),
                    u64::from(signals),
                    deadline as u64,
                    &mut observed as *mut zx_signals_t as u64,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        };
        ok(r).map(|()| observed)
    }
}

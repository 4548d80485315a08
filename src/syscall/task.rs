//! Process and thread syscalls: `zx_process_create`,
//! `zx_process_create_shared`, `zx_process_start`, `zx_process_exit`,
//! `zx_thread_create`, `zx_thread_start`, `zx_thread_exit`.
//!
//! Check orders follow Zircon's `sys_*` functions (`lib/syscalls/task.cc`,
//! `object/process_dispatcher.cc`): options, then the caller's job policy
//! (`ZX_POL_NEW_PROCESS`), then the name, then handles (bad handle, wrong
//! type, missing rights), then the object's state. Handles a syscall
//! creates are written to user memory last; if that fails, the handles are
//! removed again and a new process is terminated, so nothing is left behind.

use alloc::sync::Arc;

use crate::abi::{Rights, ZX_HANDLE_INVALID, ZX_POL_NEW_PROCESS, ZX_PROCESS_SHARED, zx_handle_t};
use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::object::{Job, KernelObject, MAX_NAME_LEN, Name, Process, Sharing, Thread};
use crate::outcome::Outcome;
use crate::platform::Platform;
use crate::vm::UserMemory;

use super::user::UserOut;
use super::{Call, arg_u32};

/// Zircon's `copy_user_string`: `len` is first clipped to
/// [`MAX_NAME_LEN`]; a null pointer or an unreadable range is
/// `INVALID_ARGS`; the name ends at the first NUL, at most 31 bytes.
fn user_name<M: UserMemory + ?Sized>(mem: &M, ptr: u64, len: u64) -> Result<Name> {
    let len = len.min(MAX_NAME_LEN as u64) as usize;
    if ptr == 0 {
        return Err(Error::InvalidArgs("null name"));
    }
    let mut buf = [0u8; MAX_NAME_LEN];
    mem.copy_from_user(ptr, &mut buf[..len])
        .map_err(super::user::invalid_args)?;
    Ok(Name::new(&buf[..len]))
}

/// The rights of a root VMAR handle (Zircon: `VmAddressRegionDispatcher`
/// with every `CAN_MAP_*`).
const ROOT_VMAR_RIGHTS: Rights = Rights::DEFAULT_VMAR
    .union(Rights::READ)
    .union(Rights::WRITE)
    .union(Rights::EXECUTE);

/// `zx_process_create(job, name, name_size, options, proc_handle, vmar_handle)`.
pub(super) fn process_create<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let [job, name, name_size, options, proc_out, vmar_out, ..] = call.args;
    let options = arg_u32(options);
    if options != 0 && options != ZX_PROCESS_SHARED {
        return Err(Error::InvalidArgs(
            "process options must be 0 or ZX_PROCESS_SHARED",
        ));
    }
    let caller = call.process().clone();
    caller.policy().enforce(ZX_POL_NEW_PROCESS)?;
    let name = user_name(&caller, name, name_size)?;
    let (job, _) = caller.get_object::<Job>(arg_u32(job), Rights::MANAGE_PROCESS)?;
    let sharing = if options == ZX_PROCESS_SHARED {
        Sharing::NewGroup
    } else {
        Sharing::None
    };
    let process = call.kernel.new_process(&job, name, sharing)?;
    let vmar = KernelObject::Vmar(process.root_vmar().clone());
    hand_out(call, process, vmar, proc_out, vmar_out)
}

/// `zx_process_create_shared(shared_proc, options, name, name_size,
/// proc_handle, restricted_vmar_handle)`.
pub(super) fn process_create_shared<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let [shared, options, name, name_size, proc_out, vmar_out, ..] = call.args;
    if arg_u32(options) != 0 {
        return Err(Error::InvalidArgs(
            "process_create_shared options must be 0",
        ));
    }
    let caller = call.process().clone();
    caller.policy().enforce(ZX_POL_NEW_PROCESS)?;
    let name = user_name(&caller, name, name_size)?;
    let (shared, _) = caller.get_object::<Process<P>>(
        arg_u32(shared),
        Rights::MANAGE_PROCESS | Rights::GET_PROPERTY,
    )?;
    let process = call
        .kernel
        .new_process(shared.job(), name, Sharing::Join(&shared))?;
    let vmar = process
        .restricted_vmar()
        .cloned()
        .map(KernelObject::Vmar)
        .ok_or(Error::BadState(
            "shared process without a restricted region",
        ))?;
    hand_out(call, process, vmar, proc_out, vmar_out)
}

/// Adds handles to a new `process` and its `vmar` to the caller and writes
/// them to `proc_out` and `vmar_out`; on any failure removes them and
/// terminates the process.
fn hand_out<P: Platform>(
    call: &Call<'_, P>,
    process: Arc<Process<P>>,
    vmar: KernelObject<P>,
    proc_out: u64,
    vmar_out: u64,
) -> Result<()> {
    let caller = call.process();
    let p = match caller.add_handle(
        KernelObject::Process(process.clone()),
        Rights::DEFAULT_PROCESS,
    ) {
        Ok(p) => p,
        Err(e) => {
            process.terminate();
            return Err(e);
        }
    };
    let v = match caller.add_handle(vmar, ROOT_VMAR_RIGHTS) {
        Ok(v) => v,
        Err(e) => {
            let _ = caller.with_handles(|t| t.remove(p));
            process.terminate();
            return Err(e);
        }
    };
    let written = UserOut::<zx_handle_t>::new(proc_out)
        .write(caller, &p)
        .and_then(|()| UserOut::<zx_handle_t>::new(vmar_out).write(caller, &v));
    if let Err(e) = written {
        let removed = caller.with_handles(|t| (t.remove(p), t.remove(v)));
        drop(removed);
        process.terminate();
        return Err(e);
    }
    Ok(())
}

/// `zx_process_start(process, thread, entry, stack, arg1, arg2)`: as
/// Zircon, `arg1` is a handle moved into the process (its value there goes
/// in the first argument register); on any failure it is closed.
pub(super) fn process_start<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let [process, thread, entry, stack, arg1, arg2, ..] = call.args;
    let caller = call.process().clone();
    let arg1 = arg_u32(arg1);
    let close_arg = || {
        if arg1 != ZX_HANDLE_INVALID {
            drop(caller.with_handles(|t| t.remove(arg1)));
        }
    };
    let process = match caller.get_object::<Process<P>>(arg_u32(process), Rights::WRITE) {
        Ok((p, _)) => p,
        Err(e) => {
            close_arg();
            return Err(e);
        }
    };
    let thread = match caller.get_object::<Thread<P>>(arg_u32(thread), Rights::WRITE) {
        Ok((t, _)) => t,
        Err(e) => {
            close_arg();
            return Err(e);
        }
    };
    let arg_handle = if arg1 == ZX_HANDLE_INVALID {
        None
    } else {
        Some(caller.with_handles(|t| t.remove(arg1))?)
    };
    if !Arc::ptr_eq(thread.process(), &process) {
        return Err(Error::AccessDenied("thread belongs to another process"));
    }
    let moved = match arg_handle {
        None => ZX_HANDLE_INVALID,
        Some(h) => {
            if !h.rights.contains(Rights::TRANSFER) {
                return Err(Error::AccessDenied("arg1 lacks ZX_RIGHT_TRANSFER"));
            }
            process.with_handles(|t| t.add(h))?
        }
    };
    if let Err(e) = start(
        call,
        &process,
        &thread,
        entry,
        stack,
        u64::from(moved),
        arg2,
        true,
    ) {
        if moved != ZX_HANDLE_INVALID {
            drop(process.with_handles(|t| t.remove(moved)));
        }
        return Err(e);
    }
    Ok(())
}

/// Starts `thread` and hands it to the host.
#[allow(clippy::too_many_arguments)]
fn start<P: Platform>(
    call: &Call<'_, P>,
    process: &Process<P>,
    thread: &Arc<Thread<P>>,
    entry: u64,
    stack: u64,
    arg1: u64,
    arg2: u64,
    initial: bool,
) -> Result<()> {
    process.start_thread(thread, initial, || {
        if P::Arch::is_user_address(entry) {
            Ok(())
        } else {
            Err(Error::InvalidArgs("entry is not a user address"))
        }
    })?;
    let ctx = P::Arch::initial_context(entry, stack, arg1, arg2);
    call.kernel.platform().thread_started(thread, ctx);
    Ok(())
}

/// `zx_process_exit(retcode)`: the caller is dead, every other thread of
/// its process is killed.
pub(super) fn process_exit<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let retcode = call.args[0] as i64;
    call.process().kill_except(retcode, Some(call.thread));
    call.outcome = Some(Outcome::ProcessExited(retcode));
    Ok(())
}

/// `zx_thread_create(process, name, name_size, options, out)`.
pub(super) fn thread_create<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let [process, name, name_size, options, out, ..] = call.args;
    if arg_u32(options) != 0 {
        return Err(Error::InvalidArgs("thread_create options must be 0"));
    }
    let caller = call.process().clone();
    let name = user_name(&caller, name, name_size)?;
    let (process, _) = caller.get_object::<Process<P>>(arg_u32(process), Rights::MANAGE_THREAD)?;
    let thread = process.new_user_thread(name)?;
    let value = caller.add_handle(KernelObject::Thread(thread.clone()), Rights::DEFAULT_THREAD)?;
    if let Err(e) = UserOut::<zx_handle_t>::new(out).write(&caller, &value) {
        drop(caller.with_handles(|t| t.remove(value)));
        thread.exit();
        return Err(e);
    }
    Ok(())
}

/// `zx_thread_start(thread, entry, stack, arg1, arg2)`.
pub(super) fn thread_start<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let [thread, entry, stack, arg1, arg2, ..] = call.args;
    let (thread, _) = call
        .process()
        .get_object::<Thread<P>>(arg_u32(thread), Rights::MANAGE_THREAD)?;
    let process = thread.process().clone();
    start(call, &process, &thread, entry, stack, arg1, arg2, false)
}

/// `zx_thread_exit()`.
pub(super) fn thread_exit<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    call.thread.exit();
    call.outcome = Some(Outcome::ThreadExited);
    Ok(())
}

//! Restricted mode (Zircon's 2024–2025 "v2" interface).
//!
//! A thread binds a *state VMO* (`zx_restricted_bind_state`), writes the
//! restricted registers at its offset 0, and calls `zx_restricted_enter`
//! with a vector and a context word. Enter validates a copy of the state and
//! replaces the thread's user registers with it. The thread then runs
//! restricted code until a syscall instruction, an exception the kernel
//! cannot resolve, or a kick; each of those saves the registers back into
//! the VMO (plus an exception report after an exception) and resumes normal
//! mode at the vector with every register zero except the context and the
//! reason, and the normal-mode TLS restored. Exits happen in the same
//! thread, through [`Kernel::syscall`], [`Kernel::page_fault`] and
//! [`Kernel::exception`].
//!
//! Kicks are latched: `zx_restricted_kick` sets the thread's flag and, if
//! the thread is in restricted mode, asks the host to interrupt its CPU; the
//! thread leaves with `KICK` at its next kernel boundary, or at its next
//! enter if it was in normal mode. The flag and the in-restricted-mode flag
//! are both sequentially consistent and are written before the other is read
//! on each side, so a kick is never lost between the two.
//!
//! FP/vector registers are not switched.
//!
//! Lock: `Thread::restricted` (leaf).

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use crate::abi::{
    Rights, ZX_POL_NEW_VMO, ZX_RESTRICTED_REASON_EXCEPTION, ZX_RESTRICTED_REASON_KICK,
    ZX_RESTRICTED_REASON_SYSCALL, zx_exception_report_t, zx_handle_t,
};
use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::kernel::Kernel;
use crate::mmu::FrameMem;
use crate::object::{KernelObject, Thread};
use crate::outcome::{ExitReason, Outcome};
use crate::platform::{PhysAddr, Platform};
use crate::syscall::user::UserOut;
use crate::trap::{PageFault, Trap};
use crate::vm::Vmo;

/// A thread's bound state VMO and its pinned page.
pub(crate) struct Binding<P: Platform> {
    vmo: Arc<Vmo<P>>,
    frame: PhysAddr,
}

impl<P: Platform> Clone for Binding<P> {
    fn clone(&self) -> Self {
        Binding {
            vmo: self.vmo.clone(),
            frame: self.frame,
        }
    }
}

impl<P: Platform> Binding<P> {
    fn mem(&self) -> FrameMem<'_> {
        // SAFETY: `frame` is page 0 of a pinned VMO, committed at creation
        // and never decommitted; `self.vmo` keeps the VMO (so the frame)
        // alive for the borrow (1). The crate touches it only through
        // FrameMem (2).
        unsafe { FrameMem::new(self.vmo.platform(), self.frame) }
    }
}

/// Where a thread in restricted mode returns to.
///
/// The exit writes to the binding in `Slot::bound`, which cannot change
/// while the thread is in restricted mode: only the thread binds its own
/// state, from normal mode (a syscall instruction in restricted mode leaves
/// it). So enter and exit touch no reference count. Should a host still
/// unbind behind the thread's back (`Kernel::syscall_raw` on a thread in
/// restricted mode, or `Thread::exit`), the exit finds nothing bound and
/// saves nothing.
pub(crate) struct Active<P: Platform> {
    vector: u64,
    context: u64,
    tls: <P::Arch as Arch>::NormalTls,
}

/// A thread's restricted-mode slot.
pub(crate) struct Slot<P: Platform> {
    pub(crate) bound: Option<Binding<P>>,
    pub(crate) active: Option<Active<P>>,
}

impl<P: Platform> Default for Slot<P> {
    fn default() -> Self {
        Slot {
            bound: None,
            active: None,
        }
    }
}

/// `zx_restricted_bind_state(options, out_vmo)`.
pub(crate) fn bind_state<P: Platform>(
    kernel: &Kernel<P>,
    thread: &Arc<Thread<P>>,
    options: u32,
    out: u64,
) -> Result<()> {
    if options != 0 {
        return Err(Error::InvalidArgs("bind_state options must be 0"));
    }
    let process = thread.process();
    process.policy().enforce(ZX_POL_NEW_VMO)?;
    let (vmo, frame) = Vmo::create_pinned_page(kernel.platform())?;
    let value: zx_handle_t =
        process.add_handle(KernelObject::Vmo(vmo.clone()), Rights::DEFAULT_VMO)?;
    let old = thread
        .restricted
        .lock()
        .bound
        .replace(Binding { vmo, frame });
    drop(old);
    // The VMO stays bound even if the handle cannot be delivered.
    if let Err(e) = UserOut::<zx_handle_t>::new(out).write(process, &value) {
        let _ = process.with_handles(|t| t.remove(value));
        return Err(e);
    }
    Ok(())
}

/// `zx_restricted_unbind_state(options)`.
pub(crate) fn unbind_state<P: Platform>(thread: &Thread<P>, options: u32) -> Result<()> {
    if options != 0 {
        return Err(Error::InvalidArgs("unbind_state options must be 0"));
    }
    let old = thread.restricted.lock().bound.take();
    drop(old);
    Ok(())
}

/// `zx_restricted_enter(options, vector_table_ptr, context)`: on success
/// `ctx` holds the restricted registers ([`Outcome::EnteredRestricted`]) or,
/// for a pending kick, the normal-mode entry at the vector
/// ([`Outcome::LeftRestricted`]).
pub(crate) fn enter<P: Platform>(
    thread: &Thread<P>,
    options: u32,
    vector: u64,
    context: u64,
    ctx: Option<&mut <P::Arch as Arch>::UserContext>,
) -> Result<Outcome> {
    if options != 0 {
        return Err(Error::InvalidArgs("enter options must be 0"));
    }
    if !P::Arch::is_user_address(vector) {
        return Err(Error::InvalidArgs("vector is not a user address"));
    }
    let mut slot = thread.restricted.lock();
    let Slot { bound, active } = &mut *slot;
    let page = bound
        .as_ref()
        .ok_or(Error::BadState("no restricted state bound"))?
        .mem();
    // One copy out of the VMO, each word read once: the validated fields
    // now, the rest straight into the context below. Only what was read is
    // validated and used.
    let aarch32 = || thread.process().aspace().platform().aarch32();
    let checked = P::Arch::check_restricted(page, aarch32).map_err(Error::BadState)?;
    let ctx = ctx.ok_or(Error::NotSupported(
        "restricted enter needs the caller's registers",
    ))?;

    thread.in_restricted.store(true, Ordering::SeqCst);
    if thread.kick.swap(false, Ordering::SeqCst) {
        thread.in_restricted.store(false, Ordering::SeqCst);
        let tls = P::Arch::normal_tls(ctx);
        P::Arch::enter_normal(ctx, tls, vector, context, ZX_RESTRICTED_REASON_KICK);
        return Ok(Outcome::LeftRestricted(ExitReason::Kick));
    }
    let tls = P::Arch::load_restricted_page(ctx, page, checked);
    *active = Some(Active {
        vector,
        context,
        tls,
    });
    Ok(Outcome::EnteredRestricted)
}

/// `zx_restricted_kick(thread, options)`.
pub(crate) fn kick<P: Platform>(caller: &Thread<P>, handle: u32, options: u32) -> Result<()> {
    if options != 0 {
        return Err(Error::InvalidArgs("kick options must be 0"));
    }
    let (target, _) = caller
        .process()
        .get_object::<Thread<P>>(handle, Rights::MANAGE_THREAD)?;
    if target.is_dead() {
        return Err(Error::BadState("thread is dead"));
    }
    target.kick.store(true, Ordering::SeqCst);
    if target.in_restricted.load(Ordering::SeqCst) {
        target
            .process()
            .aspace()
            .platform()
            .interrupt_thread(target.token());
    }
    Ok(())
}

/// Leaves restricted mode: saves the registers (and `report`) to the state
/// VMO and rewrites `ctx` to enter normal mode at the vector.
fn exit<P: Platform>(
    thread: &Thread<P>,
    ctx: &mut <P::Arch as Arch>::UserContext,
    reason: u64,
    report: Option<zx_exception_report_t>,
) {
    let mut slot = thread.restricted.lock();
    let Some(active) = slot.active.take() else {
        return;
    };
    thread.in_restricted.store(false, Ordering::SeqCst);
    if let Some(binding) = &slot.bound {
        let page = binding.mem();
        P::Arch::save_restricted_page(ctx, reason == ZX_RESTRICTED_REASON_SYSCALL, page);
        if let Some(report) = report {
            let at = core::mem::size_of::<<P::Arch as Arch>::RestrictedState>();
            page.write_pod(at, &report);
        }
    }
    drop(slot);
    P::Arch::enter_normal(ctx, active.tls, active.vector, active.context, reason);
}

impl<P: Platform> Kernel<P> {
    /// Whether `thread` is running restricted code (its context is the
    /// restricted one).
    ///
    /// Binding a restricted state (`zx_restricted_bind_state`) through the
    /// syscall table; entering (`zx_restricted_enter`) needs the thread's
    /// registers, so a host runs it through [`Kernel::syscall`] in its
    /// trap loop (the README's host loop shows the whole round trip):
    ///
    /// ```
    /// use zx_subsystem::arch::Aarch64;
    /// use zx_subsystem::sim::Sim;
    /// use zx_subsystem::syscall::SyscallNumber;
    /// use zx_subsystem::vm::{Perms, Placement, Vmo};
    /// use zx_subsystem::{Kernel, PAGE_SIZE};
    ///
    /// let sim = Sim::<Aarch64>::new();
    /// let kernel = Kernel::new(sim.clone());
    /// let process = kernel.create_process(kernel.root_job())?;
    /// let thread = process.create_thread(0)?;
    /// let out = Vmo::create(&sim, PAGE_SIZE)?;
    /// let at = process.root_vmar().map(Placement::ANYWHERE, &out, 0, PAGE_SIZE, Perms::READ | Perms::WRITE)?;
    /// // zx_restricted_bind_state(0, &state_vmo)
    /// let bind = SyscallNumber::RestrictedBindState as u64;
    /// assert_eq!(kernel.syscall_raw(&thread, bind, [0, at, 0, 0, 0, 0, 0, 0]), 0);
    /// assert!(!kernel.in_restricted_mode(&thread), "bound, not entered");
    /// // zx_restricted_enter is refused without the caller's registers.
    /// let enter = SyscallNumber::RestrictedEnter as u64;
    /// assert_ne!(kernel.syscall_raw(&thread, enter, [0, 0x1000, 0, 0, 0, 0, 0, 0]), 0);
    /// # process.terminate();
    /// # Ok::<(), zx_subsystem::Error>(())
    /// ```
    pub fn in_restricted_mode(&self, thread: &Thread<P>) -> bool {
        thread.in_restricted.load(Ordering::SeqCst)
    }

    /// If `thread` is in restricted mode, a syscall instruction leaves it
    /// with reason `SYSCALL` (no Zircon syscall is dispatched). Returns
    /// whether it did.
    #[inline]
    pub(crate) fn restricted_syscall_exit(
        &self,
        thread: &Thread<P>,
        ctx: &mut <P::Arch as Arch>::UserContext,
    ) -> bool {
        if !thread.in_restricted.load(Ordering::SeqCst) {
            return false;
        }
        exit(thread, ctx, ZX_RESTRICTED_REASON_SYSCALL, None);
        true
    }

    /// Handles a user page fault: resolves it (demand paging, copy on
    /// write) and resumes, else leaves restricted mode with `EXCEPTION`, else
    /// reports it unhandled. In restricted mode only the address space
    /// restricted mode runs in can resolve it (for a shared process, its
    /// restricted region: a touch of the shared region leaves restricted
    /// mode); in normal mode, the one of the normal view that covers the
    /// address.
    pub fn page_fault(
        &self,
        thread: &Arc<Thread<P>>,
        ctx: &mut <P::Arch as Arch>::UserContext,
        fault: PageFault<P::Arch>,
    ) -> Outcome {
        if thread.reap() {
            return Outcome::ThreadExited;
        }
        let process = thread.process();
        let aspace = if thread.in_restricted.load(Ordering::SeqCst) {
            Some(process.restricted_mode_aspace())
        } else {
            process.aspace_at(fault.addr)
        };
        let resolved = match aspace {
            Some(a) => a.page_fault(fault.addr, fault.access),
            None => Err(Error::NotFound("no address space at the fault address")),
        };
        match resolved {
            Ok(()) => self.boundary(thread, ctx),
            // As Zircon, the report's synth_code carries why the fault could
            // not be resolved (ACCESS_DENIED, NOT_FOUND, OUT_OF_RANGE, ...).
            Err(e) => self.exception_exit(thread, ctx, &fault.info, e.status().into_raw() as u32),
        }
    }

    /// Handles any other trap: an interrupt is a kernel boundary where a
    /// pending kick takes a restricted thread out; an exception leaves
    /// restricted mode with `EXCEPTION`, or is unhandled in normal mode. A
    /// [`Trap::Syscall`] or [`Trap::PageFault`] passed here is forwarded to
    /// [`Kernel::syscall`] / [`Kernel::page_fault`].
    pub fn exception(
        &self,
        thread: &Arc<Thread<P>>,
        ctx: &mut <P::Arch as Arch>::UserContext,
        trap: Trap<P::Arch>,
    ) -> Outcome {
        match trap {
            Trap::Syscall => self.syscall(thread, ctx),
            Trap::PageFault(f) => self.page_fault(thread, ctx, f),
            Trap::Interrupt(_) => self.boundary(thread, ctx),
            Trap::Exception(info) => {
                if thread.reap() {
                    return Outcome::ThreadExited;
                }
                self.exception_exit(thread, ctx, &info, 0)
            }
        }
    }

    /// A kernel boundary on the way back to user mode: a killed thread is
    /// reaped ([`Outcome::ThreadExited`]); a thread woken from a blocking
    /// syscall finishes it ([`Outcome::Returned`], or
    /// [`Outcome::Blocked`] again while its wait is neither satisfied nor
    /// past its deadline); a restricted thread with a pending kick leaves
    /// with `KICK`. Hosts call this (or
    /// [`Kernel::exception`] with [`Trap::Interrupt`]) after handling an
    /// interrupt that arrived in user mode, and whenever they switch a
    /// thread in to run it again.
    pub fn boundary(
        &self,
        thread: &Thread<P>,
        ctx: &mut <P::Arch as Arch>::UserContext,
    ) -> Outcome {
        if thread.reap() {
            return Outcome::ThreadExited;
        }
        if let Some(outcome) = self.finish_wait(thread, ctx) {
            return outcome;
        }
        if thread.in_restricted.load(Ordering::SeqCst) && thread.kick.swap(false, Ordering::SeqCst)
        {
            exit(thread, ctx, ZX_RESTRICTED_REASON_KICK, None);
            return Outcome::LeftRestricted(ExitReason::Kick);
        }
        Outcome::Resume
    }

    fn exception_exit(
        &self,
        thread: &Thread<P>,
        ctx: &mut <P::Arch as Arch>::UserContext,
        info: &<P::Arch as Arch>::ExceptionInfo,
        synth_code: u32,
    ) -> Outcome {
        if !thread.in_restricted.load(Ordering::SeqCst) {
            return Outcome::Unhandled;
        }
        let mut report = P::Arch::exception_report(info);
        report.synth_code = synth_code;
        exit(thread, ctx, ZX_RESTRICTED_REASON_EXCEPTION, Some(report));
        Outcome::LeftRestricted(ExitReason::Exception)
    }
}

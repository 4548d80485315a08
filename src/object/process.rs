//! Processes: a job policy fixed at creation, a handle table and a
//! normal-mode address space (both possibly shared with a sharing group),
//! an optional private restricted region, threads, and the lifecycle that
//! ties them together.
//!
//! # Three shapes
//!
//! | made by | normal-mode view | root VMAR | restricted region |
//! |---|---|---|---|
//! | `zx_process_create(.., 0, ..)` | the whole user range | whole range | — (restricted mode runs in the same space) |
//! | `zx_process_create(.., ZX_PROCESS_SHARED, ..)` (a *prototype*) | the group's shared region | shared region | — |
//! | `zx_process_create_shared(proto, ..)` (a *member*) | unified: shared region + its own restricted region | shared region | private, returned as the restricted VMAR |
//!
//! The processes of a sharing group share one [`Shareable`]: the handle
//! table, the shared region (one VMAR tree, one set of page tables) and
//! (for futexes) its identity, as Zircon's `ShareableProcessState`. It goes
//! when the last process of the group dies.
//!
//! # Lifecycle
//!
//! `Initial` (no thread started) → `Running` (first thread started) →
//! `Dying` (killed or `zx_process_exit`: every thread is being killed) →
//! `Dead` (the last started thread is gone). The move to `Dead` tears the
//! process down: its restricted region, and — if it was the last of its
//! group, or not in a group — the handle table (drained, which breaks the
//! process → handle → thread → process cycles) and the normal-mode address
//! space. A process that never started a thread dies when it is killed or
//! terminated.
//!
//! Locks: `Shareable::handles` (first in the crate's lock order);
//! `Process::life`, `Process::threads`, `Shareable::members` (leaves, never
//! held together or across a call into a thread).

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use spin::Mutex;

use crate::abi::{Rights, ZX_PROCESS_TERMINATED, zx_handle_t};
use crate::error::{Error, Result};
use crate::heap::Reserve;
use crate::mmu::asid::Asids;
use crate::platform::Platform;
use crate::vm::{AddressSpace, UserMemory, Vmar};

use super::thread::ThreadState;
use super::wait::{FutexTable, Signals};
use super::{
    Handle, HandleTable, Job, JobPolicy, KernelObject, Name, ObjectKind, Thread, next_koid,
};

/// Where a process is in its life (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessState {
    /// No thread started yet.
    Initial,
    /// A thread was started.
    Running,
    /// Killed or exiting: its threads are being killed.
    Dying,
    /// Every thread is gone; the process was torn down.
    Dead,
}

/// What the processes of one sharing group have in common (a process not
/// in a group has one of its own).
pub(crate) struct Shareable<P: Platform> {
    handles: Mutex<HandleTable<P>>,
    aspace: Arc<AddressSpace<P>>,
    /// Made with `ZX_PROCESS_SHARED` (a sharing group), not a plain process.
    shared: bool,
    /// Live processes of the group; 0 once the group is gone (it cannot be
    /// joined again).
    members: Mutex<usize>,
    /// A unique id of the group (diagnostics).
    id: u64,
    /// The futex context, one per group as Zircon's.
    futexes: Arc<FutexTable<P>>,
}

impl<P: Platform> Shareable<P> {
    fn new(aspace: Arc<AddressSpace<P>>, shared: bool, secret: u64) -> Shareable<P> {
        Shareable {
            handles: Mutex::new(HandleTable::new(secret)),
            aspace,
            shared,
            members: Mutex::new(1),
            id: next_koid(),
            futexes: Arc::new(FutexTable::default()),
        }
    }

    /// Adds a process to the group.
    ///
    /// # Errors
    ///
    /// `BAD_STATE` if every process of the group already died.
    fn join(&self) -> Result<()> {
        let mut n = self.members.lock();
        if *n == 0 {
            return Err(Error::BadState("the sharing group is gone"));
        }
        *n += 1;
        Ok(())
    }

    /// Removes a process; returns whether it was the last.
    fn leave(&self) -> bool {
        let mut n = self.members.lock();
        *n = n.saturating_sub(1);
        *n == 0
    }
}

#[derive(Debug)]
struct Life {
    state: ProcessState,
    /// Started threads not yet `Dead`.
    live_threads: usize,
    retcode: i64,
}

/// A process.
pub struct Process<P: Platform> {
    koid: u64,
    job: Arc<Job>,
    policy: JobPolicy,
    name: Name,
    shareable: Arc<Shareable<P>>,
    restricted: Option<Arc<AddressSpace<P>>>,
    root_vmar: Arc<Vmar<P>>,
    restricted_vmar: Option<Arc<Vmar<P>>>,
    threads: Mutex<Vec<Weak<Thread<P>>>>,
    life: Mutex<Life>,
    /// `ZX_PROCESS_TERMINATED` and its waiters.
    signals: Signals<P>,
}

/// How a new process relates to a sharing group.
pub(crate) enum Sharing<'a, P: Platform> {
    /// A process of its own (`zx_process_create(.., 0, ..)`).
    None,
    /// The first process of a new group (`ZX_PROCESS_SHARED`).
    NewGroup,
    /// A new process in this one's group (`zx_process_create_shared`).
    Join(&'a Arc<Process<P>>),
}

/// The root VMAR of `aspace`, as a handle object.
fn root_vmar_of<P: Platform>(aspace: &Arc<AddressSpace<P>>) -> Result<Arc<Vmar<P>>> {
    let root = aspace
        .root_region()
        .ok_or(Error::BadState("new address space has no root"))?;
    let koid = aspace.region_koid(root)?;
    Ok(Arc::new(Vmar::new(aspace.clone(), root, koid)))
}

impl<P: Platform> Process<P> {
    /// Creates a process in `job` (or, for [`Sharing::Join`], in the group's
    /// job), with handle values scrambled by `handle_secret` (ignored when
    /// joining a group: the table is the group's).
    ///
    /// # Errors
    ///
    /// `INVALID_ARGS` (joining a process that is not in a sharing group),
    /// `BAD_STATE` (the group is gone),
    /// `NO_MEMORY`.
    pub(crate) fn new(
        platform: &P,
        asids: &Arc<Asids>,
        job: &Arc<Job>,
        handle_secret: u64,
        name: Name,
        sharing: Sharing<'_, P>,
    ) -> Result<Arc<Process<P>>> {
        let (shareable, restricted, job) = match sharing {
            Sharing::None => {
                let aspace = AddressSpace::new(platform, asids)?;
                let s = Shareable::new(aspace, false, handle_secret);
                (Arc::new(s), None, job.clone())
            }
            Sharing::NewGroup => {
                let aspace = AddressSpace::new_shared(platform, asids)?;
                let s = Shareable::new(aspace, true, handle_secret);
                (Arc::new(s), None, job.clone())
            }
            Sharing::Join(proto) => {
                let shareable = proto.shareable.clone();
                if !shareable.shared {
                    return Err(Error::InvalidArgs("not a process of a sharing group"));
                }
                shareable.join()?;
                match AddressSpace::new_restricted(platform, asids, &shareable.aspace) {
                    Ok(r) => (shareable, Some(r), proto.job.clone()),
                    Err(e) => {
                        shareable.leave();
                        return Err(e);
                    }
                }
            }
        };
        let vmars = root_vmar_of(&shareable.aspace).and_then(|root| {
            let restricted_vmar = restricted.as_ref().map(root_vmar_of).transpose()?;
            Ok((root, restricted_vmar))
        });
        let (root_vmar, restricted_vmar) = match vmars {
            Ok(v) => v,
            Err(e) => {
                Self::abandon(&shareable, restricted.as_ref());
                return Err(e);
            }
        };
        let process = Arc::new(Process {
            koid: next_koid(),
            policy: job.policy(),
            job,
            name,
            shareable,
            restricted,
            root_vmar,
            restricted_vmar,
            threads: Mutex::new(Vec::new()),
            life: Mutex::new(Life {
                state: ProcessState::Initial,
                live_threads: 0,
                retcode: 0,
            }),
            signals: Signals::default(),
        });
        if let Err(e) = process.job.attach_process(&process) {
            process.terminate();
            return Err(e);
        }
        Ok(process)
    }

    /// Undoes a half-made process's claim on its group.
    fn abandon(shareable: &Shareable<P>, restricted: Option<&Arc<AddressSpace<P>>>) {
        if let Some(r) = restricted {
            r.teardown();
        }
        if shareable.leave() {
            drop(shareable.handles.lock().drain());
            shareable.aspace.teardown();
        }
    }

    /// The process's koid.
    pub fn koid(&self) -> u64 {
        self.koid
    }

    /// The process's name (truncated to 31 bytes).
    pub fn name(&self) -> &[u8] {
        self.name.as_bytes()
    }

    /// The job the process runs under.
    pub fn job(&self) -> &Arc<Job> {
        &self.job
    }

    /// The basic policy the process runs under (its job's, at creation).
    pub fn policy(&self) -> &JobPolicy {
        &self.policy
    }

    /// The normal-mode address space of the root VMAR: the whole user range,
    /// or the sharing group's shared region.
    pub fn aspace(&self) -> &Arc<AddressSpace<P>> {
        &self.shareable.aspace
    }

    /// The private restricted region of a process made by
    /// `zx_process_create_shared`.
    pub fn restricted_aspace(&self) -> Option<&Arc<AddressSpace<P>>> {
        self.restricted.as_ref()
    }

    /// The address space restricted mode runs in: the restricted region, or
    /// (for a process without one) the normal-mode address space.
    pub fn restricted_mode_aspace(&self) -> &Arc<AddressSpace<P>> {
        self.restricted.as_ref().unwrap_or(&self.shareable.aspace)
    }

    /// The address space of normal mode's view that covers `va`.
    pub fn aspace_at(&self, va: u64) -> Option<&Arc<AddressSpace<P>>> {
        self.restricted
            .iter()
            .chain(core::iter::once(&self.shareable.aspace))
            .find(|a| a.contains(va))
    }

    /// Whether the process belongs to a sharing group (made with
    /// `ZX_PROCESS_SHARED` or by `zx_process_create_shared`).
    pub fn is_shared(&self) -> bool {
        self.shareable.shared
    }

    /// Whether `other` is in the same sharing group (or is this process).
    pub fn shares_with(&self, other: &Process<P>) -> bool {
        Arc::ptr_eq(&self.shareable, &other.shareable)
    }

    /// A unique id of the handle table / sharing group this process uses.
    pub fn group_id(&self) -> u64 {
        self.shareable.id
    }

    /// The root VMAR. Give user space a handle to it with
    /// [`add_handle`](Process::add_handle) and rights
    /// `Rights::DEFAULT_VMAR | READ | WRITE | EXECUTE`, as Zircon does.
    pub fn root_vmar(&self) -> &Arc<Vmar<P>> {
        &self.root_vmar
    }

    /// The root of the private restricted region, for a process made by
    /// `zx_process_create_shared`.
    pub fn restricted_vmar(&self) -> Option<&Arc<Vmar<P>>> {
        self.restricted_vmar.as_ref()
    }

    /// Where the process is in its life.
    pub fn state(&self) -> ProcessState {
        self.life.lock().state
    }

    /// The return code: `zx_process_exit`'s, or the kill's.
    pub fn retcode(&self) -> i64 {
        self.life.lock().retcode
    }

    /// Creates a thread that the host runs itself, from a context it
    /// builds: it counts as started (the process is then `Running`), so
    /// `zx_process_start` on this process fails. `cookie` is the host's own
    /// name for it, handed back in
    /// [`Platform::interrupt_thread`](crate::Platform::interrupt_thread).
    ///
    /// # Errors
    ///
    /// `BAD_STATE` if the process is dying or dead; `NO_MEMORY`.
    pub fn create_thread(self: &Arc<Self>, cookie: u64) -> Result<Arc<Thread<P>>> {
        let thread = self.add_thread(cookie, Name::default(), ThreadState::Running)?;
        Ok(thread)
    }

    /// A `New` thread for `zx_thread_create`.
    pub(crate) fn new_user_thread(self: &Arc<Self>, name: Name) -> Result<Arc<Thread<P>>> {
        self.add_thread(0, name, ThreadState::New)
    }

    fn add_thread(
        self: &Arc<Self>,
        cookie: u64,
        name: Name,
        state: ThreadState,
    ) -> Result<Arc<Thread<P>>> {
        let thread = Arc::new(Thread::new(self.clone(), cookie, name, state));
        {
            let mut threads = self.threads.lock();
            threads.retain(|w| w.strong_count() > 0);
            threads.reserve_fallibly(1)?;
            let mut life = self.life.lock();
            if matches!(life.state, ProcessState::Dying | ProcessState::Dead) {
                return Err(Error::BadState("process is dying or dead"));
            }
            if state == ThreadState::Running {
                life.state = ProcessState::Running;
                life.live_threads += 1;
            }
            threads.push(Arc::downgrade(&thread));
        }
        Ok(thread)
    }

    /// Starts `thread` (of this process) with `ctx`: `zx_thread_start`, or
    /// with `initial` set `zx_process_start`, as Zircon's
    /// `AddInitializedThread`. The caller hands the thread to the host.
    ///
    /// # Errors
    ///
    /// In Zircon's order: `BAD_STATE` if the process is not `Initial` for
    /// `zx_process_start` or not `Running` for `zx_thread_start` (so the
    /// first thread starts only through `zx_process_start`); then `check_entry`'s error
    /// (`INVALID_ARGS` for an entry that is not a user address); then
    /// `BAD_STATE` if the thread was already started (or is dead).
    pub(crate) fn start_thread(
        &self,
        thread: &Thread<P>,
        initial: bool,
        check_entry: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let mut life = self.life.lock();
        // Zircon's AddInitializedThread: the first thread only through
        // `zx_process_start` (state INITIAL), any other only while the
        // process runs; `zx_thread_start` before `zx_process_start` is
        // BAD_STATE.
        let wanted = if initial {
            ProcessState::Initial
        } else {
            ProcessState::Running
        };
        if life.state != wanted {
            return Err(Error::BadState(if initial {
                "process already started"
            } else {
                "process is not running (start it with zx_process_start)"
            }));
        }
        // Zircon's MakeRunnable: the entry, then the thread's own state.
        check_entry()?;
        if !thread.mark_started() {
            return Err(Error::BadState("thread already started or dead"));
        }
        life.state = ProcessState::Running;
        life.live_threads += 1;
        Ok(())
    }

    /// A started thread died.
    pub(crate) fn thread_gone(&self) {
        let dead = {
            let mut life = self.life.lock();
            life.live_threads = life.live_threads.saturating_sub(1);
            let dead = life.live_threads == 0
                && matches!(life.state, ProcessState::Running | ProcessState::Dying);
            if dead {
                life.state = ProcessState::Dead;
            }
            dead
        };
        if dead {
            self.finish();
        }
    }

    /// Every thread of the process the crate can still reach.
    fn live_threads(&self) -> Vec<Arc<Thread<P>>> {
        self.threads
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// Kills the process with `retcode` (`zx_task_kill`, `zx_process_exit`):
    /// it becomes `Dying`; threads not started die now, running ones are
    /// marked `Dying` and their CPUs interrupted, and leave at their next
    /// crate call; `except` (the caller of `zx_process_exit`) dies now.
    /// The process is `Dead` (and torn down) once the last one is gone.
    pub(crate) fn kill_except(&self, retcode: i64, except: Option<&Thread<P>>) {
        let finish_now = {
            let mut life = self.life.lock();
            match life.state {
                ProcessState::Dead => return,
                ProcessState::Dying => {}
                _ => life.retcode = retcode,
            }
            if life.live_threads == 0 {
                life.state = ProcessState::Dead;
                true
            } else {
                life.state = ProcessState::Dying;
                false
            }
        };
        let platform = self.aspace().platform().clone();
        for t in self.live_threads() {
            if except.is_some_and(|e| core::ptr::eq(e, &*t)) {
                continue;
            }
            let was = t.state();
            if t.set_state(ThreadState::Dying) {
                self.thread_gone();
            }
            if was == ThreadState::Running {
                platform.interrupt_thread(t.token());
            }
        }
        if let Some(e) = except {
            e.exit();
        }
        if finish_now {
            self.finish();
        }
    }

    /// Kills the process with `retcode` (`zx_task_kill`): every thread not
    /// started dies now, every running one is marked `Dying` (its CPU
    /// interrupted, woken if parked) and dies at its next crate call; the
    /// process is `Dead`, torn down and `ZX_PROCESS_TERMINATED` once the
    /// last one is gone. Killing a dying or dead process changes nothing.
    pub fn kill(&self, retcode: i64) {
        self.kill_except(retcode, None);
    }

    /// The move to `Dead`: tears down what only this process used, then
    /// raises `ZX_PROCESS_TERMINATED`.
    fn finish(&self) {
        for t in self.live_threads() {
            t.set_state(ThreadState::Dead);
        }
        drop(core::mem::take(&mut *self.threads.lock()));
        Self::abandon(&self.shareable, self.restricted.as_ref());
        self.signals.raise(ZX_PROCESS_TERMINATED);
    }

    /// The process's signals (`ZX_PROCESS_TERMINATED` once dead).
    pub fn signals(&self) -> &Signals<P> {
        &self.signals
    }

    /// The futex context: the process's own, or its sharing group's.
    pub fn futexes(&self) -> &Arc<FutexTable<P>> {
        &self.shareable.futexes
    }

    /// Ends the process at once, when the host knows that none of its
    /// threads runs user code any more: every thread is dead and the
    /// process torn down as at its move to `Dead` (its handles closed if
    /// it was the last of its group, the mappings and sub-VMARs of its
    /// address spaces removed, so VMO pages held only by mappings are
    /// freed, as are the page tables but the roots). Idempotent.
    pub fn terminate(&self) {
        {
            let mut life = self.life.lock();
            if life.state == ProcessState::Dead {
                return;
            }
            life.state = ProcessState::Dead;
            life.live_threads = 0;
        }
        self.finish();
    }

    /// Runs `f` with the handle table locked.
    pub fn with_handles<R>(&self, f: impl FnOnce(&mut HandleTable<P>) -> R) -> R {
        f(&mut self.shareable.handles.lock())
    }

    /// Adds a handle to `object` with `rights` and returns its value.
    ///
    /// Making a VMO and handing the process a handle to it (the value is
    /// what its code passes to `zx_vmar_map`, `zx_vmo_read`, ...):
    ///
    /// ```
    /// use zx_subsystem::abi::Rights;
    /// use zx_subsystem::arch::Aarch64;
    /// use zx_subsystem::object::KernelObject;
    /// use zx_subsystem::sim::Sim;
    /// use zx_subsystem::vm::Vmo;
    /// use zx_subsystem::{Kernel, PAGE_SIZE};
    ///
    /// let sim = Sim::<Aarch64>::new();
    /// let kernel = Kernel::new(sim.clone());
    /// let process = kernel.create_process(kernel.root_job())?;
    /// let vmo = Vmo::create(&sim, 4 * PAGE_SIZE)?;
    /// vmo.write(0, b"for the process")?;
    /// let handle = process.add_handle(KernelObject::Vmo(vmo.clone()), Rights::DEFAULT_VMO)?;
    /// // The process's handle names the same VMO, with the rights given.
    /// let (seen, rights) = process.get_object::<Vmo<_>>(handle, Rights::READ)?;
    /// assert!(seen.same_as(&vmo));
    /// assert_eq!(rights, Rights::DEFAULT_VMO);
    /// # process.terminate();
    /// # Ok::<(), zx_subsystem::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`HandleTable::add`].
    pub fn add_handle(&self, object: KernelObject<P>, rights: Rights) -> Result<zx_handle_t> {
        self.shareable.handles.lock().add(Handle { object, rights })
    }

    /// The object of type `T` named by `value`, if the handle has `rights`.
    ///
    /// # Errors
    ///
    /// `BAD_HANDLE`, `WRONG_TYPE`, `ACCESS_DENIED`, in that order.
    pub fn get_object<T: ObjectKind<P>>(
        &self,
        value: zx_handle_t,
        rights: Rights,
    ) -> Result<(Arc<T>, Rights)> {
        self.shareable.handles.lock().get_object(value, rights)
    }
}

/// A process nobody refers to any more (its handles closed, no thread
/// left) dies, as Zircon's `on_zero_handles` makes an unstarted one die: it
/// leaves its sharing group (the last one out tears the group down).
impl<P: Platform> Drop for Process<P> {
    fn drop(&mut self) {
        if self.life.get_mut().state != ProcessState::Dead {
            self.life.get_mut().state = ProcessState::Dead;
            Self::abandon(&self.shareable, self.restricted.as_ref());
        }
    }
}

/// User pointers of normal mode: each copy goes to the address space that
/// covers its start (the restricted region or the shared one).
impl<P: Platform> UserMemory for Process<P> {
    fn copy_to_user(&self, va: u64, buf: &[u8]) -> Result<()> {
        self.aspace_at(va)
            .ok_or(Error::NotFound("no address space at the user address"))?
            .copy_to_user(va, buf)
    }

    fn copy_from_user(&self, va: u64, buf: &mut [u8]) -> Result<()> {
        self.aspace_at(va)
            .ok_or(Error::NotFound("no address space at the user address"))?
            .copy_from_user(va, buf)
    }
}

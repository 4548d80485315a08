//! Processes: a handle table, a job policy fixed at creation, an address
//! space with its root VMAR, and threads.
//!
//! Locks: `Process::handles` (first in the crate's lock order),
//! `Process::threads` (leaf).

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use spin::Mutex;

use crate::abi::{Rights, zx_handle_t};
use crate::error::{Error, Result};
use crate::platform::Platform;
use crate::vm::{AddressSpace, AsidPool, Vmar};

use super::{Handle, HandleTable, Job, JobPolicy, KernelObject, ObjectKind, Thread, next_koid};

/// A process.
pub struct Process<P: Platform> {
    koid: u64,
    job: Arc<Job>,
    policy: JobPolicy,
    handles: Mutex<HandleTable<P>>,
    threads: Mutex<Vec<Weak<Thread<P>>>>,
    aspace: Arc<AddressSpace<P>>,
    root_vmar: Arc<Vmar<P>>,
}

impl<P: Platform> Process<P> {
    /// Creates a process in `job`, with handle values scrambled by
    /// `handle_secret`.
    ///
    /// # Errors
    ///
    /// `NO_MEMORY` if the job's process list cannot grow.
    pub(crate) fn new(
        platform: &P,
        asids: &Arc<AsidPool>,
        job: &Arc<Job>,
        handle_secret: u64,
    ) -> Result<Arc<Process<P>>> {
        let aspace = AddressSpace::new(platform, asids)?;
        let root = aspace
            .root_region()
            .ok_or(Error::BadState("new address space has no root"))?;
        let root_koid = aspace.region_koid(root)?;
        let root_vmar = Arc::new(Vmar::new(aspace.clone(), root, root_koid));
        let process = Arc::new(Process {
            koid: next_koid(),
            job: job.clone(),
            policy: job.policy(),
            handles: Mutex::new(HandleTable::new(handle_secret)),
            threads: Mutex::new(Vec::new()),
            aspace,
            root_vmar,
        });
        job.attach_process(&process)?;
        Ok(process)
    }

    /// The process's koid.
    pub fn koid(&self) -> u64 {
        self.koid
    }

    /// The job the process runs under.
    pub fn job(&self) -> &Arc<Job> {
        &self.job
    }

    /// The basic policy the process runs under (its job's, at creation).
    pub fn policy(&self) -> &JobPolicy {
        &self.policy
    }

    /// The process's address space.
    pub fn aspace(&self) -> &Arc<AddressSpace<P>> {
        &self.aspace
    }

    /// The root VMAR. Give user space a handle to it with
    /// [`add_handle`](Process::add_handle) and rights
    /// `Rights::DEFAULT_VMAR | READ | WRITE | EXECUTE`, as Zircon does.
    pub fn root_vmar(&self) -> &Arc<Vmar<P>> {
        &self.root_vmar
    }

    /// Creates a thread. `cookie` is the host's own name for it, handed back
    /// in [`Platform::interrupt_thread`](crate::Platform::interrupt_thread).
    ///
    /// # Errors
    ///
    /// `NO_MEMORY` if the thread list cannot grow.
    pub fn create_thread(self: &Arc<Self>, cookie: u64) -> Result<Arc<Thread<P>>> {
        let thread = Arc::new(Thread::new(self.clone(), cookie));
        let mut threads = self.threads.lock();
        threads.retain(|w| w.strong_count() > 0);
        threads.try_reserve(1)?;
        threads.push(Arc::downgrade(&thread));
        Ok(thread)
    }

    /// Runs `f` with the handle table locked.
    pub fn with_handles<R>(&self, f: impl FnOnce(&mut HandleTable<P>) -> R) -> R {
        f(&mut self.handles.lock())
    }

    /// Adds a handle to `object` with `rights` and returns its value.
    ///
    /// # Errors
    ///
    /// As [`HandleTable::add`].
    pub fn add_handle(&self, object: KernelObject<P>, rights: Rights) -> Result<zx_handle_t> {
        self.handles.lock().add(Handle { object, rights })
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
        self.handles.lock().get_object(value, rights)
    }

    /// Closes every handle, marks every thread dead and tears the address
    /// space down (every mapping and sub-VMAR goes, so VMO pages held only
    /// by mappings are freed, as are the page tables but the root): the
    /// host calls this when the process exits. Handles are dropped after the
    /// table's lock is released.
    pub fn terminate(&self) {
        let drained = self.handles.lock().drain();
        drop(drained);
        let threads: Vec<_> = self
            .threads
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for t in threads {
            t.exit();
        }
        self.aspace.teardown();
    }
}

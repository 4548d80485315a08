//! [`Kernel`]: the entry object a host kernel creates once.

use alloc::sync::Arc;

use core::sync::atomic::Ordering;

use crate::error::Result;
use crate::mmu::asid::Asids;
use crate::object::{Job, Name, Process, Sharing, Thread};
use crate::outcome::UserView;
use crate::platform::Platform;

/// The crate's kernel state for one machine: the platform, the root job.
///
/// Cheap to clone (an `Arc`); a host typically keeps one in a static.
///
/// A kernel, a process with a thread, a syscall through the table (what
/// a host does when the thread traps with a syscall), and the page tables
/// to load when it runs on CPU 0:
///
/// ```
/// use zx_subsystem::abi::{Status, zx_handle_t};
/// use zx_subsystem::arch::X86_64;
/// use zx_subsystem::sim::Sim;
/// use zx_subsystem::syscall::SyscallNumber;
/// use zx_subsystem::vm::{Perms, Placement, Vmo};
/// use zx_subsystem::{Kernel, PAGE_SIZE};
///
/// let sim = Sim::<X86_64>::new();
/// let kernel = Kernel::new(sim.clone());
/// let process = kernel.create_process(kernel.root_job())?;
/// let thread = process.create_thread(0)?;
/// // A page the syscall writes its out-parameter to.
/// let out = Vmo::create(&sim, PAGE_SIZE)?;
/// let at = process.root_vmar().map(Placement::ANYWHERE, &out, 0, PAGE_SIZE, Perms::READ | Perms::WRITE)?;
/// // zx_vmo_create(PAGE_SIZE, 0, &handle)
/// let status = kernel.syscall_raw(
///     &thread,
///     SyscallNumber::VmoCreate as u64,
///     [PAGE_SIZE, 0, at, 0, 0, 0, 0, 0],
/// );
/// assert_eq!(status, 0);
/// let mut handle = [0u8; 4];
/// out.read(0, &mut handle)?;
/// assert_ne!(zx_handle_t::from_ne_bytes(handle), 0);
/// let view = kernel.user_view(0, &thread);
/// assert_eq!(view.root, process.aspace().root_table());
/// # process.terminate();
/// # Ok::<(), zx_subsystem::Error>(())
/// ```
pub struct Kernel<P: Platform> {
    inner: Arc<Inner<P>>,
}

struct Inner<P: Platform> {
    platform: P,
    root_job: Arc<Job>,
    asids: Arc<Asids>,
}

impl<P: Platform> Clone for Kernel<P> {
    fn clone(&self) -> Self {
        Kernel {
            inner: self.inner.clone(),
        }
    }
}

impl<P: Platform> Kernel<P> {
    /// Creates the kernel state with a fresh root job, and an identifier
    /// allocator as wide as [`Platform::asid_bits`] for
    /// [`Platform::cpu_count`] CPUs.
    pub fn new(platform: P) -> Kernel<P> {
        let asids = Asids::new(platform.asid_bits(), platform.cpu_count());
        Kernel {
            inner: Arc::new(Inner {
                platform,
                root_job: Job::new_root(),
                asids: Arc::new(asids),
            }),
        }
    }

    /// The identifier allocator (its width, CPUs and generation).
    pub fn asids(&self) -> &Asids {
        &self.inner.asids
    }

    /// The platform the kernel was created with.
    pub fn platform(&self) -> &P {
        &self.inner.platform
    }

    /// The root job: no parent, every policy `ALLOW`.
    pub fn root_job(&self) -> &Arc<Job> {
        &self.inner.root_job
    }

    /// Creates a process under `job`, with an empty address space over the
    /// whole user range (`zx_process_create(job, .., 0, ..)`).
    ///
    /// # Errors
    ///
    /// `NO_MEMORY` when an allocation fails. (Never for lack of an
    /// address-space identifier: they are recycled by generation.)
    pub fn create_process(&self, job: &Arc<Job>) -> Result<Arc<Process<P>>> {
        self.new_process(job, Name::default(), Sharing::None)
    }

    /// Creates the first process of a new sharing group under `job`
    /// (`zx_process_create(job, .., ZX_PROCESS_SHARED, ..)`): its root VMAR
    /// is the group's shared region.
    ///
    /// # Errors
    ///
    /// As [`create_process`](Kernel::create_process).
    pub fn create_shared_process(&self, job: &Arc<Job>) -> Result<Arc<Process<P>>> {
        self.new_process(job, Name::default(), Sharing::NewGroup)
    }

    /// Creates a process in `shared`'s sharing group and job
    /// (`zx_process_create_shared`): it shares the group's shared region,
    /// handle table and futexes, and gets a private restricted region
    /// ([`Process::restricted_vmar`]).
    ///
    /// # Errors
    ///
    /// `INVALID_ARGS` if `shared` is not in a sharing group, `BAD_STATE` if
    /// the group is gone, then as [`create_process`](Kernel::create_process).
    pub fn create_process_in_group(&self, shared: &Arc<Process<P>>) -> Result<Arc<Process<P>>> {
        self.new_process(shared.job(), Name::default(), Sharing::Join(shared))
    }

    pub(crate) fn new_process(
        &self,
        job: &Arc<Job>,
        name: Name,
        sharing: Sharing<'_, P>,
    ) -> Result<Arc<Process<P>>> {
        let secret = splitmix64(self.inner.platform.random_u64() ^ crate::object::peek_koid());
        Process::new(
            &self.inner.platform,
            &self.inner.asids,
            job,
            secret,
            name,
            sharing,
        )
    }

    /// Switches CPU `cpu` to the page tables `thread`'s user context runs
    /// on now: for a process made by `zx_process_create_shared`, the
    /// restricted-only root while it is in restricted mode and the unified
    /// root otherwise; for any other process its one root. Call it when the
    /// thread is switched in on `cpu` and whenever an [`Outcome`] says
    /// [`switches_view`](crate::Outcome::switches_view), and load what it
    /// returns (CR3 / TTBR0 with its PCID / ASID) before the thread runs,
    /// first flushing the CPU if [`UserView::flush`] says so. The view's
    /// identifier is given here, recycled by generation
    /// ([`crate::mmu::asid`]); with a current identifier this is a few
    /// loads and one compare-exchange.
    ///
    /// # Panics
    ///
    /// If `cpu` is not below [`Platform::cpu_count`] (a host bug).
    ///
    /// [`Outcome`]: crate::Outcome
    pub fn user_view(&self, cpu: usize, thread: &Thread<P>) -> UserView {
        let process = thread.process();
        let (root, slot) = match process.restricted_aspace() {
            Some(r) if thread.in_restricted.load(Ordering::SeqCst) => (r.root_table(), r.slot()),
            Some(r) => match (r.unified_root(), r.unified_slot()) {
                (Some(root), Some(slot)) => (root, slot),
                _ => (process.aspace().root_table(), process.aspace().slot()),
            },
            None => (process.aspace().root_table(), process.aspace().slot()),
        };
        UserView::new(root, self.inner.asids.switch_in(cpu, slot))
    }
}

/// A bijective 64-bit mixer (SplitMix64's finaliser), so consecutive
/// processes get unrelated handle secrets even from a weak random source.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

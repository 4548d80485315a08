//! A simulated machine for host tests, benchmarks and fuzzing.
//!
//! [`Sim<A>`] implements [`Platform`] for either architecture: frames come
//! from the heap (a frame's "physical address" is its heap address, so the
//! direct map is the identity), every allocation and free is counted so
//! tests can prove nothing leaks, and a frame limit can be set to make
//! allocation fail on purpose. Calls the crate makes to the platform (TLB
//! flushes, thread interrupts) are recorded for tests to inspect.
//!
//! The software MMU (`mmu`) translates through the real page-table bits of
//! the sim's architecture and keeps a TLB model that only
//! [`Platform::flush_tlb`] invalidates, so a missing flush fails a test
//! ([`Sim::translate`], [`Sim::user_read`], [`Sim::user_write`]).
//!
//! Scripted user code runs on [`cpu::Cpu`], which fetches through the soft
//! MMU, executes per-address instructions and returns the same
//! [`Trap`](crate::trap::Trap)s as the real `run_user`.
//!
//! The sim is public so that a kernel using this crate can test its own
//! integration on the host the same way.

pub mod cpu;
mod hw;
mod mmu;
pub mod model;

pub use mmu::{Fault, FaultKind, UserMapping};

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::any::Any;
use std::boxed::Box;
use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::vec::Vec;

use crate::arch::{Aarch32, Arch};
use crate::mmu::{CpuSet, TlbBatch};
use crate::object::Thread;
use crate::outcome::UserView;
use crate::platform::{PAGE_SIZE, PhysAddr, Platform, ThreadToken};

std::thread_local! {
    /// Heap reservations left before the one that fails (this host
    /// thread's; `None`: none fails), and whether one failed.
    static HEAP_FAILURE: core::cell::Cell<(Option<u64>, bool)> =
        const { core::cell::Cell::new((None, false)) };
}

/// Whether the crate's current heap reservation is the one to fail
/// ([`Sim::fail_heap_after`]).
pub(crate) fn heap_fails_now() -> bool {
    HEAP_FAILURE.with(|c| match c.get() {
        (Some(0), _) => {
            c.set((None, true));
            true
        }
        (Some(n), fired) => {
            c.set((Some(n - 1), fired));
            false
        }
        (None, _) => false,
    })
}

const FRAME_LAYOUT: Layout = match Layout::from_size_align(PAGE_SIZE as usize, PAGE_SIZE as usize) {
    Ok(l) => l,
    Err(_) => panic!("bad frame layout"),
};

struct Inner {
    frames: Mutex<HashSet<u64>>,
    /// Frames currently allocated.
    allocated: AtomicUsize,
    /// Total successful allocations so far.
    total_allocs: AtomicUsize,
    /// Maximum frames allocated at once; `usize::MAX` for no limit.
    limit: AtomicUsize,
    /// Number of `flush_tlb` calls.
    flushes: AtomicUsize,
    /// The CPU set of every `flush_tlb` call, oldest first.
    flush_cpus: Mutex<Vec<CpuSet>>,
    /// Threads the crate asked to interrupt, in order.
    interrupts: Mutex<Vec<ThreadToken>>,
    /// Koids of threads with an interrupt not yet taken by [`cpu::Cpu`].
    pending: Mutex<HashSet<u64>>,
    /// Threads the crate woke ([`Platform::wake`]), oldest first.
    woken: Mutex<Vec<ThreadToken>>,
    /// The fake monotonic clock ([`Platform::now`]), in nanoseconds.
    now: AtomicI64,
    /// What [`Platform::aarch32`] answers (0 unavailable, 1 available).
    aarch32: AtomicUsize,
    /// Threads the crate started (`Platform::thread_started`), each an
    /// `(Arc<Thread<Sim<A>>>, UserContext)` not yet taken by the test.
    started: Mutex<Vec<Box<dyn Any + Send>>>,
    /// The software MMU's TLB.
    tlb: Mutex<mmu::TlbModel>,
    /// What [`Platform::cpu_count`] answers.
    cpus: AtomicUsize,
    /// What [`Platform::asid_bits`] answers (0: the arch's default).
    asid_bits: AtomicUsize,
}

/// The machine's memory goes when the machine does: frames a test left
/// allocated (on purpose, or a leak the test reported through
/// [`Sim::frames_allocated`]) are returned to the host heap, so the host's
/// own leak checks (Miri) see only the crate's leaks of host memory.
impl Drop for Inner {
    fn drop(&mut self) {
        let frames = self.frames.get_mut().unwrap_or_else(|e| e.into_inner());
        for pa in frames.drain() {
            let ptr = std::ptr::with_exposed_provenance_mut::<u8>(pa as usize);
            // SAFETY: every address in the set came from
            // `alloc_zeroed(FRAME_LAYOUT)` in `alloc_frame` and was not
            // freed (a free removes it); no `Sim` is left to reach it.
            unsafe { dealloc(ptr, FRAME_LAYOUT) };
        }
    }
}

/// The simulated platform for architecture `A`.
///
/// A host's own integration tests run on it: frames are counted (a leak
/// shows), exhaustion can be forced, and its MMU model keeps a TLB that
/// only the crate's flushes invalidate.
///
/// ```
/// use zx_subsystem::arch::X86_64;
/// use zx_subsystem::sim::Sim;
/// use zx_subsystem::vm::Vmo;
/// use zx_subsystem::{Error, Kernel, PAGE_SIZE};
///
/// let sim = Sim::<X86_64>::new();
/// let kernel = Kernel::new(sim.clone());
/// let process = kernel.create_process(kernel.root_job())?;
/// let before = sim.frames_allocated();
/// // No frame left: the first write to a VMO page fails cleanly.
/// sim.fail_after(0);
/// let vmo = Vmo::create(&sim, PAGE_SIZE)?;
/// assert!(matches!(vmo.write(0, &[1]), Err(Error::NoMemory)));
/// assert_eq!(sim.frames_allocated(), before);
/// sim.set_frame_limit(None);
/// vmo.write(0, &[1])?;
/// assert_eq!(sim.frames_allocated(), before + 1);
/// drop(vmo);
/// assert_eq!(sim.frames_allocated(), before, "freed with the VMO");
/// # process.terminate();
/// # Ok::<(), zx_subsystem::Error>(())
/// ```
pub struct Sim<A: Arch> {
    inner: Arc<Inner>,
    _arch: PhantomData<fn() -> A>,
}

impl<A: Arch> Clone for Sim<A> {
    fn clone(&self) -> Self {
        Sim {
            inner: self.inner.clone(),
            _arch: PhantomData,
        }
    }
}

impl<A: Arch> Default for Sim<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Arch> core::fmt::Debug for Sim<A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sim")
            .field("arch", &A::NAME)
            .field("frames_allocated", &self.frames_allocated())
            .finish()
    }
}

impl<A: Arch> Sim<A> {
    /// A fresh machine with unlimited frames.
    pub fn new() -> Self {
        Sim {
            inner: Arc::new(Inner {
                frames: Mutex::new(HashSet::new()),
                allocated: AtomicUsize::new(0),
                total_allocs: AtomicUsize::new(0),
                limit: AtomicUsize::new(usize::MAX),
                flushes: AtomicUsize::new(0),
                flush_cpus: Mutex::new(Vec::new()),
                interrupts: Mutex::new(Vec::new()),
                pending: Mutex::new(HashSet::new()),
                started: Mutex::new(Vec::new()),
                aarch32: AtomicUsize::new(0),
                woken: Mutex::new(Vec::new()),
                now: AtomicI64::new(0),
                tlb: Mutex::new(mmu::TlbModel::default()),
                cpus: AtomicUsize::new(1),
                asid_bits: AtomicUsize::new(0),
            }),
            _arch: PhantomData,
        }
    }

    /// Frames currently allocated (page tables, VMO pages, ...).
    pub fn frames_allocated(&self) -> usize {
        self.inner.allocated.load(Ordering::SeqCst)
    }

    /// Successful frame allocations since the machine was created.
    pub fn total_allocations(&self) -> usize {
        self.inner.total_allocs.load(Ordering::SeqCst)
    }

    /// Makes allocation fail once `limit` frames are allocated at the same
    /// time; `None` removes the limit.
    pub fn set_frame_limit(&self, limit: Option<usize>) {
        self.inner
            .limit
            .store(limit.unwrap_or(usize::MAX), Ordering::SeqCst);
    }

    /// Makes allocation fail after `n` more frames.
    pub fn fail_after(&self, n: usize) {
        self.set_frame_limit(Some(self.frames_allocated().saturating_add(n)));
    }

    /// Whether `pa` lies in a frame the machine has handed out and not
    /// taken back.
    pub fn owns_frame(&self, pa: PhysAddr) -> bool {
        let frame = pa.as_u64() & !(PAGE_SIZE - 1);
        self.inner.frames.lock().expect("sim lock").contains(&frame)
    }

    /// Gives the machine `cpus` CPUs, each with its own TLB
    /// ([`Sim::set_current_cpu`]); set it before
    /// [`Kernel::new`](crate::Kernel::new) reads it.
    pub fn set_cpus(&self, cpus: usize) {
        self.inner.cpus.store(cpus.max(1), Ordering::SeqCst);
        self.inner.tlb.lock().expect("sim lock").set_cpus(cpus);
    }

    /// Makes [`Platform::asid_bits`] answer `bits` (a tiny width forces
    /// rollovers); set it before [`Kernel::new`](crate::Kernel::new).
    pub fn set_asid_bits(&self, bits: u32) {
        self.inner.asid_bits.store(bits as usize, Ordering::SeqCst);
    }

    /// Switches the calling thread's simulated CPU
    /// ([`set_current_cpu`](Sim::set_current_cpu)) to `thread`'s view the
    /// way a host must: [`Kernel::user_view`](crate::Kernel::user_view),
    /// and a flush of the CPU's TLB when the view says so.
    pub fn switch_in(&self, kernel: &crate::Kernel<Sim<A>>, thread: &Thread<Sim<A>>) -> UserView {
        let cpu = mmu::current_cpu();
        let view = kernel.user_view(cpu, thread);
        if view.flush {
            self.flush_cpu(cpu);
        }
        view
    }

    /// Makes the crate's heap reservation after the next `n` fail with
    /// `NO_MEMORY` (once), on the calling host thread: the heap's
    /// counterpart of [`fail_after`](Sim::fail_after). `None` turns it off.
    /// Only reservations the crate makes fallibly can fail
    /// (`crate::heap`).
    pub fn fail_heap_after(n: Option<u64>) {
        HEAP_FAILURE.with(|c| c.set((n, false)));
    }

    /// Whether a reservation failed since the last
    /// [`fail_heap_after`](Sim::fail_heap_after) on this thread.
    pub fn heap_failure_fired() -> bool {
        HEAP_FAILURE.with(|c| c.get().1)
    }

    /// The CPU sets of the TLB flushes the crate requested since the last
    /// call, oldest first ([`TlbBatch::cpus`]: the CPUs a real host would
    /// send an IPI).
    pub fn take_flush_cpus(&self) -> Vec<CpuSet> {
        core::mem::take(&mut *self.inner.flush_cpus.lock().expect("sim lock"))
    }

    /// Number of TLB flushes the crate requested.
    pub fn tlb_flushes(&self) -> usize {
        self.inner.flushes.load(Ordering::SeqCst)
    }

    /// Consumes a pending interrupt for the thread with `koid`, as its CPU
    /// taking the IPI.
    pub fn take_interrupt(&self, koid: u64) -> bool {
        self.inner.pending.lock().expect("sim lock").remove(&koid)
    }

    /// Threads the crate asked the host to interrupt, oldest first.
    pub fn interrupts(&self) -> Vec<ThreadToken> {
        self.inner.interrupts.lock().expect("sim lock").clone()
    }

    /// Takes the threads the crate woke since the last call
    /// ([`Platform::wake`]), oldest first.
    pub fn take_woken(&self) -> Vec<ThreadToken> {
        core::mem::take(&mut *self.inner.woken.lock().expect("sim lock"))
    }

    /// Sets the fake monotonic clock ([`Platform::now`]).
    pub fn set_now(&self, ns: i64) {
        self.inner.now.store(ns, Ordering::SeqCst);
    }

    /// The fake monotonic clock ([`Platform::now`]).
    pub fn now(&self) -> i64 {
        self.inner.now.load(Ordering::SeqCst)
    }

    /// Moves the fake monotonic clock forward by `ns`.
    pub fn advance(&self, ns: i64) {
        self.inner.now.fetch_add(ns, Ordering::SeqCst);
    }

    /// Makes the machine's CPUs run (or not) AArch32 restricted code
    /// ([`Platform::aarch32`]; the default is [`Aarch32::Unavailable`]).
    pub fn set_aarch32(&self, a: Aarch32) {
        self.inner
            .aarch32
            .store(usize::from(a == Aarch32::Available), Ordering::SeqCst);
    }

    /// Takes the threads the crate started since the last call
    /// ([`Platform::thread_started`]), oldest first, each with the context
    /// it starts from: the host's run queue.
    pub fn take_started(&self) -> Vec<StartedThread<A>> {
        let started = core::mem::take(&mut *self.inner.started.lock().expect("sim lock"));
        started
            .into_iter()
            .filter_map(|b| b.downcast::<Started<A>>().ok())
            .map(|b| (b.0, b.1))
            .collect()
    }
}

/// A thread the crate started, with the context it starts from
/// ([`Sim::take_started`]).
pub type StartedThread<A> = (Arc<Thread<Sim<A>>>, <A as Arch>::UserContext);

/// One entry of the sim's started-thread queue.
struct Started<A: Arch>(Arc<Thread<Sim<A>>>, A::UserContext);

// SAFETY: (1) frames are fresh zeroed heap pages, tracked in a set until
// freed; (2) `phys_to_virt` gives the page's heap address while it is in
// that set (the sim's "physical" address is that address); (3) the soft
// TLB of every simulated CPU drops the batch's entries before `flush_tlb`
// returns; (4) the sim has no kernel root table (`None`).
unsafe impl<A: Arch> Platform for Sim<A> {
    type Arch = A;

    fn alloc_frame(&self) -> Option<PhysAddr> {
        let mut frames = self.inner.frames.lock().expect("sim lock");
        if frames.len() >= self.inner.limit.load(Ordering::SeqCst) {
            return None;
        }
        // SAFETY: FRAME_LAYOUT has non-zero size.
        let ptr = unsafe { alloc_zeroed(FRAME_LAYOUT) };
        if ptr.is_null() {
            return None;
        }
        let pa = ptr.expose_provenance() as u64;
        frames.insert(pa);
        self.inner.allocated.fetch_add(1, Ordering::SeqCst);
        self.inner.total_allocs.fetch_add(1, Ordering::SeqCst);
        Some(PhysAddr::new(pa))
    }

    fn free_frame(&self, frame: PhysAddr) {
        let mut frames = self.inner.frames.lock().expect("sim lock");
        // A free of a frame the sim never handed out is a crate bug: fail
        // the test loudly rather than corrupt the heap.
        assert!(
            frames.remove(&frame.as_u64()),
            "free of unallocated frame {:#x}",
            frame.as_u64()
        );
        self.inner.allocated.fetch_sub(1, Ordering::SeqCst);
        let ptr = std::ptr::with_exposed_provenance_mut::<u8>(frame.as_u64() as usize);
        // SAFETY: `ptr` came from `alloc_zeroed(FRAME_LAYOUT)` in
        // `alloc_frame` (the set proves it is live) and is freed once.
        unsafe { dealloc(ptr, FRAME_LAYOUT) };
    }

    fn phys_to_virt(&self, frame: PhysAddr) -> *mut u8 {
        std::ptr::with_exposed_provenance_mut(frame.as_u64() as usize)
    }

    fn flush_tlb(&self, batch: &TlbBatch) {
        self.inner.tlb.lock().expect("sim lock").invalidate(batch);
        self.inner
            .flush_cpus
            .lock()
            .expect("sim lock")
            .push(batch.cpus());
        self.inner.flushes.fetch_add(1, Ordering::SeqCst);
    }

    fn thread_started(&self, thread: &Arc<Thread<Self>>, ctx: A::UserContext) {
        self.inner
            .started
            .lock()
            .expect("sim lock")
            .push(Box::new(Started::<A>(thread.clone(), ctx)));
    }

    fn wake(&self, thread: ThreadToken) {
        self.inner.woken.lock().expect("sim lock").push(thread);
    }

    fn now(&self) -> i64 {
        self.inner.now.load(Ordering::SeqCst)
    }

    fn aarch32(&self) -> Aarch32 {
        if self.inner.aarch32.load(Ordering::SeqCst) == 1 {
            Aarch32::Available
        } else {
            Aarch32::Unavailable
        }
    }

    fn cpu_count(&self) -> usize {
        self.inner.cpus.load(Ordering::SeqCst)
    }

    fn asid_bits(&self) -> u32 {
        match self.inner.asid_bits.load(Ordering::SeqCst) {
            0 => A::ASID_BITS,
            // Set from a u32.
            bits => bits as u32,
        }
    }

    fn interrupt_thread(&self, thread: ThreadToken) {
        self.inner.interrupts.lock().expect("sim lock").push(thread);
        self.inner
            .pending
            .lock()
            .expect("sim lock")
            .insert(thread.koid);
    }
}

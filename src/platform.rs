//! The one trait a host kernel implements: [`Platform`].
//!
//! Everything the crate needs from the machine goes through it: 4 KiB
//! physical frames, the direct map, TLB shootdown, interrupting the CPU of a
//! kicked thread, and the kernel half of new root page tables. A
//! kernel implements it once (usually on a zero-sized type) and creates a
//! [`crate::Kernel`] with it; host tests use the `sim` feature's `Sim`.

use alloc::sync::Arc;

use crate::arch::{Aarch32, Arch};
use crate::mmu::TlbBatch;
use crate::object::Thread;

/// The user context type of platform `P`.
pub type UserContextOf<P> = <<P as Platform>::Arch as Arch>::UserContext;

/// Size of a base page and of a physical frame.
pub const PAGE_SIZE: u64 = 4096;
/// log2 of [`PAGE_SIZE`].
pub const PAGE_SHIFT: u32 = 12;

/// A physical address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct PhysAddr(u64);

impl PhysAddr {
    /// Wraps a raw physical address.
    pub const fn new(raw: u64) -> Self {
        PhysAddr(raw)
    }

    /// The raw value.
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// Whether the address is 4 KiB aligned.
    pub const fn is_page_aligned(self) -> bool {
        self.0 & (PAGE_SIZE - 1) == 0
    }
}

/// Names a thread to the host when the crate needs it interrupted
/// ([`Platform::interrupt_thread`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ThreadToken {
    /// The thread's koid.
    pub koid: u64,
    /// The value the host passed when it created the thread
    /// ([`crate::object::Process::create_thread`]).
    pub cookie: u64,
}

/// What the crate asks of the host kernel.
///
/// Implementations are cloned into every object that needs the platform (a
/// VMO frees its frames on drop), so `Clone` should be cheap: a zero-sized
/// type or an `Arc`.
///
/// # Safety
///
/// The crate writes page tables, user memory and its own metadata through
/// what this trait returns, so memory safety rests on these promises; an
/// implementation states how it keeps each (`unsafe impl`, one comment per
/// point):
///
/// 1. [`alloc_frame`](Platform::alloc_frame) returns 4 KiB-aligned frames no
///    one else uses until they come back through
///    [`free_frame`](Platform::free_frame).
/// 2. For such a frame, [`phys_to_virt`](Platform::phys_to_virt) returns a
///    pointer valid for reads and writes of [`PAGE_SIZE`] bytes, 8-byte
///    aligned, for as long as the frame is allocated.
/// 3. [`flush_tlb`](Platform::flush_tlb) returns only after every CPU in
///    the batch's [`cpus`](TlbBatch::cpus) has dropped the translations the
///    batch names (the crate puts in it every CPU that switched to one of
///    the batch's views through [`Kernel::user_view`](crate::Kernel::user_view)).
/// 4. [`kernel_root_table`](Platform::kernel_root_table), when it returns a
///    frame, returns one that [`phys_to_virt`](Platform::phys_to_virt)
///    maps like an allocated frame (as in 2) for as long as the platform
///    exists; the crate only reads it, with aligned atomic loads.
pub unsafe trait Platform: Clone + Send + Sync + 'static {
    /// The CPU architecture: page-table format, user context, restricted
    /// state layout.
    type Arch: Arch;

    /// Allocates one 4 KiB frame, or `None` when memory is exhausted (the
    /// crate turns that into `ZX_ERR_NO_MEMORY`). Contents may be anything:
    /// the crate zeroes what it needs zeroed.
    fn alloc_frame(&self) -> Option<PhysAddr>;

    /// Returns a frame obtained from [`alloc_frame`](Platform::alloc_frame).
    /// The crate no longer maps or touches it.
    fn free_frame(&self, frame: PhysAddr);

    /// The kernel's pointer to a frame's memory (the direct map).
    fn phys_to_virt(&self, frame: PhysAddr) -> *mut u8;

    /// Invalidates the translations named by `batch` on every CPU in
    /// [`batch.cpus()`](TlbBatch::cpus): the CPUs that switched to one of
    /// its views (or [`CpuSet::ALL`](crate::mmu::CpuSet::ALL) when the crate
    /// cannot narrow it). On x86_64 that is local `invlpg`/`invpcid` (see
    /// `arch::x86_64::tlb`) plus one IPI to each other CPU in the set, which
    /// runs the same invalidation before it acknowledges; on aarch64 the
    /// broadcast `tlbi ...is` instructions (`arch::aarch64::tlb`) reach
    /// every CPU by themselves. The page-table changes are visible (the
    /// crate's stores and fences are done) before this is called; the host
    /// must make them visible to the remote CPU before it invalidates (the
    /// IPI's own ordering does on both arches).
    fn flush_tlb(&self, batch: &TlbBatch);

    /// Asks the host to interrupt the CPU currently running `thread` so it
    /// comes back to the kernel (used by `zx_restricted_kick`). The thread
    /// then leaves restricted mode at its next kernel boundary. A thread not
    /// currently running needs nothing.
    fn interrupt_thread(&self, thread: ThreadToken);

    /// A thread was started (`zx_thread_start`, `zx_process_start`): the
    /// host makes it runnable with `ctx` (its entry, stack and arguments)
    /// and runs it like any other, giving every trap to the crate. The
    /// crate holds no lock during the call; the host must not call back
    /// into the crate from it (queue the thread instead).
    fn thread_started(&self, thread: &Arc<Thread<Self>>, ctx: UserContextOf<Self>);

    /// A parked thread was woken (its wait was satisfied, or it was
    /// killed): the host makes it runnable and, when it runs it, switches
    /// it in through [`Kernel::boundary`](crate::Kernel::boundary), which
    /// finishes the syscall. The host must ignore a wake of a thread it
    /// has already made runnable (after its deadline). Called with no
    /// crate lock held, from whatever thread woke it, possibly on another
    /// CPU; see [`crate::object::wait`] for the whole blocking contract.
    fn wake(&self, thread: ThreadToken);

    /// The monotonic clock (`ZX_CLOCK_MONOTONIC`), in nanoseconds since an
    /// arbitrary start: `zx_clock_get_monotonic`, and what wait deadlines
    /// are compared with.
    fn now(&self) -> i64;

    /// The root page table whose kernel half (x86_64: entries 256..512) is
    /// copied into every new user root table. `None` (the default) copies
    /// nothing, which is right on aarch64, where the kernel lives in TTBR1.
    fn kernel_root_table(&self) -> Option<PhysAddr> {
        None
    }

    /// Whether restricted mode may run AArch32 code (aarch64 CPUs with
    /// AArch32 at EL0, `ID_AA64PFR0_EL1.EL0 == 2`). The default,
    /// [`Aarch32::Unavailable`], refuses such states with `BAD_STATE`; a
    /// host must not say `Available` on a CPU without it (the `eret` would
    /// be an illegal exception return at EL1). Ignored on x86_64.
    fn aarch32(&self) -> Aarch32 {
        Aarch32::Unavailable
    }

    /// How many CPUs may run user code: [`Kernel::user_view`] takes a CPU
    /// index below it. Read once by [`Kernel::new`]. The default is 1.
    ///
    /// [`Kernel::user_view`]: crate::Kernel::user_view
    /// [`Kernel::new`]: crate::Kernel::new
    fn cpu_count(&self) -> usize {
        1
    }

    /// Width of the address-space identifiers the host loads (x86_64: 12
    /// with PCIDs; aarch64: 16 when `ID_AA64MMFR0_EL1.ASIDBits` says so and
    /// `TCR_EL1.AS` is set, else 8). Read once by [`Kernel::new`]; the
    /// default is [`Arch::ASID_BITS`]. A
    /// host without PCIDs may keep the default and load every root with a
    /// flushing CR3 write. Identifiers are recycled by generation
    /// ([`crate::mmu::asid`]), so the width bounds only how often.
    ///
    /// [`Kernel::new`]: crate::Kernel::new
    fn asid_bits(&self) -> u32 {
        <Self::Arch as Arch>::ASID_BITS
    }

    /// A random value to mix into each process's handle values, so they are
    /// not sequential. The default is a fixed odd constant; a host with an
    /// entropy source should override it.
    fn random_u64(&self) -> u64 {
        0x9e37_79b9_7f4a_7c15
    }
}

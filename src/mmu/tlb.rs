//! TLB invalidation batches.
//!
//! Every change to live translations adds the changed pages to a
//! [`TlbBatch`]; the operation hands the batch to
//! [`Platform::flush_tlb`](crate::platform::Platform::flush_tlb) once, before
//! it returns to user space. Up to the architecture's threshold
//! ([`Arch::TLB_PAGE_THRESHOLD`]: x86_64 32, aarch64 16) the batch names
//! single pages; past it, it becomes one flush of the whole address space
//! (its PCID / ASID), which is cheaper than many single-page invalidations.
//!
//! A batch is for one [`TlbTarget`]: the identifiers under which the changed
//! tables are visible. A plain address space has one; the restricted region
//! of a shared process is seen through two roots (the restricted view and
//! the unified normal-mode view), each with its own identifier; the shared
//! region of a sharing group is seen through every member's unified view, so
//! its batches name every identifier.

use crate::arch::Arch;

/// An address-space identifier: an x86_64 PCID or an aarch64 ASID.
pub type Asid = u16;

/// The identifiers whose translations a [`TlbBatch`] invalidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlbTarget {
    /// Translations tagged with this identifier.
    Asid(Asid),
    /// Translations tagged with either identifier: the restricted region of
    /// a shared process, seen through its restricted-only root and its
    /// unified root.
    Pair(Asid, Asid),
    /// Translations tagged with any identifier: the shared region of a
    /// sharing group, seen through the prototype's root and every member's
    /// unified root. aarch64: `tlbi vaale1is` / `vmalle1is`; x86_64 with
    /// PCIDs: every PCID (`invpcid` all-context), or a flushing CR3 load of
    /// each before it runs again.
    AllAsids,
}

impl TlbTarget {
    /// Whether translations tagged `asid` are covered.
    pub fn covers(self, asid: Asid) -> bool {
        match self {
            TlbTarget::Asid(a) => a == asid,
            TlbTarget::Pair(a, b) => a == asid || b == asid,
            TlbTarget::AllAsids => true,
        }
    }

    /// The identifiers named one by one: one or two, none for
    /// [`AllAsids`](TlbTarget::AllAsids) (check
    /// [`is_all`](TlbTarget::is_all) first).
    pub fn named(self) -> impl Iterator<Item = Asid> {
        let (ids, n) = match self {
            TlbTarget::Asid(a) => ([a, a], 1),
            TlbTarget::Pair(a, b) => ([a, b], 2),
            TlbTarget::AllAsids => ([0, 0], 0),
        };
        ids.into_iter().take(n)
    }

    /// Whether every identifier is targeted.
    pub fn is_all(self) -> bool {
        self == TlbTarget::AllAsids
    }
}

/// The CPUs a [`TlbBatch`] must reach: those that may hold its
/// translations (that switched to one of its views while the view lived,
/// [`Kernel::user_view`](crate::Kernel::user_view)). CPUs `0..64` are
/// named one by one; a machine with more, and a batch the crate cannot
/// narrow (a fixed-identifier table, a sharing group's shared region),
/// names [`ALL`](CpuSet::ALL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CpuSet(u64);

impl CpuSet {
    /// No CPU.
    pub const EMPTY: CpuSet = CpuSet(0);
    /// Every CPU.
    pub const ALL: CpuSet = CpuSet(u64::MAX);

    /// The set of one CPU (every CPU past the 64 named ones).
    pub const fn one(cpu: usize) -> CpuSet {
        if cpu < 64 {
            CpuSet(1 << cpu)
        } else {
            CpuSet::ALL
        }
    }

    /// Whether `cpu` is in the set.
    pub const fn contains(self, cpu: usize) -> bool {
        if cpu < 64 {
            self.0 & (1 << cpu) != 0
        } else {
            self.is_all()
        }
    }

    /// Whether every CPU is (check before [`iter`](CpuSet::iter)).
    pub const fn is_all(self) -> bool {
        self.0 == u64::MAX
    }

    /// Whether no CPU is.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Both sets.
    #[must_use]
    pub const fn union(self, other: CpuSet) -> CpuSet {
        CpuSet(self.0 | other.0)
    }

    /// The CPUs below 64 in the set, in order.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..64).filter(move |&c| self.0 & (1 << c) != 0)
    }

    /// The raw mask (bit `n`: CPU `n`).
    pub const fn bits(self) -> u64 {
        self.0
    }

    pub(crate) const fn from_bits(bits: u64) -> CpuSet {
        CpuSet(bits)
    }
}

/// Capacity of a batch's page list (the largest per-arch threshold).
pub const TLB_BATCH_CAPACITY: usize = 32;

/// What a batch asks the platform to invalidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlbScope<'a> {
    /// Nothing changed.
    Nothing,
    /// These page-aligned user addresses.
    Pages(&'a [u64]),
    /// Every non-global translation of the address space.
    AddressSpace,
}

/// Translations to invalidate for one address space, gathered during one
/// operation.
#[must_use = "a TLB batch must be handed to Platform::flush_tlb"]
#[derive(Clone, Debug)]
pub struct TlbBatch {
    target: TlbTarget,
    cpus: CpuSet,
    threshold: u8,
    len: u8,
    whole: bool,
    pages: [u64; TLB_BATCH_CAPACITY],
}

impl TlbBatch {
    /// An empty batch for the address space `asid` on architecture `A`.
    pub fn new<A: Arch>(asid: Asid) -> TlbBatch {
        Self::for_target::<A>(TlbTarget::Asid(asid))
    }

    /// An empty batch for the translations tagged as `target` says.
    pub fn for_target<A: Arch>(target: TlbTarget) -> TlbBatch {
        TlbBatch {
            target,
            cpus: CpuSet::ALL,
            // The threshold is a small per-arch constant (<= capacity).
            threshold: A::TLB_PAGE_THRESHOLD.min(TLB_BATCH_CAPACITY) as u8,
            len: 0,
            whole: false,
            pages: [0; TLB_BATCH_CAPACITY],
        }
    }

    /// Aims the batch at `target` on `cpus` (the identifiers its table's
    /// views hold at flush time, and the CPUs that ran them).
    pub(crate) fn retarget(&mut self, target: TlbTarget, cpus: CpuSet) {
        self.target = target;
        self.cpus = cpus;
    }

    /// The CPUs that may hold the batch's translations: the only ones
    /// [`Platform::flush_tlb`](crate::Platform::flush_tlb) must reach (one
    /// IPI per remote CPU in the set, whatever the batch's size). A batch
    /// made with [`new`](TlbBatch::new) or [`for_target`](TlbBatch::for_target)
    /// names [`CpuSet::ALL`].
    pub fn cpus(&self) -> CpuSet {
        self.cpus
    }

    /// The identifiers whose translations the batch invalidates.
    pub fn target(&self) -> TlbTarget {
        self.target
    }

    /// Adds one page (any address inside it).
    pub fn add_page(&mut self, va: u64) {
        if self.whole {
            return;
        }
        if self.len == self.threshold {
            self.whole = true;
            return;
        }
        self.pages[usize::from(self.len)] = va & !0xfff;
        self.len += 1;
    }

    /// Adds `[va, va + len)`: page by page while it fits under the
    /// threshold, else the whole address space.
    pub fn add_range(&mut self, va: u64, len: u64) {
        if self.whole || len == 0 {
            return;
        }
        let pages = len.div_ceil(4096);
        let room = u64::from(self.threshold - self.len);
        if pages > room {
            self.whole = true;
            return;
        }
        for i in 0..pages {
            self.add_page(va + i * 4096);
        }
    }

    /// Asks for a flush of the whole address space.
    pub fn add_address_space(&mut self) {
        self.whole = true;
    }

    /// Whether nothing needs invalidating.
    pub fn is_empty(&self) -> bool {
        !self.whole && self.len == 0
    }

    /// What to invalidate.
    pub fn scope(&self) -> TlbScope<'_> {
        if self.whole {
            TlbScope::AddressSpace
        } else if self.len == 0 {
            TlbScope::Nothing
        } else {
            TlbScope::Pages(&self.pages[..usize::from(self.len)])
        }
    }
}

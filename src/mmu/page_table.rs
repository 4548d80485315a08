//! [`PageTable`]: one address space's user page tables, generic over the
//! platform and walking the arch's format
//! ([`Arch::Paging`](crate::arch::Arch::Paging)).
//!
//! # Ownership and locking
//!
//! A `PageTable` owns its root and every table frame below the user part
//! of the root; it never owns the leaf frames (those belong to VMOs). All
//! changes take `&mut self`: the VM layer holds its address-space lock
//! around them, which is the one lock this module relies on. The hardware
//! walks the same frames concurrently and sets accessed/dirty bits, hence
//! every entry access is a relaxed atomic through [`FrameMem`].
//!
//! # Operations
//!
//! [`map`](PageTable::map) installs one leaf; [`protect`](PageTable::protect)
//! and [`unmap`](PageTable::unmap) walk a range recursively, one table at a
//! time (never top-down per page), splitting a large leaf only where the
//! range cuts it. A split needs a frame;
//! [`frames_needed`](PageTable::frames_needed) bounds how many a range can take, and a
//! [`FrameReserve`](crate::mmu::FrameReserve) holds them ahead so that the change cannot fail
//! half-way. Each operation first tops the reserve up itself, so it is
//! all-or-nothing even when the caller reserved nothing.
//!
//! Every changed translation is added to the caller's [`TlbBatch`]; the
//! caller hands it to [`Platform::flush_tlb`] before returning to user
//! space. The exceptions are done here: an aarch64 split flushes the block
//! it breaks (break-before-make), and an unmap that frees tables flushes
//! the whole batch (widened to the ASID, so walk caches go too) before it
//! frees them, leaving the caller's batch empty.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{Ordering, fence};

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::mmu::asid::{AsidSlot, Tags};
use crate::mmu::flags::{MmuFlags, PageSize, Translation, check_range};
use crate::mmu::format::{
    ENTRIES, EntryKind, PageTableFormat, ROOT_LEVEL, index, level_shift, level_size,
};
use crate::mmu::frame::FrameMem;
use crate::mmu::tlb::{Asid, TlbBatch, TlbTarget};
use crate::platform::{PAGE_SIZE, PhysAddr, Platform};

/// The page-table format of platform `P`.
pub(crate) type Fmt<P> = <<P as Platform>::Arch as Arch>::Paging;

/// One address space's page tables.
///
/// # Invariants
///
/// 1. `root`, and every frame a [`EntryKind::Table`] entry points to below
///    a root index `< KERNEL_ROOT_FIRST`, was allocated from `platform` by
///    this value and is freed only by it (the retired list holds frames
///    unlinked but not yet freed).
/// 2. Every entry in those tables is 0 or valid; the only other writer is
///    the MMU, which sets accessed/dirty bits.
/// 3. An entry pointing to a level-0 table carries
///    [`PageTableFormat::FULL_TABLE_HINT`] only if all 512 entries of that
///    table are valid and have the permission bits the entry records
///    ([`PageTableFormat::hinted_perms`]); only such an entry has any of
///    [`PageTableFormat::HINT_BITS`] set. Protect sets and clears the hint;
///    unmap clears it before it removes entries.
pub struct PageTable<P: Platform> {
    pub(crate) platform: P,
    pub(crate) root: PhysAddr,
    /// The identifiers this table's translations are cached under (its own
    /// view's, plus those of other roots that share its tables), read when
    /// a batch is flushed.
    pub(crate) tags: Tags,
    /// A second root this table keeps in step (a shared process's unified
    /// root): every user entry the table writes into its own root is
    /// written there too. Owned: freed with the table, but not what it
    /// points to beyond this table's own entries.
    pub(crate) unified: Option<PhysAddr>,
    /// The tables directly below the root were all allocated up front and
    /// are never freed while the table lives (the shared region of a
    /// sharing group, whose root entries unified roots copied once).
    pub(crate) pinned_top: bool,
    /// Tables unlinked by the current operation, freed after its flush.
    pub(crate) retired: Vec<PhysAddr>,
}

impl<P: Platform> PageTable<P> {
    /// Allocates an empty root table for address space `asid`, with the
    /// kernel part of [`Platform::kernel_root_table`] copied in (x86_64:
    /// root entries 256..512; aarch64: nothing, the kernel uses TTBR1).
    ///
    /// # Errors
    ///
    /// `NO_MEMORY` if the root frame cannot be allocated.
    pub fn new(platform: P, asid: Asid) -> Result<PageTable<P>> {
        Self::tagged(platform, Tags::Fixed(TlbTarget::Asid(asid)))
    }

    /// As [`new`](PageTable::new), for the view whose identifier `slot`
    /// holds (given and recycled by [`Asids`](crate::mmu::asid::Asids)).
    ///
    /// # Errors
    ///
    /// `NO_MEMORY` if the root frame cannot be allocated.
    pub fn with_slot(platform: P, slot: Arc<AsidSlot>) -> Result<PageTable<P>> {
        Self::tagged(platform, Tags::One(slot))
    }

    fn tagged(platform: P, tags: Tags) -> Result<PageTable<P>> {
        let root = Self::new_root(&platform)?;
        Ok(PageTable {
            platform,
            root,
            tags,
            unified: None,
            pinned_top: false,
            retired: Vec::new(),
        })
    }

    /// Tables for the shared region `[start, end)` of a sharing group: as
    /// [`new`](PageTable::new), plus every table directly below the root
    /// that the range needs, allocated now and kept for the table's life,
    /// so that the root entries of the range never change and unified roots
    /// ([`new_restricted`](PageTable::new_restricted)) can copy them once.
    /// Translations may be cached under any identifier (`AllAsids`).
    ///
    /// Costs one frame per root entry of the range (x86_64: 128 for the
    /// upper half of the user PML4; aarch64: 256).
    ///
    /// # Errors
    ///
    /// `INVALID_ARGS` for an empty range or one beyond the user half;
    /// `NO_MEMORY` (nothing is kept).
    pub fn new_shared(platform: P, start: u64, end: u64) -> Result<PageTable<P>> {
        let first = Fmt::<P>::KERNEL_ROOT_FIRST.min(ENTRIES);
        if start >= end || end > Fmt::<P>::VA_LIMIT {
            return Err(Error::InvalidArgs("shared range outside the user half"));
        }
        let mut pt = Self::tagged(platform, Tags::Fixed(TlbTarget::AllAsids))?;
        pt.pinned_top = true;
        let (lo, hi) = (index(start, ROOT_LEVEL), index(end - 1, ROOT_LEVEL));
        debug_assert!(hi < first);
        for i in lo..=hi.min(first - 1) {
            let Some(frame) = pt.platform.alloc_frame() else {
                // Dropping `pt` frees the root and the tables linked so far.
                return Err(Error::NoMemory);
            };
            pt.mem(frame).zero();
            fence(Ordering::Release);
            pt.mem(pt.root).words()[i].store(Fmt::<P>::table_entry(frame), Ordering::Relaxed);
        }
        Fmt::<P>::publish();
        Ok(pt)
    }

    /// Tables for the private restricted region of a shared process, with
    /// a *unified* root kept in step: it starts as a copy of `shared`'s
    /// root (the group's shared region and, on x86_64, the kernel half) and
    /// every user entry this table writes into its own root is written into
    /// it too. The restricted view loads [`root`](PageTable::root) under
    /// the identifier in `restricted`; normal mode loads
    /// [`unified_root`](PageTable::unified_root) under the one in
    /// `unified`, so a change on either side is visible through it at once,
    /// without copied leaves.
    ///
    /// `shared` must come from [`new_shared`](PageTable::new_shared) and
    /// outlive this table (its tables are linked from the unified root).
    ///
    /// # Errors
    ///
    /// `NO_MEMORY` (nothing is kept).
    pub fn new_restricted(
        platform: P,
        restricted: Arc<AsidSlot>,
        unified: Arc<AsidSlot>,
        shared: &PageTable<P>,
    ) -> Result<PageTable<P>> {
        let mut pt = Self::tagged(platform, Tags::Pair(restricted, unified))?;
        let Some(unified) = pt.platform.alloc_frame() else {
            return Err(Error::NoMemory);
        };
        let (dst, src) = (pt.mem(unified), shared.mem(shared.root));
        for (d, s) in dst.words().iter().zip(src.words()) {
            d.store(s.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        Fmt::<P>::publish();
        pt.unified = Some(unified);
        Ok(pt)
    }

    /// A zeroed root frame with the kernel part of
    /// [`Platform::kernel_root_table`] copied in.
    fn new_root(platform: &P) -> Result<PhysAddr> {
        let root = platform.alloc_frame().ok_or(Error::NoMemory)?;
        // SAFETY: `root` was just allocated and is owned by the table being
        // built (invariant 1); all crate accesses are atomic.
        let mem = unsafe { FrameMem::new(platform, root) };
        mem.zero();
        let first = Fmt::<P>::KERNEL_ROOT_FIRST;
        if let Some(kernel) = platform.kernel_root_table().filter(|_| first < ENTRIES) {
            // SAFETY: by the Platform contract (4) the kernel root stays
            // valid through `phys_to_virt` and is accessed atomically.
            let kmem = unsafe { FrameMem::new(platform, kernel) };
            for (dst, src) in mem.words()[first..].iter().zip(&kmem.words()[first..]) {
                dst.store(src.load(Ordering::Relaxed), Ordering::Relaxed);
            }
        }
        Fmt::<P>::publish();
        Ok(root)
    }

    /// The unified root of a restricted table
    /// ([`new_restricted`](PageTable::new_restricted)), `None` otherwise.
    pub fn unified_root(&self) -> Option<PhysAddr> {
        self.unified
    }

    /// The identifiers this table's translations may be cached under now
    /// (for a table whose view was never switched in, the placeholder a
    /// new batch starts with).
    pub fn target(&self) -> TlbTarget {
        self.tags
            .resolve()
            .map_or_else(|| self.tags.nominal(), |(t, _)| t)
    }

    /// An empty batch for this table (aimed at its identifiers when it is
    /// flushed through [`flush`](PageTable::flush)).
    pub fn new_batch(&self) -> TlbBatch {
        TlbBatch::for_target::<P::Arch>(self.tags.nominal())
    }

    /// Hands `batch` to [`Platform::flush_tlb`], aimed at the identifiers
    /// the table's views hold *now* (read after the entries changed; see
    /// [`crate::mmu::asid`]), and leaves it empty. Nothing is flushed for a
    /// table no CPU ever loaded.
    pub fn flush(&self, batch: &mut TlbBatch) {
        flush_tagged(&self.platform, &self.tags, batch);
    }

    /// Writes root entry `i`, and the same entry of the unified root if
    /// there is one.
    pub(crate) fn store_root_entry(&self, i: usize, entry: u64) {
        self.mem(self.root).words()[i].store(entry, Ordering::Relaxed);
        if let Some(unified) = self.unified {
            self.mem(unified).words()[i].store(entry, Ordering::Relaxed);
        }
    }

    /// The root table's physical address (for CR3 / TTBR0).
    pub fn root(&self) -> PhysAddr {
        self.root
    }

    /// The address space identifier (PCID / ASID) translations are tagged
    /// with: the one it was built with, or the one its view holds now (0
    /// before its first switch).
    pub fn asid(&self) -> Asid {
        match &self.tags {
            Tags::Fixed(t) => t.named().next().unwrap_or(0),
            Tags::One(s) | Tags::Pair(s, _) => s.last().unwrap_or(0),
        }
    }

    /// The platform the tables live on.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// Views a table frame.
    pub(crate) fn mem(&self, table: PhysAddr) -> FrameMem<'_> {
        // SAFETY: callers pass `root` or an address read from a Table entry
        // of the user part, which by invariant 1 is a live frame we own and
        // free only through `&mut self`, not while this borrow lives.
        unsafe { FrameMem::new(&self.platform, table) }
    }

    /// Maps the page of `size` at `va` to `pa` with `flags`.
    ///
    /// Allocates the missing intermediate tables first, all or nothing.
    /// A new translation replaces nothing, so neither architecture needs a
    /// TLB invalidation and `batch` is left as it is.
    ///
    /// # Errors
    ///
    /// - `INVALID_ARGS`: `va` or `pa` not aligned to `size`, the page beyond
    ///   the user address space or the physical-address range, `flags`
    ///   grant no access, or `batch` is for another ASID.
    /// - `ALREADY_EXISTS`: a leaf (of any size) or a table of smaller
    ///   leaves already covers part of the page.
    /// - `NO_MEMORY`: a table frame could not be allocated (nothing changed).
    pub fn map(
        &mut self,
        va: u64,
        pa: PhysAddr,
        size: PageSize,
        flags: MmuFlags,
        batch: &mut TlbBatch,
    ) -> Result<()> {
        self.check_batch(batch)?;
        if !size.is_aligned(va) || !size.is_aligned(pa.as_u64()) {
            return Err(Error::InvalidArgs("address not aligned to the page size"));
        }
        if !flags.grants_access() {
            return Err(Error::InvalidArgs("a mapping must grant some access"));
        }
        check_range(va, size.bytes(), Fmt::<P>::VA_LIMIT)?;
        if pa.as_u64() >= Fmt::<P>::PA_LIMIT || Fmt::<P>::PA_LIMIT - pa.as_u64() < size.bytes() {
            return Err(Error::InvalidArgs("physical address out of range"));
        }
        let target = size.level();
        let mut table = self.root;
        let mut level = ROOT_LEVEL;
        while level > target {
            let entry = self.mem(table).words()[index(va, level)].load(Ordering::Relaxed);
            match Fmt::<P>::kind(entry, level) {
                EntryKind::Table => table = Fmt::<P>::table_addr(entry),
                EntryKind::Leaf => return Err(Error::AlreadyExists("a large page covers it")),
                EntryKind::Absent => break,
            }
            level -= 1;
        }
        let leaf = Fmt::<P>::leaf_entry(pa, flags, target);
        if level == target {
            let slot = &self.mem(table).words()[index(va, level)];
            if Fmt::<P>::kind(slot.load(Ordering::Relaxed), level) != EntryKind::Absent {
                return Err(Error::AlreadyExists("already mapped"));
            }
            slot.store(leaf, Ordering::Relaxed);
        } else {
            self.install_chain(table, level, target, va, leaf)?;
        }
        Fmt::<P>::publish();
        Ok(())
    }

    /// Below the absent entry of `table` (at `level`) for `va`, builds the
    /// tables down to `target` holding `leaf`, then links them in with one
    /// store.
    fn install_chain(
        &mut self,
        table: PhysAddr,
        level: usize,
        target: usize,
        va: u64,
        leaf: u64,
    ) -> Result<()> {
        // At most three new tables (levels 2, 1, 0 below the root).
        let count = level - target;
        let mut frames = [PhysAddr::new(0); ROOT_LEVEL];
        for i in 0..count {
            match self.platform.alloc_frame() {
                Some(f) => frames[i] = f,
                None => {
                    for &f in &frames[..i] {
                        self.platform.free_frame(f);
                    }
                    return Err(Error::NoMemory);
                }
            }
        }
        // frames[i] is the table of level `level - 1 - i`.
        for i in 0..count {
            let mem = self.mem(frames[i]);
            mem.zero();
            let lvl = level - 1 - i;
            let entry = if i + 1 < count {
                Fmt::<P>::table_entry(frames[i + 1])
            } else {
                leaf
            };
            mem.words()[index(va, lvl)].store(entry, Ordering::Relaxed);
        }
        // The new tables are complete before the walker can reach them.
        fence(Ordering::Release);
        let entry = Fmt::<P>::table_entry(frames[0]);
        if level == ROOT_LEVEL {
            self.store_root_entry(index(va, level), entry);
        } else {
            self.mem(table).words()[index(va, level)].store(entry, Ordering::Relaxed);
        }
        Ok(())
    }

    /// What the tables translate `va` to, if anything.
    pub fn query(&self, va: u64) -> Option<Translation> {
        if va >= Fmt::<P>::VA_LIMIT {
            return None;
        }
        let mut table = self.root;
        for level in (0..=ROOT_LEVEL).rev() {
            let entry = self.mem(table).words()[index(va, level)].load(Ordering::Relaxed);
            match Fmt::<P>::kind(entry, level) {
                EntryKind::Absent => return None,
                EntryKind::Table => table = Fmt::<P>::table_addr(entry),
                EntryKind::Leaf => {
                    let size = PageSize::from_level(level)?;
                    let offset = va & (size.bytes() - 1) & !(PAGE_SIZE - 1);
                    let base = Fmt::<P>::leaf_addr(entry, level).as_u64();
                    return Some(Translation {
                        pa: PhysAddr::new(base | offset),
                        flags: Fmt::<P>::leaf_flags(entry, level),
                        size,
                    });
                }
            }
        }
        None
    }

    /// An upper bound of the frames a [`protect`](PageTable::protect) or
    /// [`unmap`](PageTable::unmap) of `[va, va + len)` takes from a reserve:
    /// one per large leaf the range cuts (at most four: a 1 GiB leaf and
    /// the 2 MiB leaf inside it at each end). 0 for an invalid range (the
    /// operation fails without taking frames).
    ///
    /// The bound stays valid while other protects and unmaps run (they
    /// only remove large leaves), so a caller may reserve for several
    /// ranges before applying any.
    pub fn frames_needed(&self, va: u64, len: u64) -> usize {
        let Ok(end) = check_range(va, len, Fmt::<P>::VA_LIMIT) else {
            return 0;
        };
        if len == 0 {
            return 0;
        }
        // Large leaves to split, as (level, base); at most two per end.
        let mut splits = [(0usize, 0u64); 4];
        let mut n = 0;
        for point in [va, end] {
            let Some(t) = self.query(point) else { continue };
            let level = t.size.level();
            let base = point & !(t.size.bytes() - 1);
            if level == 0 || point == base {
                continue;
            }
            let mut cuts = [(level, base), (1, point & !(level_size(1) - 1))];
            let count = if level == 2 && !PageSize::Size2M.is_aligned(point) {
                2
            } else {
                1
            };
            for cut in &mut cuts[..count] {
                if !splits[..n].contains(cut) {
                    splits[n] = *cut;
                    n += 1;
                }
            }
        }
        n
    }

    /// Rejects a batch for another address space.
    pub(crate) fn check_batch(&self, batch: &TlbBatch) -> Result<()> {
        // A table with slots aims its batches when it flushes them.
        if !matches!(self.tags, Tags::Fixed(_)) || batch.target() == self.tags.nominal() {
            Ok(())
        } else {
            Err(Error::InvalidArgs("TLB batch for another address space"))
        }
    }

    /// Frees the table at `table` (of `level`) and every table below it.
    fn free_tree(&self, table: PhysAddr, level: usize, entries: usize) {
        if level > 0 {
            let words = self.mem(table).words();
            for slot in &words[..entries] {
                let entry = slot.load(Ordering::Relaxed);
                if Fmt::<P>::kind(entry, level) == EntryKind::Table {
                    self.free_tree(Fmt::<P>::table_addr(entry), level - 1, ENTRIES);
                }
            }
        }
        self.platform.free_frame(table);
    }
}

impl<P: Platform> Drop for PageTable<P> {
    /// Frees every table frame (not the pages they map). The address space
    /// must no longer be active on any CPU, and the host flushes its ASID
    /// before giving the ASID to another address space.
    fn drop(&mut self) {
        for frame in core::mem::take(&mut self.retired) {
            self.platform.free_frame(frame);
        }
        // The unified root links this table's subtrees (freed below) and
        // the shared region's (not ours): free only its own frame.
        if let Some(unified) = self.unified.take() {
            self.platform.free_frame(unified);
        }
        self.free_tree(
            self.root,
            ROOT_LEVEL,
            Fmt::<P>::KERNEL_ROOT_FIRST.min(ENTRIES),
        );
    }
}

impl<P: Platform> core::fmt::Debug for PageTable<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PageTable")
            .field("arch", &P::Arch::NAME)
            .field("root", &format_args!("{:#x}", self.root.as_u64()))
            .field("tags", &self.tags)
            .finish()
    }
}

/// Base address of the `level` table that contains `va`.
pub(crate) const fn table_base(va: u64, level: usize) -> u64 {
    if level == ROOT_LEVEL {
        0
    } else {
        va & !((1u64 << level_shift(level + 1)) - 1)
    }
}

/// Flushes `batch` for the identifiers `tags` resolve to now, then empties
/// it (skipped when no view of the tags was ever loaded).
pub(crate) fn flush_tagged<P: Platform>(platform: &P, tags: &Tags, batch: &mut TlbBatch) {
    if let Some((target, cpus)) = tags.resolve().filter(|_| !batch.is_empty()) {
        batch.retarget(target, cpus);
        platform.flush_tlb(batch);
    }
    *batch = TlbBatch::for_target::<P::Arch>(tags.nominal());
}

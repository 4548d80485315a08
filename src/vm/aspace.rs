//! [`AddressSpace`]: one process's VMAR tree and page tables.
//!
//! The VMAR tree (regions, mappings, protection ranges) sits behind
//! `tree`; the arch page tables behind `page_table`. Every operation that
//! changes the tree holds `tree` from its first check to its last change, so
//! each syscall is atomic with respect to the others on the same process.
//! Translation changes are gathered into one [`TlbBatch`] per operation and
//! flushed through the platform before the operation returns.
//!
//! Locks: `tree` (2nd in the crate's order), VMO tree locks (3rd),
//! `page_table` (4th). `unmap_translations` takes only `page_table`, which
//! is what lets a VMO (holding its own lock) strip translations from any
//! address space that maps it.

use alloc::sync::{Arc, Weak};
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Mutex;

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::mmu::asid::{AsidSlot, Asids, Tags};
use crate::mmu::flush_tagged;
use crate::mmu::{
    Asid, FrameReserve, MmuFlags, PageSize, PageTable, TlbBatch, TlbTarget, Translation,
};
use crate::object::next_koid;
use crate::platform::{PAGE_SIZE, PhysAddr, Platform};
use crate::trap::Access;

use super::placement::MapRequest;
pub use super::placement::Placement;
use super::region::{Child, Mapping, ProtRanges, Region, Tree};
use super::slab::{Slab, SlabId};
use super::unmap::Reach;
use super::vmo::{Link, Vmo};
use super::{Perms, is_page_aligned};

static NEXT_ASPACE_ID: AtomicU64 = AtomicU64::new(1);

/// One VMAR tree with its page tables: a process's whole user address
/// space, or one of the two regions of a shared process (see
/// [`AspaceKind`]).
pub struct AddressSpace<P: Platform> {
    id: u64,
    this: Weak<AddressSpace<P>>,
    platform: P,
    kind: AspaceKind,
    /// The identifier of the root's view.
    slot: Arc<AsidSlot>,
    /// The identifier of the unified root's view (restricted regions only).
    unified_slot: Option<Arc<AsidSlot>>,
    asids: Arc<Asids>,
    /// What this space's batches are aimed at when flushed (the page
    /// table's, readable without its lock).
    tags: Tags,
    root_table: PhysAddr,
    unified_root: Option<PhysAddr>,
    base: u64,
    size: u64,
    pub(super) tree: Mutex<Tree<P>>,
    pub(super) page_table: Mutex<PageTable<P>>,
    /// A restricted region keeps its group's shared region (whose tables
    /// its unified root links) alive; declared last, so it is dropped after
    /// the unified root.
    _shared: Option<Arc<AddressSpace<P>>>,
}

/// What part of the user address space an [`AddressSpace`] covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AspaceKind {
    /// The whole user range `[USER_ASPACE_BASE, +USER_ASPACE_SIZE)`: an
    /// ordinary process.
    Whole,
    /// The shared region of a sharing group (above the restricted region,
    /// after a one-page gap), used by every process of the group.
    Shared,
    /// The private restricted region `[USER_ASPACE_BASE,
    /// +USER_RESTRICTED_ASPACE_SIZE)` of one shared process, with a
    /// unified root for normal mode.
    Restricted,
}

/// The range `[base, base + size)` an address space of `kind` covers.
pub(crate) fn aspace_range<A: Arch>(kind: AspaceKind) -> (u64, u64) {
    match kind {
        AspaceKind::Whole => (A::USER_ASPACE_BASE, A::USER_ASPACE_SIZE),
        AspaceKind::Restricted => (A::USER_ASPACE_BASE, A::USER_RESTRICTED_ASPACE_SIZE),
        AspaceKind::Shared => {
            // Zircon leaves one page between the regions, so that no
            // access crosses from one into the other.
            let base = A::USER_ASPACE_BASE + A::USER_RESTRICTED_ASPACE_SIZE + PAGE_SIZE;
            (base, A::USER_ASPACE_BASE + A::USER_ASPACE_SIZE - base)
        }
    }
}

/// The page-table flags for user permissions `perms`.
pub(crate) fn mmu_flags(perms: Perms) -> MmuFlags {
    if perms.is_empty() {
        return MmuFlags::empty();
    }
    let mut f = MmuFlags::USER;
    f.set(MmuFlags::READ, perms.contains(Perms::READ));
    f.set(MmuFlags::WRITE, perms.contains(Perms::WRITE));
    f.set(MmuFlags::EXECUTE, perms.contains(Perms::EXECUTE));
    f
}

impl<P: Platform> AddressSpace<P> {
    /// A new address space whose root VMAR covers the architecture's whole
    /// user range and may map anything anywhere. Its identifier is given
    /// when it is first switched in.
    ///
    /// # Errors
    ///
    /// `NO_MEMORY`.
    pub fn new(platform: &P, asids: &Arc<Asids>) -> Result<Arc<AddressSpace<P>>> {
        let slot = Arc::new(AsidSlot::new());
        let pt = PageTable::with_slot(platform.clone(), slot.clone())?;
        Self::build(platform, asids, AspaceKind::Whole, pt, (slot, None), None)
    }

    /// The shared region of a new sharing group (see
    /// [`PageTable::new_shared`] for the tables it allocates up front).
    ///
    /// # Errors
    ///
    /// `NO_MEMORY`.
    pub fn new_shared(platform: &P, asids: &Arc<Asids>) -> Result<Arc<AddressSpace<P>>> {
        let (base, size) = aspace_range::<P::Arch>(AspaceKind::Shared);
        let pt = PageTable::new_shared(platform.clone(), base, base + size)?;
        let slot = Arc::new(AsidSlot::new());
        Self::build(platform, asids, AspaceKind::Shared, pt, (slot, None), None)
    }

    /// The private restricted region of a new process of `shared`'s group,
    /// with its unified root (two views, so two identifiers when both are
    /// switched in).
    ///
    /// # Errors
    ///
    /// `INVALID_ARGS` if `shared` is not a shared region; `NO_MEMORY`.
    pub fn new_restricted(
        platform: &P,
        asids: &Arc<Asids>,
        shared: &Arc<AddressSpace<P>>,
    ) -> Result<Arc<AddressSpace<P>>> {
        if shared.kind != AspaceKind::Shared {
            return Err(Error::InvalidArgs("not a shared region"));
        }
        let (slot, unified) = (Arc::new(AsidSlot::new()), Arc::new(AsidSlot::new()));
        let pt = {
            let shared_pt = shared.page_table.lock();
            PageTable::new_restricted(platform.clone(), slot.clone(), unified.clone(), &shared_pt)?
        };
        Self::build(
            platform,
            asids,
            AspaceKind::Restricted,
            pt,
            (slot, Some(unified)),
            Some(shared.clone()),
        )
    }

    fn build(
        platform: &P,
        asids: &Arc<Asids>,
        kind: AspaceKind,
        page_table: PageTable<P>,
        (slot, unified_slot): (Arc<AsidSlot>, Option<Arc<AsidSlot>>),
        shared: Option<Arc<AddressSpace<P>>>,
    ) -> Result<Arc<AddressSpace<P>>> {
        let (base, size) = aspace_range::<P::Arch>(kind);
        let mut regions = Slab::default();
        // On error, dropping the table frees its frames (no view was
        // loaded, so nothing to flush).
        let root = regions.insert(Region {
            base,
            size,
            parent: None,
            can_map: Perms::all(),
            can_map_specific: true,
            children: Default::default(),
            koid: next_koid(),
            hint: base,
        })?;
        Ok(Arc::new_cyclic(|this| AddressSpace {
            id: NEXT_ASPACE_ID.fetch_add(1, Ordering::Relaxed),
            this: this.clone(),
            platform: platform.clone(),
            kind,
            slot,
            unified_slot,
            asids: asids.clone(),
            tags: page_table.tags.clone(),
            root_table: page_table.root(),
            unified_root: page_table.unified_root(),
            base,
            size,
            tree: Mutex::new(Tree {
                regions,
                mappings: Slab::default(),
                root: Some(root),
            }),
            page_table: Mutex::new(page_table),
            _shared: shared,
        }))
    }

    /// What part of the user address space this covers.
    pub fn kind(&self) -> AspaceKind {
        self.kind
    }

    /// The range `(base, size)` the root VMAR covers.
    pub fn range(&self) -> (u64, u64) {
        (self.base, self.size)
    }

    /// Whether `va` lies in [`range`](AddressSpace::range).
    pub fn contains(&self, va: u64) -> bool {
        va >= self.base && va - self.base < self.size
    }

    /// The unified root of a restricted region: the shared region and this
    /// one, for normal mode (load into CR3 / TTBR0 with
    /// [`unified_asid`](AddressSpace::unified_asid)).
    pub fn unified_root(&self) -> Option<PhysAddr> {
        self.unified_root
    }

    /// The identifier of the unified root in the current generation, given
    /// now if it has none (see [`asid`](AddressSpace::asid)).
    pub fn unified_asid(&self) -> Option<Asid> {
        self.unified_slot.as_ref().map(|s| self.asids.current(s))
    }

    /// The identifiers this address space's translations may be cached
    /// under now: what its [`TlbBatch`]es are aimed at when flushed.
    pub fn tlb_target(&self) -> TlbTarget {
        self.tags
            .resolve()
            .map_or_else(|| self.tags.nominal(), |(t, _)| t)
    }

    /// The identifier slot of the root's view.
    #[inline]
    pub(crate) fn slot(&self) -> &AsidSlot {
        &self.slot
    }

    /// The identifier slot of the unified root's view (restricted regions
    /// only).
    #[inline]
    pub(crate) fn unified_slot(&self) -> Option<&AsidSlot> {
        self.unified_slot.as_deref()
    }

    /// What the page tables translate `va` to now: the frame, the
    /// permissions the leaf grants and its size; `None` when nothing is
    /// mapped there (a page never touched, or outside this space). For
    /// host kernels and debuggers: it takes the page-table lock, never
    /// faults anything in, and says nothing about what a CPU may still
    /// cache (flushes are the crate's business).
    ///
    /// ```
    /// use zx_subsystem::Kernel;
    /// use zx_subsystem::arch::X86_64;
    /// use zx_subsystem::sim::Sim;
    /// use zx_subsystem::trap::Access;
    /// use zx_subsystem::vm::{Perms, Placement, Vmo};
    ///
    /// let sim = Sim::<X86_64>::new();
    /// let kernel = Kernel::new(sim.clone());
    /// let process = kernel.create_process(kernel.root_job()).unwrap();
    /// let vmo = Vmo::create(&sim, 4096).unwrap();
    /// let va = process
    ///     .root_vmar()
    ///     .map(Placement::ANYWHERE, &vmo, 0, 4096, Perms::READ)
    ///     .unwrap();
    /// let aspace = process.aspace();
    /// assert!(aspace.translation(va).is_none(), "mapped lazily");
    /// aspace.page_fault(va, Access::Read).unwrap();
    /// let t = aspace.translation(va).unwrap();
    /// assert!(sim.owns_frame(t.pa));
    /// assert!(!t.flags.contains(zx_subsystem::mmu::MmuFlags::WRITE));
    /// # process.terminate();
    /// ```
    pub fn translation(&self, va: u64) -> Option<Translation> {
        if !self.contains(va) {
            return None;
        }
        self.page_table.lock().query(va)
    }

    /// The root page table's physical address (load into CR3 / TTBR0).
    pub fn root_table(&self) -> PhysAddr {
        self.root_table
    }

    /// The root's PCID / ASID in the current generation, given now if it
    /// has none: for debuggers and tests that read through the view
    /// without a CPU. A host switching a CPU in uses
    /// [`Kernel::user_view`](crate::Kernel::user_view), which also says
    /// when the CPU must flush.
    pub fn asid(&self) -> Asid {
        self.asids.current(&self.slot)
    }

    /// The root VMAR's node, `None` after it was destroyed.
    pub fn root_region(&self) -> Option<SlabId> {
        self.tree.lock().root
    }

    /// The koid of region `id`.
    ///
    /// # Errors
    ///
    /// `BAD_STATE` if it was destroyed.
    pub fn region_koid(&self, id: SlabId) -> Result<u64> {
        Ok(self.tree.lock().region(id)?.koid)
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// A unique id of this address space (VMOs key their mapping records
    /// by it).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(super) fn weak(&self) -> Weak<AddressSpace<P>> {
        self.this.clone()
    }

    pub(super) fn new_batch(&self) -> TlbBatch {
        TlbBatch::for_target::<P::Arch>(self.tags.nominal())
    }

    /// Flushes `batch`, aimed at the identifiers the views hold now.
    pub(super) fn flush(&self, mut batch: TlbBatch) {
        flush_tagged(&self.platform, &self.tags, &mut batch);
    }

    /// Removes the translations of `[va, va + len)` and flushes them. Takes
    /// only the page-table lock: VMOs call it while holding their own lock.
    pub(crate) fn unmap_translations(&self, va: u64, len: u64) {
        let mut batch = self.new_batch();
        {
            let mut pt = self.page_table.lock();
            // Only 4 KiB leaves are ever mapped for VMOs, so no split (and no
            // frame) is ever needed here.
            let mut none = FrameReserve::empty(&self.platform);
            let _ = pt.unmap(va, len, &mut batch, &mut none);
        }
        self.flush(batch);
    }

    /// The (region, base, size, koid) of a new sub-region.
    ///
    /// # Errors
    ///
    /// In Zircon's order: `BAD_STATE` (parent destroyed), `INVALID_ARGS`
    /// (size 0), `ACCESS_DENIED` (`CAN_MAP_*` beyond the parent's), then the
    /// placement's errors (see [`Placement`]), `NO_MEMORY`.
    pub(crate) fn allocate(
        &self,
        parent: SlabId,
        placement: Placement,
        size: u64,
        can_map: Perms,
        can_map_specific: bool,
    ) -> Result<(SlabId, u64, u64)> {
        let mut tree = self.tree.lock();
        let region = tree.region(parent)?;
        // An empty region would be filed under the key of a child already
        // at that base, orphaning it (Zircon: INVALID_ARGS, right after the
        // state check).
        if size == 0 {
            return Err(Error::InvalidArgs("size is zero"));
        }
        // Only R/W/X are bounded by the parent (Zircon's CreateSubVmarInner):
        // a child may have CAN_MAP_SPECIFIC where its parent has not.
        if !region.can_map.contains(can_map) {
            return Err(Error::AccessDenied(
                "sub-VMAR asks for more than its parent",
            ));
        }
        let base = tree.place(region, placement, size)?;
        let koid = next_koid();
        tree.regions.reserve(1)?;
        let id = tree.regions.insert(Region {
            base,
            size,
            parent: Some(parent),
            can_map,
            can_map_specific,
            children: Default::default(),
            koid,
            hint: base,
        })?;
        if let Some(p) = tree.regions.get_mut(parent) {
            p.children.insert(base, Child::Region(id));
            p.hint = base + size;
        }
        Ok((id, base, koid))
    }

    /// Maps what `req` asks at `placement` in region `region_id`; returns
    /// the address.
    ///
    /// # Errors
    ///
    /// `BAD_STATE`, `INVALID_ARGS` (length 0), `ACCESS_DENIED` (beyond the
    /// region's `CAN_MAP_*`), then the placement's errors (see
    /// [`Placement`]; `SPECIFIC_OVERWRITE` as `SPECIFIC`, and a sub-VMAR in
    /// the range is `INVALID_ARGS`), `NO_MEMORY`.
    pub(crate) fn map(
        &self,
        region_id: SlabId,
        placement: Placement,
        req: MapRequest<P>,
    ) -> Result<u64> {
        let MapRequest {
            vmo,
            vmo_offset,
            len,
            perms,
            max,
            overwrite,
            map_range,
        } = req;
        let mut tree = self.tree.lock();
        let region = tree.region(region_id)?;
        if len == 0 {
            return Err(Error::InvalidArgs("length is zero"));
        }
        if !region.can_map.contains(perms) {
            return Err(Error::AccessDenied(
                "permissions beyond the VMAR's CAN_MAP_*",
            ));
        }
        let max = max & region.can_map;
        if overwrite {
            let Placement::Specific { offset, align } = placement else {
                return Err(Error::InvalidArgs("SPECIFIC_OVERWRITE without SPECIFIC"));
            };
            // Same order as a plain specific placement (and Zircon's
            // CreateSubVmarInner): the offset's alignment first.
            if !is_page_aligned(offset) {
                return Err(Error::InvalidArgs("offset not page aligned"));
            }
            if !region.can_map_specific {
                return Err(Error::AccessDenied("VMAR lacks CAN_MAP_SPECIFIC"));
            }
            let base = tree.specific_base(region, offset, len, align)?;
            // Overwrite replaces mappings only; a sub-VMAR in the way fails.
            let mut batch = self.new_batch();
            let r = self.unmap_locked(
                &mut tree,
                region_id,
                base,
                len,
                Reach::MappingsOnly,
                &mut batch,
            );
            self.flush(batch);
            r?;
        }
        let region = tree.region(region_id)?;
        let base = tree.place(region, placement, len)?;
        tree.mappings.reserve(1)?;
        let id = tree.mappings.insert(Mapping {
            base,
            size: len,
            parent: region_id,
            vmo: vmo.clone(),
            vmo_offset,
            max,
            prot: ProtRanges::Uniform(perms),
        })?;
        if let Some(r) = tree.regions.get_mut(region_id) {
            r.children.insert(base, Child::Mapping(id));
            r.hint = base + len;
        }
        vmo.add_link(
            (self.id, id),
            Link {
                aspace: self.weak(),
                base,
                offset: vmo_offset,
                len,
            },
        )?;
        if map_range {
            self.map_committed(&vmo, base, vmo_offset, len, perms);
        }
        Ok(base)
    }

    /// `MAP_RANGE`: maps the already committed pages of a new mapping.
    fn map_committed(&self, vmo: &Vmo<P>, base: u64, vmo_offset: u64, len: u64, perms: Perms) {
        let mut batch = self.new_batch();
        vmo.for_each_committed(vmo_offset, len, |offset, resolved| {
            let mut flags = mmu_flags(perms);
            if !resolved.writable {
                flags.remove(MmuFlags::WRITE);
            }
            let va = base + (offset - vmo_offset);
            // A failure (no page-table frame) just leaves the page to be
            // faulted in later.
            let _ =
                self.page_table
                    .lock()
                    .map(va, resolved.frame, PageSize::Size4K, flags, &mut batch);
        });
        self.flush(batch);
    }

    /// Resolves a user page fault at `va`: commits the VMO page (copying it
    /// for a write to a snapshot) and maps it with the mapping's protection
    /// at `va`.
    ///
    /// # Errors
    ///
    /// The fault cannot be resolved: `NOT_FOUND` (nothing mapped),
    /// `ACCESS_DENIED` (the protection forbids `access`), `OUT_OF_RANGE`
    /// (beyond the VMO's end), `NO_MEMORY`.
    pub fn page_fault(&self, va: u64, access: Access) -> Result<()> {
        let tree = self.tree.lock();
        let id = tree
            .mapping_at(va)
            .ok_or(Error::NotFound("no mapping at the fault address"))?;
        let m = tree
            .mappings
            .get(id)
            .ok_or(Error::NotFound("no mapping at the fault address"))?;
        let perms = m.prot.at(va);
        if !perms.allows(access) {
            return Err(Error::AccessDenied("protection forbids the access"));
        }
        let page_va = va & !(PAGE_SIZE - 1);
        let offset = m.offset_of(page_va);
        let mut batch = self.new_batch();
        let result = m.vmo.fault_in(offset, access == Access::Write, |resolved| {
            let mut flags = mmu_flags(perms);
            if !resolved.writable {
                flags.remove(MmuFlags::WRITE);
            }
            let mut pt = self.page_table.lock();
            if let Some(t) = pt.query(page_va) {
                if t.pa == resolved.frame && t.flags == flags {
                    // Another CPU resolved it first.
                    return Ok(());
                }
                let mut none = FrameReserve::empty(&self.platform);
                pt.unmap(page_va, PAGE_SIZE, &mut batch, &mut none)?;
            }
            pt.map(page_va, resolved.frame, PageSize::Size4K, flags, &mut batch)
        });
        drop(tree);
        self.flush(batch);
        result
    }
}

impl<P: Platform> Drop for AddressSpace<P> {
    fn drop(&mut self) {
        // No translation tagged with this ASID may survive its reuse. (The
        // page table frees its own table frames when it drops; the mappings
        // release their VMOs.)
        let mut batch = self.new_batch();
        batch.add_address_space();
        self.flush(batch);
        self.asids.release(&self.slot);
        if let Some(u) = &self.unified_slot {
            self.asids.release(u);
        }
    }
}

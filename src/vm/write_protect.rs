//! Taking `WRITE` away from existing translations, for VMOs whose frames
//! just became shared (a `ZX_VMO_CHILD_SNAPSHOT` or bidirectional
//! `SNAPSHOT_AT_LEAST_ON_WRITE` child was made).
//!
//! Like [`AddressSpace::unmap_translations`], this takes only the
//! page-table lock (4th in the crate's order), so a VMO may call it while it
//! holds its own tree lock; the mapping's permissions are read from the
//! translation itself. The changed translations go into one [`TlbBatch`]
//! flushed through the platform before the call returns.
//!
//! [`TlbBatch`]: crate::mmu::TlbBatch

use crate::mmu::{FrameReserve, MmuFlags};
use crate::platform::{PAGE_SIZE, Platform};

use super::aspace::AddressSpace;

impl<P: Platform> AddressSpace<P> {
    /// Makes the translations of the pages at `pages` (page-aligned
    /// addresses, ascending) read-only, keeping their other permissions;
    /// pages without a writable translation are left alone. Runs of
    /// neighbouring pages with the same permissions change in one
    /// page-table walk.
    pub(crate) fn remove_write(&self, pages: impl Iterator<Item = u64>) {
        let mut batch = self.new_batch();
        {
            let mut pt = self.page_table.lock();
            // VMOs are mapped with 4 KiB leaves only, so no split (and no
            // frame) is ever needed.
            let mut none = FrameReserve::empty(self.platform());
            let mut run: Option<(u64, u64, MmuFlags)> = None;
            let mut apply = |run: (u64, u64, MmuFlags), pt: &mut crate::mmu::PageTable<P>| {
                let (lo, hi, flags) = run;
                if pt
                    .protect(lo, hi - lo, flags, &mut batch, &mut none)
                    .is_err()
                {
                    // Cannot happen for 4 KiB leaves; never leave a shared
                    // frame writable: take the translations away instead.
                    let unmapped = pt.unmap(lo, hi - lo, &mut batch, &mut none);
                    debug_assert!(unmapped.is_ok(), "write-protect failed: {unmapped:?}");
                }
            };
            for va in pages {
                let Some(t) = pt.query(va).filter(|t| t.flags.contains(MmuFlags::WRITE)) else {
                    continue;
                };
                let flags = t.flags.difference(MmuFlags::WRITE);
                run = match run {
                    Some((lo, hi, f)) if hi == va && f == flags => Some((lo, hi + PAGE_SIZE, f)),
                    Some(done) => {
                        apply(done, &mut pt);
                        Some((va, va + PAGE_SIZE, flags))
                    }
                    None => Some((va, va + PAGE_SIZE, flags)),
                };
            }
            if let Some(done) = run {
                apply(done, &mut pt);
            }
        }
        self.flush(batch);
    }
}

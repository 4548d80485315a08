//! `zx_vmar_protect`'s range work: the check pass and the apply pass
//! (SPEC §2 steps 6–8).
//!
//! Both passes run under the address-space lock. The check pass walks the
//! range in address order, through sub-VMARs, and changes nothing. Then
//! everything the apply pass could need is reserved: page-table frames for
//! huge-page splits (summed over every range) and room in each mapping's
//! protection-range list. The apply pass then cannot fail, so a protect
//! either changes every permission it names or none.
//!
//! Copy-on-write VMOs — snapshot children, and the parent side of a
//! snapshot, whose shared pages a hidden node holds — may have a frame
//! they do not own mapped read-only in place of a page they have not
//! copied yet. Granting `WRITE` must not make such a translation writable,
//! so for mappings of those VMOs the translations get the new permissions
//! without `WRITE`; the first write then faults, the page is copied (or, if
//! it is already private, simply remapped writable), and no exit to user
//! space happens.

use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::heap::Reserve;
use crate::mmu::{FrameReserve, MmuFlags};
use crate::platform::Platform;

use super::Perms;
use super::aspace::{AddressSpace, mmu_flags};
use super::region::Item;
use super::slab::SlabId;

/// Whether the handle used for a protect may reach into sub-VMARs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpChildren {
    /// The handle has `ZX_RIGHT_OP_CHILDREN`.
    Allowed,
    /// It does not.
    Denied,
}

impl<P: Platform> AddressSpace<P> {
    /// Steps 6–8 of `zx_vmar_protect` on region `region` (whose handle
    /// passed the rights and option checks): `len` is the caller's length,
    /// not yet rounded.
    ///
    /// # Errors
    ///
    /// In order: `INVALID_ARGS` (length rounds to 0), `BAD_STATE` (VMAR
    /// destroyed), `INVALID_ARGS` (the range overflows or lies outside the
    /// VMAR), then from the check pass `NOT_FOUND` (a hole),
    /// `ACCESS_DENIED` (beyond a mapping's maximum), `INVALID_ARGS` (a
    /// mapping in a sub-VMAR without `OP_CHILDREN`), `ACCESS_DENIED` (an
    /// upgrade inside a sub-VMAR); finally `NO_MEMORY` from the
    /// reservation. On any error nothing changed.
    pub fn protect(
        &self,
        region: SlabId,
        base: u64,
        len: u64,
        perms: Perms,
        op_children: OpChildren,
    ) -> Result<()> {
        let len = super::round_up_page(len)
            .filter(|l| *l != 0)
            .ok_or(Error::InvalidArgs("length rounds to 0 or overflows"))?;
        let mut tree = self.tree.lock();
        // As current Zircon's VmAddressRegion::Protect: a destroyed VMAR
        // is BAD_STATE before any range check, overflow included.
        let r = tree.region(region)?;
        let end = base
            .checked_add(len)
            .ok_or(Error::InvalidArgs("range overflows"))?;
        if base < r.base || end > r.end() {
            return Err(Error::InvalidArgs("range outside the VMAR"));
        }

        // Check pass: what to change, nothing changed.
        let mut targets: Vec<(SlabId, u64, u64)> = Vec::new();
        let mut cursor = base;
        while cursor < end {
            let (item, item_end) = tree.item_at(region, cursor);
            let Item::Mapping { id, nested } = item else {
                return Err(Error::NotFound("unmapped hole in the range"));
            };
            let m = tree
                .mappings
                .get(id)
                .ok_or(Error::NotFound("unmapped hole in the range"))?;
            let hi = item_end.min(end);
            if !m.max.contains(perms) {
                return Err(Error::AccessDenied(
                    "beyond the mapping's maximum permissions",
                ));
            }
            if nested {
                if op_children == OpChildren::Denied {
                    return Err(Error::InvalidArgs(
                        "mapping in a sub-VMAR without OP_CHILDREN",
                    ));
                }
                if !m.prot.all_contain(cursor, hi, m.end(), perms) {
                    return Err(Error::AccessDenied("only downgrades inside sub-VMARs"));
                }
            }
            targets.reserve_fallibly(1)?;
            targets.push((id, cursor, hi));
            cursor = hi;
        }

        // The page-table flags of each target, asked of the VMO now: its
        // lock comes before the page-table lock in the crate's order (a
        // shrinking VMO strips translations while holding it). Adjacent
        // targets (the check pass leaves no gap) with the same flags are
        // one page-table walk.
        let mut runs: Vec<(u64, u64, MmuFlags)> = Vec::new();
        runs.reserve_fallibly(targets.len())?;
        for (id, lo, hi) in &targets {
            let Some(m) = tree.mappings.get(*id) else {
                continue;
            };
            let mut flags = mmu_flags(perms);
            if m.vmo.may_share_frames() {
                flags.remove(MmuFlags::WRITE);
            }
            match runs.last_mut() {
                Some((_, end, f)) if *end == *lo && *f == flags => *end = *hi,
                _ => runs.push((*lo, *hi, flags)),
            }
        }

        // Reserve everything the apply pass needs.
        let frames = {
            let pt = self.page_table.lock();
            runs.iter().fold(0usize, |n, (lo, hi, _)| {
                n.saturating_add(pt.frames_needed(*lo, hi - lo))
            })
        };
        let mut reserve = FrameReserve::new(self.platform(), frames)?;
        for (id, lo, hi) in &targets {
            if let Some(m) = tree.mappings.get_mut(*id) {
                // Covering the whole mapping leaves one protection for it:
                // nothing to make room for.
                if *lo > m.base || *hi < m.end() {
                    let mb = m.base;
                    m.prot.reserve_for_set(mb)?;
                }
            }
        }

        // Apply pass: cannot fail.
        for (id, lo, hi) in &targets {
            if let Some(m) = tree.mappings.get_mut(*id) {
                let (mb, me) = (m.base, m.end());
                m.prot.set(mb, me, *lo, *hi, perms);
            }
        }
        let mut batch = self.new_batch();
        {
            let mut pt = self.page_table.lock();
            for (lo, hi, flags) in &runs {
                if pt
                    .protect(*lo, hi - lo, *flags, &mut batch, &mut reserve)
                    .is_err()
                {
                    // Reserved above: a failure here is a crate bug. The
                    // permission bookkeeping is already updated, and the
                    // worst a stale translation can do is fault again.
                    debug_assert!(false, "protect failed after reservation");
                }
            }
        }
        drop(tree);
        self.flush(batch);
        Ok(())
    }
}

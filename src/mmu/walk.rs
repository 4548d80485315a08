//! The range operations of [`PageTable`]: [`protect`](PageTable::protect)
//! and [`unmap`](PageTable::unmap).
//!
//! Both recurse table by table: at each level they visit only the entries
//! the range touches, descend into tables, and handle leaves in place. The
//! level-0 loop (512 entries per table) is the hot path of
//! `zx_vmar_protect` over populated memory: one relaxed load, a
//! mask-and-or and, if the entry changed, one relaxed store per entry, with
//! the TLB batch updated once per table.
//!
//! A large leaf the range covers whole is rewritten (or cleared) in place.
//! One the range cuts is split first: a table of 512 smaller leaves that
//! translate exactly like it replaces it (see [`SplitStyle`]), then the
//! walk continues into that table. Protect skips the split when the new
//! permissions equal the old ones.
//!
//! Accessed/dirty bits the MMU sets between our load and store of an entry
//! may be lost; the crate does not use them (no page-out), and it keeps
//! every bit it read.
//!
//! Locking: as [`PageTable`]; these run under the address-space lock
//! (`&mut self`).

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering, fence};

use crate::error::{Error, Result};
use crate::mmu::flags::{MmuFlags, check_range};
use crate::mmu::format::{
    ENTRIES, EntryKind, LEVELS, LeafUpdate, PageTableFormat, ROOT_LEVEL, SplitStyle, index,
    level_size,
};
use crate::mmu::page_table::{Fmt, PageTable, table_base};
use crate::mmu::reserve::FrameReserve;
use crate::mmu::tlb::TlbBatch;
use crate::platform::{PAGE_SIZE, PhysAddr, Platform};

/// The mutable state of one range operation.
struct Cx<'a, P: Platform> {
    batch: &'a mut TlbBatch,
    reserve: &'a mut FrameReserve<P>,
    /// Tables unlinked by an unmap, to free after the flush.
    retired: &'a mut Vec<PhysAddr>,
}

/// Rewrites the present leaves of a level-0 table slice; returns the first
/// and last index it changed.
#[inline(always)]
fn protect_leaves<F: PageTableFormat>(
    words: &[AtomicU64],
    update: LeafUpdate,
) -> Option<(usize, usize)> {
    let mut first = usize::MAX;
    let mut last = 0;
    for (i, slot) in words.iter().enumerate() {
        let old = slot.load(Ordering::Relaxed);
        let new = update.apply(old);
        if F::is_present(old) && new != old {
            slot.store(new, Ordering::Relaxed);
            first = first.min(i);
            last = i;
        }
    }
    (first != usize::MAX).then_some((first, last))
}

/// Clears the present leaves of a level-0 table slice; returns the first
/// and last index it cleared.
#[inline(always)]
fn clear_leaves<F: PageTableFormat>(words: &[AtomicU64]) -> Option<(usize, usize)> {
    let mut first = usize::MAX;
    let mut last = 0;
    for (i, slot) in words.iter().enumerate() {
        if F::is_present(slot.load(Ordering::Relaxed)) {
            slot.store(0, Ordering::Relaxed);
            first = first.min(i);
            last = i;
        }
    }
    (first != usize::MAX).then_some((first, last))
}

impl<P: Platform> PageTable<P> {
    /// Changes the permissions of every translation in `[va, va + len)`
    /// to `flags`, keeping physical addresses and accessed/dirty bits.
    ///
    /// Unmapped pages stay unmapped. Empty `flags` (no READ, WRITE or
    /// EXECUTE) remove the translations instead, as
    /// [`unmap`](PageTable::unmap). Changed translations are added to
    /// `batch`. Frames for splits come from `reserve`, which is first
    /// topped up to [`frames_needed`](PageTable::frames_needed); frames it
    /// still holds afterwards stay in it.
    ///
    /// # Errors
    ///
    /// - `INVALID_ARGS`: `va` or `len` not page aligned, the range
    ///   overflows or leaves the user address space, or `batch` is for
    ///   another ASID.
    /// - `NO_MEMORY`: the reserve could not be topped up.
    ///
    /// Nothing changed when an error is returned.
    pub fn protect(
        &mut self,
        va: u64,
        len: u64,
        flags: MmuFlags,
        batch: &mut TlbBatch,
        reserve: &mut FrameReserve<P>,
    ) -> Result<()> {
        if !flags.grants_access() {
            return self.unmap(va, len, batch, reserve);
        }
        self.check_batch(batch)?;
        let end = check_range(va, len, Fmt::<P>::VA_LIMIT)?;
        if len == 0 {
            return Ok(());
        }
        reserve.ensure(self.frames_needed(va, len))?;
        let mut updates = [LeafUpdate { keep: !0, set: 0 }; LEVELS];
        for (level, u) in updates.iter_mut().enumerate().take(ROOT_LEVEL) {
            *u = Fmt::<P>::leaf_update(flags, level);
        }
        let mut retired = Vec::new();
        let mut cx = Cx {
            batch,
            reserve,
            retired: &mut retired,
        };
        let result = self.protect_in(&mut cx, &updates, self.root, ROOT_LEVEL, va, end);
        Fmt::<P>::publish();
        result
    }

    fn protect_in(
        &self,
        cx: &mut Cx<'_, P>,
        updates: &[LeafUpdate; LEVELS],
        table: PhysAddr,
        level: usize,
        start: u64,
        end: u64,
    ) -> Result<()> {
        let mem = self.mem(table);
        let first = index(start, level);
        let last = index(end - 1, level);
        let words = &mem.words()[first..=last];
        let span = level_size(level);
        let mut base = table_base(start, level) + first as u64 * span;
        if level == 0 {
            if let Some((lo, hi)) = protect_leaves::<Fmt<P>>(words, updates[0]) {
                cx.batch.add_range(
                    base + lo as u64 * PAGE_SIZE,
                    (hi - lo + 1) as u64 * PAGE_SIZE,
                );
            }
            return Ok(());
        }
        for slot in words {
            let entry = slot.load(Ordering::Relaxed);
            let (lo, hi) = (start.max(base), end.min(base + span));
            match Fmt::<P>::kind(entry, level) {
                EntryKind::Absent => {}
                EntryKind::Table => {
                    let next = Fmt::<P>::table_addr(entry);
                    self.protect_in(cx, updates, next, level - 1, lo, hi)?;
                }
                EntryKind::Leaf => {
                    let new = updates[level].apply(entry);
                    if new == entry {
                        // Same permissions: nothing to change, nothing to split.
                    } else if lo == base && hi == base + span {
                        slot.store(new, Ordering::Relaxed);
                        // One invalidation by address drops a large leaf.
                        cx.batch.add_page(base);
                    } else {
                        let next = self.split(cx, slot, entry, level, base)?;
                        self.protect_in(cx, updates, next, level - 1, lo, hi)?;
                    }
                }
            }
            base += span;
        }
        Ok(())
    }

    /// Removes every translation in `[va, va + len)`, splitting a large
    /// leaf the range cuts, and frees the tables that become empty (never
    /// the root). The pages mapped are not freed: they belong to VMOs.
    ///
    /// Removed translations are added to `batch`. If tables were freed, the
    /// batch has been widened to the whole ASID, flushed with
    /// [`Platform::flush_tlb`] (walk caches must forget a table before its
    /// frame is reused) and emptied; flushing the empty batch again is
    /// harmless. Frames for splits come from `reserve` as for
    /// [`protect`](PageTable::protect).
    ///
    /// # Errors
    ///
    /// As [`protect`](PageTable::protect); nothing changed when an error is
    /// returned.
    pub fn unmap(
        &mut self,
        va: u64,
        len: u64,
        batch: &mut TlbBatch,
        reserve: &mut FrameReserve<P>,
    ) -> Result<()> {
        self.check_batch(batch)?;
        let end = check_range(va, len, Fmt::<P>::VA_LIMIT)?;
        if len == 0 {
            return Ok(());
        }
        reserve.ensure(self.frames_needed(va, len))?;
        // Reuse the list's capacity from one unmap to the next.
        let mut retired = core::mem::take(&mut self.retired);
        let mut cx = Cx {
            batch: &mut *batch,
            reserve,
            retired: &mut retired,
        };
        let result = self.unmap_in(&mut cx, self.root, ROOT_LEVEL, va, end);
        Fmt::<P>::publish();
        self.release_retired(batch, &mut retired);
        self.retired = retired;
        result.map(|_| ())
    }

    /// Unmaps `[start, end)` inside `table`; returns whether the table is
    /// now empty (never for the root).
    fn unmap_in(
        &self,
        cx: &mut Cx<'_, P>,
        table: PhysAddr,
        level: usize,
        start: u64,
        end: u64,
    ) -> Result<bool> {
        let mem = self.mem(table);
        let first = index(start, level);
        let last = index(end - 1, level);
        let span = level_size(level);
        let table_start = table_base(start, level);
        let mut base = table_start + first as u64 * span;
        let words = &mem.words()[first..=last];
        if level == 0 {
            if let Some((lo, hi)) = clear_leaves::<Fmt<P>>(words) {
                cx.batch.add_range(
                    base + lo as u64 * PAGE_SIZE,
                    (hi - lo + 1) as u64 * PAGE_SIZE,
                );
            }
        } else {
            for slot in words {
                let entry = slot.load(Ordering::Relaxed);
                let (lo, hi) = (start.max(base), end.min(base + span));
                match Fmt::<P>::kind(entry, level) {
                    EntryKind::Absent => {}
                    EntryKind::Table => {
                        let next = Fmt::<P>::table_addr(entry);
                        if self.unmap_in(cx, next, level - 1, lo, hi)? {
                            slot.store(0, Ordering::Relaxed);
                            self.retire(cx, next);
                        }
                    }
                    EntryKind::Leaf if lo == base && hi == base + span => {
                        slot.store(0, Ordering::Relaxed);
                        cx.batch.add_page(base);
                    }
                    EntryKind::Leaf => {
                        let next = self.split(cx, slot, entry, level, base)?;
                        // Part of the split leaf stays, so it is not empty.
                        self.unmap_in(cx, next, level - 1, lo, hi)?;
                    }
                }
                base += span;
            }
        }
        if level == ROOT_LEVEL {
            return Ok(false);
        }
        let whole = start == table_start && end - start == span * ENTRIES as u64;
        Ok(whole || mem.words().iter().all(|w| w.load(Ordering::Relaxed) == 0))
    }

    /// Replaces the large leaf `entry` of `level` in `slot` (mapping from
    /// `base`) by a table of 512 leaves one level down that translate the
    /// same way; returns the new table.
    ///
    /// # Errors
    ///
    /// `NO_MEMORY` only if the reserve is empty and the platform has no
    /// frame, which the callers' reservation of
    /// [`frames_needed`](PageTable::frames_needed) rules out.
    fn split(
        &self,
        cx: &mut Cx<'_, P>,
        slot: &AtomicU64,
        entry: u64,
        level: usize,
        base: u64,
    ) -> Result<PhysAddr> {
        let frame = match cx.reserve.take() {
            Some(f) => f,
            None => self.platform.alloc_frame().ok_or(Error::NoMemory)?,
        };
        // From here on `frame` is one of our tables (invariant 1).
        let first = Fmt::<P>::split_first(entry, level);
        let step = level_size(level - 1);
        let mut child = first;
        for w in self.mem(frame).words() {
            w.store(child, Ordering::Relaxed);
            child = child.wrapping_add(step);
        }
        // The new table is complete before the walker can reach it.
        fence(Ordering::Release);
        let table = Fmt::<P>::table_entry(frame);
        match Fmt::<P>::SPLIT {
            SplitStyle::Swap => slot.store(table, Ordering::Relaxed),
            SplitStyle::BreakBeforeMake => {
                slot.store(0, Ordering::Relaxed);
                let mut one = TlbBatch::new::<P::Arch>(self.asid);
                one.add_page(base);
                // Begins with `dsb ishst`, so the invalid entry is seen
                // before the block is invalidated.
                self.platform.flush_tlb(&one);
                slot.store(table, Ordering::Relaxed);
            }
        }
        Ok(frame)
    }

    /// Keeps an unlinked table until the flush; if the list cannot grow,
    /// flushes now and frees everything retired so far.
    fn retire(&self, cx: &mut Cx<'_, P>, table: PhysAddr) {
        if cx.retired.try_reserve(1).is_ok() {
            cx.retired.push(table);
            return;
        }
        cx.batch.add_address_space();
        self.platform.flush_tlb(cx.batch);
        *cx.batch = TlbBatch::new::<P::Arch>(self.asid);
        for frame in cx.retired.drain(..) {
            self.platform.free_frame(frame);
        }
        self.platform.free_frame(table);
    }

    /// Flushes the batch (widened to the ASID) and frees the retired
    /// tables, if any.
    fn release_retired(&self, batch: &mut TlbBatch, retired: &mut Vec<PhysAddr>) {
        if retired.is_empty() {
            return;
        }
        batch.add_address_space();
        self.platform.flush_tlb(batch);
        *batch = TlbBatch::new::<P::Arch>(self.asid);
        for frame in retired.drain(..) {
            self.platform.free_frame(frame);
        }
    }
}

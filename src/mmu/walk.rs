//! The range operations of [`PageTable`]: [`protect`](PageTable::protect)
//! and [`unmap`](PageTable::unmap).
//!
//! Both recurse table by table: at each level they visit only the entries
//! the range touches, descend into tables, and handle leaves in place. The
//! level-0 loop (512 entries per table) is the hot path of
//! `zx_vmar_protect` over populated memory, in three variants:
//! - while the TLB batch still names single pages, each entry is tested,
//!   rewritten only if it changes, and the changed span added to the batch;
//! - once the batch covers the whole address space, which entries changed
//!   no longer matters: eight loads, then eight stores, testing validity
//!   once per eight;
//! - for a table whose parent entry carries
//!   [`PageTableFormat::FULL_TABLE_HINT`] (all 512 entries valid, all with
//!   the permission bits the entry records), no test at all: over the
//!   whole table one xor per entry flips the bits that differ; over part
//!   of it a load, an and, an or and a store per entry. Protect sets the
//!   hint when it leaves a whole table full and uniform and clears it when
//!   it leaves one mixed; unmap clears it before it removes entries. Map
//!   never writes into a hinted table (all its slots are taken).
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
use crate::heap::Reserve;
use crate::mmu::flags::{MmuFlags, check_range};
use crate::mmu::format::{
    ENTRIES, EntryKind, LEVELS, LeafUpdate, PageTableFormat, ROOT_LEVEL, SplitStyle, index,
    level_size,
};
use crate::mmu::frame::xor_words;
use crate::mmu::page_table::{Fmt, PageTable, table_base};
use crate::mmu::reserve::FrameReserve;
use crate::mmu::tlb::{TlbBatch, TlbScope};
use crate::platform::{PAGE_SIZE, PhysAddr, Platform};

/// The state of one range operation.
struct Cx<'a, P: Platform> {
    /// Protect: how to rewrite a leaf of each level.
    updates: [LeafUpdate; LEVELS],
    batch: &'a mut TlbBatch,
    reserve: &'a mut FrameReserve<P>,
    /// Tables unlinked by an unmap, to free after the flush.
    retired: &'a mut Vec<PhysAddr>,
}

/// Rewrites the present leaves of a level-0 table slice; returns the first
/// and last index it changed, and whether every entry is valid.
#[inline(always)]
fn protect_leaves<F: PageTableFormat>(
    words: &[AtomicU64],
    update: LeafUpdate,
) -> (Option<(usize, usize)>, bool) {
    let mut first = usize::MAX;
    let mut last = 0;
    let mut all_valid = true;
    for (i, slot) in words.iter().enumerate() {
        let old = slot.load(Ordering::Relaxed);
        let new = update.apply(old);
        let present = F::is_present(old);
        all_valid &= present;
        if present && new != old {
            slot.store(new, Ordering::Relaxed);
            first = first.min(i);
            last = i;
        }
    }
    ((first != usize::MAX).then_some((first, last)), all_valid)
}

/// [`protect_leaves`] for when the batch already names the whole address
/// space, so which entries changed does not matter; returns whether every
/// entry of `words` is valid.
///
/// Eight entries at a time: when all eight are valid (populated memory)
/// each is a load, an and, an or and a store; otherwise each invalid entry
/// is stored back unchanged.
#[inline(always)]
fn protect_leaves_untracked<F: PageTableFormat>(words: &[AtomicU64], update: LeafUpdate) -> bool {
    let mut all_valid = true;
    let mut chunks = words.chunks_exact(8);
    for chunk in &mut chunks {
        let mut old = [0u64; 8];
        for (o, slot) in old.iter_mut().zip(chunk) {
            *o = slot.load(Ordering::Relaxed);
        }
        if F::is_present(old.iter().fold(!0, |acc, &e| acc & e)) {
            for (&o, slot) in old.iter().zip(chunk) {
                slot.store(update.apply(o), Ordering::Relaxed);
            }
        } else {
            all_valid = false;
            for (&o, slot) in old.iter().zip(chunk) {
                let new = if F::is_present(o) { update.apply(o) } else { o };
                slot.store(new, Ordering::Relaxed);
            }
        }
    }
    for slot in chunks.remainder() {
        let old = slot.load(Ordering::Relaxed);
        if F::is_present(old) {
            slot.store(update.apply(old), Ordering::Relaxed);
        } else {
            all_valid = false;
        }
    }
    all_valid
}

/// Flips `delta` in every entry of `words`: the whole-table protect of a
/// table whose leaves are known to be valid with the same permission bits
/// ([`PageTableFormat::hinted_perms`]), `delta` being the old permission
/// bits xor the new ones.
///
/// An xor streams through tables measurably faster than a separate
/// load, `and`, `or` and store per entry (one `xor` with a memory operand
/// on x86_64, or SSE2 where available: [`xor_words`]); it keeps every bit
/// outside `delta`, accessed/dirty bits included, exactly as the general
/// update does.
#[inline(always)]
fn xor_leaves(words: &[AtomicU64], delta: u64) {
    xor_words(words, delta);
}

/// [`protect_leaves_untracked`] for a table known to be full
/// ([`PageTableFormat::FULL_TABLE_HINT`]): no validity test at all.
#[inline(always)]
fn protect_leaves_full(words: &[AtomicU64], update: LeafUpdate) {
    // Eight loads, then eight stores: interleaving a load after each store
    // to the same cache line runs at half the speed on the CPUs measured.
    let mut chunks = words.chunks_exact(8);
    for chunk in &mut chunks {
        let mut old = [0u64; 8];
        for (o, slot) in old.iter_mut().zip(chunk) {
            *o = slot.load(Ordering::Relaxed);
        }
        for (&o, slot) in old.iter().zip(chunk) {
            slot.store(update.apply(o), Ordering::Relaxed);
        }
    }
    for slot in chunks.remainder() {
        slot.store(
            update.apply(slot.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
    }
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

/// Makes the hint bits of `slot`, a level-1 entry pointing to a level-0
/// table, record `uniform` (the permission bits all 512 leaves share, all
/// valid) or nothing.
#[inline]
fn set_hint<F: PageTableFormat>(slot: &AtomicU64, uniform: Option<u64>) {
    let have = slot.load(Ordering::Relaxed) & F::HINT_BITS;
    let want = uniform.map_or(0, F::full_table_hint);
    if have != want {
        // Only bits the hardware ignores change (no TLB or BBM concern);
        // the RMW keeps accessed bits the MMU may be setting. The hint
        // bits change only under the address-space lock, so the xor
        // leaves exactly `want`.
        slot.fetch_xor(have ^ want, Ordering::Relaxed);
    }
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
            updates,
            batch,
            reserve,
            retired: &mut retired,
        };
        let result = self.protect_in(&mut cx, self.root, ROOT_LEVEL, va, end, None);
        Fmt::<P>::publish();
        result.map(|_| ())
    }

    /// Protects `[start, end)` inside `table` of `level`. `hinted` is what
    /// the parent entry's full-table hint records: every leaf of this
    /// (level-0) table valid with these permission bits. Returns, for a
    /// level-0 table, the permission bits all 512 leaves now share if they
    /// are all valid and the walk knows it (so the parent may record them);
    /// `None` otherwise.
    fn protect_in(
        &self,
        cx: &mut Cx<'_, P>,
        table: PhysAddr,
        level: usize,
        start: u64,
        end: u64,
        hinted: Option<u64>,
    ) -> Result<Option<u64>> {
        let mem = self.mem(table);
        let first = index(start, level);
        let last = index(end - 1, level);
        let words = &mem.words()[first..=last];
        let span = level_size(level);
        let mut base = table_base(start, level) + first as u64 * span;
        if level == 0 {
            return Ok(self.protect_leaf_table(cx, words, base, hinted));
        }
        for slot in words {
            let entry = slot.load(Ordering::Relaxed);
            let (lo, hi) = (start.max(base), end.min(base + span));
            match Fmt::<P>::kind(entry, level) {
                EntryKind::Absent => {}
                EntryKind::Table => {
                    let next = Fmt::<P>::table_addr(entry);
                    let hinted = if level == 1 {
                        Fmt::<P>::hinted_perms(entry)
                    } else {
                        None
                    };
                    let after = self.protect_in(cx, next, level - 1, lo, hi, hinted)?;
                    if level == 1 {
                        set_hint::<Fmt<P>>(slot, after);
                    }
                }
                EntryKind::Leaf => {
                    let new = cx.updates[level].apply(entry);
                    if new == entry {
                        // Same permissions: nothing to change, nothing to split.
                    } else if lo == base && hi == base + span {
                        slot.store(new, Ordering::Relaxed);
                        // One invalidation by address drops a large leaf.
                        cx.batch.add_page(base);
                    } else {
                        let next = self.split(cx, slot, entry, level, base)?;
                        // A split 2 MiB leaf gives 512 valid leaves with its
                        // permissions.
                        let hinted = (level == 1)
                            .then(|| Fmt::<P>::split_first(entry, level) & !cx.updates[0].keep);
                        let after = self.protect_in(cx, next, level - 1, lo, hi, hinted)?;
                        if level == 1 {
                            set_hint::<Fmt<P>>(slot, after);
                        }
                    }
                }
            }
            base += span;
        }
        Ok(None)
    }

    /// The level-0 part of [`protect_in`](PageTable::protect_in): protects
    /// `words` (a slice of one table, its first entry mapping `base`).
    fn protect_leaf_table(
        &self,
        cx: &mut Cx<'_, P>,
        words: &[AtomicU64],
        base: u64,
        hinted: Option<u64>,
    ) -> Option<u64> {
        let update = cx.updates[0];
        let whole = words.len() == ENTRIES;
        if let Some(old) = hinted {
            // Every leaf is valid with permission bits `old`, so each one
            // changes exactly when the table's permissions do.
            let delta = old ^ update.set;
            if delta == 0 {
                return Some(old);
            }
            if whole {
                xor_leaves(words, delta);
            } else {
                protect_leaves_full(words, update);
            }
            cx.batch.add_range(base, words.len() as u64 * PAGE_SIZE);
            return whole.then_some(update.set);
        }
        let all_valid = if cx.batch.scope() != TlbScope::AddressSpace {
            let (changed, all_valid) = protect_leaves::<Fmt<P>>(words, update);
            if let Some((lo, hi)) = changed {
                cx.batch.add_range(
                    base + lo as u64 * PAGE_SIZE,
                    (hi - lo + 1) as u64 * PAGE_SIZE,
                );
            }
            all_valid
        } else {
            protect_leaves_untracked::<Fmt<P>>(words, update)
        };
        (all_valid && whole).then_some(update.set)
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
            updates: [LeafUpdate { keep: !0, set: 0 }; LEVELS],
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
                        let hint = Fmt::<P>::HINT_BITS;
                        if entry & hint != 0 {
                            // The table is about to lose entries.
                            slot.fetch_and(!hint, Ordering::Relaxed);
                        }
                        let emptied = self.unmap_in(cx, next, level - 1, lo, hi)?;
                        if emptied && level == ROOT_LEVEL {
                            // Pinned tables stay linked (unified roots
                            // copied their entries once).
                            if !self.pinned_top {
                                self.store_root_entry(index(base, level), 0);
                                self.retire(cx, next);
                            }
                        } else if emptied {
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
    /// same way; returns the new table, whose entry carries no hint (the
    /// caller protects or unmaps part of it next and sets the hint itself
    /// if the result allows one).
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
                let mut one = self.new_batch();
                one.add_page(base);
                // Begins with `dsb ishst`, so the invalid entry is seen
                // before the block is invalidated.
                self.flush(&mut one);
                slot.store(table, Ordering::Relaxed);
            }
        }
        Ok(frame)
    }

    /// Keeps an unlinked table until the flush; if the list cannot grow,
    /// flushes now and frees everything retired so far.
    fn retire(&self, cx: &mut Cx<'_, P>, table: PhysAddr) {
        if cx.retired.reserve_fallibly(1).is_ok() {
            cx.retired.push(table);
            return;
        }
        cx.batch.add_address_space();
        self.flush(cx.batch);
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
        self.flush(batch);
        for frame in retired.drain(..) {
            self.platform.free_frame(frame);
        }
    }
}

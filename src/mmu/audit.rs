//! [`PageTable::audit`]: the structural invariants of a page table,
//! checked by reading every table (for tests, fuzzers and debugging).

use core::sync::atomic::{AtomicU64, Ordering};

use crate::mmu::flags::MmuFlags;
use crate::mmu::format::{ENTRIES, EntryKind, PageTableFormat, ROOT_LEVEL, level_size};
use crate::mmu::page_table::{Fmt, PageTable};
use crate::platform::{PhysAddr, Platform};

/// A broken invariant found by [`PageTable::audit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditError {
    /// The first address the offending entry (or table) maps.
    pub va: u64,
    /// The level of the table holding it.
    pub level: usize,
    /// What is wrong.
    pub what: &'static str,
}

impl<P: Platform> PageTable<P> {
    /// Checks the structural invariants of the tables and counts them: every
    /// entry is 0 or valid, no table below the root is empty, and the
    /// full-table hint sits only on entries whose table is full and whose
    /// leaves all have the permissions it records. For tests
    /// and debugging; it reads every table.
    ///
    /// # Errors
    ///
    /// The first violation found, with where it is.
    pub fn audit(&self) -> Result<usize, AuditError> {
        let entries = Fmt::<P>::KERNEL_ROOT_FIRST.min(ENTRIES);
        self.audit_table(self.root, ROOT_LEVEL, entries, 0)
    }

    /// Audits `table` (of `level`, mapping from `base`); returns the number
    /// of tables in it, itself included.
    fn audit_table(
        &self,
        table: PhysAddr,
        level: usize,
        entries: usize,
        base: u64,
    ) -> Result<usize, AuditError> {
        let words = self.mem(table).words();
        let mut tables = 1;
        let mut valid = 0;
        for (i, slot) in words[..entries].iter().enumerate() {
            let entry = slot.load(Ordering::Relaxed);
            let va = base + i as u64 * level_size(level);
            let fail = |what| Err(AuditError { va, level, what });
            match Fmt::<P>::kind(entry, level) {
                EntryKind::Absent if entry != 0 => return fail("invalid entry is not 0"),
                EntryKind::Absent => continue,
                EntryKind::Leaf => {}
                EntryKind::Table => {
                    let next = Fmt::<P>::table_addr(entry);
                    tables += self.audit_table(next, level - 1, ENTRIES, va)?;
                    match Fmt::<P>::hinted_perms(entry) {
                        None if entry & Fmt::<P>::HINT_BITS != 0 => {
                            return fail("hint bits without the full-table hint");
                        }
                        None => {}
                        Some(_) if level != 1 || self.count_valid(next) != ENTRIES => {
                            return fail("full-table hint on a table that is not full");
                        }
                        Some(perms) if !self.all_have_perms(next, perms) => {
                            return fail("full-table hint records other permissions");
                        }
                        Some(_) => {}
                    }
                }
            }
            valid += 1;
        }
        let pinned = self.pinned_top && level == ROOT_LEVEL - 1;
        if valid == 0 && level != ROOT_LEVEL && !pinned {
            return Err(AuditError {
                va: base,
                level,
                what: "empty table kept",
            });
        }
        Ok(tables)
    }

    /// Whether every leaf of the level-0 `table` has permission bits
    /// `perms`.
    fn all_have_perms(&self, table: PhysAddr, perms: u64) -> bool {
        let mask = !Fmt::<P>::leaf_update(MmuFlags::READ, 0).keep;
        let words = self.mem(table).words();
        words
            .iter()
            .all(|w| w.load(Ordering::Relaxed) & mask == perms)
    }

    fn count_valid(&self, table: PhysAddr) -> usize {
        let words = self.mem(table).words();
        let valid = |w: &&AtomicU64| Fmt::<P>::is_present(w.load(Ordering::Relaxed));
        words.iter().filter(valid).count()
    }
}

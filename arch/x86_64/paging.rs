//! The x86_64 4-level page-table format (PML4 → PDPT → PD → PT), as
//! [`X86_64Paging`] implements [`PageTableFormat`].
//!
//! Leaves: 4 KiB PTEs, 2 MiB PDEs and 1 GiB PDPTEs with PS (bit 7). Our
//! permissions map onto P (present), R/W, U/S and XD/NX (bit 63, which needs
//! `EFER.NXE`; the host enables it). x86 has no execute-only and no
//! write-only pages: every present page is readable, so
//! [`MmuFlags::encodable`](crate::mmu::MmuFlags::encodable) folds those
//! requests into R+X / R+W.
//!
//! Table entries are P | R/W | U/S without NX: permissions combine across
//! levels by AND (R/W, U/S) and OR (NX), so permissive tables let the leaf
//! decide alone.
//!
//! The memory type is write-back (PAT, PCD, PWT all 0) for every leaf we
//! create. The PAT bit is bit 7 in a PTE but bit 12 in a large leaf
//! (where bit 7 is PS), so a split moves it: see
//! [`split_first`](PageTableFormat::split_first). Leaves are never global
//! (G, bit 8): a user table's translations are tagged with its PCID.

use ::x86_64::structures::paging::PageTableFlags as F;

use crate::mmu::flags::MmuFlags;
use crate::mmu::format::{EntryKind, LeafUpdate, PageTableFormat, SplitStyle};
use crate::platform::PhysAddr;

/// Present.
const P: u64 = F::PRESENT.bits();
/// Writable.
const RW: u64 = F::WRITABLE.bits();
/// User accessible.
const US: u64 = F::USER_ACCESSIBLE.bits();
/// Page size: a 2 MiB PDE or 1 GiB PDPTE leaf (in a PTE, bit 7 is PAT).
const PS: u64 = F::HUGE_PAGE.bits();
/// PAT bit of a 4 KiB PTE (same bit as PS).
const PAT_4K: u64 = 1 << 7;
/// PAT bit of a large leaf.
const PAT_LARGE: u64 = 1 << 12;
/// Execute disable.
const NX: u64 = F::NO_EXECUTE.bits();
/// Physical address bits of a table entry or PTE (bits 12..52).
const ADDR_4K: u64 = 0x000f_ffff_ffff_f000;

/// The permission bits a protect rewrites.
const PERM_BITS: u64 = RW | US | NX;

/// Full-table hint (bit 9 of a table entry, available to software).
const HINT: u64 = F::BIT_9.bits();
/// Where a hinted table entry records its leaves' R/W, U/S and XD bits:
/// bits 52..=54, which the hardware ignores in entries that reference a
/// table.
const HINT_RW: u64 = 1 << 52;
const HINT_US: u64 = 1 << 53;
const HINT_NX: u64 = 1 << 54;

/// The x86_64 page-table format (4 levels, 4 KiB granule, 48-bit VA).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct X86_64Paging;

/// Physical-address mask of a leaf of `level` (bits below the leaf size are
/// not address bits; for large leaves bit 12 is PAT).
const fn leaf_addr_mask(level: usize) -> u64 {
    match level {
        0 => ADDR_4K,
        1 => ADDR_4K & !((1 << 21) - 1),
        _ => ADDR_4K & !((1 << 30) - 1),
    }
}

/// The permission bits for `flags` (some access granted).
const fn perm_bits(flags: MmuFlags) -> u64 {
    let mut bits = 0;
    if flags.contains(MmuFlags::WRITE) {
        bits |= RW;
    }
    if flags.contains(MmuFlags::USER) {
        bits |= US;
    }
    if !flags.contains(MmuFlags::EXECUTE) {
        bits |= NX;
    }
    bits
}

impl PageTableFormat for X86_64Paging {
    const VA_LIMIT: u64 = 1 << 47;
    const PA_LIMIT: u64 = 1 << 52;
    const KERNEL_ROOT_FIRST: usize = 256;
    const SPLIT: SplitStyle = SplitStyle::Swap;
    const FULL_TABLE_HINT: u64 = HINT;
    const HINT_BITS: u64 = HINT | HINT_RW | HINT_US | HINT_NX;

    #[inline(always)]
    fn is_present(entry: u64) -> bool {
        entry & P != 0
    }

    #[inline]
    fn kind(entry: u64, level: usize) -> EntryKind {
        if entry & P == 0 {
            EntryKind::Absent
        } else if level == 0 || (level < 3 && entry & PS != 0) {
            EntryKind::Leaf
        } else {
            EntryKind::Table
        }
    }

    fn table_entry(table: PhysAddr) -> u64 {
        (table.as_u64() & ADDR_4K) | P | RW | US
    }

    fn table_addr(entry: u64) -> PhysAddr {
        PhysAddr::new(entry & ADDR_4K)
    }

    fn leaf_entry(pa: PhysAddr, flags: MmuFlags, level: usize) -> u64 {
        let size = if level == 0 { 0 } else { PS };
        (pa.as_u64() & leaf_addr_mask(level)) | P | size | perm_bits(flags.encodable())
    }

    fn leaf_addr(entry: u64, level: usize) -> PhysAddr {
        PhysAddr::new(entry & leaf_addr_mask(level))
    }

    fn leaf_flags(entry: u64, _level: usize) -> MmuFlags {
        let mut flags = MmuFlags::READ;
        flags.set(MmuFlags::WRITE, entry & RW != 0);
        flags.set(MmuFlags::USER, entry & US != 0);
        flags.set(MmuFlags::EXECUTE, entry & NX == 0);
        flags
    }

    #[inline]
    fn leaf_update(flags: MmuFlags, _level: usize) -> LeafUpdate {
        LeafUpdate {
            keep: !PERM_BITS,
            set: perm_bits(flags.encodable()),
        }
    }

    fn full_table_hint(perms: u64) -> u64 {
        if perms & !PERM_BITS != 0 {
            return 0;
        }
        let bit = |leaf: u64, hint: u64| if perms & leaf != 0 { hint } else { 0 };
        HINT | bit(RW, HINT_RW) | bit(US, HINT_US) | bit(NX, HINT_NX)
    }

    fn hinted_perms(entry: u64) -> Option<u64> {
        if entry & HINT == 0 {
            return None;
        }
        let bit = |hint: u64, leaf: u64| if entry & hint != 0 { leaf } else { 0 };
        Some(bit(HINT_RW, RW) | bit(HINT_US, US) | bit(HINT_NX, NX))
    }

    fn split_first(entry: u64, level: usize) -> u64 {
        if level == 1 {
            // 2 MiB → 4 KiB: PS goes away and PAT moves from bit 12 to 7.
            let pat = if entry & PAT_LARGE != 0 { PAT_4K } else { 0 };
            (entry & !(PS | PAT_LARGE)) | pat
        } else {
            // 1 GiB → 2 MiB: still large leaves, every bit stays put.
            entry
        }
    }

    #[inline]
    fn publish() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmu::format::level_size;

    type X = X86_64Paging;

    #[test]
    fn leaf_bits() {
        let user_rw = MmuFlags::RW | MmuFlags::USER;
        let e = X::leaf_entry(PhysAddr::new(0x1234_5000), user_rw, 0);
        assert_eq!(e, 0x1234_5000 | P | RW | US | NX);
        assert_eq!(X::kind(e, 0), EntryKind::Leaf);
        assert_eq!(X::leaf_flags(e, 0), user_rw);
        assert_eq!(X::leaf_addr(e, 0).as_u64(), 0x1234_5000);

        let big = X::leaf_entry(PhysAddr::new(0x4000_0000), MmuFlags::RX, 2);
        assert_eq!(big, 0x4000_0000 | P | PS);
        assert_eq!(X::kind(big, 2), EntryKind::Leaf);
        assert_eq!(X::leaf_flags(big, 2), MmuFlags::RX);

        // Execute-only folds to R+X; there is no bit for "no read".
        let xo = X::leaf_entry(PhysAddr::new(0), MmuFlags::EXECUTE | MmuFlags::USER, 0);
        assert_eq!(X::leaf_flags(xo, 0), MmuFlags::RX | MmuFlags::USER);
        assert_eq!(X::kind(0, 1), EntryKind::Absent);
    }

    #[test]
    fn tables_are_permissive() {
        let t = X::table_entry(PhysAddr::new(0xabc_d000));
        assert_eq!(t, 0xabc_d000 | P | RW | US);
        for level in 1..4 {
            assert_eq!(X::kind(t, level), EntryKind::Table);
        }
        assert_eq!(X::table_addr(t).as_u64(), 0xabc_d000);
        // PS at the root is reserved; we read it as a table, never a leaf.
        assert_eq!(X::kind(t | PS, 3), EntryKind::Table);
        // The walker's hint bits change nothing the hardware reads.
        let hinted = t | X::HINT_BITS;
        assert_eq!(X::kind(hinted, 1), EntryKind::Table);
        assert_eq!(X::table_addr(hinted), X::table_addr(t));
    }

    #[test]
    fn hint_records_every_permission_combination() {
        assert_eq!(X::hinted_perms(X::table_entry(PhysAddr::new(0x1000))), None);
        for bits in 0..16u8 {
            let flags = MmuFlags::from_bits_truncate(bits) | MmuFlags::READ;
            let perms = !X::leaf_update(flags, 0).keep & X::leaf_entry(PhysAddr::new(0), flags, 0);
            let hint = X::full_table_hint(perms);
            assert_eq!(hint & !X::HINT_BITS, 0);
            assert_eq!(X::hinted_perms(hint), Some(perms), "{flags:?}");
            assert_eq!(
                X::hinted_perms(X::table_entry(PhysAddr::new(0x1000)) | hint),
                Some(perms)
            );
        }
        // Bits outside the permissions cannot be recorded.
        assert_eq!(X::full_table_hint(P | RW), 0);
    }

    #[test]
    fn update_keeps_address_accessed_dirty_and_pat() {
        let a = F::ACCESSED.bits();
        let d = F::DIRTY.bits();
        let old = X::leaf_entry(PhysAddr::new(0x20_0000), MmuFlags::RW | MmuFlags::USER, 1)
            | a
            | d
            | PAT_LARGE;
        let new = X::leaf_update(MmuFlags::READ | MmuFlags::USER, 1).apply(old);
        assert_eq!(new, 0x20_0000 | P | PS | US | NX | a | d | PAT_LARGE);
        assert_eq!(X::leaf_flags(new, 1), MmuFlags::READ | MmuFlags::USER);
    }

    #[test]
    fn split_moves_pat_and_drops_ps() {
        let a = F::ACCESSED.bits();
        let two_m = X::leaf_entry(PhysAddr::new(0x60_0000), MmuFlags::RW, 1) | PAT_LARGE | a;
        let first = X::split_first(two_m, 1);
        assert_eq!(first, 0x60_0000 | P | RW | NX | PAT_4K | a);
        assert_eq!(X::kind(first, 0), EntryKind::Leaf);
        assert_eq!(X::leaf_addr(first, 0).as_u64(), 0x60_0000);
        let last = first + 511 * level_size(0);
        assert_eq!(X::leaf_addr(last, 0).as_u64(), 0x60_0000 + 511 * 4096);
        assert_eq!(X::leaf_flags(last, 0), MmuFlags::RW);

        let one_g = X::leaf_entry(PhysAddr::new(0x4000_0000), MmuFlags::READ, 2) | PAT_LARGE;
        let first = X::split_first(one_g, 2);
        assert_eq!(X::kind(first, 1), EntryKind::Leaf);
        assert_eq!(first & PAT_LARGE, PAT_LARGE);
        let second = first + level_size(1);
        assert_eq!(X::leaf_addr(second, 1).as_u64(), 0x4020_0000);
    }
}

//! The aarch64 stage-1 translation-table format for TTBR0_EL1 (4 KiB
//! granule, 48-bit VA, four levels), as [`Aarch64Paging`] implements
//! [`PageTableFormat`].
//!
//! Descriptors (bits `[1:0]`): `0b11` is a table at levels 0–2 (ARM
//! numbering) and a page at level 3; `0b01` is a block at levels 1 and 2
//! (1 GiB, 2 MiB); anything with bit 0 clear is invalid. The crate numbers
//! levels from the bottom (its level 0 is ARM's level 3), see
//! [`crate::mmu::format`].
//!
//! Leaf attributes we set:
//! - `AttrIndx` `[4:2]` = [`MAIR_NORMAL_INDEX`]: the host's `MAIR_EL1` must
//!   hold [`MAIR_NORMAL_WB`] (Normal, write-back, read/write-allocate) in
//!   that slot. VMO pages are always normal memory.
//! - `SH` `[9:8]` = inner shareable; `AF` `[10]` = 1 (set at map time so CPUs
//!   without hardware access-flag management take no access-flag faults).
//! - `nG` `[11]` = 1: every translation of a user table is tagged with the
//!   table's ASID and invalidated per ASID.
//! - `AP[2:1]` `[7:6]`: `AP[1]` = EL0 access, `AP[2]` = read-only. EL0 execute
//!   implies EL0 read here (no EPAN-based execute-only), so execute-only
//!   requests become R+X (`XOM_SUPPORTED = false`).
//! - `PXN` `[53]` and `UXN` `[54]`: a user page is never executable by the
//!   kernel (PXN = 1) and UXN = !EXECUTE; a kernel page has UXN = 1.
//!
//! Table descriptors leave `APTable`, `UXNTable`, `PXNTable` at 0 so the
//! leaf alone decides.
//!
//! Changing a block into a table (or back) while another CPU may cache it
//! needs break-before-make ([`SplitStyle::BreakBeforeMake`]); changing only
//! AP/UXN/PXN of a valid leaf does not.

use crate::mmu::flags::MmuFlags;
use crate::mmu::format::{EntryKind, LeafUpdate, PageTableFormat, SplitStyle};
use crate::platform::PhysAddr;

/// Valid.
const VALID: u64 = 1 << 0;
/// Table (levels 0–2) or page (level 3) rather than block.
const TABLE_OR_PAGE: u64 = 1 << 1;
/// AttrIndx field position.
const ATTR_INDX_SHIFT: u32 = 2;
/// AP[1]: accessible from EL0.
const AP_EL0: u64 = 1 << 6;
/// AP[2]: read-only.
const AP_RO: u64 = 1 << 7;
/// SH = 0b11, inner shareable.
const SH_INNER: u64 = 0b11 << 8;
/// Access flag.
const AF: u64 = 1 << 10;
/// Not global.
const NG: u64 = 1 << 11;
/// Privileged execute never.
const PXN: u64 = 1 << 53;
/// Unprivileged execute never.
const UXN: u64 = 1 << 54;
/// Output-address bits of a table or page descriptor (`[47:12]`).
const ADDR_4K: u64 = 0x0000_ffff_ffff_f000;

/// The permission bits a protect rewrites.
const PERM_BITS: u64 = AP_EL0 | AP_RO | PXN | UXN;

/// Full-table hint (bit 55 of a table descriptor). It and the bits that
/// record the leaves' permissions lie in `[58:51]`, which the hardware
/// ignores in table descriptors.
const HINT: u64 = 1 << 55;
const HINT_AP_EL0: u64 = 1 << 56;
const HINT_AP_RO: u64 = 1 << 57;
const HINT_PXN: u64 = 1 << 58;
const HINT_UXN: u64 = 1 << 52;

/// The `MAIR_EL1` attribute index our leaves use.
pub const MAIR_NORMAL_INDEX: u64 = 0;
/// The `MAIR_EL1` attribute byte the host must put at
/// [`MAIR_NORMAL_INDEX`]: Normal memory, inner and outer write-back
/// non-transient, read- and write-allocate.
pub const MAIR_NORMAL_WB: u64 = 0xff;

/// The aarch64 translation-table format (4 KiB granule, 48-bit VA).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Aarch64Paging;

/// Output-address mask of a leaf of `level` (crate numbering).
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
    if !flags.contains(MmuFlags::WRITE) {
        bits |= AP_RO;
    }
    if flags.contains(MmuFlags::USER) {
        // The kernel never executes user memory.
        bits |= AP_EL0 | PXN;
        if !flags.contains(MmuFlags::EXECUTE) {
            bits |= UXN;
        }
    } else {
        bits |= UXN;
        if !flags.contains(MmuFlags::EXECUTE) {
            bits |= PXN;
        }
    }
    bits
}

impl PageTableFormat for Aarch64Paging {
    const VA_LIMIT: u64 = 1 << 48;
    const PA_LIMIT: u64 = 1 << 48;
    const KERNEL_ROOT_FIRST: usize = 512;
    const SPLIT: SplitStyle = SplitStyle::BreakBeforeMake;
    const FULL_TABLE_HINT: u64 = HINT;
    const HINT_BITS: u64 = HINT | HINT_AP_EL0 | HINT_AP_RO | HINT_PXN | HINT_UXN;

    #[inline(always)]
    fn is_present(entry: u64) -> bool {
        entry & VALID != 0
    }

    #[inline]
    fn kind(entry: u64, level: usize) -> EntryKind {
        match (entry & (VALID | TABLE_OR_PAGE), level) {
            (0b11, 0) => EntryKind::Leaf,
            (0b11, _) => EntryKind::Table,
            // A block: only at ARM levels 1 and 2 with a 4 KiB granule.
            (0b01, 1 | 2) => EntryKind::Leaf,
            // Invalid, or 0b01 where blocks are not allowed (the hardware
            // takes a translation fault on it).
            _ => EntryKind::Absent,
        }
    }

    fn table_entry(table: PhysAddr) -> u64 {
        (table.as_u64() & ADDR_4K) | VALID | TABLE_OR_PAGE
    }

    fn table_addr(entry: u64) -> PhysAddr {
        PhysAddr::new(entry & ADDR_4K)
    }

    fn leaf_entry(pa: PhysAddr, flags: MmuFlags, level: usize) -> u64 {
        let kind = if level == 0 {
            VALID | TABLE_OR_PAGE
        } else {
            VALID
        };
        (pa.as_u64() & leaf_addr_mask(level))
            | kind
            | (MAIR_NORMAL_INDEX << ATTR_INDX_SHIFT)
            | SH_INNER
            | AF
            | NG
            | perm_bits(flags.encodable())
    }

    fn leaf_addr(entry: u64, level: usize) -> PhysAddr {
        PhysAddr::new(entry & leaf_addr_mask(level))
    }

    fn leaf_flags(entry: u64, _level: usize) -> MmuFlags {
        let mut flags = MmuFlags::READ;
        let user = entry & AP_EL0 != 0;
        flags.set(MmuFlags::USER, user);
        flags.set(MmuFlags::WRITE, entry & AP_RO == 0);
        let xn = if user { UXN } else { PXN };
        flags.set(MmuFlags::EXECUTE, entry & xn == 0);
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
        HINT | bit(AP_EL0, HINT_AP_EL0)
            | bit(AP_RO, HINT_AP_RO)
            | bit(PXN, HINT_PXN)
            | bit(UXN, HINT_UXN)
    }

    fn hinted_perms(entry: u64) -> Option<u64> {
        if entry & HINT == 0 {
            return None;
        }
        let bit = |hint: u64, leaf: u64| if entry & hint != 0 { leaf } else { 0 };
        Some(
            bit(HINT_AP_EL0, AP_EL0)
                | bit(HINT_AP_RO, AP_RO)
                | bit(HINT_PXN, PXN)
                | bit(HINT_UXN, UXN),
        )
    }

    fn split_first(entry: u64, level: usize) -> u64 {
        if level == 1 {
            // 2 MiB block → 4 KiB pages: descriptor type 0b01 → 0b11.
            entry | TABLE_OR_PAGE
        } else {
            // 1 GiB block → 2 MiB blocks: same descriptor type.
            entry
        }
    }

    #[inline]
    fn publish() {
        super::tlb::publish_table_writes();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmu::format::level_size;

    type A = Aarch64Paging;

    #[test]
    fn mair_matches_aarch64_cpu() {
        use aarch64_cpu::registers::MAIR_EL1;
        let attr0 = MAIR_EL1::Attr0_Normal_Outer::WriteBack_NonTransient_ReadWriteAlloc
            + MAIR_EL1::Attr0_Normal_Inner::WriteBack_NonTransient_ReadWriteAlloc;
        assert_eq!(attr0.value, MAIR_NORMAL_WB << (8 * MAIR_NORMAL_INDEX));
    }

    #[test]
    fn user_leaf_bits() {
        let e = A::leaf_entry(PhysAddr::new(0x8765_4000), MmuFlags::RW | MmuFlags::USER, 0);
        assert_eq!(
            e,
            0x8765_4000 | 0b11 | SH_INNER | AF | NG | AP_EL0 | PXN | UXN
        );
        assert_eq!(A::kind(e, 0), EntryKind::Leaf);
        assert_eq!(A::leaf_flags(e, 0), MmuFlags::RW | MmuFlags::USER);

        let rx = A::leaf_entry(PhysAddr::new(0), MmuFlags::EXECUTE | MmuFlags::USER, 0);
        assert_eq!(rx & (AP_RO | AP_EL0 | PXN | UXN), AP_RO | AP_EL0 | PXN);
        assert_eq!(A::leaf_flags(rx, 0), MmuFlags::RX | MmuFlags::USER);
    }

    #[test]
    fn kernel_leaf_and_blocks() {
        let k = A::leaf_entry(PhysAddr::new(0x20_0000), MmuFlags::RX, 1);
        assert_eq!(k & 0b11, 0b01);
        assert_eq!(k & (AP_RO | AP_EL0 | PXN | UXN), AP_RO | UXN);
        assert_eq!(A::kind(k, 1), EntryKind::Leaf);
        assert_eq!(A::leaf_flags(k, 1), MmuFlags::RX);
        // A block descriptor where blocks are not allowed is invalid.
        assert_eq!(A::kind(k, 0), EntryKind::Absent);
        assert_eq!(A::kind(k, 3), EntryKind::Absent);
        let t = A::table_entry(PhysAddr::new(0x5000));
        assert_eq!(t, 0x5003);
        assert_eq!(A::kind(t, 3), EntryKind::Table);
        assert_eq!(A::table_addr(t).as_u64(), 0x5000);
        // The walker's hint bits change nothing the hardware reads.
        let hinted = t | A::HINT_BITS;
        assert_eq!(A::kind(hinted, 1), EntryKind::Table);
        assert_eq!(A::table_addr(hinted), A::table_addr(t));
        // ... and stay clear of the table attributes (bits 59..=63).
        assert_eq!(A::HINT_BITS & (0x1f << 59), 0);
    }

    #[test]
    fn hint_records_every_permission_combination() {
        assert_eq!(A::hinted_perms(A::table_entry(PhysAddr::new(0x1000))), None);
        for bits in 0..16u8 {
            let flags = MmuFlags::from_bits_truncate(bits) | MmuFlags::READ;
            let perms = !A::leaf_update(flags, 0).keep & A::leaf_entry(PhysAddr::new(0), flags, 0);
            let hint = A::full_table_hint(perms);
            assert_eq!(hint & !A::HINT_BITS, 0);
            assert_eq!(A::hinted_perms(hint), Some(perms), "{flags:?}");
            assert_eq!(
                A::hinted_perms(A::table_entry(PhysAddr::new(0x1000)) | hint),
                Some(perms)
            );
        }
        // Bits outside the permissions cannot be recorded.
        assert_eq!(A::full_table_hint(AF | AP_RO), 0);
    }

    #[test]
    fn update_keeps_address_af_ng_and_attributes() {
        let old = A::leaf_entry(PhysAddr::new(0x4000_0000), MmuFlags::RW | MmuFlags::USER, 2);
        let new = A::leaf_update(MmuFlags::RX | MmuFlags::USER, 2).apply(old);
        assert_eq!(A::leaf_addr(new, 2).as_u64(), 0x4000_0000);
        assert_eq!(new & (AF | NG | SH_INNER | 0b11), AF | NG | SH_INNER | 0b01);
        assert_eq!(A::leaf_flags(new, 2), MmuFlags::RX | MmuFlags::USER);
    }

    #[test]
    fn split_blocks() {
        let two_m = A::leaf_entry(PhysAddr::new(0x60_0000), MmuFlags::READ | MmuFlags::USER, 1);
        let first = A::split_first(two_m, 1);
        assert_eq!(A::kind(first, 0), EntryKind::Leaf);
        let last = first + 511 * level_size(0);
        assert_eq!(A::leaf_addr(last, 0).as_u64(), 0x60_0000 + 511 * 4096);
        assert_eq!(A::leaf_flags(last, 0), MmuFlags::READ | MmuFlags::USER);

        let one_g = A::leaf_entry(PhysAddr::new(0x8000_0000), MmuFlags::RW, 2);
        let first = A::split_first(one_g, 2);
        assert_eq!(A::kind(first, 1), EntryKind::Leaf);
        assert_eq!(A::leaf_addr(first + level_size(1), 1).as_u64(), 0x8020_0000);
    }
}

//! Arch-neutral vocabulary of the page-table code: the permissions a
//! translation grants ([`MmuFlags`]), the leaf sizes ([`PageSize`]) and what
//! a lookup returns ([`Translation`]).
//!
//! Neither x86_64 nor aarch64 can express every combination of
//! [`MmuFlags`]: both lack write-only and (for user pages, as this crate
//! configures them) execute-only mappings. [`MmuFlags::encodable`] folds a
//! request into what the hardware can hold, the same way on both, so
//! [`PageTable::query`](crate::mmu::PageTable::query) returns the same
//! flags on either architecture.

use bitflags::bitflags;

use crate::error::{Error, Result};

bitflags! {
    /// What a translation lets software do with a page.
    ///
    /// The empty set means "no translation": the page tables hold nothing
    /// for the page and every access faults.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct MmuFlags: u8 {
        /// Data reads.
        const READ = 1 << 0;
        /// Data writes.
        const WRITE = 1 << 1;
        /// Instruction fetches.
        const EXECUTE = 1 << 2;
        /// Accessible from user mode (ring 3 / EL0); without it the
        /// translation is for the kernel only.
        const USER = 1 << 3;
    }
}

impl MmuFlags {
    /// Read and write.
    pub const RW: MmuFlags = MmuFlags::READ.union(MmuFlags::WRITE);
    /// Read and execute.
    pub const RX: MmuFlags = MmuFlags::READ.union(MmuFlags::EXECUTE);

    /// Whether the flags grant any access at all (READ, WRITE or EXECUTE).
    pub const fn grants_access(self) -> bool {
        self.intersects(
            MmuFlags::READ
                .union(MmuFlags::WRITE)
                .union(MmuFlags::EXECUTE),
        )
    }

    /// The flags as the hardware of both architectures stores them: WRITE or
    /// EXECUTE without READ gain READ (no write-only or execute-only pages,
    /// see `Arch::XOM_SUPPORTED`). Flags without access, with or without
    /// USER, stay as they are (the caller treats them as "unmap").
    pub const fn encodable(self) -> MmuFlags {
        if self.intersects(MmuFlags::WRITE.union(MmuFlags::EXECUTE)) {
            self.union(MmuFlags::READ)
        } else {
            self
        }
    }
}

/// Sizes of leaf translations. Both formats support the same three.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PageSize {
    /// 4 KiB: an entry of a level-0 table.
    Size4K,
    /// 2 MiB: a large leaf in a level-1 table (x86_64 PDE with PS, aarch64
    /// level-2 block).
    Size2M,
    /// 1 GiB: a large leaf in a level-2 table (x86_64 PDPTE with PS,
    /// aarch64 level-1 block).
    Size1G,
}

impl PageSize {
    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        1 << self.shift()
    }

    /// log2 of the size.
    pub const fn shift(self) -> u32 {
        match self {
            PageSize::Size4K => 12,
            PageSize::Size2M => 21,
            PageSize::Size1G => 30,
        }
    }

    /// The level of the table whose entries are leaves of this size, in
    /// the crate's numbering (0 = the table of 4 KiB leaves, 3 = the root).
    pub const fn level(self) -> usize {
        match self {
            PageSize::Size4K => 0,
            PageSize::Size2M => 1,
            PageSize::Size1G => 2,
        }
    }

    /// The leaf size of a table level, if that level may hold leaves.
    pub const fn from_level(level: usize) -> Option<PageSize> {
        match level {
            0 => Some(PageSize::Size4K),
            1 => Some(PageSize::Size2M),
            2 => Some(PageSize::Size1G),
            _ => None,
        }
    }

    /// Whether `addr` is a multiple of the size.
    pub const fn is_aligned(self, addr: u64) -> bool {
        addr & (self.bytes() - 1) == 0
    }
}

/// What a page table holds for one virtual address
/// ([`PageTable::query`](crate::mmu::PageTable::query)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// Physical address of the 4 KiB page that contains the queried
    /// address (for a large leaf: the leaf's base plus the page offset).
    pub pa: crate::platform::PhysAddr,
    /// The permissions the leaf grants, as stored (see
    /// [`MmuFlags::encodable`]).
    pub flags: MmuFlags,
    /// The size of the leaf that maps the address.
    pub size: PageSize,
}

/// Checks a half-open virtual range `[va, va + len)` for the range
/// operations: page-aligned start and length, no overflow, below `limit`.
/// Returns the exclusive end.
pub(crate) fn check_range(va: u64, len: u64, limit: u64) -> Result<u64> {
    if !PageSize::Size4K.is_aligned(va) || !PageSize::Size4K.is_aligned(len) {
        return Err(Error::InvalidArgs("range not page aligned"));
    }
    let end = va
        .checked_add(len)
        .ok_or(Error::InvalidArgs("range overflows"))?;
    if end > limit {
        return Err(Error::InvalidArgs(
            "range beyond the translated address space",
        ));
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodable_folds_write_and_execute_only() {
        assert_eq!(MmuFlags::WRITE.encodable(), MmuFlags::RW);
        assert_eq!(MmuFlags::EXECUTE.encodable(), MmuFlags::RX);
        assert_eq!(
            (MmuFlags::EXECUTE | MmuFlags::USER).encodable(),
            MmuFlags::RX | MmuFlags::USER
        );
        assert_eq!(MmuFlags::USER.encodable(), MmuFlags::USER);
        assert!(!MmuFlags::USER.grants_access());
        assert!(MmuFlags::READ.grants_access());
    }

    #[test]
    fn page_sizes() {
        for size in [PageSize::Size4K, PageSize::Size2M, PageSize::Size1G] {
            assert_eq!(PageSize::from_level(size.level()), Some(size));
            assert!(size.is_aligned(0));
            assert!(!size.is_aligned(size.bytes() / 2));
        }
        assert_eq!(PageSize::Size2M.bytes(), 2 << 20);
        assert_eq!(PageSize::from_level(3), None);
    }

    #[test]
    fn range_checks() {
        assert_eq!(check_range(0x1000, 0x2000, 1 << 47), Ok(0x3000));
        assert_eq!(check_range(0, 0, 1 << 47), Ok(0));
        assert!(check_range(0x1001, 0x1000, 1 << 47).is_err());
        assert!(check_range(0x1000, 0x10, 1 << 47).is_err());
        assert!(check_range(!0xfff_u64, 0x2000, u64::MAX).is_err());
        assert!(check_range((1 << 47) - 0x1000, 0x2000, 1 << 47).is_err());
    }
}

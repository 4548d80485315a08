//! The per-architecture page-table format, as the generic walker
//! ([`PageTable`](crate::mmu::PageTable)) sees it.
//!
//! Both supported formats have four levels of 512 eight-byte entries over a
//! 48-bit virtual address space and 4 KiB / 2 MiB / 1 GiB leaves, so the
//! geometry lives here ([`index`], [`level_size`]) and only the bit
//! encoding is per arch ([`PageTableFormat`], implemented by
//! `arch::x86_64::paging::X86_64Paging` and
//! `arch::aarch64::paging::Aarch64Paging`).
//!
//! # Level numbering
//!
//! The crate numbers levels from the bottom: level 0 is the table whose
//! entries map 4 KiB pages, level 3 the root. x86_64 calls them PT, PD,
//! PDPT, PML4; aarch64 (which counts from the top) calls them levels 3, 2,
//! 1, 0.
//!
//! The format's functions are pure functions of an entry's bits: no memory
//! access, no privileged instruction (except [`PageTableFormat::publish`]),
//! so they are unit-tested on the host.

use crate::mmu::flags::MmuFlags;
use crate::platform::PhysAddr;

/// Entries per table.
pub const ENTRIES: usize = 512;
/// Number of levels (0..=3).
pub const LEVELS: usize = 4;
/// The root table's level.
pub const ROOT_LEVEL: usize = LEVELS - 1;

/// Bytes one entry of a `level` table spans (4 KiB at level 0, 512 GiB at
/// level 3).
pub const fn level_size(level: usize) -> u64 {
    1 << level_shift(level)
}

/// log2 of [`level_size`].
pub const fn level_shift(level: usize) -> u32 {
    12 + 9 * level as u32
}

/// Index of the entry of a `level` table that covers `va`.
pub const fn index(va: u64, level: usize) -> usize {
    ((va >> level_shift(level)) & (ENTRIES as u64 - 1)) as usize
}

/// What an entry is, read from its bits at a given level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// Not valid: accesses through it fault. (Our tables hold 0 there.)
    Absent,
    /// Points to a next-level table.
    Table,
    /// Maps a page (level 0) or a large page (levels 1 and 2).
    Leaf,
}

/// How a large leaf is replaced by a table of smaller leaves that together
/// translate the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitStyle {
    /// x86_64: fill the new table, then store the table entry over the leaf
    /// in one write; both translations are equivalent, so CPUs may use
    /// either until the TLB is flushed.
    Swap,
    /// aarch64: the architecture forbids changing a block into a table
    /// while it may be cached (break-before-make): store an invalid entry,
    /// invalidate the block's TLB entry, then store the table entry.
    BreakBeforeMake,
}

/// The new bits of a leaf whose permissions change: `(old & keep) | set`.
///
/// `keep` holds everything that survives a change of permissions (physical
/// address, accessed/dirty, memory type, global, size and validity bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeafUpdate {
    /// Bits of the old entry to keep.
    pub keep: u64,
    /// Permission bits to set.
    pub set: u64,
}

impl LeafUpdate {
    /// The updated entry.
    #[inline(always)]
    pub const fn apply(self, old: u64) -> u64 {
        (old & self.keep) | self.set
    }
}

/// The bit layout of one architecture's page-table entries.
///
/// Implemented by zero-sized types; every function is a pure function of
/// its arguments. "Level" follows the crate's numbering (module docs).
/// Callers guarantee `level < LEVELS`, and pass leaf levels (0..=2) where a
/// function builds or reads a leaf.
pub trait PageTableFormat: 'static {
    /// One past the highest virtual address a user page table translates
    /// (x86_64 `1 << 47`: the lower canonical half; aarch64 `1 << 48`:
    /// TTBR0 with a 48-bit VA).
    const VA_LIMIT: u64;

    /// One past the highest physical address an entry can hold.
    const PA_LIMIT: u64;

    /// Index of the first root entry that belongs to the kernel, copied
    /// from [`Platform::kernel_root_table`](crate::Platform::kernel_root_table)
    /// into new roots and never freed or changed by the user page table
    /// (x86_64 256; aarch64 512, i.e. none: the kernel lives in TTBR1).
    const KERNEL_ROOT_FIRST: usize;

    /// How large leaves are split.
    const SPLIT: SplitStyle;

    /// A bit of table entries that the hardware ignores, used by the walker
    /// as a hint: it may be set in an entry pointing to a level-0 table
    /// only while all 512 entries of that table are valid and carry the
    /// same permission bits, which the entry records next to it (see
    /// [`full_table_hint`](PageTableFormat::full_table_hint)). Protect then
    /// needs no per-entry validity test, and over the whole table it
    /// rewrites each entry with one xor (x86_64: bit 9, available to
    /// software; aarch64: bit 55, reserved for software).
    const FULL_TABLE_HINT: u64;

    /// Every bit [`full_table_hint`](PageTableFormat::full_table_hint) may
    /// set: [`FULL_TABLE_HINT`](PageTableFormat::FULL_TABLE_HINT) and the
    /// recorded permissions, all ignored by the hardware in table entries.
    const HINT_BITS: u64;

    /// The hint bits (within [`HINT_BITS`](PageTableFormat::HINT_BITS)) of
    /// a table entry whose level-0 table holds 512 valid leaves, each with
    /// permission bits `perms` (`leaf & !keep` of a level-0
    /// [`LeafUpdate`]); 0 if `perms` cannot be recorded (no hint).
    fn full_table_hint(perms: u64) -> u64;

    /// The leaves' permission bits a table entry's hint records, or `None`
    /// if the entry carries no hint.
    fn hinted_perms(entry: u64) -> Option<u64>;

    /// Whether an entry is valid (present). Both formats use bit 0; the walk
    /// loops rely on this being cheap.
    fn is_present(entry: u64) -> bool;

    /// What `entry` is in a table of `level`.
    fn kind(entry: u64, level: usize) -> EntryKind;

    /// An entry pointing to the next-level table at `table`. It grants
    /// everything, so the leaf alone decides the permissions.
    fn table_entry(table: PhysAddr) -> u64;

    /// The next-level table a [`EntryKind::Table`] entry points to.
    fn table_addr(entry: u64) -> PhysAddr;

    /// A leaf of `level` mapping `pa` (aligned to the level's size) with
    /// `flags`, which grant some access. Leaves are never global: a user
    /// page table's translations belong to its ASID only.
    fn leaf_entry(pa: PhysAddr, flags: MmuFlags, level: usize) -> u64;

    /// The physical address a leaf of `level` maps.
    fn leaf_addr(entry: u64, level: usize) -> PhysAddr;

    /// The permissions a leaf grants.
    fn leaf_flags(entry: u64, level: usize) -> MmuFlags;

    /// How to rewrite a leaf of `level` to grant `flags` (which grant some
    /// access) while keeping its address and hardware-maintained bits.
    fn leaf_update(flags: MmuFlags, level: usize) -> LeafUpdate;

    /// The first of the 512 entries of a `level - 1` table that translate
    /// exactly like the large leaf `entry` of `level` (1 or 2); entry `i`
    /// is this plus `i * level_size(level - 1)`.
    fn split_first(entry: u64, level: usize) -> u64;

    /// Makes table writes visible to the page-table walkers of every CPU
    /// before the operation returns (aarch64 `dsb ishst` on the bare-metal
    /// target; nothing on x86_64, whose walks snoop stores in order).
    fn publish();
}

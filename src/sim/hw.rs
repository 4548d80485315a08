//! The simulated MMUs' table walks: what x86_64 and aarch64 hardware do
//! with the bits in memory, written from the architecture manuals and
//! independent of the crate's own encoder (`arch::*::paging`), so that an
//! encoding bug shows up as a wrong translation or fault in tests.
//!
//! Modelled configuration:
//! - x86_64: 4-level paging, `CR0.WP = 1`, `EFER.NXE = 1`, `CR4.SMEP = 1`,
//!   `CR4.SMAP = 0`. Permissions combine across levels: R/W and U/S by AND,
//!   XD by OR. PS at PML4 and non-zero address bits below a large page's
//!   alignment are reserved-bit faults. A is set in every entry of a
//!   successful walk, D in the leaf on a write.
//! - aarch64: stage 1 of the EL1&0 regime, TTBR0, 4 KiB granule, 48-bit VA,
//!   `TCR_EL1.HA = 1` (the MMU sets AF), no hardware dirty state (`HD = 0`),
//!   `PAN = 0`, `SCTLR_EL1.WXN = 0`. Hierarchical `APTable`, `UXNTable`,
//!   `PXNTable` apply. EL0-writable memory is never executable at EL1.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::mmu::FrameMem;
use crate::mmu::format::{index, level_size};
use crate::sim::mmu::FaultKind;
use crate::trap::Access;

/// What each privilege level may do with a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Perms {
    pub user_read: bool,
    pub user_write: bool,
    pub user_exec: bool,
    pub kernel_read: bool,
    pub kernel_write: bool,
    pub kernel_exec: bool,
}

impl Perms {
    /// Whether `access` at the given privilege is allowed.
    pub(crate) fn allows(&self, access: Access, user: bool) -> bool {
        match (access, user) {
            (Access::Read, true) => self.user_read,
            (Access::Write, true) => self.user_write,
            (Access::Execute, true) => self.user_exec,
            (Access::Read, false) => self.kernel_read,
            (Access::Write, false) => self.kernel_write,
            (Access::Execute, false) => self.kernel_exec,
        }
    }
}

/// A successful walk.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Walked {
    /// Physical base of the leaf.
    pub base: u64,
    /// The leaf's level (0 = 4 KiB).
    pub level: usize,
    pub perms: Perms,
    /// Whether the hardware tracks dirty state: if so, a cached
    /// translation loaded by a read must be walked again on the first write
    /// (to set D, or fault if write is no longer allowed).
    pub tracks_dirty: bool,
}

/// Reads the table at a physical address, or `None` if it is not a frame
/// of the machine.
pub(crate) type Tables<'a> = dyn Fn(u64) -> Option<FrameMem<'a>> + 'a;

/// Which hardware walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Model {
    X86_64,
    Aarch64,
}

impl Model {
    /// Walks the tables from `root` for `va`; on success sets the
    /// accessed (and for a write the dirty) state like the hardware.
    pub(crate) fn walk(
        self,
        tables: &Tables<'_>,
        root: u64,
        va: u64,
        access: Access,
        user: bool,
    ) -> Result<Walked, FaultKind> {
        match self {
            Model::X86_64 => walk_x86(tables, root, va, access, user),
            Model::Aarch64 => walk_arm(tables, root, va, access, user),
        }
    }
}

const X86_P: u64 = 1 << 0;
const X86_RW: u64 = 1 << 1;
const X86_US: u64 = 1 << 2;
const X86_A: u64 = 1 << 5;
const X86_D: u64 = 1 << 6;
const X86_PS: u64 = 1 << 7;
const X86_XD: u64 = 1 << 63;
/// Address bits of an entry (MAXPHYADDR 52).
const X86_ADDR: u64 = 0x000f_ffff_ffff_f000;

fn walk_x86(
    tables: &Tables<'_>,
    root: u64,
    va: u64,
    access: Access,
    user: bool,
) -> Result<Walked, FaultKind> {
    // Lower canonical half only: a user page table translates nothing
    // else here (the kernel half belongs to the host).
    if va >= 1 << 47 {
        return Err(FaultKind::AddressRange);
    }
    let (mut rw, mut us, mut xd) = (true, true, false);
    let mut used: [Option<&AtomicU64>; 4] = [None; 4];
    let mut table = root;
    for level in (0..4).rev() {
        let mem = tables(table).ok_or(FaultKind::BadTable { level })?;
        let slot = &mem.words()[index(va, level)];
        let e = slot.load(Ordering::Relaxed);
        if e & X86_P == 0 {
            return Err(FaultKind::NotPresent { level });
        }
        used[level] = Some(slot);
        rw &= e & X86_RW != 0;
        us &= e & X86_US != 0;
        xd |= e & X86_XD != 0;
        let large = level > 0 && e & X86_PS != 0;
        if large && level == 3 {
            return Err(FaultKind::Reserved { level });
        }
        if level > 0 && !large {
            table = e & X86_ADDR;
            continue;
        }
        let size = level_size(level);
        // In a large leaf, bit 12 is PAT; the bits up to the alignment
        // must be zero.
        let low = if large {
            (size - 1) & X86_ADDR & !(1 << 12)
        } else {
            0
        };
        if e & low != 0 {
            return Err(FaultKind::Reserved { level });
        }
        let perms = Perms {
            user_read: us,
            user_write: us && rw,
            user_exec: us && !xd,
            kernel_read: true,
            kernel_write: rw,
            // SMEP: the kernel never executes user pages.
            kernel_exec: !xd && !us,
        };
        if !perms.allows(access, user) {
            return Err(FaultKind::Permission);
        }
        for s in used.iter().flatten() {
            s.fetch_or(X86_A, Ordering::Relaxed);
        }
        if access == Access::Write {
            slot.fetch_or(X86_D, Ordering::Relaxed);
        }
        return Ok(Walked {
            base: e & X86_ADDR & !(size - 1),
            level,
            perms,
            tracks_dirty: true,
        });
    }
    Err(FaultKind::Reserved { level: 0 })
}

const ARM_VALID: u64 = 1 << 0;
const ARM_TABLE: u64 = 1 << 1;
const ARM_AP_EL0: u64 = 1 << 6;
const ARM_AP_RO: u64 = 1 << 7;
const ARM_AF: u64 = 1 << 10;
const ARM_PXN: u64 = 1 << 53;
const ARM_UXN: u64 = 1 << 54;
const ARM_PXN_TABLE: u64 = 1 << 59;
const ARM_UXN_TABLE: u64 = 1 << 60;
const ARM_AP_TABLE_NO_EL0: u64 = 1 << 61;
const ARM_AP_TABLE_RO: u64 = 1 << 62;
/// Output-address bits `[47:12]`.
const ARM_ADDR: u64 = 0x0000_ffff_ffff_f000;

fn walk_arm(
    tables: &Tables<'_>,
    root: u64,
    va: u64,
    access: Access,
    user: bool,
) -> Result<Walked, FaultKind> {
    // TTBR0 with T0SZ = 16: bits [63:48] must be zero.
    if va >> 48 != 0 {
        return Err(FaultKind::AddressRange);
    }
    let (mut no_el0, mut ro, mut uxn, mut pxn) = (false, false, false, false);
    let mut table = root;
    // Crate level 3 is ARM level 0.
    for level in (0..4).rev() {
        let mem = tables(table).ok_or(FaultKind::BadTable { level })?;
        let slot = &mem.words()[index(va, level)];
        let e = slot.load(Ordering::Relaxed);
        let is_table_or_page = e & ARM_TABLE != 0;
        // Invalid, or a block where none is allowed (ARM level 0, or a
        // 0b01 at level 3): translation fault.
        if e & ARM_VALID == 0 || (!is_table_or_page && (level == 0 || level == 3)) {
            return Err(FaultKind::NotPresent { level });
        }
        if level > 0 && is_table_or_page {
            no_el0 |= e & ARM_AP_TABLE_NO_EL0 != 0;
            ro |= e & ARM_AP_TABLE_RO != 0;
            uxn |= e & ARM_UXN_TABLE != 0;
            pxn |= e & ARM_PXN_TABLE != 0;
            table = e & ARM_ADDR;
            continue;
        }
        let el0 = e & ARM_AP_EL0 != 0 && !no_el0;
        ro |= e & ARM_AP_RO != 0;
        uxn |= e & ARM_UXN != 0;
        pxn |= e & ARM_PXN != 0;
        let perms = Perms {
            user_read: el0,
            user_write: el0 && !ro,
            // EL0 execution depends on UXN alone.
            user_exec: !uxn,
            kernel_read: true,
            kernel_write: !ro,
            // Memory writable at EL0 is never executable at EL1.
            kernel_exec: !pxn && (!el0 || ro),
        };
        if !perms.allows(access, user) {
            return Err(FaultKind::Permission);
        }
        if e & ARM_AF == 0 {
            slot.fetch_or(ARM_AF, Ordering::Relaxed);
        }
        let size = level_size(level);
        return Ok(Walked {
            base: e & ARM_ADDR & !(size - 1),
            level,
            perms,
            tracks_dirty: false,
        });
    }
    Err(FaultKind::NotPresent { level: 0 })
}

#[cfg(test)]
mod tests {
    //! Hand-built tables: the models' semantics, independent of the
    //! crate's encoder.
    use std::vec::Vec;

    use super::*;
    use crate::arch::{Aarch64, Arch, X86_64};
    use crate::mmu::{Asid, TlbBatch};
    use crate::platform::{PhysAddr, Platform};
    use crate::sim::Sim;

    const VA: u64 = 0x40_2000;
    /// The index of `VA` in the table of each level (by level).
    const IDX: [usize; 4] = [2, 2, 0, 0];

    /// Four tables chained for `VA`; `entries[l]` is or-ed into the entry
    /// of level `l`, with the next table's address when the level below
    /// has an entry. Returns the root.
    fn build<A: Arch>(sim: &Sim<A>, entries: [u64; 4]) -> PhysAddr {
        let frames: Vec<PhysAddr> = (0..4).map(|_| sim.alloc_frame().unwrap()).collect();
        for level in (0..4).rev() {
            // SAFETY: a live frame of `sim`; the sim frees it when dropped.
            let mem = unsafe { FrameMem::new(sim, frames[3 - level]) };
            mem.zero();
            let next = if level > 0 && entries[level - 1] != 0 {
                frames[4 - level].as_u64()
            } else {
                0
            };
            mem.words()[IDX[level]].store(entries[level] | next, Ordering::Relaxed);
        }
        frames[0]
    }

    fn check<A: Arch>(entries: [u64; 4], access: Access, user: bool) -> Result<u64, FaultKind> {
        let sim = Sim::<A>::new();
        let root = build(&sim, entries);
        let asid: Asid = 1;
        let got = sim.translate(root, asid, VA, access, user);
        sim.flush_tlb(&{
            let mut b = TlbBatch::new::<A>(asid);
            b.add_address_space();
            b
        });
        got.map(PhysAddr::as_u64).map_err(|f| f.kind)
    }

    const XT: u64 = X86_P | X86_RW | X86_US;
    const XLEAF: u64 = 0x7000 | XT;

    #[test]
    fn x86_permissions_combine_across_levels() {
        let x = check::<X86_64>;
        assert_eq!(x([XLEAF, XT, XT, XT], Access::Write, true), Ok(0x7000));
        // U/S and R/W: AND over the levels.
        assert_eq!(
            x([XLEAF, XT, XT, XT & !X86_US], Access::Read, true),
            Err(FaultKind::Permission)
        );
        assert_eq!(
            x([XLEAF, XT & !X86_RW, XT, XT], Access::Write, true),
            Err(FaultKind::Permission)
        );
        assert_eq!(
            x([XLEAF, XT & !X86_RW, XT, XT], Access::Write, false),
            Err(FaultKind::Permission)
        );
        // XD: OR over the levels.
        assert_eq!(
            x([XLEAF, XT, XT | X86_XD, XT], Access::Execute, true),
            Err(FaultKind::Permission)
        );
        assert!(x([XLEAF, XT, XT, XT], Access::Execute, true).is_ok());
        // SMEP: the kernel does not execute user pages.
        assert_eq!(
            x([XLEAF, XT, XT, XT], Access::Execute, false),
            Err(FaultKind::Permission)
        );
        assert_eq!(
            x([XLEAF & !X86_P, XT, XT, XT], Access::Read, true),
            Err(FaultKind::NotPresent { level: 0 })
        );
    }

    #[test]
    fn x86_reserved_bits_and_large_pages() {
        let x = check::<X86_64>;
        assert_eq!(
            x([XLEAF, XT, XT, XT | X86_PS], Access::Read, true),
            Err(FaultKind::Reserved { level: 3 })
        );
        // A 2 MiB leaf at level 1: bit 12 is PAT, bits 13..21 reserved.
        let big = 0x20_0000 | XT | X86_PS;
        assert_eq!(
            x([0, big, XT, XT], Access::Read, true),
            Ok(0x20_0000 + 0x2000)
        );
        assert_eq!(
            x([0, big | 1 << 12, XT, XT], Access::Read, true),
            Ok(0x20_0000 + 0x2000)
        );
        assert_eq!(
            x([0, big | 1 << 13, XT, XT], Access::Read, true),
            Err(FaultKind::Reserved { level: 1 })
        );
    }

    #[test]
    fn x86_sets_accessed_on_every_level_and_dirty_on_the_leaf() {
        let sim = Sim::<X86_64>::new();
        let root = build(&sim, [XLEAF, XT, XT, XT]);
        sim.translate(root, 2, VA, Access::Write, true).unwrap();
        let mut table = root;
        for level in (0..4).rev() {
            // SAFETY: a live frame of `sim`.
            let e =
                unsafe { FrameMem::new(&sim, table) }.words()[IDX[level]].load(Ordering::Relaxed);
            assert_ne!(e & X86_A, 0, "A at level {level}");
            assert_eq!(e & X86_D != 0, level == 0, "D at level {level}");
            table = PhysAddr::new(e & X86_ADDR);
        }
    }

    const AT: u64 = ARM_VALID | ARM_TABLE;
    const APAGE: u64 = 0x9000 | ARM_VALID | ARM_TABLE | ARM_AF | ARM_AP_EL0 | ARM_PXN;

    #[test]
    fn arm_hierarchical_table_attributes() {
        let a = check::<Aarch64>;
        assert_eq!(a([APAGE, AT, AT, AT], Access::Write, true), Ok(0x9000));
        assert_eq!(
            a(
                [APAGE, AT, AT | ARM_AP_TABLE_NO_EL0, AT],
                Access::Read,
                true
            ),
            Err(FaultKind::Permission)
        );
        assert_eq!(
            a([APAGE, AT | ARM_AP_TABLE_RO, AT, AT], Access::Write, true),
            Err(FaultKind::Permission)
        );
        assert!(a([APAGE, AT | ARM_AP_TABLE_RO, AT, AT], Access::Read, true).is_ok());
        assert_eq!(
            a([APAGE, AT, AT, AT | ARM_UXN_TABLE], Access::Execute, true),
            Err(FaultKind::Permission)
        );
        assert!(a([APAGE, AT, AT, AT], Access::Execute, true).is_ok());
        // EL0-writable memory is never executable at EL1, PXN or not.
        assert_eq!(
            a([APAGE & !ARM_PXN, AT, AT, AT], Access::Execute, false),
            Err(FaultKind::Permission)
        );
        let ro = APAGE & !ARM_PXN | ARM_AP_RO;
        assert!(a([ro, AT, AT, AT], Access::Execute, false).is_ok());
        // EL0 execute depends on UXN alone, even without EL0 read access.
        let xo = APAGE & !ARM_AP_EL0;
        assert_eq!(
            a([xo, AT, AT, AT], Access::Read, true),
            Err(FaultKind::Permission)
        );
        assert!(a([xo, AT, AT, AT], Access::Execute, true).is_ok());
    }

    #[test]
    fn arm_descriptor_types_and_access_flag() {
        let a = check::<Aarch64>;
        // Block at ARM level 0 and 0b01 at the page level: translation faults.
        assert_eq!(
            a([APAGE, AT, AT, ARM_VALID], Access::Read, true),
            Err(FaultKind::NotPresent { level: 3 })
        );
        assert_eq!(
            a([APAGE & !ARM_TABLE, AT, AT, AT], Access::Read, true),
            Err(FaultKind::NotPresent { level: 0 })
        );
        // A 1 GiB block at ARM level 1.
        let block = 0x4000_0000 | ARM_VALID | ARM_AF | ARM_AP_EL0;
        assert_eq!(
            a([0, 0, block, AT], Access::Read, true),
            Ok(0x4000_0000 + VA)
        );
        // The MMU (TCR.HA) sets a clear access flag.
        let sim = Sim::<Aarch64>::new();
        let root = build(&sim, [APAGE & !ARM_AF, AT, AT, AT]);
        sim.translate(root, 3, VA, Access::Read, true).unwrap();
        let mut table = root;
        for level in (1..4).rev() {
            // SAFETY: a live frame of `sim`.
            let e =
                unsafe { FrameMem::new(&sim, table) }.words()[IDX[level]].load(Ordering::Relaxed);
            table = PhysAddr::new(e & ARM_ADDR);
        }
        // SAFETY: a live frame of `sim`.
        let leaf = unsafe { FrameMem::new(&sim, table) }.words()[IDX[0]].load(Ordering::Relaxed);
        assert_ne!(leaf & ARM_AF, 0);
    }
}

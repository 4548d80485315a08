//! The full-table hint of the page-table walker, on both formats: a
//! level-1 entry may record that all 512 leaves of its table are valid
//! with the same permission bits, and a whole-table protect then flips
//! them with one xor per leaf. These tests follow the hint through
//! uniform, mixed, unmapped and refilled tables (`protect` and `unmap`
//! from the helpers audit every hint against every leaf).
#![cfg(feature = "sim")]

mod common;

use std::sync::atomic::Ordering;

use common::page_table::*;
use zx_subsystem::Access;
use zx_subsystem::arch::Arch;
use zx_subsystem::mmu::{FrameMem, FrameReserve, MmuFlags, PageSize, PageTable, PageTableFormat};
use zx_subsystem::platform::{PhysAddr, Platform};
use zx_subsystem::sim::Sim;

/// The hint of the level-1 entry above `va`, as the permission bits it
/// records for the leaves of the table below.
fn hinted_perms<A: Arch>(pt: &PageTable<Sim<A>>, va: u64) -> Option<u64> {
    let addr = |e: u64| e & 0x0000_ffff_ffff_f000;
    let mut table = pt.root().as_u64();
    let mut entry = 0;
    for level in [3, 2, 1] {
        // SAFETY: `table` is a live table frame of `pt`, borrowed for the
        // load; accesses are atomic.
        let mem = unsafe { FrameMem::new(pt.platform(), PhysAddr::new(table)) };
        entry = mem.words()[((va >> (12 + 9 * level)) & 511) as usize].load(Ordering::Relaxed);
        table = addr(entry);
    }
    A::Paging::hinted_perms(entry)
}

/// The 512 raw leaves of the level-0 table holding `va`.
fn raw_leaves<A: Arch>(pt: &PageTable<Sim<A>>, va: u64) -> Vec<u64> {
    (0..512)
        .map(|i| {
            let page = (va & !(M2 - 1)) + i * K4;
            let mut table = pt.root().as_u64();
            let mut entry = 0;
            for level in [3, 2, 1, 0] {
                // SAFETY: as in `hinted_perms`.
                let mem = unsafe { FrameMem::new(pt.platform(), PhysAddr::new(table)) };
                entry = mem.words()[((page >> (12 + 9 * level)) & 511) as usize]
                    .load(Ordering::Relaxed);
                table = entry & 0x0000_ffff_ffff_f000;
            }
            entry
        })
        .collect()
}

/// A whole-table protect of a hinted table flips the permission bits with
/// one xor per leaf, trusting the hint. So the hint must record exactly the
/// leaves' permissions: gone after a partial protect leaves the table
/// mixed, back after a whole protect makes it uniform again, and the xor
/// must keep every other bit (address, accessed/dirty). `protect` audits
/// every hint against every leaf after each step.
fn uniform_hint_tracks_permissions<A: Arch>() {
    let (sim, mut pt) = setup::<A>();
    let base = 0x40_0000;
    let pa = 0x100_0000;
    for i in 0..512 {
        map(&mut pt, base + i * K4, pa + i * K4, PageSize::Size4K, URW);
    }
    let perms = |f: MmuFlags| {
        let u = <A::Paging as PageTableFormat>::leaf_update(f, 0);
        u.set & !u.keep
    };
    let check_all = |pt: &PageTable<Sim<A>>, f: MmuFlags| {
        for i in 0..512 {
            expect(pt, base + i * K4, pa + i * K4, f, PageSize::Size4K);
        }
    };
    assert_eq!(hinted_perms(&pt, base), None);
    protect(&mut pt, base, M2, UR);
    assert_eq!(hinted_perms(&pt, base), Some(perms(UR)));
    check_all(&pt, UR);

    // The MMU sets accessed (and dirty) bits, which the xor must keep.
    let root = pt.root();
    for i in [0, 1, 300, 511] {
        sim.translate(root, pt.asid(), base + i * K4, Access::Read, true)
            .expect("readable");
    }
    let before = raw_leaves(&pt, base);
    protect(&mut pt, base, M2, URX);
    assert_eq!(hinted_perms(&pt, base), Some(perms(URX)));
    check_all(&pt, URX);
    let mask = !<A::Paging as PageTableFormat>::leaf_update(UR, 0).keep;
    for (old, new) in before.iter().zip(raw_leaves(&pt, base)) {
        assert_eq!(old & !mask, new & !mask, "non-permission bits changed");
    }

    // A partial protect leaves the table mixed: no hint.
    protect(&mut pt, base + 5 * K4, 2 * K4, URW);
    assert_eq!(hinted_perms(&pt, base), None);
    for i in 0..512 {
        let f = if (5..7).contains(&i) { URW } else { URX };
        expect(&pt, base + i * K4, pa + i * K4, f, PageSize::Size4K);
    }
    // Same permissions on part of a uniform table keep the hint.
    protect(&mut pt, base, M2, UR);
    protect(&mut pt, base + 9 * K4, K4, UR);
    assert_eq!(hinted_perms(&pt, base), Some(perms(UR)));
    // Same permissions on the whole table change nothing.
    let mut b = batch(&pt);
    let mut r = FrameReserve::empty(pt.platform());
    pt.protect(base, M2, UR, &mut b, &mut r).expect("protect");
    assert!(b.is_empty(), "nothing changed, nothing to flush");
    pt.platform().flush_tlb(&b);
    // Unmap drops the hint; refilling the slot does not bring it back
    // until a whole protect has seen the table full.
    unmap(&mut pt, base + 3 * K4, K4);
    assert_eq!(hinted_perms(&pt, base), None);
    map(&mut pt, base + 3 * K4, pa + 3 * K4, PageSize::Size4K, URW);
    assert_eq!(hinted_perms(&pt, base), None);
    protect(&mut pt, base, M2, URX);
    assert_eq!(hinted_perms(&pt, base), Some(perms(URX)));
    check_all(&pt, URX);
}

both_arches!(uniform_hint_tracks_permissions);

//! The software MMU and its TLB model against the page-table walker, on
//! both formats: a missing TLB flush must show up as a stale access, and
//! translations must behave like the hardware (accessed/dirty bits,
//! user/kernel permissions, user copies across pages).
#![cfg(feature = "sim")]

mod common;

use std::sync::atomic::Ordering;

use common::page_table::*;
use zx_subsystem::arch::Arch;
use zx_subsystem::mmu::format::index;
use zx_subsystem::mmu::{
    EntryKind, FrameMem, FrameReserve, MmuFlags, PageSize, PageTable, PageTableFormat,
};
use zx_subsystem::platform::Platform;
use zx_subsystem::sim::{FaultKind, Sim};
use zx_subsystem::trap::Access;

fn stale_tlb_without_flush<A: Arch>() {
    let (sim, mut pt) = setup::<A>();
    let page = sim.alloc_frame().unwrap();
    let (root, asid, va) = (pt.root(), pt.asid(), 0x100_0000);
    map(&mut pt, va, page.as_u64(), PageSize::Size4K, URW);
    sim.user_write(root, asid, va, b"hello").unwrap();
    assert!(sim.tlb_holds(asid, va));

    // A protect whose batch is dropped without a flush: the CPU still
    // holds the old, writable translation.
    let mut b = batch(&pt);
    let mut r = FrameReserve::empty(&sim);
    pt.protect(va, K4, UR, &mut b, &mut r).unwrap();
    drop(b);
    assert!(sim.user_write(root, asid, va, b"stale").is_ok());

    // With the flush, the write faults and reads keep working.
    let mut b = batch(&pt);
    pt.protect(va, K4, UR, &mut b, &mut r).unwrap();
    assert!(
        b.is_empty(),
        "same permissions again: nothing to invalidate"
    );
    b.add_page(va);
    sim.flush_tlb(&b);
    let err = sim.user_write(root, asid, va, b"x").unwrap_err();
    assert_eq!(
        (err.kind, err.access, err.va),
        (FaultKind::Permission, Access::Write, va)
    );
    let mut buf = [0; 5];
    sim.user_read(root, asid, va, &mut buf).unwrap();
    assert_eq!(&buf, b"stale");

    // Back to RW: writes work again and the data is kept.
    protect(&mut pt, va, K4, URW);
    sim.user_write(root, asid, va + 5, b"!").unwrap();
    let mut buf = [0; 6];
    sim.user_read(root, asid, va, &mut buf).unwrap();
    assert_eq!(&buf, b"stale!");

    // Unmap without a flush leaves a stale translation too.
    let mut b = batch(&pt);
    pt.unmap(va, K4, &mut b, &mut r).unwrap();
    // Its tables were freed, so the walker flushed already.
    assert!(b.is_empty());
    let err = sim.user_read(root, asid, va, &mut buf).unwrap_err();
    assert_eq!(err.kind, FaultKind::NotPresent { level: 3 });
    drop(pt);
    sim.free_frame(page);
    assert_eq!(sim.frames_allocated(), 0);
}

fn stale_tlb_on_split<A: Arch>() {
    let (sim, mut pt) = setup::<A>();
    let (root, asid, va, pa) = (pt.root(), pt.asid(), 0x40_0000, 0x1_0000_0000);
    map(&mut pt, va, pa, PageSize::Size2M, URW);
    let mid = va + 0x10_0000;
    assert_eq!(
        sim.translate(root, asid, mid, Access::Write, true)
            .unwrap()
            .as_u64(),
        pa + 0x10_0000
    );
    let mut b = batch(&pt);
    let mut r = FrameReserve::empty(&sim);
    pt.protect(mid, K4, UR, &mut b, &mut r).unwrap();
    // x86_64 swaps the table in, so the old 2 MiB entry is still cached;
    // aarch64's break-before-make already invalidated it.
    let stale = sim.translate(root, asid, mid, Access::Write, true);
    assert_eq!(stale.is_ok(), A::NAME == "x86_64");
    sim.flush_tlb(&b);
    let err = sim
        .translate(root, asid, mid, Access::Write, true)
        .unwrap_err();
    assert_eq!(err.kind, FaultKind::Permission);
    for off in (0..M2).step_by(K4 as usize).filter(|&o| o != 0x10_0000) {
        let got = sim
            .translate(root, asid, va + off, Access::Write, true)
            .unwrap();
        assert_eq!(got.as_u64(), pa + off);
    }
}

/// The raw leaf entry mapping `va`, found through the format's bits.
fn leaf<A: Arch>(sim: &Sim<A>, pt: &PageTable<Sim<A>>, va: u64) -> u64 {
    let mut table = pt.root();
    for level in (0..4).rev() {
        // SAFETY: the tables of `pt` stay allocated while it lives, longer
        // than this view; every access is atomic.
        let mem = unsafe { FrameMem::new(sim, table) };
        let entry = mem.words()[index(va, level)].load(Ordering::Relaxed);
        match <A::Paging as PageTableFormat>::kind(entry, level) {
            EntryKind::Leaf => return entry,
            EntryKind::Table => table = <A::Paging as PageTableFormat>::table_addr(entry),
            EntryKind::Absent => break,
        }
    }
    panic!("{va:#x} not mapped")
}

fn translation_sets_accessed_and_dirty<A: Arch>() {
    let (sim, mut pt) = setup::<A>();
    let page = sim.alloc_frame().unwrap();
    let (root, asid, va) = (pt.root(), pt.asid(), 0x100_0000);
    map(&mut pt, va, page.as_u64(), PageSize::Size4K, URW);
    // x86_64: A is bit 5 and D bit 6, both set by the MMU. aarch64: AF
    // (bit 10) is set at map time, and there is no hardware dirty state.
    let (accessed, dirty) = if A::NAME == "x86_64" {
        (1 << 5, 1 << 6)
    } else {
        (1 << 10, 0)
    };
    if A::NAME == "x86_64" {
        assert_eq!(leaf(&sim, &pt, va) & (accessed | dirty), 0);
    }
    let mut buf = [0; 4];
    sim.user_read(root, asid, va, &mut buf).unwrap();
    assert_eq!(leaf(&sim, &pt, va) & (accessed | dirty), accessed);
    // A write through the clean cached translation walks again to set D.
    sim.user_write(root, asid, va, b"data").unwrap();
    assert_eq!(leaf(&sim, &pt, va) & (accessed | dirty), accessed | dirty);
    // Protect keeps the hardware-maintained bits and the address.
    protect(&mut pt, va, K4, UR);
    let entry = leaf(&sim, &pt, va);
    assert_eq!(entry & (accessed | dirty), accessed | dirty);
    assert_eq!(pt.query(va).unwrap().pa, page);
    drop(pt);
    sim.free_frame(page);
}

fn user_copies_cross_pages<A: Arch>() {
    let (sim, mut pt) = setup::<A>();
    let pages = [sim.alloc_frame().unwrap(), sim.alloc_frame().unwrap()];
    let (root, asid, va) = (pt.root(), pt.asid(), 0x100_0000);
    map(&mut pt, va, pages[0].as_u64(), PageSize::Size4K, URW);
    map(&mut pt, va + K4, pages[1].as_u64(), PageSize::Size4K, URW);
    let data: Vec<u8> = (0..100).collect();
    sim.user_write(root, asid, va + K4 - 50, &data).unwrap();
    let mut back = vec![0; 100];
    sim.user_read(root, asid, va + K4 - 50, &mut back).unwrap();
    assert_eq!(back, data);
    // The bytes landed in the two frames the pages map.
    // SAFETY: both frames are live until freed below; atomic accesses.
    let second = unsafe { FrameMem::new(&sim, pages[1]) };
    let mut head = [0; 50];
    assert!(second.read(0, &mut head));
    assert_eq!(&head[..], &data[50..]);
    // A copy running into an unmapped page faults there, after copying
    // what came before it.
    let err = sim
        .user_write(root, asid, va + 2 * K4 - 4, &[7; 8])
        .unwrap_err();
    assert_eq!(
        (err.va, err.kind),
        (va + 2 * K4, FaultKind::NotPresent { level: 0 })
    );
    let mut tail = [0; 4];
    sim.user_read(root, asid, va + 2 * K4 - 4, &mut tail)
        .unwrap();
    assert_eq!(tail, [7; 4]);
    drop(pt);
    pages.iter().for_each(|&p| sim.free_frame(p));
    assert_eq!(sim.frames_allocated(), 0);
}

fn kernel_and_user_permissions<A: Arch>() {
    let (sim, mut pt) = setup::<A>();
    let (root, asid) = (pt.root(), pt.asid());
    map(&mut pt, 0x100_0000, 0x5000, PageSize::Size4K, MmuFlags::RW);
    map(&mut pt, 0x100_1000, 0x6000, PageSize::Size4K, URX);
    let t = |va, access, user| {
        sim.translate(root, asid, va, access, user)
            .map_err(|f| f.kind)
    };
    // A kernel page: the kernel may use it, user mode may not.
    assert_eq!(
        t(0x100_0000, Access::Read, true),
        Err(FaultKind::Permission)
    );
    assert_eq!(
        t(0x100_0008, Access::Write, false).unwrap().as_u64(),
        0x5008
    );
    assert_eq!(
        t(0x100_0000, Access::Execute, false),
        Err(FaultKind::Permission)
    );
    // A user R+X page: no user write, and the kernel never executes it
    // (SMEP / PXN) although it may read it.
    assert_eq!(
        t(0x100_1000, Access::Execute, true).unwrap().as_u64(),
        0x6000
    );
    assert_eq!(
        t(0x100_1000, Access::Write, true),
        Err(FaultKind::Permission)
    );
    assert_eq!(
        t(0x100_1000, Access::Execute, false),
        Err(FaultKind::Permission)
    );
    assert!(t(0x100_1000, Access::Read, false).is_ok());
    // Outside what a user table translates.
    assert_eq!(t(1 << 48, Access::Read, true), Err(FaultKind::AddressRange));
    // A translation to memory that is not a frame of the machine.
    let mut buf = [0; 1];
    let err = sim.user_read(root, asid, 0x100_1000, &mut buf).unwrap_err();
    assert_eq!(err.kind, FaultKind::BadPhysical);
}

both_arches!(
    stale_tlb_without_flush,
    stale_tlb_on_split,
    translation_sets_accessed_and_dirty,
    user_copies_cross_pages,
    kernel_and_user_permissions,
);

//! Host tests of the generic page-table walker on both formats, through the
//! simulated machine: map/protect/unmap/query round trips, huge-page
//! splits, freeing of empty tables, and all-or-nothing behaviour when
//! frames run out. (TLB maintenance and the software MMU:
//! `page_table_sim.rs`; random sequences: `page_table_model.rs`.)
//!
//! Every test is generic over the architecture and instantiated for
//! `Sim<X86_64>` and `Sim<Aarch64>` by `both!` at the end.
#![cfg(feature = "sim")]

mod common;

use std::sync::atomic::Ordering;

use common::page_table::*;
use zx_subsystem::Error;
use zx_subsystem::arch::Arch;
use zx_subsystem::mmu::{FrameMem, FrameReserve, MmuFlags, PageSize, PageTable, TlbBatch};
use zx_subsystem::platform::{PhysAddr, Platform};
use zx_subsystem::sim::Sim;

fn map_query_round_trip<A: Arch>() {
    let (sim, mut pt) = setup::<A>();
    let base = sim.frames_allocated();
    map(&mut pt, 0x100_0000, 0x1234_5000, PageSize::Size4K, URW);
    map(&mut pt, 0x120_0000, 0x4060_0000, PageSize::Size2M, URX);
    map(&mut pt, 0x80_0000_0000, 0x1_c000_0000, PageSize::Size1G, UR);
    expect(&pt, 0x100_0fff, 0x1234_5000, URW, PageSize::Size4K);
    expect(
        &pt,
        0x120_0000 + 0x3_4567,
        0x4060_0000 + 0x3_4000,
        URX,
        PageSize::Size2M,
    );
    expect(
        &pt,
        0x80_0000_0000 + 0x1234_5678,
        0x1_c000_0000 + 0x1234_5000,
        UR,
        PageSize::Size1G,
    );
    assert_eq!(pt.query(0x100_1000), None);
    assert_eq!(pt.query(0x140_0000), None);
    // Write-only and execute-only fold to readable; kernel mappings exist.
    map(
        &mut pt,
        0x200_0000,
        0x5000,
        PageSize::Size4K,
        MmuFlags::WRITE | MmuFlags::USER,
    );
    expect(&pt, 0x200_0000, 0x5000, URW, PageSize::Size4K);
    map(
        &mut pt,
        0x200_1000,
        0x6000,
        PageSize::Size4K,
        MmuFlags::EXECUTE,
    );
    expect(&pt, 0x200_1000, 0x6000, MmuFlags::RX, PageSize::Size4K);
    // Root + (PDPT, PD, PT) + PT for 0x200_0000 + (PDPT) for the 1 GiB leaf.
    assert_eq!(sim.frames_allocated(), base + 5);
    drop(pt);
    assert_eq!(sim.frames_allocated(), 0);
}

fn map_rejects_bad_arguments<A: Arch>() {
    let (sim, mut pt) = setup::<A>();
    map(&mut pt, 0x40_0000, 0x40_0000, PageSize::Size2M, URW);
    map(&mut pt, 0x100_0000, 0x9000, PageSize::Size4K, URW);
    let frames = sim.frames_allocated();
    let mut b = batch(&pt);
    let pa = PhysAddr::new;
    let bad = |r: Result<(), Error>| matches!(r, Err(Error::InvalidArgs(_)));
    let exists = |r: Result<(), Error>| matches!(r, Err(Error::AlreadyExists(_)));
    assert!(bad(pt.map(
        0x1001,
        pa(0x1000),
        PageSize::Size4K,
        URW,
        &mut b
    )));
    assert!(bad(pt.map(
        0x1000,
        pa(0x1001),
        PageSize::Size4K,
        URW,
        &mut b
    )));
    assert!(bad(pt.map(
        0x20_1000,
        pa(0x20_0000),
        PageSize::Size2M,
        URW,
        &mut b
    )));
    assert!(bad(pt.map(
        0x4000_0000,
        pa(0x20_0000),
        PageSize::Size1G,
        URW,
        &mut b
    )));
    assert!(bad(pt.map(
        0x1000,
        pa(0x1000),
        PageSize::Size4K,
        MmuFlags::USER,
        &mut b
    )));
    assert!(bad(pt.map(
        !0xfff_u64,
        pa(0),
        PageSize::Size4K,
        URW,
        &mut b
    )));
    assert!(bad(pt.map(1 << 48, pa(0), PageSize::Size4K, URW, &mut b)));
    assert!(bad(pt.map(
        0x1000,
        pa(!0xfff_u64),
        PageSize::Size4K,
        URW,
        &mut b
    )));
    let mut other = TlbBatch::new::<A>(pt.asid() + 1);
    assert!(bad(pt.map(
        0x1000,
        pa(0x1000),
        PageSize::Size4K,
        URW,
        &mut other
    )));
    // Inside a large leaf, over a table, or on an existing leaf.
    assert!(exists(pt.map(
        0x41_0000,
        pa(0),
        PageSize::Size4K,
        URW,
        &mut b
    )));
    assert!(exists(pt.map(
        0x40_0000,
        pa(0),
        PageSize::Size2M,
        URW,
        &mut b
    )));
    assert!(exists(pt.map(
        0x100_0000,
        pa(0),
        PageSize::Size2M,
        URW,
        &mut b
    )));
    assert!(exists(pt.map(0, pa(0), PageSize::Size1G, URW, &mut b)));
    assert!(exists(pt.map(
        0x100_0000,
        pa(0),
        PageSize::Size4K,
        URW,
        &mut b
    )));
    assert!(b.is_empty());
    assert_eq!(sim.frames_allocated(), frames);
    expect(&pt, 0x100_0000, 0x9000, URW, PageSize::Size4K);
}

fn protect_round_trip<A: Arch>() {
    let (sim, mut pt) = setup::<A>();
    // Pages 0..16 mapped except 5 and 6.
    for i in (0..16u64).filter(|i| !(5..7).contains(i)) {
        map(
            &mut pt,
            0x100_0000 + i * K4,
            0x10_0000 + i * K4,
            PageSize::Size4K,
            URW,
        );
    }
    let frames = sim.frames_allocated();
    protect(&mut pt, 0x100_0000 + 2 * K4, 8 * K4, UR);
    for i in 0..16u64 {
        let va = 0x100_0000 + i * K4;
        match i {
            5 | 6 => assert_eq!(pt.query(va), None),
            2..10 => expect(&pt, va, 0x10_0000 + i * K4, UR, PageSize::Size4K),
            _ => expect(&pt, va, 0x10_0000 + i * K4, URW, PageSize::Size4K),
        }
    }
    protect(&mut pt, 0x100_0000, 16 * K4, URX);
    protect(&mut pt, 0x100_0000, 16 * K4, URW);
    for i in (0..16u64).filter(|i| !(5..7).contains(i)) {
        expect(
            &pt,
            0x100_0000 + i * K4,
            0x10_0000 + i * K4,
            URW,
            PageSize::Size4K,
        );
    }
    assert_eq!(sim.frames_allocated(), frames);
    // Protecting to no access removes the translations.
    protect(&mut pt, 0x100_0000, 4 * K4, MmuFlags::empty());
    assert_eq!(pt.query(0x100_0000 + 3 * K4), None);
    expect(
        &pt,
        0x100_0000 + 4 * K4,
        0x10_0000 + 4 * K4,
        URW,
        PageSize::Size4K,
    );
    // Bad ranges fail and change nothing.
    let mut b = batch(&pt);
    let mut r = FrameReserve::empty(&sim);
    assert!(pt.protect(0x100_0001, K4, UR, &mut b, &mut r).is_err());
    assert!(pt.protect(0x100_0000, 0x800, UR, &mut b, &mut r).is_err());
    assert!(pt.protect(!0xfff_u64, 2 * K4, UR, &mut b, &mut r).is_err());
    assert!(pt.unmap(0x100_0000, !0xfff_u64, &mut b, &mut r).is_err());
    assert!(pt.protect(0x100_0000, 0, UR, &mut b, &mut r).is_ok());
    assert!(b.is_empty());
}

fn protect_same_flags_needs_no_flush<A: Arch>() {
    let (_sim, mut pt) = setup::<A>();
    map(&mut pt, 0x40_0000, 0x40_0000, PageSize::Size2M, URW);
    for i in 0..8 {
        map(&mut pt, 0x100_0000 + i * K4, i * K4, PageSize::Size4K, URW);
    }
    let mut b = batch(&pt);
    let mut r = FrameReserve::empty(pt.platform());
    pt.protect(0x40_1000, 0x100_0000, URW, &mut b, &mut r)
        .unwrap();
    assert!(b.is_empty(), "unchanged leaves need no invalidation");
    // And the large leaf was not split for nothing.
    expect(&pt, 0x40_1000, 0x40_1000, URW, PageSize::Size2M);
}

/// Protects the middle of a large leaf and checks that every 4 KiB page of
/// it still maps the same physical page.
fn split_check<A: Arch>(size: PageSize, va: u64, pa: u64, cut: (u64, u64), splits: usize) {
    let (sim, mut pt) = setup::<A>();
    map(&mut pt, va, pa, size, URW);
    let frames = sim.frames_allocated();
    assert_eq!(pt.frames_needed(va + cut.0, cut.1), splits);
    protect(&mut pt, va + cut.0, cut.1, UR);
    assert_eq!(sim.frames_allocated(), frames + splits);
    let mut off = 0;
    while off < size.bytes() {
        let inside = off >= cut.0 && off < cut.0 + cut.1;
        let t = pt.query(va + off).expect("still mapped");
        assert_eq!(t.pa.as_u64(), pa + off, "pa at offset {off:#x}");
        assert_eq!(t.flags, if inside { UR } else { URW }, "flags at {off:#x}");
        // Only the 2 MiB blocks the range cuts become 4 KiB pages.
        let cut_2m = |o: u64| o / M2 == cut.0 / M2 || o / M2 == (cut.0 + cut.1) / M2;
        let small = size == PageSize::Size2M || cut_2m(off);
        assert_eq!(
            t.size,
            if small {
                PageSize::Size4K
            } else {
                PageSize::Size2M
            }
        );
        off += K4;
    }
    // Unmapping the rest frees every table again (the root stays).
    unmap(&mut pt, va, size.bytes());
    assert_eq!(sim.frames_allocated(), 1);
}

fn protect_splits_2m_leaf<A: Arch>() {
    split_check::<A>(
        PageSize::Size2M,
        0x120_0000,
        0x7_0000_0000,
        (0x5000, 0x3000),
        1,
    );
}

fn protect_splits_1g_leaf<A: Arch>() {
    let cut = (3 * M2 + 5 * K4, 2 * M2);
    split_check::<A>(PageSize::Size1G, 0x40_0000_0000, 0x3_c000_0000, cut, 3);
}

/// A table split from a 2 MiB leaf is full; once unmap removes one of its
/// pages, protect must test every entry again (the hint must be gone).
fn full_table_hint_follows_unmap<A: Arch>() {
    let (sim, mut pt) = setup::<A>();
    map(&mut pt, 0x40_0000, 0x80_0000, PageSize::Size2M, URW);
    protect(&mut pt, 0x40_0000 + K4, K4, UR);
    unmap(&mut pt, 0x40_0000 + 7 * K4, K4);
    // Large enough for a whole-address-space batch: the untracked path.
    protect(&mut pt, 0x40_0000, M2, URX);
    protect(&mut pt, 0x40_0000, M2, URW);
    assert_eq!(pt.query(0x40_0000 + 7 * K4), None);
    expect(
        &pt,
        0x40_0000 + 8 * K4,
        0x80_0000 + 8 * K4,
        URW,
        PageSize::Size4K,
    );
    assert_eq!(pt.audit(), Ok(4));
    assert_eq!(sim.frames_allocated(), 4);
}

fn unmap_splits_and_frees_tables<A: Arch>() {
    let (sim, mut pt) = setup::<A>();
    map(&mut pt, 0x20_0000, 0x80_0000, PageSize::Size2M, URW);
    let mut b = batch(&pt);
    let mut r = FrameReserve::empty(&sim);
    pt.unmap(0x20_0000 + K4, K4, &mut b, &mut r).unwrap();
    sim.flush_tlb(&b);
    assert_eq!(pt.query(0x20_1000), None);
    expect(&pt, 0x20_2000, 0x80_2000, URW, PageSize::Size4K);
    expect(&pt, 0x20_0000, 0x80_0000, URW, PageSize::Size4K);
    // Root, PDPT, PD and the new PT.
    assert_eq!(sim.frames_allocated(), 4);
    let flushes = sim.tlb_flushes();
    let mut b = batch(&pt);
    pt.unmap(0, 4 * G1, &mut b, &mut r).unwrap();
    assert!(b.is_empty(), "the walker flushed before freeing tables");
    assert_eq!(sim.tlb_flushes(), flushes + 1);
    assert_eq!(sim.frames_allocated(), 1);
    assert_eq!(pt.query(0x20_0000), None);
}

fn failed_reservation_changes_nothing<A: Arch>() {
    let (sim, mut pt) = setup::<A>();
    map(&mut pt, G1, 0x8000_0000, PageSize::Size1G, URW);
    let (va, len) = (G1 + 3 * M2 + K4, 5 * M2);
    assert_eq!(pt.frames_needed(va, len), 3);
    let frames = sim.frames_allocated();
    let flushes = sim.tlb_flushes();
    for budget in 0..3 {
        sim.fail_after(budget);
        let mut b = batch(&pt);
        let mut r = FrameReserve::empty(&sim);
        assert_eq!(
            pt.protect(va, len, UR, &mut b, &mut r),
            Err(Error::NoMemory)
        );
        assert_eq!(pt.unmap(va, len, &mut b, &mut r), Err(Error::NoMemory));
        assert!(b.is_empty());
        assert!(FrameReserve::new(&sim, 3).is_err());
        drop(r);
        assert_eq!(sim.frames_allocated(), frames);
        assert_eq!(sim.tlb_flushes(), flushes);
        expect(&pt, va, 0x8000_0000 + va - G1, URW, PageSize::Size1G);
    }
    sim.set_frame_limit(None);
    // A map that needs three tables fails whole.
    sim.fail_after(2);
    let mut b = batch(&pt);
    let res = pt.map(
        0x80_0000_0000,
        PhysAddr::new(0),
        PageSize::Size4K,
        URW,
        &mut b,
    );
    assert_eq!(res, Err(Error::NoMemory));
    assert_eq!(sim.frames_allocated(), frames);
    assert_eq!(pt.query(0x80_0000_0000), None);
    sim.set_frame_limit(None);
}

fn reserve_ahead_then_apply<A: Arch>() {
    let (sim, mut pt) = setup::<A>();
    map(&mut pt, G1, 0x8000_0000, PageSize::Size1G, URW);
    map(&mut pt, 4 * G1 + M2, 0x20_0000, PageSize::Size2M, URW);
    let ranges = [
        (G1 + K4, K4),
        (G1 + 7 * M2 - K4, 3 * K4),
        (4 * G1 + M2 + K4, K4),
    ];
    let need: usize = ranges
        .iter()
        .map(|&(va, len)| pt.frames_needed(va, len))
        .sum();
    let mut r = FrameReserve::new(&sim, need).unwrap();
    assert_eq!(r.len(), need);
    // No frame can be allocated any more: the reserve must suffice.
    sim.fail_after(0);
    let mut b = batch(&pt);
    for &(va, len) in &ranges {
        pt.protect(va, len, UR, &mut b, &mut r).unwrap();
    }
    sim.flush_tlb(&b);
    sim.set_frame_limit(None);
    for &(va, len) in &ranges {
        expect(
            &pt,
            va,
            pt.query(va).unwrap().pa.as_u64(),
            UR,
            PageSize::Size4K,
        );
        expect(
            &pt,
            va + len,
            pt.query(va + len).unwrap().pa.as_u64(),
            URW,
            PageSize::Size4K,
        );
    }
    drop(r);
    drop(pt);
    assert_eq!(sim.frames_allocated(), 0);
}

/// A platform whose kernel root table has entries to copy (x86_64 style).
struct WithKernel<A: Arch>(Sim<A>, PhysAddr);

impl<A: Arch> Clone for WithKernel<A> {
    fn clone(&self) -> Self {
        WithKernel(self.0.clone(), self.1)
    }
}

// SAFETY: (1)-(3) forwarded to `Sim`, which keeps them; (4) the kernel
// root is a frame allocated from that `Sim` and kept for the test's life.
unsafe impl<A: Arch> Platform for WithKernel<A> {
    type Arch = A;
    fn alloc_frame(&self) -> Option<PhysAddr> {
        self.0.alloc_frame()
    }
    fn free_frame(&self, frame: PhysAddr) {
        self.0.free_frame(frame)
    }
    fn phys_to_virt(&self, frame: PhysAddr) -> *mut u8 {
        self.0.phys_to_virt(frame)
    }
    fn flush_tlb(&self, batch: &TlbBatch) {
        self.0.flush_tlb(batch)
    }
    fn interrupt_thread(&self, thread: zx_subsystem::ThreadToken) {
        self.0.interrupt_thread(thread)
    }
    fn thread_started(
        &self,
        _: &std::sync::Arc<zx_subsystem::object::Thread<Self>>,
        _: zx_subsystem::platform::UserContextOf<Self>,
    ) {
        unreachable!("the page-table tests start no threads")
    }
    fn wake(&self, _: zx_subsystem::ThreadToken) {
        unreachable!("the page-table tests block no threads")
    }
    fn now(&self) -> i64 {
        0
    }
    fn kernel_root_table(&self) -> Option<PhysAddr> {
        Some(self.1)
    }
}

fn kernel_half_is_shared_not_owned<A: Arch>() {
    let sim = Sim::<A>::new();
    // A kernel root whose entry 300 points to a kernel table.
    let (kroot, ktable) = (sim.alloc_frame().unwrap(), sim.alloc_frame().unwrap());
    // SAFETY: both are live frames of `sim`, freed only at the end of the
    // test; every access is atomic.
    let kmem = unsafe { FrameMem::new(&sim, kroot) };
    kmem.zero();
    kmem.words()[300].store(ktable.as_u64() | 0x3, Ordering::Relaxed);
    let frames = sim.frames_allocated();
    let mut pt = PageTable::new(WithKernel(sim.clone(), kroot), 3).unwrap();
    assert_eq!(sim.frames_allocated(), frames + 1);
    // SAFETY: the root is live until `pt` is dropped, after this view's
    // last use.
    let root = unsafe { FrameMem::new(&sim, pt.root()) };
    let copied = root.words()[300].load(Ordering::Relaxed);
    let expected = if A::NAME == "x86_64" {
        ktable.as_u64() | 0x3
    } else {
        0
    };
    assert_eq!(copied, expected);
    assert_eq!(pt.query(300 << 39), None);
    let mut b = TlbBatch::new::<A>(3);
    let mut r = FrameReserve::empty(pt.platform());
    pt.map(
        0x100_0000,
        PhysAddr::new(0x2000),
        PageSize::Size4K,
        URW,
        &mut b,
    )
    .unwrap();
    pt.unmap(0, 1 << 46, &mut b, &mut r).unwrap();
    drop(r);
    drop(pt);
    // Only the user table's own frames went back: freeing the kernel
    // frames now would panic if the page table had freed them.
    assert_eq!(sim.frames_allocated(), frames);
    sim.free_frame(ktable);
    sim.free_frame(kroot);
    assert_eq!(sim.frames_allocated(), 0);
}

both_arches!(
    map_query_round_trip,
    map_rejects_bad_arguments,
    protect_round_trip,
    protect_same_flags_needs_no_flush,
    protect_splits_2m_leaf,
    protect_splits_1g_leaf,
    unmap_splits_and_frees_tables,
    full_table_hint_follows_unmap,
    failed_reservation_changes_nothing,
    reserve_ahead_then_apply,
    kernel_half_is_shared_not_owned,
);

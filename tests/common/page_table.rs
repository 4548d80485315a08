//! Helpers for the page-table integration tests.

use zx_subsystem::arch::Arch;
use zx_subsystem::mmu::{FrameReserve, MmuFlags, PageSize, PageTable, TlbBatch};
use zx_subsystem::platform::{PhysAddr, Platform};
use zx_subsystem::sim::Sim;

pub const K4: u64 = 4 << 10;
pub const M2: u64 = 2 << 20;
pub const G1: u64 = 1 << 30;
pub const URW: MmuFlags = MmuFlags::READ.union(MmuFlags::WRITE).union(MmuFlags::USER);
pub const UR: MmuFlags = MmuFlags::READ.union(MmuFlags::USER);
pub const URX: MmuFlags = MmuFlags::READ
    .union(MmuFlags::EXECUTE)
    .union(MmuFlags::USER);

pub fn setup<A: Arch>() -> (Sim<A>, PageTable<Sim<A>>) {
    let sim = Sim::<A>::new();
    let pt = PageTable::new(sim.clone(), 7).expect("root");
    (sim, pt)
}

pub fn batch<A: Arch>(pt: &PageTable<Sim<A>>) -> TlbBatch {
    TlbBatch::new::<A>(pt.asid())
}

/// Maps and flushes (a new translation needs none, but keep tests honest).
pub fn map<A: Arch>(pt: &mut PageTable<Sim<A>>, va: u64, pa: u64, size: PageSize, flags: MmuFlags) {
    let mut b = batch(pt);
    pt.map(va, PhysAddr::new(pa), size, flags, &mut b)
        .expect("map");
    pt.platform().flush_tlb(&b);
}

pub fn protect<A: Arch>(pt: &mut PageTable<Sim<A>>, va: u64, len: u64, flags: MmuFlags) {
    let mut b = batch(pt);
    let mut r = FrameReserve::empty(pt.platform());
    pt.protect(va, len, flags, &mut b, &mut r).expect("protect");
    pt.platform().flush_tlb(&b);
    pt.audit().expect("tables consistent");
}

pub fn unmap<A: Arch>(pt: &mut PageTable<Sim<A>>, va: u64, len: u64) {
    let mut b = batch(pt);
    let mut r = FrameReserve::empty(pt.platform());
    pt.unmap(va, len, &mut b, &mut r).expect("unmap");
    pt.platform().flush_tlb(&b);
    pt.audit().expect("tables consistent");
}

/// Asserts `va` maps `pa` with `flags` through a leaf of `size`.
pub fn expect<A: Arch>(pt: &PageTable<Sim<A>>, va: u64, pa: u64, flags: MmuFlags, size: PageSize) {
    let t = pt.query(va).unwrap_or_else(|| panic!("{va:#x} not mapped"));
    assert_eq!(t.pa.as_u64(), pa, "pa of {va:#x}");
    assert_eq!(t.flags, flags, "flags of {va:#x}");
    assert_eq!(t.size, size, "size of {va:#x}");
}

//! Protect of a fully populated 1 GiB range of 4 KiB leaves (262,144
//! entries), toggling write permission, per page-table format, measured
//! side by side with its peers in one run:
//!
//! - `floor_plain`: a plain loop flipping the write bit of the same 262,144
//!   entries in place (the compiler vectorises it; PERF.md's 1×);
//! - `floor_atomic`: the same with one relaxed atomic load and store per
//!   entry, the discipline any code racing with the MMU's accessed/dirty
//!   updates (ours included) must keep;
//! - `ours_pt`: [`PageTable::protect`] over the range, then the TLB flush
//!   on the simulated machine;
//! - `ours_syscall`: `zx_vmar_protect` through the syscall table on a
//!   1 GiB VMO mapping whose pages were all faulted in;
//! - `x86_64_crate`: the `x86_64` crate's `OffsetPageTable::update_flags`
//!   per page on the same tables (its flushes ignored);
//! - `aarch64_paging`: google's `aarch64-paging` 0.12,
//!   `Mapping::modify_range` over the same range of 4 KiB pages in its own
//!   (inactive) tables.
//!
//! - `ours_pt_sparse`: the walker's per-entry path: the same protect over a
//!   gigabyte populated one page in eight, whose tables are never full, so
//!   no full-table hint applies (`pair_<arch>/pt_sparse_vs_floor_plain`
//!   against the floor over those tables).
//!
//! - `pair_<arch>/{pt,syscall}_vs_floor_{plain,atomic}`: ours and a floor
//!   alternating call by call; the "time" criterion reports is the ratio,
//!   in µs (see `common::paired`).
//!
//! `cargo xtask bench` turns these into the ratios of the results table.

mod common;

use std::hint::black_box;
use std::time::Duration;

use aarch64_paging::Mapping;
use aarch64_paging::descriptor::{El1Attributes, PhysicalAddress};
use aarch64_paging::idmap::IdTranslation;
use aarch64_paging::paging::{Constraints, El1And0, MemoryRegion, VaRange};
use criterion::{Criterion, criterion_group, criterion_main};
use x86_64::VirtAddr;
use x86_64::structures::paging::{
    Mapper, OffsetPageTable, Page, PageTable as X86PageTable, PageTableFlags, Size4KiB,
};
use zx_subsystem::abi::{ZX_VM_ALIGN_1GB, ZX_VM_PERM_READ, ZX_VM_PERM_WRITE};
use zx_subsystem::arch::{Aarch64, Arch, X86_64};
use zx_subsystem::mmu::{FrameReserve, MmuFlags, PageSize, PageTable, TlbBatch};
use zx_subsystem::sim::Sim;
use zx_subsystem::{PAGE_SIZE, PhysAddr, Platform};

use common::{
    Env, GIB_BASE, GIB_PAGES, floor_atomic, floor_plain, leaf_tables, paired, populated_table,
    table_ptrs,
};

const GIB: u64 = GIB_PAGES * PAGE_SIZE;

/// The write-permission bit of a 4 KiB leaf: x86_64 R/W (bit 1), aarch64
/// AP[2] (bit 7, read-only when set).
fn write_bit<A: Arch>() -> u64 {
    if A::NAME == X86_64::NAME {
        1 << 1
    } else {
        1 << 7
    }
}

/// "Ours": each call protects the benchmark gigabyte of a table R ↔ RW
/// (alternating) with `PageTable::protect`, then flushes on the sim.
fn toggler<A: Arch>(sim: &Sim<A>) -> impl FnMut(&mut PageTable<Sim<A>>) + '_ {
    let urw = MmuFlags::RW | MmuFlags::USER;
    let ur = MmuFlags::READ | MmuFlags::USER;
    let mut write = true;
    move |pt| {
        write = !write;
        let flags = if write { urw } else { ur };
        let mut batch = TlbBatch::new::<A>(1);
        let mut reserve = FrameReserve::empty(sim);
        pt.protect(black_box(GIB_BASE), GIB, flags, &mut batch, &mut reserve)
            .expect("protect");
        sim.flush_tlb(&batch);
    }
}

fn config(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
}

/// The benchmarks that work on tables of format `A`; `extra` adds the
/// crate peer of the format. Ours runs on its own table; the floors and the
/// peer on a second one of the same shape, so nothing rewrites our leaves
/// behind the walker's full-table hints (which would leave them stale).
fn ours_and_floors<A: Arch>(
    c: &mut Criterion,
    extra: impl FnOnce(
        &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        &mut PageTable<Sim<A>>,
    ),
) {
    let sim = Sim::<A>::new();
    let mut pt = populated_table(&sim, GIB_PAGES);
    let mut theirs = populated_table(&sim, GIB_PAGES);
    let tables = leaf_tables(&sim, theirs.root(), GIB_BASE);
    let ptrs = table_ptrs(&sim, &tables);
    let bit = write_bit::<A>();
    // SAFETY: the benchmark owns `theirs`; nothing else touches its tables
    // while the loop runs.
    let floor = || unsafe { floor_plain(&ptrs, bit) };
    let mut ours = toggler(&sim);

    let mut g = c.benchmark_group(format!("populated_{}", A::NAME));
    config(&mut g);
    g.bench_function("floor_plain", |b| b.iter(floor));
    g.bench_function("floor_atomic", |b| {
        b.iter(|| floor_atomic(&sim, &tables, bit))
    });
    g.bench_function("ours_pt", |b| b.iter(|| ours(&mut pt)));
    extra(&mut g, &mut theirs);
    drop(g);
    let mut g = c.benchmark_group(format!("pair_{}", A::NAME));
    config(&mut g);
    g.bench_function("pt_vs_floor_plain", |b| {
        b.iter_custom(|iters| paired(iters, || ours(&mut pt), floor))
    });
    g.bench_function("pt_vs_floor_atomic", |b| {
        b.iter_custom(|iters| paired(iters, || ours(&mut pt), || floor_atomic(&sim, &tables, bit)))
    });
    drop(g);
    // Nothing but ours wrote our table: its hints still match its leaves.
    pt.audit()
        .expect("our table's invariants after the benchmarks");
    drop(pt);
    drop(theirs);
    sparse::<A>(c);

    // The whole syscall path on a 1 GiB VMO mapping, every page faulted in.
    let env = Env::<A>::new();
    let vmo = env.vmo_create(GIB);
    let rw = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE;
    let base = env.vmar_map(env.root_vmar, rw | ZX_VM_ALIGN_1GB, 0, vmo, 0, GIB);
    env.fault_in(base, GIB);
    let tables = leaf_tables(&env.sim, env.process.aspace().root_table(), base);
    let ptrs = table_ptrs(&env.sim, &tables);
    // SAFETY: nothing else uses the address space while the loop runs.
    let floor = || unsafe { floor_plain(&ptrs, bit) };
    let mut write = true;
    let mut ours = || {
        write = !write;
        let perms = if write { rw } else { ZX_VM_PERM_READ };
        env.protect(env.root_vmar, perms, black_box(base), GIB);
    };
    let mut g = c.benchmark_group(format!("populated_{}", A::NAME));
    config(&mut g);
    g.bench_function("ours_syscall", |b| b.iter(&mut ours));
    drop(g);
    let mut g = c.benchmark_group(format!("pair_{}", A::NAME));
    config(&mut g);
    g.bench_function("syscall_vs_floor_plain", |b| {
        b.iter_custom(|iters| paired(iters, &mut ours, floor))
    });
}

/// The per-entry path: a gigabyte with one page in eight mapped (32,768
/// leaves in 512 tables that are never full), protected whole, R ↔ RW,
/// against the plain floor over the same 512 tables.
fn sparse<A: Arch>(c: &mut Criterion) {
    let sim = Sim::<A>::new();
    let mut pt = PageTable::new(sim.clone(), 1).expect("root table");
    let urw = MmuFlags::RW | MmuFlags::USER;
    let mut batch = TlbBatch::new::<A>(1);
    for i in (0..GIB_PAGES).step_by(8) {
        let va = GIB_BASE + i * PAGE_SIZE;
        pt.map(va, PhysAddr::new(va), PageSize::Size4K, urw, &mut batch)
            .expect("map");
    }
    let tables = leaf_tables(&sim, pt.root(), GIB_BASE);
    let ptrs = table_ptrs(&sim, &tables);
    let bit = write_bit::<A>();
    // SAFETY: the floor only flips bits of this benchmark's tables, between
    // our protects (alternating, never at once).
    let floor = || unsafe { floor_plain(&ptrs, bit) };
    let mut ours = toggler(&sim);
    let mut g = c.benchmark_group(format!("populated_{}", A::NAME));
    config(&mut g);
    g.bench_function("ours_pt_sparse", |b| b.iter(|| ours(&mut pt)));
    drop(g);
    let mut g = c.benchmark_group(format!("pair_{}", A::NAME));
    config(&mut g);
    g.bench_function("pt_sparse_vs_floor_plain", |b| {
        b.iter_custom(|iters| paired(iters, || ours(&mut pt), floor))
    });
}

fn x86_64_format(c: &mut Criterion) {
    ours_and_floors::<X86_64>(c, |g, pt| {
        let root = pt.platform().phys_to_virt(pt.root()).cast::<X86PageTable>();
        let common =
            PageTableFlags::PRESENT | PageTableFlags::USER_ACCESSIBLE | PageTableFlags::NO_EXECUTE;
        let mut i = 0u64;
        g.bench_function("x86_64_crate", |b| {
            b.iter(|| {
                // SAFETY: the root frame is live while `pt` lives, and the
                // benchmark holds `&mut` to `pt`, so nothing else accesses
                // the tables; physical addresses of sim frames are their
                // heap addresses (offset 0).
                let mut mapper = unsafe { OffsetPageTable::new(&mut *root, VirtAddr::new(0)) };
                i += 1;
                let flags = if i.is_multiple_of(2) {
                    common | PageTableFlags::WRITABLE
                } else {
                    common
                };
                for p in 0..GIB_PAGES {
                    let page = Page::<Size4KiB>::containing_address(VirtAddr::new(
                        GIB_BASE + p * PAGE_SIZE,
                    ));
                    // SAFETY: only permissions change, on tables no CPU uses.
                    unsafe { mapper.update_flags(page, flags) }
                        .expect("update_flags")
                        .ignore();
                }
            })
        });
    });
}

fn aarch64_format(c: &mut Criterion) {
    ours_and_floors::<Aarch64>(c, |g, _pt| {
        let attrs = El1Attributes::VALID
            | El1Attributes::ATTRIBUTE_INDEX_0
            | El1Attributes::INNER_SHAREABLE
            | El1Attributes::ACCESSED
            | El1Attributes::NON_GLOBAL
            | El1Attributes::USER
            | El1Attributes::PXN
            | El1Attributes::UXN;
        let mut map = Mapping::with_asid_and_va_range(
            IdTranslation::<El1Attributes>::new(),
            1,
            0,
            El1And0,
            VaRange::Lower,
        );
        let range = MemoryRegion::new(GIB_BASE as usize, (GIB_BASE + GIB) as usize);
        map.map_range(
            &range,
            PhysicalAddress(GIB_BASE as usize),
            attrs,
            Constraints::NO_BLOCK_MAPPINGS,
        )
        .expect("map_range");
        let mut i = 0u64;
        g.bench_function("aarch64_paging", |b| {
            b.iter(|| {
                i += 1;
                let (set, clear) = if i.is_multiple_of(2) {
                    (El1Attributes::empty(), El1Attributes::READ_ONLY)
                } else {
                    (El1Attributes::READ_ONLY, El1Attributes::empty())
                };
                map.modify_range(black_box(&range), &|_, d| {
                    if d.level() == 3 {
                        d.modify_flags(set, clear)
                    } else {
                        Ok(())
                    }
                })
                .expect("modify_range");
            })
        });
    });
}

criterion_group!(benches, x86_64_format, aarch64_format);
criterion_main!(benches);

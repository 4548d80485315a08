//! How `zx_vmar_protect` of one page scales with the number of mappings in
//! the VMAR: 10, 1,000 and 100,000 one-page mappings (of every second
//! page, placed with `ZX_VM_SPECIFIC`), protecting one in the middle,
//! toggling write permission, through the syscall table on the simulated
//! machine. `pair_<arch>/scaling_<N>_vs_10` alternates the N-mapping
//! protect with the 10-mapping one call by call and reports the ratio (in
//! µs, see `common::paired`), which `cargo xtask bench` puts in its table.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use zx_subsystem::PAGE_SIZE;
use zx_subsystem::abi::{ZX_VM_PERM_READ, ZX_VM_PERM_WRITE, ZX_VM_SPECIFIC};
use zx_subsystem::arch::{Aarch64, Arch, X86_64};

use common::{Env, paired};

const COUNTS: [u64; 3] = [10, 1_000, 100_000];

/// A VMAR of `n` one-page mappings; returns a closure protecting the one
/// in the middle, toggling write permission.
fn setup<A: Arch>(n: u64) -> impl FnMut() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(PAGE_SIZE);
    let (vmar, base) = env.vmar_allocate(2 * n * PAGE_SIZE);
    let rw = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE;
    for i in 0..n {
        env.vmar_map(
            vmar,
            rw | ZX_VM_SPECIFIC,
            2 * i * PAGE_SIZE,
            vmo,
            0,
            PAGE_SIZE,
        );
    }
    let target = base + 2 * (n / 2) * PAGE_SIZE;
    env.fault_in(target, PAGE_SIZE);
    let mut write = true;
    move || {
        write = !write;
        let perms = if write { rw } else { ZX_VM_PERM_READ };
        env.protect(vmar, perms, black_box(target), PAGE_SIZE);
    }
}

fn scaling<A: Arch>(c: &mut Criterion) {
    let config = |g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>| {
        g.sample_size(30)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
    };
    let mut ops: Vec<_> = COUNTS.iter().map(|&n| setup::<A>(n)).collect();
    let mut g = c.benchmark_group(format!("scaling_{}", A::NAME));
    config(&mut g);
    for (n, op) in COUNTS.iter().zip(&mut ops) {
        g.bench_function(BenchmarkId::new("protect_one", n), |b| b.iter(&mut *op));
    }
    drop(g);
    // Each larger VMAR side by side with the 10-mapping one.
    let mut g = c.benchmark_group(format!("pair_{}", A::NAME));
    config(&mut g);
    let (small, large) = ops.split_at_mut(1);
    for (n, op) in COUNTS[1..].iter().zip(large) {
        g.bench_function(format!("scaling_{n}_vs_10"), |b| {
            b.iter_custom(|iters| paired(iters, &mut *op, &mut small[0]))
        });
    }
}

fn both(c: &mut Criterion) {
    scaling::<X86_64>(c);
    scaling::<Aarch64>(c);
}

criterion_group!(benches, both);
criterion_main!(benches);

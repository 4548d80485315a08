//! How `zx_vmar_protect` of one page scales with the number of mappings in
//! the VMAR: 10, 1,000 and 100,000 one-page mappings (of every second
//! page, placed with `ZX_VM_SPECIFIC`), protecting one in the middle,
//! toggling write permission, through the syscall table on the simulated
//! machine. `cargo xtask bench` reports each against the 10-mapping case
//! of the same run.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use zx_subsystem::PAGE_SIZE;
use zx_subsystem::abi::{ZX_VM_PERM_READ, ZX_VM_PERM_WRITE, ZX_VM_SPECIFIC};
use zx_subsystem::arch::{Aarch64, Arch, X86_64};

use common::Env;

const COUNTS: [u64; 3] = [10, 1_000, 100_000];

fn scaling<A: Arch>(c: &mut Criterion) {
    let mut g = c.benchmark_group(format!("scaling_{}", A::NAME));
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for n in COUNTS {
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
        g.bench_function(BenchmarkId::new("protect_one", n), |b| {
            b.iter(|| {
                write = !write;
                let perms = if write { rw } else { ZX_VM_PERM_READ };
                env.protect(vmar, perms, black_box(target), PAGE_SIZE);
            })
        });
    }
}

fn both(c: &mut Criterion) {
    scaling::<X86_64>(c);
    scaling::<Aarch64>(c);
}

criterion_group!(benches, both);
criterion_main!(benches);

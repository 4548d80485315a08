//! Zircon's `ProtectToggle/{N}Mappings/{K}Protect` microbenchmark shape:
//! `N` adjacent one-page mappings of every second page of one memory
//! object (so no two can merge), all pages touched; each call protects the
//! first `K` of them, toggling write permission.
//!
//! - `toggle_<arch>/ours/<N>m_<K>p`: `zx_vmar_protect` through the crate's
//!   syscall table on the simulated machine (TLB flushes go to the sim's
//!   TLB model);
//! - `toggle_linux/mprotect/<N>m_<K>p`: the same shape through Linux
//!   `mprotect` on this machine over a `memfd` (includes a real syscall and
//!   a real TLB flush);
//! - `toggle_linux/getppid`: a null syscall, for scale.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use zx_subsystem::PAGE_SIZE;
use zx_subsystem::abi::{ZX_VM_PERM_READ, ZX_VM_PERM_WRITE, ZX_VM_SPECIFIC};
use zx_subsystem::arch::{Aarch64, Arch, X86_64};

use common::Env;

/// `(mappings, protected)` pairs of Zircon's benchmark (`K <= N`).
const SHAPES: [(u64, u64); 6] = [(1, 1), (16, 1), (16, 16), (128, 1), (128, 16), (128, 128)];

fn id(n: u64, k: u64) -> String {
    format!("{n}m_{k}p")
}

fn group_config(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
}

fn ours<A: Arch>(c: &mut Criterion) {
    let mut g = c.benchmark_group(format!("toggle_{}", A::NAME));
    group_config(&mut g);
    for (n, k) in SHAPES {
        let env = Env::<A>::new();
        let vmo = env.vmo_create(2 * n * PAGE_SIZE);
        let (vmar, base) = env.vmar_allocate(n * PAGE_SIZE);
        let rw = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE;
        for i in 0..n {
            let at = env.vmar_map(
                vmar,
                rw | ZX_VM_SPECIFIC,
                i * PAGE_SIZE,
                vmo,
                2 * i * PAGE_SIZE,
                PAGE_SIZE,
            );
            assert_eq!(at, base + i * PAGE_SIZE);
        }
        env.fault_in(base, n * PAGE_SIZE);
        let mut write = true;
        g.bench_function(BenchmarkId::new("ours", id(n, k)), |b| {
            b.iter(|| {
                write = !write;
                let perms = if write { rw } else { ZX_VM_PERM_READ };
                env.protect(vmar, perms, black_box(base), k * PAGE_SIZE);
            })
        });
    }
}

/// The Linux peer: `n` one-page `MAP_SHARED` mappings of every second
/// page of a memfd, side by side, all touched.
struct LinuxShape {
    base: *mut u8,
    len: usize,
    fd: i32,
}

impl LinuxShape {
    fn new(n: u64) -> LinuxShape {
        let page = PAGE_SIZE as usize;
        let len = n as usize * page;
        // SAFETY: plain syscalls with valid arguments; every result is
        // checked. The reservation is ours alone, and each MAP_FIXED
        // mapping replaces a page of it.
        unsafe {
            let fd = libc::memfd_create(c"zx-bench".as_ptr(), 0);
            assert!(fd >= 0, "memfd_create");
            assert_eq!(libc::ftruncate(fd, (2 * len) as libc::off_t), 0);
            let base = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(base, libc::MAP_FAILED, "reserve");
            let base = base.cast::<u8>();
            for i in 0..n as usize {
                let at = libc::mmap(
                    base.add(i * page).cast(),
                    page,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_FIXED,
                    fd,
                    (2 * i * page) as libc::off_t,
                );
                assert_eq!(at, base.add(i * page).cast(), "mmap");
                base.add(i * page).write_volatile(1);
            }
            LinuxShape { base, len, fd }
        }
    }

    fn protect(&self, k: u64, write: bool) {
        let prot = if write {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // SAFETY: changes the protection of our own mappings only; nothing
        // accesses them while the benchmark runs.
        let r = unsafe { libc::mprotect(self.base.cast(), k as usize * PAGE_SIZE as usize, prot) };
        assert_eq!(r, 0, "mprotect");
    }
}

impl Drop for LinuxShape {
    fn drop(&mut self) {
        // SAFETY: unmaps and closes what `new` created.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
            libc::close(self.fd);
        }
    }
}

fn linux(c: &mut Criterion) {
    let mut g = c.benchmark_group("toggle_linux");
    group_config(&mut g);
    // SAFETY: getppid has no preconditions.
    g.bench_function("getppid", |b| b.iter(|| unsafe { libc::getppid() }));
    for (n, k) in SHAPES {
        let shape = LinuxShape::new(n);
        let mut write = true;
        g.bench_function(BenchmarkId::new("mprotect", id(n, k)), |b| {
            b.iter(|| {
                write = !write;
                shape.protect(black_box(k), write);
            })
        });
    }
}

fn both(c: &mut Criterion) {
    ours::<X86_64>(c);
    ours::<Aarch64>(c);
    linux(c);
}

criterion_group!(benches, both);
criterion_main!(benches);

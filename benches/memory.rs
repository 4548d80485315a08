//! Metadata bytes per mapping and per protection range, from a counting
//! global allocator: the live heap bytes a batch of syscalls adds, divided
//! by what it created. Page-table and page frames are not involved: the
//! mappings are never touched, so no translation is made.
//!
//! Prints one `memory: <name> <value>` line per figure for
//! `cargo xtask bench`. A plain `main` (no criterion): nothing is timed,
//! and `--test` (criterion's test mode) runs the same, smaller.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use zx_subsystem::PAGE_SIZE;
use zx_subsystem::abi::{ZX_VM_PERM_READ, ZX_VM_PERM_WRITE, ZX_VM_SPECIFIC};
use zx_subsystem::arch::{Aarch64, Arch, X86_64};

use common::Env;

/// The system allocator, counting live bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds
// the `GlobalAlloc` contract; the counter has no effect on the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Live bytes per one-page mapping, over `n` mappings of one VMO placed
/// with `ZX_VM_SPECIFIC` at every second page of a sub-VMAR.
fn per_mapping<A: Arch>(n: u64) -> f64 {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(PAGE_SIZE);
    let (vmar, _) = env.vmar_allocate(2 * n * PAGE_SIZE);
    let rw = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE;
    let before = live();
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
    (live() - before) as f64 / n as f64
}

/// Live bytes per protection range: one mapping of `2n` pages, then every
/// second page protected read-only, which leaves `2n` ranges where there
/// was one.
fn per_range<A: Arch>(n: u64) -> f64 {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(2 * n * PAGE_SIZE);
    let (vmar, base) = env.vmar_allocate(2 * n * PAGE_SIZE);
    let rw = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE;
    env.vmar_map(vmar, rw | ZX_VM_SPECIFIC, 0, vmo, 0, 2 * n * PAGE_SIZE);
    let before = live();
    for i in 0..n {
        env.protect(vmar, ZX_VM_PERM_READ, base + 2 * i * PAGE_SIZE, PAGE_SIZE);
    }
    (live() - before) as f64 / (2 * n - 1) as f64
}

fn main() {
    let n = if common::test_mode() { 100 } else { 10_000 };
    for (arch, mapping, range) in [
        (
            X86_64::NAME,
            per_mapping::<X86_64>(n),
            per_range::<X86_64>(n),
        ),
        (
            Aarch64::NAME,
            per_mapping::<Aarch64>(n),
            per_range::<Aarch64>(n),
        ),
    ] {
        println!("memory: {arch}/bytes_per_mapping {mapping:.1}");
        println!("memory: {arch}/bytes_per_range {range:.1}");
    }
}

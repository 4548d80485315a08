//! Shared parts of the benchmarks: a simulated process that makes syscalls
//! through the crate's table, and a populated page table with views of its
//! leaf tables for the floors and the peers.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use zx_subsystem::abi::*;
use zx_subsystem::arch::Arch;
use zx_subsystem::mmu::{FrameMem, MmuFlags, PageSize, PageTable, TlbBatch};
use zx_subsystem::object::{KernelObject, Process, Thread};
use zx_subsystem::sim::Sim;
use zx_subsystem::syscall::SyscallNumber;
use zx_subsystem::vm::{Perms, Placement, Vmo};
use zx_subsystem::{Access, Kernel, PAGE_SIZE, PhysAddr};

/// 1 GiB of 4 KiB pages.
pub const GIB_PAGES: u64 = 262_144;
/// Where the populated gigabyte starts in the page-table benchmarks: 1 GiB
/// aligned, so it fills exactly 512 leaf tables under one level-1 table.
pub const GIB_BASE: u64 = 1 << 30;

/// Whether the binary runs in criterion's test mode (`-- --test`): each
/// benchmark once, as `cargo xtask test` does.
pub fn test_mode() -> bool {
    std::env::args().any(|a| a == "--test")
}

/// One simulated process ready to make syscalls through the crate's table.
pub struct Env<A: Arch> {
    pub sim: Sim<A>,
    pub kernel: Kernel<Sim<A>>,
    pub process: Arc<Process<Sim<A>>>,
    pub thread: Arc<Thread<Sim<A>>>,
    /// A handle to the root VMAR with all rights.
    pub root_vmar: zx_handle_t,
    /// A read-write page for out-parameters.
    scratch: u64,
}

impl<A: Arch> Env<A> {
    pub fn new() -> Self {
        let sim = Sim::<A>::new();
        let kernel = Kernel::new(sim.clone());
        let job = kernel.root_job().create_child().expect("job");
        let process = kernel.create_process(&job).expect("process");
        let thread = process.create_thread(1).expect("thread");
        let root_vmar = process
            .add_handle(
                KernelObject::Vmar(process.root_vmar().clone()),
                Rights::DEFAULT_VMAR | Rights::READ | Rights::WRITE | Rights::EXECUTE,
            )
            .expect("root VMAR handle");
        let vmo = Vmo::create(&sim, PAGE_SIZE).expect("scratch VMO");
        let scratch = process
            .root_vmar()
            .map(
                Placement::ANYWHERE,
                &vmo,
                0,
                PAGE_SIZE,
                Perms::READ | Perms::WRITE,
            )
            .expect("scratch mapping");
        Env {
            sim,
            kernel,
            process,
            thread,
            root_vmar,
            scratch,
        }
    }

    /// A raw syscall; panics unless it returns `ZX_OK`.
    pub fn call(&self, nr: SyscallNumber, args: &[u64]) {
        let status = self.call_status(nr, args);
        assert_eq!(status, ZX_OK, "{} failed", nr.name());
    }

    /// A raw syscall; returns its status.
    #[inline]
    pub fn call_status(&self, nr: SyscallNumber, args: &[u64]) -> zx_status_t {
        let mut a = [0u64; 8];
        a[..args.len()].copy_from_slice(args);
        self.kernel.syscall_raw(&self.thread, nr as u64, a)
    }

    fn read_out(&self) -> u64 {
        let mut b = [0u8; 8];
        self.process
            .aspace()
            .copy_from_user(self.scratch, &mut b)
            .expect("scratch read");
        u64::from_ne_bytes(b)
    }

    /// `zx_vmo_create(size, 0)`.
    pub fn vmo_create(&self, size: u64) -> zx_handle_t {
        self.call(SyscallNumber::VmoCreate, &[size, 0, self.scratch]);
        self.read_out() as u32
    }

    /// `zx_vmar_allocate` of a sub-VMAR that can map anything, anywhere
    /// inside it; returns its handle and base.
    pub fn vmar_allocate(&self, size: u64) -> (zx_handle_t, u64) {
        let options =
            ZX_VM_CAN_MAP_READ | ZX_VM_CAN_MAP_WRITE | ZX_VM_CAN_MAP_SPECIFIC | ZX_VM_ALIGN_1GB;
        self.call(
            SyscallNumber::VmarAllocate,
            &[
                self.root_vmar as u64,
                options as u64,
                0,
                size,
                self.scratch,
                self.scratch + 8,
            ],
        );
        let handle = self.read_out() as u32;
        let mut b = [0u8; 8];
        self.process
            .aspace()
            .copy_from_user(self.scratch + 8, &mut b)
            .expect("scratch read");
        (handle, u64::from_ne_bytes(b))
    }

    /// `zx_vmar_map`; returns the address.
    pub fn vmar_map(
        &self,
        vmar: zx_handle_t,
        options: u32,
        vmar_offset: u64,
        vmo: zx_handle_t,
        vmo_offset: u64,
        len: u64,
    ) -> u64 {
        self.call(
            SyscallNumber::VmarMap,
            &[
                vmar as u64,
                options as u64,
                vmar_offset,
                vmo as u64,
                vmo_offset,
                len,
                self.scratch,
            ],
        );
        self.read_out()
    }

    /// Faults in (for write) every page of `[va, va + len)`, as user code
    /// touching them would.
    pub fn fault_in(&self, va: u64, len: u64) {
        let aspace = self.process.aspace();
        for page in (va..va + len).step_by(PAGE_SIZE as usize) {
            aspace.page_fault(page, Access::Write).expect("fault in");
        }
    }

    /// `zx_vmar_protect(vmar, perms, addr, len)`; panics on failure.
    #[inline]
    pub fn protect(&self, vmar: zx_handle_t, perms: u32, addr: u64, len: u64) {
        let status = self.call_status(
            SyscallNumber::VmarProtect,
            &[vmar as u64, perms as u64, addr, len],
        );
        assert_eq!(status, ZX_OK, "zx_vmar_protect failed");
    }
}

/// A page table of `Sim<A>` with `pages` 4 KiB leaves from [`GIB_BASE`],
/// all present and writable (mapped to made-up physical addresses: only
/// the tables are real memory).
pub fn populated_table<A: Arch>(sim: &Sim<A>, pages: u64) -> PageTable<Sim<A>> {
    let mut pt = PageTable::new(sim.clone(), 1).expect("root table");
    let urw = MmuFlags::RW | MmuFlags::USER;
    let mut batch = TlbBatch::new::<A>(1);
    for i in 0..pages {
        let va = GIB_BASE + i * PAGE_SIZE;
        pt.map(va, PhysAddr::new(va), PageSize::Size4K, urw, &mut batch)
            .expect("map");
    }
    pt
}

/// Address bits of a table entry in both formats.
const TABLE_ADDR: u64 = 0x0000_ffff_ffff_f000;

/// The 512 leaf tables of the 1 GiB-aligned gigabyte at `base` in the
/// tables rooted at `root` (either format).
pub fn leaf_tables<A: Arch>(sim: &Sim<A>, root: PhysAddr, base: u64) -> Vec<PhysAddr> {
    assert_eq!(base % (1 << 30), 0, "not 1 GiB aligned");
    let table = |pa: u64| {
        // SAFETY: `pa` is a table frame of a live page table of `sim`,
        // which outlives this short view; all accesses are atomic.
        unsafe { FrameMem::new(sim, PhysAddr::new(pa)) }
    };
    let entry = |pa: u64, i: u64| {
        table(pa).words()[(i % 512) as usize].load(Ordering::Relaxed) & TABLE_ADDR
    };
    let level2 = entry(root.as_u64(), base >> 39);
    let level1 = entry(level2, base >> 30);
    let tables: Vec<PhysAddr> = (0..512).map(|i| PhysAddr::new(entry(level1, i))).collect();
    assert!(tables.iter().all(|t| t.as_u64() != 0), "not populated");
    tables
}

/// The floor with the crate's memory discipline: one relaxed atomic load
/// and store per entry (what any code that may race with the MMU's
/// accessed/dirty updates has to do), flipping `bit`.
pub fn floor_atomic<A: Arch>(sim: &Sim<A>, tables: &[PhysAddr], bit: u64) {
    for &t in tables {
        // SAFETY: `t` is a live table frame (see `leaf_tables`); atomic
        // accesses only.
        let mem = unsafe { FrameMem::new(sim, t) };
        let words: &[AtomicU64] = std::hint::black_box(mem.words());
        for w in words {
            w.store(w.load(Ordering::Relaxed) ^ bit, Ordering::Relaxed);
        }
    }
}

/// The floor as a plain loop over `u64`s, which the compiler vectorises
/// (PERF.md's 1× line): flips `bit` in every entry of `tables`.
///
/// # Safety
///
/// Nothing else accesses the tables during the call (the benchmark owns
/// the page table and no simulated CPU walks it).
pub unsafe fn floor_plain(tables: &[*mut [u64; 512]], bit: u64) {
    for &t in tables {
        // SAFETY: the caller guarantees exclusive access; `t` points to a
        // live, aligned frame of 512 words.
        let words = unsafe { &mut *std::hint::black_box(t) };
        for w in words.iter_mut() {
            *w ^= bit;
        }
    }
}

/// Raw pointers to the frames of `tables`, for [`floor_plain`].
pub fn table_ptrs<A: Arch>(sim: &Sim<A>, tables: &[PhysAddr]) -> Vec<*mut [u64; 512]> {
    use zx_subsystem::Platform;
    tables
        .iter()
        .map(|t| sim.phys_to_virt(*t).cast::<[u64; 512]>())
        .collect()
}

/// Runs `ours` and `peer` alternately `iters` times, timing each, and
/// returns the ratio of their total times as a duration of `ratio` µs per
/// iteration: criterion's statistics then apply to the ratio of two
/// measurements taken side by side, which other load on the shared CPUs
/// skews far less than two measurements taken seconds apart.
/// (`cargo xtask bench` reads these `pair_*` benchmarks as ratios.)
pub fn paired(iters: u64, mut ours: impl FnMut(), mut peer: impl FnMut()) -> Duration {
    let (mut t_ours, mut t_peer) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..iters {
        let t = Instant::now();
        peer();
        t_peer += t.elapsed();
        let t = Instant::now();
        ours();
        t_ours += t.elapsed();
    }
    let ratio = t_ours.as_secs_f64() / t_peer.as_secs_f64().max(1e-12);
    Duration::from_secs_f64(ratio * 1e-6 * iters as f64)
}

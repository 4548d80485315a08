//! The crate's lock order under concurrency: an address space's tree, then
//! a VMO tree's lock, then the address space's page-table lock. A VMO that
//! shrinks strips translations from every mapping while holding its own
//! lock (VMO → page table), so `zx_vmar_protect` must never ask for a VMO
//! lock while holding a page-table lock. Each test races two threads of
//! one process and fails (instead of hanging) if they deadlock.
#![cfg(feature = "sim")]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use common::Env;
use zx_subsystem::PAGE_SIZE;
use zx_subsystem::abi::*;
use zx_subsystem::arch::Arch;
use zx_subsystem::syscall::SyscallNumber;

/// Enough for the old inversion to deadlock within a few runs; few under
/// Miri, which is slow and checks the accesses rather than the timing.
const ROUNDS: usize = if cfg!(miri) { 50 } else { 20_000 };

/// One thread toggles the protection of a mapping of a resizable VMO while
/// another shrinks and regrows the VMO.
fn protect_races_vmo_shrink<A: Arch>() {
    let env = Env::<A>::new();
    let pages = 4;
    let vmo = env
        .vmo_create(pages * PAGE_SIZE, ZX_VMO_RESIZABLE)
        .expect("vmo");
    let rw = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE;
    let addr = env
        .vmar_map(env.root_vmar, rw, 0, vmo, 0, pages * PAGE_SIZE)
        .expect("map");
    let resizer = env.process.create_thread(9).expect("thread");
    let kernel = env.kernel.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let (done_tx, done_rx) = mpsc::channel();
    let resize_done = done_tx.clone();
    std::thread::spawn(move || {
        for i in 0..ROUNDS {
            if stop2.load(Ordering::Relaxed) {
                break;
            }
            let size = if i % 2 == 0 {
                PAGE_SIZE
            } else {
                pages * PAGE_SIZE
            };
            let st = kernel.syscall_raw(
                &resizer,
                SyscallNumber::VmoSetSize as u64,
                [vmo as u64, size, 0, 0, 0, 0, 0, 0],
            );
            assert_eq!(st, ZX_OK);
        }
        let _ = resize_done.send(());
    });
    let protector = std::thread::spawn(move || {
        for i in 0..ROUNDS {
            let perms = if i % 2 == 0 { ZX_VM_PERM_READ } else { rw };
            env.protect(env.root_vmar, perms, addr, pages * PAGE_SIZE)
                .expect("protect");
        }
        let _ = done_tx.send(());
    });
    for _ in 0..2 {
        if done_rx.recv_timeout(Duration::from_secs(30)).is_err() {
            stop.store(true, Ordering::Relaxed);
            panic!("zx_vmar_protect and zx_vmo_set_size deadlocked");
        }
    }
    protector.join().expect("protector");
}

both_arches!(protect_races_vmo_shrink);

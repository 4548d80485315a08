//! End-to-end: protect changes what user-mode accesses through the soft MMU
//! can do, with the TLB model catching any missing flush.
#![cfg(feature = "sim")]

mod common;

use common::Env;
use zx_subsystem::PAGE_SIZE;
use zx_subsystem::abi::*;
use zx_subsystem::arch::Arch;

fn write_after_protect_to_read_faults_and_rw_restores<A: Arch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(4 * PAGE_SIZE, 0).unwrap();
    let a = env
        .vmar_map(
            env.root_vmar,
            ZX_VM_PERM_READ | ZX_VM_PERM_WRITE,
            0,
            vmo,
            0,
            4 * PAGE_SIZE,
        )
        .unwrap();
    env.cpu_write(a + 10, b"hello").unwrap();
    let flushes = env.sim.tlb_flushes();
    env.protect(env.root_vmar, ZX_VM_PERM_READ, a, 4 * PAGE_SIZE)
        .unwrap();
    assert!(env.sim.tlb_flushes() > flushes, "protect must flush");
    assert_eq!(env.probe_write(a + 10, 1), Err(Status::AccessDenied));
    let mut b = [0u8; 5];
    env.cpu_read(a + 10, &mut b).unwrap();
    assert_eq!(&b, b"hello");
    env.protect(
        env.root_vmar,
        ZX_VM_PERM_READ | ZX_VM_PERM_WRITE,
        a,
        4 * PAGE_SIZE,
    )
    .unwrap();
    env.cpu_write(a + 10, b"HE").unwrap();
    env.cpu_read(a + 10, &mut b).unwrap();
    assert_eq!(&b, b"HEllo");
    // Permissions 0: nothing, but the page stays committed in the VMO.
    env.protect(env.root_vmar, 0, a, PAGE_SIZE).unwrap();
    assert_eq!(env.probe_read(a + 10), Err(Status::AccessDenied));
    env.protect(env.root_vmar, ZX_VM_PERM_READ, a, PAGE_SIZE)
        .unwrap();
    assert_eq!(env.probe_read(a + 10), Ok(b'H'));
}

both_arches!(write_after_protect_to_read_faults_and_rw_restores);

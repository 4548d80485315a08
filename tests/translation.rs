//! `AddressSpace::translation`: the host's and debugger's view of what the
//! page tables map, kept in step with faults, protect and unmap.
#![cfg(feature = "sim")]

mod common;

use common::Env;
use zx_subsystem::PAGE_SIZE;
use zx_subsystem::abi::{ZX_VM_PERM_READ, ZX_VM_PERM_WRITE};
use zx_subsystem::arch::Arch;
use zx_subsystem::mmu::{MmuFlags, PageSize};

fn follows_fault_protect_and_unmap<A: Arch>() {
    let env = Env::<A>::new();
    let aspace = env.process.aspace();
    let va = env.scratch;
    assert_eq!(
        aspace.translation(va),
        None,
        "nothing before the first touch"
    );
    env.probe_write(va, 1).expect("write");
    let t = aspace.translation(va).expect("mapped after the fault");
    assert!(env.sim.owns_frame(t.pa));
    assert_eq!(t.size, PageSize::Size4K);
    assert!(
        t.flags
            .contains(MmuFlags::READ | MmuFlags::WRITE | MmuFlags::USER)
    );
    // The same frame the CPU writes through.
    let via_mmu = env.sim.table_entry(aspace.root_table(), va).expect("walk");
    assert_eq!(via_mmu.pa, t.pa);

    env.protect(env.root_vmar, ZX_VM_PERM_READ, va, PAGE_SIZE)
        .expect("protect");
    let ro = aspace.translation(va).expect("still mapped");
    assert_eq!(ro.pa, t.pa);
    assert!(!ro.flags.contains(MmuFlags::WRITE));
    env.protect(
        env.root_vmar,
        ZX_VM_PERM_READ | ZX_VM_PERM_WRITE,
        va,
        PAGE_SIZE,
    )
    .expect("protect back");

    env.unmap(env.root_vmar, va, PAGE_SIZE).expect("unmap");
    assert_eq!(aspace.translation(va), None);
    assert_eq!(aspace.translation(u64::MAX), None, "outside the space");
}

both_arches!(follows_fault_protect_and_unmap);

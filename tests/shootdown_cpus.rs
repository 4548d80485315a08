//! TLB batches name the CPUs that may hold their translations
//! (`TlbBatch::cpus`): a view's batches reach the CPUs that switched to it
//! and no other, so a host sends one IPI per such remote CPU. The sim
//! invalidates only the CPUs a batch names, so a CPU the crate forgot
//! keeps a stale entry and the next access through it shows.
#![cfg(feature = "sim")]

mod common;

use common::procs::{Machine, Proc};

use zx_subsystem::PAGE_SIZE;
use zx_subsystem::arch::Arch;
use zx_subsystem::mmu::CpuSet;
use zx_subsystem::sim::Sim;
use zx_subsystem::trap::Access;
use zx_subsystem::vm::{OpChildren, Perms};

/// Switches simulated CPU `cpu` to `p` and writes through its view,
/// faulting the page in when needed: `Ok` if the write went through.
fn write_on<A: Arch>(m: &Machine<A>, cpu: usize, p: &Proc<A>) -> bool {
    Sim::<A>::set_current_cpu(cpu);
    let view = m.sim.switch_in(&m.kernel, &p.thread);
    for _ in 0..3 {
        match m.sim.user_write(view.root, view.asid, p.va, &[cpu as u8]) {
            Ok(()) => return true,
            Err(f) => {
                if p.process.aspace().page_fault(f.va, Access::Write).is_err() {
                    return false;
                }
            }
        }
    }
    false
}

fn read_only<A: Arch>(p: &Proc<A>) {
    let a = p.process.aspace();
    let region = a.root_region().expect("root");
    a.protect(region, p.va, PAGE_SIZE, Perms::READ, OpChildren::Allowed)
        .expect("protect");
}

fn batches_reach_only_the_cpus_that_ran_the_view<A: Arch>() {
    let m = Machine::<A>::new(4, None);
    let (p, q) = (m.spawn(), m.spawn());
    // p runs on CPU 0 only; q on CPU 2, then 3 (after running p's
    // neighbour there, so the switch takes the lock-free path).
    assert!(write_on(&m, 0, &p));
    assert!(write_on(&m, 1, &m.spawn()));
    assert!(write_on(&m, 2, &q));
    let other = m.spawn();
    assert!(write_on(&m, 3, &other));
    assert!(write_on(&m, 3, &q));
    m.sim.take_flush_cpus();

    read_only(&p);
    assert_eq!(
        m.sim.take_flush_cpus(),
        vec![CpuSet::one(0)],
        "p's batch: CPU 0 alone"
    );
    read_only(&q);
    let cpus = m.sim.take_flush_cpus();
    assert_eq!(
        cpus,
        vec![CpuSet::one(2).union(CpuSet::one(3))],
        "q's batch: CPUs 2 and 3"
    );
    // Every CPU that cached q's page lost its writable entry.
    for cpu in [2, 3] {
        assert!(!write_on(&m, cpu, &q), "CPU {cpu} still writes q's page");
    }
    assert!(!write_on(&m, 0, &p));
}

/// A view read without a CPU (`AddressSpace::asid`, for debuggers and
/// tests) may be used on any: its batches name every CPU.
fn a_view_read_without_a_cpu_reaches_every_cpu<A: Arch>() {
    let m = Machine::<A>::new(2, None);
    let p = m.spawn();
    assert!(write_on(&m, 1, &p));
    let _ = p.process.aspace().asid();
    m.sim.take_flush_cpus();
    read_only(&p);
    assert_eq!(m.sim.take_flush_cpus(), vec![CpuSet::ALL]);
}

both_arches!(
    batches_reach_only_the_cpus_that_ran_the_view,
    a_view_read_without_a_cpu_reaches_every_cpu,
);

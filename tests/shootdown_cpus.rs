//! TLB batches name the CPUs that may hold their translations
//! (`TlbBatch::cpus`): a view's batches reach the CPUs that switched to it
//! and no other, so a host sends one IPI per such remote CPU. The sim
//! invalidates only the CPUs a batch names, so a CPU the crate forgot
//! keeps a stale entry and the next access through it shows.
#![cfg(feature = "sim")]

mod common;

use std::sync::Arc;

use zx_subsystem::arch::Arch;
use zx_subsystem::mmu::CpuSet;
use zx_subsystem::object::{Process, Thread};
use zx_subsystem::sim::Sim;
use zx_subsystem::trap::Access;
use zx_subsystem::vm::{OpChildren, Perms, Placement, Vmo};
use zx_subsystem::{Kernel, PAGE_SIZE};

struct Proc<A: Arch> {
    process: Arc<Process<Sim<A>>>,
    thread: Arc<Thread<Sim<A>>>,
    va: u64,
}

impl<A: Arch> Drop for Proc<A> {
    fn drop(&mut self) {
        self.process.terminate();
    }
}

fn spawn<A: Arch>(sim: &Sim<A>, kernel: &Kernel<Sim<A>>) -> Proc<A> {
    let process = kernel.create_process(kernel.root_job()).expect("process");
    let thread = process.create_thread(0).expect("thread");
    let vmo = Vmo::create(sim, PAGE_SIZE).expect("vmo");
    let va = process
        .root_vmar()
        .map(
            Placement::ANYWHERE,
            &vmo,
            0,
            PAGE_SIZE,
            Perms::READ | Perms::WRITE,
        )
        .expect("map");
    Proc {
        process,
        thread,
        va,
    }
}

/// Switches simulated CPU `cpu` to `p` and writes through its view,
/// faulting the page in when needed: `Ok` if the write went through.
fn write_on<A: Arch>(sim: &Sim<A>, kernel: &Kernel<Sim<A>>, cpu: usize, p: &Proc<A>) -> bool {
    Sim::<A>::set_current_cpu(cpu);
    let view = sim.switch_in(kernel, &p.thread);
    for _ in 0..3 {
        match sim.user_write(view.root, view.asid, p.va, &[cpu as u8]) {
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
    let sim = Sim::<A>::new();
    sim.set_cpus(4);
    let kernel = Kernel::new(sim.clone());
    let (p, q) = (spawn(&sim, &kernel), spawn(&sim, &kernel));
    // p runs on CPU 0 only; q on CPU 2, then 3 (after running p's
    // neighbour there, so the switch takes the lock-free path).
    assert!(write_on(&sim, &kernel, 0, &p));
    assert!(write_on(&sim, &kernel, 1, &spawn(&sim, &kernel)));
    assert!(write_on(&sim, &kernel, 2, &q));
    let other = spawn(&sim, &kernel);
    assert!(write_on(&sim, &kernel, 3, &other));
    assert!(write_on(&sim, &kernel, 3, &q));
    sim.take_flush_cpus();

    read_only(&p);
    assert_eq!(
        sim.take_flush_cpus(),
        vec![CpuSet::one(0)],
        "p's batch: CPU 0 alone"
    );
    read_only(&q);
    let cpus = sim.take_flush_cpus();
    assert_eq!(
        cpus,
        vec![CpuSet::one(2).union(CpuSet::one(3))],
        "q's batch: CPUs 2 and 3"
    );
    // Every CPU that cached q's page lost its writable entry.
    for cpu in [2, 3] {
        assert!(
            !write_on(&sim, &kernel, cpu, &q),
            "CPU {cpu} still writes q's page"
        );
    }
    assert!(!write_on(&sim, &kernel, 0, &p));
}

/// A view read without a CPU (`AddressSpace::asid`, for debuggers and
/// tests) may be used on any: its batches name every CPU.
fn a_view_read_without_a_cpu_reaches_every_cpu<A: Arch>() {
    let sim = Sim::<A>::new();
    sim.set_cpus(2);
    let kernel = Kernel::new(sim.clone());
    let p = spawn(&sim, &kernel);
    assert!(write_on(&sim, &kernel, 1, &p));
    let _ = p.process.aspace().asid();
    sim.take_flush_cpus();
    read_only(&p);
    assert_eq!(sim.take_flush_cpus(), vec![CpuSet::ALL]);
}

both_arches!(
    batches_reach_only_the_cpus_that_ran_the_view,
    a_view_read_without_a_cpu_reaches_every_cpu,
);

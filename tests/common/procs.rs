//! Processes with one thread and one page each, on a simulated machine
//! with several CPUs and a chosen identifier width: the harness of the
//! identifier and shootdown tests.
#![allow(dead_code)]

use std::sync::Arc;

use zx_subsystem::arch::Arch;
use zx_subsystem::object::{Job, Process, Thread};
use zx_subsystem::sim::Sim;
use zx_subsystem::vm::{Perms, Placement, Vmo};
use zx_subsystem::{Kernel, PAGE_SIZE};

pub struct Proc<A: Arch> {
    pub process: Arc<Process<Sim<A>>>,
    pub thread: Arc<Thread<Sim<A>>>,
    pub va: u64,
}

impl<A: Arch> Drop for Proc<A> {
    fn drop(&mut self) {
        self.process.terminate();
    }
}

pub struct Machine<A: Arch> {
    pub sim: Sim<A>,
    pub kernel: Kernel<Sim<A>>,
    pub job: Arc<Job>,
}

impl<A: Arch> Machine<A> {
    /// `bits`: identifier width (`None`: the arch's default).
    pub fn new(cpus: usize, bits: Option<u32>) -> Self {
        let sim = Sim::<A>::new();
        sim.set_cpus(cpus);
        if let Some(b) = bits {
            sim.set_asid_bits(b);
        }
        let kernel = Kernel::new(sim.clone());
        let job = kernel.root_job().create_child().expect("job");
        Machine { sim, kernel, job }
    }

    /// A process with one thread and one fresh page mapped read-write
    /// (every process gets the same address: first fit).
    pub fn spawn(&self) -> Proc<A> {
        let process = self.kernel.create_process(&self.job).expect("process");
        let thread = process.create_thread(7).expect("thread");
        let va = self.map_page(&process);
        Proc {
            process,
            thread,
            va,
        }
    }

    pub fn map_page(&self, process: &Arc<Process<Sim<A>>>) -> u64 {
        self.map_page_at(process, Placement::ANYWHERE)
    }

    pub fn map_page_at(&self, process: &Arc<Process<Sim<A>>>, at: Placement) -> u64 {
        let vmo = Vmo::create(&self.sim, PAGE_SIZE).expect("vmo");
        process
            .root_vmar()
            .map(at, &vmo, 0, PAGE_SIZE, Perms::READ | Perms::WRITE)
            .expect("map")
    }
}

//! The blocking tests' harness (`tests/wait.rs`, `tests/wait_kill.rs`): a
//! process ready to make syscalls, a host that runs its threads, and a
//! second process to wait on.
#![allow(dead_code)]

use std::sync::Arc;

use super::Env;
use super::host::Host;
use zx_subsystem::abi::*;
use zx_subsystem::object::KernelObject;
use zx_subsystem::sim::cpu::SimArch;

/// A process ready to make syscalls, with a host that runs its threads.
pub struct W<A: SimArch> {
    pub env: Env<A>,
    pub host: Host<A>,
}

impl<A: SimArch> W<A> {
    pub fn new() -> Self {
        let env = Env::<A>::new();
        let host = Host::new(env.sim.clone(), env.kernel.clone());
        W { env, host }
    }

    /// A second process with one host-run thread, and a handle to it.
    pub fn child(
        &self,
    ) -> (
        Arc<zx_subsystem::object::Process<zx_subsystem::sim::Sim<A>>>,
        zx_handle_t,
    ) {
        let job = self.env.kernel.root_job().create_child().unwrap();
        let p = self.env.kernel.create_process(&job).unwrap();
        let h = self
            .env
            .process
            .add_handle(KernelObject::Process(p.clone()), Rights::DEFAULT_PROCESS)
            .unwrap();
        (p, h)
    }

    pub fn thread_handle(
        &self,
        t: &Arc<zx_subsystem::object::Thread<zx_subsystem::sim::Sim<A>>>,
    ) -> zx_handle_t {
        self.env
            .process
            .add_handle(KernelObject::Thread(t.clone()), Rights::DEFAULT_THREAD)
            .unwrap()
    }
}

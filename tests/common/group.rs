//! A sharing group on the simulated machine: a prototype process
//! (`ZX_PROCESS_SHARED`) and members made by `zx_process_create_shared`,
//! each with a thread the test drives as a host would: its normal mode
//! makes syscalls through `Kernel::syscall` with a register context, its
//! restricted code runs on the sim's CPU, and every trap's `Outcome` is
//! obeyed (the view loaded through `Kernel::user_view`).
#![allow(dead_code)]

use std::sync::Arc;

use zx_subsystem::abi::*;
use zx_subsystem::object::{KernelObject, Process, Thread};
use zx_subsystem::sim::Sim;
use zx_subsystem::sim::cpu::{Cpu, SimArch};
use zx_subsystem::syscall::SyscallNumber;
use zx_subsystem::trap::Trap;
use zx_subsystem::vm::{Perms, Placement, Vmo};
use zx_subsystem::{ExitReason, Kernel, Outcome, PAGE_SIZE};

/// Rights of a root VMAR handle.
pub const ROOT_VMAR_RIGHTS: Rights = Rights::DEFAULT_VMAR
    .union(Rights::READ)
    .union(Rights::WRITE)
    .union(Rights::EXECUTE);

/// A sharing group: the prototype, a scratch page in the shared region for
/// out-parameters, and a CPU.
pub struct Group<A: SimArch> {
    pub sim: Sim<A>,
    pub kernel: Kernel<Sim<A>>,
    pub proto: Arc<Process<Sim<A>>>,
    /// A thread of the prototype (host-run) that makes setup syscalls.
    pub proto_thread: Arc<Thread<Sim<A>>>,
    /// Handle (in the group's table) to the shared region's root VMAR.
    pub shared_vmar: zx_handle_t,
    /// A read-write page in the shared region.
    pub scratch: u64,
    pub cpu: Cpu<A>,
}

/// One member of the group with a host-run thread.
pub struct Member<A: SimArch> {
    pub process: Arc<Process<Sim<A>>>,
    pub thread: Arc<Thread<Sim<A>>>,
    /// Handle (in the group's table) to its restricted region's root VMAR.
    pub restricted_vmar: zx_handle_t,
}

impl<A: SimArch> Group<A> {
    pub fn new() -> Self {
        let sim = Sim::<A>::new();
        let kernel = Kernel::new(sim.clone());
        let job = kernel.root_job().create_child().expect("job");
        let proto = kernel.create_shared_process(&job).expect("prototype");
        let proto_thread = proto.create_thread(1).expect("thread");
        let shared_vmar = proto
            .add_handle(
                KernelObject::Vmar(proto.root_vmar().clone()),
                ROOT_VMAR_RIGHTS,
            )
            .expect("vmar handle");
        let vmo = Vmo::create(&sim, 4 * PAGE_SIZE).expect("scratch");
        let scratch = proto
            .root_vmar()
            .map(
                Placement::ANYWHERE,
                &vmo,
                0,
                4 * PAGE_SIZE,
                Perms::READ | Perms::WRITE,
            )
            .expect("scratch mapping");
        let cpu = Cpu::new(&sim);
        Group {
            sim,
            kernel,
            proto,
            proto_thread,
            shared_vmar,
            scratch,
            cpu,
        }
    }

    /// A new member with a host-run thread.
    pub fn member(&self) -> Member<A> {
        let process = self
            .kernel
            .create_process_in_group(&self.proto)
            .expect("member");
        let thread = process.create_thread(2).expect("thread");
        let restricted_vmar = process
            .add_handle(
                KernelObject::Vmar(process.restricted_vmar().expect("restricted").clone()),
                ROOT_VMAR_RIGHTS,
            )
            .expect("handle");
        Member {
            process,
            thread,
            restricted_vmar,
        }
    }

    /// Scratch slot `i` (8 bytes each) in the shared region.
    pub fn out(&self, i: u64) -> u64 {
        self.scratch + 8 * i
    }

    /// A raw syscall by `thread`.
    pub fn call(
        &self,
        thread: &Arc<Thread<Sim<A>>>,
        nr: SyscallNumber,
        args: &[u64],
    ) -> Result<(), Status> {
        let mut a = [0u64; 8];
        a[..args.len()].copy_from_slice(args);
        match Status::try_from(self.kernel.syscall_raw(thread, nr as u64, a)).expect("status") {
            Status::Ok => Ok(()),
            s => Err(s),
        }
    }

    pub fn read_u64(&self, addr: u64) -> u64 {
        let mut b = [0u8; 8];
        self.proto
            .aspace()
            .copy_from_user(addr, &mut b)
            .expect("read");
        u64::from_ne_bytes(b)
    }

    pub fn read_u32(&self, addr: u64) -> u32 {
        self.read_u64(addr) as u32
    }

    /// A VMO of `pages` pages mapped with `perms` into `vmar` (a handle of
    /// the group's table) through the syscall table; returns (vmo, address).
    pub fn map_new(&self, vmar: zx_handle_t, pages: u64, perms: u32) -> (zx_handle_t, u64) {
        let t = &self.proto_thread;
        let size = pages * PAGE_SIZE;
        self.call(t, SyscallNumber::VmoCreate, &[size, 0, self.out(0)])
            .expect("vmo_create");
        let vmo = self.read_u32(self.out(0));
        self.call(
            t,
            SyscallNumber::VmarMap,
            &[
                vmar as u64,
                perms as u64,
                0,
                vmo as u64,
                0,
                size,
                self.out(1),
            ],
        )
        .expect("vmar_map");
        (vmo, self.read_u64(self.out(1)))
    }

    /// A new one-page VMO mapped read + execute into `vmar` by the host
    /// (user VMO handles carry no `EXECUTE` right); returns the address.
    pub fn map_code(&self, vmar: &zx_subsystem::vm::Vmar<Sim<A>>) -> u64 {
        let vmo = Vmo::create(&self.sim, PAGE_SIZE).expect("code vmo");
        vmar.map(
            Placement::ANYWHERE,
            &vmo,
            0,
            PAGE_SIZE,
            Perms::READ | Perms::EXECUTE,
        )
        .expect("code mapping")
    }

    /// Writes `bytes` at `offset` of `vmo` (through `zx_vmo_write`).
    pub fn vmo_write(&self, vmo: zx_handle_t, offset: u64, bytes: &[u8]) {
        let buf = self.out(64);
        self.proto.aspace().copy_to_user(buf, bytes).expect("stage");
        self.call(
            &self.proto_thread,
            SyscallNumber::VmoWrite,
            &[vmo as u64, buf, offset, bytes.len() as u64],
        )
        .expect("vmo_write");
    }

    /// Reads `len` bytes at `offset` of `vmo` (through `zx_vmo_read`).
    pub fn vmo_read(&self, vmo: zx_handle_t, offset: u64, len: usize) -> Vec<u8> {
        let buf = self.out(64);
        self.call(
            &self.proto_thread,
            SyscallNumber::VmoRead,
            &[vmo as u64, buf, offset, len as u64],
        )
        .expect("vmo_read");
        let mut out = vec![0u8; len];
        self.proto
            .aspace()
            .copy_from_user(buf, &mut out)
            .expect("read back");
        out
    }

    /// Binds restricted state for `thread` and returns the state VMO.
    pub fn bind(&self, thread: &Arc<Thread<Sim<A>>>) -> zx_handle_t {
        self.call(
            thread,
            SyscallNumber::RestrictedBindState,
            &[0, self.out(2)],
        )
        .expect("bind");
        self.read_u32(self.out(2))
    }

    /// Writes a restricted state with `pc` and stack pointer `sp` (every
    /// other register 0) into `state_vmo`.
    pub fn write_state(&self, state_vmo: zx_handle_t, pc: u64, sp: u64) {
        let mut ctx = A::UserContext::default();
        A::set_pc(&mut ctx, pc);
        let regs = A::gprs(&mut ctx);
        let last = regs.len() - 1;
        drop(regs);
        // gprs: x86 rsp at index 7; aarch64 sp last.
        let sp_index = if A::NAME == "x86_64" { 7 } else { last };
        *A::gprs(&mut ctx)[sp_index] = sp;
        let state = A::save_restricted(&ctx, false);
        self.vmo_write(state_vmo, 0, state.as_bytes());
    }

    /// `zx_restricted_enter(0, vector, context)` from `thread`'s normal
    /// mode with context `ctx`; then runs it, loading its view as the
    /// outcomes say, until it is back in normal mode. Returns why it left.
    pub fn enter_and_run(
        &self,
        thread: &Arc<Thread<Sim<A>>>,
        ctx: &mut A::UserContext,
        vector: u64,
    ) -> ExitReason {
        A::set_syscall(
            ctx,
            SyscallNumber::RestrictedEnter as u64,
            &[0, vector, 0x77],
        );
        let first = self.kernel.syscall(thread, ctx);
        let mut outcome = first;
        for _ in 0..1000 {
            match outcome {
                Outcome::LeftRestricted(reason) => {
                    assert_eq!(A::pc(ctx), vector, "normal mode resumes at the vector");
                    return reason;
                }
                Outcome::EnteredRestricted | Outcome::Resume => {}
                other => panic!("restricted run: {other:?}"),
            }
            let view = self.sim.switch_in(&self.kernel, thread);
            let trap = self.cpu.run(view.root, view.asid, thread.koid(), ctx);
            outcome = match trap {
                Trap::Syscall => self.kernel.syscall(thread, ctx),
                Trap::PageFault(f) => self.kernel.page_fault(thread, ctx, f),
                other => self.kernel.exception(thread, ctx, other),
            };
        }
        panic!("restricted code never left");
    }

    /// The exception report in `state_vmo` after an `EXCEPTION` exit.
    pub fn report(&self, state_vmo: zx_handle_t) -> zx_exception_report_t {
        let n = std::mem::size_of::<A::RestrictedState>();
        let bytes = self.vmo_read(state_vmo, 0, n + 40);
        zx_exception_report_t::from_bytes(&bytes[n..]).expect("report")
    }

    /// A user-mode load of 8 bytes at `va` through `thread`'s current view
    /// on the sim's MMU (its TLB model included), resolving faults through
    /// the crate as a CPU and host would. `Err` when the crate cannot
    /// resolve the fault.
    pub fn cpu_read(&self, thread: &Arc<Thread<Sim<A>>>, va: u64) -> Result<u64, Outcome> {
        let mut b = [0u8; 8];
        for _ in 0..4 {
            let view = self.sim.switch_in(&self.kernel, thread);
            match self.sim.user_read(view.root, view.asid, va, &mut b) {
                Ok(()) => return Ok(u64::from_ne_bytes(b)),
                Err(f) => self.fault(thread, f)?,
            }
        }
        panic!("read at {va:#x} keeps faulting");
    }

    /// A user-mode store of 8 bytes (see [`Group::cpu_read`]).
    pub fn cpu_write(&self, thread: &Arc<Thread<Sim<A>>>, va: u64, v: u64) -> Result<(), Outcome> {
        for _ in 0..4 {
            let view = self.sim.switch_in(&self.kernel, thread);
            match self
                .sim
                .user_write(view.root, view.asid, va, &v.to_ne_bytes())
            {
                Ok(()) => return Ok(()),
                Err(f) => self.fault(thread, f)?,
            }
        }
        panic!("write at {va:#x} keeps faulting");
    }

    fn fault(
        &self,
        thread: &Arc<Thread<Sim<A>>>,
        f: zx_subsystem::sim::Fault,
    ) -> Result<(), Outcome> {
        let mut ctx = A::UserContext::default();
        let pf = zx_subsystem::trap::PageFault {
            addr: f.va,
            access: f.access,
            info: A::page_fault_info(&f),
        };
        match self.kernel.page_fault(thread, &mut ctx, pf) {
            Outcome::Resume => Ok(()),
            other => Err(other),
        }
    }
}

impl<A: SimArch> Drop for Group<A> {
    fn drop(&mut self) {
        self.proto.terminate();
    }
}

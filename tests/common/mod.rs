//! Shared harness for the host integration tests: a simulated machine, one
//! process with one thread, a root VMAR handle, and a scratch mapping that
//! syscalls write their out-parameters into.
#![allow(dead_code)]

pub mod group;
pub mod host;
pub mod page_table;
pub mod procs;
pub mod waitenv;

use std::sync::Arc;

use zx_subsystem::abi::*;
use zx_subsystem::arch::Arch;
use zx_subsystem::object::{KernelObject, Process, Thread};
use zx_subsystem::sim::Sim;
use zx_subsystem::syscall::SyscallNumber;
use zx_subsystem::vm::{Perms, Placement, Vmo};
use zx_subsystem::{Kernel, PAGE_SIZE};

/// Runs a generic test body once per architecture.
#[macro_export]
macro_rules! both_arches {
    ($($name:ident),* $(,)?) => {
        mod x86_64 {
            $(
                #[test]
                fn $name() {
                    super::$name::<zx_subsystem::arch::X86_64>();
                }
            )*
        }
        mod aarch64 {
            $(
                #[test]
                fn $name() {
                    super::$name::<zx_subsystem::arch::Aarch64>();
                }
            )*
        }
    };
}

/// Pages of scratch memory for out-parameters.
pub const SCRATCH_PAGES: u64 = 4;

/// One simulated process ready to make syscalls.
pub struct Env<A: Arch> {
    pub sim: Sim<A>,
    pub kernel: Kernel<Sim<A>>,
    pub process: Arc<Process<Sim<A>>>,
    pub thread: Arc<Thread<Sim<A>>>,
    /// A handle to the root VMAR with the root's full rights.
    pub root_vmar: zx_handle_t,
    /// Address of a read-write scratch mapping.
    pub scratch: u64,
}

pub type S<A> = Sim<A>;

/// What a host does when a process exits: closes its handles (breaking the
/// process → handle → thread → process cycle a handle to its own thread
/// makes), marks its threads dead and tears the address space down.
impl<A: Arch> Drop for Env<A> {
    fn drop(&mut self) {
        self.process.terminate();
    }
}

impl<A: Arch> Env<A> {
    pub fn new() -> Self {
        let sim = Sim::<A>::new();
        let kernel = Kernel::new(sim.clone());
        let job = kernel.root_job().create_child().expect("job");
        Self::in_job(sim, kernel, &job)
    }

    pub fn in_job(
        sim: Sim<A>,
        kernel: Kernel<Sim<A>>,
        job: &Arc<zx_subsystem::object::Job>,
    ) -> Self {
        let process = kernel.create_process(job).expect("process");
        let thread = process.create_thread(7).expect("thread");
        let root_vmar = process
            .add_handle(
                KernelObject::Vmar(process.root_vmar().clone()),
                Rights::DEFAULT_VMAR | Rights::READ | Rights::WRITE | Rights::EXECUTE,
            )
            .expect("root vmar handle");
        let vmo = Vmo::create(&sim, SCRATCH_PAGES * PAGE_SIZE).expect("scratch vmo");
        let scratch = process
            .root_vmar()
            .map(
                Placement::ANYWHERE,
                &vmo,
                0,
                SCRATCH_PAGES * PAGE_SIZE,
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

    /// A raw syscall; returns the status.
    pub fn call(&self, nr: SyscallNumber, args: &[u64]) -> zx_status_t {
        let mut a = [0u64; 8];
        a[..args.len()].copy_from_slice(args);
        self.kernel.syscall_raw(&self.thread, nr as u64, a)
    }

    /// A syscall, as a `Result` of statuses.
    pub fn call_ok(&self, nr: SyscallNumber, args: &[u64]) -> Result<(), Status> {
        match Status::try_from(self.call(nr, args)).expect("known status") {
            Status::Ok => Ok(()),
            s => Err(s),
        }
    }

    /// Address of scratch slot `i` (8 bytes each).
    pub fn out(&self, i: u64) -> u64 {
        self.scratch + 8 * i
    }

    pub fn read_u64(&self, addr: u64) -> u64 {
        let mut b = [0u8; 8];
        self.process
            .aspace()
            .copy_from_user(addr, &mut b)
            .expect("read");
        u64::from_ne_bytes(b)
    }

    pub fn read_u32(&self, addr: u64) -> u32 {
        let mut b = [0u8; 4];
        self.process
            .aspace()
            .copy_from_user(addr, &mut b)
            .expect("read");
        u32::from_ne_bytes(b)
    }

    pub fn write_bytes(&self, addr: u64, bytes: &[u8]) {
        self.process
            .aspace()
            .copy_to_user(addr, bytes)
            .expect("write");
    }

    pub fn vmo_create(&self, size: u64, options: u32) -> Result<zx_handle_t, Status> {
        self.call_ok(
            SyscallNumber::VmoCreate,
            &[size, options as u64, self.out(0)],
        )?;
        Ok(self.read_u32(self.out(0)))
    }

    pub fn vmar_map(
        &self,
        vmar: zx_handle_t,
        options: u32,
        vmar_offset: u64,
        vmo: zx_handle_t,
        vmo_offset: u64,
        len: u64,
    ) -> Result<u64, Status> {
        self.call_ok(
            SyscallNumber::VmarMap,
            &[
                vmar as u64,
                options as u64,
                vmar_offset,
                vmo as u64,
                vmo_offset,
                len,
                self.out(1),
            ],
        )?;
        Ok(self.read_u64(self.out(1)))
    }

    pub fn vmar_allocate(
        &self,
        parent: zx_handle_t,
        options: u32,
        offset: u64,
        size: u64,
    ) -> Result<(zx_handle_t, u64), Status> {
        self.call_ok(
            SyscallNumber::VmarAllocate,
            &[
                parent as u64,
                options as u64,
                offset,
                size,
                self.out(2),
                self.out(3),
            ],
        )?;
        Ok((self.read_u32(self.out(2)), self.read_u64(self.out(3))))
    }

    pub fn protect(
        &self,
        vmar: zx_handle_t,
        options: u32,
        addr: u64,
        len: u64,
    ) -> Result<(), Status> {
        self.call_ok(
            SyscallNumber::VmarProtect,
            &[vmar as u64, options as u64, addr, len],
        )
    }

    pub fn unmap(&self, vmar: zx_handle_t, addr: u64, len: u64) -> Result<(), Status> {
        self.call_ok(SyscallNumber::VmarUnmap, &[vmar as u64, addr, len])
    }

    pub fn duplicate(&self, h: zx_handle_t, rights: u32) -> Result<zx_handle_t, Status> {
        self.call_ok(
            SyscallNumber::HandleDuplicate,
            &[h as u64, rights as u64, self.out(4)],
        )?;
        Ok(self.read_u32(self.out(4)))
    }

    pub fn close(&self, h: zx_handle_t) -> Result<(), Status> {
        self.call_ok(SyscallNumber::HandleClose, &[h as u64])
    }

    /// A user-mode load of `buf.len()` bytes at `va`, as the CPU and the
    /// crate's fault handler together would do it: the soft MMU translates
    /// (through its TLB model); a fault goes to the crate's page-fault
    /// handler, and the access is retried if the fault was resolved.
    /// `Err` is the status an unresolved fault reports (`ACCESS_DENIED`,
    /// `NOT_FOUND`, `OUT_OF_RANGE`), as Zircon's `probe_for_read`.
    pub fn cpu_read(&self, va: u64, buf: &mut [u8]) -> Result<(), Status> {
        self.cpu_access(
            va,
            buf.len(),
            zx_subsystem::trap::Access::Read,
            |sim, root, asid| sim.user_read(root, asid, va, buf),
        )
    }

    /// A user-mode store (see [`Env::cpu_read`]).
    pub fn cpu_write(&self, va: u64, buf: &[u8]) -> Result<(), Status> {
        self.cpu_access(
            va,
            buf.len(),
            zx_subsystem::trap::Access::Write,
            |sim, root, asid| sim.user_write(root, asid, va, buf),
        )
    }

    fn cpu_access(
        &self,
        va: u64,
        len: usize,
        access: zx_subsystem::trap::Access,
        mut op: impl FnMut(&Sim<A>, zx_subsystem::PhysAddr, u16) -> Result<(), zx_subsystem::sim::Fault>,
    ) -> Result<(), Status> {
        let aspace = self.process.aspace();
        let (root, asid) = (aspace.root_table(), aspace.asid());
        // Each page can fault at most a few times (not present, then a
        // write upgrade / copy on write).
        for _ in 0..(len / PAGE_SIZE as usize + 2) * 4 {
            match op(&self.sim, root, asid) {
                Ok(()) => return Ok(()),
                Err(fault) => {
                    if let Err(e) = aspace.page_fault(fault.va, access) {
                        return Err(e.status());
                    }
                }
            }
        }
        panic!("access at {va:#x} keeps faulting after the fault was resolved");
    }

    /// Reads one byte as user code would (`probe_for_read`).
    pub fn probe_read(&self, va: u64) -> Result<u8, Status> {
        let mut b = [0u8; 1];
        self.cpu_read(va, &mut b).map(|()| b[0])
    }

    /// Writes one byte as user code would (`probe_for_write`).
    pub fn probe_write(&self, va: u64, value: u8) -> Result<(), Status> {
        self.cpu_write(va, &[value])
    }

    /// `ZX_INFO_HANDLE_BASIC` of `h`.
    pub fn info(&self, h: zx_handle_t) -> Result<zx_info_handle_basic_t, Status> {
        let buf = self.out(8);
        self.call_ok(
            SyscallNumber::ObjectGetInfo,
            &[h as u64, ZX_INFO_HANDLE_BASIC as u64, buf, 32, 0, 0],
        )?;
        let mut b = [0u8; 32];
        self.process.aspace().copy_from_user(buf, &mut b).unwrap();
        Ok(zx_info_handle_basic_t::from_bytes(&b).unwrap())
    }
}

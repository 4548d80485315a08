//! Linux mode on aarch64: finds the blob, runs the runner through the
//! scheduler, and writes the end frame (`crate::linux`).
//!
//! The kernel is built for `aarch64-unknown-none`, whose code uses the
//! SIMD registers; the crate's trap path keeps the user's FP/SIMD state in
//! the context (`UserContext::fp`), so Linux programs keep theirs across a
//! syscall as they expect.

use alloc::vec;

use zx_subsystem::Kernel;
use zx_subsystem::abi::Rights;
use zx_subsystem::arch::aarch64::UserContext;
use zx_subsystem::object::KernelObject;

use super::cpu::{self, Gic};
use super::paging::{KERNEL_VMA, RAM_START};
use super::zx::{HobbyMachine, HobbyPlatform};
use crate::linux::blob::{self, BLOB_OFFSET, Blob};
use crate::linux::frame::{END_KERNEL, END_RUNNER, END_STATUS};
use crate::linux::{self, End, LinuxHost};
use crate::sched::{self, Task};

/// The shared region of a shared process starts here (`1 << 47`).
const SHARED_BASE: u64 = 1 << 47;

/// The blob's physical range and the RAM size it declares, if the xtask
/// placed one.
pub fn probe() -> Option<((u64, u64), u64)> {
    let at = RAM_START + BLOB_OFFSET;
    // SAFETY: the boot tables map 1..2 GiB (RAM) at KERNEL_VMA + phys and
    // every boot has 128 MiB of RAM, so the header is readable memory.
    let head = unsafe { core::slice::from_raw_parts((KERNEL_VMA + at) as *const u8, blob::HEADER) };
    let len = blob::claimed_len(head)?;
    let ram = u64::from_le_bytes(head[88..96].try_into().ok()?);
    let ram = ram.min(1 << 30);
    (BLOB_OFFSET + len <= ram).then_some(((at, at + len), ram))
}

fn out(bytes: &[u8]) {
    bytes.iter().copied().for_each(super::put);
}

/// Runs linux mode and leaves QEMU.
pub fn run(range: (u64, u64), gic: &Gic) -> ! {
    // SAFETY: `probe` checked the range lies in RAM (mapped at
    // KERNEL_VMA + phys); the frame allocator keeps out of it.
    let bytes = unsafe {
        core::slice::from_raw_parts(
            (KERNEL_VMA + range.0) as *const u8,
            (range.1 - range.0) as usize,
        )
    };
    match blob::parse(bytes) {
        Ok(b) => run_blob(&b, gic),
        Err(e) => finish(None, format_args!("linux: bad blob: {e:?}")),
    }
}

fn run_blob(blob: &Blob<'_>, gic: &Gic) -> ! {
    let kernel = Kernel::new(HobbyPlatform);
    let setup = || -> Result<_, linux::LoadError> {
        // A prototype: its root VMAR is the shared region, where the
        // runner lives; the Linux program gets a process of its group.
        let process = kernel.create_shared_process(kernel.root_job())?;
        let thread = process.create_thread(1)?;
        let th =
            process.add_handle(KernelObject::Thread(thread.clone()), Rights::DEFAULT_THREAD)?;
        let start = linux::load(&HobbyPlatform, &process, th, SHARED_BASE, blob)?;
        Ok((thread, start))
    };
    let (thread, start) = match setup() {
        Ok(x) => x,
        Err(e) => finish(None, format_args!("linux: loading the runner: {e:?}")),
    };
    let mut x = [0; 31];
    x[0] = start.boot;
    let ctx = UserContext {
        x,
        sp: start.stack_top,
        pc: start.entry,
        spsr: 0,
        tpidr_el0: 0,
        tpidrro_el0: 0,
        fp: Default::default(),
    };
    let mut host = LinuxHost { out, end: None };
    let mut machine = HobbyMachine { gic };
    let stop = sched::run(&kernel, vec![Task { thread, ctx }], &mut machine, &mut host);
    let end = host.end;
    match end {
        Some(_) => finish(end, format_args!("")),
        None => finish(
            None,
            format_args!("linux: the runner stopped without linux_exit: {stop:x?}"),
        ),
    }
}

fn finish(end: Option<End>, msg: core::fmt::Arguments<'_>) -> ! {
    let (kind, value) = match end {
        Some(End::Status(s)) => (END_STATUS, s),
        Some(End::Runner(c)) => (END_RUNNER, c),
        None => {
            kprintln!("{msg}");
            (END_KERNEL, 1)
        }
    };
    crate::linux::frame::write(
        crate::linux::frame::EXIT,
        &crate::linux::frame::end(kind, value),
        out,
    );
    cpu::exit(cpu::ExitCode::Passed)
}

//! Linux mode on x86_64: finds the blob, runs the runner through the
//! scheduler, and writes the end frame (`crate::linux`).
//!
//! Besides what the scenarios need, a Linux program needs SSE: glibc's
//! string functions use it. [`run`] sets `CR4.OSFXSR | CR4.OSXMMEXCPT`
//! (the kernel itself is built soft-float, so the user's x87/SSE state is
//! never touched in the kernel and needs no saving on one CPU).

use ::x86_64::registers::control::{Cr4, Cr4Flags};
use alloc::vec;

use zx_subsystem::Kernel;
use zx_subsystem::abi::Rights;
use zx_subsystem::arch::x86_64::UserContext;
use zx_subsystem::object::KernelObject;

use super::cpu::{self, Lapic};
use super::paging::{self, DIRECT_MAP};
use super::zx::{self, HobbyMachine, HobbyPlatform};
use crate::linux::blob::{self, BLOB_OFFSET, Blob};
use crate::linux::frame::{END_KERNEL, END_RUNNER, END_STATUS};
use crate::linux::{self, End, LinuxHost};
use crate::sched::{self, Task};

/// The shared region of a shared process starts here (`1 << 46`).
const SHARED_BASE: u64 = 1 << 46;
/// RAM starts at physical 0.
const RAM_START: u64 = 0;

/// The blob's physical range, if the xtask placed one.
pub fn probe() -> Option<(u64, u64)> {
    let at = RAM_START + BLOB_OFFSET;
    // SAFETY: the boot tables map physical 0..1 GiB at DIRECT_MAP, and
    // every boot has 128 MiB of RAM, so the header is readable memory.
    let head = unsafe { core::slice::from_raw_parts((DIRECT_MAP + at) as *const u8, blob::HEADER) };
    let len = blob::claimed_len(head)?;
    (len <= paging::DIRECT_MAP_SIZE - at).then_some((at, at + len))
}

fn out(bytes: &[u8]) {
    bytes.iter().copied().for_each(super::put);
}

/// Runs linux mode and leaves QEMU.
pub fn run(range: (u64, u64), lapic: &Lapic) -> ! {
    // SAFETY: `probe` checked the range lies in the direct map; the
    // frame allocator was told to keep out of it.
    let bytes = unsafe {
        core::slice::from_raw_parts(
            (DIRECT_MAP + range.0) as *const u8,
            (range.1 - range.0) as usize,
        )
    };
    let blob = match blob::parse(bytes) {
        Ok(b) => b,
        Err(e) => finish(None, format_args!("linux: bad blob: {e:?}")),
    };
    // SAFETY: ring 0, CR4 read-modify-write of two bits that only allow
    // SSE instructions and their exceptions.
    unsafe {
        Cr4::update(|f| f.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE));
    }
    // SAFETY: called once from `kernel_main` in ring 0 with the boot PML4
    // in CR3 under PCID 0.
    let pcid = unsafe { zx::init() };
    run_blob(&blob, lapic, pcid)
}

fn run_blob(blob: &Blob<'_>, lapic: &Lapic, pcid: bool) -> ! {
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
    let ctx = UserContext {
        rip: start.entry,
        rsp: start.stack_top,
        rdi: start.boot,
        rflags: 0x202,
        ..UserContext::default()
    };
    let mut host = LinuxHost { out, end: None };
    let mut machine = HobbyMachine { lapic, pcid };
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

/// Writes the end frame (a kernel failure with `msg` when `end` is none)
/// and leaves QEMU.
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

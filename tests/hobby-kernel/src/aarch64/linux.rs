//! Linux mode on aarch64: finds the blob, runs the runner through the
//! scheduler, and writes the end frame (`crate::linux`).
//!
//! The kernel is built for `aarch64-unknown-none`, whose code uses the
//! SIMD registers, so across a trap they would not keep the user's values,
//! which a Linux program relies on (Linux preserves every FP/SIMD register
//! across a syscall). [`LinuxMachine`] therefore saves the user's `v0..v31`,
//! `fpcr` and `fpsr` right after each return from user mode and restores
//! them right before the next entry.

use alloc::vec;
use core::arch::asm;

use zx_subsystem::abi::Rights;
use zx_subsystem::arch::aarch64::{Aarch64, UserContext};
use zx_subsystem::object::KernelObject;
use zx_subsystem::{Kernel, Trap, UserView};

use super::cpu::{self, Gic};
use super::paging::{KERNEL_VMA, RAM_START};
use super::zx::{HobbyMachine, HobbyPlatform};
use crate::linux::blob::{self, BLOB_OFFSET, Blob};
use crate::linux::frame::{END_KERNEL, END_RUNNER, END_STATUS};
use crate::linux::{self, End, LinuxHost};
use crate::sched::{self, Machine, Task};

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

/// The user's FP/SIMD registers while the kernel runs.
#[repr(C, align(16))]
struct FpState([u8; 528]);

/// The scenario machine plus the FP/SIMD save around user mode.
struct LinuxMachine<'a> {
    inner: HobbyMachine<'a>,
    fp: FpState,
}

impl Machine<HobbyPlatform> for LinuxMachine<'_> {
    fn enter(&mut self, ctx: &mut UserContext) -> Trap<Aarch64> {
        let p = self.fp.0.as_mut_ptr();
        // SAFETY: `p` is 528 writable bytes, 16-aligned; only FP registers
        // and x9/x10 change.
        unsafe {
            asm!(
                "ldp q0, q1, [{p}, #0]", "ldp q2, q3, [{p}, #32]",
                "ldp q4, q5, [{p}, #64]", "ldp q6, q7, [{p}, #96]",
                "ldp q8, q9, [{p}, #128]", "ldp q10, q11, [{p}, #160]",
                "ldp q12, q13, [{p}, #192]", "ldp q14, q15, [{p}, #224]",
                "ldp q16, q17, [{p}, #256]", "ldp q18, q19, [{p}, #288]",
                "ldp q20, q21, [{p}, #320]", "ldp q22, q23, [{p}, #352]",
                "ldp q24, q25, [{p}, #384]", "ldp q26, q27, [{p}, #416]",
                "ldp q28, q29, [{p}, #448]", "ldp q30, q31, [{p}, #480]",
                "ldr x9, [{p}, #512]", "ldr x10, [{p}, #520]", "msr fpcr, x9", "msr fpsr, x10",
                p = in(reg) p, out("x9") _, out("x10") _,
                options(nostack, readonly),
            );
        }
        let trap = self.inner.enter(ctx);
        // SAFETY: as above; stores only into the save area.
        unsafe {
            asm!(
                "stp q0, q1, [{p}, #0]", "stp q2, q3, [{p}, #32]",
                "stp q4, q5, [{p}, #64]", "stp q6, q7, [{p}, #96]",
                "stp q8, q9, [{p}, #128]", "stp q10, q11, [{p}, #160]",
                "stp q12, q13, [{p}, #192]", "stp q14, q15, [{p}, #224]",
                "stp q16, q17, [{p}, #256]", "stp q18, q19, [{p}, #288]",
                "stp q20, q21, [{p}, #320]", "stp q22, q23, [{p}, #352]",
                "stp q24, q25, [{p}, #384]", "stp q26, q27, [{p}, #416]",
                "stp q28, q29, [{p}, #448]", "stp q30, q31, [{p}, #480]",
                "mrs x9, fpcr", "mrs x10, fpsr", "str x9, [{p}, #512]", "str x10, [{p}, #520]",
                p = in(reg) p, out("x9") _, out("x10") _,
                options(nostack),
            );
        }
        trap
    }

    fn arm_timer(&mut self, insns: u64) {
        self.inner.arm_timer(insns);
    }

    fn ack_interrupt(&mut self, vector: u64) {
        self.inner.ack_interrupt(vector);
    }

    fn load_view(&mut self, view: UserView) {
        self.inner.load_view(view);
    }

    fn take_started(&mut self, queue: &mut alloc::collections::VecDeque<Task<HobbyPlatform>>) {
        self.inner.take_started(queue);
    }

    fn take_woken(&mut self, woken: &mut alloc::vec::Vec<u64>) {
        self.inner.take_woken(woken);
    }
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
        let process = kernel.create_process(kernel.root_job())?;
        let thread = process.create_thread(1)?;
        let th =
            process.add_handle(KernelObject::Thread(thread.clone()), Rights::DEFAULT_THREAD)?;
        let start = linux::load(&HobbyPlatform, &process, th, SHARED_BASE, blob)?;
        Ok((process, thread, start))
    };
    let (process, thread, start) = match setup() {
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
    };
    let mut host = LinuxHost {
        process: &process,
        out,
        end: None,
    };
    let mut machine = LinuxMachine {
        inner: HobbyMachine { gic },
        fp: FpState([0; 528]),
    };
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

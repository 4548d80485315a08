//! Everything that runs on bare metal: the entry point, the runner's
//! heap, the Zircon-backed address space, the process model, the loader,
//! the run loop and the per-arch assembly.
//!
//! [`runner_main`] (thread T0, in the runner's shared-process prototype)
//! reads the boot page the kernel mapped, maps its heap, builds the file
//! tree from the archive, makes the Linux process and its restricted
//! region ([`model`]) and starts that process's thread at
//! [`linux_main`], then waits for it. [`linux_main`] loads the program
//! ([`loader`]), binds restricted state, maps the state VMO, and enters
//! ([`run`]). It never returns: the run ends with the `linux_exit` host
//! call, with the Linux status or a runner failure ([`host::Failure`]).

mod aspace;
#[cfg_attr(target_arch = "aarch64", path = "cpu_aarch64.rs")]
#[cfg_attr(target_arch = "x86_64", path = "cpu_x86_64.rs")]
mod cpu;
mod heap;
pub mod host;
mod loader;
mod model;
mod run;
mod stats;

use alloc::boxed::Box;
use alloc::vec::Vec;

use zx_subsystem::abi::{ZX_VM_PERM_READ, ZX_VM_PERM_WRITE, ZX_VM_SPECIFIC};
use zx_user::hobby::{BOOT_MAGIC, BOOT_VERSION, FLAG_STATS, FLAG_VERBOSE, LinuxBoot};
use zx_user::{Process, Vmar, Vmo};

use crate::fs::Fs;
use crate::fs::tree::Time;
use crate::mm::Mm;
use crate::sys::Linux;
use aspace::ZxAspace;
use cpu::abi;
use host::{Failure, RunnerHost, fail, log};
use run::{Runner, VectorCtx};

/// The Linux process as the runner holds it.
pub type Lx = Linux<ZxAspace, RunnerHost>;

/// Size of the runner's vector stack.
const VECTOR_STACK: usize = 256 << 10;

/// The environment of every run.
const ENVP: [&[u8]; 3] = [b"PATH=/bin", b"HOME=/root", b"PWD=/"];

/// The runner's entry, from `_start`, with the boot page's address.
///
/// # Safety
///
/// Called once by `_start` with the address the kernel passed.
pub unsafe extern "C" fn runner_main(boot: *const LinuxBoot) -> ! {
    // SAFETY: the kernel maps the boot page read-only before starting the
    // thread and never unmaps it; reading it unaligned is fine.
    let b = unsafe { boot.read_unaligned() };
    if b.magic != BOOT_MAGIC || b.version != BOOT_VERSION {
        fail(
            Failure::BadBoot,
            format_args!("boot page magic {:#x} version {}", b.magic, b.version),
        );
    }
    host::VERBOSE.store(
        b.flags & FLAG_VERBOSE != 0,
        core::sync::atomic::Ordering::Relaxed,
    );
    // SAFETY: the kernel gave these handles to the runner alone.
    let (root, archive_vmo) = unsafe { (Vmar::from_raw(b.vmar), Vmo::from_raw(b.archive_vmo)) };
    if let Err(s) = heap::init(&root, b.vmar_base, cpu::HEAP_AT) {
        fail(Failure::Zircon, format_args!("mapping the heap: {s}"));
    }
    // SAFETY: the kernel mapped the archive and argv read-only for the
    // runner's life at these addresses; nothing writes them.
    let (archive, argv_bytes): (&'static [u8], &'static [u8]) = unsafe {
        (
            core::slice::from_raw_parts(b.archive_addr as *const u8, b.archive_len as usize),
            core::slice::from_raw_parts(b.argv_addr as *const u8, b.argv_len as usize),
        )
    };
    let argv: Vec<Vec<u8>> = argv_bytes
        .split(|&c| c == 0)
        .filter(|a| !a.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    let Some(arg0) = argv.first() else {
        fail(Failure::BadBoot, format_args!("no argv"));
    };
    let mut path = arg0.clone();
    if !path.contains(&b'/') {
        path = [&b"/bin/"[..], &path].concat();
    }
    let now = Time {
        sec: b.realtime_ns / 1_000_000_000,
        nsec: b.realtime_ns % 1_000_000_000,
    };
    let fs = match Fs::from_archive(archive, b"/bin/busybox", now) {
        Ok(f) => f,
        Err(e) => fail(Failure::Archive, format_args!("archive: {e:?}")),
    };
    // SAFETY: the kernel gave this handle to the runner alone.
    let prototype = unsafe { Process::from_raw(b.process) };
    let guest = match model::create(&prototype) {
        Ok(g) => g,
        Err(s) => fail(
            Failure::Zircon,
            format_args!("zx_process_create_shared: {s}"),
        ),
    };
    let model::Guest {
        process,
        vmar,
        base,
    } = guest;
    let start = Box::into_raw(Box::new(Start {
        aspace: ZxAspace {
            vmar,
            base,
            archive: archive_vmo,
            archive_addr: b.archive_addr,
            archive_len: b.archive_len,
        },
        fs,
        path,
        argv,
        root,
        boot: b,
    }));
    // SAFETY: `linux_main` takes the `Start` it is given (leaked above for
    // it alone) and never returns.
    let thread =
        match unsafe { model::spawn(&process, linux_main as *const () as u64, start as u64) } {
            Ok(t) => t,
            Err(s) => fail(
                Failure::Zircon,
                format_args!("starting the Linux process: {s}"),
            ),
        };
    // The run ends in the Linux thread (`linux_exit`); this thread waits.
    match model::wait(&thread) {
        Ok(()) => fail(
            Failure::Zircon,
            format_args!("the Linux thread ended without linux_exit"),
        ),
        Err(s) => fail(
            Failure::Zircon,
            format_args!("waiting for the Linux thread: {s}"),
        ),
    }
}

/// What the Linux process's thread starts from.
struct Start {
    aspace: ZxAspace,
    fs: Fs,
    path: Vec<u8>,
    argv: Vec<Vec<u8>>,
    root: Vmar,
    boot: LinuxBoot,
}

/// The Linux process's thread: loads the program, binds and maps its
/// restricted state, and enters. Runs in normal mode of the Linux process,
/// whose view is the shared region (the runner) and its restricted region
/// (the program).
///
/// # Safety
///
/// Started once by [`runner_main`] with the `Start` it leaked; the second
/// argument register holds it (the first is `zx_process_start`'s handle,
/// none here).
unsafe extern "C" fn linux_main(_handle: u64, start: *mut Start) -> ! {
    // SAFETY: the contract above: `start` came from `Box::into_raw` and
    // nothing else holds it.
    let Start {
        aspace,
        fs,
        path,
        argv,
        root,
        boot: b,
    } = *unsafe { Box::from_raw(start) };
    let mm = Mm::new(aspace, abi::GUEST_LO, abi::GUEST_HI, loader::MMAP_BASE);
    let mut lx = Linux::new(
        mm,
        fs,
        RunnerHost,
        abi::INFO,
        b"/bin/busybox",
        b.realtime_ns,
        b.seed,
    );
    let (entry, sp) = match loader::load(&mut lx, &path, &argv, &ENVP) {
        Ok(x) => x,
        Err(loader::LoadError::Path(e)) => {
            // As a shell would say it: exec of a missing program.
            let p = core::str::from_utf8(&path).unwrap_or("?");
            let _ = core::fmt::Write::write_fmt(
                &mut host::Stream(zx_user::hobby::stream::STDERR),
                format_args!("linux-runner: {p}: cannot execute: errno {}\n", e.0),
            );
            zx_user::hobby::linux_exit(
                zx_user::hobby::EXIT_STATUS,
                if e.0 == 2 { 127 } else { 126 },
            )
        }
        Err(e) => fail(
            Failure::Exec,
            format_args!(
                "loading {}: {e:?}",
                core::str::from_utf8(&path).unwrap_or("?")
            ),
        ),
    };
    log!(
        "loaded {} entry {entry:#x} sp {sp:#x}",
        core::str::from_utf8(&path).unwrap_or("?")
    );
    let state_vmo = match zx_user::restricted::bind_state() {
        Ok(v) => v,
        Err(s) => fail(
            Failure::Zircon,
            format_args!("zx_restricted_bind_state: {s}"),
        ),
    };
    let state_addr = match root.map(
        ZX_VM_PERM_READ | ZX_VM_PERM_WRITE | ZX_VM_SPECIFIC,
        cpu::STATE_AT - b.vmar_base,
        &state_vmo,
        0,
        4096,
    ) {
        Ok(a) => a,
        Err(s) => fail(Failure::Zircon, format_args!("mapping the state VMO: {s}")),
    };
    drop(state_vmo);
    let stats = b.flags & FLAG_STATS != 0;
    let ticks_per_kinsn = if stats { calibrate() } else { 1000 };
    let state = state_addr as *mut cpu::State;
    // SAFETY: the state VMO is mapped read-write at `state_addr` (one
    // page, larger than the state) for the runner's life.
    unsafe { state.write(abi::initial(entry, sp)) };
    let runner = Box::leak(Box::new(Runner {
        lx,
        state,
        trampoline: loader::TRAMPOLINE_AT,
        stats,
        t0: 0,
        ticks_per_kinsn,
        trap: (0, 0),
    }));
    let stack: &'static mut [u8] = Vec::leak(alloc::vec![0u8; VECTOR_STACK]);
    let stack_top = (stack.as_ptr() as u64 + VECTOR_STACK as u64) & !15;
    let ctx = Box::leak(Box::new(VectorCtx {
        stack_top,
        runner,
        pad: [0; 2],
        fp: [0; crate::arch::aarch64::FP_BYTES],
    }));
    cpu::init_fp(ctx);
    ctx_runner(ctx).t0 = cpu::cycles();
    let status = cpu::enter(ctx);
    run::enter_failed(status)
}

fn ctx_runner(ctx: &mut VectorCtx) -> &mut Runner {
    // SAFETY: the runner was just leaked into the context; nothing else
    // refers to it yet.
    unsafe { &mut *ctx.runner }
}

/// Counter ticks per 1000 instructions, from a loop of known length.
fn calibrate() -> u64 {
    const LOOPS: u64 = 50_000;
    let t0 = cpu::cycles();
    cpu::spin(LOOPS);
    let t1 = cpu::cycles();
    ((t1 - t0) * 1000 / (2 * LOOPS)).max(1)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    fail(Failure::Panic, format_args!("runner panic: {info}"))
}

//! `zx_subsystem::Platform` for this kernel on x86_64, and the driver of
//! the restricted-mode scenario (`zx_host`, `zx_user`).
//!
//! - Frames come from `memory::FRAMES`, reached through the direct map.
//! - New root tables copy the kernel half (PML4 entries 256..512: the
//!   direct map with the local APIC, and the kernel image) from the boot
//!   PML4, so the kernel keeps running whatever process root is in CR3.
//! - TLB shootdown is the local flush (`arch::x86_64::tlb::LocalTlb`): one
//!   CPU. When the CPU has PCIDs they are turned on and each process runs
//!   under the PCID the crate gives it (recycled by generation); CR3 is
//!   always loaded with a flushing write, which also covers
//!   `LocalFlush::NotLoaded` (a flush of a PCID that was not loaded at the
//!   time) and a view's `flush` after a rollover.
//! - `interrupt_thread` has nothing to interrupt: on the one CPU, the
//!   thread being kicked is the one whose interrupt the kernel is handling.
//!   It counts the requests, which the scenario checks.
//! - The local APIC timer provides the interrupt for the kick of a thread
//!   in restricted mode ([`HobbyMachine`]).

use ::x86_64::PhysAddr as x86PhysAddr;
use ::x86_64::registers::control::{Cr3, Cr4, Cr4Flags};
use ::x86_64::structures::paging::PhysFrame;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;

use zx_subsystem::arch::Arch;
use zx_subsystem::arch::x86_64::tlb::LocalTlb;
use zx_subsystem::arch::x86_64::{UserContext, X86_64, run_user};
use zx_subsystem::mmu::TlbBatch;
use zx_subsystem::object::{Process, Thread};
use zx_subsystem::{PhysAddr, Platform, ThreadToken, Trap, UserView};

use super::Console;
use super::cpu::Lapic;
use super::paging;
use super::{churn_user, pingpong_user, zx_user};
use crate::churn::{self, ChurnArch, Start};
use crate::memory::FRAMES;
use crate::report::Report;
use crate::sched::{Machine, StartedQueue, Task, WokenQueue};
use crate::zx_host::{INTERRUPT_REQUESTS, Program, abi};

/// Threads the crate started, until the scheduler takes them.
static STARTED: StartedQueue<HobbyPlatform> = StartedQueue::new();
/// Threads the crate woke, until the scheduler takes them.
static WOKEN: WokenQueue = WokenQueue::new();

/// The kernel's platform: a zero-sized handle on its global state.
#[derive(Clone, Copy, Debug, Default)]
pub struct HobbyPlatform;

/// How this CPU invalidates TLB entries; set by [`init`].
static TLB: spin::Once<LocalTlb> = spin::Once::new();
/// The boot PML4 (physical), whose kernel half every process root copies.
static KERNEL_ROOT: AtomicU64 = AtomicU64::new(0);

// SAFETY: (1) frames come from the kernel's frame allocator, which hands
// each out once until it is freed; (2) every frame of RAM is in the direct
// map, read-write, for the kernel's whole life; (3) one CPU: `flush_tlb`
// runs `invlpg`/`invpcid` (or reloads CR3) before it returns; (4) the boot
// PML4 is never freed and lies in the direct map.
unsafe impl Platform for HobbyPlatform {
    type Arch = X86_64;

    fn alloc_frame(&self) -> Option<PhysAddr> {
        FRAMES.lock().alloc().map(PhysAddr::new)
    }

    fn free_frame(&self, frame: PhysAddr) {
        FRAMES.lock().free(frame.as_u64());
    }

    fn phys_to_virt(&self, frame: PhysAddr) -> *mut u8 {
        paging::phys_to_virt(frame.as_u64())
    }

    fn flush_tlb(&self, batch: &TlbBatch) {
        // One CPU: the local flush is the whole shootdown. `NotLoaded` needs
        // nothing more: `load_root` always flushes the PCID it loads.
        let tlb = TLB.get().expect("zx::init runs before the crate");
        let _ = tlb.flush_local(batch);
    }

    fn thread_started(&self, thread: &Arc<Thread<Self>>, ctx: UserContext) {
        STARTED.push(Task {
            thread: thread.clone(),
            ctx,
        });
    }

    fn wake(&self, thread: ThreadToken) {
        WOKEN.push(thread.koid);
    }

    fn now(&self) -> i64 {
        // Under `-icount shift=0` the TSC advances by one per instruction,
        // which QEMU's virtual clock counts as a nanosecond.
        // SAFETY: rdtsc has no memory effect (CR4.TSD is clear in ring 0).
        (unsafe { core::arch::x86_64::_rdtsc() }) as i64
    }

    fn asid_bits(&self) -> u32 {
        match FORCED_PCID_BITS.load(Ordering::Relaxed) {
            0 => X86_64::ASID_BITS,
            forced => forced,
        }
    }

    fn interrupt_thread(&self, _thread: ThreadToken) {
        // One CPU: the thread to interrupt is the one whose interrupt the
        // kernel is handling (see `zx_host`'s `kick_on_irq`), so it is
        // already at a kernel boundary. Count the request for the check.
        INTERRUPT_REQUESTS.fetch_add(1, Ordering::Relaxed);
    }

    fn kernel_root_table(&self) -> Option<PhysAddr> {
        Some(PhysAddr::new(KERNEL_ROOT.load(Ordering::Relaxed)))
    }
}

/// Turns PCIDs on when the CPU has them, records the boot PML4 and picks
/// the TLB method. Returns whether PCIDs are on.
///
/// # Safety
///
/// 1. Runs in ring 0 on the one CPU, with the boot PML4 loaded under PCID 0
///    (CR3 bits 0..12 clear), before the crate is used.
pub(super) unsafe fn init() -> bool {
    let pcid = core::arch::x86_64::__cpuid(1).ecx & (1 << 17) != 0;
    if pcid {
        // SAFETY: CPUID says PCIDs exist, and the current PCID is 0
        // (obligation 1), the condition for setting CR4.PCIDE.
        unsafe { Cr4::update(|f| f.insert(Cr4Flags::PCID)) };
    }
    KERNEL_ROOT.store(paging::root(), Ordering::Relaxed);
    // SAFETY: ring 0, CR4 final for the kernel's life (obligation 1).
    TLB.call_once(|| unsafe { LocalTlb::new() });
    pcid
}

/// Loads CR3 with `root` and PCID `pcid`, flushing that PCID's entries
/// (bit 63 clear).
///
/// # Safety
///
/// 1. `root` is a root table whose kernel half maps the kernel as the boot
///    tables do (a process root from the crate, or the boot PML4).
/// 2. `pcid` is 0 unless CR4.PCIDE is set.
unsafe fn load_root(root: u64, pcid: u16) {
    // SAFETY: obligations 1 and 2: the kernel's code, stack and data stay
    // mapped, and the PCID field is valid.
    unsafe { Cr3::write_raw(PhysFrame::containing_address(x86PhysAddr::new(root)), pcid) };
}

/// The way to ring 3, the local APIC timer and CR3, for the scheduler.
pub(super) struct HobbyMachine<'a> {
    pub(super) lapic: &'a Lapic,
    pub(super) pcid: bool,
}

impl Machine<HobbyPlatform> for HobbyMachine<'_> {
    fn enter(&mut self, ctx: &mut UserContext) -> Trap<X86_64> {
        // SAFETY: `cpu::init` met the trap path's obligations (GDT, MSRs,
        // IDT, TSS, GS), the kernel stack and the context are in the kernel
        // half, and user space holds only the crate's mappings.
        unsafe { run_user(ctx) }
    }

    fn arm_timer(&mut self, insns: u64) {
        // Under `-icount shift=0` a bus clock is about one instruction.
        self.lapic.one_shot(insns.min(u64::from(u32::MAX)) as u32);
    }

    fn ack_interrupt(&mut self, vector: u64) {
        self.lapic.stop();
        // The spurious vector takes no EOI.
        if vector != 0xff {
            self.lapic.eoi();
        }
    }

    fn load_view(&mut self, view: UserView) {
        // `view.flush` (identifiers recycled) needs nothing more: every CR3
        // load here flushes the PCID it loads, so no stale entry of a
        // recycled PCID survives to be used, and other PCIDs' stale
        // entries wait for their own load.
        let pcid = if self.pcid { view.asid } else { 0 };
        // SAFETY: every root the crate makes copies the boot PML4's kernel
        // half (1); `pcid` is 0 without PCIDE (2).
        unsafe { load_root(view.root.as_u64(), pcid) };
    }

    fn take_started(&mut self, queue: &mut VecDeque<Box<Task<HobbyPlatform>>>) -> bool {
        STARTED.drain_into(queue)
    }

    fn take_woken(&mut self, woken: &mut Vec<u64>) {
        WOKEN.drain_into(woken);
    }
}

/// Runs the restricted-mode scenario: the crate's kernel, process, thread
/// and mappings, the process's page tables in CR3, the user program until
/// it exits; then back to the boot tables and the process torn down.
pub fn run(r: &mut Report<Console>, lapic: &Lapic) {
    // SAFETY: called once from `kernel_main`, in ring 0, after the smoke
    // scenario, with the boot PML4 in CR3 under PCID 0.
    let pcid = unsafe { init() };
    let prog = match Program::load(HobbyPlatform, zx_user::blob()) {
        Ok(prog) => prog,
        Err(e) => {
            r.note(format_args!("Program::load: {e:?}"));
            r.check("zx: kernel, process, thread and program mapped", false);
            return;
        }
    };
    let aspace = prog.process.aspace();
    let asid = if pcid { aspace.asid() } else { 0 };
    r.note(format_args!(
        "zx: process root table {:#x}, PCID {asid}, program at {:#x} ({} bytes), globals at {:#x}",
        aspace.root_table().as_u64(),
        prog.entry,
        prog.code_len,
        prog.globals
    ));
    let ctx = UserContext {
        rip: prog.entry,
        rsp: prog.globals,
        rdi: u64::from(prog.vmar_handle),
        rsi: u64::from(prog.thread_handle),
        rflags: 0x202,
        fs_base: prog.globals + abi::G_NTLS0,
        gs_base: prog.globals + abi::G_NTLS1,
        ..UserContext::default()
    };
    prog.run(ctx, r, &mut HobbyMachine { lapic, pcid });
    // SAFETY: the boot PML4 under PCID 0.
    unsafe { load_root(KERNEL_ROOT.load(Ordering::Relaxed), 0) };
    prog.process.terminate();
    prog.process.aspace().teardown();
    drop(prog);
    r.note(format_args!(
        "zx: process torn down, {} free frames",
        FRAMES.lock().available()
    ));
}

/// A narrower PCID width than 12 bits a scenario asked for (0: none).
static FORCED_PCID_BITS: AtomicU32 = AtomicU32::new(0);

/// Runs the identifier-churn scenario ([`churn`]) with 8-bit PCIDs
/// forced, so that its 1,000 processes roll them over several times: real
/// PCIDs when the CPU has them (QEMU `-cpu max`); without them the
/// identifiers are still recycled, and every CR3 load flushes. After
/// [`run`] (which turned PCIDs on).
pub fn run_churn(r: &mut Report<Console>, lapic: &Lapic) {
    let pcid = Cr4::read().contains(Cr4Flags::PCID);
    r.note(format_args!(
        "churn: PCIDs {}",
        if pcid { "on" } else { "off" }
    ));
    FORCED_PCID_BITS.store(8, Ordering::Relaxed);
    churn::run(
        HobbyPlatform,
        churn_user::blob(),
        churn_user::parent_offset(),
        &mut HobbyMachine { lapic, pcid },
        r,
    );
    FORCED_PCID_BITS.store(0, Ordering::Relaxed);
}

impl ChurnArch<HobbyPlatform> for HobbyMachine<'_> {
    fn context(&self, entry: u64, start: &Start) -> UserContext {
        UserContext {
            rip: entry,
            rdi: u64::from(start.gate),
            rsi: start.index,
            rdx: start.data,
            rflags: 0x202,
            ..UserContext::default()
        }
    }

    fn prepare(&mut self, _process: &Arc<Process<HobbyPlatform>>, _entry: u64, _len: u64) {}

    fn counter(&self) -> (u64, u64) {
        // SAFETY: `rdtsc` only reads the time-stamp counter.
        (unsafe { core::arch::x86_64::_rdtsc() }, 1)
    }

    fn unload(&mut self) {
        // SAFETY: the boot PML4 under PCID 0.
        unsafe { load_root(KERNEL_ROOT.load(Ordering::Relaxed), 0) };
    }
}

/// Runs the futex ping-pong scenario ([`crate::pingpong`]), after [`run`].
pub fn run_pingpong(r: &mut Report<Console>, lapic: &Lapic) {
    let pcid = Cr4::read().contains(Cr4Flags::PCID);
    crate::pingpong::run(
        HobbyPlatform,
        pingpong_user::blob(),
        &mut HobbyMachine { lapic, pcid },
        r,
    );
}

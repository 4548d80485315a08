//! `zx_subsystem::Platform` for this kernel on aarch64, and the driver of
//! the restricted-mode scenario (`zx_host`, `zx_user`).
//!
//! - Frames come from `memory::FRAMES`, reached through the TTBR1 direct
//!   map. The kernel lives in TTBR1, so new root tables copy nothing
//!   (`kernel_root_table` keeps its default, `None`).
//! - Each process runs in TTBR0 under the ASID the crate gives it (in
//!   `TTBR0_EL1[63:48]`; `TCR_EL1.A1 = 0`): 16-bit ASIDs when
//!   `ID_AA64MMFR0_EL1.ASIDBits` says so ([`init_asids`] sets `TCR_EL1.AS`),
//!   else 8-bit; a scenario may force 8 bits ([`force_asid_bits`]) to make
//!   rollovers happen. When a view says `flush` (identifiers were
//!   recycled), `load_view` drops every local translation after loading
//!   TTBR0 (`tlbi vmalle1`).
//! - TLB shootdown is `arch::aarch64::tlb::flush_batch`: the broadcast
//!   inner-shareable `tlbi` forms reach every CPU by themselves.
//! - `interrupt_thread` has nothing to interrupt: on the one CPU, the
//!   thread being kicked is the one whose interrupt the kernel is handling.
//!   It counts the requests, which the scenario checks.
//! - The virtual timer provides the interrupt for the kick of a thread in
//!   restricted mode ([`HobbyMachine`]).

use core::arch::asm;

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::{
    ID_AA64MMFR0_EL1, ID_AA64PFR0_EL1, ReadWriteable, Readable, TCR_EL1, TTBR0_EL1, Writeable,
};

use core::sync::atomic::{AtomicU32, Ordering};

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;

use zx_subsystem::arch::Aarch32;
use zx_subsystem::arch::aarch64::{Aarch64, UserContext, run_user, tlb};
use zx_subsystem::mmu::{Asid, TlbBatch};
use zx_subsystem::object::{Process, Thread};
use zx_subsystem::vm::AddressSpace;
use zx_subsystem::{Access, PAGE_SIZE, PhysAddr, Platform, ThreadToken, Trap, UserView};

use super::Console;
use super::cpu::Gic;
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

/// The ASID width the CPU and `TCR_EL1.AS` give ([`init_asids`]).
static ASID_BITS: AtomicU32 = AtomicU32::new(8);
/// A narrower width a scenario asked for (0: none).
static FORCED_ASID_BITS: AtomicU32 = AtomicU32::new(0);

/// Turns 16-bit ASIDs on when the CPU has them (`TCR_EL1.AS`), before any
/// user ASID is loaded.
pub fn init_asids() {
    if ID_AA64MMFR0_EL1.matches_all(ID_AA64MMFR0_EL1::ASIDBits::Bits_16) {
        // Only TCR_EL1.AS changes, while TTBR0 holds ASID 0 (whose upper
        // byte is 0 either way); the TLB is flushed after, as the
        // architecture asks when TCR fields change.
        TCR_EL1.modify(TCR_EL1::AS::ASID16Bits);
        barrier::isb(barrier::SY);
        // SAFETY: a local invalidation of every translation only costs
        // refills.
        unsafe { asm!("tlbi vmalle1", options(nostack, preserves_flags)) };
        barrier::dsb(barrier::NSH);
        barrier::isb(barrier::SY);
        ASID_BITS.store(16, Ordering::Relaxed);
    }
}

/// Makes kernels created from now on use `bits`-wide ASIDs (at most what
/// the CPU has); 0 goes back to the CPU's width.
pub fn force_asid_bits(bits: u32) {
    FORCED_ASID_BITS.store(bits, Ordering::Relaxed);
}

/// The kernel's platform: a zero-sized handle on its global state.
#[derive(Clone, Copy, Debug, Default)]
pub struct HobbyPlatform;

// SAFETY: (1) frames come from the kernel's frame allocator, which hands
// each out once until it is freed; (2) all of RAM is mapped read-write at
// `KERNEL_VMA + phys` for the kernel's whole life; (3) one CPU: `flush_tlb`
// issues `tlbi` and `dsb ish` before it returns; (4) there is no kernel
// root in TTBR0 (`None`: the kernel runs from TTBR1).
unsafe impl Platform for HobbyPlatform {
    type Arch = Aarch64;

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
        // SAFETY: the kernel runs at EL1.
        unsafe { tlb::flush_batch(batch) };
    }

    fn aarch32(&self) -> Aarch32 {
        // EL0, bits [3:0] (aarch64-cpu names no field for it): 0b0010 =
        // AArch64 and AArch32.
        if ID_AA64PFR0_EL1.get() & 0xf == 2 {
            Aarch32::Available
        } else {
            Aarch32::Unavailable
        }
    }

    fn asid_bits(&self) -> u32 {
        let cpu = ASID_BITS.load(Ordering::Relaxed);
        match FORCED_ASID_BITS.load(Ordering::Relaxed) {
            0 => cpu,
            forced => forced.min(cpu),
        }
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
        // QEMU virt's counter runs at 62.5 MHz: 16 ns a tick.
        (super::cpu::cntvct() as i64).saturating_mul(16)
    }

    fn interrupt_thread(&self, _thread: ThreadToken) {
        // One CPU: the thread to interrupt is the one whose interrupt the
        // kernel is handling (see `zx_host`'s `kick_on_irq`), so it is
        // already at a kernel boundary. Count the request for the check.
        INTERRUPT_REQUESTS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Points TTBR0 at `root` under `asid`.
///
/// # Safety
///
/// 1. `root` is a user root table (the kernel runs from TTBR1, so nothing
///    the kernel uses changes), or the kernel uses nothing in TTBR0.
/// 2. No translation of `asid` for another table is cached, or `flush`
///    is set (the crate names each ASID for one table per generation, and
///    says `flush` at a CPU's first switch after a rollover).
unsafe fn load_ttbr0(root: u64, asid: Asid, flush: bool) {
    // Obligations 1 and 2 make the switch sound.
    TTBR0_EL1.set(root | (u64::from(asid) << 48));
    barrier::isb(barrier::SY);
    if flush {
        // Every local translation, of every ASID: stale ones of a
        // recycled identifier go before user code runs under it.
        // SAFETY: a local invalidation only costs refills.
        unsafe { asm!("tlbi vmalle1", options(nostack, preserves_flags)) };
        barrier::dsb(barrier::NSH);
        barrier::isb(barrier::SY);
    }
}

/// Makes the program's code visible to instruction fetch: the host wrote
/// it through the direct map, EL0 fetches it through its mapping. Faults
/// each page in (so it has a translation), cleans it to the point of
/// unification by its user address, and invalidates the instruction cache.
fn sync_icache(prog: &Program<HobbyPlatform>) {
    sync_icache_range(prog.process.aspace(), prog.entry, prog.code_len);
}

/// [`sync_icache`] for `len` bytes of code at `entry` in `aspace` (loaded
/// in TTBR0).
fn sync_icache_range(aspace: &AddressSpace<HobbyPlatform>, entry: u64, len: u64) {
    let mut page = entry;
    while page < entry + len {
        if aspace.page_fault(page, Access::Execute).is_err() {
            return;
        }
        let mut line = page;
        while line < page + PAGE_SIZE {
            // SAFETY: cleaning a line of a page mapped readable in the
            // loaded TTBR0 only affects caches.
            unsafe { asm!("dc cvau, {}", in(reg) line, options(nostack, preserves_flags)) };
            line += 64;
        }
        page += PAGE_SIZE;
    }
    // SAFETY: cache and barrier instructions only.
    unsafe {
        asm!(
            "dsb ish",
            "ic iallu",
            "dsb ish",
            "isb",
            options(nostack, preserves_flags)
        )
    };
}

/// The way to EL0, the virtual timer and TTBR0, for the scheduler.
pub(super) struct HobbyMachine<'a> {
    pub(super) gic: &'a Gic,
}

impl Machine<HobbyPlatform> for HobbyMachine<'_> {
    fn enter(&mut self, ctx: &mut UserContext) -> Trap<Aarch64> {
        // SAFETY: `cpu::init` installed the crate's vectors, the kernel
        // runs at EL1 with SPSel = 1 on its stack in TTBR1, and EL0 holds
        // only the crate's mappings.
        unsafe { run_user(ctx) }
    }

    fn arm_timer(&mut self, insns: u64) {
        // Under `-icount shift=0` the 62.5 MHz counter ticks every 16
        // instructions.
        self.gic.timer_one_shot((insns / 16).max(1));
    }

    fn ack_interrupt(&mut self, _vector: u64) {
        let intid = self.gic.ack();
        self.gic.timer_stop();
        // INTID 1023: spurious, nothing to end.
        if intid != 1023 {
            self.gic.eoi(intid);
        }
    }

    fn load_view(&mut self, view: UserView) {
        // SAFETY: a root the crate made (1) under the identifier the crate
        // gave it, flushed before any reuse (2).
        unsafe { load_ttbr0(view.root.as_u64(), view.asid, view.flush) };
    }

    fn take_started(&mut self, queue: &mut VecDeque<Box<Task<HobbyPlatform>>>) -> bool {
        STARTED.drain_into(queue)
    }

    fn take_woken(&mut self, woken: &mut Vec<u64>) {
        WOKEN.drain_into(woken);
    }
}

/// Runs the restricted-mode scenario: the crate's kernel, process, thread
/// and mappings, the process's tables in TTBR0, the user program until it
/// exits; then TTBR0 back to the smoke scenario's table and the process
/// torn down.
pub fn run(r: &mut Report<Console>, gic: &Gic) {
    let prog = match Program::load(HobbyPlatform, zx_user::blob()) {
        Ok(prog) => prog,
        Err(e) => {
            r.note(format_args!("Program::load: {e:?}"));
            r.check("zx: kernel, process, thread and program mapped", false);
            return;
        }
    };
    let aspace = prog.process.aspace();
    r.note(format_args!(
        "zx: process root table {:#x}, ASID {}, program at {:#x} ({} bytes), globals at {:#x}",
        aspace.root_table().as_u64(),
        aspace.asid(),
        prog.entry,
        prog.code_len,
        prog.globals
    ));
    let boot_ttbr0 = TTBR0_EL1.get();
    // SAFETY: a process root (1) under the ASID the crate gave it, with a
    // flush (2).
    unsafe { load_ttbr0(aspace.root_table().as_u64(), aspace.asid(), true) };
    sync_icache(&prog);
    let mut x = [0; 31];
    x[0] = u64::from(prog.vmar_handle);
    x[1] = u64::from(prog.thread_handle);
    let ctx = UserContext {
        x,
        sp: prog.globals,
        pc: prog.entry,
        spsr: 0,
        tpidr_el0: prog.globals + abi::G_NTLS0,
        tpidrro_el0: 0,
        fp: Default::default(),
    };
    prog.run(ctx, r, &mut HobbyMachine { gic });
    // The root table is freed with the process: TTBR0 must not point at
    // it any more. Back to the smoke scenario's table (ASID 0 in it).
    // SAFETY: the kernel uses nothing in TTBR0 (1); ASID 0 only ever named
    // that table (2).
    unsafe { load_ttbr0(boot_ttbr0, 0, false) };
    prog.process.terminate();
    prog.process.aspace().teardown();
    drop(prog);
    r.note(format_args!(
        "zx: process torn down, {} free frames",
        FRAMES.lock().available()
    ));
}

/// TTBR0 before the churn scenario, loaded again before its roots go.
static CHURN_BOOT_TTBR0: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Runs the identifier-churn scenario ([`churn`]) with 8-bit ASIDs forced,
/// so that its 1,000 processes roll them over several times.
pub fn run_churn(r: &mut Report<Console>, gic: &Gic) {
    let boot_ttbr0 = TTBR0_EL1.get();
    CHURN_BOOT_TTBR0.store(boot_ttbr0, Ordering::Relaxed);
    force_asid_bits(8);
    churn::run(
        HobbyPlatform,
        churn_user::blob(),
        churn_user::parent_offset(),
        &mut HobbyMachine { gic },
        r,
    );
    force_asid_bits(0);
}

impl ChurnArch<HobbyPlatform> for HobbyMachine<'_> {
    fn context(&self, entry: u64, start: &Start) -> UserContext {
        let mut x = [0; 31];
        x[0] = u64::from(start.gate);
        x[1] = start.index;
        x[2] = start.data;
        UserContext {
            x,
            sp: 0,
            pc: entry,
            spsr: 0,
            tpidr_el0: 0,
            tpidrro_el0: 0,
            fp: Default::default(),
        }
    }

    fn prepare(&mut self, process: &Arc<Process<HobbyPlatform>>, entry: u64, len: u64) {
        let aspace = process.aspace();
        // SAFETY: a process root (1) under the ASID the crate gave it, with
        // a flush (2).
        unsafe { load_ttbr0(aspace.root_table().as_u64(), aspace.asid(), true) };
        sync_icache_range(aspace, entry, len);
    }

    fn counter(&self) -> (u64, u64) {
        (super::cpu::cntvct(), 16)
    }

    fn unload(&mut self) {
        // SAFETY: the kernel uses nothing in TTBR0 (1); ASID 0 only ever
        // named that table (2).
        unsafe { load_ttbr0(CHURN_BOOT_TTBR0.load(Ordering::Relaxed), 0, true) };
    }
}

/// Runs the futex ping-pong scenario ([`crate::pingpong`]).
pub fn run_pingpong(r: &mut Report<Console>, gic: &Gic) {
    CHURN_BOOT_TTBR0.store(TTBR0_EL1.get(), Ordering::Relaxed);
    crate::pingpong::run(
        HobbyPlatform,
        pingpong_user::blob(),
        &mut HobbyMachine { gic },
        r,
    );
}

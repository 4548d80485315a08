//! CPU setup for the trap path — the host obligations listed in
//! `zx_subsystem::arch::x86_64::entry` — plus port I/O, MSRs, the TSC, the
//! local APIC timer and the exit device.
//!
//! Everything here runs once, on the boot CPU, with interrupts disabled.

use core::cell::UnsafeCell;

use ::x86_64::VirtAddr;
use ::x86_64::instructions::port::Port;
use ::x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use ::x86_64::instructions::tables::{lgdt, lidt, load_tss};
use ::x86_64::instructions::{self, interrupts};
use ::x86_64::registers::control::{Cr2, Cr4, Cr4Flags};
use ::x86_64::registers::model_specific::Msr;
use ::x86_64::structures::DescriptorTablePointer;
use ::x86_64::structures::gdt::SegmentSelector;
use zx_subsystem::arch::x86_64::syscall::{GDT_LAYOUT, KERNEL_CS, KERNEL_SS};
use zx_subsystem::arch::x86_64::{self as zx, BaseAccess, IdtGate, KernelFrame, PerCpu};

use crate::report::Outcome;

/// Size of the boot (and only) kernel stack.
pub const BOOT_STACK_SIZE: usize = 64 * 1024;
const IST_STACK_SIZE: usize = 16 * 1024;

/// A kernel stack: memory the CPU writes behind Rust's back.
#[repr(C, align(16))]
pub struct Stack<const N: usize>(UnsafeCell<[u8; N]>);

// SAFETY: a stack is only ever used by the CPU as raw memory; Rust never
// forms references into it.
unsafe impl<const N: usize> Sync for Stack<N> {}

/// The stack `boot.rs` switches to before calling `kernel_main`.
pub static BOOT_STACK: Stack<BOOT_STACK_SIZE> = Stack(UnsafeCell::new([0; BOOT_STACK_SIZE]));
/// The IST stack for NMI, `#DF` and `#MC`.
static IST_STACK: Stack<IST_STACK_SIZE> = Stack(UnsafeCell::new([0; IST_STACK_SIZE]));

/// The 64-bit TSS (104 bytes, `rsp0` at offset 4).
#[repr(C, packed(4))]
struct Tss {
    _reserved0: u32,
    rsp: [u64; 3],
    _reserved1: u64,
    ist: [u64; 7],
    _reserved2: u64,
    _reserved3: u16,
    iomap_base: u16,
}

/// GDT index of the TSS descriptor (two slots).
const TSS_INDEX: usize = GDT_LAYOUT.len();
const TSS_SELECTOR: u16 = (TSS_INDEX * 8) as u16;

struct Tables {
    gdt: [u64; TSS_INDEX + 2],
    tss: Tss,
    idt: [IdtGate; 256],
}

struct TablesCell(UnsafeCell<Tables>);
// SAFETY: written only by `init`, on the one CPU, before anything reads it;
// afterwards only the CPU (and the crate's entry code, through the
// `rsp0` pointer) touches it.
unsafe impl Sync for TablesCell {}

static TABLES: TablesCell = TablesCell(UnsafeCell::new(Tables {
    gdt: [0; TSS_INDEX + 2],
    tss: Tss {
        _reserved0: 0,
        rsp: [0; 3],
        _reserved1: 0,
        ist: [0; 7],
        _reserved2: 0,
        _reserved3: 0,
        iomap_base: 104,
    },
    idt: [IdtGate::missing(); 256],
}));

/// This CPU's block for the crate's entry code.
pub static PER_CPU: PerCpu = PerCpu::new();

/// Which optional CPU features the kernel turned on.
#[derive(Clone, Copy, Debug)]
pub struct Features {
    /// `CR4.FSGSBASE`: the entry code (and user code) use `wr*base`.
    pub fsgsbase: bool,
    /// `CR4.SMEP`.
    pub smep: bool,
    /// `CR4.SMAP`.
    pub smap: bool,
}

/// Sets up everything `run_user` needs: GDT with TSS, IDT with the crate's
/// stubs, the syscall MSRs, CR4 features, the per-CPU block; masks the
/// legacy PICs.
///
/// # Safety
///
/// 1. Called once, on the boot CPU, in ring 0 with interrupts disabled,
///    before anything else uses the GDT, IDT, TSS or GS.
pub unsafe fn init() -> Features {
    let tables = TABLES.0.get();
    // SAFETY: obligation 1: nothing else accesses TABLES yet, so this
    // exclusive reference is the only one while `init` runs.
    let t = unsafe { &mut *tables };

    let tss_addr = &raw const t.tss as u64;
    t.gdt[..TSS_INDEX].copy_from_slice(&GDT_LAYOUT);
    let limit = (core::mem::size_of::<Tss>() - 1) as u64;
    t.gdt[TSS_INDEX] = (limit & 0xffff)
        | ((tss_addr & 0xff_ffff) << 16)
        | (0x89 << 40) // present, 64-bit available TSS
        | (((limit >> 16) & 0xf) << 48)
        | (((tss_addr >> 24) & 0xff) << 56);
    t.gdt[TSS_INDEX + 1] = tss_addr >> 32;
    t.tss.ist[0] = IST_STACK.0.get() as u64 + IST_STACK_SIZE as u64;
    t.tss.rsp[0] = BOOT_STACK.0.get() as u64 + BOOT_STACK_SIZE as u64;

    zx::fill_idt(&mut t.idt, |vector| match vector {
        2 | 8 | 18 => 1,
        _ => 0,
    });

    let gdtr = DescriptorTablePointer {
        limit: (core::mem::size_of_val(&t.gdt) - 1) as u16,
        base: VirtAddr::from_ptr(t.gdt.as_ptr()),
    };
    let idtr = DescriptorTablePointer {
        limit: (core::mem::size_of_val(&t.idt) - 1) as u16,
        base: VirtAddr::from_ptr(t.idt.as_ptr()),
    };
    // SAFETY: the GDT and IDT are 'static and fully written; the GDT keeps
    // the boot GDT's 0x08 code / 0x10 data layout, so reloading CS/SS with
    // them keeps running the same code; the TSS descriptor points at the
    // 'static TSS.
    unsafe {
        lgdt(&gdtr);
        CS::set_reg(SegmentSelector(KERNEL_CS));
        SS::set_reg(SegmentSelector(KERNEL_SS));
        DS::set_reg(SegmentSelector(KERNEL_SS));
        ES::set_reg(SegmentSelector(KERNEL_SS));
        load_tss(SegmentSelector(TSS_SELECTOR));
        lidt(&idtr);
    }

    // SAFETY: `kernel_trap` only reads the frame and exits QEMU; it never
    // returns, so it cannot leave a bad frame behind.
    unsafe { zx::set_kernel_trap_handler(kernel_trap) };

    // Legacy 8259 PICs: SeaBIOS leaves IRQ 0 on vector 8. Mask them all so
    // nothing but the local APIC interrupts ring 3.
    // SAFETY: port writes to the PIC data ports only change its masks.
    unsafe {
        outb(0x21, 0xff);
        outb(0xa1, 0xff);
    }

    let leaf7 = core::arch::x86_64::__cpuid_count(7, 0);
    let features = Features {
        fsgsbase: leaf7.ebx & 1 != 0,
        smep: leaf7.ebx & (1 << 7) != 0,
        smap: leaf7.ebx & (1 << 20) != 0,
    };
    let mut cr4 = Cr4::read();
    cr4.set(Cr4Flags::FSGSBASE, features.fsgsbase);
    cr4.set(
        Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION,
        features.smep,
    );
    cr4.set(Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION, features.smap);
    // SAFETY: only bits CPUID says exist are set; SMEP/SMAP are safe since
    // the kernel never executes or accesses user addresses (it reaches user
    // frames through the direct map).
    unsafe { Cr4::write(cr4) };

    let bases = if features.fsgsbase {
        BaseAccess::Instructions
    } else {
        BaseAccess::Msr
    };
    // SAFETY: `rsp0` lives in the 'static TSS just loaded with `ltr`
    // (obligation 1 of `PerCpu::init`); Instructions only with CR4.FSGSBASE
    // set above (obligation 2). Then GS points at the initialised block,
    // on the one CPU, before anything uses GS; the syscall MSRs go in after
    // the GDT that matches `STAR` is loaded.
    unsafe {
        PER_CPU.init((&raw mut (*tables).tss.rsp).cast::<u8>(), bases);
        zx::install_per_cpu(&PER_CPU);
        zx::init_syscall_msrs();
    }
    features
}

/// The crate's stubs call this for traps taken in ring 0: the kernel never
/// expects one, so report it and stop.
extern "C" fn kernel_trap(frame: &mut KernelFrame) {
    let cr2 = Cr2::read_raw();
    crate::kprintln!(
        "# kernel trap: vector {} error {:#x} rip {:#x} cs {:#x} rsp {:#x} cr2 {:#x}",
        frame.vector,
        frame.error_code,
        frame.rip,
        frame.cs,
        frame.rsp,
        cr2
    );
    exit(ExitCode::Crashed);
}

/// Writes a byte to an I/O port.
///
/// # Safety
///
/// 1. The write has no effect on memory safety (the device behind `port`
///    does not DMA into memory Rust owns).
pub unsafe fn outb(port: u16, value: u8) {
    // SAFETY: obligation 1.
    unsafe { Port::<u8>::new(port).write(value) };
}

/// Reads a byte from an I/O port.
///
/// # Safety
///
/// 1. The read has no side effect on memory safety.
pub unsafe fn inb(port: u16) -> u8 {
    // SAFETY: obligation 1.
    unsafe { Port::<u8>::new(port).read() }
}

/// Reads an MSR.
///
/// # Safety
///
/// 1. `msr` exists on this CPU.
pub unsafe fn rdmsr(msr: u32) -> u64 {
    // SAFETY: obligation 1; rdmsr has no memory effect.
    unsafe { Msr::new(msr).read() }
}

/// `IA32_GS_BASE`.
pub const MSR_GS_BASE: u32 = 0xc000_0101;

/// The time-stamp counter (instructions, under `-icount`).
pub fn rdtsc() -> u64 {
    // SAFETY: lfence and rdtsc are allowed in ring 0 and have no memory
    // effect; lfence keeps rdtsc from running ahead of earlier
    // instructions.
    unsafe {
        core::arch::x86_64::_mm_lfence();
        core::arch::x86_64::_rdtsc()
    }
}

/// Why the kernel stops; the `isa-debug-exit` value that says so. QEMU
/// exits with `(value << 1) | 1`: 33 passed, 35 failed, 37 crashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// Every check passed.
    Passed = 0x10,
    /// Some check failed.
    Failed = 0x11,
    /// An unexpected kernel trap or a panic.
    Crashed = 0x12,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Passed => ExitCode::Passed,
            Outcome::Failed => ExitCode::Failed,
        }
    }
}

/// Leaves QEMU through `isa-debug-exit` (iobase 0xf4).
pub fn exit(code: ExitCode) -> ! {
    // SAFETY: port 0xf4 is QEMU's isa-debug-exit, which stops the machine;
    // without the device the write is ignored and we halt below.
    unsafe { Port::<u32>::new(0xf4).write(code as u32) };
    interrupts::disable();
    loop {
        // Interrupts are off: this only stops this CPU.
        instructions::hlt();
    }
}

/// The local APIC's registers, mapped uncached: its timer interrupts ring 3
/// in the scenario.
pub struct Lapic {
    base: u64,
}

const SVR: u64 = 0xf0;
const EOI: u64 = 0xb0;
const TPR: u64 = 0x80;
const LVT_TIMER: u64 = 0x320;
const INITIAL_COUNT: u64 = 0x380;
const DIVIDE: u64 = 0x3e0;
const LVT_MASKED: u32 = 1 << 16;

/// The vector the timer raises.
pub const TIMER_VECTOR: u8 = 0x40;

impl Lapic {
    /// Enables the APIC mapped at `base` (spurious vector 0xff, TPR 0) with
    /// the timer masked.
    ///
    /// # Safety
    ///
    /// 1. `base` is the kernel address of this CPU's local APIC page,
    ///    mapped uncached, for as long as the value lives.
    pub unsafe fn new(base: u64) -> Lapic {
        let lapic = Lapic { base };
        lapic.write(LVT_TIMER, LVT_MASKED);
        lapic.write(TPR, 0);
        lapic.write(SVR, 0x1ff);
        lapic
    }

    fn write(&self, reg: u64, value: u32) {
        // SAFETY: `new`'s obligation 1: the register page is mapped and
        // device memory, written with 32-bit volatile stores.
        unsafe { ((self.base + reg) as *mut u32).write_volatile(value) };
    }

    /// Fires [`TIMER_VECTOR`] once after `ticks` bus clocks.
    pub fn one_shot(&self, ticks: u32) {
        self.write(DIVIDE, 0b1011); // divide by 1
        self.write(LVT_TIMER, u32::from(TIMER_VECTOR));
        self.write(INITIAL_COUNT, ticks);
    }

    /// Masks the timer.
    pub fn stop(&self) {
        self.write(INITIAL_COUNT, 0);
        self.write(LVT_TIMER, LVT_MASKED);
    }

    /// Ends the interrupt being serviced.
    pub fn eoi(&self) {
        self.write(EOI, 0);
    }
}

//! The IDT side of the x86_64 trap path: gate encoding, the handler
//! address of each of the crate's 256 stubs, and the hook for traps taken
//! in ring 0.
//!
//! Every stub pushes a dummy error code where the CPU pushes none, then its
//! vector, and jumps to one common path:
//!
//! - a trap from ring 3 (CS RPL 3) goes back into the running
//!   [`run_user`](super::entry::run_user), which returns it as a
//!   [`Trap`](crate::trap::Trap): exceptions (0–31) as `Exception` /
//!   `PageFault`, vectors 32–255 as `Interrupt(vector)`;
//! - a trap from ring 0, and NMI (2), `#DF` (8) and `#MC` (18) from either
//!   ring, build a [`KernelFrame`] on the current stack and call the
//!   handler registered with [`set_kernel_trap_handler`], then `iretq`. For
//!   those three vectors GS may hold the user's base: the handler must not
//!   trust GS-relative per-CPU data without checking `IA32_GS_BASE`.
//!
//! The host owns the IDT memory and `lidt`; [`fill_idt`] writes the gates.

use core::sync::atomic::{AtomicUsize, Ordering};

#[cfg(any(target_arch = "x86_64", doc))]
use super::syscall::KERNEL_CS;

/// The function the stubs call for traps they do not return to `run_user`.
pub type KernelTrapHandler = extern "C" fn(&mut KernelFrame);

/// The registered [`KernelTrapHandler`], as an address (0: none; the stub
/// then halts the CPU).
pub(super) static KERNEL_TRAP_HANDLER: AtomicUsize = AtomicUsize::new(0);

/// Registers the handler for traps taken in ring 0 (and for NMI, `#DF`,
/// `#MC`).
///
/// # Safety
///
/// 1. When the handler returns, the frame's `rip`, `cs`, `rflags`, `rsp` and
///    `ss` describe a context `iretq` can return to (usually they are left
///    as they are, or `rip` moved to a fixup).
/// 2. The handler copes with running on whatever stack the trap used
///    (the interrupted kernel stack, or an IST stack) with interrupts
///    disabled.
pub unsafe fn set_kernel_trap_handler(handler: KernelTrapHandler) {
    KERNEL_TRAP_HANDLER.store(handler as usize, Ordering::Release);
}

/// The registers of a trap taken in ring 0, as the stub saved them (lowest
/// address first). Changes to it are restored by `iretq`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct KernelFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    /// The vector.
    pub vector: u64,
    /// The CPU's error code, or 0 for vectors that push none.
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// One 16-byte IDT gate descriptor.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdtGate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

/// A present 64-bit interrupt gate (interrupts disabled on entry).
const INTERRUPT_GATE: u8 = 0x8e;

impl IdtGate {
    /// A not-present gate.
    pub const fn missing() -> IdtGate {
        IdtGate {
            offset_low: 0,
            selector: 0,
            ist: 0,
            type_attr: 0,
            offset_mid: 0,
            offset_high: 0,
            reserved: 0,
        }
    }

    /// A present interrupt gate to `handler` in `selector`, reachable by
    /// `int n` from privilege `dpl`, switching to IST stack `ist` (0: none,
    /// 1..=7).
    pub const fn interrupt(handler: u64, selector: u16, dpl: u8, ist: u8) -> IdtGate {
        IdtGate {
            offset_low: handler as u16,
            selector,
            ist: ist & 7,
            type_attr: INTERRUPT_GATE | ((dpl & 3) << 5),
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }

    /// The handler address the gate points at.
    pub const fn handler(&self) -> u64 {
        self.offset_low as u64 | (self.offset_mid as u64) << 16 | (self.offset_high as u64) << 32
    }

    /// The IST index (0 = none).
    pub const fn ist(&self) -> u8 {
        self.ist
    }

    /// The descriptor privilege level.
    pub const fn dpl(&self) -> u8 {
        (self.type_attr >> 5) & 3
    }

    /// Whether the gate is present.
    pub const fn is_present(&self) -> bool {
        self.type_attr & 0x80 != 0
    }
}

/// The address of the crate's stub for `vector`.
///
/// Exists only when compiling for x86_64 (`cfg(target_arch = "x86_64")`; documented everywhere).
#[cfg(any(target_arch = "x86_64", doc))]
pub fn trap_stub_addr(vector: u8) -> u64 {
    super::entry_asm::trap_stubs as *const () as u64
        + u64::from(vector) * super::entry_asm::STUB_SIZE
}

/// Fills all 256 gates with the crate's stubs, in [`KERNEL_CS`].
///
/// `ist(vector)` picks each gate's IST index (0 for none); give NMI (2),
/// `#DF` (8) and `#MC` (18) their own stacks. `#BP` (3) is reachable with
/// `int3` from ring 3 (DPL 3), as in Zircon; every other gate has DPL 0, so
/// `int n` from ring 3 raises `#GP` instead.
///
/// Exists only when compiling for x86_64 (`cfg(target_arch = "x86_64")`;
/// documented everywhere).
#[cfg(any(target_arch = "x86_64", doc))]
pub fn fill_idt(idt: &mut [IdtGate; 256], ist: impl Fn(u8) -> u8) {
    for (vector, gate) in (0..=255u8).zip(idt.iter_mut()) {
        let dpl = if vector == 3 { 3 } else { 0 };
        *gate = IdtGate::interrupt(trap_stub_addr(vector), KERNEL_CS, dpl, ist(vector));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn gate_encoding() {
        let g = IdtGate::interrupt(0xffff_ffff_8012_3456, 0x08, 0, 1);
        assert_eq!(size_of::<IdtGate>(), 16);
        assert_eq!(g.handler(), 0xffff_ffff_8012_3456);
        assert_eq!(g.ist(), 1);
        assert_eq!(g.dpl(), 0);
        assert!(g.is_present());
        // SAFETY: IdtGate is 16 bytes of plain integers without padding.
        let bytes: [u8; 16] = unsafe { core::mem::transmute(g) };
        assert_eq!(
            bytes,
            [
                0x56, 0x34, 0x08, 0x00, 0x01, 0x8e, 0x12, 0x80, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0
            ]
        );
        let user = IdtGate::interrupt(0x1000, 0x08, 3, 0);
        assert_eq!(user.dpl(), 3);
        assert_eq!(user.type_attr, 0xee);
        assert!(!IdtGate::missing().is_present());
    }

    #[test]
    fn kernel_frame_layout() {
        assert_eq!(offset_of!(KernelFrame, r15), 0);
        assert_eq!(offset_of!(KernelFrame, rax), 14 * 8);
        assert_eq!(offset_of!(KernelFrame, vector), 15 * 8);
        assert_eq!(offset_of!(KernelFrame, rip), 17 * 8);
        assert_eq!(offset_of!(KernelFrame, ss), 21 * 8);
    }

    /// The stubs really are 16 bytes apart and push what the table says:
    /// read their machine code (this host is x86_64 too).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn stubs_push_dummy_error_code_and_vector() {
        const WITH_ERROR_CODE: [u8; 10] = [8, 10, 11, 12, 13, 14, 17, 21, 29, 30];
        for v in 0..=255u8 {
            let addr = trap_stub_addr(v) as *const u8;
            // SAFETY: the stub is at least 7 bytes of code in .text,
            // readable as data in this process.
            let code = unsafe { core::slice::from_raw_parts(addr, 7) };
            let mut at = 0;
            if !WITH_ERROR_CODE.contains(&v) {
                assert_eq!(&code[..2], &[0x6a, 0x00], "vector {v}: push 0");
                at = 2;
            }
            if v < 0x80 {
                assert_eq!(&code[at..at + 2], &[0x6a, v], "vector {v}: push imm8");
            } else {
                assert_eq!(
                    &code[at..at + 5],
                    &[0x68, v, 0, 0, 0],
                    "vector {v}: push imm32"
                );
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn fill_idt_points_every_gate_at_its_stub() {
        let mut idt = [IdtGate::missing(); 256];
        fill_idt(&mut idt, |v| if v == 8 { 1 } else { 0 });
        for (v, g) in idt.iter().enumerate() {
            assert_eq!(g.handler(), trap_stub_addr(v as u8));
            assert_eq!(g.selector, KERNEL_CS);
            assert_eq!(g.dpl(), if v == 3 { 3 } else { 0 });
            assert_eq!(g.ist(), if v == 8 { 1 } else { 0 });
        }
    }
}

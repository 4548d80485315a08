//! The aarch64 trap path: [`run_user`] drops to EL0 and comes back with a
//! [`Trap`] at the next exception from EL0.
//!
//! # How it works
//!
//! `run_user` saves the kernel's callee-saved registers (`x18`–`x30`,
//! `d8`–`d15`, FPCR) and DAIF in a frame on the current `SP_EL1` stack,
//! masks DAIF, loads `SP_EL0`, `ELR_EL1`, `SPSR_EL1`, `TPIDR_EL0` and
//! `x0`–`x30` from the [`UserContext`] and `eret`s. An exception from EL0
//! is taken on `SP_EL1`, which `eret` left pointing at that very frame: the
//! lower-EL vectors store every user register back into the context (whose
//! address the frame holds), record the exception kind, ESR and FAR,
//! restore DAIF and the saved registers and return from `run_user` like an
//! ordinary call. No per-CPU state is needed.
//!
//! `SPSR_EL1` for the return is built from the context's NZCV only: M is
//! forced to EL0t (AArch64), DAIF to all-unmasked (so the host's
//! interrupts can preempt EL0), and every other bit (IL, SS, PAN, ...) to
//! zero.
//!
//! Classification ([`classify`]): EC 0x15 (`svc` from AArch64) →
//! [`Trap::Syscall`] (the saved `pc` is already the instruction after the
//! `svc`); EC 0x20 / 0x24 (instruction / data abort from EL0) with a
//! translation, access-flag, permission or address-size fault status and a
//! valid FAR → [`Trap::PageFault`] at FAR, with [`Access::Execute`] for an
//! instruction abort and WnR deciding `Write` / `Read` for a data abort
//! (cache maintenance counts as a read); IRQ → `Interrupt(0)`, FIQ →
//! `Interrupt(1)`; everything else (including alignment faults, external
//! aborts and SError) → [`Trap::Exception`] with ESR and, where the
//! architecture defines it, FAR (else 0).
//!
//! # What the host must set up (once per CPU, before the first `run_user`)
//!
//! 1. **VBAR_EL1** = [`vector_table_addr`] (2 KiB aligned). The table's
//!    current-EL entries hand a [`KernelFrame`] to the handler registered
//!    with [`set_kernel_trap_handler`]; the lower-EL (AArch64) entries belong
//!    to `run_user`.
//! 2. **Stacks**: the kernel runs at EL1 with `SPSel = 1`, and `run_user`
//!    is called on that `SP_EL1` stack; traps from EL0 land on it, just below
//!    the `run_user` frame. `SP_EL0` belongs to user space.
//! 3. **Translation**: EL0's pages in TTBR0 with AP bits that allow EL0;
//!    the kernel (code, stack, the context) mapped EL1-only, normally in
//!    TTBR1, so it is reachable whatever TTBR0 holds.
//! 4. **FP/SIMD**: `CPACR_EL1.FPEN` allows EL1 (when the kernel is built
//!    with FP, as `aarch64-unknown-none` is) and EL0 if user code uses it.
//!    FP registers carry across between user and kernel (restricted mode
//!    wants that); only the kernel's callee-saved `d8`–`d15` and FPCR are
//!    preserved around user code.
//! 5. **Interrupts**: an IRQ taken from EL0 comes back as
//!    `Trap::Interrupt(0)` with the interrupt still pending at the
//!    interrupt controller. If the host calls `run_user` with IRQs unmasked,
//!    it is taken again at EL1 (through the kernel handler) as soon as
//!    `run_user` restores DAIF.

#[cfg(any(target_arch = "aarch64", doc))]
use super::UserContext;
use super::{Aarch64, ExceptionInfo};
use crate::trap::{Access, PageFault, Trap};

/// `ESR_EL1.EC` for `svc` from AArch64.
pub const EC_SVC64: u64 = 0x15;
/// `ESR_EL1.EC` for `svc` from AArch32 (restricted AArch32 code).
pub const EC_SVC32: u64 = 0x11;
/// `ESR_EL1.EC` for an instruction abort from a lower EL.
pub const EC_IABT_LOWER: u64 = 0x20;
/// `ESR_EL1.EC` for a PC alignment fault.
pub const EC_PC_ALIGNMENT: u64 = 0x22;
/// `ESR_EL1.EC` for a data abort from a lower EL.
pub const EC_DABT_LOWER: u64 = 0x24;
/// `ESR_EL1.EC` for a watchpoint from a lower EL.
pub const EC_WATCHPOINT_LOWER: u64 = 0x34;

/// `ESR_EL1.IL`: the trapped instruction was 32 bits long.
pub const ESR_IL: u64 = 1 << 25;
/// Data abort ISS: the access was a write.
const ISS_WNR: u64 = 1 << 6;
/// Data abort ISS: cache maintenance (reports WnR = 1 for reads too).
const ISS_CM: u64 = 1 << 8;
/// Abort ISS: FAR is not valid.
const ISS_FNV: u64 = 1 << 10;

/// The SPSR bits AArch64 user code may own: NZCV and BTYPE. Mode bits,
/// DAIF, ALLINT, SS, IL and PAN are never the user's.
pub const USER_SPSR_MASK: u64 = super::restricted::CPSR_A64_USER as u64;
/// The SPSR bits AArch32 user code may own (with `M[4]` set): NZCV, T, GE,
/// Q, IT; `M[3:0]` stays User (0).
pub const USER_SPSR_MASK_A32: u64 = super::restricted::CPSR_A32_USER as u64;

// Lower-EL vector kinds the assembly reports. The raw-trap plumbing is
// used by the assembly path only on aarch64; elsewhere it is still compiled
// and unit-tested.
#[cfg(test)]
const KIND_SYNC: u64 = 0;
const KIND_IRQ: u64 = 1;
const KIND_FIQ: u64 = 2;
const KIND_SERROR: u64 = 3;

/// What the assembly reports about a trap.
#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct RawTrap {
    pub(super) kind: u64,
    pub(super) esr: u64,
    pub(super) far: u64,
}

#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
impl RawTrap {
    pub(super) fn decode(self) -> Trap<Aarch64> {
        match self.kind {
            KIND_IRQ => Trap::Interrupt(0),
            KIND_FIQ => Trap::Interrupt(1),
            KIND_SERROR => Trap::Exception(ExceptionInfo {
                esr: self.esr,
                far: 0,
            }),
            // KIND_SYNC.
            _ => classify(self.esr, self.far),
        }
    }
}

/// The `ESR_EL1.EC` field.
pub fn exception_class(esr: u64) -> u64 {
    (esr >> 26) & 0x3f
}

/// Classifies a synchronous exception from EL0 by its syndrome.
pub fn classify(esr: u64, far: u64) -> Trap<Aarch64> {
    let ec = exception_class(esr);
    // Fault status code: address size (0b0000xx), translation (0b0001xx),
    // access flag (0b0010xx) or permission (0b0011xx) fault are what a VM
    // resolves; the rest (external aborts, alignment, TLB conflict, ...)
    // are plain exceptions.
    let vm_fault = esr & 0x3f < 0x10 && esr & ISS_FNV == 0;
    match ec {
        EC_SVC64 | EC_SVC32 => Trap::Syscall,
        EC_IABT_LOWER | EC_DABT_LOWER if vm_fault => {
            let access = if ec == EC_IABT_LOWER {
                Access::Execute
            } else if esr & ISS_WNR != 0 && esr & ISS_CM == 0 {
                Access::Write
            } else {
                Access::Read
            };
            Trap::PageFault(PageFault {
                addr: far,
                access,
                info: ExceptionInfo { esr, far },
            })
        }
        _ => {
            let far_valid = match ec {
                EC_IABT_LOWER | EC_DABT_LOWER => esr & ISS_FNV == 0,
                EC_PC_ALIGNMENT | EC_WATCHPOINT_LOWER => true,
                _ => false,
            };
            Trap::Exception(ExceptionInfo {
                esr,
                far: if far_valid { far } else { 0 },
            })
        }
    }
}

/// The SPSR EL0 runs with: `spsr`'s user flags ([`USER_SPSR_MASK`], or
/// [`USER_SPSR_MASK_A32`] for AArch32), EL0t / usr, DAIF clear.
pub fn user_spsr(spsr: u64) -> u64 {
    if spsr & u64::from(super::restricted::CPSR_AARCH32) != 0 {
        spsr & USER_SPSR_MASK_A32
    } else {
        spsr & USER_SPSR_MASK
    }
}

/// Runs `ctx` at EL0 until the next exception from EL0, and says what it
/// was.
///
/// On return every user register (`x0`–`x30`, `sp` = `SP_EL0`, `pc` =
/// `ELR_EL1`, `spsr` = `SPSR_EL1`, `tpidr_el0`) is in `ctx`. For an `svc`,
/// `ctx.pc` is the instruction after it. Before entering, `ctx.spsr` is
/// normalised to [`user_spsr`] (written back into `ctx`). Any `pc`, `sp` or
/// `tpidr_el0` value is safe to enter: a bad one faults at EL0.
///
/// # Safety
///
/// 1. Every obligation in the [module docs](self) is met on this CPU:
///    VBAR_EL1 at [`vector_table_addr`], EL1 with `SPSel = 1`, FP access
///    as the kernel's build needs.
/// 2. Called at EL1 on a kernel stack with at least 512 bytes free below
///    the call, mapped EL1-only and kept mapped until `run_user` returns.
/// 3. `ctx` stays reachable at the same kernel address while user code runs
///    (it is a `&mut`, so it does).
/// 4. The EL0-accessible mappings hold nothing the kernel relies on that
///    EL0 must not change; `run_user` itself touches no user memory.
///
/// Exists only when compiling for aarch64 (`cfg(target_arch = "aarch64")`; documented everywhere).
#[cfg(any(target_arch = "aarch64", doc))]
pub unsafe fn run_user(ctx: &mut UserContext) -> Trap<Aarch64> {
    ctx.spsr = user_spsr(ctx.spsr);
    let mut raw = RawTrap::default();
    // SAFETY: obligations 1-4 are this function's own; `ctx` and `raw`
    // are valid for writes for the whole call; the SPSR is EL0t with
    // only user flags, so `eret` cannot reach EL1 (AArch32 EL0 only
    // for a state the crate validated against `Platform::aarch32`).
    unsafe { super::entry_asm::enter_user(ctx, &mut raw) };
    raw.decode()
}

/// The address to write to `VBAR_EL1` (2 KiB aligned).
///
/// Exists only when compiling for aarch64 (`cfg(target_arch = "aarch64")`; documented everywhere).
#[cfg(any(target_arch = "aarch64", doc))]
pub fn vector_table_addr() -> u64 {
    super::entry_asm::vectors as *const () as u64
}

/// The function the vector table calls for exceptions taken at EL1 (and
/// from AArch32 EL0, which `run_user` never enters).
pub type KernelTrapHandler = extern "C" fn(&mut KernelFrame);

/// The registered [`KernelTrapHandler`] (0: none; the vector then spins).
pub(super) static KERNEL_TRAP_HANDLER: core::sync::atomic::AtomicUsize =
    core::sync::atomic::AtomicUsize::new(0);

/// Registers the handler for exceptions taken at EL1.
///
/// # Safety
///
/// 1. When the handler returns, the frame's `elr` and `spsr` describe a
///    context `eret` can return to (normally left as they are, or `elr`
///    moved past a handled instruction).
/// 2. The handler copes with running on the interrupted `SP_EL1` stack with
///    DAIF masked.
pub unsafe fn set_kernel_trap_handler(handler: KernelTrapHandler) {
    KERNEL_TRAP_HANDLER.store(handler as usize, core::sync::atomic::Ordering::Release);
}

/// The registers of an exception taken at EL1, as the vector saved them.
/// Changes to `x`, `elr` and `spsr` are restored by `eret`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelFrame {
    /// `x0`..`x30`.
    pub x: [u64; 31],
    /// `ELR_EL1`.
    pub elr: u64,
    /// `SPSR_EL1`.
    pub spsr: u64,
    /// `ESR_EL1` (stale for IRQ, FIQ).
    pub esr: u64,
    /// `FAR_EL1` (meaningful for aborts only).
    pub far: u64,
    /// Which vector: `4 * group + type`, group 0 current EL with SP_EL0,
    /// 1 current EL with SP_ELx, 3 lower EL AArch32; type 0 sync, 1 IRQ,
    /// 2 FIQ, 3 SError.
    pub kind: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    const fn esr(ec: u64, iss: u64) -> u64 {
        (ec << 26) | ESR_IL | iss
    }

    #[test]
    fn svc_is_a_syscall() {
        assert_eq!(classify(esr(EC_SVC64, 0), 0), Trap::Syscall);
        assert_eq!(classify(esr(EC_SVC64, 0x1234), 0xdead), Trap::Syscall);
    }

    #[test]
    fn aborts_are_page_faults() {
        let far = 0x0100_4008;
        // Data abort, permission fault level 3, write.
        let e = esr(EC_DABT_LOWER, ISS_WNR | 0x0f);
        let Trap::PageFault(pf) = classify(e, far) else {
            panic!()
        };
        assert_eq!((pf.addr, pf.access), (far, Access::Write));
        assert_eq!(pf.info, ExceptionInfo { esr: e, far });
        // Translation fault level 2, read.
        let t = classify(esr(EC_DABT_LOWER, 0x06), far);
        assert!(matches!(
            t,
            Trap::PageFault(PageFault {
                access: Access::Read,
                ..
            })
        ));
        // Cache maintenance reports WnR but is a read.
        let t = classify(esr(EC_DABT_LOWER, ISS_CM | ISS_WNR | 0x07), far);
        assert!(matches!(
            t,
            Trap::PageFault(PageFault {
                access: Access::Read,
                ..
            })
        ));
        // Instruction abort, access flag fault: an execute.
        let t = classify(esr(EC_IABT_LOWER, 0x0b), far);
        assert!(matches!(
            t,
            Trap::PageFault(PageFault {
                access: Access::Execute,
                ..
            })
        ));
    }

    #[test]
    fn other_aborts_are_exceptions() {
        let far = 0x0100_4001;
        // Alignment fault.
        let e = esr(EC_DABT_LOWER, 0x21);
        assert_eq!(
            classify(e, far),
            Trap::Exception(ExceptionInfo { esr: e, far })
        );
        // Synchronous external abort.
        let e = esr(EC_DABT_LOWER, 0x10);
        assert!(matches!(classify(e, far), Trap::Exception(_)));
        // FAR not valid: no address to fault on.
        let e = esr(EC_DABT_LOWER, ISS_FNV | 0x07);
        assert_eq!(
            classify(e, far),
            Trap::Exception(ExceptionInfo { esr: e, far: 0 })
        );
    }

    #[test]
    fn undefined_instruction() {
        // udf #0: EC 0, IL set, FAR unknown (reported as 0).
        let e = ESR_IL;
        assert_eq!(
            classify(e, 0x1234),
            Trap::Exception(ExceptionInfo { esr: e, far: 0 })
        );
        assert_eq!(exception_class(e), 0);
        // PC alignment keeps FAR.
        let e = esr(EC_PC_ALIGNMENT, 0);
        assert_eq!(
            classify(e, 0x1002),
            Trap::Exception(ExceptionInfo {
                esr: e,
                far: 0x1002
            })
        );
    }

    #[test]
    fn kinds_decode() {
        let raw = |kind, esr, far| RawTrap { kind, esr, far };
        assert_eq!(raw(KIND_IRQ, 123, 4).decode(), Trap::Interrupt(0));
        assert_eq!(raw(KIND_FIQ, 123, 4).decode(), Trap::Interrupt(1));
        let serror = esr(0x2f, 0);
        assert_eq!(
            raw(KIND_SERROR, serror, 4).decode(),
            Trap::Exception(ExceptionInfo {
                esr: serror,
                far: 0
            })
        );
        assert_eq!(raw(KIND_SYNC, esr(EC_SVC64, 0), 0).decode(), Trap::Syscall);
    }

    #[test]
    fn spsr_keeps_only_user_flags() {
        // EL1h, DAIF masked, IL, SS, PAN, ALLINT: all dropped.
        let privileged = 0x3c5 | (1 << 20) | (1 << 21) | (1 << 22) | (1 << 13);
        assert_eq!(user_spsr(privileged), 0);
        assert_eq!(user_spsr(0xf000_0000 | 0x3c5), 0xf000_0000);
        assert_eq!(user_spsr(0xc00 | 0x3c5), 0xc00, "BTYPE is the user's");
        assert_eq!(user_spsr(!0x10), USER_SPSR_MASK);
        // AArch32: User mode (M = 0b10000), T, GE, Q, IT kept; A, I, F, E,
        // mode bits dropped.
        assert_eq!(user_spsr(u64::MAX), USER_SPSR_MASK_A32);
        assert_eq!(user_spsr(0x10 | 0x3ff), 0x10 | 0x20);
        assert_eq!(
            user_spsr(0x10 | (1 << 13)),
            0x10 | (1 << 13),
            "IT[5] in AArch32"
        );
    }

    #[test]
    fn aarch32_svc_is_a_syscall() {
        assert_eq!(classify(esr(EC_SVC32, 0), 0), Trap::Syscall);
    }

    #[test]
    fn layouts_the_assembly_relies_on() {
        use super::super::UserContext;
        assert_eq!(offset_of!(UserContext, x), 0);
        assert_eq!(offset_of!(UserContext, sp), 248);
        assert_eq!(offset_of!(UserContext, pc), 256);
        assert_eq!(offset_of!(UserContext, spsr), 264);
        assert_eq!(offset_of!(UserContext, tpidr_el0), 272);
        assert_eq!(offset_of!(UserContext, tpidrro_el0), 280);
        assert_eq!(size_of::<RawTrap>(), 24);
        assert_eq!(offset_of!(KernelFrame, elr), 248);
        assert_eq!(offset_of!(KernelFrame, kind), 280);
        assert_eq!(size_of::<KernelFrame>() % 16, 0);
    }
}

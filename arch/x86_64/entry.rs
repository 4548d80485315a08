//! The x86_64 trap path: [`run_user`] drops to ring 3 and comes back with a
//! [`Trap`] when the thread next enters the kernel.
//!
//! # How it works
//!
//! `run_user` pushes the kernel's callee-saved registers and RFLAGS on the
//! current (kernel) stack, records that stack pointer and the context
//! pointer in the CPU's [`PerCpu`] block (reached through GS), writes the
//! same stack pointer to `TSS.rsp0`, loads FS/GS base and every user
//! register from the [`UserContext`], and leaves with `sysretq` or `iretq`.
//! The next `syscall`, exception or interrupt from ring 3 lands in the
//! crate's entry code, which stores every user register back into the
//! context, puts the kernel stack back and returns from `run_user` as if
//! from an ordinary call. Apart from vectors the host gives an IST stack,
//! the kernel thread's stack is therefore the only kernel stack ring 3
//! ever traps onto, and nothing of the trap outlives `run_user`.
//!
//! Return path: `sysretq` only when it loses nothing — `rip` in the lower
//! canonical half, `rcx == rip` and `r11 == rflags` (exactly what a
//! `syscall` left there) — and `iretq` otherwise, which restores every
//! register. A non-canonical `rip` (or FS/GS base) never reaches either
//! instruction: `run_user` returns a synthetic `#GP` instead (see
//! [`run_user`]).
//!
//! # What the host must set up (once per CPU, before the first `run_user`)
//!
//! 1. **GDT** laid out as [`GDT_LAYOUT`](super::syscall::GDT_LAYOUT)
//!    describes: kernel code `0x08`, kernel data `0x10`, user data `0x18`,
//!    user code (64-bit) `0x20`, plus a TSS descriptor anywhere. The entry
//!    code pushes [`USER_CS`](super::syscall::USER_CS) /
//!    [`USER_SS`](super::syscall::USER_SS) for `iretq`, and `sysretq`
//!    derives the same selectors from `STAR`.
//! 2. **Syscall MSRs**: `EFER.SCE`, `STAR` = [`STAR`](super::syscall::STAR),
//!    `LSTAR` = [`syscall_entry_addr`](super::syscall::syscall_entry_addr),
//!    `SFMASK` = [`SFMASK`](super::syscall::SFMASK) (at least IF, TF, DF,
//!    AC, NT); [`init_syscall_msrs`](super::syscall::init_syscall_msrs) does
//!    all four.
//! 3. **IDT** filled by [`fill_idt`](super::idt::fill_idt), and a handler
//!    for traps taken in ring 0 registered with
//!    [`set_kernel_trap_handler`](super::idt::set_kernel_trap_handler). A
//!    host may point a vector at its own handler only if that vector can
//!    never fire while ring 3 runs: its handler could not get back into
//!    `run_user`.
//!    NMI (2), `#DF` (8) and `#MC` (18) should use IST stacks: they can
//!    arrive in the few instructions where `rsp` still holds the user's
//!    value (right after `syscall`, right before `sysretq`).
//! 4. **TSS**: loaded with `ltr`; its `rsp0` field's address is given to
//!    [`PerCpu::init`]. `run_user` writes its own stack pointer there on
//!    every entry, so the CPU pushes a ring-3 exception frame just below the
//!    `run_user` frame, on the stack that called it.
//! 5. **GS**: `IA32_GS_BASE` points at this CPU's [`PerCpu`] (or a block
//!    that starts with one) whenever the kernel runs;
//!    [`install_per_cpu`] writes it. `IA32_KERNEL_GS_BASE` belongs to the
//!    crate: it holds the user's GS base while ring 3 runs.
//! 6. **FS/GS base access**: if the host set `CR4.FSGSBASE`, say so in
//!    [`PerCpu::init`] and the entry code uses the `rd`/`wr` `fs`/`gs`
//!    `base` instructions; otherwise it uses the `IA32_FS_BASE` and
//!    `IA32_KERNEL_GS_BASE` MSRs.
//! 7. **Paging**: `EFER.NXE` (or `CR4.SMEP`) set, so that a page fault's
//!    error code tells an instruction fetch from a read
//!    ([`Access::Execute`]). User pages mapped with the U/S bit; the kernel's
//!    code, stack, [`PerCpu`] and the context reachable in ring 0 whatever
//!    the user's mappings are.
//!
//! # What it does not do
//!
//! FP/SSE state (including MXCSR and the x87 control word) is not switched:
//! it carries across, as restricted mode wants. A host whose kernel code
//! uses SSE must save and restore it around `run_user` itself. Interrupts
//! that arrive in ring 3 are returned as [`Trap::Interrupt`] *unacknowledged*:
//! the host sends the EOI.

use core::sync::atomic::{AtomicU64, Ordering};

use super::{ExceptionInfo, USER_ADDRESS_LIMIT, UserContext, X86_64};
use crate::trap::{Access, PageFault, Trap};

/// `#GP`: what [`run_user`] reports for a context it refuses to enter.
pub const VECTOR_GP: u64 = 13;
/// `#PF`.
pub const VECTOR_PF: u64 = 14;
/// The first vector that is an interrupt rather than an exception.
pub const FIRST_INTERRUPT_VECTOR: u64 = 32;

/// The RFLAGS bits user code may set: Zircon's `X86_FLAGS_USER` (CF, PF,
/// AF, ZF, SF, TF, DF, OF, NT, AC, ID), shared with restricted mode.
pub const USER_RFLAGS_MASK: u64 = super::restricted::X86_FLAGS_USER;
/// RFLAGS.IF: always set in ring 3.
const RFLAGS_IF: u64 = super::restricted::X86_FLAGS_IF;
/// RFLAGS bit 1 reads as one.
const RFLAGS_FIXED: u64 = super::restricted::X86_FLAGS_RESERVED_ONES;

/// Page-fault error code: the access was a write.
const PF_WRITE: u64 = 1 << 1;
/// Page-fault error code: a reserved bit was set in a paging entry.
const PF_RSVD: u64 = 1 << 3;
/// Page-fault error code: the access was an instruction fetch.
const PF_FETCH: u64 = 1 << 4;

// The raw-trap plumbing below is used by the assembly path only on x86_64;
// elsewhere it is still compiled and unit-tested.
/// The `kind` the syscall entry reports (IDT entries report their vector,
/// 0..=255).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(super) const KIND_SYSCALL: u64 = 256;

/// How the entry code reaches FS and GS base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseAccess {
    /// `rdfsbase`/`wrfsbase`/`rdgsbase`/`wrgsbase` (the host set
    /// `CR4.FSGSBASE`).
    Instructions,
    /// `rdmsr`/`wrmsr` on `IA32_FS_BASE` and `IA32_KERNEL_GS_BASE`.
    Msr,
}

/// The per-CPU block the entry code reaches through GS while it has no
/// register to spare.
///
/// One per CPU, alive for as long as the CPU may run user code (a `static`
/// is the usual home). The host installs it with [`install_per_cpu`]; it
/// may also be the first field of the host's own `#[repr(C)]` per-CPU
/// block. The fields are atomics only because the entry assembly writes
/// them behind Rust's back.
#[repr(C)]
#[derive(Debug, Default)]
pub struct PerCpu {
    /// `rsp` of the running `run_user` frame (also written to TSS.rsp0).
    pub(super) kernel_rsp: AtomicU64,
    /// The `*mut UserContext` the running `run_user` fills on a trap.
    pub(super) user_ctx: AtomicU64,
    /// The user's `rsp` between `syscall` and its store into the context.
    pub(super) scratch: AtomicU64,
    /// Address of the TSS's `rsp0` field.
    pub(super) tss_rsp0: AtomicU64,
    /// Bit 0: use the FSGSBASE instructions.
    pub(super) features: AtomicU64,
}

/// `PerCpu::features` bit: FS/GS base through the FSGSBASE instructions.
pub(super) const FEATURE_FSGSBASE: u64 = 1;

impl PerCpu {
    /// An empty block; [`init`](PerCpu::init) must run before it is used.
    pub const fn new() -> PerCpu {
        PerCpu {
            kernel_rsp: AtomicU64::new(0),
            user_ctx: AtomicU64::new(0),
            scratch: AtomicU64::new(0),
            tss_rsp0: AtomicU64::new(0),
            features: AtomicU64::new(0),
        }
    }

    /// Tells the entry code where this CPU's `TSS.rsp0` is and how to reach
    /// FS/GS base.
    ///
    /// # Safety
    ///
    /// 1. `tss_rsp0` is valid for 8-byte writes (it may be unaligned, as it
    ///    is in the hardware TSS) for as long as `run_user` may run on this
    ///    CPU, and is the `rsp0` of the TSS loaded on this CPU.
    /// 2. With [`BaseAccess::Instructions`], `CR4.FSGSBASE` is set on this
    ///    CPU.
    pub unsafe fn init(&self, tss_rsp0: *mut u8, bases: BaseAccess) {
        self.tss_rsp0
            .store(tss_rsp0 as usize as u64, Ordering::Relaxed);
        let features = match bases {
            BaseAccess::Instructions => FEATURE_FSGSBASE,
            BaseAccess::Msr => 0,
        };
        self.features.store(features, Ordering::Relaxed);
    }

    /// How this block was told to reach FS/GS base.
    pub fn base_access(&self) -> BaseAccess {
        if self.features.load(Ordering::Relaxed) & FEATURE_FSGSBASE != 0 {
            BaseAccess::Instructions
        } else {
            BaseAccess::Msr
        }
    }
}

/// What the assembly reports about a trap: the vector (or
/// [`KIND_SYSCALL`]), the error code and, for `#PF`, CR2.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(super) struct RawTrap {
    pub(super) kind: u64,
    pub(super) error_code: u64,
    pub(super) cr2: u64,
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
impl RawTrap {
    /// Turns the assembly's report into a [`Trap`].
    pub(super) fn decode(self) -> Trap<X86_64> {
        let info = ExceptionInfo {
            vector: self.kind,
            error_code: self.error_code,
            cr2: 0,
        };
        match self.kind {
            KIND_SYSCALL => Trap::Syscall,
            // A reserved-bit fault means a corrupt page table, not
            // something the VM layer can resolve.
            VECTOR_PF if self.error_code & PF_RSVD == 0 => {
                let access = if self.error_code & PF_FETCH != 0 {
                    Access::Execute
                } else if self.error_code & PF_WRITE != 0 {
                    Access::Write
                } else {
                    Access::Read
                };
                Trap::PageFault(PageFault {
                    addr: self.cr2,
                    access,
                    info: ExceptionInfo {
                        cr2: self.cr2,
                        ..info
                    },
                })
            }
            VECTOR_PF => Trap::Exception(ExceptionInfo {
                cr2: self.cr2,
                ..info
            }),
            v if v < FIRST_INTERRUPT_VECTOR => Trap::Exception(info),
            v => Trap::Interrupt(v),
        }
    }
}

/// Which instruction takes the thread back to ring 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(super) enum ReturnPath {
    /// `sysretq`: loads `rip` from `rcx` and RFLAGS from `r11`.
    Sysret = 0,
    /// `iretq`: restores every register.
    Iret = 1,
}

/// Whether `addr` is canonical with 48-bit virtual addresses.
pub fn is_canonical(addr: u64) -> bool {
    (((addr << 16) as i64) >> 16) as u64 == addr
}

/// The RFLAGS ring 3 runs with: the user-settable bits of `rflags`, plus IF
/// and the fixed bit 1. IOPL, VM, RF, VIF, VIP never reach ring 3.
pub fn user_rflags(rflags: u64) -> u64 {
    (rflags & USER_RFLAGS_MASK) | RFLAGS_IF | RFLAGS_FIXED
}

/// `sysretq` only when it restores exactly the context: `rip` canonical
/// and in the user half (a non-canonical `rcx` makes `sysretq` fault in
/// ring 0 with the user's `rsp` on Intel CPUs), and `rcx`/`r11` already
/// equal to what `sysretq` would put in them. `ctx.rflags` is already
/// normalised.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(super) fn return_path(ctx: &UserContext) -> ReturnPath {
    if ctx.rip < USER_ADDRESS_LIMIT && ctx.rcx == ctx.rip && ctx.r11 == ctx.rflags {
        ReturnPath::Sysret
    } else {
        ReturnPath::Iret
    }
}

/// The trap `run_user` reports without entering ring 3 when the context
/// cannot be loaded: a non-canonical `rip`, FS base or GS base would fault
/// in ring 0 (in `iretq` or `wrmsr`), so it is reported as the `#GP` ring 3
/// would have taken had it jumped there itself.
#[cfg_attr(
    not(target_arch = "x86_64"),
    allow(dead_code, reason = "its caller, run_user, is x86_64-only")
)]
pub(super) fn refuse(ctx: &UserContext) -> Option<Trap<X86_64>> {
    if is_canonical(ctx.rip) && is_canonical(ctx.fs_base) && is_canonical(ctx.gs_base) {
        None
    } else {
        Some(Trap::Exception(ExceptionInfo {
            vector: VECTOR_GP,
            error_code: 0,
            cr2: 0,
        }))
    }
}

/// Runs `ctx` in ring 3 until the next trap, and says what it was.
///
/// On return every user register (the sixteen GPRs, `rip`, RFLAGS, FS and
/// GS base) is in `ctx`; for a `syscall`, `ctx.rip` is the instruction after
/// it, and `ctx.rcx`/`ctx.r11` hold what the CPU put there (the return
/// `rip` and RFLAGS) — the restricted-mode layer zeroes them where the spec
/// asks. The kernel's own GS base and RFLAGS (IF, DF, AC) are what they
/// were at the call.
///
/// Before entering, `ctx.rflags` is normalised to [`user_rflags`] (the
/// value is written back into `ctx`). If `ctx.rip`, `ctx.fs_base` or
/// `ctx.gs_base` is not canonical, nothing runs and the result is
/// `Trap::Exception` with vector 13 (`#GP`), error code 0.
///
/// Interrupts are disabled from the switch until the return; ring 3 always
/// runs with IF set.
///
/// # Safety
///
/// 1. Every obligation in the [module docs](self) is met on this CPU:
///    GDT layout, syscall MSRs, IDT from [`fill_idt`](super::idt::fill_idt),
///    a loaded TSS whose `rsp0` address was given to [`PerCpu::init`], and
///    GS base pointing at that [`PerCpu`].
/// 2. Called in ring 0 on a kernel stack with at least 512 bytes free below
///    the call, which stays mapped until `run_user` returns.
/// 3. `ctx` stays reachable at the same kernel address while user code runs
///    (it is a `&mut`, so it does).
/// 4. The user mappings of the active address space hold nothing the kernel
///    relies on that ring 3 must not change; `run_user` itself touches no
///    user memory.
///
/// Exists only when compiling for x86_64 (`cfg(target_arch = "x86_64")`; documented everywhere).
#[cfg(any(target_arch = "x86_64", doc))]
pub unsafe fn run_user(ctx: &mut UserContext) -> Trap<X86_64> {
    ctx.rflags = user_rflags(ctx.rflags);
    if let Some(trap) = refuse(ctx) {
        return trap;
    }
    let path = return_path(ctx);
    let mut raw = RawTrap::default();
    // SAFETY: obligations 1-4 are this function's own, which the caller
    // discharges; `ctx` and `raw` are valid for writes for the whole
    // call; `ctx.rip`, FS and GS base are canonical (checked just
    // above) so neither `iretq` nor the base writes can fault in ring 0,
    // and `path` picks `sysretq` only for a canonical user `rip` with
    // `rcx`/`r11` equal to `rip`/RFLAGS.
    unsafe { super::entry_asm::enter_user(ctx, &mut raw, path) };
    raw.decode()
}

/// Points `IA32_GS_BASE` at `per_cpu` and clears `IA32_KERNEL_GS_BASE`.
///
/// # Safety
///
/// 1. Called in ring 0 with interrupts disabled, before the first
///    `run_user` on this CPU, and not while anything on this CPU uses GS.
/// 2. `per_cpu` is this CPU's block, and [`PerCpu::init`] has run on it.
///
/// Exists only when compiling for x86_64 (`cfg(target_arch = "x86_64")`; documented everywhere).
#[cfg(any(target_arch = "x86_64", doc))]
pub unsafe fn install_per_cpu(per_cpu: &'static PerCpu) {
    use ::x86_64::registers::model_specific::{GsBase, KernelGsBase};
    let addr = ::x86_64::VirtAddr::new(per_cpu as *const PerCpu as u64);
    GsBase::write(addr);
    KernelGsBase::write(::x86_64::VirtAddr::zero());
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    fn raw(kind: u64, error_code: u64, cr2: u64) -> RawTrap {
        RawTrap {
            kind,
            error_code,
            cr2,
        }
    }

    #[test]
    fn syscall_decodes() {
        assert_eq!(raw(KIND_SYSCALL, 0, 0).decode(), Trap::Syscall);
    }

    #[test]
    fn page_fault_access_from_error_code() {
        let cases = [
            (0b0_0100, Access::Read),
            (0b0_0111, Access::Write),
            (0b1_0101, Access::Execute),
            (0b1_0100, Access::Execute),
        ];
        for (err, access) in cases {
            let t = raw(14, err, 0x1234_5000).decode();
            let Trap::PageFault(pf) = t else {
                panic!("{err:#b} gave {t:?}")
            };
            assert_eq!(pf.addr, 0x1234_5000);
            assert_eq!(pf.access, access);
            assert_eq!(pf.info.vector, 14);
            assert_eq!(pf.info.error_code, err);
            assert_eq!(pf.info.cr2, 0x1234_5000);
        }
    }

    #[test]
    fn reserved_bit_fault_is_an_exception() {
        let t = raw(14, 0b0_1101, 0x1000).decode();
        assert_eq!(
            t,
            Trap::Exception(ExceptionInfo {
                vector: 14,
                error_code: 0b0_1101,
                cr2: 0x1000
            })
        );
    }

    #[test]
    fn exceptions_and_interrupts() {
        assert_eq!(
            raw(6, 0, 0).decode(),
            Trap::Exception(ExceptionInfo {
                vector: 6,
                error_code: 0,
                cr2: 0
            })
        );
        assert_eq!(
            raw(13, 0x18, 0).decode(),
            Trap::Exception(ExceptionInfo {
                vector: 13,
                error_code: 0x18,
                cr2: 0
            })
        );
        assert_eq!(raw(31, 0, 0).decode().clone(), raw(31, 0, 0).decode());
        assert!(matches!(raw(31, 0, 0).decode(), Trap::Exception(_)));
        assert_eq!(raw(32, 0, 0).decode(), Trap::Interrupt(32));
        assert_eq!(raw(255, 0, 0).decode(), Trap::Interrupt(255));
    }

    #[test]
    fn canonical() {
        assert!(is_canonical(0));
        assert!(is_canonical(0x0000_7fff_ffff_ffff));
        assert!(!is_canonical(0x0000_8000_0000_0000));
        assert!(!is_canonical(0xffff_7fff_ffff_ffff));
        assert!(is_canonical(0xffff_8000_0000_0000));
        assert!(is_canonical(u64::MAX));
    }

    #[test]
    fn rflags_never_carry_privileged_bits() {
        // IOPL 3, VM, RF, VIF, VIP and reserved bits are dropped; IF is set.
        let hostile = 0x3000 | (1 << 17) | (1 << 16) | (1 << 19) | (1 << 20) | (1 << 30);
        assert_eq!(user_rflags(hostile), 0x202);
        assert_eq!(user_rflags(0), 0x202);
        assert_eq!(user_rflags(u64::MAX), USER_RFLAGS_MASK | 0x202);
        // The user-settable bits pass through.
        assert_eq!(user_rflags(0x0000_0cd5), 0x0000_0ed7);
    }

    fn ctx_at(rip: u64) -> UserContext {
        let rflags = user_rflags(0);
        UserContext {
            rip,
            rcx: rip,
            rflags,
            r11: rflags,
            ..UserContext::default()
        }
    }

    #[test]
    fn sysret_only_when_it_loses_nothing() {
        assert_eq!(return_path(&ctx_at(0x100_0000)), ReturnPath::Sysret);
        assert_eq!(return_path(&ctx_at(0x7fff_ffff_fff0)), ReturnPath::Sysret);
        // Upper half or non-canonical: iretq (refuse() catches the latter).
        assert_eq!(return_path(&ctx_at(1 << 47)), ReturnPath::Iret);
        assert_eq!(
            return_path(&ctx_at(0xffff_8000_0000_0000)),
            ReturnPath::Iret
        );
        let mut c = ctx_at(0x100_0000);
        c.rcx = 0;
        assert_eq!(return_path(&c), ReturnPath::Iret);
        let mut c = ctx_at(0x100_0000);
        c.r11 ^= 1;
        assert_eq!(return_path(&c), ReturnPath::Iret);
    }

    #[test]
    fn non_canonical_contexts_are_refused() {
        let gp = Some(Trap::Exception(ExceptionInfo {
            vector: 13,
            error_code: 0,
            cr2: 0,
        }));
        assert_eq!(refuse(&ctx_at(0x100_0000)), None);
        assert_eq!(refuse(&ctx_at(0xffff_8000_0000_0000)), None);
        assert_eq!(refuse(&ctx_at(0x8000_0000_0000)), gp);
        let mut c = ctx_at(0x100_0000);
        c.fs_base = 0x8000_0000_0000;
        assert_eq!(refuse(&c), gp);
        let mut c = ctx_at(0x100_0000);
        c.gs_base = 0x0001_0000_0000_0000;
        assert_eq!(refuse(&c), gp);
    }

    #[test]
    fn layouts_the_assembly_relies_on() {
        assert_eq!(offset_of!(UserContext, rax), 0);
        assert_eq!(offset_of!(UserContext, r15), 120);
        assert_eq!(offset_of!(UserContext, rip), 128);
        assert_eq!(offset_of!(UserContext, gs_base), 152);
        assert_eq!(offset_of!(PerCpu, kernel_rsp), 0);
        assert_eq!(offset_of!(PerCpu, features), 32);
        assert_eq!(core::mem::size_of::<RawTrap>(), 24);
    }

    #[test]
    fn per_cpu_init_records_features() {
        let pc = PerCpu::new();
        let mut rsp0 = [0u8; 12];
        // SAFETY: the test never runs user code with this block.
        unsafe { pc.init(rsp0.as_mut_ptr().wrapping_add(4), BaseAccess::Instructions) };
        assert_eq!(pc.base_access(), BaseAccess::Instructions);
        // SAFETY: as above.
        unsafe { pc.init(rsp0.as_mut_ptr(), BaseAccess::Msr) };
        assert_eq!(pc.base_access(), BaseAccess::Msr);
    }
}

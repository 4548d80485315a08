//! x86_64 TLB invalidation: the instructions a host's
//! [`Platform::flush_tlb`](crate::Platform::flush_tlb) runs on each CPU.
//!
//! x86 has no broadcast invalidation (short of AMD's `invlpgb`), so a host
//! flushes locally with `LocalTlb::flush_local` and sends an IPI to every
//! other CPU that may hold translations of the batch's PCID, whose handler
//! calls `LocalTlb::flush_local` too.
//!
//! Which instruction:
//! - `invpcid` (if CPUID reports it and `CR4.PCIDE` is set): single-address
//!   (type 0) per page, single-context (type 1) for a whole address space;
//!   works whichever PCID is loaded.
//! - otherwise `invlpg` per page, or a CR3 reload for a whole address space;
//!   both act on the PCID loaded in CR3 only. With PCIDs on and another
//!   PCID loaded, nothing can be done from here: `LocalFlush::NotLoaded`
//!   tells the host to load that PCID later with a flushing CR3 write
//!   (bit 63 clear).
//!
//! `invlpg` and `invpcid` type 0 also drop every paging-structure cache
//! entry of the PCID, so freed page tables need nothing more.
//!
//! Everything here executes privileged instructions and exists only when
//! compiled for x86_64 outside `cfg(test)`. Invalidating TLB entries can
//! never make memory accesses less safe; the `unsafe` marks the privilege
//! and CPU-feature requirements, whose violation raises `#GP`/`#UD`.

#[cfg(all(target_arch = "x86_64", not(test)))]
use ::x86_64::VirtAddr;
#[cfg(all(target_arch = "x86_64", not(test)))]
use ::x86_64::instructions::tlb::{self as insn, InvPcidCommand, Pcid};
#[cfg(all(target_arch = "x86_64", not(test)))]
use ::x86_64::registers::control::{Cr3, Cr4, Cr4Flags};

#[cfg(all(target_arch = "x86_64", not(test)))]
use crate::mmu::{Asid, TlbBatch, TlbScope};

/// Whether the CPU implements `invpcid` (`CPUID.(EAX=7,ECX=0):EBX[10]`).
/// Usable at any privilege level.
#[cfg(all(target_arch = "x86_64", not(test)))]
pub fn invpcid_supported() -> bool {
    let leaf0 = core::arch::x86_64::__cpuid(0);
    leaf0.eax >= 7 && (core::arch::x86_64::__cpuid_count(7, 0).ebx >> 10) & 1 == 1
}

/// Invalidates the translation of `va` in the current PCID (and every
/// paging-structure cache entry of that PCID) on this CPU.
///
/// # Safety
///
/// 1. Runs at CPL 0.
#[cfg(all(target_arch = "x86_64", not(test)))]
pub unsafe fn invlpg(va: u64) {
    insn::flush(VirtAddr::new_truncate(va));
}

/// Invalidates the translation of `va` tagged with `pcid` on this CPU
/// (INVPCID type 0). A `pcid` of 4096 or more invalidates every non-global
/// translation instead.
///
/// # Safety
///
/// 1. Runs at CPL 0.
/// 2. The CPU implements `invpcid` ([`invpcid_supported`]).
/// 3. `CR4.PCIDE` is set, or `pcid` is 0.
#[cfg(all(target_arch = "x86_64", not(test)))]
pub unsafe fn invpcid_address(pcid: Asid, va: u64) {
    let cmd = match Pcid::new(pcid) {
        Ok(p) => InvPcidCommand::Address(VirtAddr::new_truncate(va), p),
        Err(_) => InvPcidCommand::AllExceptGlobal,
    };
    // SAFETY: obligations 1–3 are the caller's and are those of INVPCID; a
    // canonical address (new_truncate) and a PCID < 4096 avoid #GP.
    unsafe { insn::flush_pcid(cmd) };
}

/// Invalidates every non-global translation tagged with `pcid` on this CPU
/// (INVPCID type 1). A `pcid` of 4096 or more invalidates every non-global
/// translation instead.
///
/// # Safety
///
/// Same obligations as [`invpcid_address`].
#[cfg(all(target_arch = "x86_64", not(test)))]
pub unsafe fn invpcid_context(pcid: Asid) {
    let cmd = match Pcid::new(pcid) {
        Ok(p) => InvPcidCommand::Single(p),
        Err(_) => InvPcidCommand::AllExceptGlobal,
    };
    // SAFETY: the caller's obligations are those of INVPCID.
    unsafe { insn::flush_pcid(cmd) };
}

/// Writes CR3 back unchanged (PCID included, no-flush bit clear), dropping
/// every non-global translation of the current PCID on this CPU.
///
/// # Safety
///
/// 1. Runs at CPL 0.
#[cfg(all(target_arch = "x86_64", not(test)))]
pub unsafe fn reload_cr3() {
    // SAFETY: obligation 1; the value written is the one read, so the
    // address space and PCID stay the same. A read of CR3 has bit 63
    // clear, so the write flushes.
    unsafe {
        core::arch::asm!(
            "mov {tmp}, cr3",
            "mov cr3, {tmp}",
            tmp = out(reg) _,
            options(nostack, preserves_flags)
        );
    }
}

/// What [`LocalTlb::flush_local`] did.
#[cfg(all(target_arch = "x86_64", not(test)))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalFlush {
    /// This CPU holds no translation the batch names any more.
    Flushed,
    /// PCIDs are on, `invpcid` is not, and the batch names a PCID that is
    /// not the one loaded: this CPU may still hold its translations. The
    /// host must load every such PCID next with a flushing CR3 write (bit
    /// 63 clear).
    NotLoaded,
}

/// The invalidation method of the current CPU, chosen once.
#[cfg(all(target_arch = "x86_64", not(test)))]
#[derive(Clone, Copy, Debug)]
pub struct LocalTlb {
    pcide: bool,
    invpcid: bool,
}

#[cfg(all(target_arch = "x86_64", not(test)))]
impl LocalTlb {
    /// Detects `invpcid` and reads `CR4.PCIDE`.
    ///
    /// # Safety
    ///
    /// 1. Runs at CPL 0, and every CPU that later uses the value has the
    ///    same features and the same `CR4.PCIDE` (create one per CPU, or
    ///    one after all CPUs set CR4 alike).
    pub unsafe fn new() -> LocalTlb {
        let pcide = Cr4::read().contains(Cr4Flags::PCID);
        LocalTlb {
            pcide,
            invpcid: pcide && invpcid_supported(),
        }
    }

    /// Invalidates, on this CPU, every translation `batch` names.
    ///
    /// Safe to call from `Platform::flush_tlb` and from the IPI handler of
    /// other CPUs: the [`LocalTlb`] value proves CPL 0 and the features.
    pub fn flush_local(&self, batch: &TlbBatch) -> LocalFlush {
        let target = batch.target();
        let scope = batch.scope();
        if scope == TlbScope::Nothing {
            return LocalFlush::Flushed;
        }
        if self.invpcid {
            if target.is_all() {
                // No instruction drops one address under every PCID:
                // drop every non-global translation (INVPCID type 3).
                // SAFETY: CPL 0, INVPCID present and PCIDE set, all
                // established by `LocalTlb::new`.
                unsafe { insn::flush_pcid(InvPcidCommand::AllExceptGlobal) };
                return LocalFlush::Flushed;
            }
            for asid in target.named() {
                match scope {
                    TlbScope::Nothing => {}
                    TlbScope::Pages(pages) => {
                        for &va in pages {
                            // SAFETY: as above.
                            unsafe { invpcid_address(asid, va) };
                        }
                    }
                    // SAFETY: as above.
                    TlbScope::AddressSpace => unsafe { invpcid_context(asid) },
                }
            }
            return LocalFlush::Flushed;
        }
        // Without INVPCID only the loaded PCID can be reached from here.
        // Without PCIDs only the loaded address space has translations, so
        // acting on the current one is right (and harmless otherwise).
        let loaded = Cr3::read_raw().1 & 0xfff;
        let others_may_hold =
            self.pcide && (target.is_all() || target.named().any(|a| a != loaded));
        if !self.pcide || target.covers(loaded) {
            match scope {
                TlbScope::Nothing => {}
                TlbScope::Pages(pages) => {
                    for &va in pages {
                        // SAFETY: CPL 0, established by `LocalTlb::new`.
                        unsafe { invlpg(va) };
                    }
                }
                // SAFETY: CPL 0, established by `LocalTlb::new`.
                TlbScope::AddressSpace => unsafe { reload_cr3() },
            }
        }
        if others_may_hold {
            LocalFlush::NotLoaded
        } else {
            LocalFlush::Flushed
        }
    }
}

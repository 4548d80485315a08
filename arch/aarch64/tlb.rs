//! aarch64 TLB maintenance: the sequences a host's
//! [`Platform::flush_tlb`](crate::Platform::flush_tlb) runs.
//!
//! The `…IS` (inner shareable) forms broadcast to every CPU of the inner
//! shareable domain, so one CPU's `flush_batch` invalidates everywhere;
//! the final `dsb ish` waits for every CPU to complete it. No IPI needed.
//!
//! A sequence is always:
//!
//! ```text
//! dsb ishst                  // the table writes reach the walkers first
//! tlbi vale1is, <op> ...     // one per page; or tlbi aside1is, <asid << 48>
//! dsb ish                    // every CPU has completed the invalidation
//! isb                        // this CPU's later fetches see the result
//! ```
//!
//! `<op>` for a page is `va >> 12` (bits `[43:0]`) with the ASID in bits
//! `[63:48]`. `vale1is` ("last level") drops only leaf entries, which is all
//! a [`Pages`](crate::mmu::TlbScope::Pages) batch names: when
//! the page-table code frees a table it widens its batch to the whole
//! ASID, and `aside1is` also drops cached table (walk) entries of the ASID.
//!
//! The `tlbi` functions exist only when compiled for aarch64 outside
//! `cfg(test)`. Invalidation can never make memory accesses less safe; the
//! `unsafe` marks the privilege requirement (`tlbi` is undefined at EL0).

#[cfg(all(target_arch = "aarch64", not(test)))]
use aarch64_cpu::asm::barrier;

#[cfg(all(target_arch = "aarch64", not(test)))]
use crate::mmu::{Asid, TlbBatch, TlbScope};

/// The operand of `tlbi va*e1*` for the page holding `va` in `asid`:
/// the page number in bits `[43:0]`, the ASID in bits `[63:48]`.
pub const fn tlbi_page_operand(asid: crate::mmu::Asid, va: u64) -> u64 {
    ((va >> 12) & ((1 << 44) - 1)) | ((asid as u64) << 48)
}

/// Orders earlier page-table stores before later page-table walks of every
/// CPU (`dsb ishst`). Unprivileged; called by the page-table code after it
/// writes tables. A no-op on other targets and under `cfg(test)`.
#[inline]
pub fn publish_table_writes() {
    #[cfg(all(target_arch = "aarch64", not(test)))]
    barrier::dsb(barrier::ISHST);
}

/// Invalidates, on every CPU, the last-level translations of `pages` (any
/// address inside each page) tagged with `asid`.
///
/// # Safety
///
/// 1. Runs at EL1 (or at EL2 with `HCR_EL2.E2H` set, where the same
///    instructions address the EL2&0 regime).
#[cfg(all(target_arch = "aarch64", not(test)))]
pub unsafe fn flush_pages(asid: Asid, pages: &[u64]) {
    barrier::dsb(barrier::ISHST);
    for &va in pages {
        let op = tlbi_page_operand(asid, va);
        // SAFETY: obligation 1; TLBI only drops cached translations.
        unsafe {
            core::arch::asm!("tlbi vale1is, {0}", in(reg) op, options(nostack, preserves_flags));
        }
    }
    barrier::dsb(barrier::ISH);
    barrier::isb(barrier::SY);
}

/// Invalidates, on every CPU, every non-global translation (leaf and table
/// entries) tagged with `asid`.
///
/// # Safety
///
/// Same obligation as [`flush_pages`].
#[cfg(all(target_arch = "aarch64", not(test)))]
pub unsafe fn flush_asid(asid: Asid) {
    barrier::dsb(barrier::ISHST);
    let op = u64::from(asid) << 48;
    // SAFETY: obligation 1; TLBI only drops cached translations.
    unsafe {
        core::arch::asm!("tlbi aside1is, {0}", in(reg) op, options(nostack, preserves_flags));
    }
    barrier::dsb(barrier::ISH);
    barrier::isb(barrier::SY);
}

/// Invalidates, on every CPU, what `batch` names: the body of a host's
/// `Platform::flush_tlb` on aarch64.
///
/// # Safety
///
/// Same obligation as [`flush_pages`].
#[cfg(all(target_arch = "aarch64", not(test)))]
pub unsafe fn flush_batch(batch: &TlbBatch) {
    let target = batch.target();
    match batch.scope() {
        TlbScope::Nothing => {}
        // SAFETY: the caller's obligation.
        TlbScope::Pages(pages) if target.is_all() => unsafe { flush_pages_all_asids(pages) },
        TlbScope::Pages(pages) => {
            for asid in target.named() {
                // SAFETY: the caller's obligation.
                unsafe { flush_pages(asid, pages) };
            }
        }
        // SAFETY: the caller's obligation.
        TlbScope::AddressSpace if target.is_all() => unsafe { flush_all_asids() },
        TlbScope::AddressSpace => {
            for asid in target.named() {
                // SAFETY: the caller's obligation.
                unsafe { flush_asid(asid) };
            }
        }
    }
}

/// Invalidates, on every CPU, the last-level translations of `pages` under
/// every ASID (`tlbi vaale1is`): a change in the shared region of a sharing
/// group, which every member's unified root maps.
///
/// # Safety
///
/// Same obligation as [`flush_pages`].
#[cfg(all(target_arch = "aarch64", not(test)))]
pub unsafe fn flush_pages_all_asids(pages: &[u64]) {
    barrier::dsb(barrier::ISHST);
    for &va in pages {
        let op = tlbi_page_operand(0, va);
        // SAFETY: obligation 1; TLBI only drops cached translations.
        unsafe {
            core::arch::asm!("tlbi vaale1is, {0}", in(reg) op, options(nostack, preserves_flags));
        }
    }
    barrier::dsb(barrier::ISH);
    barrier::isb(barrier::SY);
}

/// Invalidates, on every CPU, every stage-1 EL1&0 translation
/// (`tlbi vmalle1is`).
///
/// # Safety
///
/// Same obligation as [`flush_pages`].
#[cfg(all(target_arch = "aarch64", not(test)))]
pub unsafe fn flush_all_asids() {
    barrier::dsb(barrier::ISHST);
    // SAFETY: obligation 1; TLBI only drops cached translations.
    unsafe {
        core::arch::asm!("tlbi vmalle1is", options(nostack, preserves_flags));
    }
    barrier::dsb(barrier::ISH);
    barrier::isb(barrier::SY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operand_layout() {
        assert_eq!(tlbi_page_operand(0, 0x1000), 1);
        assert_eq!(
            tlbi_page_operand(0xab, 0x7fff_ffff_f000),
            0x00ab_0007_ffff_ffff
        );
        // Only bits [55:12] of the address fit; the ASID sits above them.
        assert_eq!(tlbi_page_operand(1, u64::MAX), (1 << 48) | ((1 << 44) - 1));
    }
}

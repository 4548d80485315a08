//! The `syscall`/`sysretq` contract: segment selectors, the `STAR` /
//! `LSTAR` / `SFMASK` values, and the GDT layout they imply.
//!
//! `syscall` loads CS from `STAR[47:32]` and SS from that plus 8;
//! `sysretq` loads SS from `STAR[63:48] + 8` and CS from `STAR[63:48] +
//! 16`, both with RPL 3. With `STAR[63:48] = 0x10` and `STAR[47:32] =
//! 0x08` that fixes the GDT as [`GDT_LAYOUT`]: kernel code `0x08`, kernel
//! data `0x10`, user data `0x18`, user code `0x20`. The `iretq` path pushes
//! the same user selectors, so both ways back to ring 3 agree.

/// Kernel code segment selector (GDT index 1).
pub const KERNEL_CS: u16 = 0x08;
/// Kernel stack segment selector (GDT index 2).
pub const KERNEL_SS: u16 = 0x10;
/// User stack segment selector (GDT index 3, RPL 3).
pub const USER_SS: u16 = 0x18 | 3;
/// User 64-bit code segment selector (GDT index 4, RPL 3).
pub const USER_CS: u16 = 0x20 | 3;

/// `IA32_STAR`: `syscall` enters with [`KERNEL_CS`]/[`KERNEL_SS`],
/// `sysretq` leaves with [`USER_CS`]/[`USER_SS`].
pub const STAR: u64 = (0x10 << 48) | ((KERNEL_CS as u64) << 32);

/// `IA32_FMASK`: RFLAGS bits `syscall` clears — TF, IF, DF, IOPL, NT, AC —
/// so the entry code runs with interrupts off, no single-step, a clear
/// direction flag and SMAP enforced.
pub const SFMASK: u64 = (1 << 8) | (1 << 9) | (1 << 10) | (3 << 12) | (1 << 14) | (1 << 18);

/// `IA32_EFER`.
pub const MSR_EFER: u32 = 0xc000_0080;
/// `IA32_STAR`.
pub const MSR_STAR: u32 = 0xc000_0081;
/// `IA32_LSTAR`.
pub const MSR_LSTAR: u32 = 0xc000_0082;
/// `IA32_FMASK`.
pub const MSR_FMASK: u32 = 0xc000_0084;
/// `EFER.SCE`: `syscall`/`sysret` enabled.
pub const EFER_SCE: u64 = 1;

/// The GDT the trap path expects, as raw descriptors for indices 0..=4
/// (null, kernel code, kernel data, user data, user code). A host may copy
/// it verbatim and append its TSS descriptor (16 bytes, any index from 5).
pub const GDT_LAYOUT: [u64; 5] = [
    0,
    // Kernel code: present, DPL 0, execute/read, long mode.
    0x00af_9a00_0000_ffff,
    // Kernel data: present, DPL 0, read/write.
    0x00cf_9200_0000_ffff,
    // User data: present, DPL 3, read/write.
    0x00cf_f200_0000_ffff,
    // User code: present, DPL 3, execute/read, long mode.
    0x00af_fa00_0000_ffff,
];

/// The address to put in `IA32_LSTAR`.
///
/// Exists only when compiling for x86_64 (`cfg(target_arch = "x86_64")`; documented everywhere).
#[cfg(any(target_arch = "x86_64", doc))]
pub fn syscall_entry_addr() -> u64 {
    super::entry_asm::syscall_entry as *const () as u64
}

/// Sets `EFER.SCE` and writes `STAR`, `LSTAR` and `SFMASK` on this CPU.
///
/// # Safety
///
/// 1. Called in ring 0, with the GDT already laid out as [`GDT_LAYOUT`].
/// 2. Nothing on this CPU relies on other values in these MSRs.
///
/// Exists only when compiling for x86_64 (`cfg(target_arch = "x86_64")`; documented everywhere).
#[cfg(any(target_arch = "x86_64", doc))]
pub unsafe fn init_syscall_msrs() {
    use ::x86_64::registers::model_specific::Msr;
    let mut efer = Msr::new(MSR_EFER);
    // SAFETY: obligation 1 (ring 0, GDT as STAR expects) makes enabling
    // `syscall` and pointing it at the crate's entry sound; obligation 2
    // says no one else owns these MSRs.
    unsafe {
        let v = efer.read();
        efer.write(v | EFER_SCE);
        Msr::new(MSR_STAR).write(STAR);
        Msr::new(MSR_LSTAR).write(syscall_entry_addr());
        Msr::new(MSR_FMASK).write(SFMASK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_selectors_match_the_constants() {
        let sysret_base = (STAR >> 48) as u16;
        let syscall_base = (STAR >> 32) as u16;
        assert_eq!((sysret_base + 8) | 3, USER_SS);
        assert_eq!((sysret_base + 16) | 3, USER_CS);
        assert_eq!(syscall_base, KERNEL_CS);
        assert_eq!(syscall_base + 8, KERNEL_SS);
    }

    #[test]
    fn gdt_layout_matches_the_selectors() {
        let dpl = |d: u64| (d >> 45) & 3;
        let long = |d: u64| (d >> 53) & 1;
        let code = |d: u64| (d >> 43) & 1;
        let k_cs = GDT_LAYOUT[usize::from(KERNEL_CS >> 3)];
        let k_ss = GDT_LAYOUT[usize::from(KERNEL_SS >> 3)];
        let u_cs = GDT_LAYOUT[usize::from(USER_CS >> 3)];
        let u_ss = GDT_LAYOUT[usize::from(USER_SS >> 3)];
        assert_eq!((dpl(k_cs), code(k_cs), long(k_cs)), (0, 1, 1));
        assert_eq!((dpl(k_ss), code(k_ss)), (0, 0));
        assert_eq!((dpl(u_cs), code(u_cs), long(u_cs)), (3, 1, 1));
        assert_eq!((dpl(u_ss), code(u_ss)), (3, 0));
    }

    #[test]
    fn sfmask_clears_what_the_entry_needs_cleared() {
        for bit in [8, 9, 10, 14, 18] {
            assert_ne!(SFMASK & (1 << bit), 0, "bit {bit}");
        }
    }
}

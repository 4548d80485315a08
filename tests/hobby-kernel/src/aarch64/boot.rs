//! The aarch64 entry: from QEMU's start state (EL1 or EL2, MMU off) to the
//! Rust kernel at its TTBR1 address.
//!
//! QEMU's `-M virt -kernel` loads the ELF at its physical addresses and
//! starts `_start`. The boot code:
//!
//! 1. leaves EL2 for EL1 if it started there (AArch64 EL1, counters open);
//! 2. masks DAIF, opens FP/SIMD to EL1 and EL0 (`aarch64-unknown-none`
//!    code uses SIMD registers), programs MAIR/TCR, points **both** TTBR0
//!    and TTBR1 at the static boot tables below and turns the MMU on;
//! 3. jumps to the high alias, switches to the boot stack, zeroes `.bss`
//!    and calls [`kernel_main`](super::kernel_main) with the EL it started
//!    at.
//!
//! Boot tables: one L0 with one L1 of 1 GiB blocks, EL1-only: physical
//! 0..1 GiB as device memory (UART, GIC), 1..2 GiB (RAM) as normal
//! write-back memory. Through TTBR1 that is the kernel's direct map at
//! [`KERNEL_VMA`](super::paging::KERNEL_VMA) + phys, where the image is
//! linked; through TTBR0 it is the identity map the switch needs, which
//! the kernel replaces with user space (`paging.rs`).

/// MAIR_EL1: attr 0 device-nGnRnE, attr 1 normal write-back.
const MAIR: u64 = 0xff00;
/// TCR_EL1: 48-bit VA in both halves, 4 KiB granules, write-back
/// inner-shareable walks, 40-bit physical addresses.
const TCR: u64 = 0x2_b510_3510;
/// SCTLR_EL1: MMU, caches, SP alignment checks at EL1 and EL0, plus the
/// ARMv8.0 RES1 bits.
const SCTLR: u64 = 0x30d0_0800 | 0x1 | 0x4 | 0x8 | 0x10 | 0x1000;
/// A 1 GiB EL1-only device block (AF, PXN, UXN).
const DEVICE_BLOCK: u64 = 0x0060_0000_0000_0401;
/// A 1 GiB EL1-only normal block (attr 1, inner shareable, AF, UXN).
const NORMAL_BLOCK: u64 = 0x0040_0000_0000_0705;

core::arch::global_asm!(
    ".pushsection .boot.text, \"ax\"",
    ".global _start",
    "_start:",
    "mrs x19, CurrentEL",
    "lsr x19, x19, #2",
    "cmp x19, #2",
    "b.ne 2f",
    "mov x9, #(1 << 31)", // HCR_EL2.RW: EL1 is AArch64
    "msr hcr_el2, x9",
    "mov x9, #3", // CNTHCTL_EL2: EL1 may use the physical counter/timer
    "msr cnthctl_el2, x9",
    "msr cntvoff_el2, xzr",
    "mov x9, #0x3c5", // EL1h, DAIF masked
    "msr spsr_el2, x9",
    "adr x9, 2f",
    "msr elr_el2, x9",
    "eret",
    "2:",
    "msr daifset, #0xf",
    "mov x9, #(3 << 20)", // CPACR_EL1.FPEN
    "msr cpacr_el1, x9",
    "isb",
    "ldr x9, ={mair}",
    "msr mair_el1, x9",
    "ldr x9, ={tcr}",
    "msr tcr_el1, x9",
    "adrp x9, hk_boot_l0",
    "msr ttbr0_el1, x9",
    "msr ttbr1_el1, x9",
    "isb",
    "tlbi vmalle1",
    "dsb nsh",
    "isb",
    "ldr x9, ={sctlr}",
    "msr sctlr_el1, x9",
    "isb",
    "ldr x9, =hk_boot_high",
    "br x9",
    ".ltorg",
    ".popsection",
    //
    ".pushsection .text.hk_boot_high, \"ax\"",
    "hk_boot_high:",
    "ldr x9, ={stack} + {stack_size}",
    "mov sp, x9",
    "ldr x9, =__bss_start",
    "ldr x10, =__bss_end",
    "3:",
    "cmp x9, x10",
    "b.hs 4f",
    "str xzr, [x9], #8",
    "b 3b",
    "4:",
    "mov x0, x19",
    "bl {main}",
    "5:",
    "wfe",
    "b 5b",
    ".ltorg",
    ".popsection",
    //
    ".pushsection .boot.data, \"aw\"",
    ".balign 4096",
    "hk_boot_l0:",
    ".quad hk_boot_l1 + 3",
    ".fill 511, 8, 0",
    "hk_boot_l1:",
    ".quad 0x00000000 | {device}",
    ".quad 0x40000000 | {normal}",
    ".fill 510, 8, 0",
    ".popsection",
    mair = const MAIR,
    tcr = const TCR,
    sctlr = const SCTLR,
    device = const DEVICE_BLOCK,
    normal = const NORMAL_BLOCK,
    stack = sym super::cpu::BOOT_STACK,
    stack_size = const super::cpu::BOOT_STACK_SIZE,
    main = sym super::kernel_main,
);

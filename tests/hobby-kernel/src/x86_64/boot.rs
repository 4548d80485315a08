//! The PVH entry: from QEMU's 32-bit protected mode to the Rust kernel in
//! long mode at its high address.
//!
//! QEMU's `-kernel` loader finds the `XEN_ELFNOTE_PHYS32_ENTRY` note (type
//! 18) and starts `pvh_start32` in 32-bit protected mode, paging off, with
//! `ebx` = physical address of the `hvm_start_info`. The boot code:
//!
//! 1. enables PAE, loads the static boot page tables below, sets
//!    `EFER.LME | EFER.NXE`, turns on paging (with `CR0.WP`) and far-jumps
//!    into 64-bit code through a boot GDT;
//! 2. zeroes `.bss`, switches to the boot stack and calls
//!    [`kernel_main`](super::kernel_main) with the start-info address.
//!
//! Boot page tables (one 2 MiB-page directory for physical 0..1 GiB,
//! kernel-only, reached three ways):
//!
//! - `PML4[0]`: identity, for the switch itself; the kernel removes it and
//!   puts user space there (`paging.rs`);
//! - `PML4[256]`: the direct map at [`DIRECT_MAP`](super::paging::DIRECT_MAP);
//! - `PML4[511]`, `PDPT[510]`: the kernel image at `0xffff_ffff_8000_0000`.

core::arch::global_asm!(
    // The PVH note. Its segment must be 4-byte aligned: QEMU pads the name
    // to the note segment's alignment when it looks for the descriptor.
    ".pushsection .note.pvh, \"a\", @note",
    ".balign 4",
    ".long 4",  // namesz
    ".long 8",  // descsz: a 64-bit ELF gets an 8-byte value (QEMU reads 8)
    ".long 18", // XEN_ELFNOTE_PHYS32_ENTRY
    ".asciz \"Xen\"",
    ".balign 4",
    ".quad pvh_start32",
    ".popsection",
    //
    ".pushsection .boot.text, \"ax\", @progbits",
    ".code32",
    ".global pvh_start32",
    "pvh_start32:",
    "cli",
    "cld",
    "movl %ebx, %edi",
    "movl %cr4, %eax",
    "orl $0x20, %eax", // PAE
    "movl %eax, %cr4",
    "movl $hk_boot_pml4, %eax",
    "movl %eax, %cr3",
    "movl $0xc0000080, %ecx", // EFER
    "rdmsr",
    "orl $0x900, %eax", // LME | NXE
    "wrmsr",
    "movl %cr0, %eax",
    "orl $0x80010001, %eax", // PG | WP | PE
    "movl %eax, %cr0",
    "lgdt hk_boot_gdt_ptr",
    "ljmp $0x08, $hk_boot_long64",
    ".code64",
    "hk_boot_long64:",
    "movw $0x10, %ax",
    "movw %ax, %ds",
    "movw %ax, %es",
    "movw %ax, %ss",
    "xorl %eax, %eax",
    "movw %ax, %fs",
    "movw %ax, %gs",
    // Zero .bss (the loader already does, but nothing says it must).
    "movq %rdi, %rbx",
    "movabsq $__bss_start, %rdi",
    "movabsq $__bss_end, %rcx",
    "subq %rdi, %rcx",
    "xorl %eax, %eax",
    "rep stosb",
    "movq %rbx, %rdi",
    "movabsq ${stack} + {stack_size}, %rsp",
    "xorl %ebp, %ebp",
    "movabsq ${main}, %rax",
    "callq *%rax",
    "2:",
    "hlt",
    "jmp 2b",
    ".popsection",
    //
    ".pushsection .boot.data, \"aw\", @progbits",
    ".balign 4096",
    "hk_boot_pml4:",
    ".quad hk_boot_pdpt_ident + 0x3",
    ".fill 255, 8, 0",
    ".quad hk_boot_pdpt_direct + 0x3",
    ".fill 254, 8, 0",
    ".quad hk_boot_pdpt_kernel + 0x3",
    "hk_boot_pdpt_ident:",
    ".quad hk_boot_pd + 0x3",
    ".fill 511, 8, 0",
    "hk_boot_pdpt_direct:",
    ".quad hk_boot_pd + 0x3",
    ".fill 511, 8, 0",
    "hk_boot_pdpt_kernel:",
    ".fill 510, 8, 0",
    ".quad hk_boot_pd + 0x3",
    ".quad 0",
    "hk_boot_pd:",
    ".set hk_boot_i, 0",
    ".rept 512",
    ".quad (hk_boot_i << 21) | 0x83", // present, writable, 2 MiB
    ".set hk_boot_i, hk_boot_i + 1",
    ".endr",
    ".balign 16",
    "hk_boot_gdt:",
    ".quad 0",
    ".quad 0x00af9a000000ffff", // 0x08: 64-bit code
    ".quad 0x00cf92000000ffff", // 0x10: data
    "hk_boot_gdt_ptr:",
    ".word hk_boot_gdt_ptr - hk_boot_gdt - 1",
    ".long hk_boot_gdt",
    ".popsection",
    stack = sym super::cpu::BOOT_STACK,
    stack_size = const super::cpu::BOOT_STACK_SIZE,
    main = sym super::kernel_main,
    options(att_syntax),
);

//! Memory: the frame allocator over a fixed RAM range, and the user pages
//! the scenario runs in, in TTBR0.
//!
//! The kernel lives in TTBR1 (`boot.rs`): [`KERNEL_VMA`] + phys is both the
//! direct map and where the image is linked, EL1-only. TTBR0 held the boot
//! identity map; [`map_user`] replaces it with a fresh user table holding
//! the smoke scenario's fixed pages. The restricted-mode scenario runs in
//! a process address space of the crate's own (`zx.rs`).

use core::arch::asm;

use crate::memory::{FRAME_SIZE, FrameAllocator};

/// Base of the TTBR1 direct map (and of the kernel image's link address).
pub const KERNEL_VMA: u64 = 0xffff_0000_0000_0000;
/// Where `-M virt` puts RAM.
pub const RAM_START: u64 = 0x4000_0000;
/// How much RAM the kernel assumes (`cargo xtask` passes `-m 128M`).
pub const RAM_SIZE: u64 = 128 << 20;

/// User code (read + execute at EL0).
pub const USER_CODE: u64 = 0x0100_0000;
/// User data (read + write, no execute): the TLS block lives here.
pub const USER_DATA: u64 = 0x0100_2000;
/// A read-only user page.
pub const USER_RO: u64 = 0x0100_4000;
/// Two pages of user stack below this address.
pub const USER_STACK_TOP: u64 = 0x0100_8000;

const DESC_TABLE: u64 = 0b11;
const DESC_PAGE: u64 = 0b11;
const ATTR_NORMAL: u64 = 1 << 2;
const SH_INNER: u64 = 3 << 8;
const AF: u64 = 1 << 10;
const NG: u64 = 1 << 11;
const AP_EL0_RW: u64 = 0b01 << 6;
const AP_EL0_RO: u64 = 0b11 << 6;
const PXN: u64 = 1 << 53;
const UXN: u64 = 1 << 54;
const USER_PAGE: u64 = DESC_PAGE | ATTR_NORMAL | SH_INNER | AF | NG | PXN;

/// A kernel pointer to physical memory.
pub fn phys_to_virt(pa: u64) -> *mut u8 {
    debug_assert!((RAM_START..RAM_END.load(core::sync::atomic::Ordering::Relaxed)).contains(&pa));
    (KERNEL_VMA + pa) as *mut u8
}

unsafe extern "C" {
    static __kernel_end: u8;
}

/// Feeds the allocator the RAM between the end of the image and the end of
/// [`RAM_SIZE`]; with linux mode's blob (its range and the RAM size it
/// declares), the RAM around the blob up to that size.
pub fn init_frames(frames: &mut FrameAllocator, blob: Option<((u64, u64), u64)>) {
    let kernel_end = &raw const __kernel_end as u64 - KERNEL_VMA;
    match blob {
        None => {
            frames.add_range(kernel_end, RAM_START + RAM_SIZE);
        }
        Some(((lo, hi), ram)) => {
            frames.add_range(kernel_end, lo);
            frames.add_range(hi, RAM_START + ram.max(RAM_SIZE));
            RAM_END.store(
                RAM_START + ram.max(RAM_SIZE),
                core::sync::atomic::Ordering::Relaxed,
            );
        }
    }
}

/// The end of RAM the allocator hands out (grows in linux mode).
static RAM_END: core::sync::atomic::AtomicU64 =
    core::sync::atomic::AtomicU64::new(RAM_START + RAM_SIZE);

fn zeroed_frame(frames: &mut FrameAllocator) -> u64 {
    let pa = frames
        .alloc()
        .expect("out of frames while building page tables");
    // SAFETY: the frame is fresh from the allocator, in the direct map, and
    // no one else uses it.
    unsafe { core::ptr::write_bytes(phys_to_virt(pa), 0, FRAME_SIZE as usize) };
    pa
}

fn set_entry(table: u64, index: usize, value: u64) {
    assert!(index < 512);
    // SAFETY: `table` is a page-table frame this module owns, in the direct
    // map; volatile because the MMU reads it behind Rust's back.
    unsafe {
        phys_to_virt(table)
            .cast::<u64>()
            .add(index)
            .write_volatile(value)
    };
}

/// The physical frames behind the user pages.
pub struct UserPages {
    /// Behind [`USER_CODE`].
    pub code: u64,
    /// Behind [`USER_DATA`].
    pub data: u64,
    /// Behind [`USER_RO`].
    pub ro: u64,
}

/// Builds a user table with the scenario's pages, copies `code` into the
/// code page, makes the code visible to instruction fetch, and installs the
/// table in TTBR0 (dropping the boot identity map).
pub fn map_user(frames: &mut FrameAllocator, code: &[u8]) -> UserPages {
    assert!(code.len() as u64 <= FRAME_SIZE);
    let l0 = zeroed_frame(frames);
    let l1 = zeroed_frame(frames);
    let l2 = zeroed_frame(frames);
    let l3 = zeroed_frame(frames);
    set_entry(l0, 0, l1 | DESC_TABLE);
    set_entry(l1, 0, l2 | DESC_TABLE);
    set_entry(l2, (USER_CODE >> 21) as usize & 511, l3 | DESC_TABLE);
    let page = |va: u64| (va >> 12) as usize & 511;

    let pages = UserPages {
        code: zeroed_frame(frames),
        data: zeroed_frame(frames),
        ro: zeroed_frame(frames),
    };
    let code_va = phys_to_virt(pages.code);
    // SAFETY: the code frame is fresh and FRAME_SIZE long; `code` fits.
    unsafe { core::ptr::copy_nonoverlapping(code.as_ptr(), code_va, code.len()) };
    set_entry(l3, page(USER_CODE), pages.code | USER_PAGE | AP_EL0_RO);
    set_entry(
        l3,
        page(USER_DATA),
        pages.data | USER_PAGE | AP_EL0_RW | UXN,
    );
    set_entry(l3, page(USER_RO), pages.ro | USER_PAGE | AP_EL0_RO | UXN);
    for va in [USER_STACK_TOP - 2 * FRAME_SIZE, USER_STACK_TOP - FRAME_SIZE] {
        set_entry(
            l3,
            page(va),
            zeroed_frame(frames) | USER_PAGE | AP_EL0_RW | UXN,
        );
    }

    // SAFETY: cleaning the code page to the point of unification and
    // invalidating the instruction cache only affect caches; the barrier
    // orders the table writes before the walks. Switching TTBR0 drops the
    // identity map, which nothing uses any more (the kernel runs in
    // TTBR1), and the TLB flush removes its cached translations.
    unsafe {
        let mut line = code_va as u64;
        while line < code_va as u64 + FRAME_SIZE {
            asm!("dc cvau, {}", in(reg) line, options(nostack, preserves_flags));
            line += 64;
        }
        asm!(
            "dsb ish",
            "ic iallu",
            "msr ttbr0_el1, {root}",
            "isb",
            "tlbi vmalle1",
            "dsb ish",
            "isb",
            root = in(reg) l0,
            options(nostack, preserves_flags)
        );
    }
    pages
}

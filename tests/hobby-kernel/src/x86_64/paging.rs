//! Memory: the frame allocator fed from the PVH memory map, and the user
//! pages the scenario runs in, mapped with the boot page tables.
//!
//! The kernel lives in the upper half (direct map at [`DIRECT_MAP`], image
//! at `0xffff_ffff_8000_0000`); the boot identity map in `PML4[0]` is dropped
//! and `PML4[0]` becomes user space for the smoke scenario's fixed pages.
//! The restricted-mode scenario runs in a process address space of the
//! crate's own, which copies this root's kernel half (`zx.rs`).

use crate::memory::{FRAME_SIZE, FrameAllocator};

/// Where the boot page tables map physical 0..1 GiB, kernel-only.
pub const DIRECT_MAP: u64 = 0xffff_8000_0000_0000;
/// How much physical memory the direct map covers.
pub const DIRECT_MAP_SIZE: u64 = 1 << 30;
/// The kernel image's link offset.
pub const KERNEL_VMA: u64 = 0xffff_ffff_8000_0000;

/// User code (read + execute).
pub const USER_CODE: u64 = 0x0100_0000;
/// User data (read + write, no execute): TLS blocks live here.
pub const USER_DATA: u64 = 0x0100_2000;
/// A read-only user page.
pub const USER_RO: u64 = 0x0100_4000;
/// Two pages of user stack below this address.
pub const USER_STACK_TOP: u64 = 0x0100_8000;

const PTE_P: u64 = 1;
const PTE_W: u64 = 1 << 1;
const PTE_U: u64 = 1 << 2;
const PTE_PWT: u64 = 1 << 3;
const PTE_PCD: u64 = 1 << 4;
const PTE_PS: u64 = 1 << 7;
const PTE_NX: u64 = 1 << 63;
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

/// A kernel pointer to physical memory in the direct map.
pub fn phys_to_virt(pa: u64) -> *mut u8 {
    debug_assert!(pa < DIRECT_MAP_SIZE);
    (DIRECT_MAP + pa) as *mut u8
}

unsafe extern "C" {
    static __kernel_end: u8;
}

/// `hvm_start_info` (xen/include/public/arch-x86/hvm/start_info.h).
#[repr(C)]
struct StartInfo {
    magic: u32,
    version: u32,
    flags: u32,
    nr_modules: u32,
    modlist_paddr: u64,
    cmdline_paddr: u64,
    rsdp_paddr: u64,
    memmap_paddr: u64,
    memmap_entries: u32,
    reserved: u32,
}

/// `hvm_memmap_table_entry`.
#[repr(C)]
struct MemmapEntry {
    addr: u64,
    size: u64,
    kind: u32,
    reserved: u32,
}

const START_INFO_MAGIC: u32 = 0x336e_c578;
const MEMMAP_RAM: u32 = 1;

/// Feeds the allocator every RAM range of the PVH memory map above the
/// kernel image and inside the direct map, except `reserved`. Returns how
/// many ranges it used.
///
/// # Safety
///
/// 1. `start_info` is the physical address the PVH loader passed in `ebx`,
///    and the start info and its memory map are still intact.
pub unsafe fn init_frames(
    frames: &mut FrameAllocator,
    start_info: u64,
    reserved: Option<(u64, u64)>,
) -> usize {
    let kernel_end = &raw const __kernel_end as u64 - KERNEL_VMA;
    let mut used = 0;
    let mut add = |start: u64, end: u64, frames: &mut FrameAllocator| {
        let start = start.max(kernel_end);
        let end = end.min(DIRECT_MAP_SIZE);
        // A reserved range (linux mode's blob) splits a RAM range in two.
        let (lo, hi) = reserved.unwrap_or((end, end));
        for (s, e) in [(start, end.min(lo)), (start.max(hi), end)] {
            if s < e && frames.add_range(s, e) {
                used += 1;
            }
        }
    };
    if start_info == 0 || start_info >= DIRECT_MAP_SIZE {
        add(kernel_end, 64 << 20, frames);
        return used;
    }
    // SAFETY: obligation 1; the start info is below 1 GiB, so in the
    // direct map.
    let info = unsafe {
        phys_to_virt(start_info)
            .cast::<StartInfo>()
            .read_unaligned()
    };
    if info.magic != START_INFO_MAGIC || info.version < 1 || info.memmap_paddr >= DIRECT_MAP_SIZE {
        add(kernel_end, 64 << 20, frames);
        return used;
    }
    let table = phys_to_virt(info.memmap_paddr).cast::<MemmapEntry>();
    for i in 0..info.memmap_entries as usize {
        // SAFETY: obligation 1: the loader wrote `memmap_entries` entries
        // at `memmap_paddr`, below 1 GiB (checked above).
        let e = unsafe { table.add(i).read_unaligned() };
        if e.kind == MEMMAP_RAM {
            add(e.addr, e.addr.saturating_add(e.size), frames);
        }
    }
    used
}

/// A zeroed frame, or a panic when memory is exhausted (boot cannot go on).
fn zeroed_frame(frames: &mut FrameAllocator) -> u64 {
    let pa = frames
        .alloc()
        .expect("out of frames while building page tables");
    // SAFETY: the frame is fresh from the allocator, in the direct map, and
    // no one else uses it.
    unsafe { core::ptr::write_bytes(phys_to_virt(pa), 0, FRAME_SIZE as usize) };
    pa
}

/// Writes entry `index` of the table at physical `table`.
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

fn entry(table: u64, index: usize) -> u64 {
    assert!(index < 512);
    // SAFETY: as in `set_entry`.
    unsafe { phys_to_virt(table).cast::<u64>().add(index).read_volatile() }
}

/// The physical address of the root table in CR3.
pub fn root() -> u64 {
    ::x86_64::registers::control::Cr3::read_raw()
        .0
        .start_address()
        .as_u64()
}

fn reload_cr3() {
    // Writing CR3 with its own value only flushes non-global TLB entries.
    ::x86_64::instructions::tlb::flush_all();
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

/// Replaces the identity map in `PML4[0]` with the user pages, copies `code`
/// into the code page, and returns the frames.
pub fn map_user(frames: &mut FrameAllocator, code: &[u8]) -> UserPages {
    assert!(code.len() as u64 <= FRAME_SIZE);
    let root = root();
    let pdpt = zeroed_frame(frames);
    let pd = zeroed_frame(frames);
    let pt = zeroed_frame(frames);
    let user_table = PTE_P | PTE_W | PTE_U;
    set_entry(pdpt, 0, pd | user_table);
    set_entry(pd, (USER_CODE >> 21) as usize & 511, pt | user_table);
    let page = |va: u64| (va >> 12) as usize & 511;

    let pages = UserPages {
        code: zeroed_frame(frames),
        data: zeroed_frame(frames),
        ro: zeroed_frame(frames),
    };
    // SAFETY: the code frame is fresh and FRAME_SIZE long; `code` fits.
    unsafe { core::ptr::copy_nonoverlapping(code.as_ptr(), phys_to_virt(pages.code), code.len()) };
    set_entry(pt, page(USER_CODE), pages.code | PTE_P | PTE_U);
    set_entry(
        pt,
        page(USER_DATA),
        pages.data | PTE_P | PTE_W | PTE_U | PTE_NX,
    );
    set_entry(pt, page(USER_RO), pages.ro | PTE_P | PTE_U | PTE_NX);
    for va in [USER_STACK_TOP - 2 * FRAME_SIZE, USER_STACK_TOP - FRAME_SIZE] {
        set_entry(
            pt,
            page(va),
            zeroed_frame(frames) | PTE_P | PTE_W | PTE_U | PTE_NX,
        );
    }
    // The identity map goes; user space takes its place.
    set_entry(root, 0, pdpt | user_table);
    reload_cr3();
    pages
}

/// Maps the local APIC's page (physical 0xfee0_0000) uncached in the direct
/// map and returns its kernel address.
pub fn map_lapic(frames: &mut FrameAllocator) -> u64 {
    const LAPIC: u64 = 0xfee0_0000;
    let direct_pdpt = entry(root(), 256) & ADDR_MASK;
    let pd = zeroed_frame(frames);
    set_entry(
        pd,
        (LAPIC >> 21) as usize & 511,
        LAPIC | PTE_P | PTE_W | PTE_PS | PTE_PCD | PTE_PWT | PTE_NX,
    );
    set_entry(direct_pdpt, (LAPIC >> 30) as usize, pd | PTE_P | PTE_W);
    reload_cr3();
    DIRECT_MAP + LAPIC
}

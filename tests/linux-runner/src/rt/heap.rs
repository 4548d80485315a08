//! The runner's heap: a free-list allocator (`linked_list_allocator`)
//! over a VMO the runner maps in its own (shared-region) part of the
//! address space. Pages are committed when first touched, so the size is
//! a ceiling, not a cost.

use linked_list_allocator::LockedHeap;
use zx_subsystem::abi::{ZX_VM_PERM_READ, ZX_VM_PERM_WRITE};
use zx_user::{Result, Vmar, Vmo};

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// The heap's size.
pub const HEAP_SIZE: u64 = 256 << 20;

/// Maps the heap VMO at `at` (in the runner's part of the address space;
/// `base` is the VMAR's base) and hands it to the allocator.
///
/// # Errors
///
/// Whatever `zx_vmo_create` / `zx_vmar_map` say.
pub fn init(vmar: &Vmar, base: u64, at: u64) -> Result<()> {
    let vmo = Vmo::create(HEAP_SIZE, 0)?;
    let addr = vmar.map(
        ZX_VM_PERM_READ | ZX_VM_PERM_WRITE | zx_subsystem::abi::ZX_VM_SPECIFIC,
        at - base,
        &vmo,
        0,
        HEAP_SIZE,
    )?;
    // SAFETY: `[addr, addr + HEAP_SIZE)` was just mapped read-write for
    // the heap alone and stays mapped for the runner's life; `init` runs
    // once, before any allocation.
    unsafe { HEAP.lock().init(addr as *mut u8, HEAP_SIZE as usize) };
    Ok(())
}

//! The kernel heap: a bump allocator over a static arena that starts over
//! when every allocation has been freed.
//!
//! `zx-subsystem` uses `alloc` (its objects live in `Arc`s), so the kernel
//! needs a global allocator even before it creates any object. The smoke
//! scenario allocates little; a real host replaces this with its own heap.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};

const HEAP_SIZE: usize = 1 << 20;

#[repr(C, align(4096))]
struct Arena(UnsafeCell<[u8; HEAP_SIZE]>);

/// The arena and its state: one word holding the bump offset (low 32 bits)
/// and the number of live blocks (high 32 bits), so that "the last block
/// was freed, start over" and "reserve the next block" cannot interleave.
struct BumpHeap {
    arena: Arena,
    state: AtomicU64,
}

// SAFETY: the arena is only handed out in disjoint pieces, reserved with a
// compare-exchange on `state`.
unsafe impl Sync for BumpHeap {}

#[global_allocator]
static HEAP: BumpHeap = BumpHeap {
    arena: Arena(UnsafeCell::new([0; HEAP_SIZE])),
    state: AtomicU64::new(0),
};

const LIVE_ONE: u64 = 1 << 32;

// SAFETY: `alloc` returns blocks inside the arena, aligned as asked, that
// no other live block overlaps: the bump offset only grows while any block
// is live, and drops to 0 only in the same atomic step that takes the live
// count from 1 to 0.
unsafe impl GlobalAlloc for BumpHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = self.arena.0.get() as usize;
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let next = (state & 0xffff_ffff) as usize;
            let Some(start) = (base + next).checked_next_multiple_of(layout.align()) else {
                return core::ptr::null_mut();
            };
            let offset = start - base;
            let end = match offset.checked_add(layout.size()) {
                Some(end) if end <= HEAP_SIZE => end,
                _ => return core::ptr::null_mut(),
            };
            let new = (state & !0xffff_ffff) + LIVE_ONE + end as u64;
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return self.arena.0.get().cast::<u8>().wrapping_add(offset),
                Err(now) => state = now,
            }
        }
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {
        let _ = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |state| {
                let live = (state >> 32) - 1;
                Some(if live == 0 { 0 } else { state - LIVE_ONE })
            });
    }
}

//! Memory for the kernel: a physical frame allocator and the heap.
//!
//! [`FrameAllocator`]: bump allocation over a few RAM ranges, plus a small
//! stack of freed frames that is reused first. Pure arithmetic over
//! physical addresses (it never touches the frames), so it is unit-tested
//! on the host. The arch code feeds it the RAM it found (x86_64: the PVH
//! memory map; aarch64: a fixed range above the image) minus the kernel
//! image.
//!
//! [`FRAMES`] is the one allocator of the kernel, behind a spin lock: the
//! boot code feeds it and builds its page tables from it, and the kernel's
//! `zx_subsystem::Platform` implementation allocates and frees through it.
//!
//! The heap (bare metal only): `linked_list_allocator`'s free-list heap
//! over a static 24 MiB arena, so freed objects' memory is reused (1,000
//! processes come and go in the churn scenario). `zx-subsystem` uses
//! `alloc` (its objects live in `Arc`s), so the kernel needs a global
//! allocator even before it creates any object.

/// Size of a frame.
pub const FRAME_SIZE: u64 = 4096;

const MAX_RANGES: usize = 16;

/// The kernel's frame allocator.
pub static FRAMES: spin::Mutex<FrameAllocator> = spin::Mutex::new(FrameAllocator::new());
const FREE_CAPACITY: usize = 256;

/// Hands out 4 KiB physical frames.
pub struct FrameAllocator {
    ranges: [(u64, u64); MAX_RANGES],
    nranges: usize,
    /// Index of the range being bumped through.
    current: usize,
    /// Next frame in `ranges[current]`.
    next: u64,
    free: [u64; FREE_CAPACITY],
    nfree: usize,
}

impl FrameAllocator {
    /// An allocator with no memory.
    pub const fn new() -> Self {
        FrameAllocator {
            ranges: [(0, 0); MAX_RANGES],
            nranges: 0,
            current: 0,
            next: 0,
            free: [0; FREE_CAPACITY],
            nfree: 0,
        }
    }

    /// Adds the whole frames inside `[start, end)`. Returns whether they
    /// were added (an empty range, or no room for another range, adds
    /// nothing).
    pub fn add_range(&mut self, start: u64, end: u64) -> bool {
        let Some(start) = start.checked_next_multiple_of(FRAME_SIZE) else {
            return false;
        };
        let end = end - end % FRAME_SIZE;
        if start >= end || self.nranges == MAX_RANGES {
            return false;
        }
        self.ranges[self.nranges] = (start, end);
        if self.nranges == self.current {
            self.next = start;
        }
        self.nranges += 1;
        true
    }

    /// One frame, or `None` when memory is exhausted.
    pub fn alloc(&mut self) -> Option<u64> {
        if self.nfree > 0 {
            self.nfree -= 1;
            return Some(self.free[self.nfree]);
        }
        while self.current < self.nranges {
            let (_, end) = self.ranges[self.current];
            if self.next < end {
                let frame = self.next;
                self.next += FRAME_SIZE;
                return Some(frame);
            }
            self.current += 1;
            if self.current < self.nranges {
                self.next = self.ranges[self.current].0;
            }
        }
        None
    }

    /// Gives a frame back. Frames beyond the free stack's capacity are
    /// leaked (this is a test kernel).
    pub fn free(&mut self, frame: u64) {
        debug_assert_eq!(frame % FRAME_SIZE, 0);
        if self.nfree < FREE_CAPACITY {
            self.free[self.nfree] = frame;
            self.nfree += 1;
        }
    }

    /// Frames still available (bump ranges plus the free stack).
    pub fn available(&self) -> u64 {
        let mut n = self.nfree as u64;
        for (i, &(start, end)) in self.ranges[..self.nranges].iter().enumerate() {
            if i > self.current {
                n += (end - start) / FRAME_SIZE;
            } else if i == self.current {
                n += (end - self.next) / FRAME_SIZE;
            }
        }
        n
    }
}

#[cfg(target_os = "none")]
mod heap {
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;

    use linked_list_allocator::LockedHeap;

    const HEAP_SIZE: usize = 24 << 20;

    #[repr(C, align(4096))]
    struct Arena(UnsafeCell<[u8; HEAP_SIZE]>);

    /// A free-list heap over a static arena, handed to the allocator at the
    /// first allocation.
    struct KernelHeap {
        arena: Arena,
        heap: LockedHeap,
        ready: spin::Once,
    }

    // SAFETY: the arena is only reached through the locked heap, which
    // hands it out in disjoint blocks.
    unsafe impl Sync for KernelHeap {}

    #[global_allocator]
    static HEAP: KernelHeap = KernelHeap {
        arena: Arena(UnsafeCell::new([0; HEAP_SIZE])),
        heap: LockedHeap::empty(),
        ready: spin::Once::new(),
    };

    impl KernelHeap {
        fn heap(&self) -> &LockedHeap {
            self.ready.call_once(|| {
                // SAFETY: the arena is static, used by nothing else, and
                // handed over exactly once (`Once`).
                unsafe { self.heap.lock().init(self.arena.0.get().cast(), HEAP_SIZE) }
            });
            &self.heap
        }
    }

    // SAFETY: `LockedHeap` is a `GlobalAlloc` over the arena it was given
    // before any call reaches it.
    unsafe impl GlobalAlloc for KernelHeap {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded with the caller's obligations.
            unsafe { self.heap().alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` came from `alloc` above with `layout`.
            unsafe { self.heap().dealloc(ptr, layout) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_through_ranges_in_order() {
        let mut f = FrameAllocator::new();
        assert!(f.add_range(0x1800, 0x4000)); // frames 0x2000, 0x3000
        assert!(!f.add_range(0x5000, 0x5fff)); // no whole frame
        assert!(f.add_range(0x10000, 0x11000));
        assert_eq!(f.available(), 3);
        assert_eq!(f.alloc(), Some(0x2000));
        assert_eq!(f.alloc(), Some(0x3000));
        assert_eq!(f.alloc(), Some(0x10000));
        assert_eq!(f.alloc(), None);
        assert_eq!(f.available(), 0);
    }

    #[test]
    fn freed_frames_come_back_first() {
        let mut f = FrameAllocator::new();
        f.add_range(0, 0x3000);
        let a = f.alloc().unwrap();
        let b = f.alloc().unwrap();
        f.free(a);
        assert_eq!(f.available(), 2);
        assert_eq!(f.alloc(), Some(a));
        assert_eq!(f.alloc(), Some(0x2000));
        assert_ne!(b, 0x2000);
        assert_eq!(f.alloc(), None);
    }

    #[test]
    fn range_at_the_top_of_the_address_space() {
        let mut f = FrameAllocator::new();
        assert!(!f.add_range(u64::MAX - 10, u64::MAX));
        assert!(f.add_range(u64::MAX - 0x2fff, u64::MAX));
        assert_eq!(f.alloc(), Some(0xffff_ffff_ffff_d000));
        assert_eq!(f.alloc(), Some(0xffff_ffff_ffff_e000));
        assert_eq!(f.alloc(), None);
    }
}

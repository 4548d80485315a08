//! Access to the memory of physical frames, the one place that turns a
//! [`PhysAddr`] into memory.
//!
//! A frame's memory may be read or written concurrently by user code on other
//! CPUs (VMO pages) or by the MMU (page-table entries get A/D bits), so it is
//! never viewed as `&[u8]` or `&mut [u64]`: every access is a relaxed atomic
//! 64-bit load or store. On x86_64 and aarch64 those compile to plain `mov` /
//! `ldr` / `str`, and they keep concurrent access defined behaviour.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::platform::{PAGE_SIZE, PhysAddr, Platform};

/// Number of 64-bit words in a frame.
pub const WORDS_PER_FRAME: usize = (PAGE_SIZE / 8) as usize;

/// The memory of one allocated frame, borrowed for `'a`.
#[derive(Clone, Copy)]
pub struct FrameMem<'a> {
    words: &'a [AtomicU64; WORDS_PER_FRAME],
}

impl<'a> FrameMem<'a> {
    /// Views the frame at `frame` through the platform's direct map.
    ///
    /// # Safety
    ///
    /// 1. `frame` was returned by `platform.alloc_frame()` and is not freed
    ///    for the whole of `'a`.
    /// 2. The memory is accessed only atomically while the view lives (the
    ///    crate's own accesses all go through [`FrameMem`]; hardware and user
    ///    code access it with aligned word or byte accesses).
    pub unsafe fn new<P: Platform>(platform: &P, frame: PhysAddr) -> FrameMem<'a> {
        let ptr = platform
            .phys_to_virt(frame)
            .cast::<[AtomicU64; WORDS_PER_FRAME]>();
        // SAFETY: by the Platform contract (2) the pointer is valid and
        // 8-byte aligned for PAGE_SIZE bytes while the frame is allocated,
        // which obligation 1 extends over 'a; AtomicU64 has the layout of
        // u64, and obligation 2 means no non-atomic Rust access races with
        // ours.
        let words = unsafe { &*ptr };
        FrameMem { words }
    }

    /// The frame as 512 words (page-table entries, or page data).
    pub fn words(&self) -> &'a [AtomicU64; WORDS_PER_FRAME] {
        self.words
    }

    /// Fills the frame with zeroes.
    pub fn zero(&self) {
        for w in self.words {
            w.store(0, Ordering::Relaxed);
        }
    }

    /// Copies the whole of `src` into this frame.
    pub fn copy_from(&self, src: &FrameMem<'_>) {
        for (d, s) in self.words.iter().zip(src.words) {
            d.store(s.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    /// Copies `buf.len()` bytes starting at byte `offset` into `buf`.
    ///
    /// Returns `false` (copying nothing) if the range leaves the frame.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> bool {
        if !in_frame(offset, buf.len()) {
            return false;
        }
        for (i, b) in buf.iter_mut().enumerate() {
            let at = offset + i;
            let word = self.words[at / 8].load(Ordering::Relaxed);
            *b = word.to_ne_bytes()[at % 8];
        }
        true
    }

    /// Copies `buf` into the frame starting at byte `offset`.
    ///
    /// Returns `false` (writing nothing) if the range leaves the frame. Words
    /// only partly covered are read, merged and written back; a concurrent
    /// user store to the other bytes of such a word may be lost, as it may
    /// with any kernel that copies with word stores.
    pub fn write(&self, offset: usize, buf: &[u8]) -> bool {
        if !in_frame(offset, buf.len()) {
            return false;
        }
        let mut at = offset;
        let mut rest = buf;
        while !rest.is_empty() {
            let idx = at / 8;
            let lane = at % 8;
            let n = (8 - lane).min(rest.len());
            let slot = &self.words[idx];
            if n == 8 {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&rest[..8]);
                slot.store(u64::from_ne_bytes(bytes), Ordering::Relaxed);
            } else {
                let mut bytes = slot.load(Ordering::Relaxed).to_ne_bytes();
                bytes[lane..lane + n].copy_from_slice(&rest[..n]);
                slot.store(u64::from_ne_bytes(bytes), Ordering::Relaxed);
            }
            at += n;
            rest = &rest[n..];
        }
        true
    }
}

fn in_frame(offset: usize, len: usize) -> bool {
    offset
        .checked_add(len)
        .is_some_and(|end| end <= PAGE_SIZE as usize)
}

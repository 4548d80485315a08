//! Access to the memory of physical frames, the one place that turns a
//! [`PhysAddr`] into memory.
//!
//! A frame's memory may be read or written concurrently by user code on other
//! CPUs (VMO pages) or by the MMU (page-table entries get A/D bits), so it is
//! never viewed as `&[u8]` or `&mut [u64]`: every access is a relaxed atomic
//! 64-bit load or store. On x86_64 and aarch64 those compile to plain `mov` /
//! `ldr` / `str`, and they keep concurrent access defined behaviour. The one
//! bulk operation, `xor_words`, uses 16-byte SSE2 accesses where the
//! target has them; each word is still read and written whole, so it counts
//! as the same atomic loads and stores.

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

/// Flips the bits of `delta` in every word of `words`: a bulk change of
/// page-table entries (the whole-table protect of
/// [`PageTable`](crate::mmu::PageTable)).
///
/// Every word is read and written whole, as a relaxed atomic load then
/// store would, so a concurrent reader (another CPU's page walker) sees
/// the old or the new entry, never a mix; an accessed/dirty bit the MMU
/// sets between the read and the write may be lost, as with any
/// load-modify-store of an entry. Where SSE2 is available (hosts; not the
/// soft-float `x86_64-unknown-none`), each 64-byte line is two words at a
/// time: four aligned 16-byte loads, then four stores, which streams
/// through tables ~1.35x faster than eight scalar read-modify-writes on
/// the CPUs measured (`benches/populated.rs`).
pub(crate) fn xor_words(words: &[AtomicU64], delta: u64) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(miri)))]
    let words = sse2::xor_lines(words, delta);
    for w in words {
        w.store(w.load(Ordering::Relaxed) ^ delta, Ordering::Relaxed);
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(miri)))]
mod sse2 {
    use core::arch::asm;
    use core::sync::atomic::{AtomicU64, Ordering};

    /// Words per 64-byte cache line.
    const LINE: usize = 8;

    /// [`xor_words`](super::xor_words) over the whole 64-byte lines of
    /// `words`; returns the words after the last line, still to do (the
    /// words before the first line are done here, one at a time).
    pub(super) fn xor_lines(words: &[AtomicU64], delta: u64) -> &[AtomicU64] {
        let head = words
            .as_ptr()
            .cast::<u8>()
            .align_offset(LINE * 8)
            .div_ceil(8)
            .min(words.len());
        let (head, rest) = words.split_at(head);
        for w in head {
            w.store(w.load(Ordering::Relaxed) ^ delta, Ordering::Relaxed);
        }
        let lines = rest.len() / LINE;
        let (body, tail) = rest.split_at(lines * LINE);
        if lines > 0 {
            // SAFETY: `body` is `lines` whole, 64-byte aligned lines of
            // live `AtomicU64`s that this function may access, and the asm
            // touches nothing else. Its effect is that of a relaxed atomic
            // load of each word, then a relaxed atomic store of it xor
            // `delta`: aligned 16-byte SSE accesses are single-copy atomic
            // on x86 CPUs with AVX (Intel SDM vol. 3A, "Guaranteed Atomic
            // Operations"; AMD APM vol. 2, "Access Atomicity") and made of
            // aligned 8-byte accesses on older ones, so they never race
            // with other atomic accesses to the words in a way the atomics
            // would not.
            unsafe {
                asm!(
                    "movq {d}, {delta}",
                    "punpcklqdq {d}, {d}",
                    "2:",
                    "movdqa {a}, xmmword ptr [{p}]",
                    "movdqa {b}, xmmword ptr [{p} + 16]",
                    "movdqa {c}, xmmword ptr [{p} + 32]",
                    "movdqa {e}, xmmword ptr [{p} + 48]",
                    "pxor {a}, {d}",
                    "pxor {b}, {d}",
                    "pxor {c}, {d}",
                    "pxor {e}, {d}",
                    "movdqa xmmword ptr [{p}], {a}",
                    "movdqa xmmword ptr [{p} + 16], {b}",
                    "movdqa xmmword ptr [{p} + 32], {c}",
                    "movdqa xmmword ptr [{p} + 48], {e}",
                    "add {p}, 64",
                    "dec {n}",
                    "jnz 2b",
                    p = inout(reg) body.as_ptr() => _,
                    n = inout(reg) lines => _,
                    delta = in(reg) delta,
                    d = out(xmm_reg) _,
                    a = out(xmm_reg) _,
                    b = out(xmm_reg) _,
                    c = out(xmm_reg) _,
                    e = out(xmm_reg) _,
                    options(nostack),
                );
            }
        }
        tail
    }
}

fn in_frame(offset: usize, len: usize) -> bool {
    offset
        .checked_add(len)
        .is_some_and(|end| end <= PAGE_SIZE as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// The bulk xor at every alignment and length around whole lines
    /// (head, lines, tail), against the word-by-word result.
    #[test]
    fn xor_words_matches_word_by_word() {
        let words: Vec<AtomicU64> = (0..64u64).map(|i| AtomicU64::new(i * 0x1_0001)).collect();
        let delta = 0x8000_0000_0000_0082;
        for start in 0..9 {
            for len in [0, 1, 7, 8, 9, 16, 23, 40, 55] {
                let before: Vec<u64> = words.iter().map(|w| w.load(Ordering::Relaxed)).collect();
                xor_words(&words[start..start + len], delta);
                for (i, w) in words.iter().enumerate() {
                    let inside = (start..start + len).contains(&i);
                    let want = if inside { before[i] ^ delta } else { before[i] };
                    assert_eq!(
                        w.load(Ordering::Relaxed),
                        want,
                        "start {start} len {len} word {i}"
                    );
                }
            }
        }
    }
}

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

use core::mem::{MaybeUninit, size_of};
use core::sync::atomic::{AtomicU64, Ordering};

use crate::abi::Pod;
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
    /// From a word-aligned `offset` the copy is one load per word.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> bool {
        if !in_frame(offset, buf.len()) {
            return false;
        }
        if offset.is_multiple_of(8) {
            let words = &self.words[offset / 8..];
            let whole = buf.len() / 8;
            let mut chunks = buf.chunks_exact_mut(8);
            for (chunk, word) in (&mut chunks).zip(words) {
                chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_ne_bytes());
            }
            let tail = chunks.into_remainder();
            if !tail.is_empty() {
                let last = words[whole].load(Ordering::Relaxed);
                tail.copy_from_slice(&last.to_ne_bytes()[..tail.len()]);
            }
            return true;
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
    /// Returns `false` (writing nothing) if the range leaves the frame. From
    /// a word-aligned `offset` the copy is one store per whole word. Words
    /// only partly covered are read, merged and written back; a concurrent
    /// user store to the other bytes of such a word may be lost, as it may
    /// with any kernel that copies with word stores.
    pub fn write(&self, offset: usize, buf: &[u8]) -> bool {
        if !in_frame(offset, buf.len()) {
            return false;
        }
        if offset.is_multiple_of(8) {
            let words = &self.words[offset / 8..];
            let mut chunks = buf.chunks_exact(8);
            for (chunk, word) in (&mut chunks).zip(words) {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(chunk);
                word.store(u64::from_ne_bytes(bytes), Ordering::Relaxed);
            }
            let tail = chunks.remainder();
            if !tail.is_empty() {
                let slot = &words[buf.len() / 8];
                let mut bytes = slot.load(Ordering::Relaxed).to_ne_bytes();
                bytes[..tail.len()].copy_from_slice(tail);
                slot.store(u64::from_ne_bytes(bytes), Ordering::Relaxed);
            }
            return true;
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

impl FrameMem<'_> {
    /// Reads a whole record at byte `offset`, one word load per 8 bytes
    /// (the restricted-mode state is read this way on every enter).
    ///
    /// `None` if `offset` is not 8-byte aligned or the record leaves the
    /// frame. `T`'s size must be a multiple of 8 (checked at compile time).
    #[inline]
    pub fn read_pod<T: Pod>(&self, offset: usize) -> Option<T> {
        const {
            assert!(
                size_of::<T>().is_multiple_of(8),
                "read_pod needs whole words"
            )
        };
        if !offset.is_multiple_of(8) || !in_frame(offset, size_of::<T>()) {
            return None;
        }
        let words = &self.words[offset / 8..offset / 8 + size_of::<T>() / 8];
        let mut out = MaybeUninit::<T>::uninit();
        let dst = out.as_mut_ptr().cast::<u64>();
        for (i, word) in words.iter().enumerate() {
            // SAFETY: `i < size_of::<T>() / 8`, so the 8 bytes written lie
            // inside `out`; unaligned, as `T` may be less aligned than u64.
            unsafe { dst.add(i).write_unaligned(word.load(Ordering::Relaxed)) };
        }
        // SAFETY: every byte of `out` was written just above, and `T: Pod`
        // accepts any bit pattern (Pod obligation 2).
        Some(unsafe { out.assume_init() })
    }

    /// Writes a whole record at byte `offset`, one word store per 8 bytes.
    ///
    /// Returns `false` (writing nothing) if `offset` is not 8-byte aligned
    /// or the record leaves the frame. `T`'s size must be a multiple of 8
    /// (checked at compile time).
    #[inline]
    pub fn write_pod<T: Pod>(&self, offset: usize, value: &T) -> bool {
        const {
            assert!(
                size_of::<T>().is_multiple_of(8),
                "write_pod needs whole words"
            )
        };
        if !offset.is_multiple_of(8) || !in_frame(offset, size_of::<T>()) {
            return false;
        }
        let words = &self.words[offset / 8..offset / 8 + size_of::<T>() / 8];
        let src = (value as *const T).cast::<u64>();
        for (i, word) in words.iter().enumerate() {
            // SAFETY: `i < size_of::<T>() / 8`, so the 8 bytes read lie inside
            // `*value`, all initialised (Pod obligation 3: no padding);
            // unaligned, as `T` may be less aligned than u64.
            word.store(unsafe { src.add(i).read_unaligned() }, Ordering::Relaxed);
        }
        true
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

    use crate::abi::zx_restricted_state_arm64_t;
    use crate::arch::X86_64;
    use crate::sim::Sim;

    fn with_frame(f: impl FnOnce(FrameMem<'_>)) {
        let sim = Sim::<X86_64>::new();
        let frame = sim.alloc_frame().unwrap();
        // SAFETY: a fresh frame of `sim`, freed only after `f` returns;
        // accessed only through the view.
        let mem = unsafe { FrameMem::new(&sim, frame) };
        mem.zero();
        f(mem);
        sim.free_frame(frame);
    }

    /// Every (offset, length) near word boundaries, both copy directions,
    /// against a byte-by-byte model of the frame.
    #[test]
    fn read_and_write_match_a_byte_model() {
        with_frame(|mem| {
            let mut model = [0u8; PAGE_SIZE as usize];
            let mut seed = 0x1234_5678u32;
            for offset in (0..40).chain(4056..4096) {
                for len in 0..=(PAGE_SIZE as usize - offset).min(37) {
                    let data: [u8; 37] = core::array::from_fn(|_| {
                        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        (seed >> 24) as u8
                    });
                    assert!(mem.write(offset, &data[..len]));
                    model[offset..offset + len].copy_from_slice(&data[..len]);
                    let mut back = [0u8; 37];
                    assert!(mem.read(offset, &mut back[..len]));
                    assert_eq!(back[..len], model[offset..offset + len], "{offset} {len}");
                }
            }
            let mut whole = [0u8; PAGE_SIZE as usize];
            assert!(mem.read(0, &mut whole));
            assert_eq!(whole, model);
            assert!(!mem.read(4090, &mut [0u8; 7]));
            assert!(!mem.write(4089, &[0u8; 8]));
            assert!(!mem.write(usize::MAX, &[0u8; 1]));
        });
    }

    #[test]
    fn pod_records_round_trip() {
        with_frame(|mem| {
            let mut state = zx_restricted_state_arm64_t::default();
            for (i, x) in state.x.iter_mut().enumerate() {
                *x = 0x0101_0101_0101_0101 * i as u64;
            }
            state.pc = 0x4000;
            state.cpsr = 0x6000_0000;
            state.padding1 = [1, 2, 3, 4];
            assert!(mem.write_pod(8, &state));
            let mut bytes = [0u8; 280];
            assert!(mem.read(8, &mut bytes));
            assert_eq!(&bytes[..], state.as_bytes());
            assert_eq!(mem.read_pod::<zx_restricted_state_arm64_t>(8), Some(state));
            assert_eq!(mem.read_pod::<u64>(8), Some(0));
            assert_eq!(mem.read_pod::<u64>(16), Some(0x0101_0101_0101_0101));
            assert_eq!(mem.read_pod::<zx_restricted_state_arm64_t>(4), None);
            assert_eq!(
                mem.read_pod::<zx_restricted_state_arm64_t>(4096 - 272),
                None
            );
            assert!(!mem.write_pod(4096 - 272, &state));
            assert!(!mem.write_pod(12, &7u64));
            assert!(mem.write_pod(4088, &7u64));
            assert_eq!(mem.read_pod::<u64>(4088), Some(7));
        });
    }
}

//! Address-space identifiers (x86_64 PCIDs, aarch64 ASIDs) recycled by
//! generation, so the number of live address spaces is not capped by the
//! identifier width.
//!
//! An identifier is a cache, not an identity. Each root table a CPU can
//! load (a *view*: a process's root, or a shared process's restricted and
//! unified roots) has an [`AsidSlot`] holding a *context*: the generation
//! it was given in and the identifier. A view gets an identifier when it is
//! first switched in ([`Asids::switch_in`], which
//! [`Kernel::user_view`](crate::Kernel::user_view) calls) and keeps it while
//! its generation is current. When every identifier of the generation is
//! taken, the next allocation *rolls over*: the generation advances, every
//! identifier becomes free again except the one each CPU is running (which
//! that CPU's view keeps), and every CPU owes a flush of its non-global
//! translations, which it pays lazily at its next switch
//! ([`UserView::flush`](crate::UserView::flush)) before it can load a
//! recycled identifier. This is the scheme of Linux's arm64
//! `arch/arm64/mm/context.c`; it needs no IPI, which matters because a
//! rollover happens in the middle of a switch, where waiting for other CPUs
//! would deadlock against a CPU doing the same.
//!
//! # Fast path and ordering
//!
//! A switch to a view whose generation is current is lock-free: one load of
//! the slot, one of the generation, and a compare-exchange of the CPU's
//! *active* context from a non-zero value. A rollover zeroes every CPU's
//! active context under the lock, so a CPU racing with it fails the
//! exchange and takes the locked slow path.
//!
//! TLB batches are aimed at a view's identifier when they are flushed, not
//! when the operation starts (`Tags::resolve`): the operation changes its
//! entries, issues a `SeqCst` fence, then reads the slot; a switch stores
//! the slot (a `SeqCst` read-modify-write, or under the lock) before the
//! host loads the root. So either the flush sees the new identifier, or the
//! CPU that switched in walks the tables after the change. Flushing an
//! identifier of a past generation is harmless: it only over-invalidates
//! whoever holds that number now.
//!
//! # Memory
//!
//! Per view: one `AsidSlot` (16 bytes, in an `Arc`: the context and the
//! CPUs that switched to the view, which its TLB batches name,
//! [`TlbBatch::cpus`](crate::mmu::TlbBatch::cpus)). Per kernel: a bitmap
//! of `2^bits` bits (8 KiB for 16-bit ASIDs) and 17 bytes per CPU.
//!
//! Locks: `Asids::state` (leaf; taken on the slow path only).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use core::sync::atomic::{AtomicU64, Ordering, fence};

use spin::Mutex;

use crate::mmu::tlb::{Asid, CpuSet, TlbTarget};

/// Bits of a context below its generation.
const ASID_SHIFT: u32 = 16;
const ASID_MASK: u64 = (1 << ASID_SHIFT) - 1;

#[inline]
fn asid_of(ctx: u64) -> Asid {
    (ctx & ASID_MASK) as Asid
}

/// One view's identifier: `generation << 16 | asid`, 0 before its first
/// switch; and the CPUs that switched to it (its TLB batches reach only
/// those).
#[derive(Debug, Default)]
pub struct AsidSlot {
    ctx: AtomicU64,
    cpus: AtomicU64,
}

impl AsidSlot {
    /// A slot that has no identifier yet.
    pub fn new() -> AsidSlot {
        AsidSlot::default()
    }

    /// The identifier last given (possibly of a past generation), or
    /// `None` if the view was never given one (so no CPU has cached any
    /// of its translations).
    pub fn last(&self) -> Option<Asid> {
        match self.ctx.load(Ordering::SeqCst) {
            0 => None,
            ctx => Some(asid_of(ctx)),
        }
    }

    /// The CPUs that ever switched to the view: they may cache its
    /// translations. (A CPU stays in the set for the view's life; clearing
    /// it would need to know the CPU flushed since, which costs more on
    /// every switch than the spare IPIs cost.)
    pub fn cpus(&self) -> CpuSet {
        CpuSet::from_bits(self.cpus.load(Ordering::SeqCst))
    }

    /// Adds `cpu` before the CPU can cache anything of the view (a
    /// `SeqCst` read-modify-write, paired with the fence of
    /// [`Tags::resolve`]). A plain load when it is already in.
    #[inline]
    fn note_cpu(&self, cpu: usize) {
        let bit = CpuSet::one(cpu).bits();
        if self.cpus.load(Ordering::SeqCst) & bit != bit {
            self.cpus.fetch_or(bit, Ordering::SeqCst);
        }
    }
}

/// The identifiers a page table's translations are cached under, read when
/// a batch is flushed.
#[derive(Clone, Debug)]
pub(crate) enum Tags {
    /// A fixed target (a page table built with a caller-chosen ASID, or
    /// the shared region of a sharing group: every identifier).
    Fixed(TlbTarget),
    /// One view's slot.
    One(Arc<AsidSlot>),
    /// A shared process's restricted region: its restricted view and its
    /// unified view.
    Pair(Arc<AsidSlot>, Arc<AsidSlot>),
}

impl Tags {
    /// The target to flush now and the CPUs to reach, `None` when no view
    /// was ever switched in (nothing can be cached). Call after the
    /// entries changed: the fence orders those stores before the slot
    /// loads (module docs).
    pub(crate) fn resolve(&self) -> Option<(TlbTarget, CpuSet)> {
        fence(Ordering::SeqCst);
        match self {
            Tags::Fixed(t) => Some((*t, CpuSet::ALL)),
            Tags::One(s) => s.last().map(|a| (TlbTarget::Asid(a), s.cpus())),
            Tags::Pair(a, b) => {
                let cpus = a.cpus().union(b.cpus());
                match (a.last(), b.last()) {
                    (Some(a), Some(b)) => Some((TlbTarget::Pair(a, b), cpus)),
                    (Some(x), None) | (None, Some(x)) => Some((TlbTarget::Asid(x), cpus)),
                    (None, None) => None,
                }
            }
        }
    }

    /// The target a new batch starts with (replaced at flush time).
    pub(crate) fn nominal(&self) -> TlbTarget {
        match self {
            Tags::Fixed(t) => *t,
            Tags::One(_) | Tags::Pair(..) => TlbTarget::Asid(0),
        }
    }
}

/// What a CPU must do when it loads a view: [`Asids::switch_in`]'s answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Switch {
    /// The identifier to load the root with.
    pub asid: Asid,
    /// The CPU must drop every non-global translation it caches (of every
    /// identifier) before it runs user code under `asid`: identifiers were
    /// recycled since this CPU last switched.
    pub flush: bool,
}

struct State {
    /// Identifiers taken in the current generation (bit 0, the kernel's,
    /// always set).
    used: Vec<u64>,
    /// Where the next search for a free identifier starts.
    next: usize,
    /// Per CPU: the context it kept across the last rollover.
    reserved: Box<[u64]>,
    /// Per CPU: it must flush before its next user run.
    flush_pending: Box<[bool]>,
}

impl State {
    fn test(&self, asid: usize) -> bool {
        self.used[asid / 64] & (1 << (asid % 64)) != 0
    }

    fn set(&mut self, asid: usize) {
        self.used[asid / 64] |= 1 << (asid % 64);
    }

    fn clear(&mut self, asid: usize) {
        self.used[asid / 64] &= !(1 << (asid % 64));
    }

    /// The first free identifier at or after `next`, wrapping once.
    fn find_free(&self, count: usize) -> Option<usize> {
        (self.next..count)
            .chain(1..self.next.min(count))
            .find(|&a| !self.test(a))
    }
}

/// The kernel's identifier allocator: `bits` wide, for `cpus` CPUs.
pub struct Asids {
    bits: u32,
    /// `generation << 16`; the first generation is 1, so no context is 0.
    generation: AtomicU64,
    /// Per CPU: the context it runs now (0 after a rollover until it
    /// switches again).
    active: Box<[AtomicU64]>,
    state: Mutex<State>,
}

impl core::fmt::Debug for Asids {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Asids")
            .field("bits", &self.bits)
            .field("generation", &self.generation())
            .finish()
    }
}

impl Asids {
    /// An allocator of `bits`-wide identifiers (clamped to `1..=16`, and
    /// widened until there are more usable identifiers than CPUs, which a
    /// rollover needs) for CPUs `0..cpus` (at least one).
    pub fn new(bits: u32, cpus: usize) -> Asids {
        let cpus = cpus.max(1);
        let mut bits = bits.clamp(1, ASID_SHIFT);
        while bits < ASID_SHIFT && (1usize << bits) - 1 <= cpus {
            bits += 1;
        }
        let count = 1usize << bits;
        let mut state = State {
            used: vec![0; count.div_ceil(64)],
            next: 1,
            reserved: vec![0; cpus].into_boxed_slice(),
            flush_pending: vec![false; cpus].into_boxed_slice(),
        };
        state.set(0);
        Asids {
            bits,
            generation: AtomicU64::new(1 << ASID_SHIFT),
            active: (0..cpus).map(|_| AtomicU64::new(0)).collect(),
            state: Mutex::new(state),
        }
    }

    /// The identifier width in use.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// CPUs this allocator tracks.
    pub fn cpus(&self) -> usize {
        self.active.len()
    }

    /// The current generation (1, then one more per rollover).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst) >> ASID_SHIFT
    }

    fn count(&self) -> usize {
        1 << self.bits
    }

    #[inline]
    fn is_current(&self, ctx: u64) -> bool {
        ctx != 0 && (ctx ^ self.generation.load(Ordering::SeqCst)) >> ASID_SHIFT == 0
    }

    /// CPU `cpu` is about to load the view of `slot`: gives the view an
    /// identifier of the current generation if it has none, and says
    /// whether this CPU must flush first.
    ///
    /// # Panics
    ///
    /// If `cpu` is not below [`cpus`](Asids::cpus) (a host bug).
    #[inline]
    pub fn switch_in(&self, cpu: usize, slot: &AsidSlot) -> Switch {
        let active = &self.active[cpu];
        let ctx = slot.ctx.load(Ordering::SeqCst);
        let old = active.load(Ordering::SeqCst);
        // The CPU already runs this context: nothing changes (a rollover
        // racing with this kept its identifier for this CPU, and the
        // CPU's flush waits for its next real switch).
        let fast = old != 0
            && self.is_current(ctx)
            && (old == ctx
                || active
                    .compare_exchange(old, ctx, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok());
        if fast {
            slot.note_cpu(cpu);
            return Switch {
                asid: asid_of(ctx),
                flush: false,
            };
        }
        self.switch_slow(cpu, slot)
    }

    /// [`switch_in`](Asids::switch_in) under the lock.
    #[cold]
    #[inline(never)]
    fn switch_slow(&self, cpu: usize, slot: &AsidSlot) -> Switch {
        let active = &self.active[cpu];
        let mut st = self.state.lock();
        let ctx = self.renew(&mut st, slot);
        let flush = core::mem::take(&mut st.flush_pending[cpu]);
        slot.note_cpu(cpu);
        active.store(ctx, Ordering::SeqCst);
        Switch {
            asid: asid_of(ctx),
            flush,
        }
    }

    /// The view's identifier in the current generation, given now if it
    /// has none (no CPU switches to it): for debuggers and tests that read
    /// through a view without a CPU. Since that may be any CPU, the view's
    /// batches reach every CPU from then on. A host switching a CPU uses
    /// [`switch_in`](Asids::switch_in).
    pub fn current(&self, slot: &AsidSlot) -> Asid {
        // Whoever reads through the view now may do so on any CPU.
        slot.cpus.fetch_or(CpuSet::ALL.bits(), Ordering::SeqCst);
        let ctx = slot.ctx.load(Ordering::SeqCst);
        if self.is_current(ctx) {
            return asid_of(ctx);
        }
        asid_of(self.renew(&mut self.state.lock(), slot))
    }

    /// Gives up the view's identifier (its translations must already be
    /// flushed from every CPU): free again in this generation.
    pub fn release(&self, slot: &AsidSlot) {
        let mut st = self.state.lock();
        let ctx = slot.ctx.swap(0, Ordering::SeqCst);
        if self.is_current(ctx) {
            st.clear(usize::from(asid_of(ctx)));
        }
    }

    /// Under the lock: the slot's context, brought into the current
    /// generation.
    fn renew(&self, st: &mut State, slot: &AsidSlot) -> u64 {
        let ctx = slot.ctx.load(Ordering::SeqCst);
        if self.is_current(ctx) {
            return ctx;
        }
        let ctx = self.new_context(st, ctx);
        slot.ctx.store(ctx, Ordering::SeqCst);
        ctx
    }

    /// A context of the current generation for a view whose last one was
    /// `old` (0 for none): its old identifier if a CPU kept it across the
    /// rollover or nobody took it since, else a free one, rolling over when
    /// none is left.
    fn new_context(&self, st: &mut State, old: u64) -> u64 {
        let epoch = self.generation.load(Ordering::SeqCst);
        if old != 0 {
            let asid = usize::from(asid_of(old));
            let fresh = epoch | asid as u64;
            let mut kept = false;
            for r in st.reserved.iter_mut().filter(|r| **r == old) {
                *r = fresh;
                kept = true;
            }
            if kept {
                return fresh;
            }
            if !st.test(asid) {
                st.set(asid);
                return fresh;
            }
        }
        let (epoch, asid) = match st.find_free(self.count()) {
            Some(asid) => (epoch, asid),
            None => {
                let epoch = self.roll_over(st);
                // More usable identifiers than CPUs (`new`): one is free.
                let asid = st.find_free(self.count()).unwrap_or(1);
                (epoch, asid)
            }
        };
        st.set(asid);
        st.next = asid + 1;
        epoch | asid as u64
    }

    /// Starts a new generation: every identifier is free except those the
    /// CPUs run now (kept as reserved), and every CPU owes a flush.
    fn roll_over(&self, st: &mut State) -> u64 {
        let epoch =
            self.generation.fetch_add(1 << ASID_SHIFT, Ordering::SeqCst) + (1 << ASID_SHIFT);
        st.used.fill(0);
        st.set(0);
        for (cpu, active) in self.active.iter().enumerate() {
            let mut ctx = active.swap(0, Ordering::SeqCst);
            // A CPU that has not switched since the last rollover still
            // runs what it reserved then.
            if ctx == 0 {
                ctx = st.reserved[cpu];
            }
            if ctx != 0 {
                st.set(usize::from(asid_of(ctx)));
            }
            st.reserved[cpu] = ctx;
        }
        st.flush_pending.fill(true);
        st.next = 1;
        epoch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_generation_switch_is_fast_and_stable() {
        let a = Asids::new(8, 1);
        let s = AsidSlot::new();
        let first = a.switch_in(0, &s);
        assert_eq!(
            first,
            Switch {
                asid: 1,
                flush: false
            }
        );
        assert_eq!(a.switch_in(0, &s), first);
        assert_eq!(a.generation(), 1);
    }

    #[test]
    fn rollover_keeps_running_identifiers_and_asks_every_cpu_to_flush() {
        // 2 bits: identifiers 1..=3, two CPUs.
        let a = Asids::new(2, 2);
        let slots: Vec<AsidSlot> = (0..4).map(|_| AsidSlot::new()).collect();
        let on0 = a.switch_in(0, &slots[0]).asid;
        let on1 = a.switch_in(1, &slots[1]).asid;
        a.switch_in(0, &slots[2]);
        // CPU 0 now runs slots[2], CPU 1 slots[1]; the fourth view rolls
        // over and must not get either's identifier.
        let s3 = a.switch_in(0, &slots[3]);
        assert_eq!(a.generation(), 2);
        assert!(s3.flush, "CPU 0 must flush after the rollover");
        assert_ne!(s3.asid, on1);
        assert_ne!(s3.asid, a.current(&slots[2]));
        // CPU 1 keeps its identifier, and flushes at its next switch.
        let again = a.switch_in(1, &slots[1]);
        assert_eq!(
            again,
            Switch {
                asid: on1,
                flush: true
            }
        );
        assert!(!a.switch_in(1, &slots[1]).flush);
        let _ = on0;
    }

    #[test]
    fn width_is_widened_past_the_cpu_count() {
        assert_eq!(Asids::new(1, 1).bits(), 2);
        assert_eq!(Asids::new(2, 3).bits(), 3);
        assert_eq!(Asids::new(20, 1).bits(), 16);
    }

    #[test]
    fn release_frees_only_a_current_identifier() {
        let a = Asids::new(2, 1);
        let (x, y) = (AsidSlot::new(), AsidSlot::new());
        let ax = a.current(&x);
        a.release(&x);
        assert_eq!(x.last(), None);
        assert_eq!(a.current(&y), ax + 1);
        let z = AsidSlot::new();
        // ax is free again in this generation: the search wraps to it.
        assert_eq!(a.current(&z), 3);
        let w = AsidSlot::new();
        assert_eq!(a.current(&w), ax);
        assert_eq!(a.generation(), 1);
    }

    #[test]
    fn releasing_a_past_generation_frees_nothing_of_the_current_one() {
        let a = Asids::new(2, 1);
        let slots: Vec<AsidSlot> = (0..6).map(|_| AsidSlot::new()).collect();
        let [x, y, z, w, v, u] = &slots[..] else {
            unreachable!()
        };
        assert_eq!(a.switch_in(0, x).asid, 1);
        a.switch_in(0, y);
        a.switch_in(0, z);
        // Rollover: z (running) keeps 3; w takes x's old 1.
        let wa = a.switch_in(0, w).asid;
        assert_eq!((a.generation(), wa), (2, 1));
        // x dies: its 1 is of generation 1 and must stay w's.
        a.release(x);
        a.current(v);
        let ua = a.current(u);
        assert_ne!(ua, a.current(w), "two live views share an identifier");
    }
}

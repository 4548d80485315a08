//! The crate's fallible heap reservations, all through one trait, so that
//! the simulated machine can make any one of them fail
//! ([`Sim::fail_heap_after`](crate::sim::Sim::fail_heap_after)) and tests
//! can check that `NO_MEMORY` from the heap changes nothing, as they do
//! for frames.
//!
//! Every operation that can report `NO_MEMORY` reserves what it needs
//! before its first change, through [`Reserve::reserve_fallibly`]; what it
//! allocates after that point cannot fail (the reservation holds it). The
//! other allocations (an `Arc` for a new object, a `BTreeMap` node) abort
//! on exhaustion, as `alloc` does; a kernel that cannot accept that gives
//! the crate a heap that does not run out.

use alloc::collections::{TryReserveError, VecDeque};
use alloc::vec::Vec;

/// A collection whose spare capacity can be reserved without aborting.
pub(crate) trait Reserve {
    /// Reserves room for `n` more elements, or fails (without changing
    /// anything) when the heap cannot give it, or when the sim says this
    /// reservation fails.
    fn reserve_fallibly(&mut self, n: usize) -> Result<(), TryReserveError>;
}

impl<T> Reserve for Vec<T> {
    #[inline]
    fn reserve_fallibly(&mut self, n: usize) -> Result<(), TryReserveError> {
        injected(self.capacity() - self.len(), n)?;
        self.try_reserve(n)
    }
}

impl<T> Reserve for VecDeque<T> {
    #[inline]
    fn reserve_fallibly(&mut self, n: usize) -> Result<(), TryReserveError> {
        injected(self.capacity() - self.len(), n)?;
        self.try_reserve(n)
    }
}

/// The sim's injected failure, if this reservation is the one to fail. A
/// reservation the spare capacity already covers allocates nothing, so it
/// cannot fail and is not counted.
#[inline]
fn injected(spare: usize, n: usize) -> Result<(), TryReserveError> {
    if spare >= n {
        return Ok(());
    }
    #[cfg(feature = "sim")]
    if crate::sim::heap_fails_now() {
        // A real `TryReserveError` (capacity overflow): the type has no
        // public constructor.
        return Vec::<u8>::new().try_reserve(usize::MAX);
    }
    Ok(())
}

//! [`FrameReserve`]: frames allocated ahead of an operation that must not
//! fail half-way.
//!
//! `zx_vmar_protect` and unmap may have to split a large leaf where the
//! range cuts it, which takes a frame for the new table. The VM layer asks
//! each page table how many frames a range could need
//! ([`PageTable::frames_needed`](crate::mmu::PageTable::frames_needed)),
//! reserves the sum for every range of the operation at once, and only then
//! changes anything; the apply pass takes its frames from the reserve and
//! cannot run out. Frames left over go back to the platform when the
//! reserve is dropped.
//!
//! A reserve holds frames of one platform; it takes no lock.

use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::heap::Reserve;
use crate::platform::{PhysAddr, Platform};

/// Frames taken from the platform ahead of time; unused ones are freed on
/// drop.
///
/// The contents of a reserved frame are unspecified; whoever takes one
/// initialises all of it.
pub struct FrameReserve<P: Platform> {
    platform: P,
    frames: Vec<PhysAddr>,
}

impl<P: Platform> FrameReserve<P> {
    /// An empty reserve (allocates nothing).
    pub fn empty(platform: &P) -> FrameReserve<P> {
        FrameReserve {
            platform: platform.clone(),
            frames: Vec::new(),
        }
    }

    /// Reserves `n` frames, all or nothing.
    ///
    /// # Errors
    ///
    /// `NO_MEMORY` if a frame (or the list holding them) cannot be
    /// allocated; every frame taken so far is returned first.
    pub fn new(platform: &P, n: usize) -> Result<FrameReserve<P>> {
        let mut reserve = FrameReserve::empty(platform);
        reserve.grow(n)?;
        Ok(reserve)
    }

    /// Frames currently held.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether the reserve holds no frame.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Adds `n` more frames, all or nothing.
    ///
    /// # Errors
    ///
    /// `NO_MEMORY` as for [`new`](FrameReserve::new); the reserve is then
    /// as it was.
    pub fn grow(&mut self, n: usize) -> Result<()> {
        self.frames.reserve_fallibly(n)?;
        let before = self.frames.len();
        for _ in 0..n {
            match self.platform.alloc_frame() {
                Some(frame) => self.frames.push(frame),
                None => {
                    for frame in self.frames.drain(before..) {
                        self.platform.free_frame(frame);
                    }
                    return Err(Error::NoMemory);
                }
            }
        }
        Ok(())
    }

    /// Grows the reserve to at least `n` frames, all or nothing.
    ///
    /// # Errors
    ///
    /// `NO_MEMORY` as for [`grow`](FrameReserve::grow).
    pub fn ensure(&mut self, n: usize) -> Result<()> {
        match n.checked_sub(self.frames.len()) {
            Some(missing) if missing > 0 => self.grow(missing),
            _ => Ok(()),
        }
    }

    /// Takes one frame out of the reserve; the caller owns it.
    pub(crate) fn take(&mut self) -> Option<PhysAddr> {
        self.frames.pop()
    }
}

impl<P: Platform> Drop for FrameReserve<P> {
    fn drop(&mut self) {
        for frame in self.frames.drain(..) {
            self.platform.free_frame(frame);
        }
    }
}

impl<P: Platform> core::fmt::Debug for FrameReserve<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FrameReserve")
            .field("frames", &self.frames.len())
            .finish()
    }
}

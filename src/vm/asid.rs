//! Address-space identifiers (x86_64 PCIDs, aarch64 ASIDs).
//!
//! Each [`AddressSpace`](super::AddressSpace) takes one from the kernel's
//! pool for its life, so TLB entries of different processes never alias and
//! switching address spaces needs no flush. ASID 0 is reserved for the
//! kernel. When the pool is empty, creating a process fails with
//! `NO_RESOURCES` (this crate does not recycle ASIDs by generation
//! roll-over).
//!
//! Lock: `AsidPool::free` (leaf).

use alloc::vec::Vec;

use spin::Mutex;

use crate::error::{Error, Result};
use crate::mmu::Asid;

/// A pool of address-space identifiers `1..count`.
pub struct AsidPool {
    free: Mutex<Vec<Asid>>,
}

impl AsidPool {
    /// A pool handing out `1..count` (`count` at most 65,536).
    pub fn new(count: usize) -> AsidPool {
        let top = count.min(1 << 16);
        AsidPool {
            free: Mutex::new((1..top).rev().map(|a| a as Asid).collect()),
        }
    }

    /// Takes an identifier.
    ///
    /// # Errors
    ///
    /// `NO_RESOURCES` when every identifier is in use.
    pub fn alloc(&self) -> Result<Asid> {
        self.free
            .lock()
            .pop()
            .ok_or(Error::NoResources("no address-space identifier left"))
    }

    /// Returns an identifier (its TLB entries must already be flushed).
    pub fn release(&self, asid: Asid) {
        self.free.lock().push(asid);
    }
}

//! Guest memory, from the runner's side.
//!
//! The guest's mappings live in the runner's own address space (the
//! restricted region is part of the unified view normal mode runs in), so
//! the runner reads and writes guest memory directly — but only after
//! [`Mm::check`](crate::mm::Mm::check) says every byte is mapped with the
//! access asked, from the model of mappings that the runner itself made.
//! Anything else is `-EFAULT`, never a fault in the runner. Pages not yet
//! touched are demand-paged by the kernel, as for any normal-mode access.

use alloc::vec::Vec;

use crate::errno::{Errno, Result};
use crate::mm::{Aspace, Prot};

use super::{Host, Linux};

/// The longest string argument read (`PATH_MAX`); longer is
/// `ENAMETOOLONG`.
pub const STR_MAX: usize = 4096;

impl<A: Aspace, H: Host> Linux<A, H> {
    /// Copies `buf.len()` guest bytes at `addr` into `buf`.
    ///
    /// # Errors
    ///
    /// `EFAULT`.
    pub fn read_user(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        self.mm.check(addr, buf.len() as u64, Prot::R)?;
        if !buf.is_empty() {
            // SAFETY: the model says `[addr, addr + len)` is mapped readable
            // in this address space (the runner made every guest mapping
            // and changes them only through the model), and no Rust
            // reference covers guest memory.
            unsafe {
                core::ptr::copy_nonoverlapping(addr as *const u8, buf.as_mut_ptr(), buf.len())
            };
        }
        Ok(())
    }

    /// Copies `data` to the guest at `addr`.
    ///
    /// # Errors
    ///
    /// `EFAULT`.
    pub fn write_user(&self, addr: u64, data: &[u8]) -> Result<()> {
        self.mm.check(addr, data.len() as u64, Prot::RW)?;
        if !data.is_empty() {
            // SAFETY: as in `read_user`, mapped writable.
            unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), addr as *mut u8, data.len()) };
        }
        Ok(())
    }

    /// `len` guest bytes at `addr`, copied.
    ///
    /// # Errors
    ///
    /// `EFAULT`.
    pub fn read_vec(&self, addr: u64, len: usize) -> Result<Vec<u8>> {
        let mut v = alloc::vec![0u8; len];
        self.read_user(addr, &mut v)?;
        Ok(v)
    }

    /// A little-endian `u64` at `addr`.
    ///
    /// # Errors
    ///
    /// `EFAULT`.
    pub fn read_u64(&self, addr: u64) -> Result<u64> {
        let mut b = [0u8; 8];
        self.read_user(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Writes a `u64`.
    ///
    /// # Errors
    ///
    /// `EFAULT`.
    pub fn write_u64(&self, addr: u64, v: u64) -> Result<()> {
        self.write_user(addr, &v.to_le_bytes())
    }

    /// Writes a `u32`.
    ///
    /// # Errors
    ///
    /// `EFAULT`.
    pub fn write_u32(&self, addr: u64, v: u32) -> Result<()> {
        self.write_user(addr, &v.to_le_bytes())
    }

    /// The NUL-terminated string at `addr` (without the NUL).
    ///
    /// # Errors
    ///
    /// `EFAULT`, `ENAMETOOLONG` past [`STR_MAX`].
    pub fn read_cstr(&self, addr: u64) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut at = addr;
        loop {
            let room = (crate::mm::PAGE - at % crate::mm::PAGE) as usize;
            let n = room.min(STR_MAX + 1 - out.len());
            let mut chunk = alloc::vec![0u8; n];
            self.read_user(at, &mut chunk)?;
            if let Some(z) = chunk.iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..z]);
                return Ok(out);
            }
            out.extend_from_slice(&chunk);
            if out.len() > STR_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            at = at.checked_add(n as u64).ok_or(Errno::EFAULT)?;
        }
    }

    /// The `(base, len)` pairs of an iovec array (`IOV_MAX` 1024).
    ///
    /// # Errors
    ///
    /// `EINVAL` (count, total overflow), `EFAULT`.
    pub fn read_iovecs(&self, addr: u64, count: u64) -> Result<Vec<(u64, u64)>> {
        if count > 1024 {
            return Err(Errno::EINVAL);
        }
        let raw = self.read_vec(addr, count as usize * 16)?;
        let mut total: u64 = 0;
        let mut v = Vec::with_capacity(count as usize);
        for c in raw.chunks_exact(16) {
            let base = u64::from_le_bytes(c[..8].try_into().unwrap_or([0; 8]));
            let len = u64::from_le_bytes(c[8..].try_into().unwrap_or([0; 8]));
            total = total
                .checked_add(len)
                .filter(|t| *t <= i64::MAX as u64)
                .ok_or(Errno::EINVAL)?;
            v.push((base, len));
        }
        Ok(v)
    }
}

//! The real [`Aspace`]: the guest's mappings through the crate's
//! `zx_vmar_map` / `_unmap` / `_protect` on the restricted VMAR.
//!
//! - Zero-filled memory: a fresh VMO per mapping (pages committed on first
//!   touch), mapped `ZX_VM_SPECIFIC` (plus `SPECIFIC_OVERWRITE` when it
//!   replaces something).
//! - Private copies of file bytes: a fresh VMO written with the bytes,
//!   except executable ones: those are `ZX_VMO_CHILD_SLICE`s of the
//!   archive VMO, whose handle carries `ZX_RIGHT_EXECUTE` (as a bootfs VMO
//!   does in Zircon; the runner has no other way to executable memory, so
//!   anonymous `PROT_EXEC` memory is refused with `EACCES`). The xtask
//!   page-aligns every file in the archive for this.
//! - Every `mprotect` is a `zx_vmar_protect` (counted for `--stats`).

use zx_subsystem::abi::{
    Status, ZX_VM_PERM_EXECUTE, ZX_VM_PERM_READ, ZX_VM_PERM_WRITE, ZX_VM_SPECIFIC,
    ZX_VM_SPECIFIC_OVERWRITE, ZX_VMO_CHILD_SLICE,
};
use zx_user::{Vmar, Vmo};

use crate::errno::{Errno, Result};
use crate::mm::{Aspace, PAGE, Prot};

/// The restricted VMAR and the archive.
pub struct ZxAspace {
    /// The VMAR the guest's mappings go in.
    pub vmar: Vmar,
    /// Its base address.
    pub base: u64,
    /// The archive VMO (read + execute).
    pub archive: Vmo,
    /// Where the runner sees the archive.
    pub archive_addr: u64,
    /// The archive's length.
    pub archive_len: u64,
}

fn perms(p: Prot) -> u32 {
    let mut o = 0;
    if p.read {
        o |= ZX_VM_PERM_READ;
    }
    if p.write {
        o |= ZX_VM_PERM_WRITE;
    }
    if p.exec {
        o |= ZX_VM_PERM_EXECUTE;
    }
    o
}

fn errno(s: Status) -> Errno {
    match s {
        Status::AccessDenied => Errno::EACCES,
        _ => Errno::ENOMEM,
    }
}

impl ZxAspace {
    fn map(&self, addr: u64, len: u64, prot: Prot, vmo: &Vmo, replace: bool) -> Result<()> {
        let mut opts = perms(prot) | ZX_VM_SPECIFIC;
        if replace {
            opts = (opts & !ZX_VM_SPECIFIC) | ZX_VM_SPECIFIC_OVERWRITE;
        }
        let offset = addr.checked_sub(self.base).ok_or(Errno::ENOMEM)?;
        self.vmar.map(opts, offset, vmo, 0, len).map_err(errno)?;
        Ok(())
    }
}

impl Aspace for ZxAspace {
    fn map_zero(&mut self, addr: u64, len: u64, prot: Prot, replace: bool) -> Result<()> {
        if prot.exec {
            return Err(Errno::EACCES);
        }
        let vmo = Vmo::create(len, 0).map_err(errno)?;
        self.map(addr, len, prot, &vmo, replace)
    }

    fn map_copy(
        &mut self,
        addr: u64,
        len: u64,
        prot: Prot,
        data: &[u8],
        replace: bool,
    ) -> Result<()> {
        if prot.exec {
            let at = (data.as_ptr() as u64).wrapping_sub(self.archive_addr);
            if at >= self.archive_len
                || !at.is_multiple_of(PAGE)
                || at + len > self.archive_len.next_multiple_of(PAGE)
            {
                return Err(Errno::EACCES);
            }
            let slice = self
                .archive
                .create_child(ZX_VMO_CHILD_SLICE, at, len)
                .map_err(errno)?;
            return self.map(addr, len, prot, &slice, replace);
        }
        let vmo = Vmo::create(len, 0).map_err(errno)?;
        let n = data.len().min(len as usize);
        vmo.write(&data[..n], 0).map_err(errno)?;
        self.map(addr, len, prot, &vmo, replace)
    }

    fn unmap(&mut self, addr: u64, len: u64) -> Result<()> {
        // SAFETY: the range is guest memory (inside the restricted VMAR);
        // the runner holds no reference into it.
        unsafe { self.vmar.unmap(addr, len) }.map_err(errno)
    }

    fn protect(&mut self, addr: u64, len: u64, prot: Prot) -> Result<()> {
        // SAFETY: as in `unmap`: guest memory only.
        unsafe { self.vmar.protect(perms(prot), addr, len) }.map_err(errno)
    }
}

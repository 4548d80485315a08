//! Virtual memory: VMOs, the per-process VMAR tree, mappings, page faults,
//! user copies and `zx_vmar_protect`.
//!
//! - [`vmo`]: the [`Vmo`] object; `vmo_tree` (nodes, lookups, copy on
//!   write), `vmo_clone` (children), `vmo_reclaim` (freeing what no VMO can
//!   see) hold its tree's algorithms.
//! - [`region`]: the VMAR tree's nodes and address-range walks.
//! - [`aspace`]: [`AddressSpace`]: allocate, map, page faults; `unmap`:
//!   unmap, destroy, user copies; `write_protect`: taking `WRITE` from the
//!   translations of frames a snapshot made shared.
//! - `placement`: where a new VMAR or mapping goes ([`Placement`]).
//! - [`protect`]: `zx_vmar_protect`'s check and apply passes.
//! - [`vmar`]: the [`Vmar`] handle object.
//! - [`inspect`]: a read-only snapshot of the VMAR tree.
//!
//! Locks, in order: `AddressSpace::tree`, then a VMO tree's lock, then
//! `AddressSpace::page_table` (see [`crate::object`] for the whole order).

pub mod aspace;
pub mod inspect;
mod placement;
pub mod protect;
pub mod region;
mod slab;
mod unmap;
pub mod vmar;
pub mod vmo;
mod vmo_clone;
mod vmo_reclaim;
mod vmo_tree;
mod write_protect;

pub use aspace::{AddressSpace, AspaceKind, Placement};
pub(crate) use placement::MapRequest;
pub use protect::OpChildren;
pub(crate) use unmap::Reach;
pub use vmar::Vmar;
pub use vmo::{ChildKind, MAX_VMO_SIZE, Vmo};

use bitflags::bitflags;

use crate::abi::Rights;
use crate::abi::{VmOptions, ZX_VM_PERM_EXECUTE, ZX_VM_PERM_READ, ZX_VM_PERM_WRITE};
use crate::platform::PAGE_SIZE;
use crate::trap::Access;

bitflags! {
    /// Access permissions of a mapping or a protection range, with the bit
    /// values of `ZX_VM_PERM_*`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct Perms: u32 {
        /// Readable.
        const READ = ZX_VM_PERM_READ;
        /// Writable.
        const WRITE = ZX_VM_PERM_WRITE;
        /// Executable.
        const EXECUTE = ZX_VM_PERM_EXECUTE;
    }
}

impl Perms {
    /// The permission bits of a `zx_vm_option_t`.
    pub fn from_options(options: VmOptions) -> Perms {
        Perms::from_bits_truncate(options.bits())
    }

    /// The `CAN_MAP_*` bits of a `zx_vm_option_t`, as permissions.
    pub fn from_can_map(options: VmOptions) -> Perms {
        let mut p = Perms::empty();
        p.set(Perms::READ, options.contains(VmOptions::CAN_MAP_READ));
        p.set(Perms::WRITE, options.contains(VmOptions::CAN_MAP_WRITE));
        p.set(Perms::EXECUTE, options.contains(VmOptions::CAN_MAP_EXECUTE));
        p
    }

    /// The permissions a handle's `READ`/`WRITE`/`EXECUTE` rights allow.
    pub fn from_rights(rights: Rights) -> Perms {
        let mut p = Perms::empty();
        p.set(Perms::READ, rights.contains(Rights::READ));
        p.set(Perms::WRITE, rights.contains(Rights::WRITE));
        p.set(Perms::EXECUTE, rights.contains(Rights::EXECUTE));
        p
    }

    /// The handle rights these permissions need.
    pub fn rights(self) -> Rights {
        let mut r = Rights::empty();
        r.set(Rights::READ, self.contains(Perms::READ));
        r.set(Rights::WRITE, self.contains(Perms::WRITE));
        r.set(Rights::EXECUTE, self.contains(Perms::EXECUTE));
        r
    }

    /// Whether these permissions allow `access`.
    pub fn allows(self, access: Access) -> bool {
        match access {
            Access::Read => self.contains(Perms::READ),
            Access::Write => self.contains(Perms::WRITE),
            Access::Execute => self.contains(Perms::EXECUTE),
        }
    }
}

/// Memory that user pointers are resolved in, as a user-mode access would
/// resolve them: one address space, or a process's normal-mode view (its
/// restricted region and its shared region, each copy going to the one
/// that covers its start).
pub trait UserMemory {
    /// Copies `buf` to user address `va` (see
    /// [`AddressSpace::copy_to_user`]).
    ///
    /// # Errors
    ///
    /// As [`AddressSpace::copy_to_user`]; `NOT_FOUND` outside every
    /// address space.
    fn copy_to_user(&self, va: u64, buf: &[u8]) -> crate::Result<()>;

    /// Copies from user address `va` into `buf` (see
    /// [`AddressSpace::copy_from_user`]).
    ///
    /// # Errors
    ///
    /// As [`AddressSpace::copy_from_user`]; `NOT_FOUND` outside every
    /// address space.
    fn copy_from_user(&self, va: u64, buf: &mut [u8]) -> crate::Result<()>;
}

impl<T: UserMemory + ?Sized> UserMemory for alloc::sync::Arc<T> {
    fn copy_to_user(&self, va: u64, buf: &[u8]) -> crate::Result<()> {
        (**self).copy_to_user(va, buf)
    }

    fn copy_from_user(&self, va: u64, buf: &mut [u8]) -> crate::Result<()> {
        (**self).copy_from_user(va, buf)
    }
}

impl<P: crate::Platform> UserMemory for AddressSpace<P> {
    fn copy_to_user(&self, va: u64, buf: &[u8]) -> crate::Result<()> {
        AddressSpace::copy_to_user(self, va, buf)
    }

    fn copy_from_user(&self, va: u64, buf: &mut [u8]) -> crate::Result<()> {
        AddressSpace::copy_from_user(self, va, buf)
    }
}

/// `size` rounded up to a page, or `None` on overflow.
pub(crate) fn round_up_page(size: u64) -> Option<u64> {
    size.checked_add(PAGE_SIZE - 1)
        .map(|s| s & !(PAGE_SIZE - 1))
}

/// A syscall length rounded up to a page.
///
/// # Errors
///
/// `INVALID_ARGS` if it is 0 or rounding overflows.
pub(crate) fn round_up_len(len: u64) -> crate::Result<u64> {
    round_up_page(len)
        .filter(|l| *l != 0)
        .ok_or(crate::Error::InvalidArgs("length is zero or overflows"))
}

/// Number of pages covering `len` bytes.
pub(crate) fn page_count(len: u64) -> u64 {
    len.div_ceil(PAGE_SIZE)
}

/// Whether `addr` is page aligned.
pub(crate) fn is_page_aligned(addr: u64) -> bool {
    addr.is_multiple_of(PAGE_SIZE)
}

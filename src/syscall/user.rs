//! User pointers.
//!
//! A user pointer is an allegation: an address user space passed, nothing
//! more. These types only remember the address (checked not to wrap with
//! its length) and copy through the calling process's address space, which
//! resolves each byte through the VMAR tree and checks the mapping's current
//! protection. A bad pointer is `ZX_ERR_INVALID_ARGS`, never a host fault.

use core::marker::PhantomData;

use crate::abi::Pod;
use crate::error::{Error, Result};
use crate::vm::UserMemory;

/// An address where the kernel will write one `T`.
#[derive(Clone, Copy, Debug)]
pub struct UserOut<T: Pod> {
    addr: u64,
    _t: PhantomData<fn(T)>,
}

impl<T: Pod> UserOut<T> {
    /// Takes the address from a syscall argument.
    pub fn new(addr: u64) -> Self {
        UserOut {
            addr,
            _t: PhantomData,
        }
    }

    /// The address.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// Writes `value` as a user-mode store would.
    ///
    /// # Errors
    ///
    /// `INVALID_ARGS` if the range is not writable user memory.
    pub fn write<M: UserMemory + ?Sized>(&self, aspace: &M, value: &T) -> Result<()> {
        if self.addr == 0 {
            return Err(Error::InvalidArgs("null user pointer"));
        }
        aspace
            .copy_to_user(self.addr, value.as_bytes())
            .map_err(invalid_args)
    }
}

/// An address from which the kernel will read `count` values of `T`.
#[derive(Clone, Copy, Debug)]
pub struct UserIn<T: Pod> {
    addr: u64,
    _t: PhantomData<fn() -> T>,
}

impl<T: Pod + Default> UserIn<T> {
    /// Takes the address from a syscall argument.
    pub fn new(addr: u64) -> Self {
        UserIn {
            addr,
            _t: PhantomData,
        }
    }

    /// Whether user space passed a null pointer.
    pub fn is_null(&self) -> bool {
        self.addr == 0
    }

    /// Reads element `index`, as a user-mode load would.
    ///
    /// # Errors
    ///
    /// `INVALID_ARGS` if the range is not readable user memory or the
    /// address arithmetic overflows.
    pub fn read<M: UserMemory + ?Sized>(&self, aspace: &M, index: usize) -> Result<T> {
        let size = core::mem::size_of::<T>() as u64;
        let at = (index as u64)
            .checked_mul(size)
            .and_then(|o| self.addr.checked_add(o))
            .ok_or(Error::InvalidArgs("user pointer overflows"))?;
        let mut value = T::default();
        aspace
            .copy_from_user(at, value.as_bytes_mut())
            .map_err(invalid_args)?;
        Ok(value)
    }
}

/// A failed copy of a syscall's own in/out parameter is `INVALID_ARGS` (as
/// Zircon's generated syscall glue reports it); running out of memory stays
/// `NO_MEMORY`.
pub(crate) fn invalid_args(e: Error) -> Error {
    match e {
        Error::NoMemory => e,
        _ => Error::InvalidArgs("bad user pointer"),
    }
}

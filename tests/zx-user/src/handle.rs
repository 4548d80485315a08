//! Owned handles: each type closes its handle when dropped, and has one
//! safe method per syscall on that object type.
//!
//! A method takes `&self`: the kernel checks rights and types, and a
//! method only ever passes pointers to its own arguments or locals, so no
//! call can write where Rust does not expect. Handles the program was
//! given at start (by value in registers or a boot page) become owned with
//! the `unsafe` [`Handle::from_raw`].

use core::mem::ManuallyDrop;

use zx_subsystem::abi::{ZX_HANDLE_INVALID, zx_handle_t};

use crate::raw::call;
use crate::{Result, Status, SyscallNumber as S, ok};

/// Any handle; closed on drop.
#[derive(Debug, PartialEq, Eq)]
pub struct Handle(zx_handle_t);

impl Handle {
    /// Takes ownership of `raw`.
    ///
    /// # Safety
    ///
    /// 1. Nothing else closes `raw` or owns it as a `Handle` (it is closed
    ///    when this value is dropped).
    pub unsafe fn from_raw(raw: zx_handle_t) -> Handle {
        Handle(raw)
    }

    /// The raw handle value (still owned by `self`).
    pub fn raw(&self) -> zx_handle_t {
        self.0
    }

    /// Gives up ownership without closing.
    pub fn into_raw(self) -> zx_handle_t {
        ManuallyDrop::new(self).0
    }

    /// `zx_handle_duplicate(self, rights)`.
    ///
    /// # Errors
    ///
    /// The kernel's status (`BAD_HANDLE`, `ACCESS_DENIED`, `INVALID_ARGS`).
    pub fn duplicate(&self, rights: u32) -> Result<Handle> {
        let mut out: zx_handle_t = ZX_HANDLE_INVALID;
        // SAFETY: `out` is a live local the call writes one handle to.
        let r = unsafe {
            call(
                S::HandleDuplicate,
                [
                    self.0.into(),
                    rights.into(),
                    out_ptr(&mut out),
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        };
        ok(r).map(|()| Handle(out))
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.0 != ZX_HANDLE_INVALID {
            // SAFETY: no pointer arguments; the handle is ours to close.
            let _ = unsafe { call(S::HandleClose, [self.0.into(), 0, 0, 0, 0, 0, 0, 0]) };
        }
    }
}

/// The address of a local out-parameter, as a syscall argument.
fn out_ptr<T>(out: &mut T) -> u64 {
    out as *mut T as u64
}

macro_rules! typed {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, PartialEq, Eq)]
        pub struct $name(pub Handle);

        impl $name {
            /// Takes ownership of `raw`, which names an object of this type.
            ///
            /// # Safety
            ///
            /// As [`Handle::from_raw`].
            pub unsafe fn from_raw(raw: zx_handle_t) -> Self {
                // SAFETY: the caller's obligation.
                $name(unsafe { Handle::from_raw(raw) })
            }

            /// The raw handle value (still owned).
            pub fn raw(&self) -> zx_handle_t {
                self.0.raw()
            }
        }
    };
}

typed!(
    /// A VMO handle.
    Vmo
);
typed!(
    /// A VMAR handle.
    Vmar
);
typed!(
    /// A thread handle.
    Thread
);
typed!(
    /// A process handle.
    Process
);

impl Vmo {
    /// `zx_vmo_create(size, options)`.
    ///
    /// # Errors
    ///
    /// `INVALID_ARGS`, `NO_MEMORY`, `ACCESS_DENIED` (job policy), ...
    pub fn create(size: u64, options: u32) -> Result<Vmo> {
        let mut out: zx_handle_t = ZX_HANDLE_INVALID;
        // SAFETY: `out` is a live local the call writes one handle to.
        let r = unsafe {
            call(
                S::VmoCreate,
                [size, options.into(), out_ptr(&mut out), 0, 0, 0, 0, 0],
            )
        };
        ok(r).map(|()| Vmo(Handle(out)))
    }

    /// `zx_vmo_write(self, data, offset)`.
    ///
    /// # Errors
    ///
    /// `OUT_OF_RANGE` past the end, `ACCESS_DENIED` without `WRITE`, ...
    pub fn write(&self, data: &[u8], offset: u64) -> Result<()> {
        // SAFETY: the kernel reads `data.len()` bytes from `data`.
        let r = unsafe {
            call(
                S::VmoWrite,
                [
                    self.raw().into(),
                    data.as_ptr() as u64,
                    offset,
                    data.len() as u64,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        };
        ok(r)
    }

    /// `zx_vmo_read(self, buf, offset)`.
    ///
    /// # Errors
    ///
    /// `OUT_OF_RANGE` past the end, `ACCESS_DENIED` without `READ`, ...
    pub fn read(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
        let r = unsafe {
            call(
                S::VmoRead,
                [
                    self.raw().into(),
                    buf.as_mut_ptr() as u64,
                    offset,
                    buf.len() as u64,
                    0,
                    0,
                    0,
                    0,
                ],
            )
        };
        ok(r)
    }

    /// `zx_vmo_get_size(self)`.
    ///
    /// # Errors
    ///
    /// `BAD_HANDLE`, `WRONG_TYPE`.
    pub fn size(&self) -> Result<u64> {
        let mut size = 0u64;
        // SAFETY: `size` is a live local the call writes 8 bytes to.
        let r = unsafe {
            call(
                S::VmoGetSize,
                [self.raw().into(), out_ptr(&mut size), 0, 0, 0, 0, 0, 0],
            )
        };
        ok(r).map(|()| size)
    }

    /// `zx_vmo_create_child(self, options, offset, size)`.
    ///
    /// # Errors
    ///
    /// `NOT_SUPPORTED` for kinds the kernel lacks, `INVALID_ARGS`, ...
    pub fn create_child(&self, options: u32, offset: u64, size: u64) -> Result<Vmo> {
        let mut out: zx_handle_t = ZX_HANDLE_INVALID;
        // SAFETY: `out` is a live local the call writes one handle to.
        let r = unsafe {
            call(
                S::VmoCreateChild,
                [
                    self.raw().into(),
                    options.into(),
                    offset,
                    size,
                    out_ptr(&mut out),
                    0,
                    0,
                    0,
                ],
            )
        };
        ok(r).map(|()| Vmo(Handle(out)))
    }
}

impl Vmar {
    /// `zx_vmar_map(self, options, vmar_offset, vmo, vmo_offset, len)`:
    /// the address of the new mapping.
    ///
    /// # Errors
    ///
    /// `INVALID_ARGS`, `ACCESS_DENIED`, `NO_RESOURCES` (no room), ...
    pub fn map(
        &self,
        options: u32,
        vmar_offset: u64,
        vmo: &Vmo,
        vmo_offset: u64,
        len: u64,
    ) -> Result<u64> {
        let mut addr = 0u64;
        // SAFETY: `addr` is a live local the call writes 8 bytes to. The
        // new mapping is in this VMAR; that it does not cover memory the
        // program uses is the placement the caller chose (the kernel
        // refuses to overlap without `SPECIFIC_OVERWRITE`).
        let r = unsafe {
            call(
                S::VmarMap,
                [
                    self.raw().into(),
                    options.into(),
                    vmar_offset,
                    vmo.raw().into(),
                    vmo_offset,
                    len,
                    out_ptr(&mut addr),
                    0,
                ],
            )
        };
        ok(r).map(|()| addr)
    }

    /// `zx_vmar_unmap(self, addr, len)`.
    ///
    /// # Safety
    ///
    /// 1. Nothing the program still uses (its code, stack, heap, any live
    ///    Rust reference) lies in `[addr, addr + len)`.
    ///
    /// # Errors
    ///
    /// `INVALID_ARGS`, `NOT_FOUND`, ...
    pub unsafe fn unmap(&self, addr: u64, len: u64) -> Result<()> {
        // SAFETY: no pointer arguments; obligation 1 is the caller's.
        let r = unsafe { call(S::VmarUnmap, [self.raw().into(), addr, len, 0, 0, 0, 0, 0]) };
        ok(r)
    }

    /// `zx_vmar_protect(self, options, addr, len)`.
    ///
    /// # Safety
    ///
    /// 1. Nothing the program still uses in `[addr, addr + len)` needs an
    ///    access the new permissions take away.
    ///
    /// # Errors
    ///
    /// `INVALID_ARGS`, `NOT_FOUND` (a hole), `ACCESS_DENIED`, ...
    pub unsafe fn protect(&self, options: u32, addr: u64, len: u64) -> Result<()> {
        // SAFETY: no pointer arguments; obligation 1 is the caller's.
        let r = unsafe {
            call(
                S::VmarProtect,
                [self.raw().into(), options.into(), addr, len, 0, 0, 0, 0],
            )
        };
        ok(r)
    }

    /// `zx_vmar_allocate(self, options, offset, size)`: the new VMAR and
    /// its base address.
    ///
    /// # Errors
    ///
    /// `INVALID_ARGS`, `NO_RESOURCES`, `ACCESS_DENIED`, ...
    pub fn allocate(&self, options: u32, offset: u64, size: u64) -> Result<(Vmar, u64)> {
        let mut out: zx_handle_t = ZX_HANDLE_INVALID;
        let mut addr = 0u64;
        // SAFETY: `out` and `addr` are live locals the call writes to.
        let r = unsafe {
            call(
                S::VmarAllocate,
                [
                    self.raw().into(),
                    options.into(),
                    offset,
                    size,
                    out_ptr(&mut out),
                    out_ptr(&mut addr),
                    0,
                    0,
                ],
            )
        };
        ok(r).map(|()| (Vmar(Handle(out)), addr))
    }
}

impl Thread {
    /// `zx_restricted_kick(self, 0)`.
    ///
    /// # Errors
    ///
    /// `BAD_HANDLE`, `ACCESS_DENIED` without `MANAGE_THREAD`, `BAD_STATE`.
    pub fn kick(&self) -> Result<()> {
        // SAFETY: no pointer arguments.
        let r = unsafe { call(S::RestrictedKick, [self.raw().into(), 0, 0, 0, 0, 0, 0, 0]) };
        ok(r)
    }
}

/// `zx_clock_get_monotonic()`: nanoseconds since boot.
pub fn clock_get_monotonic() -> i64 {
    // SAFETY: no arguments; the time comes back in the return register.
    unsafe { call(S::ClockGetMonotonic, [0; 8]) }
}

/// `zx_nanosleep(deadline)`.
///
/// # Errors
///
/// The kernel's status (none are documented for a plain sleep).
pub fn nanosleep(deadline: i64) -> Result<()> {
    // SAFETY: no pointer arguments.
    ok(unsafe { call(S::Nanosleep, [deadline as u64, 0, 0, 0, 0, 0, 0, 0]) })
}

/// `zx_handle_close(ZX_HANDLE_INVALID)`: the null syscall (always `ZX_OK`).
pub fn null_syscall() -> Result<()> {
    // SAFETY: no pointer arguments; closing the invalid handle does nothing.
    ok(unsafe { call(S::HandleClose, [0; 8]) })
}

/// Why a handle value is not usable, for callers that check boot data.
pub fn check_valid(raw: zx_handle_t) -> Result<zx_handle_t> {
    if raw == ZX_HANDLE_INVALID {
        Err(Status::BadHandle)
    } else {
        Ok(raw)
    }
}

//! Plain-old-data ABI records and their byte views.
//!
//! Records that cross the user boundary (`zx_info_handle_basic_t`,
//! `zx_restricted_state_t`, ...) are `#[repr(C)]` structs made only of
//! integers with explicit padding fields. [`Pod`] gives their bytes for a
//! copy to user memory and rebuilds one from bytes copied in, without any
//! `transmute` at the call sites.

/// A `#[repr(C)]` record of integers without implicit padding.
///
/// # Safety
///
/// Implementors must (1) be `#[repr(C)]`, (2) contain only integer fields or
/// arrays of them, so that every bit pattern is a valid value, and (3) have no
/// implicit padding bytes (pad explicitly with `u8` arrays and assert the
/// size).
pub unsafe trait Pod: Copy + 'static {
    /// The record's bytes, in memory order.
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: by (3) every byte of `Self` is initialised, and the slice
        // covers exactly `*self`, borrowed for the slice's lifetime.
        unsafe {
            core::slice::from_raw_parts(
                (self as *const Self).cast::<u8>(),
                core::mem::size_of::<Self>(),
            )
        }
    }

    /// The record's bytes, mutable.
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_bytes`; by (2) any bytes written through the
        // slice still form a valid `Self`.
        unsafe {
            core::slice::from_raw_parts_mut(
                (self as *mut Self).cast::<u8>(),
                core::mem::size_of::<Self>(),
            )
        }
    }

    /// Rebuilds a record from exactly `size_of::<Self>()` bytes.
    fn from_bytes(bytes: &[u8]) -> Option<Self>
    where
        Self: Default,
    {
        let mut out = Self::default();
        let dst = out.as_bytes_mut();
        if bytes.len() != dst.len() {
            return None;
        }
        dst.copy_from_slice(bytes);
        Some(out)
    }
}

// SAFETY: integers: repr is the integer itself, all bit patterns valid, no padding.
unsafe impl Pod for u32 {}
// SAFETY: as above.
unsafe impl Pod for u64 {}
// SAFETY: as above.
unsafe impl Pod for i32 {}

//! The Zircon ABI: the numbers and layouts user space sees.
//!
//! Every constant here has the value of Zircon's public headers; each
//! submodule names the header it follows. Raw `ZX_*` constants are what the C
//! ABI passes; the crate works with the typed wrappers (`Status`, [`Rights`],
//! [`VmOptions`], ...) built from them.
//!
//! One deliberate note: the project's SPEC says `ZX_RIGHT_OP_CHILDREN` is
//! `1 << 22`, but every published `zircon/rights.h` defines it as `1 << 21`
//! (and `ZX_RIGHT_RESIZE` as `1 << 22`). The SPEC also requires header values,
//! so the header wins; see [`rights`].

pub mod exception;
pub mod info;
pub mod object;
mod pod;
pub mod policy;
pub mod restricted;
pub mod rights;
pub mod status;
pub mod vm;

pub use exception::*;
pub use info::*;
pub use object::*;
pub use pod::Pod;
pub use policy::*;
pub use restricted::*;
pub use rights::*;
pub use status::*;
pub use vm::*;

// The handle and koid constants below are from
// `zircon/system/public/zircon/types.h`
// (misttech/fuchsia@03230340a3a9a1cf6378f23c9a0eb9666cea1c53).

/// `zx_handle_t`: a process-local name for a kernel object.
#[allow(non_camel_case_types)]
pub type zx_handle_t = u32;
/// `zx_status_t`: 0 for success, a negative `ZX_ERR_*` otherwise.
#[allow(non_camel_case_types)]
pub type zx_status_t = i32;
/// `zx_koid_t`: a kernel object id, unique for the kernel's lifetime.
#[allow(non_camel_case_types)]
pub type zx_koid_t = u64;
/// `zx_vaddr_t`: a user virtual address.
#[allow(non_camel_case_types)]
pub type zx_vaddr_t = u64;

/// `ZX_HANDLE_INVALID` (`zircon/types.h`).
pub const ZX_HANDLE_INVALID: zx_handle_t = 0;
/// `ZX_HANDLE_FIXED_BITS_MASK` (`zircon/types.h`): the low two bits of every
/// valid handle value are 1.
pub const ZX_HANDLE_FIXED_BITS_MASK: zx_handle_t = 0x3;
/// `ZX_KOID_KERNEL` (`zircon/types.h`): the kernel's own koid.
pub const ZX_KOID_KERNEL: zx_koid_t = 1;
/// `ZX_KOID_INVALID` (`zircon/types.h`).
pub const ZX_KOID_INVALID: zx_koid_t = 0;
/// `ZX_KOID_FIRST` (`zircon/types.h`): the first 1024 koids are reserved.
pub const ZX_KOID_FIRST: zx_koid_t = 1024;

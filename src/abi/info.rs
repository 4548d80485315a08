//! `zx_object_get_info` topics and records, from
//! `zircon/system/public/zircon/syscalls/object.h`
//! (misttech/fuchsia@74df2e1a728a31cc86d6c4b667216f3a5ad77bae).

use static_assertions::const_assert_eq;

/// `zx_object_info_topic_t`.
#[allow(non_camel_case_types)]
pub type zx_object_info_topic_t = u32;

/// `ZX_INFO_NONE`.
pub const ZX_INFO_NONE: zx_object_info_topic_t = 0;
/// `ZX_INFO_HANDLE_VALID`.
pub const ZX_INFO_HANDLE_VALID: zx_object_info_topic_t = 1;
/// `ZX_INFO_HANDLE_BASIC`: one [`zx_info_handle_basic_t`].
pub const ZX_INFO_HANDLE_BASIC: zx_object_info_topic_t = 2;

/// `zx_info_handle_basic_t`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zx_info_handle_basic_t {
    /// The object's koid.
    pub koid: u64,
    /// The handle's rights.
    pub rights: u32,
    /// The object's `ZX_OBJ_TYPE_*`.
    pub type_: u32,
    /// The koid of a related object (a thread's process, a process's job),
    /// or `ZX_KOID_INVALID`.
    pub related_koid: u64,
    /// Reserved, 0.
    pub reserved: u32,
    /// Padding, 0.
    pub padding1: [u8; 4],
}

const_assert_eq!(core::mem::size_of::<zx_info_handle_basic_t>(), 32);
const_assert_eq!(core::mem::offset_of!(zx_info_handle_basic_t, koid), 0);
const_assert_eq!(core::mem::offset_of!(zx_info_handle_basic_t, rights), 8);
const_assert_eq!(core::mem::offset_of!(zx_info_handle_basic_t, type_), 12);
const_assert_eq!(
    core::mem::offset_of!(zx_info_handle_basic_t, related_koid),
    16
);
const_assert_eq!(core::mem::offset_of!(zx_info_handle_basic_t, reserved), 24);

// SAFETY: `repr(C)`, only integer fields, explicit padding (size asserted above).
unsafe impl super::Pod for zx_info_handle_basic_t {}

//! VM options: `ZX_VM_*` (VMAR map/allocate/protect), `ZX_VMO_*` creation
//! options and `ZX_VMO_CHILD_*` flags, from `zircon/types.h`.

use bitflags::bitflags;

/// `zx_vm_option_t`.
#[allow(non_camel_case_types)]
pub type zx_vm_option_t = u32;

/// `ZX_VM_PERM_READ`.
pub const ZX_VM_PERM_READ: zx_vm_option_t = 1 << 0;
/// `ZX_VM_PERM_WRITE`.
pub const ZX_VM_PERM_WRITE: zx_vm_option_t = 1 << 1;
/// `ZX_VM_PERM_EXECUTE`.
pub const ZX_VM_PERM_EXECUTE: zx_vm_option_t = 1 << 2;
/// `ZX_VM_COMPACT`.
pub const ZX_VM_COMPACT: zx_vm_option_t = 1 << 3;
/// `ZX_VM_SPECIFIC`.
pub const ZX_VM_SPECIFIC: zx_vm_option_t = 1 << 4;
/// `ZX_VM_SPECIFIC_OVERWRITE`.
pub const ZX_VM_SPECIFIC_OVERWRITE: zx_vm_option_t = 1 << 5;
/// `ZX_VM_CAN_MAP_SPECIFIC`.
pub const ZX_VM_CAN_MAP_SPECIFIC: zx_vm_option_t = 1 << 6;
/// `ZX_VM_CAN_MAP_READ`.
pub const ZX_VM_CAN_MAP_READ: zx_vm_option_t = 1 << 7;
/// `ZX_VM_CAN_MAP_WRITE`.
pub const ZX_VM_CAN_MAP_WRITE: zx_vm_option_t = 1 << 8;
/// `ZX_VM_CAN_MAP_EXECUTE`.
pub const ZX_VM_CAN_MAP_EXECUTE: zx_vm_option_t = 1 << 9;
/// `ZX_VM_MAP_RANGE`.
pub const ZX_VM_MAP_RANGE: zx_vm_option_t = 1 << 10;
/// `ZX_VM_REQUIRE_NON_RESIZABLE`.
pub const ZX_VM_REQUIRE_NON_RESIZABLE: zx_vm_option_t = 1 << 11;
/// `ZX_VM_ALLOW_FAULTS`.
pub const ZX_VM_ALLOW_FAULTS: zx_vm_option_t = 1 << 12;
/// `ZX_VM_OFFSET_IS_UPPER_LIMIT`.
pub const ZX_VM_OFFSET_IS_UPPER_LIMIT: zx_vm_option_t = 1 << 13;
/// `ZX_VM_PERM_READ_IF_XOM_UNSUPPORTED`.
pub const ZX_VM_PERM_READ_IF_XOM_UNSUPPORTED: zx_vm_option_t = 1 << 14;
/// `ZX_VM_FAULT_BEYOND_STREAM_SIZE`.
pub const ZX_VM_FAULT_BEYOND_STREAM_SIZE: zx_vm_option_t = 1 << 15;
/// `ZX_VM_ALIGN_BASE`: the alignment field is bits 24..=28, holding log2 of
/// the alignment (10 = 1 KiB ... 32 = 4 GiB).
pub const ZX_VM_ALIGN_BASE: u32 = 24;
/// `ZX_VM_ALIGN_1KB`.
pub const ZX_VM_ALIGN_1KB: zx_vm_option_t = 10 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_4KB`.
pub const ZX_VM_ALIGN_4KB: zx_vm_option_t = 12 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_2MB`.
pub const ZX_VM_ALIGN_2MB: zx_vm_option_t = 21 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_1GB`.
pub const ZX_VM_ALIGN_1GB: zx_vm_option_t = 30 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_4GB`.
pub const ZX_VM_ALIGN_4GB: zx_vm_option_t = 32 << ZX_VM_ALIGN_BASE;
/// The mask of the alignment field (Zircon's `ZX_VM_ALIGN_MASK`, kernel-side:
/// five bits at [`ZX_VM_ALIGN_BASE`]).
pub const ZX_VM_ALIGN_MASK: zx_vm_option_t = 0x1f << ZX_VM_ALIGN_BASE;

bitflags! {
    /// `zx_vm_option_t` as flags. The alignment field is kept as the raw
    /// bits [`ZX_VM_ALIGN_MASK`]; [`VmOptions::align_log2`] decodes it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct VmOptions: u32 {
        /// `ZX_VM_PERM_READ`.
        const PERM_READ = ZX_VM_PERM_READ;
        /// `ZX_VM_PERM_WRITE`.
        const PERM_WRITE = ZX_VM_PERM_WRITE;
        /// `ZX_VM_PERM_EXECUTE`.
        const PERM_EXECUTE = ZX_VM_PERM_EXECUTE;
        /// `ZX_VM_COMPACT`.
        const COMPACT = ZX_VM_COMPACT;
        /// `ZX_VM_SPECIFIC`.
        const SPECIFIC = ZX_VM_SPECIFIC;
        /// `ZX_VM_SPECIFIC_OVERWRITE`.
        const SPECIFIC_OVERWRITE = ZX_VM_SPECIFIC_OVERWRITE;
        /// `ZX_VM_CAN_MAP_SPECIFIC`.
        const CAN_MAP_SPECIFIC = ZX_VM_CAN_MAP_SPECIFIC;
        /// `ZX_VM_CAN_MAP_READ`.
        const CAN_MAP_READ = ZX_VM_CAN_MAP_READ;
        /// `ZX_VM_CAN_MAP_WRITE`.
        const CAN_MAP_WRITE = ZX_VM_CAN_MAP_WRITE;
        /// `ZX_VM_CAN_MAP_EXECUTE`.
        const CAN_MAP_EXECUTE = ZX_VM_CAN_MAP_EXECUTE;
        /// `ZX_VM_MAP_RANGE`.
        const MAP_RANGE = ZX_VM_MAP_RANGE;
        /// `ZX_VM_REQUIRE_NON_RESIZABLE`.
        const REQUIRE_NON_RESIZABLE = ZX_VM_REQUIRE_NON_RESIZABLE;
        /// `ZX_VM_ALLOW_FAULTS`.
        const ALLOW_FAULTS = ZX_VM_ALLOW_FAULTS;
        /// `ZX_VM_OFFSET_IS_UPPER_LIMIT`.
        const OFFSET_IS_UPPER_LIMIT = ZX_VM_OFFSET_IS_UPPER_LIMIT;
        /// `ZX_VM_PERM_READ_IF_XOM_UNSUPPORTED`.
        const PERM_READ_IF_XOM_UNSUPPORTED = ZX_VM_PERM_READ_IF_XOM_UNSUPPORTED;
        /// `ZX_VM_FAULT_BEYOND_STREAM_SIZE`.
        const FAULT_BEYOND_STREAM_SIZE = ZX_VM_FAULT_BEYOND_STREAM_SIZE;
        /// The alignment field (`ZX_VM_ALIGN_*`).
        const ALIGN_FIELD = ZX_VM_ALIGN_MASK;
    }
}

impl VmOptions {
    /// The three permission bits.
    pub const PERMS: VmOptions = VmOptions::PERM_READ
        .union(VmOptions::PERM_WRITE)
        .union(VmOptions::PERM_EXECUTE);
    /// The three `CAN_MAP_*` permission bits.
    pub const CAN_MAP_PERMS: VmOptions = VmOptions::CAN_MAP_READ
        .union(VmOptions::CAN_MAP_WRITE)
        .union(VmOptions::CAN_MAP_EXECUTE);

    /// The requested alignment as log2 of bytes, `None` when the field is 0.
    pub const fn align_log2(self) -> Option<u32> {
        match (self.bits() & ZX_VM_ALIGN_MASK) >> ZX_VM_ALIGN_BASE {
            0 => None,
            n => Some(n),
        }
    }
}

/// `ZX_VMO_RESIZABLE`.
pub const ZX_VMO_RESIZABLE: u32 = 1 << 1;
/// `ZX_VMO_DISCARDABLE`.
pub const ZX_VMO_DISCARDABLE: u32 = 1 << 2;
/// `ZX_VMO_TRAP_DIRTY`.
pub const ZX_VMO_TRAP_DIRTY: u32 = 1 << 3;
/// `ZX_VMO_UNBOUNDED`.
pub const ZX_VMO_UNBOUNDED: u32 = 1 << 4;

/// `ZX_VMO_CHILD_SNAPSHOT`.
pub const ZX_VMO_CHILD_SNAPSHOT: u32 = 1 << 0;
/// `ZX_VMO_CHILD_RESIZABLE`.
pub const ZX_VMO_CHILD_RESIZABLE: u32 = 1 << 2;
/// `ZX_VMO_CHILD_SLICE`.
pub const ZX_VMO_CHILD_SLICE: u32 = 1 << 3;
/// `ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE`.
pub const ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE: u32 = 1 << 4;
/// `ZX_VMO_CHILD_NO_WRITE`.
pub const ZX_VMO_CHILD_NO_WRITE: u32 = 1 << 5;
/// `ZX_VMO_CHILD_REFERENCE`.
pub const ZX_VMO_CHILD_REFERENCE: u32 = 1 << 6;
/// `ZX_VMO_CHILD_SNAPSHOT_MODIFIED`.
pub const ZX_VMO_CHILD_SNAPSHOT_MODIFIED: u32 = 1 << 7;

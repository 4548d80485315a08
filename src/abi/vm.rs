//! VM options: `ZX_VM_*` (VMAR map/allocate/protect), `ZX_VMO_*` creation
//! options and `ZX_VMO_CHILD_*` flags.
//!
//! Values follow `zircon/system/public/zircon/types.h`
//! (misttech/fuchsia@03230340a3a9a1cf6378f23c9a0eb9666cea1c53; the same
//! values in gnoliyil/fuchsia and vsrinivas/fuchsia). The alignment field's
//! decoding follows the kernel, see [`ZX_VM_ALIGN_MASK`].

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
/// `ZX_VM_ALIGN_BASE`: the alignment field starts at bit 24 and holds log2
/// of the alignment in bytes (10 = 1 KiB ... 32 = 4 GiB; 0 = no request).
pub const ZX_VM_ALIGN_BASE: u32 = 24;
/// `ZX_VM_ALIGN_1KB`.
pub const ZX_VM_ALIGN_1KB: zx_vm_option_t = 10 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_2KB`.
pub const ZX_VM_ALIGN_2KB: zx_vm_option_t = 11 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_4KB`.
pub const ZX_VM_ALIGN_4KB: zx_vm_option_t = 12 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_8KB`.
pub const ZX_VM_ALIGN_8KB: zx_vm_option_t = 13 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_16KB`.
pub const ZX_VM_ALIGN_16KB: zx_vm_option_t = 14 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_32KB`.
pub const ZX_VM_ALIGN_32KB: zx_vm_option_t = 15 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_64KB`.
pub const ZX_VM_ALIGN_64KB: zx_vm_option_t = 16 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_128KB`.
pub const ZX_VM_ALIGN_128KB: zx_vm_option_t = 17 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_256KB`.
pub const ZX_VM_ALIGN_256KB: zx_vm_option_t = 18 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_512KB`.
pub const ZX_VM_ALIGN_512KB: zx_vm_option_t = 19 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_1MB`.
pub const ZX_VM_ALIGN_1MB: zx_vm_option_t = 20 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_2MB`.
pub const ZX_VM_ALIGN_2MB: zx_vm_option_t = 21 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_4MB`.
pub const ZX_VM_ALIGN_4MB: zx_vm_option_t = 22 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_8MB`.
pub const ZX_VM_ALIGN_8MB: zx_vm_option_t = 23 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_16MB`.
pub const ZX_VM_ALIGN_16MB: zx_vm_option_t = 24 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_32MB`.
pub const ZX_VM_ALIGN_32MB: zx_vm_option_t = 25 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_64MB`.
pub const ZX_VM_ALIGN_64MB: zx_vm_option_t = 26 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_128MB`.
pub const ZX_VM_ALIGN_128MB: zx_vm_option_t = 27 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_256MB`.
pub const ZX_VM_ALIGN_256MB: zx_vm_option_t = 28 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_512MB`.
pub const ZX_VM_ALIGN_512MB: zx_vm_option_t = 29 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_1GB`.
pub const ZX_VM_ALIGN_1GB: zx_vm_option_t = 30 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_2GB`.
pub const ZX_VM_ALIGN_2GB: zx_vm_option_t = 31 << ZX_VM_ALIGN_BASE;
/// `ZX_VM_ALIGN_4GB`.
pub const ZX_VM_ALIGN_4GB: zx_vm_option_t = 32 << ZX_VM_ALIGN_BASE;
/// The alignment field: bits 24..=31. Not a header constant (the public
/// header has no mask); it mirrors the kernel's decoding in
/// `split_syscall_flags` (`zircon/kernel/object/vm_address_region_dispatcher.cc`,
/// misttech/fuchsia@162d6af39d3e22850a2af4d112cfa847cd525145), which takes
/// `(uint8_t)(flags >> ZX_VM_ALIGN_BASE)`: every bit from 24 up, including
/// `1 << 31`, belongs to the field. (A five-bit mask would lose
/// `ZX_VM_ALIGN_4GB`, whose value 32 sets bit 29.)
pub const ZX_VM_ALIGN_MASK: zx_vm_option_t = 0xff << ZX_VM_ALIGN_BASE;
/// The smallest valid alignment field value (log2 of 1 KiB), from the same
/// kernel check.
pub const ZX_VM_ALIGN_MIN_LOG2: u32 = 10;
/// The largest valid alignment field value (log2 of 4 GiB), from the same
/// kernel check.
pub const ZX_VM_ALIGN_MAX_LOG2: u32 = 32;

/// An alignment field that Zircon rejects with `ZX_ERR_INVALID_ARGS`: a
/// value in `1..=9` or above 32. Holds the raw field value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidAlignment(pub u32);

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

    /// The raw alignment field (bits 24..=31), 0 when no alignment is asked.
    pub const fn align_field(self) -> u32 {
        (self.bits() & ZX_VM_ALIGN_MASK) >> ZX_VM_ALIGN_BASE
    }

    /// The requested alignment as log2 of bytes: `Ok(None)` when the field
    /// is 0, `Ok(Some(n))` for `n` in `10..=32`, and `Err` for any other
    /// value, which Zircon's `split_syscall_flags` rejects with
    /// `ZX_ERR_INVALID_ARGS`.
    pub const fn align_log2(self) -> Result<Option<u32>, InvalidAlignment> {
        match self.align_field() {
            0 => Ok(None),
            n if n >= ZX_VM_ALIGN_MIN_LOG2 && n <= ZX_VM_ALIGN_MAX_LOG2 => Ok(Some(n)),
            n => Err(InvalidAlignment(n)),
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

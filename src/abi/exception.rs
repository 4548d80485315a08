//! Exception reports, from `zircon/system/public/zircon/syscalls/exception.h`
//! (misttech/fuchsia@95731558484eaf8fcd93064f5f993b25caa44860): the
//! `ZX_EXCP_*` types, `zx_exception_header_t` and the current (v2, 40-byte)
//! `zx_exception_report_t`, whose context is a 24-byte arch union
//! (`zx_x86_64_exc_data_t` vector/err_code/cr2; `zx_arm64_exc_data_t`
//! esr, padding1\[4\], far, padding2\[8\]) followed by `synth_code` and
//! `synth_data`.
//!
//! Restricted mode writes a [`zx_exception_report_t`] after the register
//! state when it leaves with `ZX_RESTRICTED_REASON_EXCEPTION`.

use static_assertions::const_assert_eq;

/// `zx_excp_type_t`.
#[allow(non_camel_case_types)]
pub type zx_excp_type_t = u32;

/// `ZX_EXCP_GENERAL`.
pub const ZX_EXCP_GENERAL: zx_excp_type_t = 0x008;
/// `ZX_EXCP_FATAL_PAGE_FAULT`.
pub const ZX_EXCP_FATAL_PAGE_FAULT: zx_excp_type_t = 0x108;
/// `ZX_EXCP_UNDEFINED_INSTRUCTION`.
pub const ZX_EXCP_UNDEFINED_INSTRUCTION: zx_excp_type_t = 0x208;
/// `ZX_EXCP_SW_BREAKPOINT`.
pub const ZX_EXCP_SW_BREAKPOINT: zx_excp_type_t = 0x308;
/// `ZX_EXCP_HW_BREAKPOINT`.
pub const ZX_EXCP_HW_BREAKPOINT: zx_excp_type_t = 0x408;
/// `ZX_EXCP_UNALIGNED_ACCESS`.
pub const ZX_EXCP_UNALIGNED_ACCESS: zx_excp_type_t = 0x508;
/// `ZX_EXCP_SYNTH`: set in every synthetic (non-architectural) type.
pub const ZX_EXCP_SYNTH: zx_excp_type_t = 0x8000;
/// `ZX_EXCP_THREAD_STARTING` (synthetic).
pub const ZX_EXCP_THREAD_STARTING: zx_excp_type_t = 0x008 | ZX_EXCP_SYNTH;
/// `ZX_EXCP_THREAD_EXITING` (synthetic).
pub const ZX_EXCP_THREAD_EXITING: zx_excp_type_t = 0x108 | ZX_EXCP_SYNTH;
/// `ZX_EXCP_POLICY_ERROR` (synthetic).
pub const ZX_EXCP_POLICY_ERROR: zx_excp_type_t = 0x208 | ZX_EXCP_SYNTH;
/// `ZX_EXCP_PROCESS_STARTING` (synthetic).
pub const ZX_EXCP_PROCESS_STARTING: zx_excp_type_t = 0x308 | ZX_EXCP_SYNTH;
/// `ZX_EXCP_USER` (synthetic).
pub const ZX_EXCP_USER: zx_excp_type_t = 0x309 | ZX_EXCP_SYNTH;

/// `ZX_EXCP_IS_ARCH(excp)`: whether a type is architectural.
pub const fn zx_excp_is_arch(excp: zx_excp_type_t) -> bool {
    excp & ZX_EXCP_SYNTH == 0
}

/// `zx_exception_header_t`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zx_exception_header_t {
    /// Size of the whole report, 40.
    pub size: u32,
    /// A `ZX_EXCP_*` type.
    pub type_: zx_excp_type_t,
}

/// `zx_exception_report_t`: a header, the architectural data (a 24-byte union
/// in C), and the synthetic code and data.
///
/// The union is kept as three words: on x86_64 they are `vector`,
/// `err_code`, `cr2`; on arm64 word 0 holds `esr` in its low 32 bits (the
/// rest is padding), word 1 is `far`, word 2 padding. Use
/// [`zx_exception_report_t::x86_64`] and [`zx_exception_report_t::arm64`] to
/// build one.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zx_exception_report_t {
    /// The header.
    pub header: zx_exception_header_t,
    /// The arch-specific union (`zx_exception_context_t.arch`).
    pub arch: [u64; 3],
    /// `synth_code`.
    pub synth_code: u32,
    /// `synth_data`.
    pub synth_data: u32,
}

const_assert_eq!(core::mem::size_of::<zx_exception_report_t>(), 40);
const_assert_eq!(core::mem::offset_of!(zx_exception_report_t, header), 0);
const_assert_eq!(core::mem::offset_of!(zx_exception_report_t, arch), 8);
const_assert_eq!(core::mem::offset_of!(zx_exception_report_t, synth_code), 32);
const_assert_eq!(core::mem::offset_of!(zx_exception_report_t, synth_data), 36);

// SAFETY: repr(C), integer fields only, no padding (size and offsets asserted).
unsafe impl super::Pod for zx_exception_report_t {}

/// The size written to `header.size`.
pub const ZX_EXCEPTION_REPORT_SIZE: u32 = 40;

impl zx_exception_report_t {
    /// An x86_64 report (`zx_x86_64_exc_data_t`: vector, err_code, cr2).
    pub const fn x86_64(type_: zx_excp_type_t, vector: u64, err_code: u64, cr2: u64) -> Self {
        Self {
            header: zx_exception_header_t {
                size: ZX_EXCEPTION_REPORT_SIZE,
                type_,
            },
            arch: [vector, err_code, cr2],
            synth_code: 0,
            synth_data: 0,
        }
    }

    /// An arm64 report (`zx_arm64_exc_data_t`: esr, padding, far, padding).
    pub const fn arm64(type_: zx_excp_type_t, esr: u32, far: u64) -> Self {
        Self {
            header: zx_exception_header_t {
                size: ZX_EXCEPTION_REPORT_SIZE,
                type_,
            },
            arch: [esr as u64, far, 0],
            synth_code: 0,
            synth_data: 0,
        }
    }

    /// arm64 `esr`: the low 32 bits of union word 0 (the header's `esr`
    /// field at report offset 8; the crate's targets are little-endian).
    pub const fn arm64_esr(&self) -> u32 {
        self.arch[0] as u32
    }

    /// arm64 `far` (report offset 16).
    pub const fn arm64_far(&self) -> u64 {
        self.arch[1]
    }
}

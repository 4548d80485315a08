//! Job policy, from `zircon/system/public/zircon/syscalls/policy.h`
//! (misttech/fuchsia@95731558484eaf8fcd93064f5f993b25caa44860). `ZX_POL_MAX`
//! and `ZX_POL_ACTION_MAX` are `#ifdef _KERNEL` there.

/// `ZX_JOB_POL_RELATIVE`: conditions the parent already set keep the
/// parent's action; the rest are applied.
pub const ZX_JOB_POL_RELATIVE: u32 = 0;
/// `ZX_JOB_POL_ABSOLUTE`: every entry is applied as given or the call fails.
pub const ZX_JOB_POL_ABSOLUTE: u32 = 1;

/// `ZX_JOB_POL_BASIC_V1` (also `ZX_JOB_POL_BASIC`): entries are
/// [`zx_policy_basic_v1_t`].
pub const ZX_JOB_POL_BASIC_V1: u32 = 0;
/// `ZX_JOB_POL_BASIC_V2`: entries are [`zx_policy_basic_v2_t`].
pub const ZX_JOB_POL_BASIC_V2: u32 = 0x0100_0000;
/// `ZX_JOB_POL_TIMER_SLACK` (not supported by this crate).
pub const ZX_JOB_POL_TIMER_SLACK: u32 = 1;

/// `ZX_POL_BAD_HANDLE`.
pub const ZX_POL_BAD_HANDLE: u32 = 0;
/// `ZX_POL_WRONG_OBJECT`.
pub const ZX_POL_WRONG_OBJECT: u32 = 1;
/// `ZX_POL_VMAR_WX`.
pub const ZX_POL_VMAR_WX: u32 = 2;
/// `ZX_POL_NEW_ANY`: stands for every `ZX_POL_NEW_*` condition.
pub const ZX_POL_NEW_ANY: u32 = 3;
/// `ZX_POL_NEW_VMO`: creating VMOs (`zx_vmo_create`, the state VMO of
/// `zx_restricted_bind_state`).
pub const ZX_POL_NEW_VMO: u32 = 4;
/// `ZX_POL_NEW_CHANNEL`.
pub const ZX_POL_NEW_CHANNEL: u32 = 5;
/// `ZX_POL_NEW_EVENT`.
pub const ZX_POL_NEW_EVENT: u32 = 6;
/// `ZX_POL_NEW_EVENTPAIR`.
pub const ZX_POL_NEW_EVENTPAIR: u32 = 7;
/// `ZX_POL_NEW_PORT`.
pub const ZX_POL_NEW_PORT: u32 = 8;
/// `ZX_POL_NEW_SOCKET`.
pub const ZX_POL_NEW_SOCKET: u32 = 9;
/// `ZX_POL_NEW_FIFO`.
pub const ZX_POL_NEW_FIFO: u32 = 10;
/// `ZX_POL_NEW_TIMER`.
pub const ZX_POL_NEW_TIMER: u32 = 11;
/// `ZX_POL_NEW_PROCESS`.
pub const ZX_POL_NEW_PROCESS: u32 = 12;
/// `ZX_POL_NEW_PROFILE`.
pub const ZX_POL_NEW_PROFILE: u32 = 13;
/// `ZX_POL_NEW_PAGER`.
pub const ZX_POL_NEW_PAGER: u32 = 14;
/// `ZX_POL_AMBIENT_MARK_VMO_EXEC`.
pub const ZX_POL_AMBIENT_MARK_VMO_EXEC: u32 = 15;
/// `ZX_POL_NEW_IOB`.
pub const ZX_POL_NEW_IOB: u32 = 16;
/// `ZX_POL_NEW_SAMPLER`.
pub const ZX_POL_NEW_SAMPLER: u32 = 17;
/// `ZX_POL_MAX` (kernel-only in the header): one past the last condition.
pub const ZX_POL_MAX: u32 = 18;

/// `ZX_POL_ACTION_ALLOW`.
pub const ZX_POL_ACTION_ALLOW: u32 = 0;
/// `ZX_POL_ACTION_DENY`.
pub const ZX_POL_ACTION_DENY: u32 = 1;
/// `ZX_POL_ACTION_ALLOW_EXCEPTION`.
pub const ZX_POL_ACTION_ALLOW_EXCEPTION: u32 = 2;
/// `ZX_POL_ACTION_DENY_EXCEPTION`.
pub const ZX_POL_ACTION_DENY_EXCEPTION: u32 = 3;
/// `ZX_POL_ACTION_KILL`.
pub const ZX_POL_ACTION_KILL: u32 = 4;
/// `ZX_POL_ACTION_MAX` (kernel-only in the header).
pub const ZX_POL_ACTION_MAX: u32 = 5;

/// `ZX_POL_OVERRIDE_ALLOW`: child jobs may change this entry.
pub const ZX_POL_OVERRIDE_ALLOW: u32 = 0;
/// `ZX_POL_OVERRIDE_DENY`: child jobs may not change this entry.
pub const ZX_POL_OVERRIDE_DENY: u32 = 1;

/// `zx_policy_basic_v1_t`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zx_policy_basic_v1_t {
    /// A `ZX_POL_*` condition.
    pub condition: u32,
    /// A `ZX_POL_ACTION_*`.
    pub policy: u32,
}

/// `zx_policy_basic_v2_t`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct zx_policy_basic_v2_t {
    /// A `ZX_POL_*` condition.
    pub condition: u32,
    /// A `ZX_POL_ACTION_*`.
    pub action: u32,
    /// `ZX_POL_OVERRIDE_ALLOW` or `ZX_POL_OVERRIDE_DENY`.
    pub flags: u32,
}

static_assertions::const_assert_eq!(core::mem::size_of::<zx_policy_basic_v1_t>(), 8);
static_assertions::const_assert_eq!(core::mem::size_of::<zx_policy_basic_v2_t>(), 12);

// SAFETY: repr(C), two u32 fields, no padding (size asserted).
unsafe impl super::Pod for zx_policy_basic_v1_t {}
// SAFETY: repr(C), three u32 fields, no padding (size asserted).
unsafe impl super::Pod for zx_policy_basic_v2_t {}

//! Handle rights, from `zircon/system/public/zircon/rights.h`
//! (misttech/fuchsia@524356226a159155a5c2d1132469f2e095fd41b3; same values in
//! gnoliyil/fuchsia and vsrinivas/fuchsia). The `ZX_DEFAULT_*_RIGHTS`
//! compositions below are the header's macros, term for term.
//!
//! `ZX_RIGHT_OP_CHILDREN` is `1 << 21` and `ZX_RIGHT_RESIZE` is `1 << 22`, as
//! in the published header (the project SPEC's "1 << 22" for `OP_CHILDREN`
//! disagrees with the header; the header is the ABI). `OP_CHILDREN` is part of
//! [`Rights::DEFAULT_VMAR`].

use bitflags::bitflags;

/// `zx_rights_t`.
#[allow(non_camel_case_types)]
pub type zx_rights_t = u32;

/// `ZX_RIGHT_NONE`.
pub const ZX_RIGHT_NONE: zx_rights_t = 0;
/// `ZX_RIGHT_DUPLICATE`.
pub const ZX_RIGHT_DUPLICATE: zx_rights_t = 1 << 0;
/// `ZX_RIGHT_TRANSFER`.
pub const ZX_RIGHT_TRANSFER: zx_rights_t = 1 << 1;
/// `ZX_RIGHT_READ`.
pub const ZX_RIGHT_READ: zx_rights_t = 1 << 2;
/// `ZX_RIGHT_WRITE`.
pub const ZX_RIGHT_WRITE: zx_rights_t = 1 << 3;
/// `ZX_RIGHT_EXECUTE`.
pub const ZX_RIGHT_EXECUTE: zx_rights_t = 1 << 4;
/// `ZX_RIGHT_MAP`.
pub const ZX_RIGHT_MAP: zx_rights_t = 1 << 5;
/// `ZX_RIGHT_GET_PROPERTY`.
pub const ZX_RIGHT_GET_PROPERTY: zx_rights_t = 1 << 6;
/// `ZX_RIGHT_SET_PROPERTY`.
pub const ZX_RIGHT_SET_PROPERTY: zx_rights_t = 1 << 7;
/// `ZX_RIGHT_ENUMERATE`.
pub const ZX_RIGHT_ENUMERATE: zx_rights_t = 1 << 8;
/// `ZX_RIGHT_DESTROY`.
pub const ZX_RIGHT_DESTROY: zx_rights_t = 1 << 9;
/// `ZX_RIGHT_SET_POLICY`.
pub const ZX_RIGHT_SET_POLICY: zx_rights_t = 1 << 10;
/// `ZX_RIGHT_GET_POLICY`.
pub const ZX_RIGHT_GET_POLICY: zx_rights_t = 1 << 11;
/// `ZX_RIGHT_SIGNAL`.
pub const ZX_RIGHT_SIGNAL: zx_rights_t = 1 << 12;
/// `ZX_RIGHT_SIGNAL_PEER`.
pub const ZX_RIGHT_SIGNAL_PEER: zx_rights_t = 1 << 13;
/// `ZX_RIGHT_WAIT`.
pub const ZX_RIGHT_WAIT: zx_rights_t = 1 << 14;
/// `ZX_RIGHT_INSPECT`.
pub const ZX_RIGHT_INSPECT: zx_rights_t = 1 << 15;
/// `ZX_RIGHT_MANAGE_JOB`.
pub const ZX_RIGHT_MANAGE_JOB: zx_rights_t = 1 << 16;
/// `ZX_RIGHT_MANAGE_PROCESS`.
pub const ZX_RIGHT_MANAGE_PROCESS: zx_rights_t = 1 << 17;
/// `ZX_RIGHT_MANAGE_THREAD`.
pub const ZX_RIGHT_MANAGE_THREAD: zx_rights_t = 1 << 18;
/// `ZX_RIGHT_APPLY_PROFILE`.
pub const ZX_RIGHT_APPLY_PROFILE: zx_rights_t = 1 << 19;
/// `ZX_RIGHT_MANAGE_SOCKET`.
pub const ZX_RIGHT_MANAGE_SOCKET: zx_rights_t = 1 << 20;
/// `ZX_RIGHT_OP_CHILDREN`: operations on a VMAR handle may reach into
/// sub-VMARs (`zx_vmar_protect`, `zx_vmar_unmap`).
pub const ZX_RIGHT_OP_CHILDREN: zx_rights_t = 1 << 21;
/// `ZX_RIGHT_RESIZE`.
pub const ZX_RIGHT_RESIZE: zx_rights_t = 1 << 22;
/// `ZX_RIGHT_ATTACH_VMO`.
pub const ZX_RIGHT_ATTACH_VMO: zx_rights_t = 1 << 23;
/// `ZX_RIGHT_MANAGE_VMO`.
pub const ZX_RIGHT_MANAGE_VMO: zx_rights_t = 1 << 24;
/// `ZX_RIGHT_SAME_RIGHTS`: in `zx_handle_duplicate`/`_replace`, keep the
/// rights of the original handle.
pub const ZX_RIGHT_SAME_RIGHTS: zx_rights_t = 1 << 31;

bitflags! {
    /// A set of handle rights (`zx_rights_t`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct Rights: u32 {
        /// `ZX_RIGHT_DUPLICATE`.
        const DUPLICATE = ZX_RIGHT_DUPLICATE;
        /// `ZX_RIGHT_TRANSFER`.
        const TRANSFER = ZX_RIGHT_TRANSFER;
        /// `ZX_RIGHT_READ`.
        const READ = ZX_RIGHT_READ;
        /// `ZX_RIGHT_WRITE`.
        const WRITE = ZX_RIGHT_WRITE;
        /// `ZX_RIGHT_EXECUTE`.
        const EXECUTE = ZX_RIGHT_EXECUTE;
        /// `ZX_RIGHT_MAP`.
        const MAP = ZX_RIGHT_MAP;
        /// `ZX_RIGHT_GET_PROPERTY`.
        const GET_PROPERTY = ZX_RIGHT_GET_PROPERTY;
        /// `ZX_RIGHT_SET_PROPERTY`.
        const SET_PROPERTY = ZX_RIGHT_SET_PROPERTY;
        /// `ZX_RIGHT_ENUMERATE`.
        const ENUMERATE = ZX_RIGHT_ENUMERATE;
        /// `ZX_RIGHT_DESTROY`.
        const DESTROY = ZX_RIGHT_DESTROY;
        /// `ZX_RIGHT_SET_POLICY`.
        const SET_POLICY = ZX_RIGHT_SET_POLICY;
        /// `ZX_RIGHT_GET_POLICY`.
        const GET_POLICY = ZX_RIGHT_GET_POLICY;
        /// `ZX_RIGHT_SIGNAL`.
        const SIGNAL = ZX_RIGHT_SIGNAL;
        /// `ZX_RIGHT_SIGNAL_PEER`.
        const SIGNAL_PEER = ZX_RIGHT_SIGNAL_PEER;
        /// `ZX_RIGHT_WAIT`.
        const WAIT = ZX_RIGHT_WAIT;
        /// `ZX_RIGHT_INSPECT`.
        const INSPECT = ZX_RIGHT_INSPECT;
        /// `ZX_RIGHT_MANAGE_JOB`.
        const MANAGE_JOB = ZX_RIGHT_MANAGE_JOB;
        /// `ZX_RIGHT_MANAGE_PROCESS`.
        const MANAGE_PROCESS = ZX_RIGHT_MANAGE_PROCESS;
        /// `ZX_RIGHT_MANAGE_THREAD`.
        const MANAGE_THREAD = ZX_RIGHT_MANAGE_THREAD;
        /// `ZX_RIGHT_APPLY_PROFILE`.
        const APPLY_PROFILE = ZX_RIGHT_APPLY_PROFILE;
        /// `ZX_RIGHT_MANAGE_SOCKET`.
        const MANAGE_SOCKET = ZX_RIGHT_MANAGE_SOCKET;
        /// `ZX_RIGHT_OP_CHILDREN`.
        const OP_CHILDREN = ZX_RIGHT_OP_CHILDREN;
        /// `ZX_RIGHT_RESIZE`.
        const RESIZE = ZX_RIGHT_RESIZE;
        /// `ZX_RIGHT_ATTACH_VMO`.
        const ATTACH_VMO = ZX_RIGHT_ATTACH_VMO;
        /// `ZX_RIGHT_MANAGE_VMO`.
        const MANAGE_VMO = ZX_RIGHT_MANAGE_VMO;
    }
}

impl Rights {
    /// `ZX_RIGHTS_BASIC`.
    pub const BASIC: Rights = Rights::TRANSFER
        .union(Rights::DUPLICATE)
        .union(Rights::WAIT)
        .union(Rights::INSPECT);
    /// `ZX_RIGHTS_IO`.
    pub const IO: Rights = Rights::READ.union(Rights::WRITE);
    /// `ZX_RIGHTS_PROPERTY`.
    pub const PROPERTY: Rights = Rights::GET_PROPERTY.union(Rights::SET_PROPERTY);
    /// `ZX_RIGHTS_POLICY`.
    pub const POLICY: Rights = Rights::GET_POLICY.union(Rights::SET_POLICY);

    /// `ZX_DEFAULT_VMO_RIGHTS`. Note: no `RESIZE`; `zx_vmo_create` adds it
    /// for `ZX_VMO_RESIZABLE` VMOs, as Zircon does.
    pub const DEFAULT_VMO: Rights = Rights::BASIC
        .union(Rights::IO)
        .union(Rights::PROPERTY)
        .union(Rights::MAP)
        .union(Rights::SIGNAL);
    /// `ZX_DEFAULT_VMAR_RIGHTS`: basic minus `WAIT`, plus `OP_CHILDREN`.
    /// `zx_vmar_allocate` adds `READ`/`WRITE`/`EXECUTE` per `CAN_MAP_*`.
    pub const DEFAULT_VMAR: Rights = Rights::BASIC
        .difference(Rights::WAIT)
        .union(Rights::OP_CHILDREN);
    /// `ZX_DEFAULT_THREAD_RIGHTS`.
    pub const DEFAULT_THREAD: Rights = Rights::BASIC
        .union(Rights::IO)
        .union(Rights::PROPERTY)
        .union(Rights::DESTROY)
        .union(Rights::SIGNAL)
        .union(Rights::MANAGE_THREAD);
    /// `ZX_DEFAULT_PROCESS_RIGHTS`.
    pub const DEFAULT_PROCESS: Rights = Rights::BASIC
        .union(Rights::IO)
        .union(Rights::PROPERTY)
        .union(Rights::ENUMERATE)
        .union(Rights::DESTROY)
        .union(Rights::SIGNAL)
        .union(Rights::MANAGE_PROCESS)
        .union(Rights::MANAGE_THREAD);
    /// `ZX_DEFAULT_JOB_RIGHTS`.
    pub const DEFAULT_JOB: Rights = Rights::BASIC
        .union(Rights::IO)
        .union(Rights::PROPERTY)
        .union(Rights::POLICY)
        .union(Rights::ENUMERATE)
        .union(Rights::DESTROY)
        .union(Rights::SIGNAL)
        .union(Rights::MANAGE_JOB)
        .union(Rights::MANAGE_PROCESS)
        .union(Rights::MANAGE_THREAD);
}

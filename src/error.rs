//! The crate's error type.
//!
//! Inside the crate every fallible operation returns [`Result`], whose
//! [`Error`] says which Zircon status it stands for and why. It becomes a
//! `zx_status_t` in exactly one place, the syscall boundary
//! ([`crate::syscall`]), through [`Error::status`].

use crate::abi::{ObjectType, Rights, Status};

/// A failed operation: the status user space will see, with the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// `ZX_ERR_BAD_HANDLE`: the value names no handle of the process.
    BadHandle {
        /// The raw handle value.
        value: u32,
    },
    /// `ZX_ERR_WRONG_TYPE`: the handle's object is of another type.
    WrongType {
        /// The type the operation needs.
        expected: ObjectType,
        /// The type of the object found.
        found: ObjectType,
    },
    /// `ZX_ERR_ACCESS_DENIED` for missing handle rights.
    MissingRights {
        /// The rights the handle lacks.
        missing: Rights,
    },
    /// `ZX_ERR_ACCESS_DENIED` for a reason other than handle rights
    /// (job policy, a mapping's maximum permissions, ...).
    AccessDenied(&'static str),
    /// `ZX_ERR_INVALID_ARGS`.
    InvalidArgs(&'static str),
    /// `ZX_ERR_BAD_STATE`.
    BadState(&'static str),
    /// `ZX_ERR_NOT_FOUND`.
    NotFound(&'static str),
    /// `ZX_ERR_NO_MEMORY`: a frame or a heap allocation failed.
    NoMemory,
    /// `ZX_ERR_NO_RESOURCES`.
    NoResources(&'static str),
    /// `ZX_ERR_NOT_SUPPORTED`.
    NotSupported(&'static str),
    /// `ZX_ERR_OUT_OF_RANGE`.
    OutOfRange(&'static str),
    /// `ZX_ERR_UNAVAILABLE`.
    Unavailable(&'static str),
    /// `ZX_ERR_ALREADY_EXISTS`.
    AlreadyExists(&'static str),
    /// `ZX_ERR_BUFFER_TOO_SMALL`.
    BufferTooSmall,
    /// `ZX_ERR_TIMED_OUT`: a wait's deadline passed.
    TimedOut,
    /// `ZX_ERR_BAD_SYSCALL`: no syscall has this number.
    BadSyscall {
        /// The number user space passed.
        number: u64,
    },
}

impl Error {
    /// The Zircon status this error is reported as.
    pub const fn status(self) -> Status {
        match self {
            Error::BadHandle { .. } => Status::BadHandle,
            Error::WrongType { .. } => Status::WrongType,
            Error::MissingRights { .. } | Error::AccessDenied(_) => Status::AccessDenied,
            Error::InvalidArgs(_) => Status::InvalidArgs,
            Error::BadState(_) => Status::BadState,
            Error::NotFound(_) => Status::NotFound,
            Error::NoMemory => Status::NoMemory,
            Error::NoResources(_) => Status::NoResources,
            Error::NotSupported(_) => Status::NotSupported,
            Error::OutOfRange(_) => Status::OutOfRange,
            Error::Unavailable(_) => Status::Unavailable,
            Error::AlreadyExists(_) => Status::AlreadyExists,
            Error::BufferTooSmall => Status::BufferTooSmall,
            Error::TimedOut => Status::TimedOut,
            Error::BadSyscall { .. } => Status::BadSyscall,
        }
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Status {
        err.status()
    }
}

impl From<alloc::collections::TryReserveError> for Error {
    fn from(_: alloc::collections::TryReserveError) -> Error {
        Error::NoMemory
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::BadHandle { value } => write!(f, "ZX_ERR_BAD_HANDLE: {value:#x}"),
            Error::WrongType { expected, found } => {
                write!(
                    f,
                    "ZX_ERR_WRONG_TYPE: expected {expected:?}, found {found:?}"
                )
            }
            Error::MissingRights { missing } => {
                write!(f, "ZX_ERR_ACCESS_DENIED: missing rights {missing:?}")
            }
            Error::BadSyscall { number } => write!(f, "ZX_ERR_BAD_SYSCALL: {number}"),
            Error::NoMemory | Error::BufferTooSmall | Error::TimedOut => {
                f.write_str(self.status().name())
            }
            Error::AccessDenied(why)
            | Error::InvalidArgs(why)
            | Error::BadState(why)
            | Error::NotFound(why)
            | Error::NoResources(why)
            | Error::NotSupported(why)
            | Error::OutOfRange(why)
            | Error::Unavailable(why)
            | Error::AlreadyExists(why) => write!(f, "{}: {why}", self.status().name()),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = core::result::Result<T, E>;

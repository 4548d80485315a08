//! Status codes, from `zircon/system/public/zircon/errors.h`
//! (gnoliyil/fuchsia@26dba52e8f9364914b93c06d9cf5dc0116923759, generated from
//! `zircon/vdso/errors.fidl`; vsrinivas/fuchsia's copy has the same values).
//! Every `ZX_OK`/`ZX_ERR_*` of that header is here, in header order,
//! including the vDSO-internal `ZX_ERR_INTERNAL_INTR_RETRY` (-6) and
//! `ZX_ERR_INTERNAL_INTR_KILLED` (-502).
//!
//! [`Status`] is the typed form; [`Status::into_raw`] and
//! `Status::try_from(i32)` convert to and from `zx_status_t`.

use super::zx_status_t;

macro_rules! statuses {
    ($($(#[$doc:meta])* $name:ident = $raw:ident = $value:expr;)*) => {
        $(
            $(#[$doc])*
            pub const $raw: zx_status_t = $value;
        )*

        /// A Zircon status, `ZX_OK` or one of the `ZX_ERR_*` codes of
        /// `zircon/errors.h`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum Status {
            $(
                $(#[$doc])*
                $name = $value,
            )*
        }

        impl Status {
            /// Every status, in header order (used by the table-driven tests).
            pub const ALL: &'static [Status] = &[$(Status::$name),*];

            /// The C name of the status, e.g. `"ZX_ERR_INVALID_ARGS"`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Status::$name => stringify!($raw),)*
                }
            }
        }

        impl TryFrom<zx_status_t> for Status {
            type Error = UnknownStatus;

            fn try_from(raw: zx_status_t) -> Result<Self, UnknownStatus> {
                match raw {
                    $($value => Ok(Status::$name),)*
                    other => Err(UnknownStatus(other)),
                }
            }
        }
    };
}

statuses! {
    /// Success.
    Ok = ZX_OK = 0;
    /// An internal kernel error that should not happen.
    Internal = ZX_ERR_INTERNAL = -1;
    /// The operation is not implemented, supported, or enabled.
    NotSupported = ZX_ERR_NOT_SUPPORTED = -2;
    /// A resource (other than memory) could not be allocated.
    NoResources = ZX_ERR_NO_RESOURCES = -3;
    /// Memory could not be allocated.
    NoMemory = ZX_ERR_NO_MEMORY = -4;
    /// Internal: the syscall was interrupted and should be retried.
    InternalIntrRetry = ZX_ERR_INTERNAL_INTR_RETRY = -6;
    /// An argument is invalid.
    InvalidArgs = ZX_ERR_INVALID_ARGS = -10;
    /// A handle argument does not name a handle.
    BadHandle = ZX_ERR_BAD_HANDLE = -11;
    /// The object named by a handle has the wrong type.
    WrongType = ZX_ERR_WRONG_TYPE = -12;
    /// The syscall number is not valid.
    BadSyscall = ZX_ERR_BAD_SYSCALL = -13;
    /// An argument is outside the valid range.
    OutOfRange = ZX_ERR_OUT_OF_RANGE = -14;
    /// A caller-provided buffer is too small.
    BufferTooSmall = ZX_ERR_BUFFER_TOO_SMALL = -15;
    /// The operation is not valid in the object's current state.
    BadState = ZX_ERR_BAD_STATE = -20;
    /// The time limit passed.
    TimedOut = ZX_ERR_TIMED_OUT = -21;
    /// The operation would block.
    ShouldWait = ZX_ERR_SHOULD_WAIT = -22;
    /// The operation was canceled.
    Canceled = ZX_ERR_CANCELED = -23;
    /// The other end is closed.
    PeerClosed = ZX_ERR_PEER_CLOSED = -24;
    /// The requested entity was not found.
    NotFound = ZX_ERR_NOT_FOUND = -25;
    /// The entity already exists.
    AlreadyExists = ZX_ERR_ALREADY_EXISTS = -26;
    /// The binding already exists.
    AlreadyBound = ZX_ERR_ALREADY_BOUND = -27;
    /// The resource is temporarily (or for this object, always) unavailable.
    Unavailable = ZX_ERR_UNAVAILABLE = -28;
    /// The caller lacks the rights or the policy denies the operation.
    AccessDenied = ZX_ERR_ACCESS_DENIED = -30;
    /// Input/output error.
    Io = ZX_ERR_IO = -40;
    /// The device refused the operation.
    IoRefused = ZX_ERR_IO_REFUSED = -41;
    /// Data integrity check failed.
    IoDataIntegrity = ZX_ERR_IO_DATA_INTEGRITY = -42;
    /// Data was lost.
    IoDataLoss = ZX_ERR_IO_DATA_LOSS = -43;
    /// The device is not present.
    IoNotPresent = ZX_ERR_IO_NOT_PRESENT = -44;
    /// Too much data.
    IoOverrun = ZX_ERR_IO_OVERRUN = -45;
    /// A deadline was missed.
    IoMissedDeadline = ZX_ERR_IO_MISSED_DEADLINE = -46;
    /// Invalid data.
    IoInvalid = ZX_ERR_IO_INVALID = -47;
    /// A path is invalid.
    BadPath = ZX_ERR_BAD_PATH = -50;
    /// Not a directory.
    NotDir = ZX_ERR_NOT_DIR = -51;
    /// Not a file.
    NotFile = ZX_ERR_NOT_FILE = -52;
    /// File too big.
    FileBig = ZX_ERR_FILE_BIG = -53;
    /// No space left.
    NoSpace = ZX_ERR_NO_SPACE = -54;
    /// Directory not empty.
    NotEmpty = ZX_ERR_NOT_EMPTY = -55;
    /// Stop iterating.
    Stop = ZX_ERR_STOP = -60;
    /// Advance to the next item.
    Next = ZX_ERR_NEXT = -61;
    /// Completes asynchronously.
    Async = ZX_ERR_ASYNC = -62;
    /// Protocol not supported.
    ProtocolNotSupported = ZX_ERR_PROTOCOL_NOT_SUPPORTED = -70;
    /// Address unreachable.
    AddressUnreachable = ZX_ERR_ADDRESS_UNREACHABLE = -71;
    /// Address in use.
    AddressInUse = ZX_ERR_ADDRESS_IN_USE = -72;
    /// Not connected.
    NotConnected = ZX_ERR_NOT_CONNECTED = -73;
    /// Connection refused.
    ConnectionRefused = ZX_ERR_CONNECTION_REFUSED = -74;
    /// Connection reset.
    ConnectionReset = ZX_ERR_CONNECTION_RESET = -75;
    /// Connection aborted.
    ConnectionAborted = ZX_ERR_CONNECTION_ABORTED = -76;
    /// Internal: the task was killed during the operation (never seen
    /// outside the vDSO).
    InternalIntrKilled = ZX_ERR_INTERNAL_INTR_KILLED = -502;
}

impl Status {
    /// The raw `zx_status_t` value.
    pub const fn into_raw(self) -> zx_status_t {
        self as zx_status_t
    }
}

impl From<Status> for zx_status_t {
    fn from(status: Status) -> zx_status_t {
        status.into_raw()
    }
}

/// A `zx_status_t` value that `zircon/errors.h` does not define.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownStatus(pub zx_status_t);

impl core::fmt::Display for Status {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

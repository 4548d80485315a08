//! Linux error numbers (`asm-generic/errno-base.h`, `errno.h`: the same on
//! x86_64 and aarch64) and the runner's `Result`.
//!
//! A syscall handler returns `Result<u64>`; the one conversion to the
//! guest's `-errno` in the result register is [`ret`].

/// A Linux `errno` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

/// A syscall result: the value for the result register, or the error.
pub type Result<T> = core::result::Result<T, Errno>;

macro_rules! errnos {
    ($($name:ident = $v:literal,)*) => {
        impl Errno {
            $(#[doc = concat!("`", stringify!($name), "`.")] pub const $name: Errno = Errno($v);)*
        }
    };
}

errnos! {
    EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, ENXIO = 6, E2BIG = 7,
    ENOEXEC = 8, EBADF = 9, ECHILD = 10, EAGAIN = 11, ENOMEM = 12, EACCES = 13,
    EFAULT = 14, EBUSY = 16, EEXIST = 17, EXDEV = 18, ENODEV = 19, ENOTDIR = 20,
    EISDIR = 21, EINVAL = 22, EMFILE = 24, ENOTTY = 25, EFBIG = 27, ENOSPC = 28,
    ESPIPE = 29, EMLINK = 31, EPIPE = 32, ERANGE = 34, ENAMETOOLONG = 36,
    ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40, EOVERFLOW = 75, EOPNOTSUPP = 95,
}

/// The result register for `r`: the value, or `-errno`.
pub fn ret(r: Result<u64>) -> u64 {
    match r {
        Ok(v) => v,
        Err(Errno(e)) => (-i64::from(e)) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results() {
        assert_eq!(ret(Ok(5)), 5);
        assert_eq!(ret(Err(Errno::ENOSYS)) as i64, -38);
        assert_eq!(ret(Err(Errno::EFAULT)) as i64, -14);
    }
}

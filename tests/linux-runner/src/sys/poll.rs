//! `poll` and `ppoll` over the runner's descriptors.
//!
//! Every descriptor is always ready: files live in memory, stdin is a
//! buffer given at boot (empty stdin reads as end of file at once), and
//! stdout/stderr take every byte. So a descriptor reports the asked-for
//! `POLLIN` when it is open for reading and `POLLOUT` when it is open for
//! writing; a closed one reports `POLLNVAL`, a negative one is skipped (as
//! Linux does). A call in which nothing is ready returns 0 at once instead
//! of sleeping out its timeout: nothing could ever become ready, and no
//! signal can arrive from outside in a single-process runner.

use crate::errno::{Errno, Result};
use crate::fs::o;
use crate::mm::Aspace;

use super::{Host, Linux};

const POLLIN: u16 = 0x1;
const POLLPRI: u16 = 0x2;
const POLLOUT: u16 = 0x4;
const POLLNVAL: u16 = 0x20;
const POLLRDNORM: u16 = 0x40;
const POLLWRNORM: u16 = 0x100;
/// `RLIMIT_NOFILE` as `prlimit64` reports it.
const MAX_FDS: u64 = 1024;

impl<A: Aspace, H: Host> Linux<A, H> {
    /// `poll(fds, nfds, timeout)` and `ppoll(fds, nfds, tmo, sigmask, size)`
    /// (the timeout and mask change nothing here, see the module docs).
    pub(super) fn poll(&mut self, fds: u64, nfds: u64) -> Result<u64> {
        if nfds > MAX_FDS {
            return Err(Errno::EINVAL);
        }
        let mut ready = 0;
        for i in 0..nfds {
            let at = fds.checked_add(i * 8).ok_or(Errno::EFAULT)?;
            let mut p = [0u8; 8];
            self.read_user(at, &mut p)?;
            let fd = i32::from_le_bytes([p[0], p[1], p[2], p[3]]);
            let events = u16::from_le_bytes([p[4], p[5]]);
            let revents = if fd < 0 {
                0
            } else {
                match self.fs.fd(fd as u64) {
                    Err(_) => POLLNVAL,
                    Ok(d) => {
                        let mode = d.file.borrow().flags & o::ACCMODE;
                        let mut r = 0;
                        if mode != o::WRONLY {
                            r |= events & (POLLIN | POLLRDNORM);
                        }
                        if mode != o::RDONLY {
                            r |= events & (POLLOUT | POLLWRNORM);
                        }
                        r & !POLLPRI
                    }
                }
            };
            if revents != 0 {
                ready += 1;
            }
            self.write_user(at + 6, &revents.to_le_bytes())?;
        }
        Ok(ready)
    }
}

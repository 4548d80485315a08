//! Signals: dispositions (`rt_sigaction`), the mask (`rt_sigprocmask`),
//! the alternate stack record (`sigaltstack`), sending to oneself (`kill`,
//! `tgkill`, `tkill`), and [`Signals::take`], which picks the next signal
//! to deliver after a syscall or an exception.
//!
//! What a delivery does is the arch's (frames differ): a handler gets a
//! frame and `rt_sigreturn` undoes it; the default action of most
//! signals ends the process with status `128 + signal`; `SIGCHLD`,
//! `SIGURG`, `SIGWINCH` and `SIGCONT` are ignored by default. There is no
//! job control: the stop signals are ignored too (documented in the
//! README).

use crate::errno::{Errno, Result};
use crate::mm::Aspace;

use super::{Host, Linux, PID, Sys};

/// `SIGKILL`.
pub const SIGKILL: u32 = 9;
/// `SIGSTOP`.
pub const SIGSTOP: u32 = 19;
/// `SIGSEGV`.
pub const SIGSEGV: u32 = 11;
/// `SIGBUS`.
pub const SIGBUS: u32 = 7;
/// `SIGILL`.
pub const SIGILL: u32 = 4;
/// `SIGFPE`.
pub const SIGFPE: u32 = 8;
/// `SIGTRAP`.
pub const SIGTRAP: u32 = 5;
/// `SIG_DFL`.
const SIG_DFL: u64 = 0;
/// `SIG_IGN`.
const SIG_IGN: u64 = 1;
/// `SA_NODEFER`.
pub const SA_NODEFER: u64 = 0x4000_0000;
/// `SA_RESETHAND`.
pub const SA_RESETHAND: u64 = 0x8000_0000;
/// `SA_RESTORER`.
pub const SA_RESTORER: u64 = 0x0400_0000;
/// `SA_ONSTACK`.
pub const SA_ONSTACK: u64 = 0x0800_0000;
/// `SA_SIGINFO`.
pub const SA_SIGINFO: u64 = 4;

/// The kernel's `struct sigaction` (the same 32 bytes on both arches).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Action {
    /// `sa_handler`.
    pub handler: u64,
    /// `sa_flags`.
    pub flags: u64,
    /// `sa_restorer`.
    pub restorer: u64,
    /// `sa_mask`.
    pub mask: u64,
}

/// What to do with a signal taken for delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Run this handler (the arch builds the frame).
    Handler(u32, Action),
    /// End the process: status `128 + signal`.
    Kill(u32),
}

/// The signal state of the (one-threaded) process.
#[derive(Clone, Debug)]
pub struct Signals {
    actions: [Action; 65],
    /// Blocked signals (bit `s - 1`).
    pub mask: u64,
    /// Pending signals.
    pub pending: u64,
    /// `sigaltstack`: (`ss_sp`, `ss_flags`, `ss_size`).
    pub altstack: (u64, u32, u64),
}

impl Default for Signals {
    fn default() -> Self {
        Signals {
            actions: [Action::default(); 65],
            mask: 0,
            pending: 0,
            altstack: (0, 2, 0),
        }
    }
}

fn bit(sig: u32) -> u64 {
    1 << (sig - 1)
}

/// Signals that cannot be caught or blocked.
const UNBLOCKABLE: u64 = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));

/// Whether the default action of `sig` is to ignore it.
fn ignored_by_default(sig: u32) -> bool {
    matches!(sig, 17 | 18 | 23 | 28 | 19..=22)
}

impl Signals {
    /// Marks `sig` pending.
    pub fn raise(&mut self, sig: u32) {
        if (1..=64).contains(&sig) {
            self.pending |= bit(sig);
        }
    }

    /// The disposition of `sig`.
    pub fn action(&self, sig: u32) -> Action {
        self.actions[sig as usize]
    }

    /// The next deliverable signal: lowest unblocked pending one that is
    /// not ignored. Ignored ones are discarded. A handler's signal (and its
    /// `sa_mask`) is blocked by the caller once the frame is built.
    pub fn take(&mut self) -> Option<Delivery> {
        loop {
            let ready = self.pending & !self.mask;
            if ready == 0 {
                return None;
            }
            let sig = ready.trailing_zeros() + 1;
            self.pending &= !bit(sig);
            let act = self.actions[sig as usize];
            match act.handler {
                SIG_IGN => continue,
                SIG_DFL if ignored_by_default(sig) => continue,
                SIG_DFL => return Some(Delivery::Kill(sig)),
                _ => {
                    if act.flags & SA_RESETHAND != 0 {
                        self.actions[sig as usize] = Action::default();
                    }
                    return Some(Delivery::Handler(sig, act));
                }
            }
        }
    }

    /// What a fault must do when its signal is blocked or ignored: Linux
    /// forces the default action (the process dies).
    pub fn force(&mut self, sig: u32) -> Delivery {
        let act = self.actions[sig as usize];
        if self.mask & bit(sig) != 0 || act.handler == SIG_IGN || act.handler == SIG_DFL {
            return Delivery::Kill(sig);
        }
        if act.flags & SA_RESETHAND != 0 {
            self.actions[sig as usize] = Action::default();
        }
        Delivery::Handler(sig, act)
    }

    /// Blocks what running a handler for `sig` with `act` blocks.
    pub fn enter_handler(&mut self, sig: u32, act: &Action) {
        let mut m = act.mask;
        if act.flags & SA_NODEFER == 0 {
            m |= bit(sig);
        }
        self.mask = (self.mask | m) & !UNBLOCKABLE;
    }

    /// Sets the mask (from a frame being returned from).
    pub fn set_mask(&mut self, m: u64) {
        self.mask = m & !UNBLOCKABLE;
    }
}

impl<A: Aspace, H: Host> Linux<A, H> {
    pub(super) fn signal_call(&mut self, s: Sys, a: [u64; 6]) -> Option<Result<u64>> {
        Some(match s {
            Sys::RtSigaction => self.rt_sigaction(a[0], a[1], a[2], a[3]),
            Sys::RtSigprocmask => self.rt_sigprocmask(a[0], a[1], a[2], a[3]),
            Sys::RtSigpending => {
                if a[1] != 8 {
                    Err(Errno::EINVAL)
                } else {
                    let p = self.sig.pending & self.sig.mask;
                    self.write_u64(a[0], p).map(|()| 0)
                }
            }
            Sys::Sigaltstack => self.sigaltstack(a[0], a[1]),
            Sys::Kill => self.kill(a[0] as i32 as i64, a[1]),
            Sys::Tgkill => {
                if a[0] as i32 as i64 != PID as i64 || a[1] as i32 as i64 != PID as i64 {
                    Err(Errno::ESRCH)
                } else {
                    self.kill(PID as i64, a[2])
                }
            }
            Sys::Tkill => {
                if a[0] as i32 as i64 != PID as i64 {
                    Err(Errno::ESRCH)
                } else {
                    self.kill(PID as i64, a[1])
                }
            }
            _ => return None,
        })
    }

    fn rt_sigaction(&mut self, sig: u64, act: u64, old: u64, size: u64) -> Result<u64> {
        if size != 8 || !(1..=64).contains(&sig) {
            return Err(Errno::EINVAL);
        }
        let sig = sig as u32;
        let new = if act != 0 {
            if sig == SIGKILL || sig == SIGSTOP {
                return Err(Errno::EINVAL);
            }
            let b = self.read_vec(act, 32)?;
            let w = |i: usize| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap_or([0; 8]));
            Some(Action {
                handler: w(0),
                flags: w(1),
                restorer: w(2),
                mask: w(3) & !UNBLOCKABLE,
            })
        } else {
            None
        };
        if old != 0 {
            let o = self.sig.actions[sig as usize];
            let mut b = [0u8; 32];
            for (i, v) in [o.handler, o.flags, o.restorer, o.mask].iter().enumerate() {
                b[8 * i..8 * i + 8].copy_from_slice(&v.to_le_bytes());
            }
            self.write_user(old, &b)?;
        }
        if let Some(n) = new {
            self.sig.actions[sig as usize] = n;
            if n.handler == SIG_IGN || (n.handler == SIG_DFL && ignored_by_default(sig)) {
                self.sig.pending &= !bit(sig);
            }
        }
        Ok(0)
    }

    fn rt_sigprocmask(&mut self, how: u64, set: u64, old: u64, size: u64) -> Result<u64> {
        if size != 8 {
            return Err(Errno::EINVAL);
        }
        let new = if set != 0 {
            Some(self.read_u64(set)?)
        } else {
            None
        };
        if new.is_some() && how > 2 {
            return Err(Errno::EINVAL);
        }
        if old != 0 {
            self.write_u64(old, self.sig.mask)?;
        }
        if let Some(n) = new {
            let m = match how {
                0 => self.sig.mask | n,
                1 => self.sig.mask & !n,
                _ => n,
            };
            self.sig.set_mask(m);
        }
        Ok(0)
    }

    fn sigaltstack(&mut self, ss: u64, old: u64) -> Result<u64> {
        const SS_DISABLE: u32 = 2;
        if old != 0 {
            let (sp, fl, sz) = self.sig.altstack;
            let fl = if sz == 0 { SS_DISABLE } else { fl };
            let mut b = [0u8; 24];
            b[..8].copy_from_slice(&sp.to_le_bytes());
            b[8..12].copy_from_slice(&fl.to_le_bytes());
            b[16..].copy_from_slice(&sz.to_le_bytes());
            self.write_user(old, &b)?;
        }
        if ss != 0 {
            let b = self.read_vec(ss, 24)?;
            let sp = u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
            let fl = u32::from_le_bytes(b[8..12].try_into().unwrap_or([0; 4]));
            let sz = u64::from_le_bytes(b[16..].try_into().unwrap_or([0; 8]));
            if fl & !(SS_DISABLE | 0x8000_0000) != 0 {
                return Err(Errno::EINVAL);
            }
            if fl & SS_DISABLE != 0 {
                self.sig.altstack = (0, SS_DISABLE, 0);
            } else {
                if sz < 2048 {
                    return Err(Errno::ENOMEM);
                }
                self.sig.altstack = (sp, 0, sz);
            }
        }
        Ok(0)
    }

    fn kill(&mut self, pid: i64, sig: u64) -> Result<u64> {
        if sig > 64 {
            return Err(Errno::EINVAL);
        }
        if pid != PID as i64 && pid != 0 && pid != -1 && pid != -(PID as i64) {
            return Err(Errno::ESRCH);
        }
        if sig != 0 {
            self.sig.raise(sig as u32);
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_order_masks_and_defaults() {
        let mut s = Signals::default();
        s.raise(17); // SIGCHLD: ignored by default
        assert_eq!(s.take(), None);
        s.raise(15);
        s.raise(10);
        s.actions[10] = Action {
            handler: 0x1234,
            flags: SA_RESETHAND,
            ..Action::default()
        };
        s.mask = bit(15);
        assert!(matches!(s.take(), Some(Delivery::Handler(10, _))));
        assert_eq!(s.action(10).handler, 0, "SA_RESETHAND");
        assert_eq!(s.take(), None, "15 is blocked");
        s.set_mask(0);
        assert_eq!(s.take(), Some(Delivery::Kill(15)));
        s.set_mask(u64::MAX);
        assert_eq!(s.mask & UNBLOCKABLE, 0);
        assert_eq!(s.force(SIGSEGV), Delivery::Kill(SIGSEGV));
        s.set_mask(0);
        s.actions[SIGSEGV as usize].handler = 0x10;
        assert!(matches!(s.force(SIGSEGV), Delivery::Handler(11, _)));
        let act = Action {
            handler: 1,
            mask: bit(3),
            ..Action::default()
        };
        s.enter_handler(10, &act);
        assert_eq!(s.mask, bit(10) | bit(3));
    }
}

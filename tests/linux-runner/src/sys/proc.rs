//! Process calls: ids (one process, one thread: pid = tid = 2, ppid 1,
//! everyone root), limits, clocks and sleeps, `uname`, `sysinfo`,
//! `getrandom`, `prctl` names, and the calls a single-threaded program
//! makes once (`set_tid_address`, `set_robust_list`, `futex` wake).
//!
//! `uname` is fixed: `Linux`, node `zx`, release `6.1.0-zx`, version
//! `#1 SMP zx-subsystem linux-runner`, the arch's machine, domain
//! `(none)`. `getrandom` is a per-boot pseudo-random stream (seeded by
//! the xtask), not a cryptographic source. Sleeps return at once (time
//! under `-icount` is the guest's instructions; nothing else runs).

use crate::errno::{Errno, Result};
use crate::mm::Aspace;

use super::{Host, Linux, PID, PPID, Sys};

/// Linux `RLIM_INFINITY`.
const INF: u64 = u64::MAX;

/// `(soft, hard)` for each `RLIMIT_*` (as a default Debian shell sees).
fn rlimit(res: u64) -> Option<(u64, u64)> {
    Some(match res {
        3 => (8 << 20, INF),      // STACK
        7 => (1024, 1024 * 1024), // NOFILE
        0 | 1 | 2 | 4 | 5 | 9 | 10 => (INF, INF),
        4..=15 => (INF, INF),
        _ => return None,
    })
}

impl<A: Aspace, H: Host> Linux<A, H> {
    pub(super) fn proc_call(&mut self, s: Sys, a: [u64; 6]) -> Option<Result<u64>> {
        Some(match s {
            Sys::Getpid | Sys::Gettid | Sys::Getpgrp | Sys::Getsid | Sys::Getpgid => Ok(PID),
            Sys::Getppid => Ok(PPID),
            Sys::Getuid | Sys::Geteuid | Sys::Getgid | Sys::Getegid => Ok(0),
            Sys::Setuid
            | Sys::Setgid
            | Sys::Setreuid
            | Sys::Setregid
            | Sys::Setresuid
            | Sys::Setresgid
            | Sys::Setgroups
            | Sys::Setpgid => Ok(0),
            Sys::Setsid => Err(Errno::EPERM),
            Sys::Getresuid | Sys::Getresgid => self.getres(a),
            Sys::Getgroups => Ok(0),
            Sys::SetTidAddress => {
                self.clear_child_tid = a[0];
                Ok(PID)
            }
            Sys::SetRobustList => {
                if a[1] != 24 {
                    Err(Errno::EINVAL)
                } else {
                    Ok(0)
                }
            }
            Sys::Futex => self.futex(a),
            Sys::Getrlimit => self.prlimit(0, a[0], 0, a[1]),
            Sys::Setrlimit => self.prlimit(0, a[0], a[1], 0),
            Sys::Prlimit64 => self.prlimit(a[0], a[1], a[2], a[3]),
            Sys::Getrandom => self.getrandom(a[0], a[1], a[2]),
            Sys::Uname => self.uname(a[0]),
            Sys::ClockGettime => self.clock_gettime(a[0], a[1]),
            Sys::ClockGetres => self.clock_getres(a[0], a[1]),
            Sys::Gettimeofday => self.gettimeofday(a[0]),
            Sys::Time => {
                let now = self.now();
                if a[0] != 0 {
                    self.write_u64(a[0], now.sec as u64)
                        .map(|()| now.sec as u64)
                } else {
                    Ok(now.sec as u64)
                }
            }
            Sys::Nanosleep => self.check_timespec(a[0]),
            Sys::ClockNanosleep => self.check_timespec(a[2]),
            Sys::SchedYield => Ok(0),
            Sys::SchedGetaffinity => self.sched_getaffinity(a[1], a[2]),
            Sys::Sysinfo => self.sysinfo(a[0]),
            Sys::Prctl => self.prctl(a[0], a[1]),
            Sys::Times => self.times(a[0]),
            Sys::Getrusage => {
                if a[0] as i64 != 0 && a[0] as i64 != -1 && a[0] as i64 != 1 {
                    Err(Errno::EINVAL)
                } else {
                    self.write_user(a[1], &[0u8; 144]).map(|()| 0)
                }
            }
            Sys::Wait4 => Err(Errno::ECHILD),
            Sys::Alarm => Ok(0),
            _ => return None,
        })
    }

    fn getres(&mut self, a: [u64; 6]) -> Result<u64> {
        for p in &a[..3] {
            self.write_u32(*p, 0)?;
        }
        Ok(0)
    }

    fn futex(&mut self, a: [u64; 6]) -> Result<u64> {
        const WAIT: u64 = 0;
        const WAKE: u64 = 1;
        const WAIT_BITSET: u64 = 9;
        const WAKE_BITSET: u64 = 10;
        match a[1] & 0x7f {
            WAKE | WAKE_BITSET => Ok(0),
            WAIT | WAIT_BITSET => {
                let mut v = [0u8; 4];
                self.read_user(a[0], &mut v)?;
                if u32::from_le_bytes(v) != a[2] as u32 {
                    Err(Errno::EAGAIN)
                } else {
                    // Nobody else can ever wake the one thread.
                    Err(Errno::EDEADLK_SINGLE_THREAD)
                }
            }
            _ => Err(Errno::ENOSYS),
        }
    }

    fn prlimit(&mut self, pid: u64, res: u64, new: u64, old: u64) -> Result<u64> {
        if pid != 0 && pid != PID {
            return Err(Errno::ESRCH);
        }
        let (soft, hard) = rlimit(res).ok_or(Errno::EINVAL)?;
        if new != 0 {
            self.read_vec(new, 16)?;
        }
        if old != 0 {
            self.write_u64(old, soft)?;
            self.write_u64(old + 8, hard)?;
        }
        Ok(0)
    }

    fn getrandom(&mut self, buf: u64, len: u64, flags: u64) -> Result<u64> {
        if flags & !7 != 0 {
            return Err(Errno::EINVAL);
        }
        let len = len.min(1 << 20) as usize;
        let mut v = alloc::vec![0u8; len];
        for chunk in v.chunks_mut(8) {
            let r = self.random_u64().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
        self.write_user(buf, &v)?;
        Ok(len as u64)
    }

    fn uname(&mut self, buf: u64) -> Result<u64> {
        let mut u = [0u8; 65 * 6];
        let fields: [&[u8]; 6] = [
            b"Linux",
            b"zx",
            b"6.1.0-zx",
            b"#1 SMP zx-subsystem linux-runner",
            self.arch.machine,
            b"(none)",
        ];
        for (i, f) in fields.iter().enumerate() {
            u[65 * i..65 * i + f.len()].copy_from_slice(f);
        }
        self.write_user(buf, &u)?;
        Ok(0)
    }

    fn clock_gettime(&mut self, clock: u64, tp: u64) -> Result<u64> {
        let mono = self.host.monotonic_ns();
        let ns = match clock {
            0 | 5 | 8 => self.realtime_base.saturating_add(mono), // REALTIME(_COARSE), _ALARM
            1 | 4 | 6 | 7 | 2 | 3 => mono,
            _ => return Err(Errno::EINVAL),
        };
        self.write_u64(tp, ns.div_euclid(1_000_000_000) as u64)?;
        self.write_u64(tp + 8, ns.rem_euclid(1_000_000_000) as u64)?;
        Ok(0)
    }

    fn clock_getres(&mut self, clock: u64, tp: u64) -> Result<u64> {
        if clock > 11 {
            return Err(Errno::EINVAL);
        }
        if tp != 0 {
            self.write_u64(tp, 0)?;
            self.write_u64(tp + 8, 1)?;
        }
        Ok(0)
    }

    fn gettimeofday(&mut self, tv: u64) -> Result<u64> {
        if tv != 0 {
            let now = self.now();
            self.write_u64(tv, now.sec as u64)?;
            self.write_u64(tv + 8, (now.nsec / 1000) as u64)?;
        }
        Ok(0)
    }

    fn check_timespec(&mut self, ts: u64) -> Result<u64> {
        let nsec = self.read_u64(ts + 8)? as i64;
        let sec = self.read_u64(ts)? as i64;
        if !(0..1_000_000_000).contains(&nsec) || sec < 0 {
            return Err(Errno::EINVAL);
        }
        Ok(0)
    }

    fn sched_getaffinity(&mut self, len: u64, mask: u64) -> Result<u64> {
        if len < 8 || !len.is_multiple_of(8) {
            return Err(Errno::EINVAL);
        }
        self.write_u64(mask, 1)?;
        Ok(8)
    }

    fn sysinfo(&mut self, buf: u64) -> Result<u64> {
        let mut s = [0u8; 112];
        let up = (self.host.monotonic_ns() / 1_000_000_000) as u64;
        s[..8].copy_from_slice(&up.to_le_bytes());
        s[32..40].copy_from_slice(&(256u64 << 20).to_le_bytes()); // totalram
        s[40..48].copy_from_slice(&(128u64 << 20).to_le_bytes()); // freeram
        s[80..82].copy_from_slice(&1u16.to_le_bytes()); // procs
        s[104..108].copy_from_slice(&1u32.to_le_bytes()); // mem_unit
        self.write_user(buf, &s)?;
        Ok(0)
    }

    fn prctl(&mut self, op: u64, arg: u64) -> Result<u64> {
        const PR_SET_NAME: u64 = 15;
        const PR_GET_NAME: u64 = 16;
        match op {
            PR_SET_NAME => {
                let mut n = [0u8; 16];
                let s = self.read_cstr(arg)?;
                let k = s.len().min(15);
                n[..k].copy_from_slice(&s[..k]);
                self.comm = n;
                Ok(0)
            }
            PR_GET_NAME => {
                let c = self.comm;
                self.write_user(arg, &c).map(|()| 0)
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn times(&mut self, buf: u64) -> Result<u64> {
        let ticks = (self.host.monotonic_ns() / 10_000_000) as u64;
        if buf != 0 {
            self.write_user(buf, &[0u8; 32])?;
        }
        Ok(ticks)
    }
}

impl Errno {
    /// What a `FUTEX_WAIT` that nobody can wake returns: `EDEADLK`.
    pub const EDEADLK_SINGLE_THREAD: Errno = Errno(35);
}

//! Counters for `--stats`: Linux syscalls serviced and those answered
//! `-ENOSYS`, by raw number (names come from the arch's table when
//! printed), and the first-enter and exit time stamps.
//!
//! Counting is one array increment per syscall, so it costs the hot path
//! next to nothing and is always on.

/// Numbers counted in the arrays; larger ones are counted together.
pub const MAX_NR: usize = 512;

/// The counters.
#[derive(Clone, Debug)]
pub struct Stats {
    /// Serviced calls per number (including the `-ENOSYS` ones).
    pub calls: [u32; MAX_NR],
    /// `-ENOSYS` answers per number.
    pub enosys: [u32; MAX_NR],
    /// Calls with numbers `>= MAX_NR` (all `-ENOSYS`).
    pub big: u32,
    /// Restricted-mode exceptions taken.
    pub exceptions: u32,
    /// Signals delivered to handlers.
    pub handled_signals: u32,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            calls: [0; MAX_NR],
            enosys: [0; MAX_NR],
            big: 0,
            exceptions: 0,
            handled_signals: 0,
        }
    }
}

impl Stats {
    /// Counts one call of `nr`, answered `-ENOSYS` when `nosys`.
    #[inline]
    pub fn count(&mut self, nr: u64, nosys: bool) {
        match usize::try_from(nr).ok().filter(|&n| n < MAX_NR) {
            Some(n) => {
                self.calls[n] = self.calls[n].saturating_add(1);
                if nosys {
                    self.enosys[n] = self.enosys[n].saturating_add(1);
                }
            }
            None => self.big = self.big.saturating_add(1),
        }
    }

    /// Total calls serviced.
    pub fn total(&self) -> u64 {
        self.calls.iter().map(|&c| u64::from(c)).sum::<u64>() + u64::from(self.big)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        let mut s = Stats::default();
        s.count(39, false);
        s.count(39, false);
        s.count(334, true);
        s.count(u64::MAX, true);
        assert_eq!(s.calls[39], 2);
        assert_eq!(s.enosys[334], 1);
        assert_eq!(s.big, 1);
        assert_eq!(s.total(), 4);
    }
}

//! The `--stats` report, printed on its own host stream after the run.

use core::fmt::{self, Write};

use zx_user::SyscallNumber;

use super::Lx;
use super::cpu::abi;
use crate::stats::MAX_NR;

fn name(nr: usize) -> &'static str {
    abi::lookup(nr as u64).map_or("?", |(n, _)| n)
}

/// Writes the report.
///
/// # Errors
///
/// When the stream refuses.
pub fn print(w: &mut impl Write, lx: &Lx, insns: u64, status: u64) -> fmt::Result {
    let s = &lx.stats;
    writeln!(
        w,
        "linux-runner --stats ({}): exit status {status}",
        core::str::from_utf8(lx.arch.machine).unwrap_or("?")
    )?;
    writeln!(w, "  linux syscalls serviced: {}", s.total())?;
    for nr in 0..MAX_NR {
        if s.calls[nr] > 0 {
            writeln!(w, "    {:<20} {:>8}  (nr {nr})", name(nr), s.calls[nr])?;
        }
    }
    let nosys: u64 = s.enosys.iter().map(|&c| u64::from(c)).sum::<u64>() + u64::from(s.big);
    writeln!(w, "  answered -ENOSYS: {nosys}")?;
    for nr in 0..MAX_NR {
        if s.enosys[nr] > 0 {
            writeln!(w, "    {:<20} {:>8}  (nr {nr})", name(nr), s.enosys[nr])?;
        }
    }
    if s.big > 0 {
        writeln!(w, "    {:<20} {:>8}", "(numbers >= 512)", s.big)?;
    }
    let counts = zx_user::raw::counts();
    let total: u64 = SyscallNumber::ALL
        .iter()
        .map(|&n| u64::from(counts[n as usize]))
        .sum();
    writeln!(w, "  zircon syscalls made by the runner: {total}")?;
    for &n in SyscallNumber::ALL {
        if counts[n as usize] > 0 {
            writeln!(w, "    {:<28} {:>8}", n.name(), counts[n as usize])?;
        }
    }
    writeln!(
        w,
        "  zx_vmar_protect calls: {}",
        counts[SyscallNumber::VmarProtect as usize]
    )?;
    writeln!(
        w,
        "  restricted exceptions: {}, signals handled: {}",
        s.exceptions, s.handled_signals
    )?;
    writeln!(w, "  guest instructions, first enter to exit: {insns}")
}

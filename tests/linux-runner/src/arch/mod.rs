//! The two architectures' Linux ABIs: syscall tables (x86_64's own,
//! aarch64's generic one), registers of the restricted state, signal
//! frames, exception reports. Both compile everywhere (their layouts are
//! unit-tested on the host); the runner uses the one of its target.

// The other arch's module is used by its tests only.
#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
pub mod aarch64;
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub mod x86_64;

/// A signal an exception turns into: number, `si_code`, `si_addr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The signal.
    pub sig: u32,
    /// `si_code`.
    pub code: i32,
    /// `si_addr`.
    pub addr: u64,
}

/// `siginfo_t` (128 bytes) for `sig` with `code`: a fault's address, or
/// the sender (`si_pid`, `si_uid` 0) for a signal sent with `kill`.
pub fn siginfo(sig: u32, code: i32, addr: u64, pid: u32) -> [u8; 128] {
    let mut b = [0u8; 128];
    b[..4].copy_from_slice(&sig.to_le_bytes());
    b[8..12].copy_from_slice(&code.to_le_bytes());
    if code > 0 {
        b[16..24].copy_from_slice(&addr.to_le_bytes());
    } else {
        b[16..20].copy_from_slice(&pid.to_le_bytes());
    }
    b
}

/// `si_code` values.
#[allow(missing_docs)]
pub mod si {
    pub const USER: i32 = 0;
    pub const KERNEL: i32 = 0x80;
    pub const TKILL: i32 = -6;
    pub const SEGV_MAPERR: i32 = 1;
    pub const SEGV_ACCERR: i32 = 2;
    pub const ILL_ILLOPC: i32 = 1;
    pub const ILL_ILLOPN: i32 = 2;
    pub const FPE_INTDIV: i32 = 1;
    pub const BUS_ADRALN: i32 = 1;
    pub const TRAP_BRKPT: i32 = 1;
}

pub(crate) fn put(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

pub(crate) fn get(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

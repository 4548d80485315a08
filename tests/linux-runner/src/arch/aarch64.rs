//! aarch64: the generic syscall table (`include/uapi/asm-generic/
//! unistd.h`: no `open`, `stat`, `fork`…), the restricted state as Linux
//! registers (number in `x8`, arguments `x0..x5`, result in `x0`), the
//! `rt_sigframe` (`arch/arm64/kernel/signal.c`: `siginfo`, then the
//! `ucontext` whose `sigcontext` reserve holds an `fpsimd_context` and the
//! terminator; a frame record above it) and exception reports. There is
//! no vDSO: handlers return through a trampoline page the runner maps.

use alloc::vec::Vec;

use zx_subsystem::abi::{
    ZX_EXCP_FATAL_PAGE_FAULT, ZX_EXCP_SW_BREAKPOINT, ZX_EXCP_UNALIGNED_ACCESS,
    ZX_EXCP_UNDEFINED_INSTRUCTION, zx_exception_report_t, zx_restricted_state_arm64_t as State,
};

use super::{Fault, get, put, si};
use crate::sys::signal::{Action, SIGBUS, SIGILL, SIGSEGV, SIGTRAP};
use crate::sys::{ArchInfo, Sys};

/// `EM_AARCH64`.
pub const MACHINE: u16 = 183;
/// The facts the neutral code needs.
pub const INFO: ArchInfo = ArchInfo {
    machine: b"aarch64",
    generic_stat: true,
};
/// The restricted region: `[USER_ASPACE_BASE, 1 << 47)`.
pub const GUEST_LO: u64 = 0x20_0000;
/// End of the restricted region.
pub const GUEST_HI: u64 = 1 << 47;
/// `rt_sigreturn`.
pub const NR_RT_SIGRETURN: u64 = 139;
/// `mov x8, #139; svc #0`.
pub const TRAMPOLINE: &[u8] = &[0x68, 0x11, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4];

macro_rules! table {
    ($($nr:literal $name:ident $sys:ident,)*) => {
        /// The name and handler of syscall `nr`.
        pub fn lookup(nr: u64) -> Option<(&'static str, Sys)> {
            match nr {
                $($nr => Some((stringify!($name), Sys::$sys)),)*
                _ => None,
            }
        }
    };
}

table! {
    17 getcwd Getcwd, 23 dup Dup, 24 dup3 Dup3, 25 fcntl Fcntl, 29 ioctl Ioctl,
    32 flock Nosys, 33 mknodat Nosys, 34 mkdirat Mkdirat, 35 unlinkat Unlinkat,
    36 symlinkat Symlinkat, 37 linkat Linkat, 38 renameat Renameat, 43 statfs Nosys,
    44 fstatfs Nosys, 45 truncate Truncate, 46 ftruncate Ftruncate, 48 faccessat Faccessat,
    49 chdir Chdir, 50 fchdir Fchdir, 51 chroot Nosys, 52 fchmod Fchmod,
    53 fchmodat Fchmodat, 54 fchownat Fchownat, 55 fchown Fchown, 56 openat Openat,
    57 close Close, 59 pipe2 Nosys, 61 getdents64 Getdents64, 62 lseek Lseek, 63 read Read,
    64 write Write, 65 readv Readv, 66 writev Writev, 67 pread64 Pread64,
    68 pwrite64 Pwrite64, 71 sendfile Sendfile, 72 pselect6 Nosys, 73 ppoll Ppoll,
    78 readlinkat Readlinkat, 79 newfstatat Newfstatat, 80 fstat Fstat, 81 sync Sync,
    82 fsync Fsync, 83 fdatasync Fdatasync, 88 utimensat Utimensat, 93 exit Exit,
    94 exit_group ExitGroup, 96 set_tid_address SetTidAddress, 98 futex Futex,
    99 set_robust_list SetRobustList, 100 get_robust_list Nosys, 101 nanosleep Nanosleep,
    102 getitimer Nosys, 103 setitimer Nosys, 113 clock_gettime ClockGettime,
    114 clock_getres ClockGetres, 115 clock_nanosleep ClockNanosleep,
    123 sched_getaffinity SchedGetaffinity, 124 sched_yield SchedYield, 129 kill Kill,
    130 tkill Tkill, 131 tgkill Tgkill, 132 sigaltstack Sigaltstack,
    133 rt_sigsuspend Nosys, 134 rt_sigaction RtSigaction, 135 rt_sigprocmask RtSigprocmask,
    136 rt_sigpending RtSigpending, 139 rt_sigreturn RtSigreturn, 143 setregid Setregid,
    144 setgid Setgid, 145 setreuid Setreuid, 146 setuid Setuid, 147 setresuid Setresuid,
    148 getresuid Getresuid, 149 setresgid Setresgid, 150 getresgid Getresgid,
    153 times Times, 154 setpgid Setpgid, 155 getpgid Getpgid, 156 getsid Getsid,
    157 setsid Setsid, 158 getgroups Getgroups, 159 setgroups Setgroups, 160 uname Uname,
    163 getrlimit Getrlimit, 164 setrlimit Setrlimit, 165 getrusage Getrusage,
    166 umask Umask, 167 prctl Prctl, 169 gettimeofday Gettimeofday, 172 getpid Getpid,
    173 getppid Getppid, 174 getuid Getuid, 175 geteuid Geteuid, 176 getgid Getgid,
    177 getegid Getegid, 178 gettid Gettid, 179 sysinfo Sysinfo, 198 socket Nosys,
    203 connect Nosys, 214 brk Brk, 215 munmap Munmap, 216 mremap Nosys, 220 clone Nosys,
    221 execve Nosys, 222 mmap Mmap, 223 fadvise64 Fadvise64, 226 mprotect Mprotect,
    227 msync Nosys, 232 mincore Nosys, 233 madvise Madvise, 260 wait4 Wait4,
    261 prlimit64 Prlimit64, 276 renameat2 Renameat2, 278 getrandom Getrandom,
    291 statx Statx, 293 rseq Nosys, 435 clone3 Nosys, 436 close_range Nosys,
    439 faccessat2 Faccessat2,
}

/// The number and six arguments of the syscall the state stopped at.
#[inline]
pub fn syscall_args(s: &State) -> (u64, [u64; 6]) {
    (s.x[8], [s.x[0], s.x[1], s.x[2], s.x[3], s.x[4], s.x[5]])
}

/// Stores a syscall's result.
#[inline]
pub fn set_result(s: &mut State, v: u64) {
    s.x[0] = v;
}

/// The state at the ELF entry: `sp` at `argc`, everything else 0 (`x0` =
/// 0: no `rtld_fini`).
pub fn initial(entry: u64, sp: u64) -> State {
    State {
        pc: entry,
        sp,
        ..State::default()
    }
}

/// The program sets `tpidr_el0` itself; nothing to do.
pub fn set_tls(s: &mut State, v: u64) {
    s.tpidr_el0 = v;
}

/// The stack pointer.
pub fn sp(s: &State) -> u64 {
    s.sp
}

/// What the x86_64 frame keeps of an exception (its `trapno`, `err`);
/// an arm64 frame would carry the ESR in an `esr_context` record, which
/// the runner does not write yet, so nothing.
pub fn trap_info(_r: &zx_exception_report_t) -> (u64, u64) {
    (0, 0)
}

/// The signal an exception report means.
pub fn fault(s: &State, r: &zx_exception_report_t) -> Fault {
    let esr = r.arm64_esr();
    let far = r.arm64_far();
    match r.header.type_ {
        ZX_EXCP_FATAL_PAGE_FAULT => {
            // DFSC/IFSC 0b0011xx: permission fault.
            let permission = esr & 0x3c == 0x0c;
            Fault {
                sig: SIGSEGV,
                code: if permission {
                    si::SEGV_ACCERR
                } else {
                    si::SEGV_MAPERR
                },
                addr: far,
            }
        }
        ZX_EXCP_UNDEFINED_INSTRUCTION => Fault {
            sig: SIGILL,
            // arm64 Linux's do_undefinstr: ILL_ILLOPC (x86's #UD is
            // ILL_ILLOPN).
            code: si::ILL_ILLOPC,
            addr: s.pc,
        },
        ZX_EXCP_SW_BREAKPOINT => Fault {
            sig: SIGTRAP,
            code: si::TRAP_BRKPT,
            addr: s.pc,
        },
        ZX_EXCP_UNALIGNED_ACCESS => Fault {
            sig: SIGBUS,
            code: si::BUS_ADRALN,
            addr: far,
        },
        _ => Fault {
            sig: SIGSEGV,
            code: si::KERNEL,
            addr: 0,
        },
    }
}

const INFO_OFF: usize = 0;
const UC: usize = 128;
const MASK: usize = UC + 40;
const MCTX: usize = UC + 176;
const RESERVED: usize = MCTX + 288;
/// `sizeof(struct rt_sigframe)`.
pub const FRAME: u64 = (RESERVED + 4096) as u64;
/// `FPSIMD_MAGIC`.
const FPSIMD_MAGIC: u32 = 0x4650_8001;
/// `sizeof(struct fpsimd_context)`.
const FPSIMD_SIZE: u32 = 528;

/// The FP/SIMD registers as the runner's vector saves them: `v0..v31`
/// (512 bytes), then `fpcr`, `fpsr` (8 bytes each).
pub const FP_BYTES: usize = 528;

/// A frame being built.
pub struct Frame {
    /// The frame's address (the handler's `sp`).
    pub at: u64,
    /// The frame record's address (the handler's `x29`).
    pub record: u64,
    /// The bytes of `[at, at + FRAME + 16)` (frame, then the record).
    pub bytes: Vec<u8>,
}

/// Lays out the frame for `sig` below `stack_top`.
pub fn build_frame(
    s: &State,
    stack_top: u64,
    mask: u64,
    alt: (u64, u32, u64),
    info: &[u8; 128],
    fp: &[u8; FP_BYTES],
) -> Frame {
    let record = stack_top.wrapping_sub(16) & !15;
    let at = record.wrapping_sub(FRAME) & !15;
    let len = (record + 16 - at) as usize;
    let mut b = alloc::vec![0u8; len];
    b[INFO_OFF..INFO_OFF + 128].copy_from_slice(info);
    put(&mut b, UC + 16, alt.0);
    b[UC + 24..UC + 28].copy_from_slice(&alt.1.to_le_bytes());
    put(&mut b, UC + 32, alt.2);
    put(&mut b, MASK, mask);
    let fault_addr = if info[0] as u32 == SIGSEGV || info[0] as u32 == SIGBUS {
        get(info, 16)
    } else {
        0
    };
    put(&mut b, MCTX, fault_addr);
    for (i, r) in s.x.iter().enumerate() {
        put(&mut b, MCTX + 8 + 8 * i, *r);
    }
    put(&mut b, MCTX + 256, s.sp);
    put(&mut b, MCTX + 264, s.pc);
    put(&mut b, MCTX + 272, u64::from(s.cpsr));
    b[RESERVED..RESERVED + 4].copy_from_slice(&FPSIMD_MAGIC.to_le_bytes());
    b[RESERVED + 4..RESERVED + 8].copy_from_slice(&FPSIMD_SIZE.to_le_bytes());
    // fpsr, fpcr (u32 each), then the 32 vector registers.
    b[RESERVED + 8..RESERVED + 12].copy_from_slice(&fp[520..524]);
    b[RESERVED + 12..RESERVED + 16].copy_from_slice(&fp[512..516]);
    b[RESERVED + 16..RESERVED + 528].copy_from_slice(&fp[..512]);
    // The terminator {0, 0} follows (already zero). The frame record.
    let rec = (record - at) as usize;
    put(&mut b, rec, s.x[29]);
    put(&mut b, rec + 8, s.pc);
    Frame {
        at,
        record,
        bytes: b,
    }
}

/// The handler's registers for frame `f`.
pub fn enter_handler(s: &mut State, f: &Frame, sig: u32, act: &Action, restorer: u64) {
    s.x[0] = u64::from(sig);
    s.x[1] = f.at + INFO_OFF as u64;
    s.x[2] = f.at + UC as u64;
    s.sp = f.at;
    s.x[29] = f.record;
    s.x[30] = restorer;
    s.pc = act.handler;
}

/// The bytes `restore` reads, from the frame's start (`sp` at
/// `rt_sigreturn`).
pub const RESTORE_LEN: usize = RESERVED + 528;

/// What `rt_sigreturn` restores from the frame at `sp`: the registers
/// (NZCV only from `pstate`), the mask; the FP registers go to `fp` when
/// the reserve holds an `fpsimd_context`.
pub fn restore(s: &mut State, f: &[u8], fp: &mut [u8; FP_BYTES]) -> u64 {
    for i in 0..31 {
        s.x[i] = get(f, MCTX + 8 + 8 * i);
    }
    s.sp = get(f, MCTX + 256);
    s.pc = get(f, MCTX + 264);
    s.cpsr = (get(f, MCTX + 272) as u32) & 0xf000_0000;
    let magic = u32::from_le_bytes([
        f[RESERVED],
        f[RESERVED + 1],
        f[RESERVED + 2],
        f[RESERVED + 3],
    ]);
    if magic == FPSIMD_MAGIC {
        fp[520..524].copy_from_slice(&f[RESERVED + 8..RESERVED + 12]);
        fp[512..516].copy_from_slice(&f[RESERVED + 12..RESERVED + 16]);
        fp[..512].copy_from_slice(&f[RESERVED + 16..RESERVED + 528]);
    }
    get(f, MASK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(lookup(173), Some(("getppid", Sys::Getppid)));
        assert_eq!(lookup(56), Some(("openat", Sys::Openat)));
        assert_eq!(lookup(2), None, "no open(2) in the generic table");
        assert_eq!(lookup(293), Some(("rseq", Sys::Nosys)));
    }

    #[test]
    fn frame_round_trip() {
        let mut s = State::default();
        for (i, x) in s.x.iter_mut().enumerate() {
            *x = i as u64 * 3;
        }
        s.sp = 0x7fff_0000;
        s.pc = 0x40_1000;
        s.cpsr = 0x6000_0000;
        let mut fp = [0u8; FP_BYTES];
        fp.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        let info = super::super::siginfo(10, si::USER, 0, 2);
        let f = build_frame(&s, s.sp, 0x9, (0, 2, 0), &info, &fp);
        assert_eq!(f.at % 16, 0);
        assert_eq!(f.record, f.at + FRAME);
        let act = Action {
            handler: 0x40_5000,
            ..Action::default()
        };
        let mut h = s;
        enter_handler(&mut h, &f, 10, &act, 0x1000);
        assert_eq!(
            (h.x[0], h.x[1], h.x[2], h.sp, h.x[29], h.x[30], h.pc),
            (10, f.at, f.at + 128, f.at, f.record, 0x1000, 0x40_5000)
        );
        assert_eq!(get(&f.bytes, (f.record - f.at) as usize + 8), 0x40_1000);
        let mut back = State::default();
        let mut fp2 = [0u8; FP_BYTES];
        let mask = restore(&mut back, &f.bytes, &mut fp2);
        assert_eq!(mask, 0x9);
        assert_eq!(back.x, s.x);
        assert_eq!((back.sp, back.pc, back.cpsr), (s.sp, s.pc, s.cpsr));
        assert_eq!(&fp2[..516], &fp[..516]);
        assert_eq!(&fp2[520..524], &fp[520..524]);
    }

    #[test]
    fn trampoline_is_rt_sigreturn() {
        let mov = u32::from_le_bytes(TRAMPOLINE[..4].try_into().unwrap());
        // movz x8, #imm16: 0xd2800000 | imm16 << 5 | 8
        assert_eq!(mov, 0xd280_0000 | ((NR_RT_SIGRETURN as u32) << 5) | 8);
        assert_eq!(
            u32::from_le_bytes(TRAMPOLINE[4..].try_into().unwrap()),
            0xd400_0001
        );
    }
}

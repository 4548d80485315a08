//! x86_64: the syscall table (`arch/x86/entry/syscalls/syscall_64.tbl`),
//! the restricted state as Linux registers (number in `rax`, arguments in
//! `rdi rsi rdx r10 r8 r9`, result in `rax`; `rcx`/`r11` get the return
//! address and flags as after a Linux `syscall`), the `rt_sigframe`
//! (`arch/x86/kernel/signal.c`: return address, `ucontext` with its
//! `sigcontext`, `siginfo`, then the 512-byte `fxsave` area 64-aligned
//! below the red zone) and exception reports.

use alloc::vec::Vec;

use zx_subsystem::abi::{
    ZX_EXCP_FATAL_PAGE_FAULT, ZX_EXCP_SW_BREAKPOINT, ZX_EXCP_UNALIGNED_ACCESS,
    ZX_EXCP_UNDEFINED_INSTRUCTION, zx_exception_report_t, zx_restricted_state_x86_64_t as State,
};

use super::{Fault, get, put, si};
use crate::sys::signal::{Action, SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGTRAP};
use crate::sys::{ArchInfo, Sys};

/// `EM_X86_64`.
pub const MACHINE: u16 = 62;
/// The facts the neutral code needs.
pub const INFO: ArchInfo = ArchInfo {
    machine: b"x86_64",
    generic_stat: false,
};
/// The restricted region: `[USER_ASPACE_BASE, 1 << 46)`.
pub const GUEST_LO: u64 = 0x20_0000;
/// End of the restricted region.
pub const GUEST_HI: u64 = 1 << 46;
/// `rt_sigreturn`, for the trampoline.
pub const NR_RT_SIGRETURN: u64 = 15;
/// A signal trampoline for handlers without `SA_RESTORER`:
/// `mov eax, 15; syscall`.
pub const TRAMPOLINE: &[u8] = &[0xb8, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05];

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
    0 read Read, 1 write Write, 2 open Open, 3 close Close, 4 stat Stat, 5 fstat Fstat,
    6 lstat Lstat, 7 poll Poll, 8 lseek Lseek, 9 mmap Mmap, 10 mprotect Mprotect,
    11 munmap Munmap, 12 brk Brk, 13 rt_sigaction RtSigaction, 14 rt_sigprocmask RtSigprocmask,
    15 rt_sigreturn RtSigreturn, 16 ioctl Ioctl, 17 pread64 Pread64, 18 pwrite64 Pwrite64,
    19 readv Readv, 20 writev Writev, 21 access Access, 22 pipe Nosys, 23 select Nosys,
    24 sched_yield SchedYield, 25 mremap Nosys, 26 msync Nosys, 27 mincore Nosys,
    28 madvise Madvise, 32 dup Dup, 33 dup2 Dup2, 34 pause Nosys, 35 nanosleep Nanosleep,
    36 getitimer Nosys, 37 alarm Alarm, 38 setitimer Nosys, 39 getpid Getpid,
    40 sendfile Sendfile, 41 socket Nosys, 42 connect Nosys, 56 clone Nosys, 57 fork Nosys,
    58 vfork Nosys, 59 execve Nosys, 60 exit Exit, 61 wait4 Wait4, 62 kill Kill,
    63 uname Uname, 72 fcntl Fcntl, 73 flock Nosys, 74 fsync Fsync, 75 fdatasync Fdatasync,
    76 truncate Truncate, 77 ftruncate Ftruncate, 78 getdents Nosys, 79 getcwd Getcwd,
    80 chdir Chdir, 81 fchdir Fchdir, 82 rename Rename, 83 mkdir Mkdir, 84 rmdir Rmdir,
    85 creat Creat, 86 link Link, 87 unlink Unlink, 88 symlink Symlink, 89 readlink Readlink,
    90 chmod Chmod, 91 fchmod Fchmod, 92 chown Chown, 93 fchown Fchown, 94 lchown Lchown,
    95 umask Umask, 96 gettimeofday Gettimeofday, 97 getrlimit Getrlimit,
    98 getrusage Getrusage, 99 sysinfo Sysinfo, 100 times Times, 102 getuid Getuid,
    104 getgid Getgid, 105 setuid Setuid, 106 setgid Setgid, 107 geteuid Geteuid,
    108 getegid Getegid, 109 setpgid Setpgid, 110 getppid Getppid, 111 getpgrp Getpgrp,
    112 setsid Setsid, 113 setreuid Setreuid, 114 setregid Setregid,
    115 getgroups Getgroups, 116 setgroups Setgroups, 117 setresuid Setresuid,
    118 getresuid Getresuid, 119 setresgid Setresgid, 120 getresgid Getresgid,
    121 getpgid Getpgid, 124 getsid Getsid, 127 rt_sigpending RtSigpending,
    130 rt_sigsuspend Nosys, 131 sigaltstack Sigaltstack, 132 utime Nosys, 137 statfs Nosys,
    138 fstatfs Nosys, 157 prctl Prctl, 158 arch_prctl ArchPrctl, 160 setrlimit Setrlimit,
    161 chroot Nosys, 162 sync Sync, 186 gettid Gettid, 200 tkill Tkill, 201 time Time,
    202 futex Futex, 204 sched_getaffinity SchedGetaffinity, 217 getdents64 Getdents64,
    218 set_tid_address SetTidAddress, 221 fadvise64 Fadvise64,
    228 clock_gettime ClockGettime, 229 clock_getres ClockGetres,
    230 clock_nanosleep ClockNanosleep, 231 exit_group ExitGroup, 234 tgkill Tgkill,
    235 utimes Nosys, 257 openat Openat, 258 mkdirat Mkdirat, 260 fchownat Fchownat,
    262 newfstatat Newfstatat, 263 unlinkat Unlinkat, 264 renameat Renameat,
    265 linkat Linkat, 266 symlinkat Symlinkat, 267 readlinkat Readlinkat,
    268 fchmodat Fchmodat, 269 faccessat Faccessat, 270 pselect6 Nosys, 271 ppoll Ppoll,
    273 set_robust_list SetRobustList, 274 get_robust_list Nosys, 280 utimensat Utimensat,
    292 dup3 Dup3, 293 pipe2 Nosys, 302 prlimit64 Prlimit64, 316 renameat2 Renameat2,
    318 getrandom Getrandom, 332 statx Statx, 334 rseq Nosys, 435 clone3 Nosys,
    436 close_range Nosys, 439 faccessat2 Faccessat2,
}

/// The number and six arguments of the syscall the state stopped at.
#[inline]
pub fn syscall_args(s: &State) -> (u64, [u64; 6]) {
    (s.rax, [s.rdi, s.rsi, s.rdx, s.r10, s.r8, s.r9])
}

/// Stores a syscall's result, with `rcx`/`r11` as Linux leaves them.
#[inline]
pub fn set_result(s: &mut State, v: u64) {
    s.rax = v;
    s.rcx = s.ip;
    s.r11 = s.flags;
}

/// The state at the ELF entry: `rsp` at `argc`, everything else 0 (`rdx`
/// = 0: no `rtld_fini`).
pub fn initial(entry: u64, sp: u64) -> State {
    State {
        ip: entry,
        rsp: sp,
        ..State::default()
    }
}

/// Sets the TLS base (`arch_prctl(ARCH_SET_FS)`).
pub fn set_tls(s: &mut State, v: u64) {
    s.fs_base = v;
}

/// The stack pointer.
pub fn sp(s: &State) -> u64 {
    s.rsp
}

/// The signal an exception report means.
pub fn fault(s: &State, r: &zx_exception_report_t) -> Fault {
    let (vector, err, cr2) = (r.arch[0], r.arch[1], r.arch[2]);
    match r.header.type_ {
        ZX_EXCP_FATAL_PAGE_FAULT => Fault {
            sig: SIGSEGV,
            code: if err & 1 != 0 {
                si::SEGV_ACCERR
            } else {
                si::SEGV_MAPERR
            },
            addr: cr2,
        },
        ZX_EXCP_UNDEFINED_INSTRUCTION => Fault {
            sig: SIGILL,
            code: si::ILL_ILLOPN,
            addr: s.ip,
        },
        ZX_EXCP_SW_BREAKPOINT => Fault {
            sig: SIGTRAP,
            code: si::KERNEL,
            addr: 0,
        },
        ZX_EXCP_UNALIGNED_ACCESS => Fault {
            sig: SIGBUS,
            code: si::BUS_ADRALN,
            addr: 0,
        },
        _ => match vector {
            0 => Fault {
                sig: SIGFPE,
                code: si::FPE_INTDIV,
                addr: s.ip,
            },
            16 | 19 => Fault {
                sig: SIGFPE,
                code: 0,
                addr: s.ip,
            },
            17 => Fault {
                sig: SIGBUS,
                code: si::BUS_ADRALN,
                addr: 0,
            },
            _ => Fault {
                sig: SIGSEGV,
                code: si::KERNEL,
                addr: 0,
            },
        },
    }
}

/// What Linux keeps of an exception for the signal frame: the trap number
/// and hardware error code (`sigcontext.trapno`, `.err`; `(0, 0)` for a
/// signal no trap raised).
pub fn trap_info(r: &zx_exception_report_t) -> (u64, u64) {
    (r.arch[0], r.arch[1])
}

/// Writes `trap_info`'s `(trapno, err)` into a built frame's
/// `sigcontext`, as Linux's `do_trap` / page-fault path record them.
pub fn set_trap(f: &mut Frame, (trapno, err): (u64, u64)) {
    put(&mut f.bytes, MCTX + 152, err);
    put(&mut f.bytes, MCTX + 160, trapno);
}

/// `sizeof(struct rt_sigframe)` without the FP area.
pub const FRAME: u64 = 440;
const UC: usize = 8;
const MCTX: usize = UC + 40;
const MASK: usize = UC + 296;
const INFO_OFF: usize = 312;
/// The `fxsave` area.
pub const FPSTATE: u64 = 512;

/// A frame being built: where it goes and its bytes.
pub struct Frame {
    /// The frame's address (the handler's `rsp`).
    pub at: u64,
    /// Where the FP area goes (64-aligned, above the frame).
    pub fp_at: u64,
    /// The bytes of `[at, at + FRAME)`.
    pub bytes: Vec<u8>,
}

/// Lays out the frame for a handler of `sig` on `stack_top` (the
/// interrupted `rsp`, or the top of the alternate stack), saving `s`,
/// `mask`, the alt-stack record and `info`.
pub fn build_frame(
    s: &State,
    stack_top: u64,
    act: &Action,
    restorer: u64,
    mask: u64,
    alt: (u64, u32, u64),
    info: &[u8; 128],
) -> Frame {
    let below_redzone = stack_top.wrapping_sub(128);
    let fp_at = below_redzone.wrapping_sub(FPSTATE) & !63;
    let at = (fp_at.wrapping_sub(FRAME) & !15).wrapping_sub(8);
    let mut b = alloc::vec![0u8; FRAME as usize];
    put(&mut b, 0, restorer);
    put(&mut b, UC + 16, alt.0);
    b[UC + 24..UC + 28].copy_from_slice(&alt.1.to_le_bytes());
    put(&mut b, UC + 32, alt.2);
    let regs = [
        s.r8, s.r9, s.r10, s.r11, s.r12, s.r13, s.r14, s.r15, s.rdi, s.rsi, s.rbp, s.rbx, s.rdx,
        s.rax, s.rcx, s.rsp, s.ip, s.flags,
    ];
    for (i, r) in regs.iter().enumerate() {
        put(&mut b, MCTX + 8 * i, *r);
    }
    // cs = 0x33, ss = 0x2b as Linux shows them.
    b[MCTX + 144..MCTX + 146].copy_from_slice(&0x33u16.to_le_bytes());
    b[MCTX + 150..MCTX + 152].copy_from_slice(&0x2bu16.to_le_bytes());
    put(&mut b, MCTX + 168, mask);
    put(
        &mut b,
        MCTX + 176,
        if info[0] as u32 == SIGSEGV {
            get(info, 16)
        } else {
            0
        },
    );
    put(&mut b, MCTX + 184, fp_at);
    put(&mut b, MASK, mask);
    b[INFO_OFF..INFO_OFF + 128].copy_from_slice(info);
    let _ = act;
    Frame {
        at,
        fp_at,
        bytes: b,
    }
}

/// The handler's registers for a frame at `f`.
pub fn enter_handler(s: &mut State, f: &Frame, sig: u32, act: &Action) {
    s.rdi = u64::from(sig);
    s.rsi = f.at + INFO_OFF as u64;
    s.rdx = f.at + UC as u64;
    s.rax = 0;
    s.rsp = f.at;
    s.ip = act.handler;
    // DF, TF and RF cleared, as Linux does.
    s.flags &= !(0x400 | 0x100 | 0x1_0000);
}

/// What `rt_sigreturn` restores from the `ucontext` bytes (`rsp - 8` is
/// the frame): the registers (flags to the user-changeable ones), the
/// mask, and the FP area's address.
pub fn restore(s: &mut State, uc: &[u8]) -> (u64, u64) {
    const USER_FLAGS: u64 = 0x3f_7fd5; // CF PF AF ZF SF TF DF OF NT AC ID...
    let r = |i: usize| get(uc, 40 + 8 * i);
    s.r8 = r(0);
    s.r9 = r(1);
    s.r10 = r(2);
    s.r11 = r(3);
    s.r12 = r(4);
    s.r13 = r(5);
    s.r14 = r(6);
    s.r15 = r(7);
    s.rdi = r(8);
    s.rsi = r(9);
    s.rbp = r(10);
    s.rbx = r(11);
    s.rdx = r(12);
    s.rax = r(13);
    s.rcx = r(14);
    s.rsp = r(15);
    s.ip = r(16);
    s.flags = r(17) & USER_FLAGS & !(0x100 | 0x4000 | 0x1_0000);
    (get(uc, 296), get(uc, 40 + 184))
}

/// The size of the `ucontext` `restore` reads.
pub const UCONTEXT: usize = 304;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::siginfo;

    #[test]
    fn table() {
        assert_eq!(lookup(39), Some(("getpid", Sys::Getpid)));
        assert_eq!(lookup(110), Some(("getppid", Sys::Getppid)));
        assert_eq!(lookup(334), Some(("rseq", Sys::Nosys)));
        assert_eq!(lookup(9999), None);
    }

    #[test]
    fn frame_round_trip() {
        let s = State {
            rax: 1,
            rbx: 2,
            rsp: 0x7000_0000,
            ip: 0x40_1234,
            flags: 0x244,
            r15: 15,
            ..State::default()
        };
        let act = Action {
            handler: 0x40_5000,
            flags: 0,
            restorer: 0x40_6000,
            mask: 0,
        };
        let info = siginfo(10, si::USER, 0, 2);
        let f = build_frame(&s, s.rsp, &act, act.restorer, 0x5, (0, 2, 0), &info);
        assert_eq!((f.at + 8) % 16, 0, "as after a call");
        assert!(
            f.at + FRAME <= f.fp_at
                && f.fp_at.is_multiple_of(64)
                && f.fp_at + FPSTATE <= s.rsp - 128
        );
        assert_eq!(get(&f.bytes, 0), 0x40_6000);
        // No trap: err and trapno read 0; a page fault's are recorded.
        assert_eq!(
            (get(&f.bytes, MCTX + 152), get(&f.bytes, MCTX + 160)),
            (0, 0)
        );
        let mut pf = build_frame(&s, s.rsp, &act, act.restorer, 0x5, (0, 2, 0), &info);
        set_trap(&mut pf, (14, 7));
        assert_eq!(
            (get(&pf.bytes, MCTX + 152), get(&pf.bytes, MCTX + 160)),
            (7, 14)
        );
        let mut h = s;
        enter_handler(&mut h, &f, 10, &act);
        assert_eq!((h.rdi, h.rsp, h.ip), (10, f.at, 0x40_5000));
        assert_eq!(h.rsi, f.at + 312);
        assert_eq!(
            u32::from_le_bytes(f.bytes[312..316].try_into().unwrap()),
            10
        );
        // The handler returns into the restorer: rsp = frame + 8.
        let mut back = State::default();
        let (mask, fp) = restore(&mut back, &f.bytes[8..8 + UCONTEXT]);
        assert_eq!(mask, 0x5);
        assert_eq!(fp, f.fp_at);
        assert_eq!(
            (back.rax, back.rbx, back.r15, back.rsp, back.ip, back.flags),
            (1, 2, 15, s.rsp, s.ip, 0x244)
        );
    }

    #[test]
    fn faults() {
        let s = State {
            ip: 0x40_1000,
            ..State::default()
        };
        let pf = zx_exception_report_t::x86_64(ZX_EXCP_FATAL_PAGE_FAULT, 14, 6, 0xdead);
        assert_eq!(
            fault(&s, &pf),
            Fault {
                sig: SIGSEGV,
                code: si::SEGV_MAPERR,
                addr: 0xdead
            }
        );
        let pf = zx_exception_report_t::x86_64(ZX_EXCP_FATAL_PAGE_FAULT, 14, 7, 0xbeef);
        assert_eq!(fault(&s, &pf).code, si::SEGV_ACCERR);
        let ud = zx_exception_report_t::x86_64(ZX_EXCP_UNDEFINED_INSTRUCTION, 6, 0, 0);
        assert_eq!(fault(&s, &ud).sig, SIGILL);
        let de = zx_exception_report_t::x86_64(zx_subsystem::abi::ZX_EXCP_GENERAL, 0, 0, 0);
        assert_eq!(fault(&s, &de).sig, SIGFPE);
    }
}

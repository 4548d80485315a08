//! The run loop: restricted mode, the vector, and what each exit means.
//!
//! The runner enters restricted mode with the guest's registers in the
//! state VMO (mapped at [`cpu::STATE_AT`]). `zx_restricted_enter` never
//! returns: every exit comes back at the vector on a fresh stack (the
//! context's `stack_top`), which calls [`on_vector`], which handles the
//! exit and enters again. So each round trip starts from the same stack
//! top, and the frames of the previous one (which hold nothing that needs
//! dropping) are simply abandoned.
//!
//! - `SYSCALL`: the arch's table names the call, [`Linux::dispatch`]
//!   runs it, the result goes in the result register; then a pending
//!   unblocked signal is delivered.
//! - `EXCEPTION`: the report becomes a signal (`SIGSEGV`, `SIGILL`,
//!   `SIGBUS`, `SIGFPE`, `SIGTRAP`); a handler gets a frame, otherwise the
//!   process dies with `128 + signal`.
//! - `KICK`: nothing to do (nobody kicks this thread yet); enter again.
//!
//! [`Linux::dispatch`]: crate::sys::Linux::dispatch

use zx_subsystem::abi::{
    ZX_RESTRICTED_REASON_EXCEPTION, ZX_RESTRICTED_REASON_KICK, ZX_RESTRICTED_REASON_SYSCALL,
    zx_exception_report_t,
};
use zx_user::hobby::{self, stream};

use super::cpu::{self, State, abi};
use super::host::{Failure, Stream, fail, log};
use super::{Lx, stats};
use crate::arch::siginfo;
use crate::errno::Errno;
use crate::sys::signal::{Action, Delivery, SA_ONSTACK, SA_RESTORER};
use crate::sys::{Flow, PID, Sys};

/// Offset of the FP save area in [`VectorCtx`].
pub const FP_OFFSET: usize = 32;

/// What the vector finds through its context register.
#[repr(C, align(16))]
pub struct VectorCtx {
    /// The stack the vector runs on.
    pub stack_top: u64,
    /// The runner.
    pub runner: *mut Runner,
    /// Padding to [`FP_OFFSET`].
    pub pad: [u64; 2],
    /// The guest's FP/SIMD registers while the runner runs (aarch64).
    pub fp: [u8; crate::arch::aarch64::FP_BYTES],
}

/// The runner's state across round trips.
pub struct Runner {
    /// The Linux process.
    pub lx: Lx,
    /// The state VMO's mapping.
    pub state: *mut State,
    /// Where the trampoline is (for handlers without `SA_RESTORER`).
    pub trampoline: u64,
    /// `--stats`.
    pub stats: bool,
    /// Counter at the first enter.
    pub t0: u64,
    /// Counter ticks per 1000 instructions.
    pub ticks_per_kinsn: u64,
    /// The trap of the exception being turned into a signal
    /// (`abi::trap_info`), for its frame; `(0, 0)` otherwise.
    pub trap: (u64, u64),
}

/// The vector's Rust half: handles one exit and enters again.
///
/// # Safety
///
/// Called only by the vector, with the context the runner passed to
/// `zx_restricted_enter` (valid, its `runner` pointer live).
pub unsafe extern "C" fn on_vector(ctx: *mut VectorCtx, reason: u64) -> ! {
    {
        // SAFETY: the contract above; nothing else references the context
        // or the runner while the vector runs (one thread).
        let (c, r) = unsafe { (&mut *ctx, &mut *(*ctx).runner) };
        r.handle(c, reason);
    }
    let status = cpu::enter(ctx);
    enter_failed(status)
}

/// `zx_restricted_enter` refused: a runner bug (the state is the runner's
/// to keep valid).
pub extern "C" fn enter_failed(status: zx_user::Status) -> ! {
    fail(
        Failure::Enter,
        format_args!("zx_restricted_enter refused the state: {status}"),
    )
}

impl Runner {
    fn state(&mut self) -> &mut State {
        // SAFETY: the state VMO stays mapped at `state` for the runner's
        // life, and the kernel touches it only while the thread is in
        // restricted mode, never while this code runs.
        unsafe { &mut *self.state }
    }

    fn report(&self) -> zx_exception_report_t {
        // SAFETY: as in `state`; the report follows the state in the VMO
        // (one page, so in bounds).
        unsafe {
            self.state
                .cast::<u8>()
                .add(size_of::<State>())
                .cast::<zx_exception_report_t>()
                .read_unaligned()
        }
    }

    fn handle(&mut self, ctx: &mut VectorCtx, reason: u64) {
        match reason {
            ZX_RESTRICTED_REASON_SYSCALL => self.syscall(ctx),
            ZX_RESTRICTED_REASON_EXCEPTION => {
                let report = self.report();
                let f = abi::fault(self.state(), &report);
                self.trap = abi::trap_info(&report);
                self.lx.stats.exceptions += 1;
                log!(
                    "exception {:#x}: signal {} at {:#x}",
                    report.header.type_,
                    f.sig,
                    f.addr
                );
                match self.lx.sig.force(f.sig) {
                    Delivery::Kill(s) => self.exit(128 + s as u64),
                    Delivery::Handler(s, act) => self.deliver(ctx, s, &act, f.code, f.addr),
                }
            }
            ZX_RESTRICTED_REASON_KICK => {}
            other => fail(
                Failure::Enter,
                format_args!("unknown restricted exit reason {other}"),
            ),
        }
    }

    #[inline]
    fn syscall(&mut self, ctx: &mut VectorCtx) {
        let (nr, args) = abi::syscall_args(self.state());
        let sys = abi::lookup(nr).map_or(Sys::Nosys, |(_, s)| s);
        let flow = self.lx.dispatch(sys, args);
        log!(
            "{} {args:x?} = {flow:x?}",
            abi::lookup(nr).map_or("?", |(n, _)| n)
        );
        let enosys = flow == Flow::Ret((-i64::from(Errno::ENOSYS.0)) as u64);
        self.lx.stats.count(nr, enosys);
        match flow {
            Flow::Ret(v) => abi::set_result(self.state(), v),
            Flow::Exit(code) => self.exit(u64::from(code)),
            Flow::SetTls(v) => {
                let st = self.state();
                abi::set_tls(st, v);
                abi::set_result(st, 0);
            }
            Flow::Sigreturn => self.sigreturn(ctx),
        }
        if self.lx.sig.pending != 0 {
            match self.lx.sig.take() {
                None => {}
                Some(Delivery::Kill(s)) => self.exit(128 + u64::from(s)),
                Some(Delivery::Handler(s, act)) => {
                    self.deliver(ctx, s, &act, crate::arch::si::USER, 0)
                }
            }
        }
    }

    /// Builds a signal frame on the guest's stack and points the state at
    /// the handler; a frame that cannot be written kills with `SIGSEGV`.
    fn deliver(&mut self, ctx: &mut VectorCtx, sig: u32, act: &Action, code: i32, addr: u64) {
        let info = siginfo(sig, code, addr, PID as u32);
        let st = *self.state();
        let (ss, ssflags, sssize) = self.lx.sig.altstack;
        let sp = abi::sp(&st);
        let on_alt = sssize != 0 && sp > ss && sp <= ss + sssize;
        let top = if act.flags & SA_ONSTACK != 0 && sssize != 0 && !on_alt {
            ss + sssize
        } else {
            sp
        };
        let alt = (ss, if on_alt { 1 } else { ssflags }, sssize);
        let restorer = if act.flags & SA_RESTORER != 0 {
            act.restorer
        } else {
            self.trampoline
        };
        let mask = self.lx.sig.mask;
        let ok = self.write_frame(ctx, &st, top, act, restorer, mask, alt, &info, sig);
        if !ok {
            self.exit(128 + u64::from(crate::sys::signal::SIGSEGV));
        }
        self.lx.sig.enter_handler(sig, act);
        self.lx.stats.handled_signals += 1;
        log!("signal {sig}: handler {:#x}", act.handler);
    }

    #[cfg(target_arch = "x86_64")]
    #[allow(clippy::too_many_arguments)]
    fn write_frame(
        &mut self,
        _ctx: &mut VectorCtx,
        st: &State,
        top: u64,
        act: &Action,
        restorer: u64,
        mask: u64,
        alt: (u64, u32, u64),
        info: &[u8; 128],
        sig: u32,
    ) -> bool {
        let mut f = abi::build_frame(st, top, act, restorer, mask, alt, info);
        // The trap that raised this signal, if one did (a fault is
        // delivered at once, before any other signal).
        abi::set_trap(&mut f, core::mem::take(&mut self.trap));
        let mut fx = cpu::FxArea([0; 512]);
        cpu::fxsave(&mut fx);
        if self.lx.write_user(f.fp_at, &fx.0).is_err()
            || self.lx.write_user(f.at, &f.bytes).is_err()
        {
            return false;
        }
        abi::enter_handler(self.state(), &f, sig, act);
        true
    }

    #[cfg(target_arch = "aarch64")]
    #[allow(clippy::too_many_arguments)]
    fn write_frame(
        &mut self,
        ctx: &mut VectorCtx,
        st: &State,
        top: u64,
        act: &Action,
        restorer: u64,
        mask: u64,
        alt: (u64, u32, u64),
        info: &[u8; 128],
        sig: u32,
    ) -> bool {
        let f = abi::build_frame(st, top, mask, alt, info, &ctx.fp);
        if self.lx.write_user(f.at, &f.bytes).is_err() {
            return false;
        }
        abi::enter_handler(self.state(), &f, sig, act, restorer);
        true
    }

    #[cfg(target_arch = "x86_64")]
    fn sigreturn(&mut self, _ctx: &mut VectorCtx) {
        let sp = abi::sp(self.state());
        let Ok(uc) = self.lx.read_vec(sp, abi::UCONTEXT) else {
            self.exit(128 + u64::from(crate::sys::signal::SIGSEGV));
        };
        let mut st = *self.state();
        let (mask, fp) = abi::restore(&mut st, &uc);
        if st.ip >= abi::GUEST_HI {
            self.exit(128 + u64::from(crate::sys::signal::SIGSEGV));
        }
        if fp != 0 {
            let mut fx = cpu::FxArea([0; 512]);
            if self.lx.read_user(fp, &mut fx.0).is_err() {
                self.exit(128 + u64::from(crate::sys::signal::SIGSEGV));
            }
            cpu::fxrstor(&mut fx);
        }
        *self.state() = st;
        self.lx.sig.set_mask(mask);
    }

    #[cfg(target_arch = "aarch64")]
    fn sigreturn(&mut self, ctx: &mut VectorCtx) {
        let sp = abi::sp(self.state());
        let Ok(f) = self.lx.read_vec(sp, abi::RESTORE_LEN) else {
            self.exit(128 + u64::from(crate::sys::signal::SIGSEGV));
        };
        let mut st = *self.state();
        let mask = abi::restore(&mut st, &f, &mut ctx.fp);
        if st.pc >= abi::GUEST_HI || !st.pc.is_multiple_of(4) {
            self.exit(128 + u64::from(crate::sys::signal::SIGSEGV));
        }
        *self.state() = st;
        self.lx.sig.set_mask(mask);
    }

    /// The process is over with `status`: statistics, then the host.
    pub fn exit(&mut self, status: u64) -> ! {
        let t1 = cpu::cycles();
        if self.stats {
            let insns = (t1.saturating_sub(self.t0) as u128 * 1000
                / u128::from(self.ticks_per_kinsn.max(1))) as u64;
            let mut w = Stream(stream::STATS);
            let _ = stats::print(&mut w, &self.lx, insns, status);
        }
        log!("exit status {status}");
        hobby::linux_exit(hobby::EXIT_STATUS, status & 0xff)
    }
}

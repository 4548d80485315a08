//! [`UserRegs`]: the registers a host touches in a user context, named the
//! same on both architectures.
//!
//! A host that starts threads, reports faults or writes a debugger needs
//! the program counter, the stack pointer, the arguments of the function a
//! thread starts in and the value it returns, without a `match` on the
//! architecture. The architecture's own register names stay available on
//! each [`UserContext`](crate::arch::Arch::UserContext) for everything
//! else.

/// Arch-neutral access to a user context.
///
/// The argument and return registers are those of the C calling
/// convention (x86_64 System V: `rdi, rsi, rdx, rcx, r8, r9` and `rax`;
/// aarch64 AAPCS64: `x0`..`x7` and `x0`); a thread started by
/// `zx_thread_start` finds its two arguments in the first two. Syscalls
/// have their own ABI ([`Arch::syscall_args`](crate::arch::Arch::syscall_args)).
///
/// ```
/// use zx_subsystem::UserRegs;
/// use zx_subsystem::arch::{aarch64, x86_64};
///
/// fn start_at<C: UserRegs>(ctx: &mut C, entry: u64, stack: u64, arg: u64) {
///     ctx.set_pc(entry);
///     ctx.set_sp(stack);
///     ctx.set_arg(0, arg);
/// }
/// let mut a = aarch64::UserContext::default();
/// start_at(&mut a, 0x40_0000, 0x7fff_0000, 7);
/// assert_eq!((a.pc, a.sp, a.x[0]), (0x40_0000, 0x7fff_0000, 7));
/// let mut x = x86_64::UserContext::default();
/// start_at(&mut x, 0x40_0000, 0x7fff_0000, 7);
/// assert_eq!((x.rip, x.rsp, x.rdi), (0x40_0000, 0x7fff_0000, 7));
/// assert_eq!(x.arg(0), Some(7));
/// assert_eq!(x.arg(6), None);
/// ```
pub trait UserRegs {
    /// How many arguments travel in registers.
    const ARG_REGS: usize;

    /// Where user execution resumes.
    fn pc(&self) -> u64;
    /// Sets where user execution resumes.
    fn set_pc(&mut self, pc: u64);
    /// The user stack pointer.
    fn sp(&self) -> u64;
    /// Sets the user stack pointer.
    fn set_sp(&mut self, sp: u64);
    /// Argument register `i`, `None` past [`ARG_REGS`](UserRegs::ARG_REGS).
    fn arg(&self, i: usize) -> Option<u64>;
    /// Sets argument register `i`; past [`ARG_REGS`](UserRegs::ARG_REGS)
    /// nothing changes and `false` says so.
    fn set_arg(&mut self, i: usize, value: u64) -> bool;
    /// The return-value register.
    fn return_value(&self) -> u64;
    /// Sets the return-value register.
    fn set_return_value(&mut self, value: u64);
}

impl UserRegs for crate::arch::x86_64::UserContext {
    const ARG_REGS: usize = 6;

    fn pc(&self) -> u64 {
        self.rip
    }
    fn set_pc(&mut self, pc: u64) {
        self.rip = pc;
    }
    fn sp(&self) -> u64 {
        self.rsp
    }
    fn set_sp(&mut self, sp: u64) {
        self.rsp = sp;
    }
    fn arg(&self, i: usize) -> Option<u64> {
        [self.rdi, self.rsi, self.rdx, self.rcx, self.r8, self.r9]
            .get(i)
            .copied()
    }
    fn set_arg(&mut self, i: usize, value: u64) -> bool {
        let slot = match i {
            0 => &mut self.rdi,
            1 => &mut self.rsi,
            2 => &mut self.rdx,
            3 => &mut self.rcx,
            4 => &mut self.r8,
            5 => &mut self.r9,
            _ => return false,
        };
        *slot = value;
        true
    }
    fn return_value(&self) -> u64 {
        self.rax
    }
    fn set_return_value(&mut self, value: u64) {
        self.rax = value;
    }
}

impl UserRegs for crate::arch::aarch64::UserContext {
    const ARG_REGS: usize = 8;

    fn pc(&self) -> u64 {
        self.pc
    }
    fn set_pc(&mut self, pc: u64) {
        self.pc = pc;
    }
    fn sp(&self) -> u64 {
        self.sp
    }
    fn set_sp(&mut self, sp: u64) {
        self.sp = sp;
    }
    fn arg(&self, i: usize) -> Option<u64> {
        self.x[..Self::ARG_REGS].get(i).copied()
    }
    fn set_arg(&mut self, i: usize, value: u64) -> bool {
        match self.x[..Self::ARG_REGS].get_mut(i) {
            Some(slot) => {
                *slot = value;
                true
            }
            None => false,
        }
    }
    fn return_value(&self) -> u64 {
        self.x[0]
    }
    fn set_return_value(&mut self, value: u64) {
        self.x[0] = value;
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::UserRegs;
    use crate::arch::{Aarch64, Arch, X86_64};

    /// `zx_thread_start`'s context, read back arch-neutrally: entry,
    /// stack and the two arguments where `UserRegs` says.
    fn start_context_reads_back<A: Arch>() {
        let ctx = A::initial_context(0x40_1000, 0x7fff_f000, 11, 22);
        assert_eq!(ctx.pc(), 0x40_1000);
        assert_eq!(ctx.sp(), 0x7fff_f000);
        assert_eq!((ctx.arg(0), ctx.arg(1)), (Some(11), Some(22)));
    }

    fn every_argument_register_round_trips<A: Arch>() {
        let mut ctx = A::UserContext::default();
        let n = <A::UserContext as UserRegs>::ARG_REGS;
        for i in 0..n {
            assert!(ctx.set_arg(i, 100 + i as u64));
        }
        assert!(!ctx.set_arg(n, 1));
        let args: Vec<_> = (0..=n).map(|i| ctx.arg(i)).collect();
        let mut want: Vec<_> = (0..n).map(|i| Some(100 + i as u64)).collect();
        want.push(None);
        assert_eq!(args, want);
        ctx.set_return_value(5);
        assert_eq!(ctx.return_value(), 5);
    }

    #[test]
    fn x86_64() {
        start_context_reads_back::<X86_64>();
        every_argument_register_round_trips::<X86_64>();
    }

    #[test]
    fn aarch64() {
        start_context_reads_back::<Aarch64>();
        every_argument_register_round_trips::<Aarch64>();
    }
}

//! What brings a thread from user mode back into the kernel.
//!
//! Each arch's `run_user` returns a [`Trap`]; a host kernel with its own
//! trap path builds one from its own frame. The kernel then calls
//! [`Kernel::syscall`](crate::Kernel), the page-fault handler or the
//! exception handler.

use crate::arch::Arch;

/// The kind of access that faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// A data read.
    Read,
    /// A data write.
    Write,
    /// An instruction fetch.
    Execute,
}

/// A user page fault.
pub struct PageFault<A: Arch> {
    /// The faulting virtual address.
    pub addr: u64,
    /// The access that faulted.
    pub access: Access,
    /// The raw architectural details (for the exception report).
    pub info: A::ExceptionInfo,
}

impl<A: Arch> Clone for PageFault<A> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<A: Arch> Copy for PageFault<A> {}

impl<A: Arch> core::fmt::Debug for PageFault<A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PageFault")
            .field("addr", &format_args!("{:#x}", self.addr))
            .field("access", &self.access)
            .field("info", &self.info)
            .finish()
    }
}

impl<A: Arch> PartialEq for PageFault<A> {
    fn eq(&self, other: &Self) -> bool {
        self.addr == other.addr && self.access == other.access && self.info == other.info
    }
}

/// Why user execution stopped.
pub enum Trap<A: Arch> {
    /// The thread executed `syscall` / `svc`.
    Syscall,
    /// A page fault on a user address.
    PageFault(PageFault<A>),
    /// Any other synchronous exception (undefined instruction, general
    /// protection, breakpoint, alignment, ...).
    Exception(A::ExceptionInfo),
    /// An asynchronous interrupt arrived (x86_64: the vector; aarch64: 0 for
    /// IRQ, 1 for FIQ). The host handles it and resumes the thread.
    Interrupt(u64),
}

impl<A: Arch> Clone for Trap<A> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<A: Arch> Copy for Trap<A> {}

impl<A: Arch> core::fmt::Debug for Trap<A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Trap::Syscall => f.write_str("Syscall"),
            Trap::PageFault(pf) => f.debug_tuple("PageFault").field(pf).finish(),
            Trap::Exception(info) => f.debug_tuple("Exception").field(info).finish(),
            Trap::Interrupt(v) => f.debug_tuple("Interrupt").field(v).finish(),
        }
    }
}

impl<A: Arch> PartialEq for Trap<A> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Trap::Syscall, Trap::Syscall) => true,
            (Trap::PageFault(a), Trap::PageFault(b)) => a == b,
            (Trap::Exception(a), Trap::Exception(b)) => a == b,
            (Trap::Interrupt(a), Trap::Interrupt(b)) => a == b,
            _ => false,
        }
    }
}

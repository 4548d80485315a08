//! Zircon's virtual-memory objects, `zx_vmar_protect` and restricted mode, as
//! a `no_std` library a kernel links in.
//!
//! A host kernel implements [`Platform`] once (frames, direct map, TLB
//! shootdown, interrupting a CPU), creates a [`Kernel`], and forwards its
//! traps: syscalls to the dispatch table in [`syscall`], page faults and
//! exceptions to the kernel's handlers. Objects follow Zircon's semantics;
//! where this crate differs or is narrower, the item docs say so.
//!
//! Both architecture backends ([`arch::x86_64`], [`arch::aarch64`]) compile
//! on every target; only their privileged instructions are
//! `cfg(target_arch)`-gated. The `sim` feature adds the `sim` module, a simulated
//! machine for host tests.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(missing_docs)]
#![deny(clippy::missing_safety_doc)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod abi;
pub mod arch;
pub mod error;
mod heap;
mod kernel;
pub mod mmu;
pub mod object;
mod outcome;
pub mod platform;
mod regs;
pub mod restricted;
#[cfg(feature = "sim")]
pub mod sim;
pub mod syscall;
pub mod trap;
pub mod vm;

/// The README's code blocks, compiled and run as doctests.
#[cfg(all(doctest, feature = "sim"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use error::{Error, Result};
pub use kernel::Kernel;
pub use outcome::{ExitReason, Outcome, UserView};
pub use platform::{PAGE_SIZE, PhysAddr, Platform, ThreadToken};
pub use regs::UserRegs;
pub use trap::{Access, PageFault, Trap};

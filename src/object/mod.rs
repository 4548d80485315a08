//! Kernel objects: jobs, processes, threads (and, from [`crate::vm`], VMOs
//! and VMARs), the handles that name them, and the per-process handle table.
//!
//! # Lock order
//!
//! Locks are taken in this order and never in reverse:
//!
//! 1. the handle table (`Shareable::handles`: one per process, or one per
//!    sharing group);
//! 2. `AddressSpace::tree` (one per address space: the VMAR tree, its
//!    mappings and their protection ranges);
//! 3. `Vmo::pages` (one per VMO: pages, size, the list of mappings);
//! 4. `AddressSpace::page_table` (the arch page tables of one address
//!    space; a restricted region's shared region's table is locked only
//!    while the restricted one is created, before either is in use);
//! 5. leaf locks: `Job::state` (which may look at a process's `life`),
//!    `Process::life`, `Process::threads`, `Shareable::members`,
//!    `Thread::state`, `Thread::restricted`.
//!
//! No lock is held across a call into the host other than
//! [`Platform::alloc_frame`],
//! [`free_frame`](Platform::free_frame),
//! [`phys_to_virt`](Platform::phys_to_virt) and
//! [`flush_tlb`](Platform::flush_tlb), which must not call back into
//! the crate.

mod handle;
mod job;
mod process;
mod thread;
pub mod wait;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

pub use handle::{Handle, HandleTable, MAX_HANDLES, check_rights, reduced_rights};
pub use job::{Job, JobPolicy, PolicyAction};
pub(crate) use process::Sharing;
pub use process::{Process, ProcessState};
pub use thread::{Thread, ThreadState};

use crate::abi::{ObjectType, ZX_KOID_FIRST};
use crate::platform::Platform;
use crate::vm::{Vmar, Vmo};

static NEXT_KOID: AtomicU64 = AtomicU64::new(ZX_KOID_FIRST);

/// `ZX_MAX_NAME_LEN`: object names hold at most 31 bytes and a NUL.
pub const MAX_NAME_LEN: usize = 32;

/// An object name: at most [`MAX_NAME_LEN`]` - 1` bytes, as Zircon keeps
/// them (longer names are silently truncated).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Name {
    bytes: [u8; MAX_NAME_LEN],
    len: u8,
}

impl Name {
    /// The first 31 bytes of `bytes`, up to the first NUL.
    pub fn new(bytes: &[u8]) -> Name {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let len = end.min(MAX_NAME_LEN - 1);
        let mut name = Name::default();
        name.bytes[..len].copy_from_slice(&bytes[..len]);
        name.len = len as u8;
        name
    }

    /// The name's bytes (no NUL).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl core::fmt::Debug for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{:?}",
            core::str::from_utf8(self.as_bytes()).unwrap_or("<not UTF-8>")
        )
    }
}

/// The koid the next object will get (for seeding, not for identity).
pub(crate) fn peek_koid() -> u64 {
    NEXT_KOID.load(Ordering::Relaxed)
}

/// A fresh kernel object id.
pub(crate) fn next_koid() -> u64 {
    NEXT_KOID.fetch_add(1, Ordering::Relaxed)
}

/// A reference to any kernel object a handle can name.
pub enum KernelObject<P: Platform> {
    /// A job.
    Job(Arc<Job>),
    /// A process.
    Process(Arc<Process<P>>),
    /// A thread.
    Thread(Arc<Thread<P>>),
    /// A virtual memory object.
    Vmo(Arc<Vmo<P>>),
    /// A virtual memory address region.
    Vmar(Arc<Vmar<P>>),
}

impl<P: Platform> Clone for KernelObject<P> {
    fn clone(&self) -> Self {
        match self {
            KernelObject::Job(o) => KernelObject::Job(o.clone()),
            KernelObject::Process(o) => KernelObject::Process(o.clone()),
            KernelObject::Thread(o) => KernelObject::Thread(o.clone()),
            KernelObject::Vmo(o) => KernelObject::Vmo(o.clone()),
            KernelObject::Vmar(o) => KernelObject::Vmar(o.clone()),
        }
    }
}

impl<P: Platform> KernelObject<P> {
    /// The object's `ZX_OBJ_TYPE_*`.
    pub fn object_type(&self) -> ObjectType {
        match self {
            KernelObject::Job(_) => ObjectType::Job,
            KernelObject::Process(_) => ObjectType::Process,
            KernelObject::Thread(_) => ObjectType::Thread,
            KernelObject::Vmo(_) => ObjectType::Vmo,
            KernelObject::Vmar(_) => ObjectType::Vmar,
        }
    }

    /// The object's koid.
    pub fn koid(&self) -> u64 {
        match self {
            KernelObject::Job(o) => o.koid(),
            KernelObject::Process(o) => o.koid(),
            KernelObject::Thread(o) => o.koid(),
            KernelObject::Vmo(o) => o.koid(),
            KernelObject::Vmar(o) => o.koid(),
        }
    }

    /// The koid `ZX_INFO_HANDLE_BASIC` reports as related: a thread's
    /// process, a process's job, a job's parent; 0 for VMOs and VMARs.
    pub fn related_koid(&self) -> u64 {
        match self {
            KernelObject::Job(o) => o.parent_koid(),
            KernelObject::Process(o) => o.job().koid(),
            KernelObject::Thread(o) => o.process().koid(),
            KernelObject::Vmo(_) | KernelObject::Vmar(_) => 0,
        }
    }
}

/// A concrete object type that a typed handle lookup can ask for.
pub trait ObjectKind<P: Platform>: Sized {
    /// The type's `ZX_OBJ_TYPE_*`.
    const TYPE: ObjectType;
    /// The object, if `object` is of this type.
    fn downcast(object: &KernelObject<P>) -> Option<Arc<Self>>;
    /// Wraps the object.
    fn upcast(this: Arc<Self>) -> KernelObject<P>;
}

macro_rules! object_kind {
    ($ty:ty, $variant:ident) => {
        impl<P: Platform> ObjectKind<P> for $ty {
            const TYPE: ObjectType = ObjectType::$variant;
            fn downcast(object: &KernelObject<P>) -> Option<Arc<Self>> {
                match object {
                    KernelObject::$variant(o) => Some(o.clone()),
                    _ => None,
                }
            }
            fn upcast(this: Arc<Self>) -> KernelObject<P> {
                KernelObject::$variant(this)
            }
        }
    };
}

object_kind!(Job, Job);
object_kind!(Process<P>, Process);
object_kind!(Thread<P>, Thread);
object_kind!(Vmo<P>, Vmo);
object_kind!(Vmar<P>, Vmar);

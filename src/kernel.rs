//! [`Kernel`]: the entry object a host kernel creates once.

use alloc::sync::Arc;

use crate::arch::Arch;
use crate::error::Result;
use crate::object::{Job, Process};
use crate::platform::Platform;
use crate::vm::AsidPool;

/// The crate's kernel state for one machine: the platform, the root job.
///
/// Cheap to clone (an `Arc`); a host typically keeps one in a static.
pub struct Kernel<P: Platform> {
    inner: Arc<Inner<P>>,
}

struct Inner<P: Platform> {
    platform: P,
    root_job: Arc<Job>,
    asids: Arc<AsidPool>,
}

impl<P: Platform> Clone for Kernel<P> {
    fn clone(&self) -> Self {
        Kernel {
            inner: self.inner.clone(),
        }
    }
}

impl<P: Platform> Kernel<P> {
    /// Creates the kernel state with a fresh root job.
    pub fn new(platform: P) -> Kernel<P> {
        Kernel {
            inner: Arc::new(Inner {
                platform,
                root_job: Job::new_root(),
                asids: Arc::new(AsidPool::new(<P::Arch as Arch>::ASID_COUNT)),
            }),
        }
    }

    /// The platform the kernel was created with.
    pub fn platform(&self) -> &P {
        &self.inner.platform
    }

    /// The root job: no parent, every policy `ALLOW`.
    pub fn root_job(&self) -> &Arc<Job> {
        &self.inner.root_job
    }

    /// Creates a process under `job`, with an empty address space.
    ///
    /// # Errors
    ///
    /// `NO_RESOURCES` when no address-space identifier is free; `NO_MEMORY`
    /// when an allocation fails.
    pub fn create_process(&self, job: &Arc<Job>) -> Result<Arc<Process<P>>> {
        let secret = splitmix64(self.inner.platform.random_u64() ^ crate::object::peek_koid());
        Process::new(&self.inner.platform, &self.inner.asids, job, secret)
    }
}

/// A bijective 64-bit mixer (SplitMix64's finaliser), so consecutive
/// processes get unrelated handle secrets even from a weak random source.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

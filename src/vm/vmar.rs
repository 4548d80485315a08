//! The VMAR handle object.

use alloc::sync::Arc;

use crate::error::{Error, Result};
use crate::platform::Platform;

use super::aspace::{AddressSpace, Placement};
use super::placement::MapRequest;
use super::slab::SlabId;
use super::vmo::Vmo;
use super::{Perms, Reach, round_up_len};

/// A VMAR: a region of an [`AddressSpace`], as handles name it.
///
/// Mapping a VMO, reading it through the mapping as user code would
/// (the fault maps the page), protecting it and unmapping it:
///
/// ```
/// use zx_subsystem::arch::Aarch64;
/// use zx_subsystem::sim::Sim;
/// use zx_subsystem::trap::Access;
/// use zx_subsystem::vm::{OpChildren, Perms, Placement, Vmo};
/// use zx_subsystem::{Kernel, PAGE_SIZE};
///
/// let sim = Sim::<Aarch64>::new();
/// let kernel = Kernel::new(sim.clone());
/// let process = kernel.create_process(kernel.root_job())?;
/// let vmar = process.root_vmar();
/// let vmo = Vmo::create(&sim, PAGE_SIZE)?;
/// vmo.write(0, &[42])?;
/// let va = vmar.map(Placement::ANYWHERE, &vmo, 0, PAGE_SIZE, Perms::READ | Perms::WRITE)?;
/// let aspace = process.aspace();
/// let mut b = [0u8];
/// if let Err(fault) = sim.user_read(aspace.root_table(), aspace.asid(), va, &mut b) {
///     aspace.page_fault(fault.va, Access::Read)?;
///     sim.user_read(aspace.root_table(), aspace.asid(), va, &mut b).unwrap();
/// }
/// assert_eq!(b, [42]);
/// // zx_vmar_protect: read-only now; a user write faults and the crate
/// // refuses it.
/// aspace.protect(vmar.region(), va, PAGE_SIZE, Perms::READ, OpChildren::Allowed)?;
/// let write = sim.user_write(aspace.root_table(), aspace.asid(), va, &[1]);
/// assert!(write.is_err());
/// assert!(aspace.page_fault(va, Access::Write).is_err());
/// vmar.unmap(va, PAGE_SIZE)?;
/// assert!(aspace.translation(va).is_none());
/// # process.terminate();
/// # Ok::<(), zx_subsystem::Error>(())
/// ```
///
/// The region itself lives in the address space's tree; once destroyed,
/// every operation through this object fails with `BAD_STATE`.
pub struct Vmar<P: Platform> {
    aspace: Arc<AddressSpace<P>>,
    region: SlabId,
    koid: u64,
}

impl<P: Platform> Vmar<P> {
    pub(crate) fn new(aspace: Arc<AddressSpace<P>>, region: SlabId, koid: u64) -> Vmar<P> {
        Vmar {
            aspace,
            region,
            koid,
        }
    }

    /// The address space the VMAR belongs to.
    pub fn aspace(&self) -> &Arc<AddressSpace<P>> {
        &self.aspace
    }

    /// The region's node in the address space's tree.
    pub fn region(&self) -> SlabId {
        self.region
    }

    /// The VMAR's koid.
    pub fn koid(&self) -> u64 {
        self.koid
    }

    /// The VMAR's base address and size.
    ///
    /// # Errors
    ///
    /// `BAD_STATE` once destroyed.
    pub fn range(&self) -> Result<(u64, u64)> {
        let tree = self.aspace.tree.lock();
        let r = tree.region(self.region)?;
        Ok((r.base, r.size))
    }

    /// Maps `vmo` for the host kernel (loading a program, a stack, ...), as
    /// if through a handle with every right: the mapping's maximum is
    /// read, write and execute. Returns the address.
    ///
    /// # Errors
    ///
    /// As `zx_vmar_map`: `BAD_STATE`, `INVALID_ARGS`, `ACCESS_DENIED`
    /// (beyond the VMAR's `CAN_MAP_*`), `ALREADY_EXISTS`, `NO_RESOURCES`,
    /// `NO_MEMORY`.
    pub fn map(
        &self,
        placement: Placement,
        vmo: &Arc<Vmo<P>>,
        vmo_offset: u64,
        len: u64,
        perms: Perms,
    ) -> Result<u64> {
        let len = round_up_len(len)?;
        if !super::is_page_aligned(vmo_offset) || vmo_offset.checked_add(len).is_none() {
            return Err(Error::InvalidArgs("bad VMO offset"));
        }
        self.aspace.map(
            self.region,
            placement,
            MapRequest::new(vmo.clone(), vmo_offset, len, perms),
        )
    }

    /// Unmaps the mappings in `[addr, addr + len)` for the host kernel (a
    /// sub-VMAR in the range is `INVALID_ARGS`).
    ///
    /// # Errors
    ///
    /// As `zx_vmar_unmap`.
    pub fn unmap(&self, addr: u64, len: u64) -> Result<()> {
        if !super::is_page_aligned(addr) {
            return Err(Error::InvalidArgs("address not page aligned"));
        }
        let len = round_up_len(len)?;
        self.aspace
            .unmap(self.region, addr, len, Reach::MappingsOnly)
    }
}

//! VMO and VMAR syscalls: argument decoding, handle and rights checks, and
//! Zircon's check order; the work itself is in [`crate::vm`].

use alloc::sync::Arc;

use crate::abi::{
    Rights, VmOptions, ZX_POL_NEW_VMO, ZX_VMO_CHILD_RESIZABLE, ZX_VMO_CHILD_SLICE,
    ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE, ZX_VMO_RESIZABLE, zx_handle_t,
};
use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::object::ObjectKind;
use crate::platform::{PAGE_SIZE, Platform};
use crate::vm::{ChildKind, OpChildren, Perms, Placement, Vmar, Vmo, is_page_aligned};

use super::user::UserOut;
use super::{Call, arg_u32};

/// Copies between user memory and a VMO go through a kernel buffer of this
/// size, so no lock of one is held while the other is touched.
const COPY_CHUNK: usize = 512;

/// Adds a handle for `object` and writes its value to `out`; if the write
/// fails the handle is closed again (Zircon's out-handle rule).
fn give_handle<P: Platform, T: ObjectKind<P>>(
    call: &Call<'_, P>,
    object: Arc<T>,
    rights: Rights,
    out: u64,
) -> Result<zx_handle_t> {
    let process = call.process();
    let value = process.add_handle(T::upcast(object), rights)?;
    if let Err(e) = UserOut::<zx_handle_t>::new(out).write(process.aspace(), &value) {
        let _ = process.with_handles(|t| t.remove(value));
        return Err(e);
    }
    Ok(value)
}

/// `zx_vmo_create(size, options, out)`: job policy `ZX_POL_NEW_VMO`, then
/// options (`INVALID_ARGS` for unknown bits, `NOT_SUPPORTED` for
/// `DISCARDABLE`/`TRAP_DIRTY`/`UNBOUNDED`), then the size.
pub(super) fn vmo_create<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let size = call.args[0];
    let options = arg_u32(call.args[1]);
    call.process().policy().enforce(ZX_POL_NEW_VMO)?;
    if options & !(ZX_VMO_RESIZABLE | crate::abi::ZX_VMO_DISCARDABLE | crate::abi::ZX_VMO_UNBOUNDED)
        != 0
    {
        return Err(Error::InvalidArgs("unknown VMO options"));
    }
    if options & !ZX_VMO_RESIZABLE != 0 {
        return Err(Error::NotSupported("discardable and unbounded VMOs"));
    }
    let resizable = options & ZX_VMO_RESIZABLE != 0;
    let vmo = Vmo::create(call.kernel.platform(), size, resizable)?;
    let mut rights = Rights::DEFAULT_VMO;
    if resizable {
        rights |= Rights::RESIZE;
    }
    give_handle(call, vmo, rights, call.args[2])?;
    Ok(())
}

/// `zx_vmo_read(handle, buffer, offset, buffer_size)`: `READ` right.
pub(super) fn vmo_read<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let (vmo, _) = call
        .process()
        .get_object::<Vmo<P>>(arg_u32(call.args[0]), Rights::READ)?;
    let (buffer, offset, len) = (call.args[1], call.args[2], call.args[3]);
    offset
        .checked_add(len)
        .filter(|end| *end <= vmo.size())
        .ok_or(Error::OutOfRange("read beyond the VMO's size"))?;
    let aspace = call.process().aspace().clone();
    let mut chunk = [0u8; COPY_CHUNK];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(COPY_CHUNK as u64) as usize;
        vmo.read(offset + done, &mut chunk[..n])?;
        aspace.copy_to_user(buffer.wrapping_add(done), &chunk[..n])?;
        done += n as u64;
    }
    Ok(())
}

/// `zx_vmo_write(handle, buffer, offset, buffer_size)`: `WRITE` right.
pub(super) fn vmo_write<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let (vmo, _) = call
        .process()
        .get_object::<Vmo<P>>(arg_u32(call.args[0]), Rights::WRITE)?;
    let (buffer, offset, len) = (call.args[1], call.args[2], call.args[3]);
    offset
        .checked_add(len)
        .filter(|end| *end <= vmo.size())
        .ok_or(Error::OutOfRange("write beyond the VMO's size"))?;
    let aspace = call.process().aspace().clone();
    let mut chunk = [0u8; COPY_CHUNK];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(COPY_CHUNK as u64) as usize;
        aspace.copy_from_user(buffer.wrapping_add(done), &mut chunk[..n])?;
        vmo.write(offset + done, &chunk[..n])?;
        done += n as u64;
    }
    Ok(())
}

/// `zx_vmo_get_size(handle, size)`: no right needed.
pub(super) fn vmo_get_size<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let (vmo, _) = call
        .process()
        .get_object::<Vmo<P>>(arg_u32(call.args[0]), Rights::empty())?;
    UserOut::<u64>::new(call.args[1]).write(call.process().aspace(), &vmo.size())
}

/// `zx_vmo_set_size(handle, size)`: `WRITE` right, then `UNAVAILABLE` for a
/// VMO not created resizable, then `RESIZE` right.
pub(super) fn vmo_set_size<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let (vmo, rights) = call
        .process()
        .get_object::<Vmo<P>>(arg_u32(call.args[0]), Rights::WRITE)?;
    if !vmo.is_resizable() {
        return Err(Error::Unavailable("VMO is not resizable"));
    }
    crate::object::check_rights(rights, Rights::RESIZE)?;
    vmo.set_size(call.args[1])
}

/// `zx_vmo_create_child(handle, options, offset, size, out)`.
///
/// Supported kinds: `SLICE` and `SNAPSHOT_AT_LEAST_ON_WRITE` (optionally
/// `RESIZABLE` for the latter); other kinds give `NOT_SUPPORTED`. The handle
/// needs `DUPLICATE | READ`. The child's rights are the parent handle's,
/// plus `WRITE` for a snapshot (its pages are private) and `RESIZE` when
/// resizable.
pub(super) fn vmo_create_child<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let options = arg_u32(call.args[1]);
    let (offset, size) = (call.args[2], call.args[3]);
    let known =
        ZX_VMO_CHILD_SLICE | ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE | ZX_VMO_CHILD_RESIZABLE;
    let (vmo, rights) = call
        .process()
        .get_object::<Vmo<P>>(arg_u32(call.args[0]), Rights::DUPLICATE | Rights::READ)?;
    let resizable = options & ZX_VMO_CHILD_RESIZABLE != 0;
    let kind = match options & !ZX_VMO_CHILD_RESIZABLE {
        ZX_VMO_CHILD_SLICE => ChildKind::Slice,
        ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE => ChildKind::Snapshot,
        _ if options & !known != 0 || options & known == 0 => {
            return Err(Error::NotSupported("unsupported child kind"));
        }
        _ => return Err(Error::InvalidArgs("conflicting child options")),
    };
    let child = vmo.create_child(kind, offset, size, resizable)?;
    let mut child_rights = rights;
    if kind == ChildKind::Snapshot {
        child_rights |= Rights::WRITE;
    }
    if resizable {
        child_rights |= Rights::RESIZE;
    }
    give_handle(call, child, child_rights, call.args[4])?;
    Ok(())
}

/// Decodes the placement of a map or allocate.
fn placement(options: VmOptions, offset: u64) -> Result<Placement> {
    if options.intersects(VmOptions::SPECIFIC | VmOptions::SPECIFIC_OVERWRITE) {
        if options.contains(VmOptions::OFFSET_IS_UPPER_LIMIT) {
            return Err(Error::InvalidArgs("SPECIFIC with OFFSET_IS_UPPER_LIMIT"));
        }
        return Ok(Placement::Specific(offset));
    }
    if options.contains(VmOptions::OFFSET_IS_UPPER_LIMIT) {
        return Err(Error::NotSupported("OFFSET_IS_UPPER_LIMIT"));
    }
    if offset != 0 {
        return Err(Error::InvalidArgs("offset without SPECIFIC"));
    }
    let align = match options.align_log2() {
        None => PAGE_SIZE,
        Some(log2 @ 10..=32) => 1u64 << log2,
        Some(_) => return Err(Error::InvalidArgs("bad alignment")),
    };
    Ok(Placement::Anywhere {
        align: align.max(PAGE_SIZE),
    })
}

/// Folds `PERM_READ_IF_XOM_UNSUPPORTED` into `PERM_READ` (no user mapping
/// here can be execute-only) and removes it.
fn fold_xom<P: Platform>(options: VmOptions) -> VmOptions {
    let mut options = options;
    if options.contains(VmOptions::PERM_READ_IF_XOM_UNSUPPORTED) {
        options.remove(VmOptions::PERM_READ_IF_XOM_UNSUPPORTED);
        if !<P::Arch as Arch>::XOM_SUPPORTED {
            options |= VmOptions::PERM_READ;
        }
    }
    options
}

/// `zx_vmar_allocate(parent, options, offset, size, child_vmar, child_addr)`.
pub(super) fn vmar_allocate<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let options = VmOptions::from_bits_retain(arg_u32(call.args[1]));
    let (offset, size) = (call.args[2], call.args[3]);
    let can_map = Perms::from_can_map(options);
    let (vmar, _) = call
        .process()
        .get_object::<Vmar<P>>(arg_u32(call.args[0]), can_map.rights())?;
    let allowed = VmOptions::COMPACT
        | VmOptions::SPECIFIC
        | VmOptions::CAN_MAP_SPECIFIC
        | VmOptions::CAN_MAP_PERMS
        | VmOptions::OFFSET_IS_UPPER_LIMIT
        | VmOptions::ALIGN_FIELD;
    if !allowed.contains(options) {
        return Err(Error::InvalidArgs("option not allowed on allocate"));
    }
    if size == 0 || !is_page_aligned(size) {
        return Err(Error::InvalidArgs("size zero or not page aligned"));
    }
    let place = placement(options, offset)?;
    let aspace = vmar.aspace().clone();
    let (region, base, koid) = aspace.allocate(
        vmar.region(),
        place,
        size,
        can_map,
        options.contains(VmOptions::CAN_MAP_SPECIFIC),
    )?;
    let child = Arc::new(Vmar::new(aspace.clone(), region, koid));
    let rights = Rights::DEFAULT_VMAR | can_map.rights();
    let process = call.process().clone();
    let destroy_on_failure = |e: Error| {
        let _ = aspace.destroy(region);
        e
    };
    UserOut::<u64>::new(call.args[5])
        .write(process.aspace(), &base)
        .map_err(destroy_on_failure)?;
    give_handle(call, child, rights, call.args[4]).map_err(destroy_on_failure)?;
    Ok(())
}

/// `zx_vmar_map(handle, options, vmar_offset, vmo, vmo_offset, len,
/// mapped_addr)`, in the order of Zircon's `sys_vmar_map`.
pub(super) fn vmar_map<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let options = fold_xom::<P>(VmOptions::from_bits_retain(arg_u32(call.args[1])));
    let (vmar_offset, vmo_offset, len) = (call.args[2], call.args[4], call.args[5]);
    let process = call.process().clone();
    let (vmar_obj, vmar_rights) =
        process.get_object::<Vmar<P>>(arg_u32(call.args[0]), Rights::empty())?;
    let (vmo, vmo_rights) = process.get_object::<Vmo<P>>(arg_u32(call.args[3]), Rights::empty())?;
    crate::object::check_rights(vmo_rights, Rights::MAP)?;
    let perms = Perms::from_options(options);
    if perms.contains(Perms::WRITE) && !perms.contains(Perms::READ) {
        return Err(Error::InvalidArgs("write without read"));
    }
    let map_range = options.contains(VmOptions::MAP_RANGE);
    if map_range && options.contains(VmOptions::SPECIFIC_OVERWRITE) {
        return Err(Error::InvalidArgs("MAP_RANGE with SPECIFIC_OVERWRITE"));
    }
    if options.intersects(VmOptions::CAN_MAP_PERMS) {
        return Err(Error::InvalidArgs("CAN_MAP_* is not for mappings"));
    }
    let max = Perms::from_rights(vmo_rights) & Perms::from_rights(vmar_rights);
    if !max.contains(perms) {
        return Err(Error::AccessDenied(
            "handle rights forbid these permissions",
        ));
    }
    let allowed = VmOptions::PERMS
        | VmOptions::SPECIFIC
        | VmOptions::SPECIFIC_OVERWRITE
        | VmOptions::MAP_RANGE
        | VmOptions::REQUIRE_NON_RESIZABLE
        | VmOptions::ALLOW_FAULTS
        | VmOptions::OFFSET_IS_UPPER_LIMIT
        | VmOptions::ALIGN_FIELD;
    if !allowed.contains(options) {
        return Err(Error::InvalidArgs("option not allowed on map"));
    }
    if options.contains(VmOptions::REQUIRE_NON_RESIZABLE) && vmo.is_resizable() {
        return Err(Error::NotSupported("VMO is resizable"));
    }
    let len = crate::vm::round_up_len(len)?;
    if !is_page_aligned(vmo_offset) || vmo_offset.checked_add(len).is_none() {
        return Err(Error::InvalidArgs("bad VMO offset"));
    }
    let place = placement(options, vmar_offset)?;
    let aspace = vmar_obj.aspace().clone();
    let base = aspace.map(
        vmar_obj.region(),
        place,
        options.contains(VmOptions::SPECIFIC_OVERWRITE),
        vmo,
        vmo_offset,
        len,
        perms,
        max,
        map_range,
    )?;
    if let Err(e) = UserOut::<u64>::new(call.args[6]).write(process.aspace(), &base) {
        let _ = aspace.unmap(vmar_obj.region(), base, len, crate::vm::Reach::Unmap);
        return Err(e);
    }
    Ok(())
}

/// `zx_vmar_unmap(handle, addr, len)`: no right needed; `OP_CHILDREN` lets
/// the unmap reach into sub-VMARs the range only partly covers.
pub(super) fn vmar_unmap<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let (vmar, rights) = call
        .process()
        .get_object::<Vmar<P>>(arg_u32(call.args[0]), Rights::empty())?;
    let (addr, len) = (call.args[1], call.args[2]);
    if !is_page_aligned(addr) {
        return Err(Error::InvalidArgs("address not page aligned"));
    }
    let len = crate::vm::round_up_len(len)?;
    addr.checked_add(len)
        .ok_or(Error::InvalidArgs("range overflows"))?;
    let reach = if rights.contains(Rights::OP_CHILDREN) {
        crate::vm::Reach::UnmapIntoChildren
    } else {
        crate::vm::Reach::Unmap
    };
    vmar.aspace().unmap(vmar.region(), addr, len, reach)
}

/// `zx_vmar_protect(handle, options, addr, len)`, in SPEC §2's order.
pub(super) fn vmar_protect<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    // 1. The XOM fold.
    let options = fold_xom::<P>(VmOptions::from_bits_retain(arg_u32(call.args[1])));
    let perms = Perms::from_options(options);
    // 2. Handle, type, rights for the requested permissions.
    let (vmar, rights) = call
        .process()
        .get_object::<Vmar<P>>(arg_u32(call.args[0]), perms.rights())?;
    // 3. WRITE or EXECUTE without READ.
    if !perms.is_empty() && !perms.contains(Perms::READ) {
        return Err(Error::InvalidArgs("write or execute without read"));
    }
    // 4. Alignment.
    let addr = call.args[2];
    if !is_page_aligned(addr) {
        return Err(Error::InvalidArgs("address not page aligned"));
    }
    // 5. Only permission bits.
    if !VmOptions::PERMS.contains(options) {
        return Err(Error::InvalidArgs("only permission bits may be given"));
    }
    // 6.–8. In the address space.
    let op_children = if rights.contains(Rights::OP_CHILDREN) {
        OpChildren::Allowed
    } else {
        OpChildren::Denied
    };
    vmar.aspace()
        .protect(vmar.region(), addr, call.args[3], perms, op_children)
}

/// `zx_vmar_destroy(handle)`.
pub(super) fn vmar_destroy<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let (vmar, _) = call
        .process()
        .get_object::<Vmar<P>>(arg_u32(call.args[0]), Rights::empty())?;
    vmar.aspace().destroy(vmar.region())
}

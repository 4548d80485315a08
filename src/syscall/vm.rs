//! VMO and VMAR syscalls: argument decoding, handle and rights checks, and
//! Zircon's check order; the work itself is in [`crate::vm`].

use alloc::sync::Arc;

use crate::abi::{
    Rights, VmOptions, ZX_POL_NEW_VMO, ZX_VMO_CHILD_NO_WRITE, ZX_VMO_CHILD_REFERENCE,
    ZX_VMO_CHILD_RESIZABLE, ZX_VMO_CHILD_SLICE, ZX_VMO_CHILD_SNAPSHOT,
    ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE, ZX_VMO_CHILD_SNAPSHOT_MODIFIED, ZX_VMO_RESIZABLE,
    zx_handle_t,
};
use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::object::ObjectKind;
use crate::platform::{PAGE_SIZE, Platform};
use crate::vm::MapRequest;
use crate::vm::UserMemory;
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
    if let Err(e) = UserOut::<zx_handle_t>::new(out).write(process, &value) {
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
    if options & ZX_VMO_RESIZABLE != 0 && options & crate::abi::ZX_VMO_UNBOUNDED != 0 {
        return Err(Error::InvalidArgs("RESIZABLE with UNBOUNDED"));
    }
    if options & !ZX_VMO_RESIZABLE != 0 {
        return Err(Error::NotSupported("discardable and unbounded VMOs"));
    }
    let resizable = options & ZX_VMO_RESIZABLE != 0;
    let platform = call.kernel.platform();
    let vmo = if resizable {
        Vmo::create_resizable(platform, size)?
    } else {
        Vmo::create(platform, size)?
    };
    let mut rights = Rights::DEFAULT_VMO;
    if resizable {
        rights |= Rights::RESIZE;
    }
    give_handle(call, vmo, rights, call.args[2])?;
    Ok(())
}

/// `zx_vmo_read(handle, buffer, offset, buffer_size)`: `READ` right, then
/// the range (`OUT_OF_RANGE`). A bad user buffer reports what its fault
/// would, as in Zircon: `NOT_FOUND` (unmapped), `ACCESS_DENIED` (protection),
/// `OUT_OF_RANGE` (mapped past its VMO's end).
pub(super) fn vmo_read<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    vmo_copy(call, Rights::READ, |vmo, aspace, offset, user, chunk| {
        vmo.read(offset, chunk)?;
        aspace.copy_to_user(user, chunk)
    })
}

/// `zx_vmo_write(handle, buffer, offset, buffer_size)`: as `zx_vmo_read`,
/// with the `WRITE` right.
pub(super) fn vmo_write<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    vmo_copy(call, Rights::WRITE, |vmo, aspace, offset, user, chunk| {
        aspace.copy_from_user(user, chunk)?;
        vmo.write(offset, chunk)
    })
}

/// The common part of `zx_vmo_read`/`_write`: the handle with `right`, the
/// range check, then `step(vmo, aspace, vmo_offset, user_addr, chunk)` over
/// [`COPY_CHUNK`]-sized pieces (no lock of the VMO is held while user memory
/// is touched, and the other way round).
fn vmo_copy<P: Platform>(
    call: &mut Call<'_, P>,
    right: Rights,
    mut step: impl FnMut(&Vmo<P>, &crate::object::Process<P>, u64, u64, &mut [u8]) -> Result<()>,
) -> Result<()> {
    let (vmo, _) = call
        .process()
        .get_object::<Vmo<P>>(arg_u32(call.args[0]), right)?;
    let (buffer, offset, len) = (call.args[1], call.args[2], call.args[3]);
    offset
        .checked_add(len)
        .filter(|end| *end <= vmo.size())
        .ok_or(Error::OutOfRange("range beyond the VMO's size"))?;
    let aspace = call.process().clone();
    let mut chunk = [0u8; COPY_CHUNK];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(COPY_CHUNK as u64) as usize;
        let user = buffer
            .checked_add(done)
            .ok_or(Error::NotFound("bad user buffer"))?;
        step(&vmo, &aspace, offset + done, user, &mut chunk[..n])?;
        done += n as u64;
    }
    Ok(())
}

/// `zx_vmo_get_size(handle, size)`: no right needed.
pub(super) fn vmo_get_size<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let (vmo, _) = call
        .process()
        .get_object::<Vmo<P>>(arg_u32(call.args[0]), Rights::empty())?;
    UserOut::<u64>::new(call.args[1]).write(call.process(), &vmo.size())
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

/// `zx_vmo_create_child(handle, options, offset, size, out)`, in the order
/// of Zircon's `sys_vmo_create_child`: the size (`OUT_OF_RANGE`), `NO_WRITE`
/// with `RESIZABLE` (`INVALID_ARGS`), then the handle (`DUPLICATE | READ`),
/// then the options as `VmObjectDispatcher::CreateChildInternal` reads them
/// (see [`child_kind`]), then [`Vmo::create_child`]'s checks.
///
/// Supported kinds: `SLICE`, `SNAPSHOT` and `SNAPSHOT_AT_LEAST_ON_WRITE`
/// (the last two optionally `RESIZABLE`). `SNAPSHOT_MODIFIED`, `REFERENCE`
/// and `NO_WRITE` give `NOT_SUPPORTED` once the options are otherwise
/// valid. Child rights are Zircon's: the parent handle's without `RESIZE`,
/// plus `GET_PROPERTY | SET_PROPERTY`, plus `RESIZE` if resizable; a
/// snapshot of either kind also gains `WRITE` and loses `EXECUTE`. A bad
/// `out` pointer leaves no handle (and the child goes with it).
pub(super) fn vmo_create_child<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let options = arg_u32(call.args[1]);
    let (offset, size) = (call.args[2], call.args[3]);
    crate::vm::round_up_page(size)
        .filter(|s| *s <= crate::vm::MAX_VMO_SIZE)
        .ok_or(Error::OutOfRange("child size too large"))?;
    if options & ZX_VMO_CHILD_NO_WRITE != 0 && options & ZX_VMO_CHILD_RESIZABLE != 0 {
        return Err(Error::InvalidArgs("NO_WRITE with RESIZABLE"));
    }
    let (vmo, rights) = call
        .process()
        .get_object::<Vmo<P>>(arg_u32(call.args[0]), Rights::DUPLICATE | Rights::READ)?;
    let (kind, resizable) = child_kind(options)?;
    let child = vmo.create_child(kind, offset, size, resizable)?;
    let mut child_rights = rights.difference(Rights::RESIZE) | Rights::PROPERTY;
    if resizable {
        child_rights |= Rights::RESIZE;
    }
    if kind != ChildKind::Slice {
        child_rights = child_rights.difference(Rights::EXECUTE) | Rights::WRITE;
    }
    give_handle(call, child, child_rights, call.args[4])?;
    Ok(())
}

/// The child kind and resizability `options` ask for, decoded as Zircon's
/// `CreateChildInternal` does: `SLICE` takes no other option; `REFERENCE`
/// only `RESIZABLE`; otherwise exactly one snapshot kind, `SNAPSHOT` read
/// first, then `SNAPSHOT_AT_LEAST_ON_WRITE`, then `SNAPSHOT_MODIFIED`, plus
/// `RESIZABLE`. Anything else left over (a second kind, unknown bits) is
/// `INVALID_ARGS`, no kind at all too. `NO_WRITE` (which Zircon takes with
/// any kind) and the kinds this crate lacks are then `NOT_SUPPORTED`.
fn child_kind(options: u32) -> Result<(ChildKind, bool)> {
    let no_write = options & ZX_VMO_CHILD_NO_WRITE != 0;
    let mut rest = options & !ZX_VMO_CHILD_NO_WRITE;
    if rest & ZX_VMO_CHILD_SLICE != 0 {
        if rest & !ZX_VMO_CHILD_SLICE != 0 {
            return Err(Error::InvalidArgs("SLICE takes no other option"));
        }
        if no_write {
            return Err(Error::NotSupported("NO_WRITE children"));
        }
        return Ok((ChildKind::Slice, false));
    }
    if rest & ZX_VMO_CHILD_REFERENCE != 0 {
        if rest & !(ZX_VMO_CHILD_REFERENCE | ZX_VMO_CHILD_RESIZABLE) != 0 {
            return Err(Error::InvalidArgs("REFERENCE takes only RESIZABLE"));
        }
        return Err(Error::NotSupported("REFERENCE children"));
    }
    let kind = if rest & ZX_VMO_CHILD_SNAPSHOT != 0 {
        rest &= !ZX_VMO_CHILD_SNAPSHOT;
        Some(ChildKind::Snapshot)
    } else if rest & ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE != 0 {
        rest &= !ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE;
        Some(ChildKind::SnapshotAtLeastOnWrite)
    } else if rest & ZX_VMO_CHILD_SNAPSHOT_MODIFIED != 0 {
        rest &= !ZX_VMO_CHILD_SNAPSHOT_MODIFIED;
        None
    } else {
        return Err(Error::InvalidArgs("no child kind given"));
    };
    let resizable = rest & ZX_VMO_CHILD_RESIZABLE != 0;
    if rest & !ZX_VMO_CHILD_RESIZABLE != 0 {
        return Err(Error::InvalidArgs("unknown or conflicting child options"));
    }
    let kind = kind.ok_or(Error::NotSupported("SNAPSHOT_MODIFIED children"))?;
    if no_write {
        return Err(Error::NotSupported("NO_WRITE children"));
    }
    Ok((kind, resizable))
}

/// Decodes the placement of a map or allocate (after the option bits were
/// validated): `INVALID_ARGS` for `SPECIFIC` with `OFFSET_IS_UPPER_LIMIT`,
/// or an offset without either. Zircon makes these checks under the region
/// lock, after `BAD_STATE`; so on an error the VMAR's state is reported
/// first.
fn placement<P: Platform>(vmar: &Vmar<P>, options: VmOptions, offset: u64) -> Result<Placement> {
    decode_placement(options, offset).or_else(|e| {
        vmar.range()?;
        Err(e)
    })
}

fn decode_placement(options: VmOptions, offset: u64) -> Result<Placement> {
    let align = match options.align_log2() {
        Ok(None) => PAGE_SIZE,
        Ok(Some(log2)) => 1u64 << log2,
        Err(_) => return Err(Error::InvalidArgs("bad alignment")),
    };
    let specific = options.intersects(VmOptions::SPECIFIC | VmOptions::SPECIFIC_OVERWRITE);
    let upper = options.contains(VmOptions::OFFSET_IS_UPPER_LIMIT);
    match (specific, upper) {
        (true, true) => Err(Error::InvalidArgs("SPECIFIC with OFFSET_IS_UPPER_LIMIT")),
        (true, false) => Ok(Placement::Specific { offset, align }),
        (false, true) => Ok(Placement::UpperLimit {
            align,
            limit: offset,
        }),
        (false, false) if offset != 0 => Err(Error::InvalidArgs("offset without SPECIFIC")),
        (false, false) => Ok(Placement::Anywhere {
            align,
            limit: u64::MAX,
        }),
    }
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

/// `INVALID_ARGS` for option bits Zircon's `split_syscall_flags` rejects:
/// bits that name no option, and a bad alignment field.
fn check_known_bits(options: VmOptions) -> Result<()> {
    if options.bits() & !VmOptions::all().bits() != 0 {
        return Err(Error::InvalidArgs("unknown option bits"));
    }
    options
        .align_log2()
        .map(|_| ())
        .map_err(|_| Error::InvalidArgs("bad alignment"))
}

/// W or X without R.
fn valid_protection(perms: Perms) -> bool {
    perms.is_empty() || perms.contains(Perms::READ)
}

/// `zx_vmar_allocate(parent, options, offset, size, child_vmar,
/// child_addr)`, in the order of Zircon's `sys_vmar_allocate`.
pub(super) fn vmar_allocate<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let options = VmOptions::from_bits_retain(arg_u32(call.args[1]));
    let (offset, size) = (call.args[2], call.args[3]);
    let can_map = Perms::from_can_map(options);
    let (vmar, _) = call
        .process()
        .get_object::<Vmar<P>>(arg_u32(call.args[0]), can_map.rights())?;
    check_known_bits(options)?;
    if options.intersects(VmOptions::PERMS | VmOptions::PERM_READ_IF_XOM_UNSUPPORTED) {
        return Err(Error::InvalidArgs("permissions are not for allocate"));
    }
    if !is_page_aligned(size) {
        return Err(Error::InvalidArgs("size not page aligned"));
    }
    let allowed = VmOptions::COMPACT
        | VmOptions::SPECIFIC
        | VmOptions::CAN_MAP_SPECIFIC
        | VmOptions::CAN_MAP_PERMS
        | VmOptions::OFFSET_IS_UPPER_LIMIT
        | VmOptions::ALIGN_FIELD;
    if !allowed.contains(options) {
        return Err(Error::InvalidArgs("option not allowed on allocate"));
    }
    let place = placement(&vmar, options, offset)?;
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
        .write(&process, &base)
        .map_err(destroy_on_failure)?;
    give_handle(call, child, rights, call.args[4]).map_err(destroy_on_failure)?;
    Ok(())
}

/// `zx_vmar_map(handle, options, vmar_offset, vmo, vmo_offset, len,
/// mapped_addr)`, in the order of Zircon's `sys_vmar_map`.
pub(super) fn vmar_map<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let raw = VmOptions::from_bits_retain(arg_u32(call.args[1]));
    let (vmar_offset, vmo_offset, len) = (call.args[2], call.args[4], call.args[5]);
    let process = call.process().clone();
    // Both handles: no rights needed yet.
    let (vmar, vmar_rights) =
        process.get_object::<Vmar<P>>(arg_u32(call.args[0]), Rights::empty())?;
    let (vmo, vmo_rights) = process.get_object::<Vmo<P>>(arg_u32(call.args[3]), Rights::empty())?;
    crate::object::check_rights(vmo_rights, Rights::MAP)?;
    let options = fold_xom::<P>(raw);
    let perms = Perms::from_options(options);
    if !valid_protection(perms) {
        return Err(Error::InvalidArgs("write or execute without read"));
    }
    let map_range = options.contains(VmOptions::MAP_RANGE);
    if map_range && options.contains(VmOptions::SPECIFIC_OVERWRITE) {
        return Err(Error::InvalidArgs("MAP_RANGE with SPECIFIC_OVERWRITE"));
    }
    if options.intersects(VmOptions::CAN_MAP_PERMS) {
        return Err(Error::InvalidArgs("CAN_MAP_* is not for mappings"));
    }
    // The mapping's maximum: what both handles allow, frozen now.
    let max = Perms::from_rights(vmo_rights) & Perms::from_rights(vmar_rights);
    for p in [Perms::READ, Perms::WRITE, Perms::EXECUTE] {
        if perms.contains(p) && !max.contains(p) {
            return Err(Error::AccessDenied(
                "handle rights forbid these permissions",
            ));
        }
    }
    check_known_bits(options)?;
    if options.contains(VmOptions::REQUIRE_NON_RESIZABLE) && vmo.is_resizable() {
        return Err(Error::NotSupported("VMO is resizable"));
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
    if !is_page_aligned(vmo_offset) {
        return Err(Error::InvalidArgs("VMO offset not page aligned"));
    }
    let len = crate::vm::round_up_page(len).ok_or(Error::OutOfRange("length overflows"))?;
    vmo_offset
        .checked_add(len)
        .ok_or(Error::OutOfRange("VMO offset + length overflows"))?;
    let place = placement(&vmar, options, vmar_offset)?;
    let aspace = vmar.aspace().clone();
    let request = MapRequest {
        max,
        overwrite: options.contains(VmOptions::SPECIFIC_OVERWRITE),
        map_range,
        ..MapRequest::new(vmo, vmo_offset, len, perms)
    };
    let base = aspace.map(vmar.region(), place, request)?;
    if let Err(e) = UserOut::<u64>::new(call.args[6]).write(&process, &base) {
        let _ = aspace.unmap(vmar.region(), base, len, crate::vm::Reach::MappingsOnly);
        return Err(e);
    }
    Ok(())
}

/// `zx_vmar_unmap(handle, addr, len)`: no right needed; sub-VMARs in the
/// range need `OP_CHILDREN` and must lie wholly inside (they are
/// destroyed).
pub(super) fn vmar_unmap<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let (vmar, rights) = call
        .process()
        .get_object::<Vmar<P>>(arg_u32(call.args[0]), Rights::empty())?;
    let (addr, len) = (call.args[1], call.args[2]);
    if !is_page_aligned(addr) {
        return Err(Error::InvalidArgs("address not page aligned"));
    }
    let len = crate::vm::round_up_len(len)?;
    let reach = if rights.contains(Rights::OP_CHILDREN) {
        crate::vm::Reach::DestroyWholeSubregions
    } else {
        crate::vm::Reach::MappingsOnly
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

/// `zx_vmar_destroy(handle)`: the handle needs `OP_CHILDREN` (as in current
/// Zircon); the root VMAR cannot be destroyed (`NOT_SUPPORTED`; the host
/// tears it down with the process); a destroyed VMAR gives `BAD_STATE`.
pub(super) fn vmar_destroy<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let (vmar, _) = call
        .process()
        .get_object::<Vmar<P>>(arg_u32(call.args[0]), Rights::OP_CHILDREN)?;
    if vmar.region() == call.process().root_vmar().region() {
        return Err(Error::NotSupported("the root VMAR cannot be destroyed"));
    }
    vmar.aspace().destroy(vmar.region())
}

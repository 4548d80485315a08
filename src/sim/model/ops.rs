//! The model's VMAR, handle and user-access operations.

use std::format;
use std::vec::Vec;

use crate::abi::{Rights, Status, VmOptions, ZX_RIGHT_SAME_RIGHTS};
use crate::platform::PAGE_SIZE;
use crate::trap::Access;
use crate::vm::Perms;

use super::{
    HandleInfo, Mismatch, Model, Object, Outcome, PageState, Place, RegionState, agree, aligned,
    perms_of_options, round_up,
};

/// A user-mode access the model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Touch {
    /// The address.
    pub va: u64,
    /// Load, store or fetch.
    pub access: Access,
    /// The byte a store writes.
    pub value: u8,
}

/// What a user-mode access gave: the byte a load read (0 for stores and
/// fetches), or the status the fault handler reported.
pub type TouchResult = Outcome<u8>;

/// Splits the alignment field: `Err` for a value Zircon rejects.
fn alignment(o: VmOptions) -> Result<u64, Status> {
    match o.align_log2() {
        Ok(None) => Ok(PAGE_SIZE),
        Ok(Some(log2)) => Ok(1u64 << log2),
        Err(_) => Err(Status::InvalidArgs),
    }
}

fn known_bits(o: VmOptions) -> Result<(), Status> {
    if o.bits() & !VmOptions::all().bits() != 0 {
        return Err(Status::InvalidArgs);
    }
    alignment(o).map(|_| ())
}

/// A decoded placement request.
#[derive(Clone, Copy, Debug)]
pub(super) enum Placement {
    /// `SPECIFIC`: offset and alignment.
    Specific { offset: u64, align: u64 },
    /// `OFFSET_IS_UPPER_LIMIT`: alignment and limit (an offset).
    UpperLimit { align: u64, limit: u64 },
    /// Anywhere in the VMAR, with this alignment.
    Anywhere { align: u64 },
}

/// The syscall layer's decoding of a placement. Its errors are reported
/// only after the VMAR's `BAD_STATE` (the kernel decodes, then looks at the
/// VMAR's state before reporting a decoding error).
fn placement(o: VmOptions, offset: u64) -> Result<Placement, Status> {
    let align = alignment(o)?;
    let specific = o.intersects(VmOptions::SPECIFIC | VmOptions::SPECIFIC_OVERWRITE);
    let upper = o.contains(VmOptions::OFFSET_IS_UPPER_LIMIT);
    match (specific, upper) {
        (true, true) => Err(Status::InvalidArgs),
        (true, false) => Ok(Placement::Specific { offset, align }),
        (false, true) => Ok(Placement::UpperLimit {
            align,
            limit: offset,
        }),
        (false, false) if offset != 0 => Err(Status::InvalidArgs),
        (false, false) => Ok(Placement::Anywhere { align }),
    }
}

impl Model {
    /// Picks a placement's base from the kernel's answer, or predicts
    /// `NO_RESOURCES` / `ALREADY_EXISTS`.
    fn resolve(&self, r: usize, place: Place, len: u64) -> Result<Place, Status> {
        match place {
            Place::Specific { base } => {
                if self.is_free(r, base, base + len) {
                    Ok(place)
                } else {
                    Err(Status::AlreadyExists)
                }
            }
            Place::Anywhere { .. } => {
                if self.spot_exists(r, place, len) {
                    Ok(place)
                } else {
                    Err(Status::NoResources)
                }
            }
        }
    }

    /// `zx_vmar_map`; `actual` is the address.
    #[allow(clippy::too_many_arguments)]
    pub fn vmar_map(
        &mut self,
        h: u32,
        options: u32,
        vmar_offset: u64,
        vmo_h: u32,
        vmo_offset: u64,
        len: u64,
        actual: Outcome<u64>,
    ) -> Result<(), Mismatch> {
        let predicted = (|| {
            let (r, vmar_rights) = self.vmar(h, Rights::empty())?;
            let (v, vmo_rights) = self.vmo(vmo_h, Rights::empty())?;
            if !vmo_rights.contains(Rights::MAP) {
                return Err(Status::AccessDenied);
            }
            let mut o = VmOptions::from_bits_retain(options);
            if o.contains(VmOptions::PERM_READ_IF_XOM_UNSUPPORTED) {
                o.remove(VmOptions::PERM_READ_IF_XOM_UNSUPPORTED);
                o |= VmOptions::PERM_READ;
            }
            let perms = perms_of_options(o);
            if !perms.is_empty() && !perms.contains(Perms::READ) {
                return Err(Status::InvalidArgs);
            }
            if o.contains(VmOptions::MAP_RANGE | VmOptions::SPECIFIC_OVERWRITE) {
                return Err(Status::InvalidArgs);
            }
            if o.intersects(VmOptions::CAN_MAP_PERMS) {
                return Err(Status::InvalidArgs);
            }
            let max = Perms::from_rights(vmo_rights) & Perms::from_rights(vmar_rights);
            if !max.contains(perms) {
                return Err(Status::AccessDenied);
            }
            known_bits(o)?;
            if o.contains(VmOptions::REQUIRE_NON_RESIZABLE) && self.vmos[v].resizable {
                return Err(Status::NotSupported);
            }
            let allowed = VmOptions::PERMS
                | VmOptions::SPECIFIC
                | VmOptions::SPECIFIC_OVERWRITE
                | VmOptions::MAP_RANGE
                | VmOptions::REQUIRE_NON_RESIZABLE
                | VmOptions::ALLOW_FAULTS
                | VmOptions::OFFSET_IS_UPPER_LIMIT
                | VmOptions::ALIGN_FIELD;
            if !allowed.contains(o) {
                return Err(Status::InvalidArgs);
            }
            if !aligned(vmo_offset) {
                return Err(Status::InvalidArgs);
            }
            let len = round_up(len).ok_or(Status::OutOfRange)?;
            vmo_offset.checked_add(len).ok_or(Status::OutOfRange)?;
            let decoded = placement(o, vmar_offset);
            let reg = &self.regions[r];
            if !reg.alive {
                return Err(Status::BadState);
            }
            let decoded = decoded?;
            if len == 0 {
                return Err(Status::InvalidArgs);
            }
            if !reg.can_map.contains(perms) {
                return Err(Status::AccessDenied);
            }
            let overwrite = o.contains(VmOptions::SPECIFIC_OVERWRITE);
            let place = self.place(r, decoded, len)?;
            if overwrite {
                let Place::Specific { base } = place else {
                    return Err(Status::InvalidArgs);
                };
                // Overwrite replaces mappings; a sub-region in the way fails.
                if self.subregions(r).into_iter().any(|c| {
                    let c = &self.regions[c];
                    c.base < base + len && base < c.end()
                }) {
                    return Err(Status::InvalidArgs);
                }
                return Ok((r, v, place, len, perms, max, true));
            }
            let place = self.resolve(r, place, len)?;
            Ok((r, v, place, len, perms, max, false))
        })();
        let Some(((r, v, place, len, prot, max, overwrite), base)) =
            agree("vmar_map", predicted, actual, true)?
        else {
            return Ok(());
        };
        if overwrite {
            self.unmap_pages(r, base, base + len);
        }
        self.check_spot(r, place, len, base)?;
        for i in 0..len / PAGE_SIZE {
            self.pages.insert(
                base + i * PAGE_SIZE,
                PageState {
                    region: r,
                    vmo: v,
                    vmo_offset: vmo_offset + i * PAGE_SIZE,
                    max,
                    prot,
                },
            );
        }
        Ok(())
    }

    /// `zx_vmar_allocate`; `actual` is the new handle, the base, and the
    /// new VMAR's koid.
    pub fn vmar_allocate(
        &mut self,
        h: u32,
        options: u32,
        offset: u64,
        size: u64,
        actual: Outcome<(u32, u64, u64)>,
    ) -> Result<(), Mismatch> {
        let o = VmOptions::from_bits_retain(options);
        let can_map = Perms::from_can_map(o);
        let cms = o.contains(VmOptions::CAN_MAP_SPECIFIC);
        let predicted = (|| {
            let (r, _) = self.vmar(h, can_map.rights())?;
            known_bits(o)?;
            if o.intersects(VmOptions::PERMS | VmOptions::PERM_READ_IF_XOM_UNSUPPORTED) {
                return Err(Status::InvalidArgs);
            }
            if !aligned(size) {
                return Err(Status::InvalidArgs);
            }
            let allowed = VmOptions::COMPACT
                | VmOptions::SPECIFIC
                | VmOptions::CAN_MAP_SPECIFIC
                | VmOptions::CAN_MAP_PERMS
                | VmOptions::OFFSET_IS_UPPER_LIMIT
                | VmOptions::ALIGN_FIELD;
            if !allowed.contains(o) {
                return Err(Status::InvalidArgs);
            }
            let decoded = placement(o, offset);
            let reg = &self.regions[r];
            if !reg.alive {
                return Err(Status::BadState);
            }
            let decoded = decoded?;
            if size == 0 {
                return Err(Status::InvalidArgs);
            }
            // Only R/W/X are bounded by the parent.
            if !reg.can_map.contains(can_map) {
                return Err(Status::AccessDenied);
            }
            let place = self.place(r, decoded, size)?;
            let place = self.resolve(r, place, size)?;
            Ok((r, place))
        })();
        let Some(((r, place), (child, base, koid))) =
            agree("vmar_allocate", predicted, actual, true)?
        else {
            return Ok(());
        };
        self.check_spot(r, place, size, base)?;
        self.regions.push(RegionState {
            base,
            size,
            parent: Some(r),
            can_map,
            can_map_specific: cms,
            alive: true,
            koid,
        });
        self.add_handle(
            child,
            HandleInfo {
                object: Object::Vmar(self.regions.len() - 1),
                rights: Rights::DEFAULT_VMAR | can_map.rights(),
            },
        )
    }

    /// `zx_vmar_unmap`.
    pub fn vmar_unmap(
        &mut self,
        h: u32,
        addr: u64,
        len: u64,
        actual: Outcome<()>,
    ) -> Result<(), Mismatch> {
        let predicted = (|| {
            let (r, rights) = self.vmar(h, Rights::empty())?;
            if !aligned(addr) {
                return Err(Status::InvalidArgs);
            }
            let len = round_up(len)
                .filter(|l| *l != 0)
                .ok_or(Status::InvalidArgs)?;
            let reg = &self.regions[r];
            if !reg.alive {
                return Err(Status::BadState);
            }
            let end = addr.checked_add(len).ok_or(Status::InvalidArgs)?;
            if addr < reg.base || end > reg.end() {
                return Err(Status::InvalidArgs);
            }
            let mut doomed = Vec::new();
            for c in self.subregions(r) {
                let c_reg = &self.regions[c];
                if c_reg.base < end && addr < c_reg.end() {
                    let whole = c_reg.base >= addr && c_reg.end() <= end;
                    if !rights.contains(Rights::OP_CHILDREN) || !whole {
                        return Err(Status::InvalidArgs);
                    }
                    doomed.push(c);
                }
            }
            Ok((r, end, doomed))
        })();
        if let Some(((r, end, doomed), ())) = agree("vmar_unmap", predicted, actual, true)? {
            self.unmap_pages(r, addr, end);
            for c in doomed {
                self.destroy_region(c);
            }
        }
        Ok(())
    }

    /// `zx_vmar_protect`, in SPEC §2's order.
    pub fn vmar_protect(
        &mut self,
        h: u32,
        options: u32,
        addr: u64,
        len: u64,
        actual: Outcome<()>,
    ) -> Result<(), Mismatch> {
        let predicted = (|| {
            // 1. XOM is never supported: fold into READ.
            let mut o = VmOptions::from_bits_retain(options);
            if o.contains(VmOptions::PERM_READ_IF_XOM_UNSUPPORTED) {
                o.remove(VmOptions::PERM_READ_IF_XOM_UNSUPPORTED);
                o |= VmOptions::PERM_READ;
            }
            let perms = perms_of_options(o);
            // 2. Handle and rights.
            let (r, rights) = self.vmar(h, perms.rights())?;
            // 3.–5.
            if !perms.is_empty() && !perms.contains(Perms::READ) {
                return Err(Status::InvalidArgs);
            }
            if !aligned(addr) {
                return Err(Status::InvalidArgs);
            }
            if !VmOptions::PERMS.contains(o) {
                return Err(Status::InvalidArgs);
            }
            // 6.
            let len = round_up(len)
                .filter(|l| *l != 0)
                .ok_or(Status::InvalidArgs)?;
            let end = addr.checked_add(len).ok_or(Status::InvalidArgs)?;
            let reg = &self.regions[r];
            if !reg.alive {
                return Err(Status::BadState);
            }
            if addr < reg.base || end > reg.end() {
                return Err(Status::InvalidArgs);
            }
            // 7. Check pass, page by page in address order (equivalent to
            // mapping by mapping: the per-mapping checks are the same for
            // every page of a mapping).
            let mut va = addr;
            while va < end {
                let p = self.pages.get(&va).ok_or(Status::NotFound)?;
                if !p.max.contains(perms) {
                    return Err(Status::AccessDenied);
                }
                if p.region != r {
                    if !rights.contains(Rights::OP_CHILDREN) {
                        return Err(Status::InvalidArgs);
                    }
                    if !p.prot.contains(perms) {
                        return Err(Status::AccessDenied);
                    }
                }
                va += PAGE_SIZE;
            }
            Ok((end, perms))
        })();
        if let Some(((end, perms), ())) = agree("vmar_protect", predicted, actual, true)? {
            for (_, p) in self.pages.range_mut(addr..end) {
                p.prot = perms;
            }
        }
        Ok(())
    }

    /// `zx_vmar_destroy`.
    pub fn vmar_destroy(&mut self, h: u32, actual: Outcome<()>) -> Result<(), Mismatch> {
        let predicted = self.vmar(h, Rights::OP_CHILDREN).and_then(|(r, _)| {
            if self.regions[r].alive {
                Ok(r)
            } else {
                Err(Status::BadState)
            }
        });
        if let Some((r, ())) = agree("vmar_destroy", predicted, actual, false)? {
            self.destroy_region(r);
        }
        Ok(())
    }

    /// `zx_handle_duplicate`; `actual` is the new value.
    pub fn handle_duplicate(
        &mut self,
        h: u32,
        rights: u32,
        actual: Outcome<u32>,
    ) -> Result<(), Mismatch> {
        let predicted = (|| {
            let src = *self.handles.get(&h).ok_or(Status::BadHandle)?;
            if !src.rights.contains(Rights::DUPLICATE) {
                return Err(Status::AccessDenied);
            }
            reduce(src, rights)
        })();
        if let Some((info, value)) = agree("handle_duplicate", predicted, actual, false)? {
            self.add_handle(value, info)?;
        }
        Ok(())
    }

    /// `zx_handle_replace`; `actual` is the new value.
    pub fn handle_replace(
        &mut self,
        h: u32,
        rights: u32,
        actual: Outcome<u32>,
    ) -> Result<(), Mismatch> {
        let Some(src) = self.handles.get(&h).copied() else {
            return agree::<(), _>("handle_replace", Err(Status::BadHandle), actual, false)
                .map(|_| ());
        };
        // The source is closed whether or not the rights are valid.
        let predicted = reduce(src, rights);
        let result = agree("handle_replace", predicted, actual, false);
        if result.is_ok() {
            self.handles.remove(&h);
        }
        if let Some((info, value)) = result? {
            self.add_handle(value, info)?;
        }
        Ok(())
    }

    /// `zx_handle_close`.
    pub fn handle_close(&mut self, h: u32, actual: Outcome<()>) -> Result<(), Mismatch> {
        let predicted = if h == 0 || self.handles.contains_key(&h) {
            Ok(())
        } else {
            Err(Status::BadHandle)
        };
        if agree("handle_close", predicted, actual, false)?.is_some() {
            self.handles.remove(&h);
        }
        Ok(())
    }

    /// What a user-mode access at `t.va` does: the byte read (`None` if
    /// the model cannot know it; 0 for stores and fetches), or the status
    /// the fault handler reports.
    pub fn predict_touch(&self, t: Touch) -> Outcome<Option<u8>> {
        let page = t.va & !(PAGE_SIZE - 1);
        let p = self.pages.get(&page).ok_or(Status::NotFound)?;
        let need = match t.access {
            Access::Read => Perms::READ,
            Access::Write => Perms::WRITE,
            Access::Execute => Perms::EXECUTE,
        };
        if !p.prot.contains(need) {
            return Err(Status::AccessDenied);
        }
        let vmo = &self.vmos[p.vmo];
        if p.vmo_offset >= vmo.size {
            return Err(Status::OutOfRange);
        }
        let offset = p.vmo_offset + (t.va - page);
        Ok(match t.access {
            Access::Read => self.byte(p.vmo, offset),
            _ => Some(0),
        })
    }

    /// A user-mode access and what it gave.
    pub fn touch(&mut self, t: Touch, actual: TouchResult) -> Result<(), Mismatch> {
        let predicted = self.predict_touch(t);
        let Some((want, got)) = agree("touch", predicted, actual, true)? else {
            return Ok(());
        };
        if let Some(want) = want
            && want != got
        {
            return Err(format!("load at {:#x}: model {want}, kernel {got}", t.va));
        }
        if t.access == Access::Write {
            let page = t.va & !(PAGE_SIZE - 1);
            if let Some(p) = self.pages.get(&page) {
                let (owner, at) = self.backing(p.vmo, p.vmo_offset + (t.va - page));
                self.vmos[owner].data.insert(at, t.value);
            }
        }
        Ok(())
    }

    /// Every live region below (and including) the top one.
    pub fn live_regions(&self) -> impl Iterator<Item = (usize, &RegionState)> {
        self.regions.iter().enumerate().filter(|(_, r)| r.alive)
    }
}

/// The rights of a duplicate or replacement.
fn reduce(src: HandleInfo, rights: u32) -> Result<HandleInfo, Status> {
    if rights == ZX_RIGHT_SAME_RIGHTS {
        return Ok(src);
    }
    let r = Rights::from_bits_retain(rights);
    if !src.rights.contains(r) {
        return Err(Status::InvalidArgs);
    }
    Ok(HandleInfo {
        object: src.object,
        rights: r,
    })
}

//! Where a new VMAR or mapping goes ([`Placement`], and the tree's choice
//! of a base for it), and what a mapping asks for (`MapRequest`).

use alloc::sync::Arc;

use crate::error::{Error, Result};
use crate::platform::{PAGE_SIZE, Platform};

use super::region::{Region, Tree};
use super::vmo::Vmo;
use super::{Perms, is_page_aligned};

/// What [`AddressSpace::map`](super::AddressSpace) maps: `len` bytes of
/// `vmo` from `vmo_offset` with `perms`, at most `max` later.
pub(crate) struct MapRequest<P: Platform> {
    pub(crate) vmo: Arc<Vmo<P>>,
    pub(crate) vmo_offset: u64,
    pub(crate) len: u64,
    pub(crate) perms: Perms,
    pub(crate) max: Perms,
    /// `ZX_VM_SPECIFIC_OVERWRITE`: mappings in the way are replaced.
    pub(crate) overwrite: bool,
    /// `ZX_VM_MAP_RANGE`: committed pages are mapped now.
    pub(crate) map_range: bool,
}

impl<P: Platform> MapRequest<P> {
    /// `len` bytes of `vmo` from `vmo_offset` with `perms`, any later
    /// protection allowed, nothing replaced, nothing mapped ahead.
    pub(crate) fn new(vmo: Arc<Vmo<P>>, vmo_offset: u64, len: u64, perms: Perms) -> Self {
        MapRequest {
            vmo,
            vmo_offset,
            len,
            perms,
            max: Perms::all(),
            overwrite: false,
            map_range: false,
        }
    }
}

/// Where a new region or mapping goes.
///
/// Errors of the placement, in Zircon's order (`CreateSubVmarInner`): a
/// specific offset or an upper limit not page aligned is `INVALID_ARGS`; a
/// specific or upper-limit placement in a VMAR without `CAN_MAP_SPECIFIC` is
/// `ACCESS_DENIED`; a range outside the VMAR (for an upper limit: a limit
/// beyond the VMAR or below the size) or a base not aligned as asked is
/// `INVALID_ARGS`; an occupied range is `ALREADY_EXISTS`; no room for a
/// non-specific placement is `NO_RESOURCES`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// At this offset from the region's base (`ZX_VM_SPECIFIC`); the base
    /// must be a multiple of `align`.
    Specific {
        /// Offset from the VMAR's base.
        offset: u64,
        /// Required alignment (a power of two, at least a page).
        align: u64,
    },
    /// Anywhere, aligned to `align`, ending at most `limit` bytes past the
    /// region's base (`u64::MAX` for no limit). For the host: the VMAR's
    /// `CAN_MAP_SPECIFIC` is not needed.
    Anywhere {
        /// Alignment in bytes (a power of two).
        align: u64,
        /// Upper limit, as an offset from the region's base.
        limit: u64,
    },
    /// `ZX_VM_OFFSET_IS_UPPER_LIMIT` from user space: anywhere, aligned to
    /// `align`, ending at most `limit` bytes past the region's base. Like
    /// `SPECIFIC`, it needs the VMAR's `CAN_MAP_SPECIFIC`; `limit` must be
    /// page aligned, inside the VMAR and at least the size.
    UpperLimit {
        /// Alignment in bytes (a power of two).
        align: u64,
        /// Upper limit, as an offset from the region's base.
        limit: u64,
    },
}

impl Placement {
    /// Anywhere, page aligned.
    pub const ANYWHERE: Placement = Placement::Anywhere {
        align: PAGE_SIZE,
        limit: u64::MAX,
    };

    /// At `offset`, page aligned.
    pub const fn at(offset: u64) -> Placement {
        Placement::Specific {
            offset,
            align: PAGE_SIZE,
        }
    }
}

impl<P: Platform> Tree<P> {
    /// The absolute base for a specific placement.
    pub(super) fn specific_base(
        &self,
        region: &Region,
        offset: u64,
        len: u64,
        align: u64,
    ) -> Result<u64> {
        if !is_page_aligned(offset) {
            return Err(Error::InvalidArgs("offset not page aligned"));
        }
        if offset >= region.size || len > region.size - offset {
            return Err(Error::InvalidArgs("range outside the VMAR"));
        }
        let base = region.base + offset;
        if !base.is_multiple_of(align.max(PAGE_SIZE)) {
            return Err(Error::InvalidArgs("base not aligned as asked"));
        }
        Ok(base)
    }

    /// Chooses the base for `len` bytes in `region`.
    pub(super) fn place(&self, region: &Region, placement: Placement, len: u64) -> Result<u64> {
        match placement {
            Placement::Specific { offset, align } => {
                if !is_page_aligned(offset) {
                    return Err(Error::InvalidArgs("offset not page aligned"));
                }
                if !region.can_map_specific {
                    return Err(Error::AccessDenied("VMAR lacks CAN_MAP_SPECIFIC"));
                }
                let base = self.specific_base(region, offset, len, align)?;
                if !self.is_free(region, base, base + len) {
                    return Err(Error::AlreadyExists("range already in use"));
                }
                Ok(base)
            }
            Placement::UpperLimit { align, limit } => {
                if !is_page_aligned(limit) {
                    return Err(Error::InvalidArgs("upper limit not page aligned"));
                }
                if !region.can_map_specific {
                    return Err(Error::AccessDenied("VMAR lacks CAN_MAP_SPECIFIC"));
                }
                if limit > region.size || len > limit {
                    return Err(Error::InvalidArgs(
                        "upper limit outside the VMAR or below the size",
                    ));
                }
                self.place(region, Placement::Anywhere { align, limit }, len)
            }
            Placement::Anywhere { align, limit } => {
                let align = align.max(PAGE_SIZE);
                let end = region.base.saturating_add(limit).min(region.end());
                self.find_spot(region, len, align)
                    .filter(|b| b.checked_add(len).is_some_and(|e| e <= end))
                    .or_else(|| self.find_spot_below(region, len, align, end))
                    .ok_or(Error::NoResources("no room in the VMAR"))
            }
        }
    }
}

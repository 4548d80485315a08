//! A reference model of VMARs, mappings, protections, VMOs and handle
//! rights, for property tests and fuzzers ([`driver`] runs the real kernel
//! and this model side by side).
//!
//! The model is deliberately naive: ordered maps, one entry per page, no
//! page tables, no TLB, no locks. Each operation follows the check order of
//! SPEC §2 (`zx_vmar_protect`) and of the crate's syscall layer (which
//! follows Zircon's, see each syscall's docs), and predicts the status.
//! Where the kernel chooses a value the model cannot know (a handle value, a
//! non-specific address, a koid) the model takes the kernel's, after
//! checking that it is allowed: a fresh address must be free, aligned and
//! inside the region; a new handle value must not name a live handle.
//!
//! Every method takes the kernel's actual outcome and returns a
//! [`Mismatch`] when it differs from the prediction. On a match the model
//! applies the operation; on a predicted failure it changes nothing. A
//! `NO_MEMORY` from the kernel is accepted for any operation that allocates
//! (the caller decides when that is allowed) and also changes nothing.
//!
//! Scope: `zx_vmo_create`, `_read`/`_write` (one byte), `_set_size`,
//! `_create_child` (slices, snapshots, at-least-on-write children: see
//! the `vmos` module); `zx_vmar_allocate`, `_map`, `_unmap`, `_protect`, `_destroy`;
//! `zx_handle_duplicate`, `_replace`, `_close`; user-mode loads, stores and
//! fetches (allowed, or which status the fault handler reports). Not
//! modelled: job policy, restricted mode.

pub mod driver;
pub mod leaves;
pub mod ops_gen;

use std::collections::{BTreeMap, BTreeSet};
use std::format;
use std::string::String;
use std::vec::Vec;

use crate::abi::{Rights, Status, VmOptions};
use crate::platform::PAGE_SIZE;
use crate::vm::Perms;

/// A difference between the kernel and the model, described.
pub type Mismatch = String;

/// The kernel's outcome of an operation: a value or an error status.
pub type Outcome<T> = Result<T, Status>;

/// What a handle names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Object {
    /// Index into [`Model::regions`].
    Vmar(usize),
    /// Index into [`Model::vmos`].
    Vmo(usize),
}

/// A handle: object and rights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandleInfo {
    /// The object.
    pub object: Object,
    /// The handle's rights.
    pub rights: Rights,
}

/// A VMO.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmoState {
    /// Size in bytes (a page multiple).
    pub size: u64,
    /// Created `ZX_VMO_RESIZABLE`.
    pub resizable: bool,
    /// The kernel's koid for it (0 until learned).
    pub koid: u64,
    /// Bytes written so far (absent bytes read as zero); empty for a slice.
    pub data: BTreeMap<u64, u8>,
    /// For a slice: the parent and the byte offset in it.
    pub slice_of: Option<(usize, u64)>,
    /// Where byte 0 lies in the root VMO of its tree (Zircon's
    /// `root_parent_offset`).
    pub root_offset: u64,
    /// A slice's offset in the first VMO up its chain that is not a slice
    /// (Zircon's slice range offset); 0 for others.
    pub slice_offset: u64,
    /// What lies between it and its root.
    pub chain: Chain,
    /// An at-least-on-write child through a slice: its bytes are not
    /// predicted.
    pub fuzzy: bool,
    /// Index of the root VMO of its tree.
    pub tree: usize,
}

/// A VMAR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionState {
    /// First address.
    pub base: u64,
    /// Size in bytes.
    pub size: u64,
    /// Parent region; `None` for the model's top region.
    pub parent: Option<usize>,
    /// `CAN_MAP_READ/WRITE/EXECUTE`.
    pub can_map: Perms,
    /// `CAN_MAP_SPECIFIC`.
    pub can_map_specific: bool,
    /// Not destroyed.
    pub alive: bool,
    /// The kernel's koid for it (0 until learned).
    pub koid: u64,
}

impl RegionState {
    /// One past the last address.
    pub fn end(&self) -> u64 {
        self.base + self.size
    }
}

/// One mapped page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageState {
    /// The region holding the mapping.
    pub region: usize,
    /// The mapped VMO.
    pub vmo: usize,
    /// VMO offset of the page.
    pub vmo_offset: u64,
    /// The mapping's maximum permissions.
    pub max: Perms,
    /// Current protection.
    pub prot: Perms,
}

/// The model's state.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// Every region ever created (dead ones stay, `alive == false`).
    pub regions: Vec<RegionState>,
    /// Every VMO ever created.
    pub vmos: Vec<VmoState>,
    /// Live handles by value.
    pub handles: BTreeMap<u32, HandleInfo>,
    /// Mapped pages by address.
    pub pages: BTreeMap<u64, PageState>,
    /// Trees (by root VMO index) that ever had a copy-on-write child.
    pub cow_trees: BTreeSet<usize>,
}

/// How a new region or mapping is placed.
#[derive(Clone, Copy, Debug)]
enum Place {
    Specific { base: u64 },
    Anywhere { align: u64, end: u64 },
}

fn perms_of_options(o: VmOptions) -> Perms {
    Perms::from_bits_truncate(o.bits())
}

fn round_up(x: u64) -> Option<u64> {
    x.checked_add(PAGE_SIZE - 1).map(|v| v & !(PAGE_SIZE - 1))
}

fn aligned(x: u64) -> bool {
    x.is_multiple_of(PAGE_SIZE)
}

/// Compares a predicted failure or success with the kernel's outcome.
/// `Ok(Some(v))`: both succeeded; `Ok(None)`: both failed alike (or the
/// kernel ran out of memory, when allowed).
fn agree<P, T: core::fmt::Debug>(
    what: &str,
    predicted: Result<P, Status>,
    actual: Outcome<T>,
    no_memory_ok: bool,
) -> Result<Option<(P, T)>, Mismatch> {
    match (predicted, actual) {
        (_, Err(Status::NoMemory)) if no_memory_ok => Ok(None),
        (Ok(p), Ok(v)) => Ok(Some((p, v))),
        (Err(e), Err(a)) if e == a => Ok(None),
        (Err(e), a) => Err(format!("{what}: model says {e:?}, kernel gave {a:?}")),
        (Ok(_), a) => Err(format!("{what}: model says OK, kernel gave {a:?}")),
    }
}

impl Model {
    /// A model whose top region is the kernel's VMAR `[base, base + size)`
    /// (with every `CAN_MAP_*`), named by handle `handle` with `rights`.
    pub fn new(base: u64, size: u64, handle: u32, rights: Rights, koid: u64) -> Model {
        let mut m = Model::default();
        m.regions.push(RegionState {
            base,
            size,
            parent: None,
            can_map: Perms::all(),
            can_map_specific: true,
            alive: true,
            koid,
        });
        m.handles.insert(
            handle,
            HandleInfo {
                object: Object::Vmar(0),
                rights,
            },
        );
        m
    }

    /// The live handle values, in order.
    pub fn handle_values(&self) -> Vec<u32> {
        self.handles.keys().copied().collect()
    }

    fn vmar(&self, h: u32, rights: Rights) -> Result<(usize, Rights), Status> {
        match self.handles.get(&h) {
            None => Err(Status::BadHandle),
            Some(HandleInfo {
                object: Object::Vmar(r),
                rights: held,
            }) => held
                .contains(rights)
                .then_some((*r, *held))
                .ok_or(Status::AccessDenied),
            Some(_) => Err(Status::WrongType),
        }
    }

    fn vmo(&self, h: u32, rights: Rights) -> Result<(usize, Rights), Status> {
        match self.handles.get(&h) {
            None => Err(Status::BadHandle),
            Some(HandleInfo {
                object: Object::Vmo(v),
                rights: held,
            }) => held
                .contains(rights)
                .then_some((*v, *held))
                .ok_or(Status::AccessDenied),
            Some(_) => Err(Status::WrongType),
        }
    }

    fn add_handle(&mut self, value: u32, info: HandleInfo) -> Result<(), Mismatch> {
        if value == 0 || self.handles.contains_key(&value) {
            return Err(format!("new handle value {value:#x} is 0 or already live"));
        }
        self.handles.insert(value, info);
        Ok(())
    }

    /// Whether `r` is `ancestor` or lies below it.
    fn within(&self, mut r: usize, ancestor: usize) -> bool {
        loop {
            if r == ancestor {
                return true;
            }
            match self.regions[r].parent {
                Some(p) => r = p,
                None => return false,
            }
        }
    }

    /// Live direct sub-regions of `r`.
    fn subregions(&self, r: usize) -> Vec<usize> {
        (0..self.regions.len())
            .filter(|&c| self.regions[c].alive && self.regions[c].parent == Some(r))
            .collect()
    }

    /// Whether `[start, end)` holds no child (sub-region or mapping) of `r`.
    fn is_free(&self, r: usize, start: u64, end: u64) -> bool {
        let sub = self.subregions(r).into_iter().any(|c| {
            let c = &self.regions[c];
            c.base < end && start < c.end()
        });
        let mapped = self.pages.range(start..end).any(|(_, p)| p.region == r);
        !sub && !mapped
    }

    /// The crate's placement rules, in Zircon's order (see the kernel's
    /// `Placement`).
    fn place(&self, r: usize, placement: ops::Placement, len: u64) -> Result<Place, Status> {
        let reg = &self.regions[r];
        if len == 0 {
            return Err(Status::InvalidArgs);
        }
        match placement {
            ops::Placement::Specific { offset, align } => {
                if !aligned(offset) {
                    return Err(Status::InvalidArgs);
                }
                if !reg.can_map_specific {
                    return Err(Status::AccessDenied);
                }
                if offset >= reg.size || len > reg.size - offset {
                    return Err(Status::InvalidArgs);
                }
                let base = reg.base + offset;
                if !base.is_multiple_of(align.max(PAGE_SIZE)) {
                    return Err(Status::InvalidArgs);
                }
                Ok(Place::Specific { base })
            }
            ops::Placement::UpperLimit { align, limit } => {
                if !aligned(limit) {
                    return Err(Status::InvalidArgs);
                }
                if !reg.can_map_specific {
                    return Err(Status::AccessDenied);
                }
                if limit > reg.size || len > limit {
                    return Err(Status::InvalidArgs);
                }
                Ok(Place::Anywhere {
                    align: align.max(PAGE_SIZE),
                    end: reg.base + limit,
                })
            }
            ops::Placement::Anywhere { align } => Ok(Place::Anywhere {
                align: align.max(PAGE_SIZE),
                end: reg.end(),
            }),
        }
    }

    /// Whether the kernel's choice `base` satisfies `place` for `len`
    /// bytes in `r`, or (`base` = `None`) no spot exists.
    fn check_spot(&self, r: usize, place: Place, len: u64, base: u64) -> Result<(), Mismatch> {
        let ok = match place {
            Place::Specific { base: want } => base == want,
            Place::Anywhere { align, end } => {
                base.is_multiple_of(align)
                    && base >= self.regions[r].base
                    && base.checked_add(len).is_some_and(|e| e <= end)
            }
        };
        if !ok || !self.is_free(r, base, base + len) {
            return Err(format!(
                "placed at {base:#x}+{len:#x}, not allowed by {place:?}"
            ));
        }
        Ok(())
    }

    /// Whether some spot exists for an anywhere placement (first fit).
    fn spot_exists(&self, r: usize, place: Place, len: u64) -> bool {
        let Place::Anywhere { align, end } = place else {
            return true;
        };
        let reg = &self.regions[r];
        // Candidate bases: the region base and every child's end, aligned.
        let mut starts: BTreeSet<u64> = BTreeSet::new();
        starts.insert(reg.base);
        for c in self.subregions(r) {
            starts.insert(self.regions[c].end());
        }
        for (va, p) in &self.pages {
            if p.region == r {
                starts.insert(va + PAGE_SIZE);
            }
        }
        starts.into_iter().any(|s| {
            let Some(b) = s.checked_add(align - 1).map(|v| v & !(align - 1)) else {
                return false;
            };
            b.checked_add(len)
                .is_some_and(|e| e <= end && self.is_free(r, b, e))
        })
    }

    /// Removes pages of `r`'s own mappings in `[start, end)`.
    fn unmap_pages(&mut self, r: usize, start: u64, end: u64) {
        let gone: Vec<u64> = self
            .pages
            .range(start..end)
            .filter(|(_, p)| p.region == r)
            .map(|(va, _)| *va)
            .collect();
        for va in gone {
            self.pages.remove(&va);
        }
    }

    /// Destroys `r` and everything below it.
    fn destroy_region(&mut self, r: usize) {
        let (base, end) = (self.regions[r].base, self.regions[r].end());
        for i in 0..self.regions.len() {
            if self.regions[i].alive && self.within(i, r) {
                self.regions[i].alive = false;
            }
        }
        let gone: Vec<u64> = self.pages.range(base..end).map(|(va, _)| *va).collect();
        for va in gone {
            self.pages.remove(&va);
        }
    }
}

mod ops;
mod vmos;
pub use ops::{Touch, TouchResult};
pub use vmos::Chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_refuses_zero_length() {
        let m = Model::new(0x1000_0000, 64 * PAGE_SIZE, 3, Rights::DEFAULT_VMAR, 1);
        let any = ops::Placement::Anywhere { align: PAGE_SIZE };
        assert_eq!(m.place(0, any, 0).err(), Some(Status::InvalidArgs));
        assert!(m.is_free(0, 0x1000_0000, 0x1000_0000 + PAGE_SIZE));
    }

    #[test]
    fn spot_search_honours_alignment_and_limit() {
        let m = Model::new(0x1000_0000, 4 * PAGE_SIZE, 3, Rights::DEFAULT_VMAR, 1);
        let upper = |limit| ops::Placement::UpperLimit {
            align: PAGE_SIZE,
            limit,
        };
        let p = m.place(0, upper(2 * PAGE_SIZE), PAGE_SIZE);
        assert!(m.spot_exists(0, p.unwrap(), PAGE_SIZE));
        // An upper limit below the size is refused outright.
        assert_eq!(
            m.place(0, upper(PAGE_SIZE), 2 * PAGE_SIZE).err(),
            Some(Status::InvalidArgs)
        );
        let big = ops::Placement::Anywhere {
            align: 8 * PAGE_SIZE,
        };
        let p = m.place(0, big, 4 * PAGE_SIZE).unwrap();
        assert!(m.spot_exists(0, p, 4 * PAGE_SIZE));
        let p = m.place(0, big, 5 * PAGE_SIZE).unwrap();
        assert!(!m.spot_exists(0, p, 5 * PAGE_SIZE));
    }
}

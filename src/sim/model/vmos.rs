//! The model's VMOs: `zx_vmo_create`, `_read`, `_write`, `_set_size` and
//! `_create_child`.
//!
//! A slice has no bytes of its own: every access goes to its parent at an
//! offset ([`Model::backing`]). A snapshot child — `SNAPSHOT`, and
//! `SNAPSHOT_AT_LEAST_ON_WRITE` of anything not reached through a slice,
//! as the crate (and Zircon, for anonymous memory) makes it — starts as a
//! copy of its parent's bytes in its range, and the two never see each
//! other's writes again. An `SNAPSHOT_AT_LEAST_ON_WRITE` child through a
//! slice may see its parent's later writes until it writes a page itself,
//! which the contract allows and the model does not try to predict: reads
//! of such a VMO ([`VmoState::fuzzy`]) are not compared, their statuses
//! are.

use std::collections::BTreeMap;
use std::format;

use crate::abi::{
    Rights, Status, ZX_VMO_CHILD_NO_WRITE, ZX_VMO_CHILD_REFERENCE, ZX_VMO_CHILD_RESIZABLE,
    ZX_VMO_CHILD_SLICE, ZX_VMO_CHILD_SNAPSHOT, ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE,
    ZX_VMO_CHILD_SNAPSHOT_MODIFIED, ZX_VMO_RESIZABLE,
};
use crate::vm::MAX_VMO_SIZE;

use super::{HandleInfo, Mismatch, Model, Object, Outcome, VmoState, agree, aligned, round_up};

/// What lies between a VMO and the root of its tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Chain {
    /// Only snapshot children (or nothing): a snapshot of it is a true one.
    #[default]
    Bidirectional,
    /// A slice on the way: `SNAPSHOT` is refused, at-least-on-write
    /// children are unidirectional.
    ThroughSlice,
    /// A unidirectional child on the way: `SNAPSHOT` is refused before the
    /// root-offset check.
    Unidirectional,
}

/// A child kind the crate supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Slice,
    Snapshot,
    AtLeastOnWrite,
}

/// `CreateChildInternal`'s reading of the options (see the crate's
/// `syscall::vm::child_kind`).
fn decode(options: u32) -> Result<(Kind, bool), Status> {
    let no_write = options & ZX_VMO_CHILD_NO_WRITE != 0;
    let mut rest = options & !ZX_VMO_CHILD_NO_WRITE;
    if rest & ZX_VMO_CHILD_SLICE != 0 {
        if rest != ZX_VMO_CHILD_SLICE {
            return Err(Status::InvalidArgs);
        }
        return if no_write {
            Err(Status::NotSupported)
        } else {
            Ok((Kind::Slice, false))
        };
    }
    if rest & ZX_VMO_CHILD_REFERENCE != 0 {
        if rest & !(ZX_VMO_CHILD_REFERENCE | ZX_VMO_CHILD_RESIZABLE) != 0 {
            return Err(Status::InvalidArgs);
        }
        return Err(Status::NotSupported);
    }
    let kind = [
        (ZX_VMO_CHILD_SNAPSHOT, Some(Kind::Snapshot)),
        (
            ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE,
            Some(Kind::AtLeastOnWrite),
        ),
        (ZX_VMO_CHILD_SNAPSHOT_MODIFIED, None),
    ]
    .into_iter()
    .find(|(bit, _)| rest & bit != 0)
    .ok_or(Status::InvalidArgs)?;
    rest &= !kind.0;
    let resizable = rest & ZX_VMO_CHILD_RESIZABLE != 0;
    if rest & !ZX_VMO_CHILD_RESIZABLE != 0 {
        return Err(Status::InvalidArgs);
    }
    match kind.1 {
        Some(k) if !no_write => Ok((k, resizable)),
        _ => Err(Status::NotSupported),
    }
}

impl Model {
    /// The VMO and offset that hold byte `offset` of VMO `v` (through
    /// slices).
    pub fn backing(&self, mut v: usize, mut offset: u64) -> (usize, u64) {
        while let Some((parent, at)) = self.vmos[v].slice_of {
            offset += at;
            v = parent;
        }
        (v, offset)
    }

    /// The byte at `offset` of VMO `v`, or `None` if the model cannot know
    /// it (an at-least-on-write child of a slice).
    pub fn byte(&self, v: usize, offset: u64) -> Option<u8> {
        let (owner, at) = self.backing(v, offset);
        let vmo = &self.vmos[owner];
        (!vmo.fuzzy).then(|| vmo.data.get(&at).copied().unwrap_or(0))
    }

    /// Whether VMO `v`'s tree ever had a copy-on-write child, so that a
    /// writable mapping of it may translate read-only until written.
    pub fn may_share(&self, v: usize) -> bool {
        self.cow_trees.contains(&self.vmos[v].tree)
    }

    /// `zx_vmo_create(size, options)`; `actual` is the new handle and the
    /// VMO's koid.
    pub fn vmo_create(
        &mut self,
        size: u64,
        options: u32,
        actual: Outcome<(u32, u64)>,
    ) -> Result<(), Mismatch> {
        let predicted = (|| {
            const KNOWN: u32 = ZX_VMO_RESIZABLE | (1 << 2) | (1 << 4);
            if options & !KNOWN != 0 {
                return Err(Status::InvalidArgs);
            }
            if options & ZX_VMO_RESIZABLE != 0 && options & (1 << 4) != 0 {
                return Err(Status::InvalidArgs);
            }
            if options & !ZX_VMO_RESIZABLE != 0 {
                return Err(Status::NotSupported);
            }
            round_up(size)
                .filter(|s| *s <= MAX_VMO_SIZE)
                .ok_or(Status::OutOfRange)
        })();
        let Some((size, (h, koid))) = agree("vmo_create", predicted, actual, true)? else {
            return Ok(());
        };
        let resizable = options & ZX_VMO_RESIZABLE != 0;
        let tree = self.vmos.len();
        self.vmos.push(VmoState {
            size,
            resizable,
            koid,
            tree,
            ..VmoState::default()
        });
        let mut rights = Rights::DEFAULT_VMO;
        if resizable {
            rights |= Rights::RESIZE;
        }
        self.add_handle(
            h,
            HandleInfo {
                object: Object::Vmo(tree),
                rights,
            },
        )
    }

    /// `zx_vmo_create_child(h, options, offset, size)`, in the crate's
    /// (Zircon's) order; `actual` is the new handle and the child's koid.
    pub fn vmo_create_child(
        &mut self,
        h: u32,
        options: u32,
        offset: u64,
        size: u64,
        actual: Outcome<(u32, u64)>,
    ) -> Result<(), Mismatch> {
        let predicted = (|| {
            let size = round_up(size)
                .filter(|s| *s <= MAX_VMO_SIZE)
                .ok_or(Status::OutOfRange)?;
            if options & ZX_VMO_CHILD_NO_WRITE != 0 && options & ZX_VMO_CHILD_RESIZABLE != 0 {
                return Err(Status::InvalidArgs);
            }
            let (v, rights) = self.vmo(h, Rights::DUPLICATE | Rights::READ)?;
            let (kind, resizable) = decode(options)?;
            if !aligned(offset) {
                return Err(Status::InvalidArgs);
            }
            let parent = &self.vmos[v];
            let chain = match kind {
                Kind::Slice => {
                    if offset.checked_add(size).is_none_or(|e| e > parent.size) {
                        return Err(Status::InvalidArgs);
                    }
                    if parent.resizable {
                        return Err(Status::NotSupported);
                    }
                    if parent.chain == Chain::Unidirectional {
                        Chain::Unidirectional
                    } else {
                        Chain::ThroughSlice
                    }
                }
                _ => {
                    parent
                        .slice_offset
                        .checked_add(offset)
                        .and_then(|o| o.checked_add(size))
                        .ok_or(Status::OutOfRange)?;
                    if kind == Kind::Snapshot && parent.chain == Chain::Unidirectional {
                        return Err(Status::NotSupported);
                    }
                    parent
                        .root_offset
                        .checked_add(offset)
                        .and_then(|o| o.checked_add(size))
                        .ok_or(Status::InvalidArgs)?;
                    match (kind, parent.chain) {
                        (_, Chain::Bidirectional) => Chain::Bidirectional,
                        (Kind::Snapshot, _) => return Err(Status::NotSupported),
                        _ => Chain::Unidirectional,
                    }
                }
            };
            Ok((v, rights, kind, resizable, size, chain))
        })();
        let Some(((v, rights, kind, resizable, size, chain), (child, koid))) =
            agree("vmo_create_child", predicted, actual, true)?
        else {
            return Ok(());
        };
        let parent = &self.vmos[v];
        let mut state = VmoState {
            size,
            resizable,
            koid,
            chain,
            tree: parent.tree,
            root_offset: parent.root_offset + offset,
            ..VmoState::default()
        };
        match kind {
            Kind::Slice => {
                state.slice_of = Some((v, offset));
                state.slice_offset = offset + parent.slice_of.map_or(0, |_| parent.slice_offset);
            }
            _ if chain == Chain::Unidirectional => state.fuzzy = true,
            _ => {
                let end = offset.saturating_add(size).min(parent.size);
                state.data = if offset < end {
                    parent
                        .data
                        .range(offset..end)
                        .map(|(o, b)| (o - offset, *b))
                        .collect()
                } else {
                    BTreeMap::new()
                };
            }
        }
        if kind != Kind::Slice {
            self.cow_trees.insert(state.tree);
        }
        let mut child_rights = (rights - Rights::RESIZE) | Rights::PROPERTY;
        if resizable {
            child_rights |= Rights::RESIZE;
        }
        if kind != Kind::Slice {
            child_rights = (child_rights - Rights::EXECUTE) | Rights::WRITE;
        }
        self.vmos.push(state);
        self.add_handle(
            child,
            HandleInfo {
                object: Object::Vmo(self.vmos.len() - 1),
                rights: child_rights,
            },
        )
    }

    /// `zx_vmo_read` of one byte at `offset`; `actual` is the byte.
    pub fn vmo_read(&mut self, h: u32, offset: u64, actual: Outcome<u8>) -> Result<(), Mismatch> {
        let predicted = self.vmo(h, Rights::READ).and_then(|(v, _)| {
            if offset.checked_add(1).is_none_or(|e| e > self.vmos[v].size) {
                return Err(Status::OutOfRange);
            }
            Ok(self.byte(v, offset))
        });
        if let Some((Some(want), got)) = agree("vmo_read", predicted, actual, false)?
            && want != got
        {
            return Err(format!(
                "vmo_read at {offset:#x}: model {want}, kernel {got}"
            ));
        }
        Ok(())
    }

    /// `zx_vmo_write` of one byte `value` at `offset`.
    pub fn vmo_write(
        &mut self,
        h: u32,
        offset: u64,
        value: u8,
        actual: Outcome<()>,
    ) -> Result<(), Mismatch> {
        let predicted = self.vmo(h, Rights::WRITE).and_then(|(v, _)| {
            if offset.checked_add(1).is_none_or(|e| e > self.vmos[v].size) {
                return Err(Status::OutOfRange);
            }
            Ok(v)
        });
        if let Some((v, ())) = agree("vmo_write", predicted, actual, true)? {
            let (owner, at) = self.backing(v, offset);
            self.vmos[owner].data.insert(at, value);
        }
        Ok(())
    }

    /// `zx_vmo_set_size`.
    pub fn vmo_set_size(&mut self, h: u32, size: u64, actual: Outcome<()>) -> Result<(), Mismatch> {
        let predicted = self.vmo(h, Rights::WRITE).and_then(|(v, rights)| {
            if !self.vmos[v].resizable {
                return Err(Status::Unavailable);
            }
            if !rights.contains(Rights::RESIZE) {
                return Err(Status::AccessDenied);
            }
            let size = round_up(size)
                .filter(|s| *s <= MAX_VMO_SIZE)
                .ok_or(Status::OutOfRange)?;
            self.vmos[v]
                .root_offset
                .checked_add(size)
                .ok_or(Status::InvalidArgs)?;
            Ok((v, size))
        });
        if let Some(((v, size), ())) = agree("vmo_set_size", predicted, actual, true)? {
            // A resizable VMO has no slices (they are refused), so nothing
            // else shows these bytes.
            let vmo = &mut self.vmos[v];
            vmo.size = size;
            vmo.data.retain(|o, _| *o < size);
        }
        Ok(())
    }
}

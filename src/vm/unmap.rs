//! Unmapping, destroying VMARs, and user copies.

use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::heap::Reserve;
use crate::mmu::{FrameReserve, MmuFlags, TlbBatch};
use crate::platform::{PAGE_SIZE, Platform};
use crate::trap::Access;

use super::aspace::AddressSpace;
use super::region::{Child, Tree};
use super::slab::SlabId;
use super::vmo::Link;

/// What an unmap may do to sub-VMARs in its range (Zircon's
/// `UnmapInternal`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Mappings only: any sub-VMAR in the range is `INVALID_ARGS`
    /// (`zx_vmar_unmap` without `OP_CHILDREN`, and `SPECIFIC_OVERWRITE`).
    MappingsOnly,
    /// `zx_vmar_unmap` with `OP_CHILDREN`: sub-VMARs wholly inside the range
    /// are destroyed; one only partly inside is `INVALID_ARGS`.
    DestroyWholeSubregions,
}

impl<P: Platform> AddressSpace<P> {
    /// `zx_vmar_unmap` on region `region`.
    ///
    /// # Errors
    ///
    /// `BAD_STATE` (destroyed), `INVALID_ARGS` (range outside the region or
    /// overflowing, a sub-VMAR in the range that `reach` does not allow),
    /// `NO_MEMORY`.
    pub(crate) fn unmap(&self, region: SlabId, base: u64, len: u64, reach: Reach) -> Result<()> {
        let mut tree = self.tree.lock();
        let r = tree.region(region)?;
        if base < r.base || base.checked_add(len).is_none_or(|e| e > r.end()) {
            return Err(Error::InvalidArgs("range outside the VMAR"));
        }
        let mut batch = self.new_batch();
        let result = self.unmap_locked(&mut tree, region, base, len, reach, &mut batch);
        drop(tree);
        self.flush(batch);
        result
    }

    /// Checks, then removes, everything in `[base, base + len)` of `region`.
    pub(super) fn unmap_locked(
        &self,
        tree: &mut Tree<P>,
        region: SlabId,
        base: u64,
        len: u64,
        reach: Reach,
        batch: &mut TlbBatch,
    ) -> Result<()> {
        let (start, stop) = (base, base + len);
        // Check pass: collect what to do, change nothing.
        let mut mappings = Vec::new();
        let mut regions = Vec::new();
        let mut splits = 0usize;
        let r = tree.region(region)?;
        let lower = r
            .children
            .range(..start)
            .next_back()
            .filter(|(_, c)| tree.child_end(**c) > start)
            .map_or(start, |(b, _)| *b);
        for (child_base, child) in r.children.range(lower..stop) {
            let child_end = tree.child_end(*child);
            match *child {
                Child::Mapping(m) => {
                    if *child_base < start && child_end > stop {
                        splits += 1;
                    }
                    mappings.reserve_fallibly(1)?;
                    mappings.push(m);
                }
                Child::Region(sub) => {
                    let whole = *child_base >= start && child_end <= stop;
                    if reach == Reach::MappingsOnly || !whole {
                        return Err(Error::InvalidArgs(
                            "range covers a sub-VMAR (partly, or without OP_CHILDREN)",
                        ));
                    }
                    regions.reserve_fallibly(1)?;
                    regions.push(sub);
                }
            }
        }
        tree.mappings.reserve(splits)?;
        // Apply pass.
        for m in mappings {
            self.unmap_mapping_range(tree, m, start, stop, batch)?;
        }
        for r in regions {
            self.destroy_locked(tree, r, batch);
        }
        Ok(())
    }

    /// Removes `[start, stop)` from mapping `id`: trims it, splits it in two,
    /// or removes it.
    fn unmap_mapping_range(
        &self,
        tree: &mut Tree<P>,
        id: SlabId,
        start: u64,
        stop: u64,
        batch: &mut TlbBatch,
    ) -> Result<()> {
        let Some(m) = tree.mappings.get(id) else {
            return Ok(());
        };
        let (mb, me, parent) = (m.base, m.end(), m.parent);
        let (lo, hi) = (start.max(mb), stop.min(me));
        if lo >= hi {
            return Ok(());
        }
        {
            let mut pt = self.page_table.lock();
            let mut none = FrameReserve::empty(self.platform());
            pt.unmap(lo, hi - lo, batch, &mut none)?;
        }
        let key = (self.id(), id);
        if lo == mb && hi == me {
            if let Some(r) = tree.regions.get_mut(parent) {
                r.children.remove(&mb);
            }
            if let Some(m) = tree.mappings.remove(id) {
                m.vmo.set_link(key, None);
            }
            return Ok(());
        }
        let tail = if lo > mb && hi < me {
            let m = tree
                .mappings
                .get(id)
                .ok_or(Error::BadState("mapping gone"))?;
            Some(super::region::Mapping {
                base: hi,
                size: me - hi,
                parent,
                vmo: m.vmo.clone(),
                vmo_offset: m.offset_of(hi),
                max: m.max,
                prot: m.prot.slice(hi, me, me),
            })
        } else {
            None
        };
        let m = tree
            .mappings
            .get_mut(id)
            .ok_or(Error::BadState("mapping gone"))?;
        let (new_base, new_end) = if lo == mb { (hi, me) } else { (mb, lo) };
        m.prot = m.prot.slice(new_base, new_end, me);
        m.vmo_offset = m.offset_of(new_base);
        m.base = new_base;
        m.size = new_end - new_base;
        let link = Link {
            aspace: self.weak(),
            base: m.base,
            offset: m.vmo_offset,
            len: m.size,
        };
        m.vmo.set_link(key, Some(link));
        if new_base != mb
            && let Some(r) = tree.regions.get_mut(parent)
        {
            r.children.remove(&mb);
            r.children.insert(new_base, Child::Mapping(id));
        }
        if let Some(tail) = tail {
            let link = Link {
                aspace: self.weak(),
                base: tail.base,
                offset: tail.vmo_offset,
                len: tail.size,
            };
            let vmo = tail.vmo.clone();
            let tail_base = tail.base;
            let tid = tree.mappings.insert(tail)?;
            if let Some(r) = tree.regions.get_mut(parent) {
                r.children.insert(tail_base, Child::Mapping(tid));
            }
            vmo.set_link((self.id(), tid), Some(link));
        }
        Ok(())
    }

    /// `zx_vmar_destroy`: unmaps everything in `region`, destroys its
    /// sub-regions, and makes every handle to them report `BAD_STATE`.
    ///
    /// # Errors
    ///
    /// `BAD_STATE` if already destroyed.
    pub(crate) fn destroy(&self, region: SlabId) -> Result<()> {
        let mut tree = self.tree.lock();
        tree.region(region)?;
        let mut batch = self.new_batch();
        self.destroy_locked(&mut tree, region, &mut batch);
        drop(tree);
        self.flush(batch);
        Ok(())
    }

    /// Removes `region` and everything under it (iteratively).
    pub(super) fn destroy_locked(&self, tree: &mut Tree<P>, region: SlabId, batch: &mut TlbBatch) {
        if let Some(parent) = tree.regions.get(region).and_then(|r| r.parent) {
            let base = tree.regions.get(region).map_or(0, |r| r.base);
            if let Some(p) = tree.regions.get_mut(parent) {
                p.children.remove(&base);
            }
        }
        if tree.root == Some(region) {
            tree.root = None;
        }
        let mut work = alloc::vec![region];
        while let Some(rid) = work.pop() {
            let Some(r) = tree.regions.remove(rid) else {
                continue;
            };
            for child in r.children.into_values() {
                match child {
                    Child::Region(sub) => work.push(sub),
                    Child::Mapping(m) => {
                        if let Some(m) = tree.mappings.remove(m) {
                            let mut pt = self.page_table.lock();
                            let mut none = FrameReserve::empty(self.platform());
                            let _ = pt.unmap(m.base, m.size, batch, &mut none);
                            drop(pt);
                            m.vmo.set_link((self.id(), child_id(child)), None);
                        }
                    }
                }
            }
        }
    }

    /// Destroys the root VMAR: the host calls this (through
    /// [`Process::terminate`](crate::object::Process::terminate)) when the
    /// process exits.
    pub fn teardown(&self) {
        let root = self.tree.lock().root;
        if let Some(root) = root {
            let _ = self.destroy(root);
        }
    }

    /// Copies `buf` to user address `va`, as a user-mode write would: every
    /// byte must be in a mapping whose protection allows writing.
    ///
    /// # Errors
    ///
    /// The status an unresolvable user-mode fault would report (nothing is
    /// rolled back: bytes before the bad one may have been written):
    /// `NOT_FOUND` (nothing mapped, or the range wraps), `ACCESS_DENIED`
    /// (the protection forbids writing), `OUT_OF_RANGE` (beyond the mapped
    /// VMO's end), `NO_MEMORY` (a page cannot be committed). Syscalls turn
    /// these into `INVALID_ARGS` for their out-parameters, as Zircon's
    /// syscall glue does.
    pub fn copy_to_user(&self, va: u64, buf: &[u8]) -> Result<()> {
        self.user_copy(va, buf.len(), Access::Write, |mem, in_page, done, n| {
            mem.map(|m| m.write(in_page, &buf[done..done + n]));
        })
    }

    /// Copies from user address `va` into `buf`, as a user-mode read would.
    ///
    /// # Errors
    ///
    /// As [`copy_to_user`](AddressSpace::copy_to_user), for reading.
    pub fn copy_from_user(&self, va: u64, buf: &mut [u8]) -> Result<()> {
        if self.read_translated(va, buf) {
            return Ok(());
        }
        let len = buf.len();
        self.user_copy(va, len, Access::Read, |mem, in_page, done, n| match mem {
            Some(m) => {
                m.read(in_page, &mut buf[done..done + n]);
            }
            None => buf[done..done + n].fill(0),
        })
    }

    /// The fast path of [`copy_from_user`](AddressSpace::copy_from_user)
    /// for a read within one page that the tables already map readable to
    /// user mode: the bytes come straight from the frame, under the
    /// page-table lock, without the VMAR tree or the VMO (a syscall's
    /// futex word, a small in-parameter). `false` (nothing read) sends the
    /// caller down the full path, which also faults pages in.
    fn read_translated(&self, va: u64, buf: &mut [u8]) -> bool {
        let in_page = (va % PAGE_SIZE) as usize;
        if buf.is_empty() || in_page + buf.len() > PAGE_SIZE as usize || !self.contains(va) {
            return false;
        }
        let pt = self.page_table.lock();
        let Some(t) = pt.query(va) else {
            return false;
        };
        if !t.flags.contains(MmuFlags::READ | MmuFlags::USER) {
            return false;
        }
        // SAFETY: a user translation points at a page its VMO committed,
        // and a VMO removes every translation of a page (under this lock,
        // `unmap_translations`) before the frame can be freed; we hold the
        // lock for the whole read, which is atomic (FrameMem).
        let mem = unsafe { crate::mmu::FrameMem::new(self.platform(), t.pa) };
        mem.read(in_page, buf);
        true
    }

    fn user_copy(
        &self,
        va: u64,
        len: usize,
        access: Access,
        mut f: impl FnMut(Option<crate::mmu::FrameMem<'_>>, usize, usize, usize),
    ) -> Result<()> {
        const UNMAPPED: Error = Error::NotFound("no mapping at the user address");
        va.checked_add(len as u64).ok_or(UNMAPPED)?;
        let mut done = 0usize;
        while done < len {
            let at = va + done as u64;
            let in_page = (at % PAGE_SIZE) as usize;
            let n = (PAGE_SIZE as usize - in_page).min(len - done);
            let tree = self.tree.lock();
            let m = tree
                .mapping_at(at)
                .and_then(|id| tree.mappings.get(id))
                .ok_or(UNMAPPED)?;
            if !m.prot.at(at).allows(access) {
                return Err(Error::AccessDenied("protection forbids the access"));
            }
            let offset = m.offset_of(at);
            m.vmo.with_page(offset, access == Access::Write, |mem| {
                f(mem, in_page, done, n)
            })?;
            drop(tree);
            done += n;
        }
        Ok(())
    }
}

fn child_id(child: Child) -> SlabId {
    match child {
        Child::Region(id) | Child::Mapping(id) => id,
    }
}

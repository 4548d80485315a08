//! The invariants [`Harness::check`] verifies after every step (see the
//! [driver](super)'s module docs), and the structural checks the fuzz
//! targets and the stress test share: [`check_layout`],
//! [`check_translations_within`].

use std::collections::BTreeMap;
use std::format;
use std::vec::Vec;

use crate::arch::Arch;
use crate::mmu::Asid;
use crate::platform::{PAGE_SIZE, PhysAddr};
use crate::sim::Sim;
use crate::vm::inspect::{Layout, LayoutChild};
use crate::vm::{Perms, Vmo};

use super::{Harness, Mismatch, Object, WINDOW_PAGES};

/// A translation of a frame: the VMO page behind it (through slices), as
/// (model VMO index, offset); whether it is writable; whether that VMO's
/// bytes are unpredictable (it may share its parent's frames).
type FrameUser = ((usize, u64), bool, bool);

impl<A: Arch> Harness<A> {
    /// Checks every invariant (see the module docs).
    ///
    /// # Errors
    ///
    /// The first broken one, described.
    pub fn check(&self) -> Result<(), Mismatch> {
        self.check_handles()?;
        let layout = self.window_aspace.layout();
        check_layout(&layout)?;
        self.compare_layout(&layout)?;
        self.check_translations()?;
        self.check_trees()?;
        self.window_aspace
            .audit_views(u64::MAX)
            .map_err(|e| format!("translation and VMO disagree: {e}"))
    }

    /// Every VMO tree a handle names is well-formed and keeps no page that
    /// no VMO can see ([`Vmo::audit_tree`]).
    fn check_trees(&self) -> Result<(), Mismatch> {
        for (&h, info) in &self.model.handles {
            if let Object::Vmo(_) = info.object {
                let (vmo, _) = self
                    .process
                    .get_object::<Vmo<Sim<A>>>(h, crate::abi::Rights::empty())
                    .map_err(|e| format!("VMO handle {h:#x}: {e}"))?;
                vmo.audit_tree()
                    .map_err(|e| format!("VMO tree of {h:#x}: {e}"))?;
            }
        }
        Ok(())
    }

    fn check_handles(&self) -> Result<(), Mismatch> {
        let live = self.process.with_handles(|t| t.len());
        if live != self.model.handles.len() {
            return Err(format!(
                "kernel holds {live} handles, model {}",
                self.model.handles.len()
            ));
        }
        for (&h, info) in &self.model.handles {
            let got = self
                .info(h)
                .map_err(|s| format!("get_info({h:#x}): {s:?}"))?;
            let (koid, ty) = match info.object {
                Object::Vmar(r) => (self.model.regions[r].koid, 2),
                Object::Vmo(v) => (self.model.vmos[v].koid, 3),
            };
            let ty = if ty == 2 {
                crate::abi::ObjectType::Vmar
            } else {
                crate::abi::ObjectType::Vmo
            };
            if got.rights != info.rights.bits() || got.koid != koid || got.type_ != ty.into_raw() {
                return Err(format!(
                    "handle {h:#x}: kernel rights {:#x} koid {} type {}, model {:#x} {koid} {:?}",
                    got.rights,
                    got.koid,
                    got.type_,
                    info.rights.bits(),
                    ty
                ));
            }
        }
        Ok(())
    }

    fn compare_layout(&self, layout: &Layout) -> Result<(), Mismatch> {
        type RegionKey = (u64, u64, u64, u32, bool);
        let top_koid = self.model.regions[0].koid;
        let top = layout.regions.iter().position(|r| r.koid == top_koid);
        // Kernel regions and pages under the window.
        let mut got_regions: Vec<RegionKey> = Vec::new();
        let mut got_pages = BTreeMap::new();
        if let Some(top) = top {
            let under = |mut i: usize| loop {
                if i == top {
                    return true;
                }
                match layout.regions[i].parent {
                    Some(p) => i = p,
                    None => return false,
                }
            };
            for (i, r) in layout.regions.iter().enumerate() {
                if under(i) {
                    got_regions.push((
                        r.koid,
                        r.base,
                        r.size,
                        r.can_map.bits(),
                        r.can_map_specific,
                    ));
                }
            }
            for m in &layout.mappings {
                if !under(m.region) {
                    continue;
                }
                for (lo, hi, prot) in &m.prot {
                    let mut va = *lo;
                    while va < *hi {
                        let key = (
                            layout.regions[m.region].koid,
                            m.vmo_koid,
                            m.vmo_offset + (va - m.base),
                            m.max,
                            *prot,
                        );
                        got_pages.insert(va, key);
                        va += PAGE_SIZE;
                    }
                }
            }
        }
        let mut want_regions: Vec<RegionKey> = self
            .model
            .live_regions()
            .map(|(_, r)| (r.koid, r.base, r.size, r.can_map.bits(), r.can_map_specific))
            .collect();
        got_regions.sort();
        want_regions.sort();
        if got_regions != want_regions {
            return Err(format!(
                "regions: kernel {got_regions:x?}, model {want_regions:x?}"
            ));
        }
        let want_pages: BTreeMap<u64, _> = self
            .model
            .pages
            .iter()
            .map(|(va, p)| {
                let key = (
                    self.model.regions[p.region].koid,
                    self.model.vmos[p.vmo].koid,
                    p.vmo_offset,
                    p.max,
                    p.prot,
                );
                (*va, key)
            })
            .collect();
        if got_pages != want_pages {
            let diff = want_pages
                .iter()
                .find(|(va, k)| got_pages.get(*va) != Some(*k))
                .map(|(va, k)| (*va, Some(*k), got_pages.get(va).copied()))
                .or_else(|| {
                    got_pages
                        .iter()
                        .find(|(va, _)| !want_pages.contains_key(*va))
                        .map(|(va, k)| (*va, None, Some(*k)))
                });
            return Err(format!(
                "mapped pages differ: (va, model, kernel) {diff:x?}"
            ));
        }
        Ok(())
    }

    fn check_translations(&self) -> Result<(), Mismatch> {
        if self.views.len() > 1 {
            // The restricted root sees nothing of the shared region.
            let (root, _) = self.views[0];
            if let Some(e) = self.sim.table_entry(root, self.scratch) {
                return Err(format!(
                    "the restricted root translates the shared scratch page: {e:?}"
                ));
            }
        }
        for &(root, asid) in &self.views {
            self.check_translations_of(root, asid)?;
        }
        Ok(())
    }

    fn check_translations_of(&self, root: PhysAddr, asid: Asid) -> Result<(), Mismatch> {
        // The frame each backing VMO byte range (through slices) shows.
        let mut frames: BTreeMap<(usize, u64), PhysAddr> = BTreeMap::new();
        // Who translates each frame: (backing page, writable, fuzzy).
        let mut users: BTreeMap<PhysAddr, Vec<FrameUser>> = BTreeMap::new();
        for i in 0..WINDOW_PAGES {
            let va = self.window + i * PAGE_SIZE;
            if self.sim.tlb_stale(root, asid, va) {
                return Err(format!("stale TLB entry for {va:#x}"));
            }
            let Some(e) = self.sim.table_entry(root, va) else {
                continue;
            };
            let Some(p) = self.model.pages.get(&va) else {
                return Err(format!("{va:#x} translates but nothing is mapped: {e:?}"));
            };
            let vmo = &self.model.vmos[p.vmo];
            if p.vmo_offset >= vmo.size {
                return Err(format!("{va:#x} translates beyond its VMO's end"));
            }
            let want_write = p.prot.contains(Perms::WRITE);
            let write_ok = e.write == want_write || (want_write && self.model.may_share(p.vmo));
            if e.read != p.prot.contains(Perms::READ)
                || !write_ok
                || e.execute != p.prot.contains(Perms::EXECUTE)
            {
                return Err(format!(
                    "{va:#x}: page table gives r/w/x {:?}, protection is {:?}",
                    (e.read, e.write, e.execute),
                    p.prot
                ));
            }
            if !self.sim.owns_frame(e.pa) {
                return Err(format!(
                    "{va:#x} translates to a freed frame {:#x}",
                    e.pa.as_u64()
                ));
            }
            let page = PhysAddr::new(e.pa.as_u64() & !(PAGE_SIZE - 1));
            let backing = self.model.backing(p.vmo, p.vmo_offset);
            if let Some(prev) = frames.insert(backing, page)
                && prev != page
            {
                return Err(format!(
                    "VMO {} offset {:#x} is mapped to two frames",
                    vmo.koid, p.vmo_offset
                ));
            }
            let fuzzy = self.model.vmos[backing.0].fuzzy;
            users
                .entry(page)
                .or_default()
                .push((backing, e.write, fuzzy));
        }
        for (frame, who) in &users {
            for (key, writable, _) in who.iter().filter(|w| w.1) {
                if let Some(other) = who.iter().find(|o| o.0 != *key && !o.2) {
                    return Err(format!(
                        "frame {:#x} is writable for VMO {} page {:#x} (writable {writable}) \
                         and translated for VMO {} page {:#x} too",
                        frame.as_u64(),
                        self.model.vmos[key.0].koid,
                        key.1,
                        self.model.vmos[other.0.0].koid,
                        other.0.1
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The VMAR tree's structural invariants.
///
/// # Errors
///
/// The first broken one, described.
pub fn check_layout(layout: &Layout) -> Result<(), Mismatch> {
    if layout.stored_regions != layout.regions.len()
        || layout.stored_mappings != layout.mappings.len()
    {
        return Err(format!(
            "unreachable nodes: {} regions stored, {} reachable; {} mappings stored, {} reachable",
            layout.stored_regions,
            layout.regions.len(),
            layout.stored_mappings,
            layout.mappings.len()
        ));
    }
    for (i, r) in layout.regions.iter().enumerate() {
        if r.size == 0 || r.base % PAGE_SIZE != 0 || r.size % PAGE_SIZE != 0 {
            return Err(format!(
                "region {:#x}+{:#x} empty or unaligned",
                r.base, r.size
            ));
        }
        let mut prev_end = r.base;
        for &(key, child) in &r.children {
            let (base, size) = match child {
                LayoutChild::Region(c) => {
                    let c = layout
                        .regions
                        .get(c)
                        .ok_or_else(|| format!("region {:#x} has a dangling child", r.base))?;
                    if c.parent != Some(i) {
                        return Err(format!("region {:#x}: child's parent differs", c.base));
                    }
                    if !r.can_map.contains(c.can_map) {
                        return Err(format!(
                            "sub-VMAR {:#x} may map more than its parent",
                            c.base
                        ));
                    }
                    (c.base, c.size)
                }
                LayoutChild::Mapping(m) => {
                    let m = &layout.mappings[m];
                    check_mapping(m, r.can_map)?;
                    (m.base, m.size)
                }
            };
            if key != base {
                return Err(format!("child at {base:#x} filed under {key:#x}"));
            }
            if base < prev_end {
                return Err(format!("child at {base:#x} overlaps its left sibling"));
            }
            let end = base
                .checked_add(size)
                .filter(|e| *e <= r.base + r.size)
                .ok_or_else(|| format!("child at {base:#x}+{size:#x} leaves its parent"))?;
            prev_end = end;
        }
    }
    Ok(())
}

fn check_mapping(m: &crate::vm::inspect::MappingInfo, can_map: Perms) -> Result<(), Mismatch> {
    if m.size == 0 || !m.base.is_multiple_of(PAGE_SIZE) || !m.size.is_multiple_of(PAGE_SIZE) {
        return Err(format!(
            "mapping {:#x}+{:#x} empty or unaligned",
            m.base, m.size
        ));
    }
    if !can_map.contains(m.max) {
        return Err(format!("mapping {:#x}: maximum beyond the VMAR's", m.base));
    }
    let mut at = m.base;
    for &(lo, hi, prot) in &m.prot {
        if lo != at || hi <= lo || lo % PAGE_SIZE != 0 || hi % PAGE_SIZE != 0 {
            return Err(format!(
                "mapping {:#x}: protection pieces {:x?}",
                m.base, m.prot
            ));
        }
        if !m.max.contains(prot) {
            return Err(format!(
                "mapping {:#x}: protection beyond the maximum",
                m.base
            ));
        }
        at = hi;
    }
    if at != m.base + m.size {
        return Err(format!(
            "mapping {:#x}: protection pieces {:x?}",
            m.base, m.prot
        ));
    }
    Ok(())
}

/// Checks that no page of any mapping in `layout` translates to more than
/// its protection allows, or to a frame the machine does not own. Huge
/// mappings are sampled: their first and last `sample` pages.
///
/// # Errors
///
/// The first offending page, described.
pub fn check_translations_within<A: Arch>(
    sim: &Sim<A>,
    root: PhysAddr,
    layout: &Layout,
    sample: u64,
) -> Result<(), Mismatch> {
    for m in &layout.mappings {
        let pages = m.size / PAGE_SIZE;
        let picks = (0..pages.min(sample)).chain(pages.saturating_sub(sample).max(sample)..pages);
        for i in picks {
            let va = m.base + i * PAGE_SIZE;
            let Some(e) = sim.table_entry(root, va) else {
                continue;
            };
            let prot = m
                .prot
                .iter()
                .find(|(lo, hi, _)| (*lo..*hi).contains(&va))
                .map_or(Perms::empty(), |p| p.2);
            if (e.read && !prot.contains(Perms::READ))
                || (e.write && !prot.contains(Perms::WRITE))
                || (e.execute && !prot.contains(Perms::EXECUTE))
            {
                return Err(format!("{va:#x} translates as {e:?} beyond {prot:?}"));
            }
            if !sim.owns_frame(e.pa) {
                return Err(format!("{va:#x} translates to a freed frame"));
            }
        }
    }
    Ok(())
}

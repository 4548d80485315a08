//! The simulated MMU: address translation through the real page-table
//! bits of the sim's architecture, with a TLB that remembers translations
//! until the crate invalidates them.
//!
//! [`Sim::translate`] first looks in the TLB model: a hit decides with the
//! cached permissions, even if the tables have changed since, exactly like
//! a CPU whose TLB was not flushed. So a test that forgets to hand a batch
//! to [`Platform::flush_tlb`](crate::Platform::flush_tlb) sees the old
//! access still allowed: the missing flush fails the test instead of
//! passing silently. A miss walks the tables (module `hw`: independent
//! models of the x86_64 and aarch64 walkers), sets accessed/dirty state
//! like the hardware, and caches the result at the leaf's size.
//!
//! The TLB is invalidated only by `Sim::flush_tlb`: a page batch drops the
//! entries (of any size) that translate those pages in the batch's ASID; an
//! address-space batch drops every entry of the ASID. A faulting access
//! drops the entry it hit, as x86 does on a page fault.
//!
//! x86_64 tracks dirty state: a write through an entry cached by a read
//! walks again (setting D, or faulting if the tables no longer allow the
//! write), as real CPUs do. aarch64 here has no hardware dirty state.
//!
//! [`Sim::user_read`] and [`Sim::user_write`] copy bytes through user
//! translations, for scripted "user code".
//!
//! Locks: the TLB model's mutex, then the frame set's (which keeps every
//! frame the walk reads alive).

use std::collections::HashMap;

use crate::arch::{Arch, X86_64};
use crate::mmu::format::{level_shift, level_size};
use crate::mmu::{Asid, CpuSet, FrameMem, TlbBatch, TlbScope, TlbTarget};
use crate::platform::{PAGE_SIZE, PhysAddr};
use crate::sim::Sim;
use crate::sim::hw::{Model, Perms, Walked};
use crate::trap::Access;

/// Why a simulated access faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// No valid entry at `level` (crate numbering, 0 = 4 KiB table): x86
    /// P = 0, aarch64 translation fault.
    NotPresent {
        /// The table level whose entry was invalid.
        level: usize,
    },
    /// The translation exists but does not allow the access (also when a
    /// stale TLB entry denies it).
    Permission,
    /// x86_64: reserved bits set in an entry at `level`.
    Reserved {
        /// The table level of the bad entry.
        level: usize,
    },
    /// A table entry at `level` points to memory that is not a frame of
    /// this machine.
    BadTable {
        /// The table level of the bad entry.
        level: usize,
    },
    /// The address is outside what a user page table translates.
    AddressRange,
    /// The translation points to memory that is not a frame of this
    /// machine ([`Sim::user_read`] and [`Sim::user_write`] only).
    BadPhysical,
}

/// A simulated access that faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fault {
    /// The faulting virtual address.
    pub va: u64,
    /// The access attempted.
    pub access: Access,
    /// Whether the access was made from user mode.
    pub user: bool,
    /// Why it faulted.
    pub kind: FaultKind,
}

/// What the page tables give user mode at one address
/// ([`Sim::table_entry`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserMapping {
    /// The physical address `va` translates to.
    pub pa: PhysAddr,
    /// User-mode reads are allowed.
    pub read: bool,
    /// User-mode writes are allowed.
    pub write: bool,
    /// User-mode instruction fetches are allowed.
    pub execute: bool,
}

/// A cached translation.
#[derive(Clone, Copy, Debug)]
struct TlbEntry {
    base: u64,
    perms: Perms,
    /// Set when the hardware does not track dirty state, or the entry was
    /// filled or upgraded by a write.
    dirty: bool,
}

std::thread_local! {
    /// The simulated CPU this host thread is ([`Sim::set_current_cpu`]).
    static CURRENT_CPU: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// The simulated CPU the calling host thread is.
pub(crate) fn current_cpu() -> usize {
    CURRENT_CPU.with(|c| c.get())
}

/// The TLB model, one per simulated CPU: `(cpu, asid, leaf level, va >>
/// leaf shift)` → translation.
#[derive(Debug)]
pub(crate) struct TlbModel {
    entries: HashMap<(usize, Asid, usize, u64), TlbEntry>,
    cpus: usize,
}

impl Default for TlbModel {
    fn default() -> Self {
        TlbModel {
            entries: HashMap::new(),
            cpus: 1,
        }
    }
}

impl TlbModel {
    pub(crate) fn set_cpus(&mut self, cpus: usize) {
        self.cpus = cpus.max(1);
    }

    /// Drops every entry CPU `cpu` holds (a local flush of all non-global
    /// translations).
    pub(crate) fn flush_cpu(&mut self, cpu: usize) {
        self.entries.retain(|k, _| k.0 != cpu);
    }

    /// Drops what `batch` names, on the CPUs it names only: a CPU the
    /// crate left out keeps its entries, stale or not.
    pub(crate) fn invalidate(&mut self, batch: &TlbBatch) {
        let (target, cpus) = (batch.target(), batch.cpus());
        match batch.scope() {
            TlbScope::Nothing => {}
            TlbScope::Pages(pages) => {
                for &va in pages {
                    self.drop_va(target, cpus, va);
                }
            }
            TlbScope::AddressSpace => self
                .entries
                .retain(|k, _| !(target.covers(k.1) && cpus.contains(k.0))),
        }
    }

    /// Drops every entry (of any size) translating `va` under `target`, on
    /// the CPUs in `cpus`.
    fn drop_va(&mut self, target: TlbTarget, cpus: CpuSet, va: u64) {
        if target.is_all() {
            self.entries
                .retain(|k, _| !(k.3 == va >> level_shift(k.2) && cpus.contains(k.0)));
            return;
        }
        for cpu in (0..self.cpus).filter(|&c| cpus.contains(c)) {
            self.drop_va_on(cpu, target, va);
        }
    }

    /// Drops what CPU `cpu` holds for `va` under `target`.
    fn drop_va_on(&mut self, cpu: usize, target: TlbTarget, va: u64) {
        for asid in target.named() {
            for level in 0..3 {
                self.entries
                    .remove(&(cpu, asid, level, va >> level_shift(level)));
            }
        }
    }

    /// What the calling thread's CPU holds for `va` under `asid`.
    fn lookup(&self, asid: Asid, va: u64) -> Option<(usize, TlbEntry)> {
        let cpu = current_cpu();
        (0..3).find_map(|level| {
            self.entries
                .get(&(cpu, asid, level, va >> level_shift(level)))
                .map(|e| (level, *e))
        })
    }
}

impl<A: Arch> Sim<A> {
    fn model() -> Model {
        if core::any::TypeId::of::<A>() == core::any::TypeId::of::<X86_64>() {
            Model::X86_64
        } else {
            Model::Aarch64
        }
    }

    /// Walks the tables (no TLB), holding the frame set's lock.
    fn walk(
        &self,
        root: PhysAddr,
        va: u64,
        access: Access,
        user: bool,
    ) -> Result<Walked, FaultKind> {
        let frames = self.inner.frames.lock().expect("sim lock");
        let tables = |pa: u64| {
            // SAFETY: `pa` is a live frame of this sim (checked against the
            // set), and the set's lock, held for the whole walk, keeps it
            // from being freed; all accesses are atomic.
            frames
                .contains(&pa)
                .then(|| unsafe { FrameMem::new(self, PhysAddr::new(pa)) })
        };
        Self::model().walk(&tables, root.as_u64(), va, access, user)
    }

    /// Translates `va` in the address space with root table `root` and
    /// ASID `asid` for `access` from user (`user`) or kernel mode, the way
    /// the CPU would: TLB first, then a table walk.
    ///
    /// # Errors
    ///
    /// The [`Fault`] the access takes.
    pub fn translate(
        &self,
        root: PhysAddr,
        asid: Asid,
        va: u64,
        access: Access,
        user: bool,
    ) -> Result<PhysAddr, Fault> {
        let fault = |kind| Fault {
            va,
            access,
            user,
            kind,
        };
        let mut tlb = self.inner.tlb.lock().expect("sim lock");
        if let Some((level, hit)) = tlb.lookup(asid, va) {
            if !hit.perms.allows(access, user) {
                tlb.drop_va_on(current_cpu(), TlbTarget::Asid(asid), va);
                return Err(fault(FaultKind::Permission));
            }
            if access != Access::Write || hit.dirty {
                return Ok(PhysAddr::new(hit.base + (va & (level_size(level) - 1))));
            }
            // A write through a clean entry: the CPU walks again to set D.
            tlb.drop_va_on(current_cpu(), TlbTarget::Asid(asid), va);
        }
        let walked = self.walk(root, va, access, user).map_err(fault)?;
        let entry = TlbEntry {
            base: walked.base,
            perms: walked.perms,
            dirty: !walked.tracks_dirty || access == Access::Write,
        };
        let key = (
            current_cpu(),
            asid,
            walked.level,
            va >> level_shift(walked.level),
        );
        tlb.entries.insert(key, entry);
        Ok(PhysAddr::new(
            walked.base + (va & (level_size(walked.level) - 1)),
        ))
    }

    /// Makes the calling host thread simulated CPU `cpu` (0 until set):
    /// the TLB its accesses fill and hit. Below
    /// [`set_cpus`](Sim::set_cpus)'s count.
    pub fn set_current_cpu(cpu: usize) {
        CURRENT_CPU.with(|c| c.set(cpu));
    }

    /// Drops every translation CPU `cpu`'s TLB holds: what a host does when
    /// [`UserView::flush`](crate::UserView::flush) says so.
    pub fn flush_cpu(&self, cpu: usize) {
        self.inner.tlb.lock().expect("sim lock").flush_cpu(cpu);
    }

    /// Whether the calling thread's CPU's TLB holds a translation of `va`
    /// for `asid`.
    pub fn tlb_holds(&self, asid: Asid, va: u64) -> bool {
        self.inner
            .tlb
            .lock()
            .expect("sim lock")
            .lookup(asid, va)
            .is_some()
    }

    /// What the page tables (not the TLB) give user mode at `va`: the
    /// physical address and the user permissions, or `None` if nothing is
    /// mapped. Walks as a kernel read, so it sets accessed state like any
    /// walk but never faults on permissions.
    pub fn table_entry(&self, root: PhysAddr, va: u64) -> Option<UserMapping> {
        let w = self.walk(root, va, Access::Read, false).ok()?;
        Some(UserMapping {
            pa: PhysAddr::new(w.base + (va & (level_size(w.level) - 1))),
            read: w.perms.user_read,
            write: w.perms.user_write,
            execute: w.perms.user_exec,
        })
    }

    /// Whether the TLB model holds a translation of `va` for `asid` that
    /// the page tables under `root` no longer back: nothing mapped there
    /// now, another frame, or a user permission the tables do not grant.
    /// A cached entry granting less than the tables is not stale (the
    /// access faults, the entry is dropped and the walk succeeds).
    pub fn tlb_stale(&self, root: PhysAddr, asid: Asid, va: u64) -> bool {
        let cached = self.inner.tlb.lock().expect("sim lock").lookup(asid, va);
        let Some((level, hit)) = cached else {
            return false;
        };
        let Some(now) = self.table_entry(root, va) else {
            return true;
        };
        let pa = hit.base + (va & (level_size(level) - 1));
        pa != now.pa.as_u64()
            || (hit.perms.user_read && !now.read)
            || (hit.perms.user_write && !now.write)
            || (hit.perms.user_exec && !now.execute)
    }

    /// Copies user memory at `va` into `buf` through user read
    /// translations, page by page.
    ///
    /// # Errors
    ///
    /// The first fault; bytes of the pages before it have been copied.
    pub fn user_read(
        &self,
        root: PhysAddr,
        asid: Asid,
        va: u64,
        buf: &mut [u8],
    ) -> Result<(), Fault> {
        let mut done = 0;
        while done < buf.len() {
            let at = va.wrapping_add(done as u64);
            let n = chunk(at, buf.len() - done);
            let pa = self.translate(root, asid, at, Access::Read, true)?;
            self.with_frame(pa, at, Access::Read, |mem, off| {
                mem.read(off, &mut buf[done..done + n])
            })?;
            done += n;
        }
        Ok(())
    }

    /// Copies `buf` to user memory at `va` through user write
    /// translations, page by page.
    ///
    /// # Errors
    ///
    /// The first fault; the pages before it have been written.
    pub fn user_write(&self, root: PhysAddr, asid: Asid, va: u64, buf: &[u8]) -> Result<(), Fault> {
        let mut done = 0;
        while done < buf.len() {
            let at = va.wrapping_add(done as u64);
            let n = chunk(at, buf.len() - done);
            let pa = self.translate(root, asid, at, Access::Write, true)?;
            self.with_frame(pa, at, Access::Write, |mem, off| {
                mem.write(off, &buf[done..done + n])
            })?;
            done += n;
        }
        Ok(())
    }

    /// Runs `f` on the frame holding `pa` and the offset in it, if the
    /// frame belongs to the machine.
    fn with_frame(
        &self,
        pa: PhysAddr,
        va: u64,
        access: Access,
        f: impl FnOnce(&FrameMem<'_>, usize) -> bool,
    ) -> Result<(), Fault> {
        let frame = pa.as_u64() & !(PAGE_SIZE - 1);
        let frames = self.inner.frames.lock().expect("sim lock");
        let bad = Fault {
            va,
            access,
            user: true,
            kind: FaultKind::BadPhysical,
        };
        if !frames.contains(&frame) {
            return Err(bad);
        }
        // SAFETY: `frame` is a live frame of this sim, and the lock held
        // until the end of this function keeps it from being freed; all
        // accesses are atomic.
        let mem = unsafe { FrameMem::new(self, PhysAddr::new(frame)) };
        if f(&mem, (pa.as_u64() - frame) as usize) {
            Ok(())
        } else {
            Err(bad)
        }
    }
}

/// Bytes of a copy of `left` bytes at `va` that stay in `va`'s page.
fn chunk(va: u64, left: usize) -> usize {
    let room = (PAGE_SIZE - (va & (PAGE_SIZE - 1))) as usize;
    room.min(left)
}

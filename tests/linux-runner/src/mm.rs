//! The guest's address space with Linux semantics: `brk`, `mmap`,
//! `munmap`, `mprotect`, `madvise`, and the checks every user pointer
//! goes through.
//!
//! [`Mm`] keeps a model of every guest mapping (page-aligned, with its
//! protection) and does each change through an [`Aspace`]: the real one
//! calls `zx_vmar_map` / `_unmap` / `_protect` on the restricted VMAR
//! (`crate::zx_aspace`), the tests' one records calls. Where Linux and
//! Zircon differ the model decides, before Zircon is asked:
//!
//! - placement is Linux's: `MAP_FIXED` replaces what is there
//!   (`ZX_VM_SPECIFIC_OVERWRITE`), a hint is taken when the range is free,
//!   anything else goes top-down below the stack (every map is
//!   `ZX_VM_SPECIFIC`; Zircon's own placement is never used);
//! - `munmap` of holes succeeds (Zircon is only asked about mapped parts);
//! - `mprotect` changes the mapped prefix and then says `-ENOMEM` at the
//!   first hole, as Linux's `mprotect_fixup` loop does (Zircon would
//!   refuse the whole range with `NOT_FOUND`);
//! - `PROT_WRITE` alone and `PROT_EXEC` alone include read (as Linux on
//!   x86_64 and arm64 page tables do); `PROT_NONE` is permissions 0;
//! - `madvise(MADV_DONTNEED)` on anonymous memory gives zero pages back
//!   (a fresh VMO over the range), other advice is accepted.
//!
//! [`Mm::check`] is the user-pointer rule: a range is accessible when
//! every byte lies in mappings that allow the access; otherwise `-EFAULT`.

use alloc::collections::BTreeMap;

use crate::errno::{Errno, Result};

/// Page size.
pub const PAGE: u64 = 4096;

/// Protection of a mapping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prot {
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
}

impl Prot {
    /// No access.
    pub const NONE: Prot = Prot {
        read: false,
        write: false,
        exec: false,
    };
    /// Read-only.
    pub const R: Prot = Prot {
        read: true,
        write: false,
        exec: false,
    };
    /// Read + write.
    pub const RW: Prot = Prot {
        read: true,
        write: true,
        exec: false,
    };
    /// Read + execute.
    pub const RX: Prot = Prot {
        read: true,
        write: false,
        exec: true,
    };

    /// Linux `PROT_*` bits, as the page tables give them (write or exec
    /// imply read). Unknown bits: `EINVAL`.
    pub fn from_linux(bits: u64) -> Result<Prot> {
        if bits & !7 != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(Prot {
            read: bits != 0,
            write: bits & 2 != 0,
            exec: bits & 4 != 0,
        })
    }

    /// Whether `self` allows everything `need` asks.
    pub fn allows(self, need: Prot) -> bool {
        (self.read || !need.read) && (self.write || !need.write) && (self.exec || !need.exec)
    }
}

/// What backs a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Zero-filled memory (anonymous `mmap`, `brk`, the stack).
    Anon,
    /// A private copy of file bytes (ELF segments, file `mmap`).
    File,
}

/// One mapping of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// End (exclusive).
    pub end: u64,
    /// Protection.
    pub prot: Prot,
    /// Backing.
    pub kind: Kind,
}

/// What [`Mm`] asks of the real address space. Addresses and lengths are
/// page-aligned and inside the guest range.
pub trait Aspace {
    /// Maps zero-filled memory at `[addr, addr + len)`, replacing whatever
    /// is there when `replace`.
    ///
    /// # Errors
    ///
    /// `ENOMEM` when the kernel cannot.
    fn map_zero(&mut self, addr: u64, len: u64, prot: Prot, replace: bool) -> Result<()>;
    /// Maps a private copy of `data` (then zeros) at `[addr, addr + len)`.
    ///
    /// # Errors
    ///
    /// `ENOMEM` when the kernel cannot.
    fn map_copy(
        &mut self,
        addr: u64,
        len: u64,
        prot: Prot,
        data: &[u8],
        replace: bool,
    ) -> Result<()>;
    /// Removes the mappings in `[addr, addr + len)` (all mapped).
    ///
    /// # Errors
    ///
    /// `ENOMEM` when the kernel cannot.
    fn unmap(&mut self, addr: u64, len: u64) -> Result<()>;
    /// Changes the protection of `[addr, addr + len)` (all mapped).
    ///
    /// # Errors
    ///
    /// `ENOMEM` / `EACCES` when the kernel refuses.
    fn protect(&mut self, addr: u64, len: u64, prot: Prot) -> Result<()>;
}

/// Linux `MAP_*` flags the runner understands.
pub mod flags {
    /// `MAP_SHARED`.
    pub const SHARED: u64 = 0x01;
    /// `MAP_PRIVATE`.
    pub const PRIVATE: u64 = 0x02;
    /// `MAP_SHARED_VALIDATE`.
    pub const SHARED_VALIDATE: u64 = 0x03;
    /// `MAP_FIXED`.
    pub const FIXED: u64 = 0x10;
    /// `MAP_ANONYMOUS`.
    pub const ANONYMOUS: u64 = 0x20;
    /// `MAP_FIXED_NOREPLACE`.
    pub const FIXED_NOREPLACE: u64 = 0x10_0000;
}

/// The guest address space.
pub struct Mm<A> {
    /// The kernel side.
    pub aspace: A,
    regions: BTreeMap<u64, Region>,
    /// Lowest mappable address.
    lo: u64,
    /// End of the mappable range.
    hi: u64,
    /// Top-down placement starts below this.
    mmap_base: u64,
    brk_start: u64,
    brk: u64,
}

/// `MADV_DONTNEED`.
pub const MADV_DONTNEED: u64 = 4;

impl<A: Aspace> Mm<A> {
    /// An empty space over `[lo, hi)` whose top-down placement starts at
    /// `mmap_base`.
    pub fn new(aspace: A, lo: u64, hi: u64, mmap_base: u64) -> Mm<A> {
        Mm {
            aspace,
            regions: BTreeMap::new(),
            lo,
            hi,
            mmap_base,
            brk_start: 0,
            brk: 0,
        }
    }

    /// Sets where `brk` starts (the end of the program's last segment).
    pub fn set_brk(&mut self, start: u64) {
        self.brk_start = start;
        self.brk = start;
    }

    /// The mappings, in address order.
    pub fn regions(&self) -> impl Iterator<Item = (u64, Region)> + '_ {
        self.regions.iter().map(|(&s, &r)| (s, r))
    }

    /// Removes `[start, end)` from the model, splitting what straddles it.
    fn carve(&mut self, start: u64, end: u64) {
        let overlapping: alloc::vec::Vec<(u64, Region)> = self
            .regions
            .range(..end)
            .rev()
            .take_while(|(_, r)| r.end > start)
            .map(|(&s, &r)| (s, r))
            .collect();
        for (s, r) in overlapping {
            self.regions.remove(&s);
            if s < start {
                self.regions.insert(s, Region { end: start, ..r });
            }
            if r.end > end {
                self.regions.insert(end, r);
            }
        }
    }

    /// The mapped pieces of `[start, end)`, clipped, in order.
    fn pieces(&self, start: u64, end: u64) -> alloc::vec::Vec<(u64, u64, Region)> {
        let first = self
            .regions
            .range(..=start)
            .next_back()
            .filter(|(_, r)| r.end > start)
            .map(|(&s, _)| s)
            .unwrap_or(start);
        self.regions
            .range(first..end)
            .filter(|(_, r)| r.end > start)
            .map(|(&s, &r)| (s.max(start), r.end.min(end), r))
            .collect()
    }

    fn is_free(&self, start: u64, end: u64) -> bool {
        start >= self.lo && end <= self.hi && self.pieces(start, end).is_empty()
    }

    /// The highest free range of `len` bytes ending at or below
    /// `mmap_base`.
    fn find_top_down(&self, len: u64) -> Option<u64> {
        let mut top = self.mmap_base;
        for (&s, r) in self.regions.range(..self.mmap_base).rev() {
            if r.end <= top && top - r.end >= len {
                return Some(top - len);
            }
            top = top.min(s);
        }
        let start = top.checked_sub(len)?;
        (start >= self.lo.max(self.brk_start.max(self.brk))).then_some(start)
    }

    /// Records a new mapping the aspace already made.
    fn insert(&mut self, start: u64, end: u64, prot: Prot, kind: Kind) {
        self.carve(start, end);
        self.regions.insert(start, Region { end, prot, kind });
    }

    /// Page-rounds `len` (`ENOMEM` on overflow, `EINVAL` for 0).
    fn page_len(len: u64) -> Result<u64> {
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        len.checked_next_multiple_of(PAGE).ok_or(Errno::ENOMEM)
    }

    /// Linux `mmap`; `file` is the private copy source for a file mapping
    /// (already cut at the file offset).
    ///
    /// # Errors
    ///
    /// `EINVAL` (flags, alignment, length 0), `ENOMEM` (no room, out of
    /// range), `EEXIST` (`MAP_FIXED_NOREPLACE` over a mapping).
    pub fn mmap(
        &mut self,
        addr: u64,
        len: u64,
        prot: u64,
        fl: u64,
        file: Option<&[u8]>,
    ) -> Result<u64> {
        let prot = Prot::from_linux(prot)?;
        let len = Self::page_len(len)?;
        match fl & flags::SHARED_VALIDATE {
            flags::SHARED | flags::PRIVATE | flags::SHARED_VALIDATE => {}
            _ => return Err(Errno::EINVAL),
        }
        let fixed = fl & (flags::FIXED | flags::FIXED_NOREPLACE) != 0;
        let start = if fixed {
            if !addr.is_multiple_of(PAGE) {
                return Err(Errno::EINVAL);
            }
            let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
            if addr < self.lo || end > self.hi {
                return Err(Errno::ENOMEM);
            }
            if fl & flags::FIXED == 0 && !self.pieces(addr, end).is_empty() {
                return Err(Errno::EEXIST);
            }
            addr
        } else {
            let hint = addr - addr % PAGE;
            match hint.checked_add(len) {
                Some(end) if hint != 0 && self.is_free(hint, end) => hint,
                _ => self.find_top_down(len).ok_or(Errno::ENOMEM)?,
            }
        };
        let end = start + len;
        let replace = !self.pieces(start, end).is_empty();
        match file {
            Some(data) => self.aspace.map_copy(start, len, prot, data, replace)?,
            None => self.aspace.map_zero(start, len, prot, replace)?,
        }
        let kind = if file.is_some() {
            Kind::File
        } else {
            Kind::Anon
        };
        self.insert(start, end, prot, kind);
        Ok(start)
    }

    /// Maps a segment or the stack at a fixed place (the loader's call).
    ///
    /// # Errors
    ///
    /// As [`Aspace::map_copy`].
    pub fn map_fixed(
        &mut self,
        start: u64,
        end: u64,
        prot: Prot,
        data: Option<&[u8]>,
    ) -> Result<()> {
        let replace = !self.pieces(start, end).is_empty();
        match data {
            Some(d) => self.aspace.map_copy(start, end - start, prot, d, replace)?,
            None => self.aspace.map_zero(start, end - start, prot, replace)?,
        }
        let kind = if data.is_some() {
            Kind::File
        } else {
            Kind::Anon
        };
        self.insert(start, end, prot, kind);
        Ok(())
    }

    fn check_range(&self, addr: u64, len: u64) -> Result<(u64, u64)> {
        if !addr.is_multiple_of(PAGE) {
            return Err(Errno::EINVAL);
        }
        let len = len.checked_next_multiple_of(PAGE).ok_or(Errno::EINVAL)?;
        let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
        Ok((addr, end))
    }

    /// Linux `munmap`.
    ///
    /// # Errors
    ///
    /// `EINVAL` (alignment, length 0, outside the address range).
    pub fn munmap(&mut self, addr: u64, len: u64) -> Result<u64> {
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let (start, end) = self.check_range(addr, len)?;
        if end > self.hi {
            return Err(Errno::EINVAL);
        }
        for (s, e, _) in self.pieces(start, end) {
            self.aspace.unmap(s, e - s)?;
        }
        self.carve(start, end);
        Ok(0)
    }

    /// Linux `mprotect`.
    ///
    /// # Errors
    ///
    /// `EINVAL` (alignment, bits), `ENOMEM` (a hole: the part before it is
    /// changed, as on Linux).
    pub fn mprotect(&mut self, addr: u64, len: u64, prot: u64) -> Result<u64> {
        let prot = Prot::from_linux(prot)?;
        let (start, end) = self.check_range(addr, len)?;
        if start == end {
            return Ok(0);
        }
        let mut at = start;
        for (s, e, r) in self.pieces(start, end) {
            if s != at {
                return Err(Errno::ENOMEM);
            }
            self.aspace.protect(s, e - s, prot)?;
            self.carve(s, e);
            self.regions.insert(
                s,
                Region {
                    end: e,
                    prot,
                    kind: r.kind,
                },
            );
            at = e;
        }
        if at != end {
            return Err(Errno::ENOMEM);
        }
        Ok(0)
    }

    /// Linux `madvise`.
    ///
    /// # Errors
    ///
    /// `EINVAL` (alignment), `ENOMEM` (unmapped range).
    pub fn madvise(&mut self, addr: u64, len: u64, advice: u64) -> Result<u64> {
        let (start, end) = self.check_range(addr, len)?;
        let pieces = self.pieces(start, end);
        let mut at = start;
        for &(s, e, _) in &pieces {
            if s != at {
                return Err(Errno::ENOMEM);
            }
            at = e;
        }
        if at != end {
            return Err(Errno::ENOMEM);
        }
        if advice == MADV_DONTNEED {
            for (s, e, r) in pieces {
                if r.kind == Kind::Anon {
                    self.aspace.map_zero(s, e - s, r.prot, true)?;
                    self.carve(s, e);
                    self.regions.insert(s, Region { end: e, ..r });
                }
            }
        }
        Ok(0)
    }

    /// Linux `brk`: the new break, or the old one when it cannot move.
    pub fn brk(&mut self, want: u64) -> u64 {
        if want < self.brk_start {
            return self.brk;
        }
        let (Some(old_end), Some(new_end)) = (
            self.brk.checked_next_multiple_of(PAGE),
            want.checked_next_multiple_of(PAGE),
        ) else {
            return self.brk;
        };
        if new_end > old_end {
            // Linux's brk leaves a page of gap below the next mapping
            // (`newbrk + PAGE_SIZE > vm_start_gap(next)` fails).
            let Some(gap_end) = new_end.checked_add(PAGE) else {
                return self.brk;
            };
            if !self.is_free(old_end, gap_end) || new_end > self.mmap_base {
                return self.brk;
            }
            if self
                .aspace
                .map_zero(old_end, new_end - old_end, Prot::RW, false)
                .is_err()
            {
                return self.brk;
            }
            self.insert(old_end, new_end, Prot::RW, Kind::Anon);
        } else if new_end < old_end {
            if self.aspace.unmap(new_end, old_end - new_end).is_err() {
                return self.brk;
            }
            self.carve(new_end, old_end);
        }
        self.brk = want;
        want
    }

    /// Whether `[addr, addr + len)` is mapped with every access `need`
    /// asks; `EFAULT` otherwise (length 0 is always fine).
    ///
    /// # Errors
    ///
    /// `EFAULT`.
    pub fn check(&self, addr: u64, len: u64, need: Prot) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        let end = addr.checked_add(len).ok_or(Errno::EFAULT)?;
        let mut at = addr;
        while at < end {
            let (_, r) = self
                .regions
                .range(..=at)
                .next_back()
                .filter(|(_, r)| r.end > at)
                .ok_or(Errno::EFAULT)?;
            if !r.prot.allows(need) {
                return Err(Errno::EFAULT);
            }
            at = r.end;
        }
        Ok(())
    }

    /// Forgets every mapping after the aspace dropped them all (exec).
    pub fn clear(&mut self) {
        self.regions.clear();
        self.brk_start = 0;
        self.brk = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[derive(Default)]
    struct Fake {
        log: Vec<(&'static str, u64, u64)>,
    }

    impl Aspace for Fake {
        fn map_zero(&mut self, a: u64, l: u64, _: Prot, r: bool) -> Result<()> {
            self.log.push((if r { "map!" } else { "map" }, a, l));
            Ok(())
        }
        fn map_copy(&mut self, a: u64, l: u64, _: Prot, _: &[u8], r: bool) -> Result<()> {
            self.log.push((if r { "copy!" } else { "copy" }, a, l));
            Ok(())
        }
        fn unmap(&mut self, a: u64, l: u64) -> Result<()> {
            self.log.push(("unmap", a, l));
            Ok(())
        }
        fn protect(&mut self, a: u64, l: u64, _: Prot) -> Result<()> {
            self.log.push(("protect", a, l));
            Ok(())
        }
    }

    const LO: u64 = 0x20_0000;
    const HI: u64 = 0x1000_0000;
    const BASE: u64 = 0x800_0000;

    fn mm() -> Mm<Fake> {
        let mut m = Mm::new(Fake::default(), LO, HI, BASE);
        m.set_brk(0x50_0000);
        m
    }

    const ANON: u64 = flags::PRIVATE | flags::ANONYMOUS;

    #[test]
    fn top_down_placement_hints_and_fixed() {
        let mut m = mm();
        assert_eq!(m.mmap(0, 0x2000, 3, ANON, None), Ok(BASE - 0x2000));
        assert_eq!(m.mmap(0, 1, 3, ANON, None), Ok(BASE - 0x3000));
        // A free hint is taken, rounded down; a taken one is not.
        assert_eq!(m.mmap(0x90_0123, 0x1000, 3, ANON, None), Ok(0x90_0000));
        assert_eq!(m.mmap(0x90_0000, 0x1000, 3, ANON, None), Ok(BASE - 0x4000));
        // MAP_FIXED replaces; NOREPLACE refuses; unaligned fixed: EINVAL.
        assert_eq!(
            m.mmap(0x90_0000, 0x1000, 1, ANON | flags::FIXED, None),
            Ok(0x90_0000)
        );
        assert_eq!(m.aspace.log.last(), Some(&("map!", 0x90_0000, 0x1000)));
        assert_eq!(
            m.mmap(0x90_0000, 0x1000, 1, ANON | flags::FIXED_NOREPLACE, None),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            m.mmap(0x90_0010, 0x1000, 1, ANON | flags::FIXED, None),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            m.mmap(0x1000, 0x1000, 1, ANON | flags::FIXED, None),
            Err(Errno::ENOMEM)
        );
        assert_eq!(m.mmap(0, 0, 3, ANON, None), Err(Errno::EINVAL));
        assert_eq!(m.mmap(0, u64::MAX, 3, ANON, None), Err(Errno::ENOMEM));
        assert_eq!(
            m.mmap(0, 0x1000, 3, flags::ANONYMOUS, None),
            Err(Errno::EINVAL)
        );
        assert_eq!(m.mmap(0, 0x1000, 8, ANON, None), Err(Errno::EINVAL));
    }

    #[test]
    fn munmap_splits_and_ignores_holes() {
        let mut m = mm();
        let a = m.mmap(0, 0x4000, 3, ANON, None).unwrap();
        assert_eq!(m.munmap(a + 0x1000, 0x1000), Ok(0));
        assert_eq!(m.regions().count(), 2);
        // Over the hole and past the end: only the mapped part is asked.
        m.aspace.log.clear();
        assert_eq!(m.munmap(a, 0x10000), Ok(0));
        assert_eq!(
            m.aspace.log,
            [("unmap", a, 0x1000), ("unmap", a + 0x2000, 0x2000)]
        );
        assert_eq!(m.regions().count(), 0);
        assert_eq!(m.munmap(a + 1, 0x1000), Err(Errno::EINVAL));
        assert_eq!(m.munmap(a, 0), Err(Errno::EINVAL));
    }

    #[test]
    fn mprotect_enomem_at_a_hole_after_changing_the_prefix() {
        let mut m = mm();
        let a = m.mmap(0, 0x3000, 3, ANON, None).unwrap();
        m.munmap(a + 0x1000, 0x1000).unwrap();
        m.aspace.log.clear();
        assert_eq!(m.mprotect(a, 0x3000, 1), Err(Errno::ENOMEM));
        assert_eq!(m.aspace.log, [("protect", a, 0x1000)]);
        assert_eq!(m.check(a, 8, Prot::RW), Err(Errno::EFAULT));
        assert_eq!(m.check(a, 8, Prot::R), Ok(()));
        assert_eq!(m.mprotect(a + 1, 0x1000, 1), Err(Errno::EINVAL));
        assert_eq!(m.mprotect(a, 0, 1), Ok(0));
        // PROT_WRITE alone is read + write.
        assert_eq!(m.mprotect(a, 0x1000, 2), Ok(0));
        assert_eq!(m.check(a, 8, Prot::RW), Ok(()));
        // Unmapped start: ENOMEM with nothing changed.
        m.aspace.log.clear();
        assert_eq!(m.mprotect(a + 0x1000, 0x1000, 3), Err(Errno::ENOMEM));
        assert!(m.aspace.log.is_empty());
    }

    #[test]
    fn brk_grows_shrinks_and_stops_at_mappings() {
        let mut m = mm();
        assert_eq!(m.brk(0), 0x50_0000);
        assert_eq!(m.brk(0x50_0010), 0x50_0010);
        assert_eq!(m.check(0x50_0000, 0x1000, Prot::RW), Ok(()));
        assert_eq!(m.brk(0x52_0000), 0x52_0000);
        assert_eq!(m.brk(0x50_0000), 0x50_0000);
        assert_eq!(m.check(0x50_0000, 1, Prot::R), Err(Errno::EFAULT));
        m.mmap(0x60_0000, 0x1000, 3, ANON | flags::FIXED, None)
            .unwrap();
        assert_eq!(m.brk(0x70_0000), 0x50_0000);
        // A page of gap stays below the mapping, as on Linux.
        assert_eq!(m.brk(0x60_0000), 0x50_0000);
        assert_eq!(m.brk(0x5f_f000), 0x5f_f000);
        assert_eq!(m.brk(0x5f_f001), 0x5f_f000);
        assert_eq!(m.brk(0x10), 0x5f_f000);
    }

    #[test]
    fn checks_span_adjacent_mappings() {
        let mut m = mm();
        m.mmap(0x60_0000, 0x1000, 3, ANON | flags::FIXED, None)
            .unwrap();
        m.mmap(0x60_1000, 0x1000, 1, ANON | flags::FIXED, None)
            .unwrap();
        assert_eq!(m.check(0x60_0ff0, 0x20, Prot::R), Ok(()));
        assert_eq!(m.check(0x60_0ff0, 0x20, Prot::RW), Err(Errno::EFAULT));
        assert_eq!(m.check(0x60_1ff0, 0x20, Prot::R), Err(Errno::EFAULT));
        assert_eq!(m.check(u64::MAX, 2, Prot::R), Err(Errno::EFAULT));
        assert_eq!(m.check(0, 0, Prot::R), Ok(()));
    }

    #[test]
    fn dontneed_gives_fresh_anonymous_pages() {
        let mut m = mm();
        let a = m.mmap(0, 0x2000, 3, ANON, None).unwrap();
        m.aspace.log.clear();
        assert_eq!(m.madvise(a, 0x2000, MADV_DONTNEED), Ok(0));
        assert_eq!(m.aspace.log, [("map!", a, 0x2000)]);
        assert_eq!(m.madvise(a, 0x3000, 0), Err(Errno::ENOMEM));
        assert_eq!(m.madvise(a + 3, 0x1000, 0), Err(Errno::EINVAL));
    }
}

//! ELF64 executables: what the loader needs from the headers, checked.
//!
//! [`parse`] reads the file header and program headers (through `object`,
//! which checks the identification bytes and bounds) and turns them into
//! an [`Image`]: the `PT_LOAD` segments as page-aligned mappings with the
//! bytes to copy, the entry point and the auxv's `AT_PHDR`/`AT_PHENT`/
//! `AT_PHNUM`. Only what Linux's `binfmt_elf` accepts for a static
//! executable passes: `ET_EXEC`, the machine of this arch, no
//! `PT_INTERP`, segments with `p_vaddr ≡ p_offset (mod page)`, `p_filesz
//! ≤ p_memsz`, inside the file and inside the guest's address range, in
//! ascending order without overlap. `PT_TLS` and `PT_GNU_RELRO` need
//! nothing from a loader (Linux maps the bytes; glibc sets up the TLS
//! block and `mprotect`s the RELRO range itself), but they are checked to
//! lie inside a loaded segment.
//!
//! Pure and allocation-light: unit-tested on the host.

use alloc::vec::Vec;

use object::LittleEndian as LE;
use object::elf::{
    ET_EXEC, FileHeader64, PF_R, PF_W, PF_X, PT_GNU_RELRO, PT_INTERP, PT_LOAD, PT_PHDR, PT_TLS,
};
use object::read::elf::{FileHeader, ProgramHeader};

use crate::mm::{PAGE, Prot};

/// Why a file cannot be run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// Not an ELF64 little-endian file (or truncated headers).
    NotElf,
    /// Not `ET_EXEC`.
    NotExec,
    /// Built for another machine.
    WrongMachine(u16),
    /// Has an interpreter (dynamically linked).
    Dynamic,
    /// A segment is malformed; the index of its program header.
    BadSegment(usize),
    /// No `PT_LOAD` at all.
    NoSegments,
}

/// One `PT_LOAD`, as the pages to map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// First page (`p_vaddr` rounded down).
    pub start: u64,
    /// End of the last page (`p_vaddr + p_memsz` rounded up).
    pub end: u64,
    /// File bytes to copy to `start`: `[file_start, file_end)` (from the
    /// page-aligned file offset, so the bytes before `p_vaddr` in the first
    /// page are the file's, as a Linux mapping of the file shows them).
    pub file_start: u64,
    /// End of the bytes to copy (`p_offset + p_filesz`); the rest is zero.
    pub file_end: u64,
    /// Permissions from `p_flags`.
    pub prot: Prot,
}

/// What the loader and the auxv need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// `e_entry`.
    pub entry: u64,
    /// `AT_PHDR`: where the program headers are in memory.
    pub phdr: u64,
    /// `AT_PHENT`.
    pub phent: u64,
    /// `AT_PHNUM`.
    pub phnum: u64,
    /// The segments, in address order.
    pub segments: Vec<Segment>,
    /// Where `brk` starts: the end of the highest segment, page-aligned.
    pub brk: u64,
}

/// Parses `data` as an executable for `machine` (`EM_X86_64`,
/// `EM_AARCH64`) to be mapped inside `[lo, hi)`.
///
/// # Errors
///
/// An [`ElfError`] saying what is wrong.
pub fn parse(data: &[u8], machine: u16, lo: u64, hi: u64) -> Result<Image, ElfError> {
    let hdr = FileHeader64::<LE>::parse(data).map_err(|_| ElfError::NotElf)?;
    let e = hdr.endian().map_err(|_| ElfError::NotElf)?;
    if hdr.e_type(e) != ET_EXEC {
        return Err(ElfError::NotExec);
    }
    if hdr.e_machine(e) != machine {
        return Err(ElfError::WrongMachine(hdr.e_machine(e)));
    }
    let phdrs = hdr.program_headers(e, data).map_err(|_| ElfError::NotElf)?;
    let mut segments: Vec<Segment> = Vec::new();
    let mut phdr_addr = None;
    let mut others = Vec::new();
    for (i, ph) in phdrs.iter().enumerate() {
        let bad = ElfError::BadSegment(i);
        let (vaddr, memsz) = (ph.p_vaddr(e), ph.p_memsz(e));
        match ph.p_type(e) {
            PT_INTERP => return Err(ElfError::Dynamic),
            PT_PHDR => phdr_addr = Some(vaddr),
            PT_TLS | PT_GNU_RELRO if memsz > 0 => others.push((i, vaddr, memsz)),
            PT_LOAD => {
                let (offset, filesz) = (ph.p_offset(e), ph.p_filesz(e));
                let end = vaddr.checked_add(memsz).ok_or(bad)?;
                let file_end = offset.checked_add(filesz).ok_or(bad)?;
                if filesz > memsz
                    || file_end > data.len() as u64
                    || vaddr % PAGE != offset % PAGE
                    || memsz == 0
                {
                    return Err(bad);
                }
                let start = vaddr - vaddr % PAGE;
                let end = end.checked_next_multiple_of(PAGE).ok_or(bad)?;
                if start < lo || end > hi || segments.last().is_some_and(|s| s.end > start) {
                    return Err(bad);
                }
                let flags = ph.p_flags(e);
                segments.push(Segment {
                    start,
                    end,
                    file_start: offset - offset % PAGE,
                    file_end,
                    prot: Prot {
                        read: flags & (PF_R | PF_X) != 0,
                        write: flags & PF_W != 0,
                        exec: flags & PF_X != 0,
                    },
                });
            }
            _ => {}
        }
    }
    let last = segments.last().ok_or(ElfError::NoSegments)?;
    let brk = last.end;
    let inside = |addr: u64, len: u64| {
        segments
            .iter()
            .any(|s| addr >= s.start && addr.checked_add(len).is_some_and(|end| end <= s.end))
    };
    for (i, addr, len) in others {
        if !inside(addr, len) {
            return Err(ElfError::BadSegment(i));
        }
    }
    let phoff = hdr.e_phoff(e);
    let phent = u64::from(hdr.e_phentsize(e));
    let phnum = phdrs.len() as u64;
    // Without PT_PHDR, Linux takes the headers from the segment that maps
    // file offset `e_phoff`.
    let phdr = match phdr_addr {
        Some(a) => a,
        None => phdrs
            .iter()
            .filter(|ph| ph.p_type(e) == PT_LOAD)
            .find(|ph| phoff >= ph.p_offset(e) && phoff - ph.p_offset(e) < ph.p_filesz(e))
            .map_or(0, |ph| ph.p_vaddr(e) + (phoff - ph.p_offset(e))),
    };
    Ok(Image {
        entry: hdr.e_entry(e),
        phdr,
        phent,
        phnum,
        segments,
        brk,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::vec;

    /// A minimal ELF: header, `n` program headers at 64, given as
    /// (type, flags, offset, vaddr, filesz, memsz).
    pub fn build(
        machine: u16,
        etype: u16,
        entry: u64,
        phs: &[(u32, u32, u64, u64, u64, u64)],
    ) -> Vec<u8> {
        let mut f = vec![0u8; 0x3000];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // ELFCLASS64
        f[5] = 1; // little-endian
        f[6] = 1; // EV_CURRENT
        f[16..18].copy_from_slice(&etype.to_le_bytes());
        f[18..20].copy_from_slice(&machine.to_le_bytes());
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..32].copy_from_slice(&entry.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        f[56..58].copy_from_slice(&(phs.len() as u16).to_le_bytes());
        for (i, &(t, fl, off, va, fsz, msz)) in phs.iter().enumerate() {
            let p = 64 + 56 * i;
            f[p..p + 4].copy_from_slice(&t.to_le_bytes());
            f[p + 4..p + 8].copy_from_slice(&fl.to_le_bytes());
            f[p + 8..p + 16].copy_from_slice(&off.to_le_bytes());
            f[p + 16..p + 24].copy_from_slice(&va.to_le_bytes());
            f[p + 24..p + 32].copy_from_slice(&va.to_le_bytes());
            f[p + 32..p + 40].copy_from_slice(&fsz.to_le_bytes());
            f[p + 40..p + 48].copy_from_slice(&msz.to_le_bytes());
            f[p + 48..p + 56].copy_from_slice(&0x1000u64.to_le_bytes());
        }
        f
    }

    const EM_X86_64: u16 = 62;
    const LO: u64 = 0x20_0000;
    const HI: u64 = 1 << 46;

    #[test]
    fn static_executable_like_busybox() {
        let f = build(
            EM_X86_64,
            ET_EXEC,
            0x40_1000,
            &[
                (PT_LOAD, PF_R, 0, 0x40_0000, 0x800, 0x800),
                (PT_LOAD, PF_R | PF_X, 0x1000, 0x40_1000, 0x100, 0x100),
                (PT_LOAD, PF_R | PF_W, 0x1708, 0x40_2708, 0x100, 0x3000),
                (PT_TLS, PF_R, 0x1708, 0x40_2708, 0x28, 0x8a),
                (PT_GNU_RELRO, PF_R, 0x1708, 0x40_2708, 0x80, 0x80),
            ],
        );
        let img = parse(&f, EM_X86_64, LO, HI).unwrap();
        assert_eq!(img.entry, 0x40_1000);
        assert_eq!(img.phdr, 0x40_0040);
        assert_eq!((img.phent, img.phnum), (56, 5));
        assert_eq!(img.segments.len(), 3);
        let data = img.segments[2];
        assert_eq!((data.start, data.end), (0x40_2000, 0x40_6000));
        assert_eq!((data.file_start, data.file_end), (0x1000, 0x1808));
        assert_eq!(data.prot, Prot::RW);
        assert_eq!(img.segments[1].prot, Prot::RX);
        assert_eq!(img.brk, 0x40_6000);
    }

    #[test]
    fn rejects() {
        let ok = [(PT_LOAD, PF_R, 0, 0x40_0000, 0x800, 0x800)];
        assert_eq!(parse(&[0; 10], EM_X86_64, LO, HI), Err(ElfError::NotElf));
        let f = build(EM_X86_64, 3, 0, &ok);
        assert_eq!(parse(&f, EM_X86_64, LO, HI), Err(ElfError::NotExec));
        let f = build(183, ET_EXEC, 0, &ok);
        assert_eq!(
            parse(&f, EM_X86_64, LO, HI),
            Err(ElfError::WrongMachine(183))
        );
        let f = build(EM_X86_64, ET_EXEC, 0, &[(PT_INTERP, PF_R, 0, 0, 0, 0)]);
        assert_eq!(parse(&f, EM_X86_64, LO, HI), Err(ElfError::Dynamic));
        let f = build(EM_X86_64, ET_EXEC, 0, &[]);
        assert_eq!(parse(&f, EM_X86_64, LO, HI), Err(ElfError::NoSegments));
        // filesz > memsz; past the file; misaligned; below the range;
        // overlapping; wrapping.
        for ph in [
            (PT_LOAD, PF_R, 0, 0x40_0000, 0x900, 0x800),
            (PT_LOAD, PF_R, 0, 0x40_0000, 0x5000, 0x5000),
            (PT_LOAD, PF_R, 0x10, 0x40_0000, 0x8, 0x8),
            (PT_LOAD, PF_R, 0, 0x1000, 0x8, 0x8),
            (PT_LOAD, PF_R, 0, u64::MAX - 0xfff, 0x8, 0x8),
        ] {
            let f = build(EM_X86_64, ET_EXEC, 0, &[ph]);
            assert_eq!(
                parse(&f, EM_X86_64, LO, HI),
                Err(ElfError::BadSegment(0)),
                "{ph:?}"
            );
        }
        let f = build(
            EM_X86_64,
            ET_EXEC,
            0,
            &[
                (PT_LOAD, PF_R, 0, 0x40_0000, 0x1800, 0x1800),
                (PT_LOAD, PF_R, 0x1000, 0x40_1000, 0x8, 0x8),
            ],
        );
        assert_eq!(parse(&f, EM_X86_64, LO, HI), Err(ElfError::BadSegment(1)));
        // A TLS segment outside every PT_LOAD.
        let f = build(
            EM_X86_64,
            ET_EXEC,
            0,
            &[ok[0], (PT_TLS, PF_R, 0, 0x90_0000, 0x8, 0x8)],
        );
        assert_eq!(parse(&f, EM_X86_64, LO, HI), Err(ElfError::BadSegment(1)));
    }
}

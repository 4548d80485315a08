//! The archive the xtask packs: a cpio "newc" stream (`070701` headers,
//! the format of Linux's initramfs), read without copying.
//!
//! Each [`Entry`] borrows its name and data from the archive bytes. Names
//! starting with `!` are not paths but runner inputs (`!stdin`: what the
//! program reads on fd 0). The stream ends at `TRAILER!!!`; anything
//! malformed is an [`ArchiveError`], never a panic.

/// One archive member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The path, without a leading `/` (as `cpio -H newc` writes it).
    pub name: &'a [u8],
    /// `st_mode`: type and permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, seconds.
    pub mtime: u32,
    /// File contents, or a symlink's target.
    pub data: &'a [u8],
}

/// Why the archive cannot be read; the byte offset of the bad header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveError {
    /// Not a `070701` header, or a field that is not hex.
    BadHeader(usize),
    /// A name or data running past the end.
    Truncated(usize),
    /// No `TRAILER!!!`.
    NoTrailer,
}

const HEADER: usize = 110;

fn hex(field: &[u8]) -> Option<u32> {
    let mut v: u32 = 0;
    for &c in field {
        let d = (c as char).to_digit(16)?;
        v = v.checked_mul(16)?.checked_add(d)?;
    }
    Some(v)
}

fn pad4(n: usize) -> usize {
    n.next_multiple_of(4)
}

/// Iterates over the entries of `bytes`.
pub fn entries(bytes: &[u8]) -> Entries<'_> {
    Entries {
        bytes,
        at: 0,
        done: false,
    }
}

/// The iterator [`entries`] returns.
pub struct Entries<'a> {
    bytes: &'a [u8],
    at: usize,
    done: bool,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, ArchiveError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.read();
        match &r {
            Ok(None) | Err(_) => self.done = true,
            Ok(Some(_)) => {}
        }
        r.transpose()
    }
}

impl<'a> Entries<'a> {
    fn read(&mut self) -> Result<Option<Entry<'a>>, ArchiveError> {
        let at = self.at;
        let h = self
            .bytes
            .get(at..at + HEADER)
            .ok_or(if at >= self.bytes.len() {
                ArchiveError::NoTrailer
            } else {
                ArchiveError::Truncated(at)
            })?;
        if &h[..6] != b"070701" {
            return Err(ArchiveError::BadHeader(at));
        }
        let field = |i: usize| hex(&h[6 + 8 * i..14 + 8 * i]).ok_or(ArchiveError::BadHeader(at));
        let (mode, uid, gid, mtime) = (field(1)?, field(2)?, field(3)?, field(5)?);
        let size = field(6)? as usize;
        let namesize = field(11)? as usize;
        let name_start = at + HEADER;
        let name_end = name_start
            .checked_add(namesize)
            .ok_or(ArchiveError::Truncated(at))?;
        let name = self
            .bytes
            .get(name_start..name_end)
            .ok_or(ArchiveError::Truncated(at))?;
        let name = name
            .strip_suffix(b"\0")
            .ok_or(ArchiveError::BadHeader(at))?;
        let data_start = pad4(name_end);
        let data_end = data_start
            .checked_add(size)
            .ok_or(ArchiveError::Truncated(at))?;
        let data = self
            .bytes
            .get(data_start..data_end)
            .ok_or(ArchiveError::Truncated(at))?;
        self.at = pad4(data_end);
        if name == b"TRAILER!!!" {
            return Ok(None);
        }
        Ok(Some(Entry {
            name,
            mode,
            uid,
            gid,
            mtime,
            data,
        }))
    }
}

/// Writes one newc entry (the tests' and the xtask's format, mirrored).
#[cfg(test)]
pub fn write_entry(out: &mut alloc::vec::Vec<u8>, name: &[u8], mode: u32, data: &[u8]) {
    use alloc::format;
    let h = format!(
        "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
        0,
        mode,
        0,
        0,
        1,
        1_700_000_000u32,
        data.len(),
        0,
        0,
        0,
        0,
        name.len() + 1,
        0
    );
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(name);
    out.push(0);
    out.resize(pad4(out.len()), 0);
    out.extend_from_slice(data);
    out.resize(pad4(out.len()), 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn reads_entries_until_the_trailer() {
        let mut a = Vec::new();
        write_entry(&mut a, b"bin", 0o040755, b"");
        write_entry(&mut a, b"bin/busybox", 0o100755, b"\x7fELF...");
        write_entry(&mut a, b"bin/ls", 0o120777, b"busybox");
        write_entry(&mut a, b"TRAILER!!!", 0, b"");
        let e: Vec<Entry<'_>> = entries(&a).map(Result::unwrap).collect();
        assert_eq!(e.len(), 3);
        assert_eq!(e[1].name, b"bin/busybox");
        assert_eq!(e[1].data, b"\x7fELF...");
        assert_eq!(e[1].mode, 0o100755);
        assert_eq!(e[2].data, b"busybox");
        assert_eq!(e[0].mtime, 1_700_000_000);
    }

    #[test]
    fn malformed_is_an_error() {
        let mut a = Vec::new();
        write_entry(&mut a, b"x", 0o100644, b"abc");
        assert_eq!(entries(&a).nth(1), Some(Err(ArchiveError::NoTrailer)));
        let mut bad = a.clone();
        bad[0] = b'1';
        assert_eq!(entries(&bad).next(), Some(Err(ArchiveError::BadHeader(0))));
        let cut = &a[..a.len() - 4];
        assert_eq!(entries(cut).next(), Some(Err(ArchiveError::Truncated(0))));
        let mut huge = a.clone();
        huge[6 + 8 * 6..14 + 8 * 6].copy_from_slice(b"ffffffff");
        assert!(matches!(
            entries(&huge).next(),
            Some(Err(ArchiveError::Truncated(0)))
        ));
        let mut nothex = a;
        nothex[6 + 8] = b'g';
        assert_eq!(
            entries(&nothex).next(),
            Some(Err(ArchiveError::BadHeader(0)))
        );
        assert_eq!(entries(&[]).next(), Some(Err(ArchiveError::NoTrailer)));
    }
}

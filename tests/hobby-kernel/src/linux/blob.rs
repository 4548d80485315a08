//! The linux-mode blob: what `cargo xtask linux` places in guest RAM with
//! QEMU's generic loader (`-device loader,file=BLOB,addr=ADDR,
//! force-raw=on`), and the kernel finds at [`BLOB_OFFSET`] above the start
//! of RAM.
//!
//! Layout (little-endian; every part page-aligned):
//!
//! | offset | field |
//! |---:|---|
//! | 0 | magic `ZXLINUX1` |
//! | 8 | version (u32, 1), flags (u32: the boot page's `FLAG_*`) |
//! | 16 | total length |
//! | 24, 32 | runner ELF offset, length |
//! | 40, 48 | archive offset, length |
//! | 56, 64 | argv offset, length (NUL-terminated strings) |
//! | 72 | realtime at launch (ns since the epoch, i64) |
//! | 80 | seed for the guest's randomness |
//! | 88 | RAM size QEMU was given (`-m`) |
//!
//! [`parse`] checks every field against the bytes it was given; a blob
//! that does not parse is not a linux-mode boot (the scenarios run).

/// Where the blob starts, from the start of RAM: clear of the kernel
/// image (a few MiB from 1 MiB / `0x4008_0000`) and inside the 128 MiB
/// every boot has.
pub const BLOB_OFFSET: u64 = 96 << 20;
/// The magic.
pub const MAGIC: &[u8; 8] = b"ZXLINUX1";
/// The header's size.
pub const HEADER: usize = 96;

/// A parsed blob, borrowing its parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blob<'a> {
    /// `FLAG_*` for the boot page.
    pub flags: u32,
    /// The runner's ELF.
    pub runner: &'a [u8],
    /// The file archive.
    pub archive: &'a [u8],
    /// argv, NUL-separated.
    pub argv: &'a [u8],
    /// Realtime at launch.
    pub realtime_ns: i64,
    /// Seed.
    pub seed: u64,
    /// The blob's total length.
    pub len: u64,
    /// RAM size.
    pub ram_size: u64,
}

/// Why the bytes are not a blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobError {
    /// No magic: not a linux-mode boot.
    NoMagic,
    /// An unknown version.
    Version(u32),
    /// A part outside the blob.
    Bounds,
}

fn word(h: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&h[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The total length the header at the start of `head` claims (to know
/// how much memory to look at), if it has the magic.
pub fn claimed_len(head: &[u8]) -> Option<u64> {
    (head.len() >= HEADER && &head[..8] == MAGIC).then(|| word(head, 16))
}

/// Parses a blob.
///
/// # Errors
///
/// [`BlobError`].
pub fn parse(bytes: &[u8]) -> Result<Blob<'_>, BlobError> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return Err(BlobError::NoMagic);
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != 1 {
        return Err(BlobError::Version(version));
    }
    let flags = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    let len = word(bytes, 16);
    if len > bytes.len() as u64 {
        return Err(BlobError::Bounds);
    }
    let part = |at: usize| -> Result<&[u8], BlobError> {
        let (off, n) = (word(bytes, at), word(bytes, at + 8));
        let end = off.checked_add(n).ok_or(BlobError::Bounds)?;
        if off < HEADER as u64 || end > len {
            return Err(BlobError::Bounds);
        }
        Ok(&bytes[off as usize..end as usize])
    };
    Ok(Blob {
        flags,
        runner: part(24)?,
        archive: part(40)?,
        argv: part(56)?,
        realtime_ns: word(bytes, 72) as i64,
        seed: word(bytes, 80),
        len,
        ram_size: word(bytes, 88),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn blob() -> Vec<u8> {
        let mut b = vec![0u8; 0x3000];
        b[..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&1u32.to_le_bytes());
        b[12..16].copy_from_slice(&3u32.to_le_bytes());
        let put =
            |b: &mut Vec<u8>, at: usize, v: u64| b[at..at + 8].copy_from_slice(&v.to_le_bytes());
        put(&mut b, 16, 0x3000);
        put(&mut b, 24, 0x1000);
        put(&mut b, 32, 4);
        put(&mut b, 40, 0x2000);
        put(&mut b, 48, 8);
        put(&mut b, 56, 0x2800);
        put(&mut b, 64, 3);
        put(&mut b, 72, 7);
        put(&mut b, 88, 512 << 20);
        b[0x1000..0x1004].copy_from_slice(b"\x7fELF");
        b[0x2800..0x2803].copy_from_slice(b"ls\0");
        b
    }

    #[test]
    fn parses_and_checks_bounds() {
        let b = blob();
        assert_eq!(claimed_len(&b), Some(0x3000));
        let p = parse(&b).unwrap();
        assert_eq!(p.flags, 3);
        assert_eq!(p.runner, b"\x7fELF");
        assert_eq!(p.argv, b"ls\0");
        assert_eq!(p.realtime_ns, 7);
        assert_eq!(p.ram_size, 512 << 20);
        let mut bad = b.clone();
        bad[0] = 0;
        assert_eq!(parse(&bad), Err(BlobError::NoMagic));
        assert_eq!(claimed_len(&bad), None);
        let mut bad = b.clone();
        bad[8] = 2;
        assert_eq!(parse(&bad), Err(BlobError::Version(2)));
        let mut bad = b.clone();
        bad[48..56].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(parse(&bad), Err(BlobError::Bounds));
        assert_eq!(parse(&b[..0x2000]), Err(BlobError::Bounds));
    }
}

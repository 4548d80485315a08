//! How linux mode multiplexes the serial console: the Linux program's
//! stdout and stderr, the runner's log and statistics, and the end of the
//! run travel as frames between the kernel's plain-text log lines.
//!
//! A frame is `0x00`, `b'Z'`, a stream byte, a little-endian `u16`
//! length, and that many payload bytes. The kernel's text never contains
//! a NUL, so the xtask (`xtask/src/linux.rs`, which mirrors this) reads
//! everything outside frames as the kernel's log. Streams: 1 stdout, 2
//! stderr, 3 runner log, 4 `--stats` report, [`EXIT`] the end.
//!
//! The end frame's payload is 16 bytes: kind (`u64`: 0 Linux status, 1
//! runner failure, 2 kernel failure) and value (`u64`).

/// The end-of-run stream.
pub const EXIT: u8 = 0x7f;
/// End kind: the program's status.
pub const END_STATUS: u64 = 0;
/// End kind: the runner failed (value: its code).
pub const END_RUNNER: u64 = 1;
/// End kind: the kernel failed (value: a kernel code).
pub const END_KERNEL: u64 = 2;
/// The largest payload of one frame.
pub const MAX_PAYLOAD: usize = u16::MAX as usize;

/// The five header bytes of a frame of `len` bytes on `stream`.
pub fn header(stream: u8, len: usize) -> [u8; 5] {
    let len = len.min(MAX_PAYLOAD) as u16;
    let l = len.to_le_bytes();
    [0, b'Z', stream, l[0], l[1]]
}

/// Writes `data` on `stream` as one or more frames through `put`.
pub fn write(stream: u8, data: &[u8], mut put: impl FnMut(&[u8])) {
    for chunk in data.chunks(MAX_PAYLOAD) {
        put(&header(stream, chunk.len()));
        put(chunk);
    }
}

/// The end frame's payload.
pub fn end(kind: u64, value: u64) -> [u8; 16] {
    let mut p = [0u8; 16];
    p[..8].copy_from_slice(&kind.to_le_bytes());
    p[8..].copy_from_slice(&value.to_le_bytes());
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn frames() {
        let mut out = Vec::new();
        write(1, b"hi\n", |b| out.extend_from_slice(b));
        assert_eq!(out, b"\0Z\x01\x03\0hi\n");
        let big = alloc::vec![7u8; MAX_PAYLOAD + 1];
        let mut out = Vec::new();
        write(2, &big, |b| out.extend_from_slice(b));
        assert_eq!(out.len(), 10 + big.len());
        assert_eq!(&out[..5], &[0, b'Z', 2, 0xff, 0xff]);
        assert_eq!(&out[5 + MAX_PAYLOAD..10 + MAX_PAYLOAD], &[0, b'Z', 2, 1, 0]);
        assert_eq!(end(1, 5)[8], 5);
    }
}

//! The initial stack of a Linux process, as `create_elf_tables` in
//! `fs/binfmt_elf.c` lays it out, 16-byte aligned as both psABIs ask.
//!
//! From the top down: the executable's path (`AT_EXECFN` points at it),
//! the environment strings, the argument strings, the platform string
//! (`AT_PLATFORM`), 16 random bytes (`AT_RANDOM`), padding; then, from the
//! 16-aligned stack pointer up: `argc`, `argv[]` and its NULL, `envp[]` and
//! its NULL, the auxiliary vector ending with `AT_NULL`.
//!
//! [`build`] is pure: it returns the bytes of `[sp, top)` and `sp`.

use alloc::vec::Vec;

/// Auxiliary vector keys (`include/uapi/linux/auxvec.h`).
#[allow(missing_docs)]
pub mod at {
    pub const NULL: u64 = 0;
    pub const PHDR: u64 = 3;
    pub const PHENT: u64 = 4;
    pub const PHNUM: u64 = 5;
    pub const PAGESZ: u64 = 6;
    pub const BASE: u64 = 7;
    pub const FLAGS: u64 = 8;
    pub const ENTRY: u64 = 9;
    pub const UID: u64 = 11;
    pub const EUID: u64 = 12;
    pub const GID: u64 = 13;
    pub const EGID: u64 = 14;
    pub const PLATFORM: u64 = 15;
    pub const HWCAP: u64 = 16;
    pub const CLKTCK: u64 = 17;
    pub const SECURE: u64 = 23;
    pub const RANDOM: u64 = 25;
    pub const HWCAP2: u64 = 26;
    pub const EXECFN: u64 = 31;
}

/// What goes on the stack besides the strings.
pub struct Params<'a> {
    /// Address one past the top of the stack.
    pub top: u64,
    /// The path `AT_EXECFN` names.
    pub execfn: &'a [u8],
    /// `argv` strings (without NULs).
    pub argv: &'a [&'a [u8]],
    /// `envp` strings (without NULs).
    pub envp: &'a [&'a [u8]],
    /// `AT_PLATFORM`.
    pub platform: &'a [u8],
    /// `AT_RANDOM`'s bytes.
    pub random: [u8; 16],
    /// The auxv entries that are not pointers into the stack, in order
    /// (`AT_RANDOM`, `AT_EXECFN`, `AT_PLATFORM` and `AT_NULL` are added).
    pub auxv: &'a [(u64, u64)],
}

/// Why the stack cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackError {
    /// Arguments and environment do not fit in `limit` bytes (`E2BIG`).
    TooBig,
}

/// Builds the stack image: `(sp, bytes of [sp, top))`, using at most
/// `limit` bytes.
///
/// # Errors
///
/// [`StackError::TooBig`].
pub fn build(p: &Params<'_>, limit: u64) -> Result<(u64, Vec<u8>), StackError> {
    let mut strings: Vec<u8> = Vec::new();
    // Lay strings out downward from `top`: each push returns the address.
    let mut used = 8u64; // Linux leaves the top word zero.
    let mut push = |s: &[u8], strings: &mut Vec<u8>| -> u64 {
        used += s.len() as u64 + 1;
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s);
        v.push(0);
        v.extend_from_slice(strings);
        *strings = v;
        p.top - used
    };
    let execfn = push(p.execfn, &mut strings);
    let env: Vec<u64> = p.envp.iter().rev().map(|s| push(s, &mut strings)).collect();
    let args: Vec<u64> = p.argv.iter().rev().map(|s| push(s, &mut strings)).collect();
    let platform = push(p.platform, &mut strings);
    let random = {
        used += 16;
        let mut v = p.random.to_vec();
        v.extend_from_slice(&strings);
        strings = v;
        p.top - used
    };
    let strings_bottom = p.top - used;
    let mut words: Vec<u64> = Vec::new();
    words.push(p.argv.len() as u64);
    words.extend(args.iter().rev());
    words.push(0);
    words.extend(env.iter().rev());
    words.push(0);
    for &(k, v) in p.auxv {
        words.extend([k, v]);
    }
    words.extend([
        at::RANDOM,
        random,
        at::EXECFN,
        execfn,
        at::PLATFORM,
        platform,
        at::NULL,
        0,
    ]);
    let sp = (strings_bottom - 8 * words.len() as u64) & !15;
    if p.top - sp > limit {
        return Err(StackError::TooBig);
    }
    let mut out = Vec::with_capacity((p.top - sp) as usize);
    for w in &words {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.resize((strings_bottom - sp) as usize, 0);
    out.extend_from_slice(&strings);
    out.resize((p.top - sp) as usize, 0);
    Ok((sp, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(img: &[u8], sp: u64, addr: u64) -> u64 {
        let o = (addr - sp) as usize;
        u64::from_le_bytes(img[o..o + 8].try_into().unwrap())
    }

    fn cstr(img: &[u8], sp: u64, addr: u64) -> &[u8] {
        let o = (addr - sp) as usize;
        let n = img[o..].iter().position(|&b| b == 0).unwrap();
        &img[o..o + n]
    }

    #[test]
    fn layout_is_linuxs() {
        let top = 0x7fff_0000;
        let p = Params {
            top,
            execfn: b"/bin/busybox",
            argv: &[b"busybox", b"echo", b"hi"],
            envp: &[b"PATH=/bin", b"HOME=/root"],
            platform: b"x86_64",
            random: [7; 16],
            auxv: &[(at::PAGESZ, 4096), (at::ENTRY, 0x40_1000)],
        };
        let (sp, img) = build(&p, 1 << 20).unwrap();
        assert_eq!(sp % 16, 0);
        assert_eq!(img.len() as u64, top - sp);
        assert_eq!(word(&img, sp, sp), 3);
        let argv: Vec<&[u8]> = (0..3)
            .map(|i| cstr(&img, sp, word(&img, sp, sp + 8 + 8 * i)))
            .collect();
        assert_eq!(argv, [&b"busybox"[..], b"echo", b"hi"]);
        assert_eq!(word(&img, sp, sp + 32), 0);
        assert_eq!(cstr(&img, sp, word(&img, sp, sp + 40)), b"PATH=/bin");
        assert_eq!(cstr(&img, sp, word(&img, sp, sp + 48)), b"HOME=/root");
        assert_eq!(word(&img, sp, sp + 56), 0);
        let mut auxv = Vec::new();
        let mut a = sp + 64;
        loop {
            let (k, v) = (word(&img, sp, a), word(&img, sp, a + 8));
            auxv.push((k, v));
            a += 16;
            if k == at::NULL {
                break;
            }
        }
        assert_eq!(auxv[0], (at::PAGESZ, 4096));
        assert_eq!(auxv[1], (at::ENTRY, 0x40_1000));
        let get = |k| auxv.iter().find(|e| e.0 == k).unwrap().1;
        assert_eq!(cstr(&img, sp, get(at::EXECFN)), b"/bin/busybox");
        assert_eq!(cstr(&img, sp, get(at::PLATFORM)), b"x86_64");
        let r = (get(at::RANDOM) - sp) as usize;
        assert_eq!(&img[r..r + 16], &[7; 16]);
        // The path is the highest string, below the zero top word.
        assert_eq!(get(at::EXECFN), top - 8 - 13);
        assert_eq!(word(&img, sp, top - 8), 0);
        assert_eq!(auxv.last(), Some(&(at::NULL, 0)));
    }

    #[test]
    fn too_big() {
        let big = [0u8; 5000];
        let p = Params {
            top: 0x10_0000,
            execfn: b"/x",
            argv: &[&big],
            envp: &[],
            platform: b"aarch64",
            random: [0; 16],
            auxv: &[],
        };
        assert_eq!(build(&p, 4096), Err(StackError::TooBig));
        assert!(build(&p, 8192).is_ok());
    }
}

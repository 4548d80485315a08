//! Loading the program: the ELF's segments into the guest VMAR through the
//! memory model, the signal trampoline page, and the stack (8 MiB,
//! zero-filled) with `argc`, `argv`, `envp` and the auxiliary vector.

use alloc::vec::Vec;

use crate::elf::{self, ElfError};
use crate::fs::tree::{Data, Follow, Node};
use crate::mm::{PAGE, Prot};
use crate::stack::{self, Params, at};

use super::Lx;
use super::cpu::{self, abi};

/// The stack's size.
pub const STACK_SIZE: u64 = 8 << 20;
/// One past the top of the stack.
pub const STACK_TOP: u64 = abi::GUEST_HI - 16 * PAGE;
/// Where the signal trampoline page goes (just above the stack's guard).
pub const TRAMPOLINE_AT: u64 = abi::GUEST_HI - 8 * PAGE;
/// Top-down `mmap` placement starts here.
pub const MMAP_BASE: u64 = STACK_TOP - STACK_SIZE - (16 << 20);

/// Why a program could not be started.
#[derive(Debug)]
pub enum LoadError {
    /// The path does not resolve (`errno`).
    Path(crate::errno::Errno),
    /// Not a file the runner can map (written since boot, or not regular).
    NotMappable,
    /// The ELF is not a static executable for this arch.
    Elf(ElfError),
    /// Mapping failed.
    Map(crate::errno::Errno),
    /// Arguments too big for the stack.
    TooBig,
}

/// Maps the program at `path` and builds its stack; the entry point and
/// initial stack pointer.
///
/// # Errors
///
/// A [`LoadError`].
pub fn load(
    lx: &mut Lx,
    path: &[u8],
    argv: &[Vec<u8>],
    envp: &[&[u8]],
) -> Result<(u64, u64), LoadError> {
    let ino = lx
        .fs
        .tree
        .resolve(lx.fs.cwd, path, Follow::Yes)
        .map_err(LoadError::Path)?;
    let data: &'static [u8] = match &lx.fs.tree.get(ino).map_err(LoadError::Path)?.node {
        Node::File(Data::Archive(b)) => b,
        _ => return Err(LoadError::NotMappable),
    };
    let img = elf::parse(data, abi::MACHINE, abi::GUEST_LO, MMAP_BASE).map_err(LoadError::Elf)?;
    for s in &img.segments {
        let bytes = &data[s.file_start as usize..s.file_end as usize];
        lx.mm
            .map_fixed(s.start, s.end, s.prot, Some(bytes))
            .map_err(LoadError::Map)?;
    }
    lx.mm.set_brk(img.brk);
    if let Some(t) = lx.fs.special(b"!sigtramp") {
        lx.mm
            .map_fixed(TRAMPOLINE_AT, TRAMPOLINE_AT + PAGE, Prot::RX, Some(t))
            .map_err(LoadError::Map)?;
    }
    lx.mm
        .map_fixed(STACK_TOP - STACK_SIZE, STACK_TOP, Prot::RW, None)
        .map_err(LoadError::Map)?;
    let mut random = [0u8; 16];
    random[..8].copy_from_slice(&lx.random_u64().to_le_bytes());
    random[8..].copy_from_slice(&lx.random_u64().to_le_bytes());
    let argv_refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
    let auxv = [
        (at::HWCAP, cpu::hwcap()),
        (at::PAGESZ, PAGE),
        (at::CLKTCK, 100),
        (at::PHDR, img.phdr),
        (at::PHENT, img.phent),
        (at::PHNUM, img.phnum),
        (at::BASE, 0),
        (at::FLAGS, 0),
        (at::ENTRY, img.entry),
        (at::UID, 0),
        (at::EUID, 0),
        (at::GID, 0),
        (at::EGID, 0),
        (at::SECURE, 0),
        (at::HWCAP2, 0),
    ];
    let params = Params {
        top: STACK_TOP,
        execfn: path,
        argv: &argv_refs,
        envp,
        platform: lx.arch.machine,
        random,
        auxv: &auxv,
    };
    let (sp, bytes) = stack::build(&params, 256 << 10).map_err(|_| LoadError::TooBig)?;
    lx.write_user(sp, &bytes).map_err(LoadError::Map)?;
    Ok((img.entry, sp))
}

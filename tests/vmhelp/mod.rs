//! Helpers shared by the VMO/VMAR conformance tests (`tests/vmar.rs`,
//! `tests/vmar_protect.rs`, `tests/vmo.rs`, `tests/vm_frames.rs`): syscall
//! wrappers the common harness lacks, and page probes in the style of
//! Zircon's `check_pages_mapped`.
#![allow(dead_code)]

use std::sync::Arc;

use zx_subsystem::PAGE_SIZE;
use zx_subsystem::abi::*;
use zx_subsystem::arch::Arch;
use zx_subsystem::object::KernelObject;
use zx_subsystem::sim::Sim;
use zx_subsystem::syscall::SyscallNumber;
use zx_subsystem::vm::Vmo;

use crate::common::Env;

/// One page.
pub const P: u64 = PAGE_SIZE;

/// `kRwxMapPerm` of vmar.cc.
pub const RWX_MAP: u32 = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE | ZX_VM_PERM_EXECUTE;
/// `kRwxAllocPerm` of vmar.cc.
pub const RWX_ALLOC: u32 = ZX_VM_CAN_MAP_READ | ZX_VM_CAN_MAP_WRITE | ZX_VM_CAN_MAP_EXECUTE;
/// Read and write.
pub const RW: u32 = ZX_VM_PERM_READ | ZX_VM_PERM_WRITE;
/// `CAN_MAP_READ | CAN_MAP_WRITE`.
pub const CAN_RW: u32 = ZX_VM_CAN_MAP_READ | ZX_VM_CAN_MAP_WRITE;

/// Where scratch buffers for `zx_vmo_read`/`_write` live: page 1 of the
/// harness's scratch mapping (page 0 holds out-parameters).
fn buffer<A: Arch>(env: &Env<A>) -> u64 {
    env.scratch + P
}

/// The largest buffer [`vmo_read`] and [`vmo_write`] can pass.
pub const MAX_BUFFER: usize = 3 * PAGE_SIZE as usize;

/// `zx_vmo_write(h, data, offset)` through a user buffer.
pub fn vmo_write<A: Arch>(
    env: &Env<A>,
    h: zx_handle_t,
    offset: u64,
    data: &[u8],
) -> Result<(), Status> {
    assert!(data.len() <= MAX_BUFFER);
    if !data.is_empty() {
        env.write_bytes(buffer(env), data);
    }
    env.call_ok(
        SyscallNumber::VmoWrite,
        &[h as u64, buffer(env), offset, data.len() as u64],
    )
}

/// `zx_vmo_read(h, len bytes at offset)` through a user buffer.
pub fn vmo_read<A: Arch>(
    env: &Env<A>,
    h: zx_handle_t,
    offset: u64,
    len: usize,
) -> Result<Vec<u8>, Status> {
    assert!(len <= MAX_BUFFER);
    env.call_ok(
        SyscallNumber::VmoRead,
        &[h as u64, buffer(env), offset, len as u64],
    )?;
    let mut out = vec![0u8; len];
    env.process
        .aspace()
        .copy_from_user(buffer(env), &mut out)
        .expect("scratch readable");
    Ok(out)
}

/// `zx_vmo_read` of one byte.
pub fn vmo_byte<A: Arch>(env: &Env<A>, h: zx_handle_t, offset: u64) -> u8 {
    vmo_read(env, h, offset, 1).expect("vmo_read")[0]
}

/// `zx_vmo_get_size`.
pub fn vmo_size<A: Arch>(env: &Env<A>, h: zx_handle_t) -> Result<u64, Status> {
    env.call_ok(SyscallNumber::VmoGetSize, &[h as u64, env.out(5)])?;
    Ok(env.read_u64(env.out(5)))
}

/// `zx_vmo_set_size`.
pub fn vmo_set_size<A: Arch>(env: &Env<A>, h: zx_handle_t, size: u64) -> Result<(), Status> {
    env.call_ok(SyscallNumber::VmoSetSize, &[h as u64, size])
}

/// `zx_vmo_create_child`.
pub fn create_child<A: Arch>(
    env: &Env<A>,
    h: zx_handle_t,
    options: u32,
    offset: u64,
    size: u64,
) -> Result<zx_handle_t, Status> {
    env.call_ok(
        SyscallNumber::VmoCreateChild,
        &[h as u64, options as u64, offset, size, env.out(6)],
    )?;
    Ok(env.read_u32(env.out(6)))
}

/// `zx_vmar_destroy`.
pub fn destroy<A: Arch>(env: &Env<A>, h: zx_handle_t) -> Result<(), Status> {
    env.call_ok(SyscallNumber::VmarDestroy, &[h as u64])
}

/// The rights of handle `h`.
pub fn rights<A: Arch>(env: &Env<A>, h: zx_handle_t) -> Rights {
    Rights::from_bits_retain(env.info(h).expect("info").rights)
}

/// The VMO object behind handle `h`.
pub fn vmo_object<A: Arch>(env: &Env<A>, h: zx_handle_t) -> Arc<Vmo<Sim<A>>> {
    env.process
        .get_object::<Vmo<Sim<A>>>(h, Rights::empty())
        .expect("vmo handle")
        .0
}

/// A VMO handle with `EXECUTE` added, as a host (or Zircon's
/// `zx_vmo_replace_as_executable`) would give it: the crate has no
/// executable-VMO resource, so the test adds the right through the process's
/// handle table.
pub fn exec_vmo<A: Arch>(env: &Env<A>, size: u64) -> zx_handle_t {
    let h = env.vmo_create(size, 0).expect("vmo");
    let vmo = vmo_object(env, h);
    env.close(h).expect("close");
    env.process
        .add_handle(
            KernelObject::Vmo(vmo),
            Rights::DEFAULT_VMO | Rights::EXECUTE,
        )
        .expect("handle")
}

/// A fresh sub-VMAR of the root standing in for "a new process's root VMAR"
/// in tests that place things at `SPECIFIC` offsets (the harness's scratch
/// mapping sits at the root's base). Its handle has the root's rights
/// (`DEFAULT_VMAR | READ | WRITE | EXECUTE`).
pub fn playground<A: Arch>(env: &Env<A>, size: u64) -> (zx_handle_t, u64) {
    env.vmar_allocate(env.root_vmar, RWX_ALLOC | ZX_VM_CAN_MAP_SPECIFIC, 0, size)
        .expect("playground")
}

/// What user code can do with the page at `va`: (read probe, write probe).
/// The write stores back the byte read (0 if unreadable), so probing does
/// not change the contents.
pub type PageAccess = (Result<u8, Status>, Result<(), Status>);

/// Probes one page for read and write.
pub fn page_access<A: Arch>(env: &Env<A>, va: u64) -> PageAccess {
    let r = env.probe_read(va);
    let w = env.probe_write(va, *r.as_ref().unwrap_or(&0));
    (r, w)
}

/// Probes `n` pages from `base`.
pub fn access_map<A: Arch>(env: &Env<A>, base: u64, n: u64) -> Vec<PageAccess> {
    (0..n).map(|i| page_access(env, base + i * P)).collect()
}

/// Zircon's `check_pages_mapped`: bit `i` set when page `i` from `base` is
/// mapped (a read is allowed or denied by the protection; not `NOT_FOUND`).
pub fn pages_mapped<A: Arch>(env: &Env<A>, base: u64, n: u64) -> u64 {
    let mut bits = 0;
    for i in 0..n {
        match env.probe_read(base + i * P) {
            Ok(_) | Err(Status::AccessDenied) => bits |= 1 << i,
            Err(Status::NotFound) => {}
            Err(e) => panic!("page {i}: unexpected {e:?}"),
        }
    }
    bits
}

/// Whether page `i` from `base` accepts a user write (storing back what
/// it reads).
pub fn writable<A: Arch>(env: &Env<A>, va: u64) -> bool {
    page_access(env, va).1.is_ok()
}

/// An out-pointer no mapping covers.
pub const BAD_OUT: u64 = 1;

/// A raw `zx_vmar_map` of `len` bytes from VMO offset 0, placed anywhere,
/// with an explicit out pointer.
pub fn map_raw<A: Arch>(
    env: &Env<A>,
    vmar: u32,
    opts: u32,
    vmo: u32,
    len: u64,
    out: u64,
) -> Result<(), Status> {
    env.call_ok(
        SyscallNumber::VmarMap,
        &[vmar as u64, opts as u64, 0, vmo as u64, 0, len, out],
    )
}

/// Zircon's `VmoWrite(vmo, data, offset)` (`vmo/helpers.h`): one `u32` at
/// `offset`.
pub fn write_u32<A: Arch>(env: &Env<A>, h: zx_handle_t, offset: u64, value: u32) {
    vmo_write(env, h, offset, &value.to_ne_bytes()).expect("vmo_write");
}

/// Zircon's `VmoRead`: the `u32` at `offset`.
pub fn read_u32<A: Arch>(env: &Env<A>, h: zx_handle_t, offset: u64) -> u32 {
    let b = vmo_read(env, h, offset, 4).expect("vmo_read");
    u32::from_ne_bytes(b.try_into().expect("four bytes"))
}

/// Zircon's `InitPageTaggedVmo(pages)`: page `i` holds `i + 1` at its
/// start.
pub fn tagged_vmo<A: Arch>(env: &Env<A>, pages: u64, options: u32) -> zx_handle_t {
    let h = env.vmo_create(pages * P, options).expect("vmo_create");
    for i in 0..pages {
        write_u32(env, h, i * P, i as u32 + 1);
    }
    h
}

/// The frames in use once the harness's out-parameter and buffer pages are
/// committed: what a test that only creates, reads and writes VMOs
/// returns to.
pub fn settled<A: Arch>(env: &Env<A>) -> usize {
    let h = env.vmo_create(P, 0).expect("vmo_create");
    vmo_write(env, h, 0, &[0]).expect("vmo_write");
    env.close(h).expect("close");
    env.sim.frames_allocated()
}

//! Frame accounting: VMO pages and page-table frames all go back to the
//! machine when mappings are removed, handles closed, VMARs destroyed, and
//! the process is torn down or dropped.
#![cfg(feature = "sim")]

mod common;
mod vmhelp;

use common::Env;
use vmhelp::*;
use zx_subsystem::abi::*;
use zx_subsystem::arch::Arch;

const R: u32 = ZX_VM_PERM_READ;

/// Builds a busy address space: plain, sub-VMAR, snapshot (with copied and
/// shared pages) and slice mappings, spread over several page tables,
/// protected in pieces (including permissions 0, which frees tables), some
/// split by unmaps. Returns the handles it created.
fn populate<A: Arch>(env: &Env<A>) -> Vec<u32> {
    let mut handles = Vec::new();
    let vmo = env.vmo_create(64 * P, ZX_VMO_RESIZABLE).unwrap();
    vmo_write(env, vmo, 0, &[1; 64]).unwrap();
    vmo_write(env, vmo, 5 * P, &[2; 64]).unwrap();
    let fixed = env.vmo_create(16 * P, 0).unwrap();
    let snap = create_child(
        env,
        fixed,
        ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE,
        0,
        32 * P,
    )
    .unwrap();
    let slice = create_child(env, fixed, ZX_VMO_CHILD_SLICE, 4 * P, 8 * P).unwrap();
    vmo_write(env, fixed, 0, &[3; 16]).unwrap();
    handles.extend([vmo, fixed, snap, slice]);

    // A mapping across a 2 MiB boundary, so it spans two level-0 tables.
    let (pg, _) = env
        .vmar_allocate(
            env.root_vmar,
            RWX_ALLOC | ZX_VM_CAN_MAP_SPECIFIC | ZX_VM_ALIGN_2MB,
            0,
            8 << 20,
        )
        .unwrap();
    handles.push(pg);
    let a = env
        .vmar_map(pg, RW | ZX_VM_SPECIFIC, (2 << 20) - 8 * P, vmo, 0, 64 * P)
        .unwrap();
    for i in 0..64 {
        env.cpu_write(a + i * P, &[i as u8]).unwrap();
    }
    env.protect(pg, R, a + 4 * P, 8 * P).unwrap();
    env.protect(pg, 0, a + 16 * P, 32 * P).unwrap();
    env.protect(pg, RW, a + 20 * P, 4 * P).unwrap();
    env.cpu_write(a + 21 * P, &[9]).unwrap();
    env.unmap(pg, a + 30 * P, 2 * P).unwrap();

    // A sub-VMAR with snapshot and slice mappings.
    let (sub, _) = env
        .vmar_allocate(
            pg,
            CAN_RW | ZX_VM_SPECIFIC | ZX_VM_CAN_MAP_SPECIFIC,
            4 << 20,
            1 << 20,
        )
        .unwrap();
    handles.push(sub);
    let s = env.vmar_map(sub, RW, 0, snap, 0, 32 * P).unwrap();
    for i in 0..32 {
        env.probe_read(s + i * P).unwrap();
    }
    env.cpu_write(s, &[4]).unwrap();
    env.cpu_write(s + 20 * P, &[5]).unwrap();
    let l = env.vmar_map(sub, RW, 0, slice, 0, 8 * P).unwrap();
    env.cpu_write(l + P, &[6]).unwrap();
    env.protect(pg, R, s, 4 * P).unwrap();
    // A mapping of the root VMAR too.
    let r = env
        .vmar_map(env.root_vmar, RW, 0, fixed, 0, 16 * P)
        .unwrap();
    env.cpu_write(r + 15 * P, &[7]).unwrap();
    // MAP_RANGE, and SPECIFIC_OVERWRITE over part of a populated mapping.
    let m = env
        .vmar_map(
            pg,
            RW | ZX_VM_SPECIFIC | ZX_VM_MAP_RANGE,
            6 << 20,
            snap,
            0,
            32 * P,
        )
        .unwrap();
    env.cpu_write(m + 2 * P, &[8]).unwrap();
    env.vmar_map(
        pg,
        R | ZX_VM_SPECIFIC_OVERWRITE,
        (6 << 20) + 8 * P,
        fixed,
        0,
        4 * P,
    )
    .unwrap();
    env.probe_read(m + 9 * P).unwrap();
    // Shrinking a mapped VMO frees pages and their translations.
    vmo_set_size(env, vmo, 40 * P).unwrap();
    handles
}

/// The frames in use once the harness is set up (root table, the scratch
/// pages for out-parameters and for `zx_vmo_read`/`_write` buffers).
fn baseline<A: Arch>(env: &Env<A>) -> usize {
    let h = env.vmo_create(P, 0).unwrap();
    vmo_write(env, h, 0, &[0]).unwrap();
    env.close(h).unwrap();
    env.sim.frames_allocated()
}

/// Unmapping, destroying and closing everything gives back every frame.
fn unmap_and_close_free_everything<A: Arch>() {
    let env = Env::<A>::new();
    let before = baseline(&env);
    let handles = populate(&env);
    assert!(env.sim.frames_allocated() > before + 50);
    let (pg, sub) = (handles[4], handles[5]);
    // The root mapping by unmap, the sub-VMAR by destroy, the rest by an
    // unmap of the whole playground range (which also holds sub's range).
    let (pg_base, _) = {
        let info = env
            .process
            .get_object::<zx_subsystem::vm::Vmar<_>>(pg, Rights::empty())
            .unwrap()
            .0;
        info.range().unwrap()
    };
    assert_eq!(destroy(&env, sub), Ok(()));
    assert_eq!(env.unmap(pg, pg_base, 8 << 20), Ok(()));
    let root_mapping = env.sim.frames_allocated();
    for h in handles {
        env.close(h).unwrap();
    }
    assert!(
        env.sim.frames_allocated() < root_mapping,
        "closing freed VMO pages"
    );
    // What is left: the root mapping of `fixed`, which holds it alive.
    let left = env.sim.frames_allocated();
    let (root_base, root_size) = env.process.root_vmar().range().unwrap();
    let scratch_end = env.scratch + common::SCRATCH_PAGES * P;
    assert_eq!(
        env.unmap(
            env.root_vmar,
            scratch_end,
            root_base + root_size - scratch_end
        ),
        Ok(())
    );
    assert!(env.sim.frames_allocated() < left);
    assert_eq!(env.sim.frames_allocated(), before);
}

/// Dropping the whole environment frees every frame of the machine.
fn drop_frees_everything<A: Arch>() {
    let env = Env::<A>::new();
    let sim = env.sim.clone();
    populate(&env);
    assert!(sim.frames_allocated() > 50);
    drop(env);
    assert_eq!(sim.frames_allocated(), 0);
}

/// `Process::terminate` (process exit) closes the handles and tears the
/// address space down: every VMO page and page table goes, except the root
/// table, which lives until the process object is dropped.
fn terminate_frees_everything<A: Arch>() {
    let env = Env::<A>::new();
    populate(&env);
    // A VMO kept alive only by a mapping, whose handle was closed.
    let h = env.vmo_create(4 * P, 0).unwrap();
    let a = env.vmar_map(env.root_vmar, RW, 0, h, 0, 4 * P).unwrap();
    env.close(h).unwrap();
    env.cpu_write(a, &[1]).unwrap();
    env.process.terminate();
    assert_eq!(env.process.with_handles(|t| t.len()), 0);
    assert_eq!(
        env.sim.frames_allocated(),
        1,
        "only the root page table is left"
    );
    assert_eq!(env.probe_read(a), Err(Status::NotFound));
    let sim = env.sim.clone();
    drop(env);
    assert_eq!(sim.frames_allocated(), 0);
}

/// Destroying a sub-VMAR frees its page tables and, once the handles are
/// closed, its VMOs' pages; the rest of the address space is untouched.
fn destroy_frees_subtree<A: Arch>() {
    let env = Env::<A>::new();
    let before = baseline(&env);
    let (sub, _) = env
        .vmar_allocate(env.root_vmar, RWX_ALLOC | ZX_VM_ALIGN_1GB, 0, 1 << 30)
        .unwrap();
    let (inner, _) = env.vmar_allocate(sub, CAN_RW, 0, 64 << 20).unwrap();
    let vmo = env.vmo_create(16 * P, 0).unwrap();
    for vmar in [sub, inner] {
        let a = env.vmar_map(vmar, RW, 0, vmo, 0, 16 * P).unwrap();
        for i in 0..16 {
            env.cpu_write(a + i * P, &[1]).unwrap();
        }
    }
    assert_eq!(destroy(&env, sub), Ok(()));
    // VMO pages are still referenced by the handle.
    assert_eq!(env.sim.frames_allocated(), before + 16);
    env.close(vmo).unwrap();
    assert_eq!(env.sim.frames_allocated(), before);
}

both_arches!(
    unmap_and_close_free_everything,
    drop_frees_everything,
    terminate_frees_everything,
    destroy_frees_subtree,
);

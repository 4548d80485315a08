//! Runs operations on a real kernel (on [`Sim`]) and on the [`Model`] side
//! by side, and checks the kernel's invariants after every step.
//!
//! [`Harness::new`] builds one process whose VMAR window (a sub-VMAR of
//! [`WINDOW_PAGES`] pages at [`WINDOW_OFFSET`] in the root VMAR, every
//! `CAN_MAP_*`) is the model's top region; its handle is the only one the
//! process starts with. Out-parameters go to a scratch mapping outside the
//! window. [`Harness::step`] runs one [`Op`] through the syscall table (or
//! the soft MMU and the fault handler, for [`Op::Touch`]), compares the
//! outcome with the model, then [`Harness::check`] verifies:
//!
//! - handles: the table holds exactly the model's handles, each with the
//!   model's rights, type and koid (so rights never grow);
//! - the VMAR tree (from [`AddressSpace::layout`]): children filed under
//!   their base, sorted, disjoint, inside their parent, none unreachable,
//!   protections inside the mapping's maximum and the maximum inside the
//!   region's `CAN_MAP_*`; the window's regions and every page's mapping
//!   (VMO, offset, maximum, protection) equal the model's;
//! - page tables, probed through the soft MMU for every page of the window:
//!   a translation only where the model has a mapping with some permission,
//!   with exactly the model's permissions (except that a page of a VMO
//!   whose tree had copy-on-write children may lack `WRITE` until it is
//!   written), to a live frame, the same frame for the same VMO byte
//!   everywhere (through slices); a frame translated writable for one
//!   VMO page translated for no other (a snapshot never shares a frame it
//!   can write; only an at-least-on-write child through a slice may read
//!   its parent's); and no TLB entry the tables no longer back;
//! - every translation of the process (scratch mapping included) shows the
//!   frame its VMO shows, writable only if that frame is the VMO's own
//!   ([`AddressSpace::audit_views`]);
//! - a failed call allocated no frame;
//!
//! and [`Harness::finish`] closes every handle, tears the process down and
//! checks that every frame came back.
//!
//! [`AddressSpace::layout`]: crate::vm::AddressSpace::layout
//! [`AddressSpace::audit_views`]: crate::vm::AddressSpace::audit_views

use std::collections::BTreeMap;
use std::format;
use std::string::String;
use std::sync::Arc;
use std::vec::Vec;

use crate::Kernel;
use crate::abi::{
    Pod, Rights, Status, ZX_INFO_HANDLE_BASIC, ZX_VM_CAN_MAP_EXECUTE, ZX_VM_CAN_MAP_READ,
    ZX_VM_CAN_MAP_SPECIFIC, ZX_VM_CAN_MAP_WRITE, ZX_VM_SPECIFIC, zx_info_handle_basic_t,
};
use crate::arch::Arch;
use crate::object::{KernelObject, Process, Thread};
use crate::platform::{PAGE_SIZE, PhysAddr};
use crate::sim::Sim;
use crate::syscall::SyscallNumber;
use crate::trap::Access;
use crate::vm::inspect::{Layout, LayoutChild};
use crate::vm::{Perms, Placement, Vmo};

use super::{Mismatch, Model, Object, Outcome, Touch};

/// Pages in the model's window.
pub const WINDOW_PAGES: u64 = 32;
/// Offset of the window from the root VMAR's base.
pub const WINDOW_OFFSET: u64 = 1 << 30;

/// Names a handle for an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandleRef {
    /// The `n`-th live handle (modulo their number) in value order.
    Live(u8),
    /// The `n`-th live VMAR handle (modulo their number).
    Vmar(u8),
    /// The `n`-th live VMO handle (modulo their number).
    Vmo(u8),
    /// A raw value (likely invalid).
    Raw(u32),
}

/// Names an address for an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrRef {
    /// Window base + `page` pages + `byte` bytes (`page` may fall outside).
    Page(i16, u16),
    /// The first page of the `n`-th run of mapped pages (modulo their
    /// number; the window's base if nothing is mapped) + `page` pages.
    Mapped(u8, i8),
    /// A raw address.
    Raw(u64),
}

/// One operation. Fields are the syscall's arguments, named as in its C
/// signature.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `zx_vmo_create(size, options)`.
    VmoCreate { size: u64, options: u32 },
    /// `zx_vmo_read` of one byte.
    VmoRead { vmo: HandleRef, offset: u64 },
    /// `zx_vmo_write` of one byte.
    VmoWrite {
        vmo: HandleRef,
        offset: u64,
        value: u8,
    },
    /// `zx_vmo_set_size`.
    VmoSetSize { vmo: HandleRef, size: u64 },
    /// `zx_vmo_create_child`.
    CreateChild {
        vmo: HandleRef,
        options: u32,
        offset: u64,
        size: u64,
    },
    /// `zx_vmar_map`; `offset` is relative to the VMAR.
    Map {
        vmar: HandleRef,
        options: u32,
        offset: u64,
        vmo: HandleRef,
        vmo_offset: u64,
        len: u64,
    },
    /// `zx_vmar_unmap`.
    Unmap {
        vmar: HandleRef,
        addr: AddrRef,
        len: u64,
    },
    /// `zx_vmar_protect`.
    Protect {
        vmar: HandleRef,
        options: u32,
        addr: AddrRef,
        len: u64,
    },
    /// `zx_vmar_allocate`.
    Allocate {
        vmar: HandleRef,
        options: u32,
        offset: u64,
        size: u64,
    },
    /// `zx_vmar_destroy`.
    Destroy { vmar: HandleRef },
    /// `zx_handle_duplicate`.
    Duplicate { handle: HandleRef, rights: u32 },
    /// `zx_handle_replace`.
    Replace { handle: HandleRef, rights: u32 },
    /// `zx_handle_close`.
    Close { handle: HandleRef },
    /// A user-mode load, store or fetch.
    Touch {
        addr: AddrRef,
        access: Access,
        value: u8,
    },
    /// The next operation may allocate at most `frames` frames.
    FailAfter { frames: u8 },
}

impl Op {
    /// The operation's name.
    pub fn name(&self) -> &'static str {
        match self {
            Op::VmoCreate { .. } => "vmo_create",
            Op::VmoRead { .. } => "vmo_read",
            Op::VmoWrite { .. } => "vmo_write",
            Op::VmoSetSize { .. } => "vmo_set_size",
            Op::CreateChild { .. } => "vmo_create_child",
            Op::Map { .. } => "map",
            Op::Unmap { .. } => "unmap",
            Op::Protect { .. } => "protect",
            Op::Allocate { .. } => "allocate",
            Op::Destroy { .. } => "destroy",
            Op::Duplicate { .. } => "duplicate",
            Op::Replace { .. } => "replace",
            Op::Close { .. } => "close",
            Op::Touch { .. } => "touch",
            Op::FailAfter { .. } => "fail_after",
        }
    }
}

/// A kernel, one process, and the model of its window.
pub struct Harness<A: Arch> {
    /// The simulated machine.
    pub sim: Sim<A>,
    /// The kernel.
    pub kernel: Kernel<Sim<A>>,
    /// The process.
    pub process: Arc<Process<Sim<A>>>,
    /// Its thread.
    pub thread: Arc<Thread<Sim<A>>>,
    /// The model of the window.
    pub model: Model,
    /// How often each operation gave each status so far (to show what a
    /// run covered).
    pub outcomes: BTreeMap<(&'static str, &'static str), usize>,
    scratch: u64,
    window: u64,
    frame_limit: Option<u8>,
}

const OUT_HANDLE: u64 = 0;
const OUT_ADDR: u64 = 8;
const OUT_INFO: u64 = 64;
const BYTE_BUF: u64 = 128;

/// A translation of a frame: the VMO page behind it (through slices), as
/// (model VMO index, offset); whether it is writable; whether that VMO's
/// bytes are unpredictable (it may share its parent's frames).
type FrameUser = ((usize, u64), bool, bool);

fn status(raw: i32) -> Result<Outcome<()>, Mismatch> {
    match Status::try_from(raw) {
        Ok(Status::Ok) => Ok(Ok(())),
        Ok(s) => Ok(Err(s)),
        Err(_) => Err(format!("unknown status {raw}")),
    }
}

impl<A: Arch> Harness<A> {
    /// A fresh machine, kernel, process and window.
    ///
    /// # Panics
    ///
    /// If the setup itself fails (it never should).
    pub fn new() -> Harness<A> {
        let sim = Sim::<A>::new();
        let kernel = Kernel::new(sim.clone());
        let job = kernel.root_job().create_child().expect("job");
        let process = kernel.create_process(&job).expect("process");
        let thread = process.create_thread(1).expect("thread");
        let vmo = Vmo::create(&sim, PAGE_SIZE, false).expect("scratch vmo");
        let scratch = process
            .root_vmar()
            .map(
                Placement::ANYWHERE,
                &vmo,
                0,
                PAGE_SIZE,
                Perms::READ | Perms::WRITE,
            )
            .expect("scratch");
        let root_rights = Rights::DEFAULT_VMAR | Rights::READ | Rights::WRITE | Rights::EXECUTE;
        let root = process
            .add_handle(KernelObject::Vmar(process.root_vmar().clone()), root_rights)
            .expect("root handle");
        let mut h = Harness {
            sim,
            kernel,
            process,
            thread,
            model: Model::default(),
            outcomes: BTreeMap::new(),
            scratch,
            window: 0,
            frame_limit: None,
        };
        let options = ZX_VM_SPECIFIC
            | ZX_VM_CAN_MAP_SPECIFIC
            | ZX_VM_CAN_MAP_READ
            | ZX_VM_CAN_MAP_WRITE
            | ZX_VM_CAN_MAP_EXECUTE;
        let st = h.call(
            SyscallNumber::VmarAllocate,
            &[
                root.into(),
                options.into(),
                WINDOW_OFFSET,
                WINDOW_PAGES * PAGE_SIZE,
                h.scratch + OUT_HANDLE,
                h.scratch + OUT_ADDR,
            ],
        );
        assert_eq!(st, 0, "window allocation");
        let window_handle = h.read_u32(OUT_HANDLE);
        h.window = h.read_u64(OUT_ADDR);
        assert_eq!(h.call(SyscallNumber::HandleClose, &[root.into()]), 0);
        let info = h.info(window_handle).expect("window info");
        h.model = Model::new(
            h.window,
            WINDOW_PAGES * PAGE_SIZE,
            window_handle,
            Rights::from_bits_retain(info.rights),
            info.koid,
        );
        h
    }

    /// The window's base address.
    pub fn window(&self) -> u64 {
        self.window
    }

    fn call(&self, nr: SyscallNumber, args: &[u64]) -> i32 {
        let mut a = [0u64; 8];
        a[..args.len()].copy_from_slice(args);
        self.kernel.syscall_raw(&self.thread, nr as u64, a)
    }

    fn read_bytes<const N: usize>(&self, at: u64) -> [u8; N] {
        let mut b = [0u8; N];
        self.process
            .aspace()
            .copy_from_user(self.scratch + at, &mut b)
            .expect("scratch read");
        b
    }

    fn read_u32(&self, at: u64) -> u32 {
        u32::from_ne_bytes(self.read_bytes(at))
    }

    fn read_u64(&self, at: u64) -> u64 {
        u64::from_ne_bytes(self.read_bytes(at))
    }

    fn info(&self, h: u32) -> Outcome<zx_info_handle_basic_t> {
        let buf = self.scratch + OUT_INFO;
        let raw = self.call(
            SyscallNumber::ObjectGetInfo,
            &[h.into(), ZX_INFO_HANDLE_BASIC.into(), buf, 32, 0, 0],
        );
        match Status::try_from(raw) {
            Ok(Status::Ok) => {
                let b: [u8; 32] = self.read_bytes(OUT_INFO);
                Ok(zx_info_handle_basic_t::from_bytes(&b).expect("info layout"))
            }
            Ok(s) => Err(s),
            Err(_) => Err(Status::Internal),
        }
    }

    fn handle(&self, r: HandleRef) -> u32 {
        match r {
            HandleRef::Raw(v) => v,
            HandleRef::Live(n) | HandleRef::Vmar(n) | HandleRef::Vmo(n) => {
                let values: Vec<u32> = self
                    .model
                    .handles
                    .iter()
                    .filter(|(_, i)| match r {
                        HandleRef::Vmar(_) => matches!(i.object, Object::Vmar(_)),
                        HandleRef::Vmo(_) => matches!(i.object, Object::Vmo(_)),
                        _ => true,
                    })
                    .map(|(v, _)| *v)
                    .collect();
                if values.is_empty() {
                    0
                } else {
                    values[usize::from(n) % values.len()]
                }
            }
        }
    }

    fn addr(&self, a: AddrRef) -> u64 {
        match a {
            AddrRef::Raw(v) => v,
            AddrRef::Mapped(n, page) => {
                let runs: Vec<u64> = self
                    .model
                    .pages
                    .keys()
                    .filter(|va| !self.model.pages.contains_key(&(*va - PAGE_SIZE)))
                    .copied()
                    .collect();
                let start = if runs.is_empty() {
                    self.window
                } else {
                    runs[usize::from(n) % runs.len()]
                };
                start.wrapping_add_signed(i64::from(page) * PAGE_SIZE as i64)
            }
            AddrRef::Page(page, byte) => self
                .window
                .wrapping_add_signed(i64::from(page) * PAGE_SIZE as i64)
                .wrapping_add(u64::from(byte)),
        }
    }

    /// The koid of the handle `h` names, as `ZX_INFO_HANDLE_BASIC` says.
    fn koid(&self, h: u32) -> Result<u64, Mismatch> {
        self.info(h)
            .map(|i| i.koid)
            .map_err(|s| format!("get_info of a new handle: {s:?}"))
    }

    /// Runs `op` on the kernel and the model and compares them.
    ///
    /// # Errors
    ///
    /// The first difference, or broken invariant, described.
    pub fn step(&mut self, op: &Op) -> Result<(), Mismatch> {
        if let Op::FailAfter { frames } = *op {
            self.frame_limit = Some(frames);
            return Ok(());
        }
        let limited = self.frame_limit.take();
        if let Some(n) = limited {
            self.sim.fail_after(usize::from(n));
        }
        let before = self.sim.frames_allocated();
        let result = self.apply(op);
        self.sim.set_frame_limit(None);
        let failed = result.map_err(|e| format!("{op:x?}: {e}"))?;
        *self
            .outcomes
            .entry((op.name(), failed.map_or("ZX_OK", Status::name)))
            .or_default() += 1;
        if let Some(s) = failed {
            if s == Status::NoMemory && limited.is_none() {
                return Err(format!("{op:?}: NO_MEMORY without a frame limit"));
            }
            let after = self.sim.frames_allocated();
            // A failed replace still closes its source (which may free a
            // VMO and its pages).
            let closes = matches!(op, Op::Replace { .. });
            if s != Status::NoMemory && !closes && after != before {
                return Err(format!(
                    "{op:?} failed with {s:?} but frames went {before} -> {after}"
                ));
            }
        }
        self.check().map_err(|e| format!("after {op:?}: {e}"))
    }

    /// Runs `op`; returns the failure status, if it failed.
    fn apply(&mut self, op: &Op) -> Result<Option<Status>, Mismatch> {
        let out = |at: u64| self.scratch + at;
        let (fail, res): (Option<Status>, Result<(), Mismatch>) = match *op {
            Op::VmoCreate { size, options } => {
                let st = status(self.call(
                    SyscallNumber::VmoCreate,
                    &[size, options.into(), out(OUT_HANDLE)],
                ))?;
                let actual = match st {
                    Ok(()) => {
                        let h = self.read_u32(OUT_HANDLE);
                        Ok((h, self.koid(h)?))
                    }
                    Err(e) => Err(e),
                };
                (st.err(), self.model.vmo_create(size, options, actual))
            }
            Op::VmoRead { vmo, offset } => {
                let h = self.handle(vmo);
                let st = status(self.call(
                    SyscallNumber::VmoRead,
                    &[h.into(), out(BYTE_BUF), offset, 1],
                ))?;
                let actual = st.map(|()| self.read_bytes::<1>(BYTE_BUF)[0]);
                (st.err(), self.model.vmo_read(h, offset, actual))
            }
            Op::VmoWrite { vmo, offset, value } => {
                let h = self.handle(vmo);
                self.process
                    .aspace()
                    .copy_to_user(out(BYTE_BUF), &[value])
                    .map_err(|e| format!("scratch write: {e}"))?;
                let st = status(self.call(
                    SyscallNumber::VmoWrite,
                    &[h.into(), out(BYTE_BUF), offset, 1],
                ))?;
                (st.err(), self.model.vmo_write(h, offset, value, st))
            }
            Op::VmoSetSize { vmo, size } => {
                let h = self.handle(vmo);
                let st = status(self.call(SyscallNumber::VmoSetSize, &[h.into(), size]))?;
                (st.err(), self.model.vmo_set_size(h, size, st))
            }
            Op::CreateChild {
                vmo,
                options,
                offset,
                size,
            } => {
                let h = self.handle(vmo);
                let st = status(self.call(
                    SyscallNumber::VmoCreateChild,
                    &[h.into(), options.into(), offset, size, out(OUT_HANDLE)],
                ))?;
                let actual = match st {
                    Ok(()) => {
                        let child = self.read_u32(OUT_HANDLE);
                        Ok((child, self.koid(child)?))
                    }
                    Err(e) => Err(e),
                };
                let r = self
                    .model
                    .vmo_create_child(h, options, offset, size, actual);
                (st.err(), r)
            }
            Op::Map {
                vmar,
                options,
                offset,
                vmo,
                vmo_offset,
                len,
            } => {
                let (hv, ho) = (self.handle(vmar), self.handle(vmo));
                let st = status(self.call(
                    SyscallNumber::VmarMap,
                    &[
                        hv.into(),
                        options.into(),
                        offset,
                        ho.into(),
                        vmo_offset,
                        len,
                        out(OUT_ADDR),
                    ],
                ))?;
                let actual = st.map(|()| self.read_u64(OUT_ADDR));
                let r = self
                    .model
                    .vmar_map(hv, options, offset, ho, vmo_offset, len, actual);
                (st.err(), r)
            }
            Op::Unmap { vmar, addr, len } => {
                let (h, a) = (self.handle(vmar), self.addr(addr));
                let st = status(self.call(SyscallNumber::VmarUnmap, &[h.into(), a, len]))?;
                (st.err(), self.model.vmar_unmap(h, a, len, st))
            }
            Op::Protect {
                vmar,
                options,
                addr,
                len,
            } => {
                let (h, a) = (self.handle(vmar), self.addr(addr));
                let st = status(self.call(
                    SyscallNumber::VmarProtect,
                    &[h.into(), options.into(), a, len],
                ))?;
                (st.err(), self.model.vmar_protect(h, options, a, len, st))
            }
            Op::Allocate {
                vmar,
                options,
                offset,
                size,
            } => {
                let h = self.handle(vmar);
                let st = status(self.call(
                    SyscallNumber::VmarAllocate,
                    &[
                        h.into(),
                        options.into(),
                        offset,
                        size,
                        out(OUT_HANDLE),
                        out(OUT_ADDR),
                    ],
                ))?;
                let actual = match st {
                    Ok(()) => {
                        let child = self.read_u32(OUT_HANDLE);
                        Ok((child, self.read_u64(OUT_ADDR), self.koid(child)?))
                    }
                    Err(e) => Err(e),
                };
                let r = self.model.vmar_allocate(h, options, offset, size, actual);
                (st.err(), r)
            }
            Op::Destroy { vmar } => {
                let h = self.handle(vmar);
                let st = status(self.call(SyscallNumber::VmarDestroy, &[h.into()]))?;
                (st.err(), self.model.vmar_destroy(h, st))
            }
            Op::Duplicate { handle, rights } | Op::Replace { handle, rights } => {
                let h = self.handle(handle);
                let nr = if matches!(op, Op::Duplicate { .. }) {
                    SyscallNumber::HandleDuplicate
                } else {
                    SyscallNumber::HandleReplace
                };
                let st = status(self.call(nr, &[h.into(), rights.into(), out(OUT_HANDLE)]))?;
                let actual = st.map(|()| self.read_u32(OUT_HANDLE));
                let r = if nr == SyscallNumber::HandleDuplicate {
                    self.model.handle_duplicate(h, rights, actual)
                } else {
                    self.model.handle_replace(h, rights, actual)
                };
                (st.err(), r)
            }
            Op::Close { handle } => {
                let h = self.handle(handle);
                let st = status(self.call(SyscallNumber::HandleClose, &[h.into()]))?;
                (st.err(), self.model.handle_close(h, st))
            }
            Op::Touch {
                addr,
                access,
                value,
            } => {
                // The model knows only the window (outside it the process
                // has its scratch mapping): wrap into it.
                let size = WINDOW_PAGES * PAGE_SIZE;
                let va = self.addr(addr);
                let va = if va.wrapping_sub(self.window) < size {
                    va
                } else {
                    self.window + va % size
                };
                let t = Touch { va, access, value };
                let actual = self.touch(t)?;
                (actual.err(), self.model.touch(t, actual))
            }
            Op::FailAfter { .. } => (None, Ok(())),
        };
        res.map(|()| fail)
    }

    /// A user-mode access through the soft MMU, with the crate's fault
    /// handler resolving faults, as a CPU and the host kernel would.
    fn touch(&self, t: Touch) -> Result<Outcome<u8>, Mismatch> {
        let aspace = self.process.aspace();
        let (root, asid) = (aspace.root_table(), aspace.asid());
        for _ in 0..6 {
            let r = match t.access {
                Access::Read => {
                    let mut b = [0u8; 1];
                    self.sim.user_read(root, asid, t.va, &mut b).map(|()| b[0])
                }
                Access::Write => self
                    .sim
                    .user_write(root, asid, t.va, &[t.value])
                    .map(|()| 0),
                Access::Execute => self
                    .sim
                    .translate(root, asid, t.va, Access::Execute, true)
                    .map(|_| 0),
            };
            match r {
                Ok(v) => return Ok(Ok(v)),
                Err(f) => {
                    if let Err(e) = aspace.page_fault(f.va, t.access) {
                        return Ok(Err(e.status()));
                    }
                }
            }
        }
        Err(format!("{t:?} keeps faulting after the fault was resolved"))
    }

    /// Checks every invariant (see the module docs).
    ///
    /// # Errors
    ///
    /// The first broken one, described.
    pub fn check(&self) -> Result<(), Mismatch> {
        self.check_handles()?;
        let layout = self.process.aspace().layout();
        check_layout(&layout)?;
        self.compare_layout(&layout)?;
        self.check_translations()?;
        self.process
            .aspace()
            .audit_views(u64::MAX)
            .map_err(|e| format!("translation and VMO disagree: {e}"))
    }

    fn check_handles(&self) -> Result<(), Mismatch> {
        let live = self.process.with_handles(|t| t.len());
        if live != self.model.handles.len() {
            return Err(format!(
                "kernel holds {live} handles, model {}",
                self.model.handles.len()
            ));
        }
        for (&h, info) in &self.model.handles {
            let got = self
                .info(h)
                .map_err(|s| format!("get_info({h:#x}): {s:?}"))?;
            let (koid, ty) = match info.object {
                Object::Vmar(r) => (self.model.regions[r].koid, 2),
                Object::Vmo(v) => (self.model.vmos[v].koid, 3),
            };
            let ty = if ty == 2 {
                crate::abi::ObjectType::Vmar
            } else {
                crate::abi::ObjectType::Vmo
            };
            if got.rights != info.rights.bits() || got.koid != koid || got.type_ != ty.into_raw() {
                return Err(format!(
                    "handle {h:#x}: kernel rights {:#x} koid {} type {}, model {:#x} {koid} {:?}",
                    got.rights,
                    got.koid,
                    got.type_,
                    info.rights.bits(),
                    ty
                ));
            }
        }
        Ok(())
    }

    fn compare_layout(&self, layout: &Layout) -> Result<(), Mismatch> {
        type RegionKey = (u64, u64, u64, u32, bool);
        let top_koid = self.model.regions[0].koid;
        let top = layout.regions.iter().position(|r| r.koid == top_koid);
        // Kernel regions and pages under the window.
        let mut got_regions: Vec<RegionKey> = Vec::new();
        let mut got_pages = BTreeMap::new();
        if let Some(top) = top {
            let under = |mut i: usize| loop {
                if i == top {
                    return true;
                }
                match layout.regions[i].parent {
                    Some(p) => i = p,
                    None => return false,
                }
            };
            for (i, r) in layout.regions.iter().enumerate() {
                if under(i) {
                    got_regions.push((
                        r.koid,
                        r.base,
                        r.size,
                        r.can_map.bits(),
                        r.can_map_specific,
                    ));
                }
            }
            for m in &layout.mappings {
                if !under(m.region) {
                    continue;
                }
                for (lo, hi, prot) in &m.prot {
                    let mut va = *lo;
                    while va < *hi {
                        let key = (
                            layout.regions[m.region].koid,
                            m.vmo_koid,
                            m.vmo_offset + (va - m.base),
                            m.max,
                            *prot,
                        );
                        got_pages.insert(va, key);
                        va += PAGE_SIZE;
                    }
                }
            }
        }
        let mut want_regions: Vec<RegionKey> = self
            .model
            .live_regions()
            .map(|(_, r)| (r.koid, r.base, r.size, r.can_map.bits(), r.can_map_specific))
            .collect();
        got_regions.sort();
        want_regions.sort();
        if got_regions != want_regions {
            return Err(format!(
                "regions: kernel {got_regions:x?}, model {want_regions:x?}"
            ));
        }
        let want_pages: BTreeMap<u64, _> = self
            .model
            .pages
            .iter()
            .map(|(va, p)| {
                let key = (
                    self.model.regions[p.region].koid,
                    self.model.vmos[p.vmo].koid,
                    p.vmo_offset,
                    p.max,
                    p.prot,
                );
                (*va, key)
            })
            .collect();
        if got_pages != want_pages {
            let diff = want_pages
                .iter()
                .find(|(va, k)| got_pages.get(*va) != Some(*k))
                .map(|(va, k)| (*va, Some(*k), got_pages.get(va).copied()))
                .or_else(|| {
                    got_pages
                        .iter()
                        .find(|(va, _)| !want_pages.contains_key(*va))
                        .map(|(va, k)| (*va, None, Some(*k)))
                });
            return Err(format!(
                "mapped pages differ: (va, model, kernel) {diff:x?}"
            ));
        }
        Ok(())
    }

    fn check_translations(&self) -> Result<(), Mismatch> {
        let aspace = self.process.aspace();
        let (root, asid) = (aspace.root_table(), aspace.asid());
        // The frame each backing VMO byte range (through slices) shows.
        let mut frames: BTreeMap<(usize, u64), PhysAddr> = BTreeMap::new();
        // Who translates each frame: (backing page, writable, fuzzy).
        let mut users: BTreeMap<PhysAddr, Vec<FrameUser>> = BTreeMap::new();
        for i in 0..WINDOW_PAGES {
            let va = self.window + i * PAGE_SIZE;
            if self.sim.tlb_stale(root, asid, va) {
                return Err(format!("stale TLB entry for {va:#x}"));
            }
            let Some(e) = self.sim.table_entry(root, va) else {
                continue;
            };
            let Some(p) = self.model.pages.get(&va) else {
                return Err(format!("{va:#x} translates but nothing is mapped: {e:?}"));
            };
            let vmo = &self.model.vmos[p.vmo];
            if p.vmo_offset >= vmo.size {
                return Err(format!("{va:#x} translates beyond its VMO's end"));
            }
            let want_write = p.prot.contains(Perms::WRITE);
            let write_ok = e.write == want_write || (want_write && self.model.may_share(p.vmo));
            if e.read != p.prot.contains(Perms::READ)
                || !write_ok
                || e.execute != p.prot.contains(Perms::EXECUTE)
            {
                return Err(format!(
                    "{va:#x}: page table gives r/w/x {:?}, protection is {:?}",
                    (e.read, e.write, e.execute),
                    p.prot
                ));
            }
            if !self.sim.owns_frame(e.pa) {
                return Err(format!(
                    "{va:#x} translates to a freed frame {:#x}",
                    e.pa.as_u64()
                ));
            }
            let page = PhysAddr::new(e.pa.as_u64() & !(PAGE_SIZE - 1));
            let backing = self.model.backing(p.vmo, p.vmo_offset);
            if let Some(prev) = frames.insert(backing, page)
                && prev != page
            {
                return Err(format!(
                    "VMO {} offset {:#x} is mapped to two frames",
                    vmo.koid, p.vmo_offset
                ));
            }
            let fuzzy = self.model.vmos[backing.0].fuzzy;
            users
                .entry(page)
                .or_default()
                .push((backing, e.write, fuzzy));
        }
        for (frame, who) in &users {
            for (key, writable, _) in who.iter().filter(|w| w.1) {
                if let Some(other) = who.iter().find(|o| o.0 != *key && !o.2) {
                    return Err(format!(
                        "frame {:#x} is writable for VMO {} page {:#x} (writable {writable}) \
                         and translated for VMO {} page {:#x} too",
                        frame.as_u64(),
                        self.model.vmos[key.0].koid,
                        key.1,
                        self.model.vmos[other.0.0].koid,
                        other.0.1
                    ));
                }
            }
        }
        Ok(())
    }

    /// Closes every handle through the syscall table, tears the process
    /// down, drops everything and checks that every frame was freed.
    ///
    /// # Errors
    ///
    /// A close that failed, or frames still allocated.
    pub fn finish(self) -> Result<(), Mismatch> {
        for h in self.model.handle_values() {
            let st = self.call(SyscallNumber::HandleClose, &[h.into()]);
            if st != 0 {
                return Err(format!("closing {h:#x} gave {st}"));
            }
        }
        let Harness {
            sim,
            kernel,
            process,
            thread,
            ..
        } = self;
        thread.exit();
        process.aspace().teardown();
        process.terminate();
        drop(thread);
        drop(process);
        drop(kernel);
        let left = sim.frames_allocated();
        if left != 0 {
            return Err(format!("{left} frames leaked after teardown"));
        }
        Ok(())
    }
}

impl<A: Arch> Default for Harness<A> {
    fn default() -> Self {
        Self::new()
    }
}

/// The VMAR tree's structural invariants.
///
/// # Errors
///
/// The first broken one, described.
pub fn check_layout(layout: &Layout) -> Result<(), Mismatch> {
    if layout.stored_regions != layout.regions.len()
        || layout.stored_mappings != layout.mappings.len()
    {
        return Err(format!(
            "unreachable nodes: {} regions stored, {} reachable; {} mappings stored, {} reachable",
            layout.stored_regions,
            layout.regions.len(),
            layout.stored_mappings,
            layout.mappings.len()
        ));
    }
    for (i, r) in layout.regions.iter().enumerate() {
        if r.size == 0 || r.base % PAGE_SIZE != 0 || r.size % PAGE_SIZE != 0 {
            return Err(format!(
                "region {:#x}+{:#x} empty or unaligned",
                r.base, r.size
            ));
        }
        let mut prev_end = r.base;
        for &(key, child) in &r.children {
            let (base, size) = match child {
                LayoutChild::Region(c) => {
                    let c = layout
                        .regions
                        .get(c)
                        .ok_or_else(|| format!("region {:#x} has a dangling child", r.base))?;
                    if c.parent != Some(i) {
                        return Err(format!("region {:#x}: child's parent differs", c.base));
                    }
                    if !r.can_map.contains(c.can_map) {
                        return Err(format!(
                            "sub-VMAR {:#x} may map more than its parent",
                            c.base
                        ));
                    }
                    (c.base, c.size)
                }
                LayoutChild::Mapping(m) => {
                    let m = &layout.mappings[m];
                    check_mapping(m, r.can_map)?;
                    (m.base, m.size)
                }
            };
            if key != base {
                return Err(format!("child at {base:#x} filed under {key:#x}"));
            }
            if base < prev_end {
                return Err(format!("child at {base:#x} overlaps its left sibling"));
            }
            let end = base
                .checked_add(size)
                .filter(|e| *e <= r.base + r.size)
                .ok_or_else(|| format!("child at {base:#x}+{size:#x} leaves its parent"))?;
            prev_end = end;
        }
    }
    Ok(())
}

fn check_mapping(m: &crate::vm::inspect::MappingInfo, can_map: Perms) -> Result<(), Mismatch> {
    if m.size == 0 || !m.base.is_multiple_of(PAGE_SIZE) || !m.size.is_multiple_of(PAGE_SIZE) {
        return Err(format!(
            "mapping {:#x}+{:#x} empty or unaligned",
            m.base, m.size
        ));
    }
    if !can_map.contains(m.max) {
        return Err(format!("mapping {:#x}: maximum beyond the VMAR's", m.base));
    }
    let mut at = m.base;
    for &(lo, hi, prot) in &m.prot {
        if lo != at || hi <= lo || lo % PAGE_SIZE != 0 || hi % PAGE_SIZE != 0 {
            return Err(format!(
                "mapping {:#x}: protection pieces {:x?}",
                m.base, m.prot
            ));
        }
        if !m.max.contains(prot) {
            return Err(format!(
                "mapping {:#x}: protection beyond the maximum",
                m.base
            ));
        }
        at = hi;
    }
    if at != m.base + m.size {
        return Err(format!(
            "mapping {:#x}: protection pieces {:x?}",
            m.base, m.prot
        ));
    }
    Ok(())
}

/// Runs `ops` on a fresh [`Harness`], then finishes it.
///
/// # Errors
///
/// The first mismatch, with the step number.
pub fn run_ops<A: Arch>(ops: &[Op]) -> Result<(), String> {
    let mut h = Harness::<A>::new();
    h.check().map_err(|e| format!("initial state: {e}"))?;
    for (i, op) in ops.iter().enumerate() {
        h.step(op).map_err(|e| format!("step {i}: {e}"))?;
    }
    h.finish()
}

/// Checks that no page of any mapping in `layout` translates to more than
/// its protection allows, or to a frame the machine does not own. Huge
/// mappings are sampled: their first and last `sample` pages.
///
/// # Errors
///
/// The first offending page, described.
pub fn check_translations_within<A: Arch>(
    sim: &Sim<A>,
    root: PhysAddr,
    layout: &Layout,
    sample: u64,
) -> Result<(), Mismatch> {
    for m in &layout.mappings {
        let pages = m.size / PAGE_SIZE;
        let picks = (0..pages.min(sample)).chain(pages.saturating_sub(sample).max(sample)..pages);
        for i in picks {
            let va = m.base + i * PAGE_SIZE;
            let Some(e) = sim.table_entry(root, va) else {
                continue;
            };
            let prot = m
                .prot
                .iter()
                .find(|(lo, hi, _)| (*lo..*hi).contains(&va))
                .map_or(Perms::empty(), |p| p.2);
            if (e.read && !prot.contains(Perms::READ))
                || (e.write && !prot.contains(Perms::WRITE))
                || (e.execute && !prot.contains(Perms::EXECUTE))
            {
                return Err(format!("{va:#x} translates as {e:?} beyond {prot:?}"));
            }
            if !sim.owns_frame(e.pa) {
                return Err(format!("{va:#x} translates to a freed frame"));
            }
        }
    }
    Ok(())
}

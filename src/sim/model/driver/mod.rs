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
//! - every VMO tree is well-formed and keeps no page no VMO can see
//!   ([`Vmo::audit_tree`]);
//! - a failed call allocated no frame;
//!
//! and [`Harness::finish`] closes every handle, tears the process down and
//! checks that every frame came back.
//!
//! [`AddressSpace::layout`]: crate::vm::AddressSpace::layout
//! [`AddressSpace::audit_views`]: crate::vm::AddressSpace::audit_views
//! [`Vmo::audit_tree`]: crate::vm::Vmo::audit_tree

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
use crate::mmu::Asid;
use crate::object::{KernelObject, Process, Thread};
use crate::platform::{PAGE_SIZE, PhysAddr};
use crate::sim::Sim;
use crate::syscall::SyscallNumber;
use crate::trap::Access;
use crate::vm::{AddressSpace, Perms, Placement, Vmo};

use super::{Mismatch, Model, Object, Outcome, Touch};

mod apply;
mod checks;
pub use checks::{check_layout, check_translations_within};

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

/// Where the model's window lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// In the root VMAR of an ordinary process.
    Plain,
    /// In the restricted region of a process made by
    /// `zx_process_create_shared`: the window is checked through both of
    /// its roots (restricted and unified), touches alternate between them,
    /// and the restricted root must translate nothing of the shared region
    /// (where the scratch page is).
    Member,
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
    /// The address space the window is in.
    window_aspace: Arc<AddressSpace<Sim<A>>>,
    /// The roots (and identifiers) the window is seen through.
    views: Vec<(PhysAddr, Asid)>,
    /// A prototype process, for [`Shape::Member`].
    proto: Option<Arc<Process<Sim<A>>>>,
}

const OUT_HANDLE: u64 = 0;
const OUT_ADDR: u64 = 8;
const OUT_INFO: u64 = 64;
const BYTE_BUF: u64 = 128;

fn status(raw: i32) -> Result<Outcome<()>, Mismatch> {
    match Status::try_from(raw) {
        Ok(Status::Ok) => Ok(Ok(())),
        Ok(s) => Ok(Err(s)),
        Err(_) => Err(format!("unknown status {raw}")),
    }
}

impl<A: Arch> Harness<A> {
    /// A fresh machine, kernel, ordinary process and window.
    ///
    /// # Panics
    ///
    /// If the setup itself fails (it never should).
    pub fn new() -> Harness<A> {
        Self::with_shape(Shape::Plain)
    }

    /// A fresh machine, kernel, process of `shape` and window.
    ///
    /// # Panics
    ///
    /// If the setup itself fails (it never should).
    pub fn with_shape(shape: Shape) -> Harness<A> {
        let sim = Sim::<A>::new();
        let kernel = Kernel::new(sim.clone());
        let job = kernel.root_job().create_child().expect("job");
        let (process, proto) = match shape {
            Shape::Plain => (kernel.create_process(&job).expect("process"), None),
            Shape::Member => {
                let proto = kernel.create_shared_process(&job).expect("prototype");
                let member = kernel.create_process_in_group(&proto).expect("member");
                (member, Some(proto))
            }
        };
        let thread = process.create_thread(1).expect("thread");
        let (window_vmar, window_aspace, views) = match process.restricted_aspace() {
            Some(r) => {
                let unified = (
                    r.unified_root().expect("unified"),
                    r.unified_asid().expect("asid"),
                );
                (
                    process.restricted_vmar().expect("restricted vmar").clone(),
                    r.clone(),
                    std::vec![(r.root_table(), r.asid()), unified],
                )
            }
            None => {
                let a = process.aspace();
                (
                    process.root_vmar().clone(),
                    a.clone(),
                    std::vec![(a.root_table(), a.asid())],
                )
            }
        };
        let vmo = Vmo::create(&sim, PAGE_SIZE).expect("scratch vmo");
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
            .add_handle(KernelObject::Vmar(window_vmar), root_rights)
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
            window_aspace,
            views,
            proto,
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
            window_aspace,
            proto,
            ..
        } = self;
        thread.exit();
        process.terminate();
        if let Some(p) = &proto {
            p.terminate();
        }
        drop(thread);
        drop(process);
        drop(proto);
        drop(window_aspace);
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

/// Runs `ops` on a fresh [`Harness`], then finishes it.
///
/// # Errors
///
/// The first mismatch, with the step number.
pub fn run_ops<A: Arch>(ops: &[Op]) -> Result<(), String> {
    run_ops_in::<A>(Shape::Plain, ops)
}

/// [`run_ops`] with the window in a process of `shape`.
///
/// # Errors
///
/// The first mismatch, with the step number.
pub fn run_ops_in<A: Arch>(shape: Shape, ops: &[Op]) -> Result<(), String> {
    let mut h = Harness::<A>::with_shape(shape);
    h.check().map_err(|e| format!("initial state: {e}"))?;
    for (i, op) in ops.iter().enumerate() {
        h.step(op).map_err(|e| format!("step {i}: {e}"))?;
    }
    h.finish()
}

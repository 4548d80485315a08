//! Virtual memory objects.
//!
//! A VMO is a paged, zero-filled, demand-committed memory object. Every VMO
//! created by `zx_vmo_create` roots a *VMO tree*; its children join that
//! tree. The whole tree shares one lock and one arena of nodes (`Tree`), as
//! Zircon's VMO hierarchy shares one lock: a child can then read through
//! its ancestors and a parent can reach its descendants' mappings without
//! any lock-order question.
//!
//! # Pages and children
//!
//! - A node owns the frames in its `pages` map (page index → frame).
//! - A *slice* (`ZX_VMO_CHILD_SLICE`) owns no pages: every access goes to
//!   its parent at an offset, both ways. Slices of resizable VMOs are
//!   refused (as in Zircon), so a slice's window never loses pages.
//! - A *snapshot* (`ZX_VMO_CHILD_SNAPSHOT`, and
//!   `ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE` of anything not reached
//!   through a slice, as Zircon does for anonymous memory) is a true copy:
//!   the pages
//!   both sides share move into a *hidden* node that becomes the parent of
//!   both (Zircon's hidden `VmCowPages`), every existing translation of
//!   them loses `WRITE`, and the first write from either side copies the
//!   page — or takes it over, when no other VMO can see it any more.
//!   Neither side ever sees the other's later writes. See the `vmo_clone`
//!   module; how pages migrate and are freed when a side goes away or
//!   shrinks: the `vmo_reclaim` module.
//! - A *unidirectional* child (`SNAPSHOT_AT_LEAST_ON_WRITE` of a slice, or
//!   below one) starts with no pages and reads its parent's current view
//!   (a read fault maps that frame read-only); its first write copies the
//!   page. Until then it may see the parent's later writes, which the "at
//!   least on write" contract allows. Zircon makes such children only in
//!   pager-backed trees and refuses them for anonymous slices; this crate
//!   keeps them. `SNAPSHOT` of a slice, or of anything below a
//!   unidirectional child, is `NOT_SUPPORTED`, as in Zircon.
//! - Offsets beyond the parent's size, and pages of a child beyond its
//!   size when it was made (or after it shrank), read as zero.
//!
//! # Keeping translations valid
//!
//! Each node records the mappings that map it (`links`). Whenever the frame
//! visible at an offset changes or goes away (copy-on-write, shrink) the
//! crate first removes that range's translations from the node's mappings and
//! from its slices' and unidirectional children's (which may map the same
//! frame), flushing the TLBs, and only then frees or replaces the frame.
//! When frames become shared (a snapshot), their writable translations lose
//! `WRITE` first.
//!
//! A node lives while a [`Vmo`] refers to it or it has children; a dead node
//! without children is removed and its frames freed.
//!
//! Lock: `Tree::inner` (third in the crate's order: after the handle table
//! and the address-space tree, before page tables).

use alloc::sync::Arc;
use alloc::vec::Vec;

use spin::Mutex;

use crate::error::{Error, Result};
use crate::mmu::FrameMem;
use crate::object::next_koid;
use crate::platform::{PAGE_SIZE, PhysAddr, Platform};

use super::round_up_page;
use super::slab::{Slab, SlabId};
use super::vmo_reclaim::reap;
use super::vmo_tree::{Node, Tree, TreeInner};

pub(crate) use super::vmo_tree::{Link, LinkKey, Resolved};

/// The largest VMO size: sizes are rounded up to pages and page indexes must
/// fit comfortably in 64 bits. (Zircon's limit is similar in spirit.)
pub const MAX_VMO_SIZE: u64 = 1 << 48;

/// How a child VMO relates to its parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildKind {
    /// A window onto the parent's pages (`ZX_VMO_CHILD_SLICE`).
    Slice,
    /// A true copy-on-write snapshot (`ZX_VMO_CHILD_SNAPSHOT`).
    Snapshot,
    /// A copy-on-write child that may see the parent's writes until it
    /// writes a page itself (`ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE`).
    /// Made as a [`Snapshot`](ChildKind::Snapshot) except through a slice.
    SnapshotAtLeastOnWrite,
}

/// A VMO handle object: one node of a VMO tree.
///
/// Pages are committed on first write (or fault), zero until then:
///
/// ```
/// use zx_subsystem::arch::X86_64;
/// use zx_subsystem::sim::Sim;
/// use zx_subsystem::vm::Vmo;
/// use zx_subsystem::PAGE_SIZE;
///
/// let sim = Sim::<X86_64>::new();
/// let vmo = Vmo::create(&sim, 2 * PAGE_SIZE)?;
/// assert_eq!(vmo.committed_pages(), 0);
/// vmo.write(PAGE_SIZE + 8, b"hello")?;
/// let mut buf = [0u8; 5];
/// vmo.read(PAGE_SIZE + 8, &mut buf)?;
/// assert_eq!(&buf, b"hello");
/// assert_eq!(vmo.committed_pages(), 1);
/// // A fixed-size VMO refuses to change size; a resizable one grows.
/// assert!(vmo.set_size(4 * PAGE_SIZE).is_err());
/// let grows = Vmo::create_resizable(&sim, PAGE_SIZE)?;
/// grows.set_size(4 * PAGE_SIZE)?;
/// assert_eq!(grows.size(), 4 * PAGE_SIZE);
/// # Ok::<(), zx_subsystem::Error>(())
/// ```
pub struct Vmo<P: Platform> {
    koid: u64,
    tree: Arc<Tree<P>>,
    node: SlabId,
    resizable: bool,
    kind: Option<ChildKind>,
    /// The kernel keeps this VMO's pages and forbids children (restricted
    /// state VMO).
    pinned: bool,
}

impl<P: Platform> Vmo<P> {
    /// Creates a zero-filled VMO of `size` bytes (rounded up to pages),
    /// whose size is fixed (`zx_vmo_create(size, 0)`).
    ///
    /// # Errors
    ///
    /// `OUT_OF_RANGE` if the size is larger than [`MAX_VMO_SIZE`];
    /// `NO_MEMORY` if an allocation fails.
    pub fn create(platform: &P, size: u64) -> Result<Arc<Vmo<P>>> {
        Self::create_root(platform, size, false, false)
    }

    /// As [`create`](Vmo::create), for a VMO whose size
    /// [`set_size`](Vmo::set_size) may change (`ZX_VMO_RESIZABLE`).
    ///
    /// # Errors
    ///
    /// As [`create`](Vmo::create).
    pub fn create_resizable(platform: &P, size: u64) -> Result<Arc<Vmo<P>>> {
        Self::create_root(platform, size, true, false)
    }

    fn create_root(platform: &P, size: u64, resizable: bool, pinned: bool) -> Result<Arc<Vmo<P>>> {
        let size = checked_size(size)?;
        let tree = Arc::new(Tree {
            platform: platform.clone(),
            inner: Mutex::new(TreeInner {
                nodes: Slab::default(),
            }),
        });
        let node = tree
            .inner
            .lock()
            .nodes
            .insert(Node::new(size, None, false))?;
        Ok(Arc::new(Vmo {
            koid: next_koid(),
            tree,
            node,
            resizable,
            kind: None,
            pinned,
        }))
    }

    /// Creates the one-page, committed, non-resizable VMO that holds a
    /// thread's restricted state. The kernel keeps page 0 for the VMO's life
    /// and refuses children of it.
    ///
    /// # Errors
    ///
    /// `NO_MEMORY` if the VMO or its page cannot be allocated.
    pub fn create_pinned_page(platform: &P) -> Result<(Arc<Vmo<P>>, PhysAddr)> {
        let vmo = Vmo::create_root(platform, PAGE_SIZE, false, true)?;
        let frame = {
            let mut inner = vmo.tree.inner.lock();
            vmo.tree.commit(&mut inner, vmo.node, 0)?.frame
        };
        Ok((vmo, frame))
    }

    /// The VMO's koid.
    pub fn koid(&self) -> u64 {
        self.koid
    }

    /// Whether the VMO was created `ZX_VMO_RESIZABLE`.
    pub fn is_resizable(&self) -> bool {
        self.resizable
    }

    /// Whether the kernel pins this VMO (restricted state).
    pub fn is_pinned(&self) -> bool {
        self.pinned
    }

    /// The child kind, for a child VMO.
    pub fn child_kind(&self) -> Option<ChildKind> {
        self.kind
    }

    /// The VMO's size in bytes.
    pub fn size(&self) -> u64 {
        let inner = self.tree.inner.lock();
        inner.nodes.get(self.node).map_or(0, |n| n.size)
    }

    /// Number of frames this VMO itself owns (not counting ancestors').
    pub fn committed_pages(&self) -> usize {
        let inner = self.tree.inner.lock();
        inner.nodes.get(self.node).map_or(0, |n| n.pages.len())
    }

    pub(crate) fn platform(&self) -> &P {
        &self.tree.platform
    }

    /// Whether `self` and `other` are the same VMO.
    pub fn same_as(&self, other: &Vmo<P>) -> bool {
        Arc::ptr_eq(&self.tree, &other.tree) && self.node == other.node
    }

    /// `zx_vmo_read`: copies `buf.len()` bytes at `offset` into `buf`.
    /// Uncommitted pages read as zero and stay uncommitted.
    ///
    /// # Errors
    ///
    /// `OUT_OF_RANGE` if `[offset, offset + len)` is not inside the VMO.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let inner = self.tree.inner.lock();
        self.tree
            .check_range(&inner, self.node, offset, buf.len() as u64)?;
        let mut done = 0usize;
        while done < buf.len() {
            let at = offset + done as u64;
            let in_page = (at % PAGE_SIZE) as usize;
            let n = (PAGE_SIZE as usize - in_page).min(buf.len() - done);
            let chunk = &mut buf[done..done + n];
            match self.tree.lookup(&inner, self.node, at / PAGE_SIZE) {
                Some(frame) => {
                    // SAFETY: the frame belongs to a node of this tree, whose
                    // lock we hold, so it stays allocated while we read (1);
                    // FrameMem is the only way the crate touches it (2).
                    let mem = unsafe { FrameMem::new(&self.tree.platform, frame) };
                    mem.read(in_page, chunk);
                }
                None => chunk.fill(0),
            }
            done += n;
        }
        Ok(())
    }

    /// `zx_vmo_write`: copies `buf` into the VMO at `offset`, committing
    /// pages (and copying snapshot pages) as needed.
    ///
    /// # Errors
    ///
    /// `OUT_OF_RANGE` if the range is not inside the VMO; `NO_MEMORY` if a
    /// page cannot be committed (pages already written stay written).
    pub fn write(&self, offset: u64, buf: &[u8]) -> Result<()> {
        let mut inner = self.tree.inner.lock();
        self.tree
            .check_range(&inner, self.node, offset, buf.len() as u64)?;
        let mut done = 0usize;
        while done < buf.len() {
            let at = offset + done as u64;
            let in_page = (at % PAGE_SIZE) as usize;
            let n = (PAGE_SIZE as usize - in_page).min(buf.len() - done);
            let frame = self
                .tree
                .commit(&mut inner, self.node, at / PAGE_SIZE)?
                .frame;
            // SAFETY: committed frame of this tree; lock held (1); only
            // FrameMem access (2).
            unsafe { FrameMem::new(&self.tree.platform, frame) }
                .write(in_page, &buf[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// `zx_vmo_set_size`. Shrinking frees the VMO's own pages past the new
    /// end and whatever its hidden ancestors held only for that range;
    /// growing again shows zeros there (never an ancestor's pages).
    ///
    /// # Errors
    ///
    /// `UNAVAILABLE` for a VMO not created resizable; `OUT_OF_RANGE` for a
    /// size beyond [`MAX_VMO_SIZE`]; `INVALID_ARGS` if the VMO's end, as an
    /// offset in the root VMO of its tree, would overflow (Zircon's
    /// `NoAccumulatedOverflow`).
    pub fn set_size(&self, size: u64) -> Result<()> {
        if !self.resizable {
            return Err(Error::Unavailable("VMO is not resizable"));
        }
        let size = checked_size(size)?;
        let mut freed = Vec::new();
        {
            let mut inner = self.tree.inner.lock();
            self.tree
                .root_offset(&inner, self.node)
                .and_then(|r| r.checked_add(size))
                .ok_or(Error::InvalidArgs("VMO end overflows in the root VMO"))?;
            self.tree
                .shrink(&mut inner, self.node, size / PAGE_SIZE, &mut freed);
            if let Some(node) = inner.nodes.get_mut(self.node) {
                node.size = size;
            }
        }
        for frame in freed {
            self.tree.platform.free_frame(frame);
        }
        Ok(())
    }

    /// `zx_vmo_create_child`: a slice, a snapshot or an at-least-on-write
    /// snapshot of `[offset, offset + size)` (see the module docs for what
    /// each shares).
    ///
    /// # Errors
    ///
    /// In the order of Zircon's `CreateChildSlice`/`CreateClone`:
    /// `NOT_SUPPORTED` for a pinned (restricted-state) VMO (Zircon would
    /// say `BAD_STATE` for its pinned pages; the SPEC asks for
    /// `NOT_SUPPORTED`); `INVALID_ARGS` for a resizable slice;
    /// `OUT_OF_RANGE` for a size beyond [`MAX_VMO_SIZE`]; `INVALID_ARGS`
    /// for an offset not page-aligned; then for a slice, `INVALID_ARGS` if
    /// it is not inside the parent (overflow included), then
    /// `NOT_SUPPORTED` if the parent is resizable; for the snapshot kinds,
    /// `OUT_OF_RANGE` if `offset + size` overflows, `NOT_SUPPORTED` for a
    /// `SNAPSHOT` below a unidirectional child, `INVALID_ARGS` if the range
    /// overflows as an offset in the root VMO, `NOT_SUPPORTED` for a
    /// `SNAPSHOT` of a slice; `NO_MEMORY`. On any error nothing changed.
    pub fn create_child(
        self: &Arc<Self>,
        kind: ChildKind,
        offset: u64,
        size: u64,
        resizable: bool,
    ) -> Result<Arc<Vmo<P>>> {
        if self.pinned {
            return Err(Error::NotSupported("the kernel pins this VMO"));
        }
        if kind == ChildKind::Slice && resizable {
            return Err(Error::InvalidArgs("a slice cannot be resizable"));
        }
        let size = checked_size(size)?;
        if !offset.is_multiple_of(PAGE_SIZE) {
            return Err(Error::InvalidArgs("child offset not page aligned"));
        }
        let child = {
            let mut inner = self.tree.inner.lock();
            self.tree
                .create_child(&mut inner, self.node, kind, offset, size, self.resizable)?
        };
        Ok(Arc::new(Vmo {
            koid: next_koid(),
            tree: self.tree.clone(),
            node: child,
            resizable,
            kind: Some(kind),
            pinned: false,
        }))
    }

    /// Finds the frame for the page at byte `offset` (committing it, or
    /// copying it for a write to a snapshot) and runs `install` with it while
    /// the VMO tree stays locked, so the translation `install` creates cannot
    /// be made stale by a concurrent copy-on-write before it exists. Used by
    /// the page-fault path.
    ///
    /// # Errors
    ///
    /// `OUT_OF_RANGE` beyond the VMO's size; `NO_MEMORY`; or what `install`
    /// returns.
    pub(crate) fn fault_in<R>(
        &self,
        offset: u64,
        write: bool,
        install: impl FnOnce(Resolved) -> Result<R>,
    ) -> Result<R> {
        let mut inner = self.tree.inner.lock();
        self.tree.check_range(&inner, self.node, offset, 1)?;
        let index = offset / PAGE_SIZE;
        let resolved = if write {
            self.tree.commit(&mut inner, self.node, index)?
        } else {
            self.tree.resolve_read(&mut inner, self.node, index)?
        };
        install(resolved)
    }

    /// Runs `f` with the frame holding byte `offset` for the duration of the
    /// call, committing it first (`write`) or reading through (`!write`: an
    /// absent page reads as zeroes, `f` gets `None`).
    pub(crate) fn with_page<R>(
        &self,
        offset: u64,
        write: bool,
        f: impl FnOnce(Option<FrameMem<'_>>) -> R,
    ) -> Result<R> {
        let mut inner = self.tree.inner.lock();
        self.tree.check_range(&inner, self.node, offset, 1)?;
        let index = offset / PAGE_SIZE;
        let frame = if write {
            Some(self.tree.commit(&mut inner, self.node, index)?.frame)
        } else {
            self.tree.lookup(&inner, self.node, index)
        };
        // SAFETY: a frame of this tree, lock held for the whole call (1);
        // FrameMem-only access (2).
        let mem = frame.map(|f| unsafe { FrameMem::new(&self.tree.platform, f) });
        Ok(f(mem))
    }

    /// Whether a mapping of this VMO may show a frame another node holds
    /// (read-only) in place of a page not yet copied: the VMO, seen through
    /// slices, is a copy-on-write child, or the parent side of a snapshot
    /// (whose shared pages a hidden node holds).
    pub(crate) fn may_share_frames(&self) -> bool {
        let inner = self.tree.inner.lock();
        self.tree
            .owner(&inner, self.node, 0)
            .ok()
            .and_then(|(owner, _)| inner.nodes.get(owner))
            .is_some_and(|n| n.parent.is_some())
    }

    /// The frame page `offset` shows now and whether it is the VMO's own
    /// (through slices), without committing anything; `None` for a page
    /// that reads as zero or lies past the end.
    pub(crate) fn view(&self, offset: u64) -> Option<Resolved> {
        let inner = self.tree.inner.lock();
        self.tree.check_range(&inner, self.node, offset, 1).ok()?;
        self.tree
            .visible(&inner, self.node, offset / PAGE_SIZE)
            .ok()?
            .2
    }

    /// Checks the structure of this VMO's whole tree (every VMO sharing
    /// its root): edges and child lists agree, hidden nodes have two
    /// children, nothing dead is left, and every page a hidden node holds
    /// is still seen by some VMO. For tests and fuzzers.
    ///
    /// # Errors
    ///
    /// What is wrong, for the first fault found.
    pub fn audit_tree(&self) -> core::result::Result<(), &'static str> {
        self.tree.inner.lock().audit()
    }

    /// Calls `f(offset, resolved)` for every page of `[offset, offset + len)`
    /// (clipped to the VMO) that already has a visible frame, with the tree
    /// locked throughout. Commits nothing.
    pub(crate) fn for_each_committed(
        &self,
        offset: u64,
        len: u64,
        mut f: impl FnMut(u64, Resolved),
    ) {
        let inner = self.tree.inner.lock();
        let size = inner.nodes.get(self.node).map_or(0, |n| n.size);
        let end = offset.saturating_add(len).min(size);
        let mut at = offset;
        while at < end {
            if let Ok((_, _, Some(seen))) = self.tree.visible(&inner, self.node, at / PAGE_SIZE) {
                f(at, seen);
            }
            at += PAGE_SIZE;
        }
    }

    /// Records a mapping of this VMO.
    pub(crate) fn add_link(&self, key: LinkKey, link: Link<P>) -> Result<()> {
        let mut inner = self.tree.inner.lock();
        let node = inner
            .nodes
            .get_mut(self.node)
            .ok_or(Error::BadState("VMO node gone"))?;
        node.links.insert(key, link);
        Ok(())
    }

    /// Updates or removes (`None`) the record of a mapping.
    pub(crate) fn set_link(&self, key: LinkKey, link: Option<Link<P>>) {
        let mut inner = self.tree.inner.lock();
        if let Some(node) = inner.nodes.get_mut(self.node) {
            match link {
                Some(l) => {
                    node.links.insert(key, l);
                }
                None => {
                    node.links.remove(&key);
                }
            }
        }
    }
}

impl<P: Platform> Drop for Vmo<P> {
    fn drop(&mut self) {
        let mut freed = Vec::new();
        {
            let mut inner = self.tree.inner.lock();
            if let Some(node) = inner.nodes.get_mut(self.node) {
                node.referenced = false;
            }
            reap(&mut inner, self.node, &mut freed);
        }
        for frame in freed {
            self.tree.platform.free_frame(frame);
        }
    }
}

fn checked_size(size: u64) -> Result<u64> {
    round_up_page(size)
        .filter(|s| *s <= MAX_VMO_SIZE)
        .ok_or(Error::OutOfRange("VMO size too large"))
}

//! Memory-management-unit plumbing shared by both architectures.
//!
//! - [`flags`]: [`MmuFlags`], [`PageSize`], [`Translation`].
//! - [`format`]: the [`PageTableFormat`] trait each arch implements, and the
//!   4-level geometry both share.
//! - [`PageTable`] (`page_table`, `walk`): the generic page-table walker:
//!   map, protect, unmap, query (`audit`: its invariants checked), with
//!   [`FrameReserve`] (`reserve`) holding the frames huge-page splits take.
//! - [`frame`]: [`FrameMem`], the one place a physical address becomes
//!   memory.
//! - [`tlb`]: [`TlbBatch`], the invalidations an operation owes.
//! - [`asid`]: [`Asids`](asid::Asids), identifiers recycled by generation.

pub mod asid;
mod audit;
pub mod flags;
pub mod format;
pub mod frame;
mod page_table;
mod reserve;
pub mod tlb;
mod walk;

pub use audit::AuditError;
pub use flags::{MmuFlags, PageSize, Translation};
pub use format::{EntryKind, LeafUpdate, PageTableFormat, SplitStyle};
pub use frame::FrameMem;
pub use page_table::PageTable;
pub(crate) use page_table::flush_tagged;
pub use reserve::FrameReserve;
pub use tlb::{Asid, CpuSet, TLB_BATCH_CAPACITY, TlbBatch, TlbScope, TlbTarget};

//! Memory-management-unit plumbing shared by both architectures: frame
//! access, TLB batches, permissions and the per-arch page-table format.

pub mod flags;
pub mod format;
pub mod frame;
pub mod tlb;

pub use flags::{MmuFlags, PageSize, Translation};
pub use format::{EntryKind, LeafUpdate, PageTableFormat, SplitStyle};
pub use frame::FrameMem;
pub use tlb::{Asid, TLB_BATCH_CAPACITY, TlbBatch, TlbScope};

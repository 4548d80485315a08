//! Memory-management-unit plumbing shared by both architectures: frame
//! access and TLB batches. (The generic page-table walker lands here with
//! the page-table work.)

pub mod frame;
pub mod tlb;

pub use frame::FrameMem;
pub use tlb::{Asid, TLB_BATCH_CAPACITY, TlbBatch, TlbScope};

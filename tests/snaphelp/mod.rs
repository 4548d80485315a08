//! Helpers of the snapshot tests (`tests/vmo_snapshot*.rs`): a harness that
//! counts the frames VMO trees hold, and Zircon's `CallPermutations`.
#![allow(dead_code)]

use zx_subsystem::abi::*;
use zx_subsystem::arch::Arch;

use crate::common::Env;
use crate::vmhelp::*;

/// `ZX_VMO_CHILD_SNAPSHOT`.
pub const SNAPSHOT: u32 = ZX_VMO_CHILD_SNAPSHOT;
/// `ZX_VMO_CHILD_SNAPSHOT | ZX_VMO_CHILD_RESIZABLE`.
pub const SNAPSHOT_RESIZABLE: u32 = ZX_VMO_CHILD_SNAPSHOT | ZX_VMO_CHILD_RESIZABLE;

/// A harness and the frame count to come back to.
pub struct T<A: Arch> {
    pub env: Env<A>,
    base: usize,
}

impl<A: Arch> T<A> {
    pub fn new() -> Self {
        let env = Env::new();
        let base = settled(&env);
        T { env, base }
    }

    /// VMO pages the trees hold now.
    pub fn pages(&self) -> usize {
        self.env.sim.frames_allocated() - self.base
    }

    pub fn snap(&self, h: u32, options: u32, offset_pages: u64, pages: u64) -> u32 {
        create_child(&self.env, h, options, offset_pages * P, pages * P).unwrap()
    }

    pub fn write(&self, h: u32, page: u64, value: u32) {
        write_u32(&self.env, h, page * P, value);
    }

    pub fn check(&self, h: u32, page: u64, value: u32) {
        assert_eq!(read_u32(&self.env, h, page * P), value, "page {page}");
    }

    pub fn close(&self, h: u32) {
        self.env.close(h).unwrap();
    }

    pub fn resize(&self, h: u32, pages: u64) {
        vmo_set_size(&self.env, h, pages * P).unwrap();
    }

    pub fn tagged(&self, pages: u64) -> u32 {
        tagged_vmo(&self.env, pages, 0)
    }

    /// Closes `handles` and checks that every frame came back.
    pub fn finish(self, handles: &[u32]) {
        for h in handles {
            self.close(*h);
        }
        assert_eq!(self.pages(), 0, "frames leaked");
    }
}

/// Every permutation of `0..n` (Zircon's `CallPermutations`).
pub fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

//! A generational arena: nodes live in a `Vec`, are named by an index plus a
//! generation, and a stale name (its node removed, the slot reused) never
//! resolves to the new occupant.
//!
//! The VMAR tree and the VMO tree keep their nodes in one of these, inside
//! the tree's single lock, so that nodes refer to each other by [`SlabId`]
//! without reference cycles or per-node locks.

use alloc::vec::Vec;

use crate::error::Result;
use crate::heap::Reserve;

/// The name of a node in a [`Slab`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlabId {
    index: u32,
    generation: u32,
}

impl SlabId {
    /// The slot index (unique among live nodes).
    pub fn index(self) -> u32 {
        self.index
    }
}

struct Entry<T> {
    generation: u32,
    value: Option<T>,
}

/// A generational arena of `T`.
pub struct Slab<T> {
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Number of live nodes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no live node.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes room so that the next `n` inserts cannot fail.
    ///
    /// # Errors
    ///
    /// `NO_MEMORY` if the arena cannot grow.
    pub fn reserve(&mut self, n: usize) -> Result<()> {
        let reusable = self.free.len();
        if n > reusable {
            self.entries.reserve_fallibly(n - reusable)?;
            self.free
                .reserve_fallibly(self.entries.len() + n - self.free.len())?;
        }
        Ok(())
    }

    /// Inserts a node and returns its name.
    ///
    /// # Errors
    ///
    /// `NO_MEMORY` if the arena cannot grow (never after a matching
    /// [`reserve`](Slab::reserve)).
    pub fn insert(&mut self, value: T) -> Result<SlabId> {
        self.reserve(1)?;
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.entries.push(Entry {
                    generation: 0,
                    value: None,
                });
                (self.entries.len() - 1) as u32
            }
        };
        let entry = &mut self.entries[index as usize];
        entry.value = Some(value);
        self.len += 1;
        Ok(SlabId {
            index,
            generation: entry.generation,
        })
    }

    /// The node named `id`, if it is still live.
    pub fn get(&self, id: SlabId) -> Option<&T> {
        let e = self.entries.get(id.index as usize)?;
        if e.generation == id.generation {
            e.value.as_ref()
        } else {
            None
        }
    }

    /// The node named `id`, mutably, if it is still live.
    pub fn get_mut(&mut self, id: SlabId) -> Option<&mut T> {
        let e = self.entries.get_mut(id.index as usize)?;
        if e.generation == id.generation {
            e.value.as_mut()
        } else {
            None
        }
    }

    /// Removes the node named `id` and returns it.
    pub fn remove(&mut self, id: SlabId) -> Option<T> {
        let e = self.entries.get_mut(id.index as usize)?;
        if e.generation != id.generation {
            return None;
        }
        let value = e.value.take()?;
        e.generation = e.generation.wrapping_add(1);
        // `reserve`/`insert` keep `free` able to hold every slot.
        self.free.push(id.index);
        self.len -= 1;
        Some(value)
    }

    /// Iterates over live nodes.
    pub fn iter(&self) -> impl Iterator<Item = (SlabId, &T)> {
        self.entries.iter().enumerate().filter_map(|(i, e)| {
            e.value.as_ref().map(|v| {
                (
                    SlabId {
                        index: i as u32,
                        generation: e.generation,
                    },
                    v,
                )
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_ids_do_not_resolve() {
        let mut s = Slab::default();
        let a = s.insert(1).unwrap();
        assert_eq!(s.remove(a), Some(1));
        let b = s.insert(2).unwrap();
        assert_eq!(a.index(), b.index());
        assert_eq!(s.get(a), None);
        assert_eq!(s.get(b), Some(&2));
        assert_eq!(s.remove(a), None);
        assert_eq!(s.len(), 1);
    }
}

//! The per-process handle table.
//!
//! Handle values are not indexes: each value packs a slot index and the
//! slot's generation into 30 bits, scrambles them with a per-process secret
//! drawn from [`Platform::random_u64`](crate::Platform::random_u64)
//! (multiplication by an odd constant modulo 2^30, then XOR, both
//! bijective), shifts left by two and sets the low two bits (Zircon's
//! `ZX_HANDLE_FIXED_BITS_MASK`). So values are never 0, consecutive handles
//! get unrelated values, and a closed handle's value does not name the next
//! handle put in the same slot (the generation changed).
//!
//! Lookups check, in Zircon's order: the value names a live handle
//! (`BAD_HANDLE`), the object has the wanted type (`WRONG_TYPE`), the handle
//! has the wanted rights (`ACCESS_DENIED`).
//!
//! The table itself is not locked here; [`Process`](super::Process) wraps it
//! in its handle-table lock.

use alloc::vec::Vec;

use crate::abi::{Rights, ZX_HANDLE_FIXED_BITS_MASK, zx_handle_t};
use crate::error::{Error, Result};
use crate::heap::Reserve;
use crate::platform::Platform;

use super::{KernelObject, ObjectKind};

/// Bits of a handle value (after the fixed bits) that hold the slot index.
const INDEX_BITS: u32 = 18;
/// The most handles one process can hold.
pub const MAX_HANDLES: usize = 1 << INDEX_BITS;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;
/// Generations wrap within the remaining 12 bits.
const GENERATION_MASK: u32 = (1 << (30 - INDEX_BITS)) - 1;
/// The 30 bits of a value between the fixed bits and the top.
const PAYLOAD_MASK: u32 = (1 << 30) - 1;

/// A handle: an object reference plus the rights this handle grants.
pub struct Handle<P: Platform> {
    /// The object.
    pub object: KernelObject<P>,
    /// The handle's rights.
    pub rights: Rights,
}

impl<P: Platform> Clone for Handle<P> {
    fn clone(&self) -> Self {
        Handle {
            object: self.object.clone(),
            rights: self.rights,
        }
    }
}

struct Slot<P: Platform> {
    generation: u32,
    handle: Option<Handle<P>>,
}

/// A process's handles.
pub struct HandleTable<P: Platform> {
    /// Odd multiplier (mod 2^30) and its inverse.
    mul: u32,
    mul_inv: u32,
    xor: u32,
    slots: Vec<Slot<P>>,
    free: Vec<u32>,
    live: usize,
}

impl<P: Platform> HandleTable<P> {
    /// An empty table whose values are scrambled with `secret`.
    pub fn new(secret: u64) -> Self {
        let mul = ((secret as u32) | 1) & PAYLOAD_MASK;
        // Newton's iteration: each step doubles the correct low bits of the
        // inverse of an odd number (3 bits to start, 48 after four steps).
        let mut inv = mul;
        for _ in 0..4 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(mul.wrapping_mul(inv)));
        }
        HandleTable {
            mul,
            mul_inv: inv & PAYLOAD_MASK,
            xor: ((secret >> 32) as u32) & PAYLOAD_MASK,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }

    /// Number of live handles.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether the table holds no handle.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn encode(&self, index: u32, generation: u32) -> zx_handle_t {
        let packed = (generation << INDEX_BITS) | index;
        let scrambled = (packed.wrapping_mul(self.mul) & PAYLOAD_MASK) ^ self.xor;
        (scrambled << 2) | ZX_HANDLE_FIXED_BITS_MASK
    }

    fn decode(&self, value: zx_handle_t) -> Option<(usize, u32)> {
        if value & ZX_HANDLE_FIXED_BITS_MASK != ZX_HANDLE_FIXED_BITS_MASK {
            return None;
        }
        let packed = (((value >> 2) ^ self.xor).wrapping_mul(self.mul_inv)) & PAYLOAD_MASK;
        Some(((packed & INDEX_MASK) as usize, packed >> INDEX_BITS))
    }

    fn slot(&self, value: zx_handle_t) -> Option<(usize, &Handle<P>)> {
        let (index, generation) = self.decode(value)?;
        let slot = self.slots.get(index)?;
        if slot.generation != generation {
            return None;
        }
        slot.handle.as_ref().map(|h| (index, h))
    }

    /// Adds a handle and returns its value.
    ///
    /// # Errors
    ///
    /// `NO_RESOURCES` when the process already holds [`MAX_HANDLES`];
    /// `NO_MEMORY` when the table cannot grow.
    pub fn add(&mut self, handle: Handle<P>) -> Result<zx_handle_t> {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                if self.slots.len() >= MAX_HANDLES {
                    return Err(Error::NoResources("handle table full"));
                }
                self.slots.reserve_fallibly(1)?;
                // The free list can hold every slot: reserve now so that
                // `remove` never allocates.
                self.free.reserve_fallibly(self.slots.len() + 1)?;
                self.slots.push(Slot {
                    generation: 0,
                    handle: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.handle = Some(handle);
        let generation = slot.generation;
        self.live += 1;
        Ok(self.encode(index, generation))
    }

    /// The handle named by `value`.
    ///
    /// # Errors
    ///
    /// `BAD_HANDLE` if `value` names no live handle.
    pub fn get(&self, value: zx_handle_t) -> Result<&Handle<P>> {
        self.slot(value)
            .map(|(_, h)| h)
            .ok_or(Error::BadHandle { value })
    }

    /// The object of type `T` named by `value`, if the handle has `rights`.
    ///
    /// # Errors
    ///
    /// `BAD_HANDLE`, then `WRONG_TYPE`, then `ACCESS_DENIED`, in that order.
    pub fn get_object<T: ObjectKind<P>>(
        &self,
        value: zx_handle_t,
        rights: Rights,
    ) -> Result<(alloc::sync::Arc<T>, Rights)> {
        let handle = self.get(value)?;
        let object = T::downcast(&handle.object).ok_or(Error::WrongType {
            expected: T::TYPE,
            found: handle.object.object_type(),
        })?;
        check_rights(handle.rights, rights)?;
        Ok((object, handle.rights))
    }

    /// Removes the handle named by `value` and returns it.
    ///
    /// # Errors
    ///
    /// `BAD_HANDLE` if `value` names no live handle.
    pub fn remove(&mut self, value: zx_handle_t) -> Result<Handle<P>> {
        let (index, _) = self.slot(value).ok_or(Error::BadHandle { value })?;
        let slot = &mut self.slots[index];
        let handle = slot.handle.take().ok_or(Error::BadHandle { value })?;
        slot.generation = (slot.generation + 1) & GENERATION_MASK;
        // Capacity for every slot was reserved in `add`.
        self.free.push(index as u32);
        self.live -= 1;
        Ok(handle)
    }

    /// Removes every handle (process teardown) and returns them, so the
    /// caller can drop them outside its lock.
    pub fn drain(&mut self) -> Vec<Handle<P>> {
        let mut out = Vec::with_capacity(self.live);
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if let Some(h) = slot.handle.take() {
                slot.generation = (slot.generation + 1) & GENERATION_MASK;
                self.free.push(index as u32);
                out.push(h);
            }
        }
        self.live = 0;
        out
    }
}

/// `ACCESS_DENIED` unless `held` contains all of `wanted`.
///
/// # Errors
///
/// [`Error::MissingRights`] naming the rights `held` lacks.
pub fn check_rights(held: Rights, wanted: Rights) -> Result<()> {
    let missing = wanted.difference(held);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::MissingRights { missing })
    }
}

/// The rights of a duplicate or replacement: `SAME_RIGHTS` keeps `held`,
/// anything else must be a subset of `held`.
///
/// # Errors
///
/// `INVALID_ARGS` if `requested` asks for a right `held` lacks (Zircon's
/// `zx_handle_duplicate` and `zx_handle_replace` both return
/// `ZX_ERR_INVALID_ARGS` there).
pub fn reduced_rights(held: Rights, requested: u32) -> Result<Rights> {
    if requested == crate::abi::ZX_RIGHT_SAME_RIGHTS {
        return Ok(held);
    }
    let requested_rights = Rights::from_bits_retain(requested);
    if !held.contains(requested_rights) {
        return Err(Error::InvalidArgs("requested rights exceed the handle's"));
    }
    Ok(requested_rights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::X86_64;
    use crate::sim::Sim;

    #[test]
    fn encoding_round_trips_for_any_secret() {
        for secret in [
            0u64,
            1,
            0x9e37_79b9_7f4a_7c15,
            u64::MAX,
            0x1234_5678_9abc_def0,
        ] {
            let t = HandleTable::<Sim<X86_64>>::new(secret);
            for (index, generation) in [(0, 0), (1, 0), (INDEX_MASK, GENERATION_MASK), (77, 3)] {
                let v = t.encode(index, generation);
                assert_ne!(v, 0);
                assert_eq!(v & 3, 3);
                assert_eq!(t.decode(v), Some((index as usize, generation)));
            }
        }
    }
}

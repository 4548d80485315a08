//! How the [`Harness`] runs each [`Op`]: through the syscall table with
//! out-parameters in the scratch mapping, or (a [`Op::Touch`]) through the
//! soft MMU with the crate's fault handler, and hands the outcome to the
//! model.

use std::format;

use crate::abi::Status;
use crate::arch::Arch;
use crate::platform::PAGE_SIZE;
use crate::syscall::SyscallNumber;
use crate::trap::Access;

use super::{
    BYTE_BUF, Harness, Mismatch, OUT_ADDR, OUT_HANDLE, Op, Outcome, Touch, WINDOW_PAGES, status,
};

impl<A: Arch> Harness<A> {
    /// Runs `op`; returns the failure status, if it failed.
    pub(super) fn apply(&mut self, op: &Op) -> Result<Option<Status>, Mismatch> {
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
        let aspace = &self.window_aspace;
        let (root, asid) = self.views[usize::from(t.value) % self.views.len()];
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
}

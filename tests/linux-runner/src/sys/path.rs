//! Path syscalls: creating, removing, renaming and linking names,
//! symlinks, permissions and owners, times, the working directory,
//! truncation and directory listings (`getdents64`). Paths resolve as in
//! [`file`](super::file) (its `lookup_at` and `dir_of`), which also
//! dispatches these calls.

use alloc::vec::Vec;

use crate::errno::{Errno, Result};
use crate::fs::o;
use crate::fs::tree::{Follow, Ino, Node, Time};
use crate::mm::Aspace;

use super::file::{AT_REMOVEDIR, AT_SYMLINK_FOLLOW, dtype, put};
use super::{Host, Linux};

impl<A: Aspace, H: Host> Linux<A, H> {
    pub(super) fn truncate_ino(&mut self, ino: Ino, len: u64) -> Result<u64> {
        if (len as i64) < 0 {
            return Err(Errno::EINVAL);
        }
        let now = self.now();
        let i = self.fs.tree.get_mut(ino)?;
        match &mut i.node {
            Node::File(d) => d.owned().resize(len as usize, 0),
            Node::Dir { .. } => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
        i.mtime = now;
        i.ctime = now;
        Ok(0)
    }

    pub(super) fn truncate_path(&mut self, path: u64, len: u64) -> Result<u64> {
        let p = self.read_cstr(path)?;
        let ino = self.fs.tree.resolve(self.fs.cwd, &p, Follow::Yes)?;
        self.truncate_ino(ino, len)
    }

    pub(super) fn ftruncate(&mut self, fd: u64, len: u64) -> Result<u64> {
        let f = self.fs.fd(fd)?.file.clone();
        if f.borrow().flags & o::ACCMODE == o::RDONLY {
            return Err(Errno::EINVAL);
        }
        let ino = f.borrow().ino;
        self.truncate_ino(ino, len)
    }

    pub(super) fn getcwd(&mut self, buf: u64, size: u64) -> Result<u64> {
        let mut p = self.fs.tree.path_of(self.fs.cwd)?;
        p.push(0);
        if (p.len() as u64) > size {
            return Err(Errno::ERANGE);
        }
        self.write_user(buf, &p)?;
        Ok(p.len() as u64)
    }

    pub(super) fn chdir(&mut self, path: u64) -> Result<u64> {
        let p = self.read_cstr(path)?;
        let ino = self.fs.tree.resolve(self.fs.cwd, &p, Follow::Yes)?;
        if !self.fs.tree.get(ino)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        self.fs.cwd = ino;
        Ok(0)
    }

    pub(super) fn fchdir(&mut self, fd: u64) -> Result<u64> {
        let ino = self.fd_ino(fd)?;
        if !self.fs.tree.get(ino)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        self.fs.cwd = ino;
        Ok(0)
    }

    pub(super) fn mkdirat(&mut self, dirfd: u64, path: u64, perm: u64) -> Result<u64> {
        let p = self.read_cstr(path)?;
        let dir = self.dir_of(dirfd, &p)?;
        let now = self.now();
        let par = self.fs.tree.resolve_parent(dir, &p)?;
        let perm = perm as u32 & 0o7777 & !self.fs.umask;
        self.fs.tree.mkdir(par.dir, par.name, perm, now).map(|_| 0)
    }

    pub(super) fn unlinkat(&mut self, dirfd: u64, path: u64, flags: u64) -> Result<u64> {
        if flags & !AT_REMOVEDIR != 0 {
            return Err(Errno::EINVAL);
        }
        let p = self.read_cstr(path)?;
        let dir = self.dir_of(dirfd, &p)?;
        let now = self.now();
        let par = self.fs.tree.resolve_parent(dir, &p)?;
        if flags & AT_REMOVEDIR != 0 {
            self.fs.tree.rmdir(par.dir, par.name, now)?;
        } else {
            if par.trailing {
                let ino = self
                    .fs
                    .tree
                    .child(par.dir, par.name)?
                    .ok_or(Errno::ENOENT)?;
                return Err(if self.fs.tree.get(ino)?.is_dir() {
                    Errno::EISDIR
                } else {
                    Errno::ENOTDIR
                });
            }
            self.fs.tree.unlink(par.dir, par.name, now)?;
        }
        Ok(0)
    }

    pub(super) fn renameat(
        &mut self,
        od: u64,
        op: u64,
        nd: u64,
        np: u64,
        flags: u64,
    ) -> Result<u64> {
        const NOREPLACE: u64 = 1;
        if flags & !NOREPLACE != 0 {
            return Err(Errno::EINVAL);
        }
        let (op, np) = (self.read_cstr(op)?, self.read_cstr(np)?);
        let (odir, ndir) = (self.dir_of(od, &op)?, self.dir_of(nd, &np)?);
        let now = self.now();
        let o = self.fs.tree.resolve_parent(odir, &op)?;
        let n = self.fs.tree.resolve_parent(ndir, &np)?;
        if flags & NOREPLACE != 0 && self.fs.tree.child(n.dir, n.name)?.is_some() {
            return Err(Errno::EEXIST);
        }
        self.fs
            .tree
            .rename(o.dir, o.name, n.dir, n.name, now)
            .map(|()| 0)
    }

    pub(super) fn linkat(&mut self, od: u64, op: u64, nd: u64, np: u64, flags: u64) -> Result<u64> {
        let (opath, npath) = (self.read_cstr(op)?, self.read_cstr(np)?);
        let follow = if flags & AT_SYMLINK_FOLLOW != 0 {
            Follow::Yes
        } else {
            Follow::No
        };
        let ino = self.lookup_at(od, &opath, follow)?;
        let ndir = self.dir_of(nd, &npath)?;
        let now = self.now();
        let n = self.fs.tree.resolve_parent(ndir, &npath)?;
        self.fs.tree.link(ino, n.dir, n.name, now).map(|()| 0)
    }

    pub(super) fn symlinkat(&mut self, target: u64, nd: u64, np: u64) -> Result<u64> {
        let (t, p) = (self.read_cstr(target)?, self.read_cstr(np)?);
        if t.is_empty() {
            return Err(Errno::ENOENT);
        }
        let dir = self.dir_of(nd, &p)?;
        let now = self.now();
        let par = self.fs.tree.resolve_parent(dir, &p)?;
        self.fs
            .tree
            .create(par.dir, par.name, Node::Symlink(t), 0o777, now)
            .map(|_| 0)
    }

    pub(super) fn readlinkat(&mut self, dirfd: u64, path: u64, buf: u64, size: u64) -> Result<u64> {
        if (size as i64) <= 0 {
            return Err(Errno::EINVAL);
        }
        let p = self.read_cstr(path)?;
        let ino = self.lookup_at(dirfd, &p, Follow::No)?;
        let target = match &self.fs.tree.get(ino)?.node {
            Node::Symlink(t) => t.clone(),
            _ => return Err(Errno::EINVAL),
        };
        let n = target.len().min(size as usize);
        self.write_user(buf, &target[..n])?;
        Ok(n as u64)
    }

    pub(super) fn set_perm(&mut self, ino: Ino, perm: u64) -> Result<u64> {
        let now = self.now();
        let i = self.fs.tree.get_mut(ino)?;
        i.perm = perm as u32 & 0o7777;
        i.ctime = now;
        Ok(0)
    }

    pub(super) fn chmod_at(
        &mut self,
        dirfd: u64,
        path: u64,
        perm: u64,
        follow: Follow,
    ) -> Result<u64> {
        let p = self.read_cstr(path)?;
        let ino = self.lookup_at(dirfd, &p, follow)?;
        self.set_perm(ino, perm)
    }

    pub(super) fn set_owner(&mut self, ino: Ino, uid: u64, gid: u64) -> Result<u64> {
        let now = self.now();
        let i = self.fs.tree.get_mut(ino)?;
        if uid as u32 != u32::MAX {
            i.uid = uid as u32;
        }
        if gid as u32 != u32::MAX {
            i.gid = gid as u32;
        }
        i.ctime = now;
        Ok(0)
    }

    pub(super) fn chown_at(
        &mut self,
        dirfd: u64,
        path: u64,
        uid: u64,
        gid: u64,
        follow: Follow,
    ) -> Result<u64> {
        let p = self.read_cstr(path)?;
        let ino = self.lookup_at(dirfd, &p, follow)?;
        self.set_owner(ino, uid, gid)
    }

    pub(super) fn getdents64(&mut self, fd: u64, buf: u64, size: u64) -> Result<u64> {
        let file = self.fs.fd(fd)?.file.clone();
        let mut f = file.borrow_mut();
        let dir = f.ino;
        let mut all: Vec<(Vec<u8>, Ino)> = alloc::vec![
            (b".".to_vec(), dir),
            (b"..".to_vec(), self.fs.tree.dotdot(dir)?)
        ];
        all.extend(self.fs.tree.list(dir)?);
        let mut out = Vec::new();
        let mut idx = f.offset as usize;
        while let Some((name, ino)) = all.get(idx) {
            let reclen = (19 + name.len() + 1).next_multiple_of(8);
            if (out.len() + reclen) as u64 > size {
                if out.is_empty() {
                    return Err(Errno::EINVAL);
                }
                break;
            }
            let m = self.fs.tree.get(*ino)?.mode();
            let at = out.len();
            out.resize(at + reclen, 0);
            put(&mut out, at, *ino as u64 + 1);
            put(&mut out, at + 8, idx as u64 + 1);
            out[at + 16..at + 18].copy_from_slice(&(reclen as u16).to_le_bytes());
            out[at + 18] = dtype(m);
            out[at + 19..at + 19 + name.len()].copy_from_slice(name);
            idx += 1;
        }
        self.write_user(buf, &out)?;
        f.offset = idx as u64;
        Ok(out.len() as u64)
    }

    pub(super) fn utimensat(
        &mut self,
        dirfd: u64,
        path: u64,
        times: u64,
        flags: u64,
    ) -> Result<u64> {
        const UTIME_NOW: i64 = (1 << 30) - 1;
        const UTIME_OMIT: i64 = (1 << 30) - 2;
        let ino = if path == 0 {
            self.fd_ino(u64::from(dirfd as u32))?
        } else {
            self.path_or_fd(dirfd, path, flags)?
        };
        let now = self.now();
        let mut t = [now, now];
        let mut omit = [false, false];
        if times != 0 {
            for (k, slot) in t.iter_mut().enumerate() {
                let sec = self.read_u64(times + 16 * k as u64)? as i64;
                let nsec = self.read_u64(times + 16 * k as u64 + 8)? as i64;
                match nsec {
                    UTIME_NOW => {}
                    UTIME_OMIT => omit[k] = true,
                    0..=999_999_999 => *slot = Time { sec, nsec },
                    _ => return Err(Errno::EINVAL),
                }
            }
        }
        let i = self.fs.tree.get_mut(ino)?;
        if !omit[0] {
            i.atime = t[0];
        }
        if !omit[1] {
            i.mtime = t[1];
        }
        i.ctime = now;
        Ok(0)
    }
}

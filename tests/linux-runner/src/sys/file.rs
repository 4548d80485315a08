//! File syscalls: descriptors, paths, reads and writes, directories,
//! `stat`, `fcntl`, `ioctl`.
//!
//! Paths resolve against the `dirfd` (`AT_FDCWD` = the working directory)
//! with [`Tree`](crate::fs::tree::Tree)'s rules. Everyone is root: access
//! checks pass except execute, which needs an `x` bit. Writes to files
//! copy archive bytes on first write; `/dev/null` and `/dev/zero` behave
//! as on Linux; fds 1 and 2 go to the host's streams, which look like
//! pipes (`S_IFIFO`, `lseek` → `ESPIPE`, no tty: every `ioctl` is
//! `-ENOTTY`).

use alloc::vec::Vec;

use crate::errno::{Errno, Result};
use crate::fs::o;
use crate::fs::tree::{Data, Device, Follow, Ino, Inode, Node, Time, mode};
use crate::mm::Aspace;

use super::{Host, Linux, Sys};

/// `AT_FDCWD`.
const AT_FDCWD: i32 = -100;
pub(super) const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
pub(super) const AT_REMOVEDIR: u64 = 0x200;
pub(super) const AT_SYMLINK_FOLLOW: u64 = 0x400;
pub(super) const AT_EMPTY_PATH: u64 = 0x1000;
/// The most bytes one read or write moves (`MAX_RW_COUNT`).
const MAX_RW: u64 = 0x7fff_f000;

/// What `stat` reports, before the arch's layout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    /// `st_ino`.
    pub ino: u64,
    /// `st_mode`.
    pub mode: u32,
    /// `st_nlink`.
    pub nlink: u32,
    /// `st_uid`.
    pub uid: u32,
    /// `st_gid`.
    pub gid: u32,
    /// `st_rdev`.
    pub rdev: u64,
    /// `st_size`.
    pub size: u64,
    /// `st_blocks` (512-byte units, whole pages as tmpfs counts them).
    pub blocks: u64,
    /// Times.
    pub atime: Time,
    /// Modification.
    pub mtime: Time,
    /// Change.
    pub ctime: Time,
}

/// `st_dev` of every file.
pub const DEV: u64 = 0x1a;

impl Stat {
    fn of(ino: Ino, i: &Inode) -> Stat {
        let size = i.size();
        Stat {
            ino: ino as u64 + 1,
            mode: i.mode(),
            nlink: i.nlink.max(1),
            uid: i.uid,
            gid: i.gid,
            rdev: match i.node {
                Node::Dev(d) => d.rdev(),
                _ => 0,
            },
            size,
            blocks: if matches!(i.node, Node::File(_)) {
                size.div_ceil(4096) * 8
            } else {
                0
            },
            atime: i.atime,
            mtime: i.mtime,
            ctime: i.ctime,
        }
    }

    /// x86_64 `struct stat` (144 bytes).
    pub fn x86_64(&self) -> [u8; 144] {
        let mut b = [0u8; 144];
        put(&mut b, 0, DEV);
        put(&mut b, 8, self.ino);
        put(&mut b, 16, u64::from(self.nlink));
        put32(&mut b, 24, self.mode);
        put32(&mut b, 28, self.uid);
        put32(&mut b, 32, self.gid);
        put(&mut b, 40, self.rdev);
        put(&mut b, 48, self.size);
        put(&mut b, 56, 4096);
        put(&mut b, 64, self.blocks);
        self.times(&mut b, 72);
        b
    }

    /// The generic (aarch64) `struct stat` (128 bytes).
    pub fn generic(&self) -> [u8; 128] {
        let mut b = [0u8; 128];
        put(&mut b, 0, DEV);
        put(&mut b, 8, self.ino);
        put32(&mut b, 16, self.mode);
        put32(&mut b, 20, self.nlink);
        put32(&mut b, 24, self.uid);
        put32(&mut b, 28, self.gid);
        put(&mut b, 32, self.rdev);
        put(&mut b, 48, self.size);
        put32(&mut b, 56, 4096);
        put(&mut b, 64, self.blocks);
        self.times(&mut b, 72);
        b
    }

    fn times(&self, b: &mut [u8], at: usize) {
        for (k, t) in [self.atime, self.mtime, self.ctime].iter().enumerate() {
            put(b, at + 16 * k, t.sec as u64);
            put(b, at + 16 * k + 8, t.nsec as u64);
        }
    }

    /// `struct statx` (256 bytes), every basic field filled.
    pub fn statx(&self) -> [u8; 256] {
        let mut b = [0u8; 256];
        put32(&mut b, 0, 0x7ff); // STATX_BASIC_STATS
        put32(&mut b, 4, 4096);
        put32(&mut b, 16, self.nlink);
        put32(&mut b, 20, self.uid);
        put32(&mut b, 24, self.gid);
        b[28..30].copy_from_slice(&(self.mode as u16).to_le_bytes());
        put(&mut b, 32, self.ino);
        put(&mut b, 40, self.size);
        put(&mut b, 48, self.blocks);
        for (at, t) in [(64, self.atime), (96, self.ctime), (112, self.mtime)] {
            put(&mut b, at, t.sec as u64);
            put32(&mut b, at + 8, t.nsec as u32);
        }
        put32(&mut b, 128, (self.rdev >> 8) as u32);
        put32(&mut b, 132, (self.rdev & 0xff) as u32);
        put32(&mut b, 136, (DEV >> 8) as u32);
        put32(&mut b, 140, (DEV & 0xff) as u32);
        b
    }
}

pub(super) fn put(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub(super) fn dtype(m: u32) -> u8 {
    match m & mode::IFMT {
        mode::IFDIR => 4,
        mode::IFREG => 8,
        mode::IFLNK => 10,
        mode::IFCHR => 2,
        mode::IFIFO => 1,
        _ => 0,
    }
}

impl<A: Aspace, H: Host> Linux<A, H> {
    /// The current time, for time stamps.
    pub(super) fn now(&mut self) -> Time {
        let ns = self.realtime_base.saturating_add(self.host.monotonic_ns());
        Time {
            sec: ns.div_euclid(1_000_000_000),
            nsec: ns.rem_euclid(1_000_000_000),
        }
    }

    /// The open flags in x86_64 numbering (aarch64's `O_DIRECTORY`,
    /// `O_NOFOLLOW`, `O_DIRECT`, `O_LARGEFILE` differ).
    fn open_flags(&self, raw: u64) -> u32 {
        let raw = raw as u32;
        if !self.arch.generic_stat {
            return raw;
        }
        let mut f = raw & !(0o40000 | 0o100000 | 0o200000 | 0o400000);
        if raw & 0o40000 != 0 {
            f |= o::DIRECTORY;
        }
        if raw & 0o100000 != 0 {
            f |= o::NOFOLLOW;
        }
        f
    }

    /// The directory a `*at` call starts from.
    pub(super) fn dir_of(&self, dirfd: u64, path: &[u8]) -> Result<Ino> {
        if path.first() == Some(&b'/') || dirfd as i32 == AT_FDCWD {
            return Ok(self.fs.cwd);
        }
        let ino = self.fs.fd(u64::from(dirfd as u32))?.file.borrow().ino;
        if !self.fs.tree.get(ino)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(ino)
    }

    pub(super) fn lookup_at(&self, dirfd: u64, path: &[u8], follow: Follow) -> Result<Ino> {
        let dir = self.dir_of(dirfd, path)?;
        self.fs.tree.resolve(dir, path, follow)
    }

    /// The syscalls of this module; `None` for another family.
    pub(super) fn file_call(&mut self, s: Sys, a: [u64; 6]) -> Option<Result<u64>> {
        let cwd = AT_FDCWD as u64;
        Some(match s {
            Sys::Read => self.read(a[0], a[1], a[2], None),
            Sys::Write => self.write(a[0], a[1], a[2], None),
            Sys::Pread64 => self.read(a[0], a[1], a[2], Some(a[3])),
            Sys::Pwrite64 => self.write(a[0], a[1], a[2], Some(a[3])),
            Sys::Readv => self.vector_io(a[0], a[1], a[2], false),
            Sys::Writev => self.vector_io(a[0], a[1], a[2], true),
            Sys::Open => self.openat(cwd, a[0], a[1], a[2]),
            Sys::Openat => self.openat(a[0], a[1], a[2], a[3]),
            Sys::Creat => self.openat(cwd, a[0], u64::from(o::CREAT | o::WRONLY | o::TRUNC), a[1]),
            Sys::Close => self.fs.close(a[0]).map(|()| 0),
            Sys::Stat => self.stat_at(cwd, a[0], a[1], 0),
            Sys::Lstat => self.stat_at(cwd, a[0], a[1], AT_SYMLINK_NOFOLLOW),
            Sys::Fstat => self.fstat(a[0], a[1]),
            Sys::Newfstatat => self.stat_at(a[0], a[1], a[2], a[3]),
            Sys::Statx => self.statx(a[0], a[1], a[2], a[4]),
            Sys::Lseek => self.lseek(a[0], a[1] as i64, a[2]),
            Sys::Ioctl => self.fs.fd(a[0]).map(|_| ()).and(Err(Errno::ENOTTY)),
            Sys::Access => self.access(cwd, a[0], a[1], 0),
            Sys::Faccessat => self.access(a[0], a[1], a[2], 0),
            Sys::Faccessat2 => self.access(a[0], a[1], a[2], a[3]),
            Sys::Dup => self.fs.dup_min(a[0], 0, false),
            Sys::Dup2 => self.dup2(a[0], a[1]),
            Sys::Dup3 => self.dup3(a[0], a[1], a[2]),
            Sys::Fcntl => self.fcntl(a[0], a[1], a[2]),
            Sys::Sendfile => self.sendfile(a[0], a[1], a[2], a[3]),
            Sys::Fsync | Sys::Fdatasync => self.fs.fd(a[0]).map(|_| 0),
            Sys::Sync => Ok(0),
            Sys::Fadvise64 => self.fs.fd(a[0]).map(|_| 0),
            Sys::Truncate => self.truncate_path(a[0], a[1]),
            Sys::Ftruncate => self.ftruncate(a[0], a[1]),
            Sys::Getcwd => self.getcwd(a[0], a[1]),
            Sys::Chdir => self.chdir(a[0]),
            Sys::Fchdir => self.fchdir(a[0]),
            Sys::Mkdir => self.mkdirat(cwd, a[0], a[1]),
            Sys::Mkdirat => self.mkdirat(a[0], a[1], a[2]),
            Sys::Rmdir => self.unlinkat(cwd, a[0], AT_REMOVEDIR),
            Sys::Unlink => self.unlinkat(cwd, a[0], 0),
            Sys::Unlinkat => self.unlinkat(a[0], a[1], a[2]),
            Sys::Rename => self.renameat(cwd, a[0], cwd, a[1], 0),
            Sys::Renameat => self.renameat(a[0], a[1], a[2], a[3], 0),
            Sys::Renameat2 => self.renameat(a[0], a[1], a[2], a[3], a[4]),
            Sys::Link => self.linkat(cwd, a[0], cwd, a[1], 0),
            Sys::Linkat => self.linkat(a[0], a[1], a[2], a[3], a[4]),
            Sys::Symlink => self.symlinkat(a[0], cwd, a[1]),
            Sys::Symlinkat => self.symlinkat(a[0], a[1], a[2]),
            Sys::Readlink => self.readlinkat(cwd, a[0], a[1], a[2]),
            Sys::Readlinkat => self.readlinkat(a[0], a[1], a[2], a[3]),
            Sys::Chmod => self.chmod_at(cwd, a[0], a[1], Follow::Yes),
            Sys::Fchmodat => self.chmod_at(a[0], a[1], a[2], Follow::Yes),
            Sys::Fchmod => self.fd_ino(a[0]).and_then(|i| self.set_perm(i, a[1])),
            Sys::Chown => self.chown_at(cwd, a[0], a[1], a[2], Follow::Yes),
            Sys::Lchown => self.chown_at(cwd, a[0], a[1], a[2], Follow::No),
            Sys::Fchownat => {
                let f = if a[4] & AT_SYMLINK_NOFOLLOW != 0 {
                    Follow::No
                } else {
                    Follow::Yes
                };
                self.chown_at(a[0], a[1], a[2], a[3], f)
            }
            Sys::Fchown => self
                .fd_ino(a[0])
                .and_then(|i| self.set_owner(i, a[1], a[2])),
            Sys::Umask => {
                let old = self.fs.umask;
                self.fs.umask = a[0] as u32 & 0o777;
                Ok(u64::from(old))
            }
            Sys::Getdents64 => self.getdents64(a[0], a[1], a[2]),
            Sys::Utimensat => self.utimensat(a[0], a[1], a[2], a[3]),
            _ => return None,
        })
    }

    pub(super) fn fd_ino(&self, fd: u64) -> Result<Ino> {
        Ok(self.fs.fd(fd)?.file.borrow().ino)
    }

    /// The bytes of regular file `fd` from `off` (for a private mapping).
    pub(super) fn file_bytes_for_mmap(&self, fd: u64, off: u64) -> Result<&[u8]> {
        let f = self.fs.fd(fd)?.file.borrow();
        if f.flags & o::ACCMODE == o::WRONLY {
            return Err(Errno::EACCES);
        }
        match &self.fs.tree.get(f.ino)?.node {
            Node::File(d) => {
                let b = d.bytes();
                Ok(b.get(off as usize..).unwrap_or(&[]))
            }
            _ => Err(Errno::ENODEV),
        }
    }

    fn read(&mut self, fd: u64, buf: u64, count: u64, at: Option<u64>) -> Result<u64> {
        let file = self.fs.fd(fd)?.file.clone();
        let mut f = file.borrow_mut();
        if f.flags & o::ACCMODE == o::WRONLY || f.flags & o::PATH != 0 {
            return Err(Errno::EBADF);
        }
        let count = count.min(MAX_RW);
        self.mm.check(buf, count, crate::mm::Prot::RW)?;
        let off = match at {
            Some(p) if (p as i64) < 0 => return Err(Errno::EINVAL),
            Some(p) => p,
            None => f.offset,
        };
        let n = match &self.fs.tree.get(f.ino)?.node {
            Node::File(d) => {
                let bytes = d.bytes();
                let start = (off as usize).min(bytes.len());
                let n = (bytes.len() - start).min(count as usize);
                self.write_user(buf, &bytes[start..start + n])?;
                n as u64
            }
            Node::Dir { .. } => return Err(Errno::EISDIR),
            Node::Dev(Device::Zero) => {
                let zeros = alloc::vec![0u8; count.min(1 << 20) as usize];
                self.write_user(buf, &zeros)?;
                zeros.len() as u64
            }
            Node::Dev(_) => 0,
            Node::Symlink(_) => return Err(Errno::EINVAL),
        };
        if at.is_none() {
            f.offset = off + n;
        }
        Ok(n)
    }

    fn write(&mut self, fd: u64, buf: u64, count: u64, at: Option<u64>) -> Result<u64> {
        let count = count.min(MAX_RW);
        let data = self.read_vec(buf, count as usize)?;
        self.write_bytes(fd, &data, at)
    }

    /// Writes runner bytes to `fd` (the write path of `write`, `writev`,
    /// `sendfile`).
    fn write_bytes(&mut self, fd: u64, data: &[u8], at: Option<u64>) -> Result<u64> {
        let file = self.fs.fd(fd)?.file.clone();
        let mut f = file.borrow_mut();
        if f.flags & o::ACCMODE == o::RDONLY || f.flags & o::PATH != 0 {
            return Err(Errno::EBADF);
        }
        let now = self.now();
        let ino = f.ino;
        let node = &mut self.fs.tree.get_mut(ino)?.node;
        let n = match node {
            Node::File(d) => {
                let v = d.owned();
                let off = match at {
                    Some(p) if (p as i64) < 0 => return Err(Errno::EINVAL),
                    Some(p) => p as usize,
                    None if f.flags & o::APPEND != 0 => v.len(),
                    None => f.offset as usize,
                };
                let end = off.checked_add(data.len()).ok_or(Errno::EFBIG)?;
                if end > v.len() {
                    v.try_reserve(end - v.len()).map_err(|_| Errno::ENOSPC)?;
                    v.resize(end, 0);
                }
                v[off..end].copy_from_slice(data);
                if at.is_none() {
                    f.offset = end as u64;
                }
                let i = self.fs.tree.get_mut(ino)?;
                i.mtime = now;
                i.ctime = now;
                data.len() as u64
            }
            Node::Dev(Device::Console(s)) => {
                let s = *s;
                drop(f);
                return self.host.console(s, data);
            }
            Node::Dev(_) => data.len() as u64,
            Node::Dir { .. } => return Err(Errno::EISDIR),
            Node::Symlink(_) => return Err(Errno::EINVAL),
        };
        Ok(n)
    }

    fn vector_io(&mut self, fd: u64, iov: u64, count: u64, write: bool) -> Result<u64> {
        self.fs.fd(fd)?;
        let v = self.read_iovecs(iov, count)?;
        let mut total = 0u64;
        for (base, len) in v {
            if len == 0 {
                continue;
            }
            let n = if write {
                self.write(fd, base, len, None)
            } else {
                self.read(fd, base, len, None)
            };
            match n {
                Ok(n) => {
                    total += n;
                    if n < len {
                        break;
                    }
                }
                Err(e) if total == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(total)
    }

    fn openat(&mut self, dirfd: u64, path: u64, flags: u64, perm: u64) -> Result<u64> {
        let path = self.read_cstr(path)?;
        let flags = self.open_flags(flags);
        let dir = self.dir_of(dirfd, &path)?;
        let follow = if flags & o::NOFOLLOW != 0 {
            Follow::No
        } else {
            Follow::Yes
        };
        let now = self.now();
        let ino = match self.fs.tree.resolve(dir, &path, follow) {
            Ok(_) if flags & o::CREAT != 0 && flags & o::EXCL != 0 => return Err(Errno::EEXIST),
            Ok(i) => i,
            Err(Errno::ENOENT) if flags & o::CREAT != 0 => {
                let p = self.fs.tree.resolve_parent(dir, &path)?;
                if p.trailing {
                    return Err(Errno::EISDIR);
                }
                // A dangling symlink as the last component: Linux creates
                // its target; keep it simple and refuse.
                if self.fs.tree.child(p.dir, p.name)?.is_some() {
                    return Err(Errno::ENOENT);
                }
                let perm = perm as u32 & 0o7777 & !self.fs.umask;
                self.fs.tree.create(
                    p.dir,
                    p.name,
                    Node::File(Data::Owned(Vec::new())),
                    perm,
                    now,
                )?
            }
            Err(e) => return Err(e),
        };
        let inode = self.fs.tree.get(ino)?;
        if matches!(inode.node, Node::Symlink(_)) && flags & o::PATH == 0 {
            return Err(Errno::ELOOP);
        }
        let acc = flags & o::ACCMODE;
        if inode.is_dir() && (acc != o::RDONLY || flags & o::CREAT != 0) {
            return Err(Errno::EISDIR);
        }
        if flags & o::DIRECTORY != 0 && !inode.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if flags & o::TRUNC != 0
            && acc != o::RDONLY
            && let Node::File(d) = &mut self.fs.tree.get_mut(ino)?.node
        {
            *d = Data::Owned(Vec::new());
            let i = self.fs.tree.get_mut(ino)?;
            i.mtime = now;
            i.ctime = now;
        }
        self.fs.open_ino(ino, flags, 0)
    }

    fn put_stat(&mut self, ino: Ino, buf: u64) -> Result<u64> {
        let st = Stat::of(ino, self.fs.tree.get(ino)?);
        if self.arch.generic_stat {
            self.write_user(buf, &st.generic())?;
        } else {
            self.write_user(buf, &st.x86_64())?;
        }
        Ok(0)
    }

    fn fstat(&mut self, fd: u64, buf: u64) -> Result<u64> {
        let ino = self.fd_ino(fd)?;
        self.put_stat(ino, buf)
    }

    pub(super) fn path_or_fd(&self, dirfd: u64, path: u64, flags: u64) -> Result<Ino> {
        let p = self.read_cstr(path)?;
        if p.is_empty() && flags & AT_EMPTY_PATH != 0 {
            if dirfd as i32 == AT_FDCWD {
                return Ok(self.fs.cwd);
            }
            return self.fd_ino(u64::from(dirfd as u32));
        }
        let follow = if flags & AT_SYMLINK_NOFOLLOW != 0 {
            Follow::No
        } else {
            Follow::Yes
        };
        self.lookup_at(dirfd, &p, follow)
    }

    fn stat_at(&mut self, dirfd: u64, path: u64, buf: u64, flags: u64) -> Result<u64> {
        if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | 0x800) != 0 {
            return Err(Errno::EINVAL);
        }
        let ino = self.path_or_fd(dirfd, path, flags)?;
        self.put_stat(ino, buf)
    }

    fn statx(&mut self, dirfd: u64, path: u64, flags: u64, buf: u64) -> Result<u64> {
        let ino = self.path_or_fd(dirfd, path, flags)?;
        let st = Stat::of(ino, self.fs.tree.get(ino)?);
        self.write_user(buf, &st.statx())?;
        Ok(0)
    }

    fn lseek(&mut self, fd: u64, off: i64, whence: u64) -> Result<u64> {
        let file = self.fs.fd(fd)?.file.clone();
        let mut f = file.borrow_mut();
        let inode = self.fs.tree.get(f.ino)?;
        if matches!(inode.node, Node::Dev(Device::Console(_))) {
            return Err(Errno::ESPIPE);
        }
        let base = match whence {
            0 => 0,
            1 => f.offset as i64,
            2 => inode.size() as i64,
            _ => return Err(Errno::EINVAL),
        };
        let new = base
            .checked_add(off)
            .filter(|n| *n >= 0)
            .ok_or(Errno::EINVAL)?;
        f.offset = new as u64;
        Ok(new as u64)
    }

    fn access(&mut self, dirfd: u64, path: u64, mode: u64, flags: u64) -> Result<u64> {
        if mode & !7 != 0 || flags & !(0x200 | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
            return Err(Errno::EINVAL);
        }
        let ino = self.path_or_fd(dirfd, path, flags)?;
        let i = self.fs.tree.get(ino)?;
        if mode & 1 != 0 && !i.is_dir() && i.perm & 0o111 == 0 {
            return Err(Errno::EACCES);
        }
        Ok(0)
    }

    fn dup2(&mut self, old: u64, new: u64) -> Result<u64> {
        self.fs.fd(old)?;
        if old == new {
            return Ok(new);
        }
        self.fs.dup_to(old, new, false)
    }

    fn dup3(&mut self, old: u64, new: u64, flags: u64) -> Result<u64> {
        if old == new || flags & !u64::from(o::CLOEXEC) != 0 {
            return Err(Errno::EINVAL);
        }
        self.fs.dup_to(old, new, flags != 0)
    }

    fn fcntl(&mut self, fd: u64, cmd: u64, arg: u64) -> Result<u64> {
        const LARGEFILE_X86: u32 = 0o100000;
        const LARGEFILE_ARM: u32 = 0o400000;
        match cmd {
            0 => self.fs.dup_min(fd, arg, false),
            1030 => self.fs.dup_min(fd, arg, true),
            1 => Ok(u64::from(self.fs.fd(fd)?.cloexec)),
            2 => {
                self.fs.fd_mut(fd)?.cloexec = arg & 1 != 0;
                Ok(0)
            }
            3 => {
                let flags = self.fs.fd(fd)?.file.borrow().flags;
                let large = if self.arch.generic_stat {
                    LARGEFILE_ARM
                } else {
                    LARGEFILE_X86
                };
                Ok(u64::from(flags | large))
            }
            4 => {
                let file = self.fs.fd(fd)?.file.clone();
                let keep = o::APPEND | o::NONBLOCK;
                let mut f = file.borrow_mut();
                f.flags = (f.flags & !keep) | (arg as u32 & keep);
                Ok(0)
            }
            // Locks: one process, so every lock is granted and F_GETLK
            // finds none (l_type = F_UNLCK).
            5 => {
                self.fs.fd(fd)?;
                self.write_user(arg, &2u16.to_le_bytes())?;
                Ok(0)
            }
            6 | 7 => self.fs.fd(fd).map(|_| 0),
            _ => {
                self.fs.fd(fd)?;
                Err(Errno::EINVAL)
            }
        }
    }

    fn sendfile(&mut self, out: u64, inp: u64, offp: u64, count: u64) -> Result<u64> {
        let file = self.fs.fd(inp)?.file.clone();
        self.fs.fd(out)?;
        let off = if offp != 0 {
            self.read_u64(offp)?
        } else {
            file.borrow().offset
        };
        let data: Vec<u8> = {
            let f = file.borrow();
            if f.flags & o::ACCMODE == o::WRONLY {
                return Err(Errno::EBADF);
            }
            match &self.fs.tree.get(f.ino)?.node {
                Node::File(d) => {
                    let b = d.bytes();
                    let s = (off as usize).min(b.len());
                    let n = (b.len() - s).min(count.min(MAX_RW) as usize);
                    b[s..s + n].to_vec()
                }
                _ => return Err(Errno::EINVAL),
            }
        };
        let n = self.write_bytes(out, &data, None)?;
        if offp != 0 {
            self.write_u64(offp, off + n)?;
        } else {
            file.borrow_mut().offset = off + n;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_layouts() {
        let st = Stat {
            ino: 7,
            mode: 0o100644,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            size: 5000,
            blocks: 16,
            atime: Time { sec: 1, nsec: 2 },
            mtime: Time { sec: 3, nsec: 4 },
            ctime: Time { sec: 5, nsec: 6 },
        };
        let x = st.x86_64();
        let word = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
        let w32 = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
        assert_eq!(word(&x, 8), 7);
        assert_eq!(word(&x, 16), 1);
        assert_eq!(w32(&x, 24), 0o100644);
        assert_eq!(word(&x, 48), 5000);
        assert_eq!(word(&x, 88), 3);
        let g = st.generic();
        assert_eq!(w32(&g, 16), 0o100644);
        assert_eq!(w32(&g, 20), 1);
        assert_eq!(word(&g, 48), 5000);
        assert_eq!(word(&g, 104), 5);
        let s = st.statx();
        assert_eq!(w32(&s, 0), 0x7ff);
        assert_eq!(u16::from_le_bytes([s[28], s[29]]), 0o100644);
        assert_eq!(word(&s, 40), 5000);
        assert_eq!(word(&s, 112), 3);
        assert_eq!(dtype(0o040755), 4);
        assert_eq!(dtype(0o120777), 10);
    }
}

//! The guest's files: the tree built from the archive, open file
//! descriptions, the descriptor table, the working directory and umask.
//!
//! - [`archive`]: reading the cpio archive the xtask packs.
//! - [`tree`]: inodes, resolution, namespace operations.
//! - [`Fs::from_archive`] builds the tree: the archive's entries (parents
//!   made as needed), then what every run has: `/tmp` (1777), `/dev/null`,
//!   `/dev/zero`, `/proc/self/exe` (a link to the program's path),
//!   `/etc/passwd` and `/etc/group` with root when the archive has none;
//!   fd 0 reads the `!stdin` entry (or `/dev/null`), fds 1 and 2 write to
//!   the host's stdout and stderr streams. Entries named `!…` are runner
//!   inputs, not files (`!stdin`, `!sigtramp`, `!pad` for alignment).

pub mod archive;
pub mod tree;

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::errno::{Errno, Result};
use tree::{Data, Device, Follow, Ino, Node, ROOT, Time, Tree};

/// `O_*` flags (the same numbers on x86_64 and aarch64 except where
/// noted; the runner translates the aarch64 differences on entry).
#[allow(missing_docs)]
pub mod o {
    pub const ACCMODE: u32 = 3;
    pub const RDONLY: u32 = 0;
    pub const WRONLY: u32 = 1;
    pub const RDWR: u32 = 2;
    pub const CREAT: u32 = 0o100;
    pub const EXCL: u32 = 0o200;
    pub const NOCTTY: u32 = 0o400;
    pub const TRUNC: u32 = 0o1000;
    pub const APPEND: u32 = 0o2000;
    pub const NONBLOCK: u32 = 0o4000;
    pub const DIRECTORY: u32 = 0o200000;
    pub const NOFOLLOW: u32 = 0o400000;
    pub const CLOEXEC: u32 = 0o2000000;
    pub const PATH: u32 = 0o10000000;
}

/// An open file description (shared by `dup`ed descriptors).
#[derive(Debug)]
pub struct OpenFile {
    /// The inode.
    pub ino: Ino,
    /// The file offset (for a directory: the index of the next entry).
    pub offset: u64,
    /// `O_*` status flags and access mode.
    pub flags: u32,
}

/// A descriptor: its open file and `FD_CLOEXEC`.
#[derive(Clone, Debug)]
pub struct Fd {
    /// The open file.
    pub file: Rc<RefCell<OpenFile>>,
    /// `FD_CLOEXEC`.
    pub cloexec: bool,
}

/// The most descriptors (`RLIMIT_NOFILE`'s usual soft limit).
pub const MAX_FDS: usize = 1024;

/// The file system state of the process.
pub struct Fs {
    /// The tree.
    pub tree: Tree,
    fds: Vec<Option<Fd>>,
    /// The working directory.
    pub cwd: Ino,
    /// The umask.
    pub umask: u32,
    /// Archive entries that are runner inputs, not paths (`!name`).
    specials: Vec<(&'static [u8], &'static [u8])>,
}

/// Why the archive could not become a tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// The archive is malformed.
    Archive(archive::ArchiveError),
    /// An entry's path goes through a non-directory, or is taken.
    Path,
}

const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\n";
const GROUP: &[u8] = b"root:x:0:\n";

impl Fs {
    /// Builds the tree from `archive`; `exe` is the program's path.
    ///
    /// # Errors
    ///
    /// [`BuildError`].
    pub fn from_archive(
        archive: &'static [u8],
        exe: &[u8],
        now: Time,
    ) -> core::result::Result<Fs, BuildError> {
        let mut t = Tree::new();
        let mut stdin = None;
        let mut specials = Vec::new();
        for e in archive::entries(archive) {
            let e = e.map_err(BuildError::Archive)?;
            if e.name.first() == Some(&b'!') {
                if e.name == b"!stdin" {
                    stdin = Some(e.data);
                }
                specials.push((e.name, e.data));
                continue;
            }
            let name = e.name.strip_prefix(b"/").unwrap_or(e.name);
            if name.is_empty() || name == b"." {
                continue;
            }
            let (dir, base) = match name.iter().rposition(|&b| b == b'/') {
                Some(i) => (
                    t.mkdir_all(&name[..i], now).map_err(|_| BuildError::Path)?,
                    &name[i + 1..],
                ),
                None => (ROOT, name),
            };
            let time = Time {
                sec: i64::from(e.mtime),
                nsec: 0,
            };
            let node = match e.mode & tree::mode::IFMT {
                tree::mode::IFDIR => {
                    let ino = match t.child(dir, base).map_err(|_| BuildError::Path)? {
                        Some(i) => i,
                        None => t
                            .mkdir(dir, base, e.mode, time)
                            .map_err(|_| BuildError::Path)?,
                    };
                    let i = t.get_mut(ino).map_err(|_| BuildError::Path)?;
                    i.perm = e.mode & 0o7777;
                    i.mtime = time;
                    continue;
                }
                tree::mode::IFLNK => Node::Symlink(e.data.to_vec()),
                _ => Node::File(Data::Archive(e.data)),
            };
            let ino = t
                .create(dir, base, node, e.mode, time)
                .map_err(|_| BuildError::Path)?;
            let i = t.get_mut(ino).map_err(|_| BuildError::Path)?;
            (i.uid, i.gid) = (e.uid, e.gid);
        }
        let tmp = t.mkdir_all(b"/tmp", now).map_err(|_| BuildError::Path)?;
        t.get_mut(tmp).map_err(|_| BuildError::Path)?.perm = 0o1777;
        t.mkdir_all(b"/root", now).map_err(|_| BuildError::Path)?;
        let dev = t.mkdir_all(b"/dev", now).map_err(|_| BuildError::Path)?;
        for (name, d) in [(&b"null"[..], Device::Null), (b"zero", Device::Zero)] {
            if t.child(dev, name).map_err(|_| BuildError::Path)?.is_none() {
                t.create(dev, name, Node::Dev(d), 0o666, now)
                    .map_err(|_| BuildError::Path)?;
            }
        }
        let proc_self = t
            .mkdir_all(b"/proc/self", now)
            .map_err(|_| BuildError::Path)?;
        if t.child(proc_self, b"exe")
            .map_err(|_| BuildError::Path)?
            .is_none()
        {
            t.create(proc_self, b"exe", Node::Symlink(exe.to_vec()), 0o777, now)
                .map_err(|_| BuildError::Path)?;
        }
        let etc = t.mkdir_all(b"/etc", now).map_err(|_| BuildError::Path)?;
        for (name, data) in [(&b"passwd"[..], PASSWD), (b"group", GROUP)] {
            if t.child(etc, name).map_err(|_| BuildError::Path)?.is_none() {
                t.create(etc, name, Node::File(Data::Archive(data)), 0o644, now)
                    .map_err(|_| BuildError::Path)?;
            }
        }
        let mut fs = Fs {
            tree: t,
            fds: Vec::new(),
            cwd: ROOT,
            umask: 0o022,
            specials,
        };
        let stdin_ino = match stdin {
            Some(data) => fs
                .tree
                .add_unlinked(Node::File(Data::Archive(data)), 0o644, now),
            None => fs
                .tree
                .resolve(ROOT, b"/dev/null", Follow::Yes)
                .map_err(|_| BuildError::Path)?,
        };
        let out = fs
            .tree
            .add_unlinked(Node::Dev(Device::Console(1)), 0o600, now);
        let err = fs
            .tree
            .add_unlinked(Node::Dev(Device::Console(2)), 0o600, now);
        for (ino, flags) in [(stdin_ino, o::RDONLY), (out, o::WRONLY), (err, o::WRONLY)] {
            fs.open_ino(ino, flags, 0).map_err(|_| BuildError::Path)?;
        }
        Ok(fs)
    }

    /// The data of runner input `name` (`!sigtramp`, `!stdin`).
    pub fn special(&self, name: &[u8]) -> Option<&'static [u8]> {
        self.specials
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, d)| d)
    }

    /// A descriptor.
    ///
    /// # Errors
    ///
    /// `EBADF`.
    pub fn fd(&self, fd: u64) -> Result<&Fd> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get(i))
            .and_then(Option::as_ref)
            .ok_or(Errno::EBADF)
    }

    /// A descriptor, mutable (for `FD_CLOEXEC`).
    ///
    /// # Errors
    ///
    /// `EBADF`.
    pub fn fd_mut(&mut self, fd: u64) -> Result<&mut Fd> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get_mut(i))
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)
    }

    /// The lowest free descriptor at or above `min`.
    fn free_fd(&self, min: usize) -> Result<usize> {
        (min..MAX_FDS)
            .find(|&i| self.fds.get(i).is_none_or(Option::is_none))
            .ok_or(Errno::EMFILE)
    }

    /// Installs `fd` at `slot` (closing what was there).
    fn install(&mut self, slot: usize, fd: Fd) {
        if slot >= self.fds.len() {
            self.fds.resize(slot + 1, None);
        }
        if let Some(old) = self.fds[slot].replace(fd) {
            self.drop_fd(old);
        }
    }

    fn drop_fd(&mut self, fd: Fd) {
        if let Ok(file) = Rc::try_unwrap(fd.file) {
            let ino = file.into_inner().ino;
            if let Ok(i) = self.tree.get_mut(ino) {
                i.opens = i.opens.saturating_sub(1);
            }
            self.tree.release(ino);
        }
    }

    /// Opens `ino` at the lowest free descriptor `>= min`.
    ///
    /// # Errors
    ///
    /// `EMFILE`.
    pub fn open_ino(&mut self, ino: Ino, flags: u32, min: usize) -> Result<u64> {
        let slot = self.free_fd(min)?;
        self.tree.get_mut(ino)?.opens += 1;
        let file = Rc::new(RefCell::new(OpenFile {
            ino,
            offset: 0,
            flags: flags & !o::CLOEXEC,
        }));
        self.install(
            slot,
            Fd {
                file,
                cloexec: flags & o::CLOEXEC != 0,
            },
        );
        Ok(slot as u64)
    }

    /// `close`.
    ///
    /// # Errors
    ///
    /// `EBADF`.
    pub fn close(&mut self, fd: u64) -> Result<()> {
        self.fd(fd)?;
        let old = self.fds[fd as usize].take().ok_or(Errno::EBADF)?;
        self.drop_fd(old);
        Ok(())
    }

    /// `dup`/`fcntl(F_DUPFD)`: a new descriptor `>= min` for the same open
    /// file, without `FD_CLOEXEC` unless `cloexec`.
    ///
    /// # Errors
    ///
    /// `EBADF`, `EMFILE`, `EINVAL` (`min` too large).
    pub fn dup_min(&mut self, fd: u64, min: u64, cloexec: bool) -> Result<u64> {
        let file = self.fd(fd)?.file.clone();
        let min = usize::try_from(min)
            .ok()
            .filter(|&m| m < MAX_FDS)
            .ok_or(Errno::EINVAL)?;
        let slot = self.free_fd(min)?;
        self.install(slot, Fd { file, cloexec });
        Ok(slot as u64)
    }

    /// `dup2`/`dup3` onto `new`.
    ///
    /// # Errors
    ///
    /// `EBADF`.
    pub fn dup_to(&mut self, fd: u64, new: u64, cloexec: bool) -> Result<u64> {
        let file = self.fd(fd)?.file.clone();
        let slot = usize::try_from(new)
            .ok()
            .filter(|&n| n < MAX_FDS)
            .ok_or(Errno::EBADF)?;
        self.install(slot, Fd { file, cloexec });
        Ok(new)
    }

    /// Closes every `FD_CLOEXEC` descriptor (exec).
    pub fn close_on_exec(&mut self) {
        for i in 0..self.fds.len() {
            if self.fds[i].as_ref().is_some_and(|f| f.cloexec) {
                let _ = self.close(i as u64);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::boxed::Box;

    fn fs() -> Fs {
        let mut a = Vec::new();
        archive::write_entry(&mut a, b"bin/busybox", 0o100755, b"ELF");
        archive::write_entry(&mut a, b"bin/sh", 0o120777, b"busybox");
        archive::write_entry(&mut a, b"!stdin", 0o100644, b"input\n");
        archive::write_entry(&mut a, b"TRAILER!!!", 0, b"");
        let a: &'static [u8] = Box::leak(a.into_boxed_slice());
        Fs::from_archive(a, b"/bin/busybox", Time::default()).unwrap()
    }

    #[test]
    fn the_tree_every_run_has() {
        let f = fs();
        let t = &f.tree;
        for p in [
            &b"/bin/busybox"[..],
            b"/tmp",
            b"/dev/null",
            b"/etc/passwd",
            b"/etc/group",
            b"/root",
        ] {
            assert!(
                t.resolve(ROOT, p, Follow::Yes).is_ok(),
                "{}",
                core::str::from_utf8(p).unwrap()
            );
        }
        let exe = t.resolve(ROOT, b"/proc/self/exe", Follow::No).unwrap();
        assert!(matches!(&t.get(exe).unwrap().node, Node::Symlink(s) if s == b"/bin/busybox"));
        let tmp = t.resolve(ROOT, b"/tmp", Follow::Yes).unwrap();
        assert_eq!(t.get(tmp).unwrap().mode(), 0o41777);
        let stdin = f.fd(0).unwrap().file.borrow().ino;
        assert!(matches!(&t.get(stdin).unwrap().node, Node::File(d) if d.bytes() == b"input\n"));
        let out = f.fd(1).unwrap().file.borrow().ino;
        assert!(matches!(
            t.get(out).unwrap().node,
            Node::Dev(Device::Console(1))
        ));
        assert!(f.fd(3).is_err());
    }

    #[test]
    fn descriptors() {
        let mut f = fs();
        assert_eq!(f.dup_min(1, 0, false), Ok(3));
        assert_eq!(f.dup_to(1, 10, true), Ok(10));
        assert!(f.fd(10).unwrap().cloexec);
        assert!(Rc::ptr_eq(&f.fd(10).unwrap().file, &f.fd(1).unwrap().file));
        assert_eq!(f.close(3), Ok(()));
        assert_eq!(f.close(3), Err(Errno::EBADF));
        assert_eq!(f.close(u64::MAX), Err(Errno::EBADF));
        assert_eq!(f.dup_min(99, 0, false), Err(Errno::EBADF));
        assert_eq!(f.dup_to(1, 5000, false), Err(Errno::EBADF));
        f.close_on_exec();
        assert!(f.fd(10).is_err());
        assert!(f.fd(1).is_ok());
    }
}

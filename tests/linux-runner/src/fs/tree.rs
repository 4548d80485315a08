//! The in-memory file tree: inodes, directories, path resolution with
//! Linux's rules, and the namespace operations (create, mkdir, unlink,
//! rmdir, rename, symlink, link).
//!
//! Inodes live in a table indexed by [`Ino`]; a directory maps names to
//! inode numbers and knows its parent (for `..`). File bytes either borrow
//! the archive (mapped read-only for the program's life) or are owned,
//! copied on the first write. An inode is freed when its last link and
//! last open file are gone.
//!
//! Resolution ([`Tree::resolve`]): at most 4096 bytes (`ENAMETOOLONG`),
//! components of at most 255, `ENOTDIR` through a non-directory, `ENOENT`,
//! symlinks followed (absolute or relative to their directory) up to 40
//! times (`ELOOP`), and a trailing `/` requires a directory.

use alloc::borrow::ToOwned;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::errno::{Errno, Result};

/// An inode number (an index into the table; `st_ino` is this + 1).
pub type Ino = usize;

/// The root directory.
pub const ROOT: Ino = 0;

/// `S_IFMT` and the type bits.
#[allow(missing_docs)]
pub mod mode {
    pub const IFMT: u32 = 0o170000;
    pub const IFIFO: u32 = 0o010000;
    pub const IFCHR: u32 = 0o020000;
    pub const IFDIR: u32 = 0o040000;
    pub const IFREG: u32 = 0o100000;
    pub const IFLNK: u32 = 0o120000;
}

/// File bytes.
#[derive(Debug)]
pub enum Data {
    /// Borrowed from the archive.
    Archive(&'static [u8]),
    /// Owned (written since boot).
    Owned(Vec<u8>),
}

impl Data {
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Data::Archive(b) => b,
            Data::Owned(v) => v,
        }
    }

    /// The bytes, owned from now on.
    pub fn owned(&mut self) -> &mut Vec<u8> {
        if let Data::Archive(b) = self {
            *self = Data::Owned(b.to_vec());
        }
        match self {
            Data::Owned(v) => v,
            Data::Archive(_) => unreachable!("just made owned"),
        }
    }
}

/// Character devices the tree offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// `/dev/null` (1, 3).
    Null,
    /// `/dev/zero` (1, 5).
    Zero,
    /// A console stream (the program's stdout or stderr): host stream 1 or 2.
    Console(u8),
}

impl Device {
    /// `st_rdev`.
    pub fn rdev(self) -> u64 {
        match self {
            Device::Null => (1 << 8) | 3,
            Device::Zero => (1 << 8) | 5,
            Device::Console(_) => 0,
        }
    }
}

/// What an inode is.
#[derive(Debug)]
pub enum Node {
    /// A regular file.
    File(Data),
    /// A directory: entries by name, and the parent.
    Dir {
        /// The entries (without `.` and `..`), sorted.
        entries: BTreeMap<Vec<u8>, Ino>,
        /// `..`.
        parent: Ino,
    },
    /// A symbolic link.
    Symlink(Vec<u8>),
    /// A device.
    Dev(Device),
}

/// A time stamp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Time {
    /// Seconds since the epoch.
    pub sec: i64,
    /// Nanoseconds.
    pub nsec: i64,
}

/// An inode.
#[derive(Debug)]
pub struct Inode {
    /// The contents.
    pub node: Node,
    /// Permission bits (and set-id / sticky), without the type.
    pub perm: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Links from directories.
    pub nlink: u32,
    /// Open files referring to it.
    pub opens: u32,
    /// Access, modification and change times.
    pub atime: Time,
    /// Modification.
    pub mtime: Time,
    /// Status change.
    pub ctime: Time,
}

impl Inode {
    /// The `S_IFMT` bits of this inode.
    pub fn file_type(&self) -> u32 {
        match self.node {
            Node::File(_) => mode::IFREG,
            Node::Dir { .. } => mode::IFDIR,
            Node::Symlink(_) => mode::IFLNK,
            Node::Dev(Device::Console(_)) => mode::IFIFO,
            Node::Dev(_) => mode::IFCHR,
        }
    }

    /// `st_mode`.
    pub fn mode(&self) -> u32 {
        self.file_type() | self.perm
    }

    /// `st_size`.
    pub fn size(&self) -> u64 {
        match &self.node {
            Node::File(d) => d.bytes().len() as u64,
            Node::Symlink(t) => t.len() as u64,
            Node::Dir { .. } => 4096,
            Node::Dev(_) => 0,
        }
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(self.node, Node::Dir { .. })
    }
}

/// Longest path (`PATH_MAX`, with its NUL).
pub const PATH_MAX: usize = 4096;
/// Longest component (`NAME_MAX`).
pub const NAME_MAX: usize = 255;
/// Symlinks followed in one resolution (`MAXSYMLINKS`).
const MAX_LINKS: u32 = 40;

/// The tree.
pub struct Tree {
    inodes: Vec<Option<Inode>>,
    free: Vec<Ino>,
}

/// How a path's last component is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    /// Follow a final symlink (`stat`, `open`).
    Yes,
    /// Do not (`lstat`, `readlink`, `O_NOFOLLOW`).
    No,
}

impl Default for Tree {
    fn default() -> Self {
        Self::new()
    }
}

impl Tree {
    /// A tree holding only `/` (mode 0755, root's).
    pub fn new() -> Tree {
        let mut t = Tree {
            inodes: Vec::new(),
            free: Vec::new(),
        };
        let root = t.alloc(
            Node::Dir {
                entries: BTreeMap::new(),
                parent: ROOT,
            },
            0o755,
            Time::default(),
        );
        debug_assert_eq!(root, ROOT);
        if let Some(i) = t.inodes[ROOT].as_mut() {
            i.nlink = 2;
        }
        t
    }

    fn alloc(&mut self, node: Node, perm: u32, now: Time) -> Ino {
        let inode = Inode {
            node,
            perm: perm & 0o7777,
            uid: 0,
            gid: 0,
            nlink: 0,
            opens: 0,
            atime: now,
            mtime: now,
            ctime: now,
        };
        match self.free.pop() {
            Some(i) => {
                self.inodes[i] = Some(inode);
                i
            }
            None => {
                self.inodes.push(Some(inode));
                self.inodes.len() - 1
            }
        }
    }

    /// An inode that exists (every `Ino` the tree hands out does until it
    /// is freed; a stale one is `EBADF`, not a panic).
    ///
    /// # Errors
    ///
    /// `EBADF` for a freed number.
    pub fn get(&self, ino: Ino) -> Result<&Inode> {
        self.inodes
            .get(ino)
            .and_then(Option::as_ref)
            .ok_or(Errno::EBADF)
    }

    /// The same, mutable.
    ///
    /// # Errors
    ///
    /// `EBADF` for a freed number.
    pub fn get_mut(&mut self, ino: Ino) -> Result<&mut Inode> {
        self.inodes
            .get_mut(ino)
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)
    }

    /// An inode not linked anywhere (stdin's file, console streams).
    pub fn add_unlinked(&mut self, node: Node, perm: u32, now: Time) -> Ino {
        self.alloc(node, perm, now)
    }

    fn entries(&self, dir: Ino) -> Result<&BTreeMap<Vec<u8>, Ino>> {
        match &self.get(dir)?.node {
            Node::Dir { entries, .. } => Ok(entries),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn parent(&self, dir: Ino) -> Result<Ino> {
        match &self.get(dir)?.node {
            Node::Dir { parent, .. } => Ok(*parent),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// The entries of a directory, sorted (without `.` and `..`).
    ///
    /// # Errors
    ///
    /// `ENOTDIR`.
    pub fn list(&self, dir: Ino) -> Result<Vec<(Vec<u8>, Ino)>> {
        Ok(self
            .entries(dir)?
            .iter()
            .map(|(n, &i)| (n.clone(), i))
            .collect())
    }

    /// `..` of a directory.
    ///
    /// # Errors
    ///
    /// `ENOTDIR`.
    pub fn dotdot(&self, dir: Ino) -> Result<Ino> {
        self.parent(dir)
    }

    /// Resolves `path` from `cwd`.
    ///
    /// # Errors
    ///
    /// `ENOENT`, `ENOTDIR`, `ELOOP`, `ENAMETOOLONG`.
    pub fn resolve(&self, cwd: Ino, path: &[u8], follow: Follow) -> Result<Ino> {
        let mut links = 0;
        self.walk(cwd, path, follow, &mut links)
    }

    fn walk(&self, cwd: Ino, path: &[u8], follow: Follow, links: &mut u32) -> Result<Ino> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut at = if path[0] == b'/' { ROOT } else { cwd };
        let trailing_slash = path.ends_with(b"/");
        let comps: Vec<&[u8]> = path
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty())
            .collect();
        for (i, c) in comps.iter().enumerate() {
            let last = i + 1 == comps.len();
            if c.len() > NAME_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            let entries = self.entries(at)?;
            let next = match *c {
                b"." => at,
                b".." => self.parent(at)?,
                name => *entries.get(name).ok_or(Errno::ENOENT)?,
            };
            if let Node::Symlink(target) = &self.get(next)?.node
                && (!last || follow == Follow::Yes || trailing_slash)
            {
                *links += 1;
                if *links > MAX_LINKS {
                    return Err(Errno::ELOOP);
                }
                let target = target.clone();
                at = self.walk(at, &target, Follow::Yes, links)?;
            } else {
                at = next;
            }
        }
        if trailing_slash && !self.get(at)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(at)
    }

    /// The directory and final name of `path`, for calls that create or
    /// remove it. A path ending in `/` keeps a flag in the name's absence:
    /// the caller learns it through `trailing`.
    ///
    /// # Errors
    ///
    /// As [`Tree::resolve`] for the directory part; `ENOENT` for an empty
    /// path.
    pub fn resolve_parent<'p>(&self, cwd: Ino, path: &'p [u8]) -> Result<Parent<'p>> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let trimmed_len = path.len() - path.iter().rev().take_while(|&&b| b == b'/').count();
        if trimmed_len == 0 {
            // "/" itself.
            return Ok(Parent {
                dir: ROOT,
                name: b".",
                trailing: true,
            });
        }
        let trimmed = &path[..trimmed_len];
        let (dir_part, name) = match trimmed.iter().rposition(|&b| b == b'/') {
            Some(i) => (&trimmed[..=i], &trimmed[i + 1..]),
            None => (&b""[..], trimmed),
        };
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let dir = if dir_part.is_empty() {
            cwd
        } else {
            self.resolve(cwd, dir_part, Follow::Yes)?
        };
        self.entries(dir)?;
        Ok(Parent {
            dir,
            name,
            trailing: trimmed_len != path.len(),
        })
    }

    /// The inode `name` names in `dir`, if any.
    ///
    /// # Errors
    ///
    /// `ENOTDIR`.
    pub fn child(&self, dir: Ino, name: &[u8]) -> Result<Option<Ino>> {
        Ok(match name {
            b"." => Some(dir),
            b".." => Some(self.parent(dir)?),
            n => self.entries(dir)?.get(n).copied(),
        })
    }

    fn link_into(&mut self, dir: Ino, name: &[u8], ino: Ino, now: Time) -> Result<()> {
        let d = self.get_mut(dir)?;
        d.mtime = now;
        d.ctime = now;
        match &mut d.node {
            Node::Dir { entries, .. } => {
                entries.insert(name.to_owned(), ino);
            }
            _ => return Err(Errno::ENOTDIR),
        }
        self.get_mut(ino)?.nlink += 1;
        Ok(())
    }

    /// Creates `node` as `name` in `dir`.
    ///
    /// # Errors
    ///
    /// `EEXIST` when the name is taken, `ENOTDIR`.
    pub fn create(
        &mut self,
        dir: Ino,
        name: &[u8],
        node: Node,
        perm: u32,
        now: Time,
    ) -> Result<Ino> {
        if self.child(dir, name)?.is_some() || name == b"." || name == b".." {
            return Err(Errno::EEXIST);
        }
        let is_dir = matches!(node, Node::Dir { .. });
        let ino = self.alloc(node, perm, now);
        self.link_into(dir, name, ino, now)?;
        if is_dir {
            self.get_mut(ino)?.nlink += 1; // its "."
            self.get_mut(dir)?.nlink += 1; // its ".."
        }
        Ok(ino)
    }

    /// A new empty directory node under `parent`.
    pub fn dir_node(parent: Ino) -> Node {
        Node::Dir {
            entries: BTreeMap::new(),
            parent,
        }
    }

    /// `mkdir` of `name` in `dir`.
    ///
    /// # Errors
    ///
    /// As [`Tree::create`].
    pub fn mkdir(&mut self, dir: Ino, name: &[u8], perm: u32, now: Time) -> Result<Ino> {
        self.create(dir, name, Self::dir_node(dir), perm, now)
    }

    /// Makes every directory of `path` (absolute) and returns the last
    /// (the archive loader's helper; existing directories are kept).
    ///
    /// # Errors
    ///
    /// `ENOTDIR` when a component is not a directory.
    pub fn mkdir_all(&mut self, path: &[u8], now: Time) -> Result<Ino> {
        let mut at = ROOT;
        for c in path
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
        {
            at = match self.child(at, c)? {
                Some(i) if self.get(i)?.is_dir() => i,
                Some(_) => return Err(Errno::ENOTDIR),
                None => self.mkdir(at, c, 0o755, now)?,
            };
        }
        Ok(at)
    }

    fn unlink_entry(&mut self, dir: Ino, name: &[u8], now: Time) -> Result<Ino> {
        let d = self.get_mut(dir)?;
        d.mtime = now;
        d.ctime = now;
        let ino = match &mut d.node {
            Node::Dir { entries, .. } => entries.remove(name).ok_or(Errno::ENOENT)?,
            _ => return Err(Errno::ENOTDIR),
        };
        let i = self.get_mut(ino)?;
        i.nlink = i.nlink.saturating_sub(1);
        i.ctime = now;
        Ok(ino)
    }

    /// Frees `ino` if nothing links or opens it any more.
    pub fn release(&mut self, ino: Ino) {
        let gone = self.get(ino).is_ok_and(|i| {
            let dir_links = if i.is_dir() { 1 } else { 0 };
            i.nlink <= dir_links && i.opens == 0
        });
        if gone && ino != ROOT {
            self.inodes[ino] = None;
            self.free.push(ino);
        }
    }

    /// `unlink` (not directories).
    ///
    /// # Errors
    ///
    /// `ENOENT`, `EISDIR`, `ENOTDIR`.
    pub fn unlink(&mut self, dir: Ino, name: &[u8], now: Time) -> Result<()> {
        let ino = self.child(dir, name)?.ok_or(Errno::ENOENT)?;
        if self.get(ino)?.is_dir() {
            return Err(Errno::EISDIR);
        }
        self.unlink_entry(dir, name, now)?;
        self.release(ino);
        Ok(())
    }

    /// `rmdir`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for `.`, `ENOTEMPTY` (also `..`), `EBUSY` for `/`,
    /// `ENOTDIR`, `ENOENT`.
    pub fn rmdir(&mut self, dir: Ino, name: &[u8], now: Time) -> Result<()> {
        match name {
            b"." => return Err(Errno::EINVAL),
            b".." => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        let ino = self.child(dir, name)?.ok_or(Errno::ENOENT)?;
        if ino == ROOT {
            return Err(Errno::EBUSY);
        }
        if !self.entries(ino)?.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        self.unlink_entry(dir, name, now)?;
        let d = self.get_mut(dir)?;
        d.nlink = d.nlink.saturating_sub(1);
        self.get_mut(ino)?.nlink = 0;
        self.release(ino);
        Ok(())
    }

    /// Whether `anc` is `ino` or one of its ancestors.
    fn is_ancestor(&self, anc: Ino, mut ino: Ino) -> bool {
        loop {
            if ino == anc {
                return true;
            }
            match self.parent(ino) {
                Ok(p) if p != ino => ino = p,
                _ => return false,
            }
        }
    }

    /// `rename`, with Linux's rules for what may replace what.
    ///
    /// # Errors
    ///
    /// `ENOENT`, `EISDIR`, `ENOTDIR`, `ENOTEMPTY`, `EINVAL` (a directory
    /// into itself), `EBUSY` (`.`/`..`).
    pub fn rename(&mut self, od: Ino, on: &[u8], nd: Ino, nn: &[u8], now: Time) -> Result<()> {
        if matches!(on, b"." | b"..") || matches!(nn, b"." | b"..") {
            return Err(Errno::EBUSY);
        }
        let src = self.child(od, on)?.ok_or(Errno::ENOENT)?;
        let src_dir = self.get(src)?.is_dir();
        if src_dir && self.is_ancestor(src, nd) {
            return Err(Errno::EINVAL);
        }
        if let Some(dst) = self.child(nd, nn)? {
            if dst == src {
                return Ok(());
            }
            let dst_dir = self.get(dst)?.is_dir();
            match (src_dir, dst_dir) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) => self.rmdir(nd, nn, now)?,
                (false, false) => self.unlink(nd, nn, now)?,
            }
        }
        self.unlink_entry(od, on, now)?;
        self.link_into(nd, nn, src, now)?;
        if src_dir {
            if let Node::Dir { parent, .. } = &mut self.get_mut(src)?.node {
                *parent = nd;
            }
            self.get_mut(od)?.nlink -= 1;
            self.get_mut(nd)?.nlink += 1;
        }
        Ok(())
    }

    /// A hard link to `ino` as `name` in `dir`.
    ///
    /// # Errors
    ///
    /// `EPERM` for a directory, `EEXIST`.
    pub fn link(&mut self, ino: Ino, dir: Ino, name: &[u8], now: Time) -> Result<()> {
        if self.get(ino)?.is_dir() {
            return Err(Errno::EPERM);
        }
        if self.child(dir, name)?.is_some() {
            return Err(Errno::EEXIST);
        }
        self.link_into(dir, name, ino, now)?;
        self.get_mut(ino)?.ctime = now;
        Ok(())
    }

    /// The absolute path of directory `dir` (for `getcwd`).
    ///
    /// # Errors
    ///
    /// `ENOENT` if it was removed.
    pub fn path_of(&self, dir: Ino) -> Result<Vec<u8>> {
        let mut parts: Vec<Vec<u8>> = Vec::new();
        let mut at = dir;
        while at != ROOT {
            let p = self.parent(at)?;
            let name = self
                .entries(p)?
                .iter()
                .find(|(_, i)| **i == at)
                .map(|(n, _)| n.clone())
                .ok_or(Errno::ENOENT)?;
            parts.push(name);
            at = p;
        }
        let mut out = Vec::new();
        for p in parts.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(p);
        }
        if out.is_empty() {
            out.push(b'/');
        }
        Ok(out)
    }
}

/// What [`Tree::resolve_parent`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parent<'p> {
    /// The directory.
    pub dir: Ino,
    /// The final component (may be `.` or `..`).
    pub name: &'p [u8],
    /// Whether the path ended in `/`.
    pub trailing: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const T: Time = Time { sec: 1, nsec: 0 };

    fn tree() -> Tree {
        let mut t = Tree::new();
        let bin = t.mkdir(ROOT, b"bin", 0o755, T).unwrap();
        t.create(bin, b"busybox", Node::File(Data::Archive(b"elf")), 0o755, T)
            .unwrap();
        t.create(bin, b"ls", Node::Symlink(b"busybox".to_vec()), 0o777, T)
            .unwrap();
        t.create(ROOT, b"loop", Node::Symlink(b"/loop".to_vec()), 0o777, T)
            .unwrap();
        t.mkdir(ROOT, b"tmp", 0o1777, T).unwrap();
        t
    }

    #[test]
    fn resolution_rules() {
        let t = tree();
        let bb = t.resolve(ROOT, b"/bin/busybox", Follow::Yes).unwrap();
        assert_eq!(t.resolve(ROOT, b"/bin/ls", Follow::Yes), Ok(bb));
        assert_ne!(t.resolve(ROOT, b"/bin/ls", Follow::No), Ok(bb));
        assert_eq!(
            t.resolve(ROOT, b"bin/../bin/./busybox", Follow::Yes),
            Ok(bb)
        );
        assert_eq!(
            t.resolve(ROOT, b"/../..//bin", Follow::Yes),
            t.resolve(ROOT, b"/bin", Follow::Yes)
        );
        assert_eq!(t.resolve(ROOT, b"", Follow::Yes), Err(Errno::ENOENT));
        assert_eq!(t.resolve(ROOT, b"/nope", Follow::Yes), Err(Errno::ENOENT));
        assert_eq!(
            t.resolve(ROOT, b"/bin/busybox/x", Follow::Yes),
            Err(Errno::ENOTDIR)
        );
        assert_eq!(
            t.resolve(ROOT, b"/bin/busybox/", Follow::Yes),
            Err(Errno::ENOTDIR)
        );
        assert_eq!(t.resolve(ROOT, b"/loop", Follow::Yes), Err(Errno::ELOOP));
        assert!(t.resolve(ROOT, b"/loop", Follow::No).is_ok());
        let long = vec![b'a'; 256];
        assert_eq!(
            t.resolve(ROOT, &long, Follow::Yes),
            Err(Errno::ENAMETOOLONG)
        );
        let huge = vec![b'/'; 5000];
        assert_eq!(
            t.resolve(ROOT, &huge, Follow::Yes),
            Err(Errno::ENAMETOOLONG)
        );
    }

    #[test]
    fn namespace_operations() {
        let mut t = tree();
        let tmp = t.resolve(ROOT, b"/tmp", Follow::Yes).unwrap();
        let d = t.mkdir(tmp, b"d", 0o755, T).unwrap();
        assert_eq!(t.get(tmp).unwrap().nlink, 3);
        assert_eq!(t.mkdir(tmp, b"d", 0o755, T), Err(Errno::EEXIST));
        let f = t
            .create(d, b"f", Node::File(Data::Owned(vec![1])), 0o644, T)
            .unwrap();
        assert_eq!(t.rmdir(tmp, b"d", T), Err(Errno::ENOTEMPTY));
        assert_eq!(t.unlink(tmp, b"d", T), Err(Errno::EISDIR));
        assert_eq!(t.rmdir(d, b"f", T), Err(Errno::ENOTDIR));
        assert_eq!(t.rename(tmp, b"d", d, b"x", T), Err(Errno::EINVAL));
        t.rename(d, b"f", tmp, b"g", T).unwrap();
        assert_eq!(t.resolve(ROOT, b"/tmp/g", Follow::Yes), Ok(f));
        assert_eq!(t.rename(tmp, b"g", ROOT, b"tmp", T), Err(Errno::EISDIR));
        assert_eq!(t.rename(tmp, b"d", ROOT, b"loop", T), Err(Errno::ENOTDIR));
        t.rmdir(tmp, b"d", T).unwrap();
        assert_eq!(t.get(tmp).unwrap().nlink, 2);
        assert!(t.get(d).is_err());
        t.link(f, tmp, b"h", T).unwrap();
        assert_eq!(t.get(f).unwrap().nlink, 2);
        t.unlink(tmp, b"g", T).unwrap();
        assert_eq!(t.get(f).unwrap().nlink, 1);
        t.get_mut(f).unwrap().opens = 1;
        t.unlink(tmp, b"h", T).unwrap();
        assert!(t.get(f).is_ok(), "an open file outlives its last link");
        t.get_mut(f).unwrap().opens = 0;
        t.release(f);
        assert!(t.get(f).is_err());
        assert_eq!(t.rmdir(ROOT, b".", T), Err(Errno::EINVAL));
    }

    #[test]
    fn parents_and_paths() {
        let t = tree();
        let p = t.resolve_parent(ROOT, b"/tmp/new/").unwrap();
        assert_eq!((p.name, p.trailing), (&b"new"[..], true));
        assert_eq!(t.resolve_parent(ROOT, b"/nope/x"), Err(Errno::ENOENT));
        assert_eq!(
            t.resolve_parent(ROOT, b"/bin/busybox/x"),
            Err(Errno::ENOTDIR)
        );
        let p = t.resolve_parent(ROOT, b"x").unwrap();
        assert_eq!(p.dir, ROOT);
        let bin = t.resolve(ROOT, b"/bin", Follow::Yes).unwrap();
        assert_eq!(t.path_of(bin).unwrap(), b"/bin");
        assert_eq!(t.path_of(ROOT).unwrap(), b"/");
    }
}

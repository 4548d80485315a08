//! The guest's file archive: a cpio "newc" stream (read by
//! `tests/linux-runner/src/fs/archive.rs`), with every regular file's data
//! page-aligned (padding entries named `!pad`), so that the runner can map
//! executable segments as slices of the archive VMO.
//!
//! [`Tree`] is what both sides of a conformance case see: the same
//! entries become the archive for the guest and a directory for the native
//! run (`materialize`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::util::Failure;

/// One entry.
#[derive(Clone, Debug)]
pub enum Node {
    /// A directory with its permission bits.
    Dir(u32),
    /// A file: permission bits, contents.
    File(u32, Vec<u8>),
    /// A symbolic link.
    Symlink(String),
}

/// Paths (without a leading `/`) and what they are, in order.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    /// The entries.
    pub entries: Vec<(String, Node)>,
}

const PAGE: usize = 4096;
/// The modification time of every entry (2024-01-01).
const MTIME: u32 = 1_704_067_200;

fn header(out: &mut Vec<u8>, name: &str, mode: u32, size: usize) {
    let h = format!(
        "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
        0,
        mode,
        0,
        0,
        1,
        MTIME,
        size,
        0,
        0,
        0,
        0,
        name.len() + 1,
        0
    );
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn entry(out: &mut Vec<u8>, name: &str, mode: u32, data: &[u8]) {
    header(out, name, mode, data.len());
    out.extend_from_slice(data);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// Pads so that the data of an entry named `name` written next starts on
/// a page boundary.
fn align_next(out: &mut Vec<u8>, name: &str) {
    let data_at = |len: usize| (len + 110 + name.len() + 1).next_multiple_of(4);
    let shift = (PAGE - data_at(out.len()) % PAGE) % PAGE;
    if shift == 0 {
        return;
    }
    // A `!pad` entry takes 116 bytes of header and name, then its data.
    let total = if shift >= 116 { shift } else { shift + PAGE };
    entry(out, "!pad", 0o100000, &vec![0u8; total - 116]);
    debug_assert_eq!(data_at(out.len()) % PAGE, 0);
}

impl Tree {
    /// Adds `path` (parents must have been added, or are made by the
    /// runner).
    pub fn add(&mut self, path: &str, node: Node) {
        let path = path.trim_start_matches('/').to_owned();
        self.entries.retain(|(p, _)| *p != path);
        self.entries.push((path, node));
    }

    /// Adds every missing parent directory of `path`.
    pub fn add_parents(&mut self, path: &str) {
        let path = path.trim_start_matches('/');
        let mut at = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for p in &parts[..parts.len().saturating_sub(1)] {
            if !at.is_empty() {
                at.push('/');
            }
            at.push_str(p);
            if !self.entries.iter().any(|(e, _)| *e == at) {
                self.entries.push((at.clone(), Node::Dir(0o755)));
            }
        }
    }

    /// The archive, with `specials` (`!name`, data) appended, each
    /// page-aligned.
    pub fn archive(&self, specials: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (path, node) in &self.entries {
            match node {
                Node::Dir(m) => entry(&mut out, path, 0o040000 | m, b""),
                Node::File(m, data) => {
                    align_next(&mut out, path);
                    entry(&mut out, path, 0o100000 | m, data);
                }
                Node::Symlink(t) => entry(&mut out, path, 0o120777, t.as_bytes()),
            }
        }
        for (name, data) in specials {
            align_next(&mut out, name);
            entry(&mut out, name, 0o100644, data);
        }
        entry(&mut out, "TRAILER!!!", 0, b"");
        out
    }

    /// Writes the tree under `dir` (for the native run).
    pub fn materialize(&self, dir: &Path) -> Result<(), Failure> {
        let err = |p: &Path, e: std::io::Error| Failure::new(format!("{}: {e}", p.display()));
        for (path, node) in &self.entries {
            let p = dir.join(path);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).map_err(|e| err(parent, e))?;
            }
            match node {
                Node::Dir(m) => {
                    std::fs::create_dir_all(&p).map_err(|e| err(&p, e))?;
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*m))
                        .map_err(|e| err(&p, e))?;
                }
                Node::File(m, data) => {
                    std::fs::write(&p, data).map_err(|e| err(&p, e))?;
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*m))
                        .map_err(|e| err(&p, e))?;
                    let f = std::fs::File::options()
                        .write(true)
                        .open(&p)
                        .map_err(|e| err(&p, e))?;
                    let t =
                        std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(MTIME));
                    f.set_modified(t).map_err(|e| err(&p, e))?;
                }
                Node::Symlink(t) => std::os::unix::fs::symlink(t, &p).map_err(|e| err(&p, e))?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_page_aligned() {
        let mut t = Tree::default();
        t.add("bin", Node::Dir(0o755));
        t.add("bin/busybox", Node::File(0o755, vec![1; 5000]));
        t.add("bin/ls", Node::Symlink("busybox".into()));
        t.add("etc/x", Node::File(0o644, b"abc".to_vec()));
        let a = t.archive(&[("!stdin", b"in")]);
        let mut at = 0;
        let mut seen = 0;
        while at + 110 <= a.len() {
            let f = |i: usize| {
                usize::from_str_radix(
                    std::str::from_utf8(&a[at + 6 + 8 * i..at + 14 + 8 * i]).unwrap(),
                    16,
                )
                .unwrap()
            };
            let (mode, size, namesize) = (f(1), f(6), f(11));
            let name = std::str::from_utf8(&a[at + 110..at + 110 + namesize - 1])
                .unwrap()
                .to_owned();
            let data = (at + 110 + namesize).next_multiple_of(4);
            if name == "TRAILER!!!" {
                break;
            }
            if mode & 0o170000 == 0o100000 && name != "!pad" {
                assert_eq!(data % PAGE, 0, "{name}");
                seen += 1;
            }
            at = (data + size).next_multiple_of(4);
        }
        assert_eq!(seen, 3);
    }
}

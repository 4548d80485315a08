//! The `linux` stage of `cargo xtask test`: Debian's busybox under the
//! runner, on both arches, compared byte for byte (stdout and exit
//! status) with the same busybox run natively on this x86_64 host, with
//! the same files, environment (`env -i PATH=/bin HOME=/root PWD=/`) and
//! working directory (`/`).
//!
//! The native side runs in a `chroot` of the same tree the archive holds
//! (materialized under `target/linux/native-<case>`, plus `/dev/null`),
//! which needs root. Without root it falls back to `unshare -r` (a user
//! namespace where we are root); when neither works the stage fails and
//! says so rather than pass unchecked.
//!
//! Every case avoids `fork`/`exec`: applets directly, and `sh -c` scripts
//! made of builtins and NOFORK applets. What forks (pipelines, command
//! substitution, external commands such as `mkdir` or `cp` inside `sh -c`)
//! is the next tier: `fork`, `execve` and `wait4` are not in the runner
//! yet, so busybox's sh says `can't fork` there.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::archive::Tree;
use crate::linux::{self, Request};
use crate::qemu::Arch;
use crate::util::{self, Failure};

/// One case: a name, argv, files (guest path, bytes), stdin.
struct Case {
    name: &'static str,
    argv: Vec<String>,
    files: Vec<(String, Vec<u8>)>,
    stdin: Option<Vec<u8>>,
}

fn big_file() -> Vec<u8> {
    // 1.5 MiB of deterministic bytes (an LCG).
    let mut x: u32 = 12345;
    (0..3 << 19)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect()
}

fn cases() -> Vec<Case> {
    let words = b"banana\napple\ncherry\napple\ndate\nbanana\nfig\n".to_vec();
    let nums = b"3 x\n10 y\n-4 z\n7.5 w\n".to_vec();
    let text = || {
        vec![
            ("/tmp/words".to_owned(), words.clone()),
            ("/tmp/nums".to_owned(), nums.clone()),
        ]
    };
    let c = |name, argv: &[&str]| Case {
        name,
        argv: argv.iter().map(|s| s.to_string()).collect(),
        files: text(),
        stdin: None,
    };
    let sh = |name, script: &str| Case {
        name,
        argv: vec!["busybox".into(), "sh".into(), "-c".into(), script.into()],
        files: text(),
        stdin: None,
    };
    let mut v = vec![
        c("echo", &["busybox", "echo", "hello", "world"]),
        c("echo -n -e", &["busybox", "echo", "-n", "-e", "a\\tb\\n"]),
        c(
            "printf",
            &[
                "busybox",
                "printf",
                "%s-%05d-%x-%c\\n",
                "abc",
                "42",
                "255",
                "zz",
            ],
        ),
        c("seq", &["busybox", "seq", "-s", ",", "2", "3", "20"]),
        c("expr", &["busybox", "expr", "6", "*", "7"]),
        c(
            "expr (false is status 1)",
            &["busybox", "expr", "0", "+", "0"],
        ),
        c("basename", &["busybox", "basename", "/a/b/c.txt", ".txt"]),
        Case {
            stdin: Some(b"Hello, World\n".to_vec()),
            ..c("tr from stdin", &["busybox", "tr", "a-z", "A-Z"])
        },
        c("cut", &["busybox", "cut", "-d:", "-f1,3,6", "/etc/passwd"]),
        c("sort", &["busybox", "sort", "/tmp/words"]),
        c("sort -r -u", &["busybox", "sort", "-r", "-u", "/tmp/words"]),
        c("uniq -c", &["busybox", "uniq", "-c", "/tmp/words"]),
        c("head", &["busybox", "head", "-n", "2", "/tmp/words"]),
        c("tail", &["busybox", "tail", "-n", "3", "/tmp/words"]),
        c("wc", &["busybox", "wc", "/tmp/words", "/tmp/nums"]),
        c(
            "sed",
            &[
                "busybox",
                "sed",
                "-e",
                "s/an/AN/g",
                "-e",
                "3d",
                "/tmp/words",
            ],
        ),
        c(
            "awk",
            &[
                "busybox",
                "awk",
                "{ s += $1; printf \"%s %.2f\\n\", $2, $1 * 1.5 } END { print s, NR }",
                "/tmp/nums",
            ],
        ),
        c("grep -n", &["busybox", "grep", "-n", "an", "/tmp/words"]),
        c(
            "grep no match (status 1)",
            &["busybox", "grep", "kiwi", "/tmp/words"],
        ),
        c("cat", &["busybox", "cat", "/etc/passwd", "/etc/group"]),
        c("ls", &["busybox", "ls", "/tmp"]),
        c("ls -l", &["busybox", "ls", "-l", "/etc"]),
        c(
            "stat",
            &[
                "busybox",
                "stat",
                "-c",
                "%s %F %a %U %G %h",
                "/tmp/words",
                "/tmp",
                "/bin/ls",
            ],
        ),
        Case {
            files: vec![("/tmp/big".into(), big_file())],
            ..c("md5sum 1.5 MiB", &["busybox", "md5sum", "/tmp/big"])
        },
        Case {
            files: vec![("/tmp/big".into(), big_file())],
            ..c("sha256sum 1.5 MiB", &["busybox", "sha256sum", "/tmp/big"])
        },
        c("cat missing file", &["busybox", "cat", "/tmp/nope"]),
        c("ls bad option", &["busybox", "ls", "--bogus"]),
        c("unknown applet", &["busybox", "no-such-applet"]),
        sh("sh for loop", "for i in 1 2 3; do echo $i; done"),
        sh(
            "sh functions and arithmetic",
            "f() { echo $(( $1 * $2 + 1 )); }; f 6 7; x=5; while [ $x -gt 0 ]; do x=$((x-2)); echo $x; done",
        ),
        sh("sh exit code", "echo before; exit 42"),
        sh(
            "sh case and test",
            "for w in apple kiwi 7; do case $w in a*) echo A:$w;; [0-9]) echo N:$w;; *) echo O:$w;; esac; done; [ -f /etc/passwd ] && echo file; test -d /tmp && echo dir",
        ),
        sh(
            "sh files under /tmp",
            "echo data > /tmp/f && read x < /tmp/f && echo got $x; echo more >> /tmp/f; while read l; do echo \"<$l>\"; done < /tmp/f; [ -s /tmp/f ] && echo non-empty; : > /tmp/f; [ -s /tmp/f ] || echo empty",
        ),
        sh(
            "sh read loop from file",
            "while read a b; do echo \"[$b:$a]\"; done < /tmp/nums",
        ),
        sh(
            "sh trap and kill",
            "trap 'echo caught USR1' USR1; kill -USR1 $$; echo after",
        ),
        sh("sh set -e status", "set -e; false; echo not reached"),
        sh("sh syntax error", "if then fi"),
    ];
    v.retain(|_| true);
    v
}

/// Runs the native side of `case` in a chroot of `tree` at `dir`.
fn native(tree: &Tree, dir: &Path, case: &Case) -> Result<(Vec<u8>, i32), Failure> {
    let _ = std::fs::remove_dir_all(dir);
    tree.materialize(dir)?;
    let null = dir.join("dev/null");
    let _ = Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .status();
    let _ = Command::new("chmod").arg("666").arg(&null).status();
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    // The child's PATH is /bin (inside the chroot): find the tools first.
    let chroot = which("chroot")?;
    let mut cmd = if is_root {
        Command::new(&chroot)
    } else {
        let mut c = Command::new(which("unshare")?);
        c.arg("-r").arg(&chroot);
        c
    };
    cmd.arg(dir).args(&case.argv);
    cmd.env_clear()
        .env("PATH", "/bin")
        .env("HOME", "/root")
        .env("PWD", "/");
    cmd.current_dir("/");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Failure::new(format!(
                "native run (chroot{}): {e}",
                if is_root { "" } else { " via unshare -r" }
            ))
        })?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("piped");
        if let Some(s) = &case.stdin {
            let _ = stdin.write_all(s);
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Failure::new(format!("native run: {e}")))?;
    let status = out.status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + out.status.signal().unwrap_or(0)
    });
    if !is_root
        && status == 1
        && out.stdout.is_empty()
        && String::from_utf8_lossy(&out.stderr).contains("unshare")
    {
        return Err(Failure::new(
            "no root and no user namespaces: cannot run the native side",
        ));
    }
    Ok((out.stdout, status))
}

/// The absolute path of `tool` on this host's PATH (and the sbin
/// directories, where Debian keeps `chroot`).
fn which(tool: &str) -> Result<std::path::PathBuf, Failure> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Failure::new(format!(
                "`{tool}` not found: the native side of the conformance stage needs it"
            ))
        })
}

/// Runs every case on both arches; fails unless every one matches.
pub fn stage() -> Result<(), Failure> {
    let cases = cases();
    let mut failed = Vec::new();
    let mut passed = 0;
    let base = crate::qemu::target_dir().join("linux");
    for arch in [Arch::X86_64, Arch::Aarch64] {
        util::stage(&format!("linux conformance ({})", arch.target()));
        let built = linux::build(arch)?;
        let host_bb = std::fs::read(crate::busybox::binary("x86_64")?)
            .map_err(|e| Failure::new(e.to_string()))?;
        for case in &cases {
            let req = Request {
                argv: case.argv.clone(),
                data: case.files.clone(),
                stdin: case.stdin.clone(),
                ..Request::default()
            };
            let guest = linux::run_built(&built, &req)?;
            let tree = linux::tree(&host_bb, built.applets(), &req)?;
            let (want_out, want_status) = native(&tree, &base.join("native-root"), case)?;
            let got_status = guest
                .status
                .as_ref()
                .map(|s| i32::from(*s))
                .map_err(Clone::clone);
            let ok =
                got_status.as_ref().is_ok_and(|s| *s == want_status) && guest.stdout == want_out;
            let label = format!("{} {}", crate::linux::arch_name(arch), case.name);
            if ok {
                passed += 1;
                println!("ok - {label}");
            } else {
                println!("not ok - {label}");
                println!("#   argv {:?}", case.argv);
                println!("#   status: guest {got_status:?}, native {want_status}");
                println!(
                    "#   stdout guest  {:?}",
                    String::from_utf8_lossy(&guest.stdout)
                );
                println!("#   stdout native {:?}", String::from_utf8_lossy(&want_out));
                println!(
                    "#   stderr guest  {:?}",
                    String::from_utf8_lossy(&guest.stderr)
                );
                failed.push(label);
            }
        }
    }
    println!("linux: {passed} passed, {} failed", failed.len());
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "linux conformance failed: {}",
            failed.join(", ")
        )))
    }
}

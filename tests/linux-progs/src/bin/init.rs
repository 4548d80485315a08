//! `init`: the `/init` of the initramfs `cargo xtask` boots Linux with.
//! Runs each program named on its command line (the kernel passes what
//! follows `--` on its own command line) as `/bin/<name>`, one after the
//! other, each in a child made by `fork` + `execve`, and after each prints
//! `init: <name> exited <code>` or `init: <name> killed by signal <s>`;
//! then powers the machine off (`reboot(LINUX_REBOOT_CMD_POWER_OFF)`).
//! Run as anything but PID 1 it just exits 0 at the end.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("init: {}", linux_progs::explain_host());
}

#[cfg(target_os = "none")]
linux_progs::entry!(program::main);

#[cfg(target_os = "none")]
mod program {
    use linux_progs::out::Report;
    use linux_progs::rt::Args;
    use linux_progs::sys;

    const ENV: [&[u8]; 3] = [b"PATH=/bin\0", b"HOME=/\0", b"PWD=/\0"];

    pub fn main(args: &Args) -> i32 {
        let mut r = Report::new();
        for i in 1..args.argc() {
            let Some(name) = args.arg(i) else { break };
            let Ok(name) = core::str::from_utf8(name) else {
                continue;
            };
            run(&mut r, name);
        }
        if sys::getpid() == 1 {
            let e = sys::power_off();
            r.note(format_args!("init: power off failed: {e}"));
            loop {
                sys::sleep_ns(100_000_000);
            }
        }
        0
    }

    fn run(r: &mut Report, name: &str) {
        let mut path = [0u8; 64];
        let mut arg0 = [0u8; 64];
        let prefix = b"/bin/";
        let n = name.len();
        if prefix.len() + n + 1 > path.len() {
            r.line(format_args!("init: {name}: name too long"));
            return;
        }
        path[..prefix.len()].copy_from_slice(prefix);
        path[prefix.len()..prefix.len() + n].copy_from_slice(name.as_bytes());
        arg0[..n].copy_from_slice(name.as_bytes());
        let argv = [arg0.as_ptr(), core::ptr::null()];
        let envp = [
            ENV[0].as_ptr(),
            ENV[1].as_ptr(),
            ENV[2].as_ptr(),
            core::ptr::null(),
        ];
        let pid = sys::fork();
        if pid == 0 {
            // SAFETY: NUL-terminated path and strings, NULL-terminated
            // arrays, all live locals of this (copied) stack.
            let e = unsafe { sys::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
            r.line(format_args!("init: {name}: execve failed: {e}"));
            sys::exit_group(127);
        }
        if pid < 0 {
            r.line(format_args!("init: {name}: fork failed: {pid}"));
            return;
        }
        let (waited, status) = sys::wait4(pid);
        if waited != pid {
            r.line(format_args!("init: {name}: wait4 failed: {waited}"));
        } else if status & 0x7f == 0 {
            r.line(format_args!("init: {name} exited {}", (status >> 8) & 0xff));
        } else {
            r.line(format_args!(
                "init: {name} killed by signal {}",
                status & 0x7f
            ));
        }
    }
}

//! `getppid-loop`: the null-syscall microbenchmark. `N` (`argv[1]`, default
//! 1000) `getppid` calls per repetition, the median of 11 repetitions,
//! timed with `rdtsc` / `CNTVCT_EL0` and converted to instructions with a
//! calibration loop (exact under QEMU `-icount shift=0`; see
//! `linux_progs::counter`). Prints
//! `bench: getppid <I> insns/call (<N> calls x 11, calibration ...)` and
//! exits 0 when every call returned the same parent pid.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("getppid-loop: {}", linux_progs::explain_host());
}

#[cfg(target_os = "none")]
linux_progs::entry!(program::main);

#[cfg(target_os = "none")]
mod program {
    use linux_progs::bench;
    use linux_progs::out::Report;
    use linux_progs::rt::Args;

    pub fn main(args: &Args) -> i32 {
        let mut r = Report::new();
        let calls = match args.arg(1).map(bench::parse_count) {
            None => 1000,
            Some(Some(n)) if n > 0 => n,
            Some(_) => {
                r.check("argv[1] is a positive count of calls", false);
                return r.finish();
            }
        };
        let cal = linux_progs::counter::calibrate();
        bench::getppid(&mut r, &cal, calls);
        r.finish()
    }
}

//! `protect-bench`: Zircon's `Vmar/Protect{Toggle,Same}` shapes through
//! Linux `mprotect` in both layouts, untouched (Zircon's) and with every
//! page populated first, then `getppid`; one
//! `bench: <name> <I> insns/call` line each (see `linux_progs::bench`).
//! `cargo xtask bench` runs it in a Linux kernel booted in QEMU with
//! `-icount shift=0`, where the figures are guest instructions. Exits 0
//! when every call succeeded.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("protect-bench: {}", linux_progs::explain_host());
}

#[cfg(target_os = "none")]
linux_progs::entry!(program::main);

#[cfg(target_os = "none")]
mod program {
    use linux_progs::bench::{self, Layout, Mode, Pages, SHAPES, Shape};
    use linux_progs::counter;
    use linux_progs::out::Report;
    use linux_progs::rt::Args;

    pub fn main(_: &Args) -> i32 {
        let mut r = Report::new();
        let cal = counter::calibrate();
        r.line(format_args!(
            "bench: calibration {} insns = {} ticks ({}.{:03} insns/tick)",
            counter::CAL_INSNS,
            cal.ticks,
            cal.milli_insns_per_tick() / 1000,
            cal.milli_insns_per_tick() % 1000
        ));
        for pages in [Pages::Untouched, Pages::Touched] {
            for layout in [Layout::Memfd, Layout::Anon] {
                for mode in [Mode::Toggle, Mode::Same] {
                    for (n, k) in SHAPES {
                        let shape = Shape {
                            mode,
                            layout,
                            pages,
                            n,
                            k,
                        };
                        bench::protect(&mut r, &cal, shape);
                    }
                }
            }
        }
        bench::getppid(&mut r, &cal, 1000);
        r.finish()
    }
}

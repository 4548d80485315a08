//! Address-space identifiers recycled by generation (`src/mmu/asid.rs`):
//! no cap on live processes, and no process ever reads another's page
//! through a TLB entry left under a recycled identifier. The sim's TLB is
//! per simulated CPU and keyed by identifier, so a missing flush (a host
//! ignoring `UserView::flush`, a batch aimed at a stale identifier) shows
//! up as a read of the wrong marker; the last test proves it does.
#![cfg(feature = "sim")]

mod common;

use common::procs::{Machine, Proc};

use zx_subsystem::arch::Arch;
use zx_subsystem::sim::{Fault, Sim};
use zx_subsystem::trap::Access;
use zx_subsystem::vm::{OpChildren, Perms, Placement};
use zx_subsystem::{PAGE_SIZE, UserView};

impl<A: Arch> Machine<A> {
    /// Runs `op` through `p`'s view on the calling thread's CPU, resolving
    /// faults through the crate, with the view loaded by `switch`.
    fn access(
        &self,
        p: &Proc<A>,
        access: Access,
        switch: impl Fn() -> UserView,
        mut op: impl FnMut(UserView) -> Result<(), Fault>,
    ) {
        let view = switch();
        for _ in 0..4 {
            match op(view) {
                Ok(()) => return,
                Err(f) => p
                    .process
                    .aspace()
                    .page_fault(f.va, access)
                    .expect("fault resolves"),
            }
        }
        panic!("access keeps faulting");
    }

    fn write(&self, p: &Proc<A>, v: u64) {
        self.write_with(p, v, || self.sim.switch_in(&self.kernel, &p.thread));
    }

    fn write_with(&self, p: &Proc<A>, v: u64, switch: impl Fn() -> UserView) {
        self.access(p, Access::Write, switch, |view| {
            self.sim
                .user_write(view.root, view.asid, p.va, &v.to_ne_bytes())
        });
    }

    fn read(&self, p: &Proc<A>) -> u64 {
        self.read_with(p, || self.sim.switch_in(&self.kernel, &p.thread))
    }

    fn read_with(&self, p: &Proc<A>, switch: impl Fn() -> UserView) -> u64 {
        let mut b = [0u8; 8];
        self.access(p, Access::Read, switch, |view| {
            self.sim.user_read(view.root, view.asid, p.va, &mut b)
        });
        u64::from_ne_bytes(b)
    }
}

/// 5,000 live processes (past 4,095 PCIDs and 255 ASIDs), each touching
/// its own page at the same address, then each re-entered in turn.
fn five_thousand_live_processes_see_only_their_own_page<A: Arch>() {
    let m = Machine::<A>::new(1, None);
    let procs: Vec<Proc<A>> = (0..5000u64)
        .map(|i| {
            let p = m.spawn();
            m.write(&p, 0x5eed_0000 + i);
            p
        })
        .collect();
    let after_create = m.kernel.asids().generation();
    assert!(
        after_create > 1,
        "5,000 views roll {} bits over",
        m.kernel.asids().bits()
    );
    for (i, p) in procs.iter().enumerate() {
        assert_eq!(m.read(p), 0x5eed_0000 + i as u64, "process {i}");
    }
    assert!(m.kernel.asids().generation() > after_create);
}

/// With 2-bit identifiers (3 usable) two CPUs run four processes each,
/// re-entering them round-robin (a rollover at nearly every switch), each
/// CPU also remapping one of its processes' page now and then (a flush
/// reaching the other CPU's TLB through whatever identifier the view holds
/// then).
fn tiny_identifiers_on_two_cpus<A: Arch>() {
    let m = Machine::<A>::new(2, Some(2));
    assert_eq!(m.kernel.asids().bits(), 2);
    let procs: Vec<Proc<A>> = (0..8).map(|_| m.spawn()).collect();
    std::thread::scope(|s| {
        for cpu in 0..2 {
            let (m, procs) = (&m, &procs);
            s.spawn(move || {
                Sim::<A>::set_current_cpu(cpu);
                let mine = &procs[cpu * 4..cpu * 4 + 4];
                let mut markers = [0u64; 4];
                for round in 0..400u64 {
                    let k = (round % 4) as usize;
                    let p = &mine[k];
                    if round % 7 == 3 {
                        // A fresh page at the same address: the old one's
                        // translation must be gone everywhere.
                        p.process.root_vmar().unmap(p.va, PAGE_SIZE).expect("unmap");
                        let (base, _) = p.process.aspace().range();
                        let at = Placement::Specific {
                            offset: p.va - base,
                            align: PAGE_SIZE,
                        };
                        assert_eq!(m.map_page_at(&p.process, at), p.va);
                        markers[k] = 0;
                    }
                    // One time slice: switched in once, then several
                    // accesses while the other CPU churns identifiers (a
                    // rollover must keep what this CPU is running).
                    let view = m.sim.switch_in(&m.kernel, &p.thread);
                    let once = || view;
                    assert_eq!(m.read_with(p, once), markers[k], "cpu {cpu} round {round}");
                    markers[k] = (cpu as u64) << 32 | round;
                    m.write_with(p, markers[k], once);
                    std::thread::yield_now();
                    assert_eq!(m.read_with(p, once), markers[k], "cpu {cpu} round {round}");
                    if round % 5 == 1 {
                        // Read-only, then back: the write-protect flush
                        // must reach the identifier the view holds now.
                        let a = p.process.aspace();
                        let region = a.root_region().expect("root");
                        a.protect(region, p.va, PAGE_SIZE, Perms::READ, OpChildren::Allowed)
                            .expect("protect");
                        let view = m.sim.switch_in(&m.kernel, &p.thread);
                        assert!(
                            m.sim.user_write(view.root, view.asid, p.va, &[1]).is_err(),
                            "cpu {cpu} round {round}: write after protect"
                        );
                        a.protect(
                            region,
                            p.va,
                            PAGE_SIZE,
                            Perms::READ | Perms::WRITE,
                            OpChildren::Allowed,
                        )
                        .expect("protect back");
                    }
                }
            });
        }
    });
    assert!(m.kernel.asids().generation() > 50, "rollovers happened");
}

/// A host that ignores `UserView::flush` reads another process's page:
/// the sim catches the missing flush, so the tests above have teeth.
fn ignoring_the_flush_is_caught<A: Arch>() {
    let m = Machine::<A>::new(1, Some(2));
    let procs: Vec<Proc<A>> = (0..6).map(|_| m.spawn()).collect();
    for (i, p) in procs.iter().enumerate() {
        m.write(p, i as u64 + 1);
    }
    let careless = |p: &Proc<A>| m.read_with(p, || m.kernel.user_view(0, &p.thread));
    let wrong = procs
        .iter()
        .enumerate()
        .filter(|(i, p)| careless(p) != *i as u64 + 1)
        .count();
    assert!(
        wrong > 0,
        "a stale entry under a recycled identifier was hit"
    );
}

/// A process's identifier is freed with it and reused without a rollover.
fn dead_processes_give_their_identifiers_back<A: Arch>() {
    let m = Machine::<A>::new(1, Some(4));
    for i in 0..100u64 {
        let p = m.spawn();
        m.write(&p, i);
        assert_eq!(m.read(&p), i);
    }
    assert_eq!(m.kernel.asids().generation(), 1);
}

both_arches!(
    five_thousand_live_processes_see_only_their_own_page,
    tiny_identifiers_on_two_cpus,
    ignoring_the_flush_is_caught,
    dead_processes_give_their_identifiers_back,
);

//! Concurrency stress: several host threads, each a thread of one process,
//! map, protect, unmap, fault (soft-MMU accesses plus the crate's fault
//! handler), snapshot the mapped VMO (write-protecting live mappings while
//! others write through them) and close the snapshots again, enter
//! restricted mode and kick, all at once on one address space, while two
//! more threads ping-pong through a futex (parking and waking as a host
//! would). A watchdog turns a deadlock or a lost wake-up into a failure. At
//! the end the VMAR tree must be well-formed, no page may translate beyond
//! its protection or to another frame than its VMO shows, and after
//! teardown every frame must be back.
#![cfg(feature = "sim")]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::Env;
use zx_subsystem::PAGE_SIZE;
use zx_subsystem::abi::*;
use zx_subsystem::object::{KernelObject, Thread};
use zx_subsystem::sim::Sim;
use zx_subsystem::sim::cpu::SimArch;
use zx_subsystem::sim::model::driver::{check_layout, check_translations_within};
use zx_subsystem::syscall::SyscallNumber;
use zx_subsystem::trap::{Access, Trap};
use zx_subsystem::{ExitReason, Outcome};

const ROUNDS: usize = 1500;
/// Pages of the shared window every worker plays in.
const PAGES: u64 = 16;
const DEADLINE: Duration = Duration::from_secs(120);

type T<A> = Arc<Thread<Sim<A>>>;

struct Shared<A: SimArch> {
    host: common::host::Host<A>,
    env: Env<A>,
    window: u64,
    vmo: zx_handle_t,
    done: AtomicBool,
}

impl<A: SimArch> Shared<A> {
    fn call(&self, t: &T<A>, nr: SyscallNumber, args: &[u64]) -> i32 {
        let mut a = [0u64; 8];
        a[..args.len()].copy_from_slice(args);
        self.env.kernel.syscall_raw(t, nr as u64, a)
    }

    /// Scratch slot for worker `w`.
    fn out(&self, w: u64) -> u64 {
        self.env.scratch + 256 * w
    }
}

/// A small xorshift so each worker is reproducible.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn mapper<A: SimArch>(s: &Shared<A>, t: &T<A>, w: u64) {
    let mut rng = 0x9e37_79b9 + w;
    for _ in 0..ROUNDS {
        let page = next(&mut rng) % PAGES;
        let len = (next(&mut rng) % 4 + 1) * PAGE_SIZE;
        let st = s.call(
            t,
            SyscallNumber::VmarMap,
            &[
                s.env.root_vmar.into(),
                (ZX_VM_PERM_READ | ZX_VM_PERM_WRITE | ZX_VM_SPECIFIC_OVERWRITE).into(),
                s.window - root_base(s) + page * PAGE_SIZE,
                s.vmo.into(),
                page * PAGE_SIZE,
                len.min((PAGES - page) * PAGE_SIZE),
                s.out(w),
            ],
        );
        assert!(st == 0 || st == Status::InvalidArgs.into_raw(), "map {st}");
        let page = next(&mut rng) % PAGES;
        let _ = s.call(
            t,
            SyscallNumber::VmarUnmap,
            &[
                s.env.root_vmar.into(),
                s.window + page * PAGE_SIZE,
                PAGE_SIZE,
            ],
        );
    }
}

fn root_base<A: SimArch>(s: &Shared<A>) -> u64 {
    s.env.process.root_vmar().range().unwrap().0
}

fn protector<A: SimArch>(s: &Shared<A>, t: &T<A>, w: u64) {
    let mut rng = 0x1234_5678 + w;
    let perms = [0, ZX_VM_PERM_READ, ZX_VM_PERM_READ | ZX_VM_PERM_WRITE];
    for _ in 0..ROUNDS {
        let page = next(&mut rng) % PAGES;
        let p = perms[(next(&mut rng) % 3) as usize];
        let st = s.call(
            t,
            SyscallNumber::VmarProtect,
            &[
                s.env.root_vmar.into(),
                p.into(),
                s.window + page * PAGE_SIZE,
                PAGE_SIZE,
            ],
        );
        assert!(st == 0 || st == Status::NotFound.into_raw(), "protect {st}");
    }
}

fn faulter<A: SimArch>(s: &Shared<A>, w: u64) {
    let mut rng = 0xdead_beef + w;
    let aspace = s.env.process.aspace();
    let (root, asid) = (aspace.root_table(), aspace.asid());
    for _ in 0..ROUNDS * 4 {
        let va = s.window + next(&mut rng) % (PAGES * PAGE_SIZE);
        let write = next(&mut rng).is_multiple_of(2);
        for _ in 0..8 {
            let r = if write {
                s.env.sim.user_write(root, asid, va, &[w as u8])
            } else {
                let mut b = [0u8; 1];
                s.env.sim.user_read(root, asid, va, &mut b)
            };
            let Err(f) = r else { break };
            let access = if write { Access::Write } else { Access::Read };
            // Another worker may change the mapping between the access and
            // the handler: either may fail; neither may panic.
            if aspace.page_fault(f.va, access).is_err() {
                break;
            }
        }
    }
}

/// Enters restricted mode over and over and leaves at kernel boundaries
/// (kicked by `kicker`) or through a syscall.
fn restricted<A: SimArch>(s: &Shared<A>, t: &T<A>, w: u64) {
    let out = s.out(w);
    assert_eq!(s.call(t, SyscallNumber::RestrictedBindState, &[0, out]), 0);
    let vector = s.window;
    let kernel = &s.env.kernel;
    let mut exits = 0;
    while exits < ROUNDS && !s.done.load(Ordering::Relaxed) {
        let mut ctx = A::UserContext::default();
        A::set_syscall(
            &mut ctx,
            SyscallNumber::RestrictedEnter as u64,
            &[0, vector, 7],
        );
        let entered = kernel.syscall(t, &mut ctx);
        assert!(
            matches!(
                entered,
                Outcome::EnteredRestricted | Outcome::LeftRestricted(_)
            ),
            "{entered:?}"
        );
        // In restricted mode (or already kicked back out): interrupts are
        // boundaries; after a few, leave by a syscall instruction.
        for i in 0..4 {
            if !kernel.in_restricted_mode(t) {
                break;
            }
            if i == 3 {
                let left = kernel.syscall(t, &mut ctx);
                assert_eq!(left, Outcome::LeftRestricted(ExitReason::Syscall));
            } else {
                let r = kernel.exception(t, &mut ctx, Trap::Interrupt(32));
                assert!(r.resumes(), "{r:?}");
            }
        }
        assert!(!kernel.in_restricted_mode(t));
        assert_eq!(A::pc(&ctx), vector);
        exits += 1;
    }
}

/// Passes a turn back and forth with its peer through a futex word in the
/// scratch page: waits while it is not its turn, then hands it over and
/// wakes the peer.
fn pinger<A: SimArch>(s: &Shared<A>, t: &T<A>, me: i32) {
    let word = s.env.scratch + 0xf00;
    let mut task = s.host.task(t);
    for _ in 0..ROUNDS / 2 {
        loop {
            let mut b = [0u8; 4];
            s.env.process.aspace().copy_from_user(word, &mut b).unwrap();
            if i32::from_ne_bytes(b) == me {
                break;
            }
            let mut o = s.host.syscall(
                &mut task,
                SyscallNumber::FutexWait,
                &[word, (1 - me) as u64, 0, ZX_TIME_INFINITE as u64],
            );
            while let Outcome::Blocked(_) = o {
                o = s.host.park_and_resume(&mut task, DEADLINE);
            }
            let st = common::host::status(o);
            assert!(st == Status::Ok || st == Status::BadState, "{st:?}");
        }
        s.env
            .process
            .aspace()
            .copy_to_user(word, &(1 - me).to_ne_bytes())
            .unwrap();
        let o = s
            .host
            .syscall(&mut task, SyscallNumber::FutexWake, &[word, 1]);
        assert_eq!(common::host::status(o), Status::Ok);
    }
}

/// Snapshots the shared VMO (and now and then the snapshot), reads the
/// snapshot back while the others write the parent, and closes them.
fn snapshotter<A: SimArch>(s: &Shared<A>, t: &T<A>, w: u64) {
    let mut rng = 0x5eed_0000 + w;
    let out = s.out(w);
    let read_u32 = |at: u64| {
        let mut b = [0u8; 4];
        s.env.process.aspace().copy_from_user(at, &mut b).unwrap();
        u32::from_ne_bytes(b)
    };
    for _ in 0..ROUNDS / 4 {
        let offset = (next(&mut rng) % 4) * PAGE_SIZE;
        let st = s.call(
            t,
            SyscallNumber::VmoCreateChild,
            &[
                s.vmo.into(),
                ZX_VMO_CHILD_SNAPSHOT.into(),
                offset,
                (PAGES - 4) * PAGE_SIZE,
                out,
            ],
        );
        assert_eq!(st, 0, "snapshot");
        let child = read_u32(out);
        let mut handles = vec![child];
        if next(&mut rng).is_multiple_of(3) {
            let st = s.call(
                t,
                SyscallNumber::VmoCreateChild,
                &[
                    child.into(),
                    ZX_VMO_CHILD_SNAPSHOT.into(),
                    0,
                    PAGE_SIZE,
                    out,
                ],
            );
            assert_eq!(st, 0, "snapshot of a snapshot");
            handles.push(read_u32(out));
        }
        let page = next(&mut rng) % (PAGES - 4);
        let st = s.call(
            t,
            SyscallNumber::VmoRead,
            &[child.into(), out + 8, page * PAGE_SIZE, 8],
        );
        assert_eq!(st, 0, "read the snapshot");
        let st = s.call(
            t,
            SyscallNumber::VmoWrite,
            &[child.into(), out + 8, page * PAGE_SIZE, 8],
        );
        assert_eq!(st, 0, "write the snapshot");
        for h in handles.into_iter().rev() {
            assert_eq!(s.call(t, SyscallNumber::HandleClose, &[h.into()]), 0);
        }
    }
}

fn kicker<A: SimArch>(s: &Shared<A>, t: &T<A>, target: zx_handle_t) {
    for _ in 0..ROUNDS * 2 {
        let st = s.call(t, SyscallNumber::RestrictedKick, &[target.into(), 0]);
        assert_eq!(st, 0, "kick");
        std::thread::yield_now();
    }
}

fn stress<A: SimArch>() {
    let env = Env::<A>::new();
    let vmo = env.vmo_create(PAGES * PAGE_SIZE, 0).unwrap();
    let (_, window) = env
        .vmar_allocate(
            env.root_vmar,
            ZX_VM_CAN_MAP_READ | ZX_VM_CAN_MAP_WRITE,
            0,
            PAGES * PAGE_SIZE,
        )
        .unwrap();
    // Free the sub-VMAR's range again: the workers map into the root VMAR
    // there with SPECIFIC_OVERWRITE (which refuses sub-VMARs).
    assert_eq!(
        env.call(
            SyscallNumber::VmarUnmap,
            &[env.root_vmar.into(), window, PAGES * PAGE_SIZE]
        ),
        0
    );
    let restricted_thread = env.process.create_thread(100).unwrap();
    let target = env
        .process
        .add_handle(
            KernelObject::Thread(restricted_thread.clone()),
            Rights::DEFAULT_THREAD,
        )
        .unwrap();
    let host = common::host::Host::new(env.sim.clone(), env.kernel.clone());
    let shared = Arc::new(Shared {
        host,
        env,
        window,
        vmo,
        done: AtomicBool::new(false),
    });
    let workers = 9;
    let barrier = Arc::new(Barrier::new(workers));
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    for w in 0..workers as u64 {
        let s = shared.clone();
        let b = barrier.clone();
        let tx = tx.clone();
        let rt = restricted_thread.clone();
        handles.push(std::thread::spawn(move || {
            let t = if w == 4 {
                rt
            } else {
                s.env.process.create_thread(w).unwrap()
            };
            b.wait();
            match w {
                0 | 1 => mapper(&s, &t, w),
                2 => protector(&s, &t, w),
                3 => faulter(&s, w),
                4 => restricted(&s, &t, w),
                5 => kicker(&s, &t, target),
                6 | 7 => pinger(&s, &t, w as i32 - 6),
                _ => snapshotter(&s, &t, w),
            }
            if w == 4 {
                s.done.store(true, Ordering::Relaxed);
            } else {
                t.exit();
            }
            tx.send(w).unwrap();
        }));
    }
    drop(tx);
    for _ in 0..workers {
        match rx.recv_timeout(DEADLINE) {
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("deadlock: workers stuck"),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    for h in handles {
        h.join().expect("a worker panicked");
    }
    let shared = Arc::into_inner(shared).expect("workers gone");
    let (env, host) = (shared.env, shared.host);
    drop(host);
    let aspace = env.process.aspace().clone();
    let layout = aspace.layout();
    check_layout(&layout).unwrap();
    check_translations_within(&env.sim, aspace.root_table(), &layout, 64).unwrap();
    aspace.audit_views(64).unwrap();
    env.process
        .get_object::<zx_subsystem::vm::Vmo<Sim<A>>>(shared.vmo, Rights::empty())
        .unwrap()
        .0
        .audit_tree()
        .unwrap();
    let sim = env.sim.clone();
    // Dropping the Env terminates the process: its threads exit (the
    // restricted one too) and the address space is torn down.
    drop(env);
    assert!(restricted_thread.is_dead());
    drop((aspace, restricted_thread));
    assert_eq!(sim.frames_allocated(), 0, "frames leaked");
}

both_arches!(stress);

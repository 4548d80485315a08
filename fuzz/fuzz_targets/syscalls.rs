//! Arbitrary syscall numbers and raw arguments into the dispatch table, on
//! the simulated machine, both arches. Arguments are biased toward real
//! handle values (those the process starts with and any the calls write to
//! the scratch page) and addresses inside or around mapped ranges. Every
//! call goes through `syscall_raw` or, for some, `Kernel::syscall` with a
//! register context (which can enter restricted mode). The run must never
//! panic or hang; afterwards the VMAR tree must be well-formed, no page may
//! translate beyond its protection or show another frame than its VMO
//! (writable only for the VMO's own page: snapshots share no writable
//! frame), and after teardown every frame must be back. `zx_vmo_create_child`
//! options are drawn from its kinds and their combinations.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use zx_subsystem::abi::Rights;
use zx_subsystem::arch::{Aarch64, X86_64};
use zx_subsystem::object::KernelObject;
use zx_subsystem::sim::Sim;
use zx_subsystem::sim::cpu::SimArch;
use zx_subsystem::sim::model::driver::{check_layout, check_translations_within};
use zx_subsystem::vm::{Perms, Placement, Vmo};
use zx_subsystem::{Kernel, PAGE_SIZE};

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Arg {
    /// A handle from the pool.
    Handle(u8),
    /// An address in the scratch (read-write) mapping.
    Scratch(u16),
    /// An address near one of the mappings (may fall outside).
    Mapped(u8, i32),
    /// A multiple of the page size.
    Pages(u16),
    /// A small number (options, rights, topics, counts, sizes).
    Small(u8),
    /// A single bit.
    Bit(u8),
    /// A `zx_vmo_create_child` option word: a kind, maybe `RESIZABLE` or
    /// `NO_WRITE`, sometimes two kinds.
    ChildOptions(u8),
    Raw(u64),
    Zero,
}

#[derive(Arbitrary, Debug)]
struct Call {
    number: u8,
    args: [Arg; 8],
    /// Through `Kernel::syscall` with a register context.
    with_context: bool,
}

#[derive(Arbitrary, Debug)]
struct Input {
    aarch64: bool,
    /// Frames the run may allocate on top of the setup's.
    frame_budget: u16,
    calls: Vec<Call>,
}

const SCRATCH_PAGES: u64 = 4;

fn run<A: SimArch>(input: &Input) {
    let sim = Sim::<A>::new();
    let kernel = Kernel::new(sim.clone());
    let job = kernel.root_job().create_child().expect("job");
    let process = kernel.create_process(&job).expect("process");
    let thread = process.create_thread(1).expect("thread");
    let root = process.root_vmar();
    let scratch_vmo = Vmo::create(&sim, SCRATCH_PAGES * PAGE_SIZE, false).expect("vmo");
    let scratch = root
        .map(
            Placement::ANYWHERE,
            &scratch_vmo,
            0,
            SCRATCH_PAGES * PAGE_SIZE,
            Perms::READ | Perms::WRITE,
        )
        .expect("scratch");
    let ro_vmo = Vmo::create(&sim, PAGE_SIZE, false).expect("vmo");
    let ro = root
        .map(Placement::ANYWHERE, &ro_vmo, 0, PAGE_SIZE, Perms::READ)
        .expect("ro");
    let data_vmo = Vmo::create(&sim, 8 * PAGE_SIZE, true).expect("vmo");
    let data = root
        .map(
            Placement::ANYWHERE,
            &data_vmo,
            0,
            8 * PAGE_SIZE,
            Perms::READ | Perms::WRITE,
        )
        .expect("data");
    let mut pool: Vec<u32> = vec![
        process
            .add_handle(
                KernelObject::Vmar(root.clone()),
                Rights::DEFAULT_VMAR | Rights::READ | Rights::WRITE | Rights::EXECUTE,
            )
            .unwrap(),
        process
            .add_handle(
                KernelObject::Vmo(data_vmo.clone()),
                Rights::DEFAULT_VMO | Rights::RESIZE,
            )
            .unwrap(),
        process
            .add_handle(KernelObject::Thread(thread.clone()), Rights::DEFAULT_THREAD)
            .unwrap(),
        process
            .add_handle(
                KernelObject::Process(process.clone()),
                Rights::DEFAULT_PROCESS,
            )
            .unwrap(),
        process
            .add_handle(KernelObject::Job(job.clone()), Rights::DEFAULT_JOB)
            .unwrap(),
    ];
    drop((scratch_vmo, ro_vmo, data_vmo));
    let bases = [scratch, ro, data, root.range().unwrap().0];
    sim.fail_after(usize::from(input.frame_budget % 4096));

    let resolve = |a: Arg, pool: &[u32]| -> u64 {
        match a {
            Arg::Handle(i) => u64::from(pool[usize::from(i) % pool.len()]),
            Arg::Scratch(off) => scratch + u64::from(off) % (SCRATCH_PAGES * PAGE_SIZE),
            Arg::Mapped(i, off) => {
                bases[usize::from(i) % bases.len()].wrapping_add_signed(i64::from(off))
            }
            Arg::Pages(n) => u64::from(n) * PAGE_SIZE,
            Arg::Small(n) => u64::from(n),
            Arg::Bit(b) => 1u64 << (b % 64),
            Arg::ChildOptions(o) => {
                // SNAPSHOT, RESIZABLE, SLICE, AT_LEAST_ON_WRITE, NO_WRITE,
                // REFERENCE, SNAPSHOT_MODIFIED: bits 0, 2..=7.
                let kinds = [1u64 << 0, 1 << 4, 1 << 3, 1 << 7, 1 << 6];
                let mut v = kinds[usize::from(o % 5)];
                if o & 0x10 != 0 {
                    v |= 1 << 2;
                }
                if o & 0x20 != 0 {
                    v |= 1 << 5;
                }
                if o & 0x40 != 0 {
                    v |= kinds[usize::from((o >> 3) % 5)];
                }
                v
            }
            Arg::Raw(v) => v,
            Arg::Zero => 0,
        }
    };
    let aspace = process.aspace().clone();
    for call in input.calls.iter().take(64) {
        let number = if call.number < 224 {
            u64::from(call.number % 22)
        } else {
            u64::from(call.number) << 24
        };
        let args = call.args.map(|a| resolve(a, &pool));
        if call.with_context {
            let mut ctx = A::UserContext::default();
            A::set_syscall(&mut ctx, number, &args);
            kernel.syscall(&thread, &mut ctx);
        } else {
            let _ = kernel.syscall_raw(&thread, number, args);
        }
        // Out-parameters land in the scratch page: any word there may be a
        // new handle.
        let mut words = [0u8; 64];
        if aspace.copy_from_user(scratch, &mut words).is_ok() {
            for w in words.chunks_exact(4) {
                let v = u32::from_ne_bytes(w.try_into().unwrap());
                if v & 3 == 3 && !pool.contains(&v) && pool.len() < 64 {
                    pool.push(v);
                }
            }
        }
    }
    sim.set_frame_limit(None);

    let layout = aspace.layout();
    if let Err(e) = check_layout(&layout) {
        panic!("VMAR tree broken: {e}");
    }
    if let Err(e) = check_translations_within(&sim, aspace.root_table(), &layout, 16) {
        panic!("translation beyond protection: {e}");
    }
    if let Err(e) = aspace.audit_views(16) {
        panic!("translation and VMO disagree: {e}");
    }
    for h in &pool {
        if let Ok((vmo, _)) = process.get_object::<Vmo<Sim<A>>>(*h, Rights::empty())
            && let Err(e) = vmo.audit_tree()
        {
            panic!("VMO tree broken: {e}");
        }
    }
    thread.exit();
    aspace.teardown();
    process.terminate();
    drop((aspace, thread, process, job, kernel));
    let left = sim.frames_allocated();
    assert_eq!(left, 0, "{left} frames leaked after teardown");
}

fuzz_target!(|input: Input| {
    if input.aarch64 {
        run::<Aarch64>(&input);
    } else {
        run::<X86_64>(&input);
    }
});

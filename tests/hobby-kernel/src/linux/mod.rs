//! Linux mode: the kernel runs `tests/linux-runner` (a Linux personality
//! in user space) instead of its scenarios, when the xtask placed a
//! [`blob`] in RAM.
//!
//! The kernel's part is small, and all of it is here:
//!
//! - [`load`] maps the runner into a process through the crate's own
//!   VMO/VMAR calls, as `zx_host::Program::load` maps the scenario's
//!   program: each `PT_LOAD` of the runner's ELF at its address (in what
//!   will be the *shared region* of a shared process), the archive
//!   (read-only for the runner, and as a handle with `EXECUTE`, as Zircon
//!   gives userboot its bootfs), `argv`, a boot page ([`LinuxBoot`]) and a
//!   stack; it returns where the thread starts. The arch modules give it a
//!   shared-process *prototype* (`Kernel::create_shared_process`, i.e.
//!   `zx_process_create` with `ZX_PROCESS_SHARED`), whose root VMAR is the
//!   shared region, and a handle to it in the boot page: the runner makes
//!   the Linux process with `zx_process_create_shared` and runs the
//!   program in that process's restricted region, where nothing of the
//!   runner is mapped (`tests/linux-runner/src/rt/model.rs`).
//! - [`LinuxHost`] answers the runner's host calls in normal mode (from
//!   any thread of the group; user memory is read through the calling
//!   thread's process):
//!   `stream_write` (the program's stdout/stderr, the runner's log and
//!   statistics, as [`frame`]s on the serial console) and `linux_exit`
//!   (ends the run with an end frame). The arch modules run it with the
//!   scheduler (`sched::run`).

pub mod blob;
pub mod frame;

use alloc::sync::Arc;

use zx_subsystem::abi::Rights;
use zx_subsystem::arch::Arch;
use zx_subsystem::object::{KernelObject, Process};
use zx_subsystem::vm::{Perms, Placement, UserMemory, Vmo};
use zx_subsystem::{PAGE_SIZE, Platform};
use zx_user::hobby::{
    BOOT_MAGIC, BOOT_VERSION, EXIT_RUNNER_FAILED, EXIT_STATUS, HOST_LINUX_EXIT, HOST_STREAM_WRITE,
    LinuxBoot,
};

use crate::sched::{Host, Machine, Task};
use blob::Blob;

/// Offsets in the shared region (`shared_base` + …) of what the kernel
/// maps; the runner's own constants (heap, state VMO) use the same plan.
pub mod layout {
    /// The boot page.
    pub const BOOT: u64 = 0x1000;
    /// `argv` (at most 1 MiB).
    pub const ARGV: u64 = 0x1_0000;
    /// The runner's stack.
    pub const STACK: u64 = 0x0100_0000;
    /// Its size.
    pub const STACK_SIZE: u64 = 1 << 20;
    /// Where the runner is linked (checked against its ELF).
    pub const IMAGE: u64 = 0x1000_0000;
    /// The end of the runner's image range.
    pub const IMAGE_END: u64 = 0x1f00_0000;
    /// The archive.
    pub const ARCHIVE: u64 = 0x4000_0000;
}

/// Where the thread starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Start {
    /// The runner's entry point.
    pub entry: u64,
    /// Its initial stack pointer.
    pub stack_top: u64,
    /// The boot page (the first argument register).
    pub boot: u64,
}

/// Why the runner could not be loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The crate said no.
    Zx(zx_subsystem::abi::Status),
    /// The runner's ELF is malformed or linked elsewhere.
    BadRunner,
    /// Something does not fit its slot.
    TooBig,
}

impl From<zx_subsystem::Error> for LoadError {
    fn from(e: zx_subsystem::Error) -> Self {
        LoadError::Zx(e.status())
    }
}

fn word(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 8).map(|w| {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        u64::from_le_bytes(a)
    })
}

fn half(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|w| u16::from_le_bytes([w[0], w[1]]))
}

/// One `PT_LOAD` of the runner: `(vaddr, file bytes, memsz, flags)`.
type Segment<'a> = (u64, &'a [u8], u64, u32);

/// The runner's `PT_LOAD`s.
fn runner_segments(elf: &[u8]) -> Option<alloc::vec::Vec<Segment<'_>>> {
    if elf.get(..4)? != b"\x7fELF" || *elf.get(4)? != 2 {
        return None;
    }
    let (phoff, phent, phnum) = (word(elf, 32)?, half(elf, 54)?, half(elf, 56)?);
    let mut v = alloc::vec::Vec::new();
    for i in 0..u64::from(phnum) {
        let p = usize::try_from(phoff.checked_add(i * u64::from(phent))?).ok()?;
        let ph = elf.get(p..p + 56)?;
        if u32::from_le_bytes([ph[0], ph[1], ph[2], ph[3]]) != 1 {
            continue;
        }
        let flags = u32::from_le_bytes([ph[4], ph[5], ph[6], ph[7]]);
        let (off, vaddr, filesz, memsz) =
            (word(ph, 8)?, word(ph, 16)?, word(ph, 32)?, word(ph, 40)?);
        let bytes =
            elf.get(usize::try_from(off).ok()?..usize::try_from(off.checked_add(filesz)?).ok()?)?;
        if vaddr % PAGE_SIZE != off % PAGE_SIZE || filesz > memsz {
            return None;
        }
        v.push((vaddr, bytes, memsz, flags));
    }
    Some(v)
}

/// Maps the runner, the archive, `argv`, the boot page and a stack into
/// `process`, whose root VMAR's shared part starts at `shared_base`, and
/// gives the runner its handles (its thread `thread_handle`, the process
/// itself, the root VMAR, the archive). Returns where its thread starts.
///
/// # Errors
///
/// [`LoadError`].
pub fn load<P: Platform>(
    platform: &P,
    process: &Arc<Process<P>>,
    thread_handle: u32,
    shared_base: u64,
    blob: &Blob<'_>,
) -> Result<Start, LoadError> {
    let vmar = process.root_vmar();
    let (root_base, _) = vmar.range()?;
    let at = |off: u64| Placement::at(shared_base + off - root_base);
    // The runner's segments, each from a VMO of its own.
    let segs = runner_segments(blob.runner).ok_or(LoadError::BadRunner)?;
    for (vaddr, bytes, memsz, flags) in segs {
        let start = vaddr - vaddr % PAGE_SIZE;
        let end = vaddr
            .checked_add(memsz)
            .and_then(|e| e.checked_next_multiple_of(PAGE_SIZE));
        let end = end.ok_or(LoadError::BadRunner)?;
        if start < shared_base + layout::IMAGE || end > shared_base + layout::IMAGE_END {
            return Err(LoadError::BadRunner);
        }
        let vmo = Vmo::create(platform, end - start)?;
        vmo.write(vaddr - start, bytes)?;
        let mut perms = Perms::READ;
        if flags & 2 != 0 {
            perms |= Perms::WRITE;
        }
        if flags & 1 != 0 {
            perms |= Perms::EXECUTE;
        }
        vmar.map(
            Placement::at(start - root_base),
            &vmo,
            0,
            end - start,
            perms,
        )?;
    }
    // The archive: a VMO the runner reads through a read-only mapping and
    // slices executable segments from.
    let archive_len = (blob.archive.len() as u64)
        .next_multiple_of(PAGE_SIZE)
        .max(PAGE_SIZE);
    if archive_len > (1 << 30) {
        return Err(LoadError::TooBig);
    }
    let archive = Vmo::create(platform, archive_len)?;
    archive.write(0, blob.archive)?;
    let archive_addr = vmar.map(at(layout::ARCHIVE), &archive, 0, archive_len, Perms::READ)?;
    let archive_handle = process.add_handle(
        KernelObject::Vmo(archive),
        Rights::BASIC | Rights::READ | Rights::EXECUTE | Rights::MAP | Rights::GET_PROPERTY,
    )?;
    let argv_len = (blob.argv.len() as u64)
        .next_multiple_of(PAGE_SIZE)
        .max(PAGE_SIZE);
    if argv_len > layout::STACK - layout::ARGV {
        return Err(LoadError::TooBig);
    }
    let argv = Vmo::create(platform, argv_len)?;
    argv.write(0, blob.argv)?;
    let argv_addr = vmar.map(at(layout::ARGV), &argv, 0, argv_len, Perms::READ)?;
    let stack = Vmo::create(platform, layout::STACK_SIZE)?;
    let stack_base = vmar.map(
        at(layout::STACK),
        &stack,
        0,
        layout::STACK_SIZE,
        Perms::READ | Perms::WRITE,
    )?;
    let vmar_handle = process.add_handle(
        KernelObject::Vmar(vmar.clone()),
        Rights::DEFAULT_VMAR | Rights::READ | Rights::WRITE | Rights::EXECUTE,
    )?;
    let process_handle = process.add_handle(
        KernelObject::Process(process.clone()),
        Rights::DEFAULT_PROCESS,
    )?;
    let boot = LinuxBoot {
        magic: BOOT_MAGIC,
        version: BOOT_VERSION,
        flags: blob.flags,
        vmar: vmar_handle,
        thread: thread_handle,
        vmar_base: root_base,
        archive_vmo: archive_handle,
        process: process_handle,
        archive_addr,
        archive_len: blob.archive.len() as u64,
        argv_addr,
        argv_len: blob.argv.len() as u64,
        realtime_ns: blob.realtime_ns,
        seed: blob.seed,
        stack_base,
        stack_top: stack_base + layout::STACK_SIZE,
    };
    let page = Vmo::create(platform, PAGE_SIZE)?;
    // SAFETY: `LinuxBoot` is repr(C) of integers without padding; reading
    // its bytes is reading initialized memory.
    let bytes = unsafe {
        core::slice::from_raw_parts((&raw const boot).cast::<u8>(), size_of::<LinuxBoot>())
    };
    page.write(0, bytes)?;
    let boot_addr = vmar.map(at(layout::BOOT), &page, 0, PAGE_SIZE, Perms::READ)?;
    let entry = word(blob.runner, 24).ok_or(LoadError::BadRunner)?;
    Ok(Start {
        entry,
        stack_top: stack_base + layout::STACK_SIZE,
        boot: boot_addr,
    })
}

/// How a linux-mode run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The program's status.
    Status(u64),
    /// The runner failed with this code.
    Runner(u64),
}

/// The host calls of linux mode.
pub struct LinuxHost {
    /// Writes raw bytes to the serial console.
    pub out: fn(&[u8]),
    /// How the run ended, once it did.
    pub end: Option<End>,
}

impl LinuxHost {
    fn stream_write<P: Platform>(
        &self,
        process: &Process<P>,
        stream: u64,
        addr: u64,
        len: u64,
    ) -> i64 {
        let Ok(stream) = u8::try_from(stream) else {
            return i64::from(zx_subsystem::abi::Status::InvalidArgs.into_raw());
        };
        if stream == 0 || stream >= frame::EXIT {
            return i64::from(zx_subsystem::abi::Status::InvalidArgs.into_raw());
        }
        let mut buf = [0u8; 4096];
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(buf.len() as u64) as usize;
            let Some(a) = addr.checked_add(done) else {
                break;
            };
            if UserMemory::copy_from_user(process, a, &mut buf[..n]).is_err() {
                break;
            }
            frame::write(stream, &buf[..n], self.out);
            done += n as u64;
        }
        if done == 0 && len > 0 {
            return i64::from(zx_subsystem::abi::Status::InvalidArgs.into_raw());
        }
        done as i64
    }
}

impl<P: Platform> Host<P> for LinuxHost {
    fn host_base(&self) -> u64 {
        zx_user::hobby::HOST_SYSCALL_BASE
    }

    fn host_call<M: Machine<P>>(&mut self, task: &mut Task<P>, _machine: &mut M) -> Option<u64> {
        let number = P::Arch::syscall_number(&task.ctx);
        let a = P::Arch::syscall_args(&task.ctx);
        match number {
            HOST_STREAM_WRITE => {
                let r = self.stream_write(task.thread.process(), a[0], a[1], a[2]);
                // A count (at most the length asked, which the runner keeps
                // far below 2 GiB) or a status.
                P::Arch::set_syscall_status(
                    &mut task.ctx,
                    r.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
                );
                None
            }
            HOST_LINUX_EXIT => {
                let end = match a[0] {
                    EXIT_STATUS => End::Status(a[1] & 0xff),
                    EXIT_RUNNER_FAILED => End::Runner(a[1]),
                    _ => End::Runner(u64::MAX),
                };
                self.end = Some(end);
                Some(0)
            }
            _ => {
                P::Arch::set_syscall_status(
                    &mut task.ctx,
                    zx_subsystem::abi::Status::BadSyscall.into_raw(),
                );
                None
            }
        }
    }

    fn on_timer(&mut self, _task: &Task<P>) {}
}

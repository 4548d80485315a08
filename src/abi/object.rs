//! Object types (`ZX_OBJ_TYPE_*`), from `zircon/system/public/zircon/types.h`
//! (misttech/fuchsia@03230340a3a9a1cf6378f23c9a0eb9666cea1c53). Only the
//! types this crate names are listed; the numbering has gaps (7, 8, 10, 13
//! are retired) and runs to `ZX_OBJ_TYPE_IOB_SHARED_REGION` (35).

/// `zx_obj_type_t`.
#[allow(non_camel_case_types)]
pub type zx_obj_type_t = u32;

/// `ZX_OBJ_TYPE_NONE`.
pub const ZX_OBJ_TYPE_NONE: zx_obj_type_t = 0;
/// `ZX_OBJ_TYPE_PROCESS`.
pub const ZX_OBJ_TYPE_PROCESS: zx_obj_type_t = 1;
/// `ZX_OBJ_TYPE_THREAD`.
pub const ZX_OBJ_TYPE_THREAD: zx_obj_type_t = 2;
/// `ZX_OBJ_TYPE_VMO`.
pub const ZX_OBJ_TYPE_VMO: zx_obj_type_t = 3;
/// `ZX_OBJ_TYPE_CHANNEL`.
pub const ZX_OBJ_TYPE_CHANNEL: zx_obj_type_t = 4;
/// `ZX_OBJ_TYPE_EVENT`.
pub const ZX_OBJ_TYPE_EVENT: zx_obj_type_t = 5;
/// `ZX_OBJ_TYPE_PORT`.
pub const ZX_OBJ_TYPE_PORT: zx_obj_type_t = 6;
/// `ZX_OBJ_TYPE_JOB`.
pub const ZX_OBJ_TYPE_JOB: zx_obj_type_t = 17;
/// `ZX_OBJ_TYPE_VMAR`.
pub const ZX_OBJ_TYPE_VMAR: zx_obj_type_t = 18;

/// The kinds of object this crate implements, with their `ZX_OBJ_TYPE_*`
/// values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ObjectType {
    /// `ZX_OBJ_TYPE_PROCESS`.
    Process = ZX_OBJ_TYPE_PROCESS,
    /// `ZX_OBJ_TYPE_THREAD`.
    Thread = ZX_OBJ_TYPE_THREAD,
    /// `ZX_OBJ_TYPE_VMO`.
    Vmo = ZX_OBJ_TYPE_VMO,
    /// `ZX_OBJ_TYPE_JOB`.
    Job = ZX_OBJ_TYPE_JOB,
    /// `ZX_OBJ_TYPE_VMAR`.
    Vmar = ZX_OBJ_TYPE_VMAR,
}

impl ObjectType {
    /// The raw `zx_obj_type_t`.
    pub const fn into_raw(self) -> zx_obj_type_t {
        self as zx_obj_type_t
    }
}

/// `ZX_PROCESS_SHARED` (`zircon/types.h`): `zx_process_create` makes the
/// first process of a sharing group, whose root VMAR is the shared region.
pub const ZX_PROCESS_SHARED: u32 = 1 << 0;

/// `zx_signals_t`.
#[allow(non_camel_case_types)]
pub type zx_signals_t = u32;

/// `ZX_TASK_TERMINATED` (`zircon/types.h`: `ZX_OBJECT_SIGNAL_3`): a process
/// or thread is dead.
pub const ZX_TASK_TERMINATED: zx_signals_t = 1 << 3;
/// `ZX_PROCESS_TERMINATED`: [`ZX_TASK_TERMINATED`] of a process.
pub const ZX_PROCESS_TERMINATED: zx_signals_t = ZX_TASK_TERMINATED;
/// `ZX_THREAD_TERMINATED`: [`ZX_TASK_TERMINATED`] of a thread.
pub const ZX_THREAD_TERMINATED: zx_signals_t = ZX_TASK_TERMINATED;

/// `zx_time_t`: nanoseconds of `ZX_CLOCK_MONOTONIC`.
#[allow(non_camel_case_types)]
pub type zx_time_t = i64;
/// `ZX_TIME_INFINITE`: a deadline that never passes.
pub const ZX_TIME_INFINITE: zx_time_t = i64::MAX;
/// `ZX_TIME_INFINITE_PAST`: a deadline that has always passed.
pub const ZX_TIME_INFINITE_PAST: zx_time_t = i64::MIN;

/// `ZX_TASK_RETCODE_SYSCALL_KILL` (`zircon/syscalls/object.h`): the return
/// code of a process killed by `zx_task_kill`.
pub const ZX_TASK_RETCODE_SYSCALL_KILL: i64 = -1024;

/// `zx_futex_t` (`zircon/types.h`): a 32-bit futex word.
#[allow(non_camel_case_types)]
pub type zx_futex_t = i32;

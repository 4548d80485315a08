//! `zx_object_get_info` (topic `ZX_INFO_HANDLE_BASIC`) and
//! `zx_job_set_policy`.

use crate::abi::{
    Pod, Rights, ZX_INFO_HANDLE_BASIC, ZX_JOB_POL_ABSOLUTE, ZX_JOB_POL_BASIC_V1,
    ZX_JOB_POL_BASIC_V2, ZX_JOB_POL_RELATIVE, ZX_JOB_POL_TIMER_SLACK, ZX_POL_OVERRIDE_DENY,
    zx_info_handle_basic_t, zx_policy_basic_v1_t, zx_policy_basic_v2_t,
};
use crate::error::{Error, Result};
use crate::object::Job;
use crate::platform::Platform;

use super::user::{UserIn, UserOut};
use super::{Call, arg_u32};

/// Most policy entries one call may carry (Zircon's limit).
const MAX_POLICY_ENTRIES: usize = 32;

/// `zx_object_get_info(handle, topic, buffer, buffer_size, actual, avail)`.
///
/// Only `ZX_INFO_HANDLE_BASIC` is implemented; other topics give
/// `NOT_SUPPORTED` after the handle is checked. `actual` and `avail` may be
/// null.
pub(super) fn get_info<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let value = arg_u32(call.args[0]);
    let topic = arg_u32(call.args[1]);
    let buffer = call.args[2];
    let buffer_size = call.args[3];
    let (actual, avail) = (call.args[4], call.args[5]);
    let process = call.process().clone();
    let handle = process.with_handles(|t| t.get(value).cloned())?;
    if topic != ZX_INFO_HANDLE_BASIC {
        return Err(Error::NotSupported(
            "only ZX_INFO_HANDLE_BASIC is implemented",
        ));
    }
    let record_size = core::mem::size_of::<zx_info_handle_basic_t>() as u64;
    if buffer_size < record_size {
        return Err(Error::BufferTooSmall);
    }
    let info = zx_info_handle_basic_t {
        koid: handle.object.koid(),
        rights: handle.rights.bits(),
        type_: handle.object.object_type().into_raw(),
        related_koid: handle.object.related_koid(),
        reserved: 0,
        padding1: [0; 4],
    };
    crate::vm::UserMemory::copy_to_user(&process, buffer, info.as_bytes())
        .map_err(super::user::invalid_args)?;
    for out in [actual, avail] {
        if out != 0 {
            UserOut::<u64>::new(out).write(&process, &1u64)?;
        }
    }
    Ok(())
}

/// `zx_job_set_policy(handle, options, topic, policy, count)`, following
/// Zircon's `sys_job_set_policy`: topic, then options and count
/// (`INVALID_ARGS`), then the copy-in (`INVALID_ARGS`), then the handle
/// (`SET_POLICY` right), then the job's own checks.
pub(super) fn job_set_policy<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let value = arg_u32(call.args[0]);
    let options = arg_u32(call.args[1]);
    let topic = arg_u32(call.args[2]);
    let policy = call.args[3];
    let count = arg_u32(call.args[4]) as usize;
    match topic {
        ZX_JOB_POL_BASIC_V1 | ZX_JOB_POL_BASIC_V2 => {}
        ZX_JOB_POL_TIMER_SLACK => {
            return Err(Error::NotSupported("timer slack policy is not implemented"));
        }
        _ => return Err(Error::InvalidArgs("unknown policy topic")),
    }
    if options != ZX_JOB_POL_RELATIVE && options != ZX_JOB_POL_ABSOLUTE {
        return Err(Error::InvalidArgs("bad policy options"));
    }
    if policy == 0 || count == 0 || count > MAX_POLICY_ENTRIES {
        return Err(Error::InvalidArgs("bad policy count or pointer"));
    }
    let aspace = call.process().clone();
    let mut entries = [zx_policy_basic_v2_t::default(); MAX_POLICY_ENTRIES];
    for (i, e) in entries.iter_mut().take(count).enumerate() {
        *e = if topic == ZX_JOB_POL_BASIC_V1 {
            let v1 = UserIn::<zx_policy_basic_v1_t>::new(policy).read(&aspace, i)?;
            zx_policy_basic_v2_t {
                condition: v1.condition,
                action: v1.policy,
                flags: ZX_POL_OVERRIDE_DENY,
            }
        } else {
            UserIn::<zx_policy_basic_v2_t>::new(policy).read(&aspace, i)?
        };
    }
    let (job, _) = call
        .process()
        .get_object::<Job>(value, Rights::SET_POLICY)?;
    job.set_basic_policy(options, &entries[..count])
}

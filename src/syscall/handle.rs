//! `zx_handle_close`, `zx_handle_duplicate`, `zx_handle_replace`.

use crate::abi::{Rights, ZX_HANDLE_INVALID, zx_handle_t};
use crate::error::{Error, Result};
use crate::object::{Handle, reduced_rights};
use crate::platform::Platform;

use super::user::UserOut;
use super::{Call, arg_u32};

/// `zx_handle_close(handle)`: closing `ZX_HANDLE_INVALID` succeeds.
pub(super) fn close<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let value = arg_u32(call.args[0]);
    if value == ZX_HANDLE_INVALID {
        return Ok(());
    }
    let handle = call.process().with_handles(|t| t.remove(value))?;
    drop(handle);
    Ok(())
}

/// `zx_handle_duplicate(handle, rights, out)`.
pub(super) fn duplicate<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    dup_or_replace(call, false)
}

/// `zx_handle_replace(handle, rights, out)`.
pub(super) fn replace<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    dup_or_replace(call, true)
}

/// Zircon's `handle_dup_replace`: `BAD_HANDLE`; for duplicate, the source
/// needs `DUPLICATE` (`ACCESS_DENIED`); rights must be `SAME_RIGHTS` or a
/// subset (`INVALID_ARGS`, and a replace then still closes the source).
fn dup_or_replace<P: Platform>(call: &mut Call<'_, P>, replace: bool) -> Result<()> {
    let value = arg_u32(call.args[0]);
    let requested = arg_u32(call.args[1]);
    let out = UserOut::<zx_handle_t>::new(call.args[2]);
    let process = call.process().clone();
    let new_value = process.with_handles(|table| -> Result<zx_handle_t> {
        let source = table.get(value)?;
        if !replace && !source.rights.contains(Rights::DUPLICATE) {
            return Err(Error::MissingRights {
                missing: Rights::DUPLICATE,
            });
        }
        let rights = match reduced_rights(source.rights, requested) {
            Ok(r) => r,
            Err(e) => {
                if replace {
                    table.remove(value)?;
                }
                return Err(e);
            }
        };
        let new = Handle {
            object: source.object.clone(),
            rights,
        };
        if replace {
            table.remove(value)?;
        }
        table.add(new)
    })?;
    // As Zircon's syscall glue: if the out-pointer is bad, the new handle is
    // closed again and the call fails.
    if let Err(e) = out.write(&process, &new_value) {
        let _ = process.with_handles(|t| t.remove(new_value));
        return Err(e);
    }
    Ok(())
}

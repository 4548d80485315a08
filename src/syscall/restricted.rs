//! `zx_restricted_bind_state`, `_unbind_state`, `_enter`, `_kick`; the state
//! machine is in [`crate::restricted`].

use crate::error::Result;
use crate::platform::Platform;
use crate::restricted;

use super::{Call, arg_u32};

/// `zx_restricted_bind_state(options, out_vmo)`.
pub(super) fn bind_state<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    restricted::bind_state(
        call.kernel,
        call.thread,
        arg_u32(call.args[0]),
        call.args[1],
    )
}

/// `zx_restricted_unbind_state(options)`.
pub(super) fn unbind_state<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    restricted::unbind_state(call.thread, arg_u32(call.args[0]))
}

/// `zx_restricted_enter(options, vector_table_ptr, context)`: on success the
/// caller's context was replaced and no status is written.
pub(super) fn enter<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    let (options, vector, context) = (arg_u32(call.args[0]), call.args[1], call.args[2]);
    let outcome = restricted::enter(
        call.thread,
        options,
        vector,
        context,
        call.ctx.as_deref_mut(),
    )?;
    call.outcome = Some(outcome);
    Ok(())
}

/// `zx_restricted_kick(thread, options)`.
pub(super) fn kick<P: Platform>(call: &mut Call<'_, P>) -> Result<()> {
    restricted::kick(call.thread, arg_u32(call.args[0]), arg_u32(call.args[1]))
}

//! The debugger's endpoints, which every actor exposes: the TTY lock's
//! relay towards the root.

use super::lock::with_tty_lock;
use crate::runtime::context::Context;
use crate::runtime::current;
use crate::runtime::error::Error;

/// The most of a holder's description the root keeps (it is only logged).
const MAX_HOLDER: usize = 256;

/// This module's path, which every actor exposes.
pub(crate) const MODULE: &str = module_path!();

/// Holds the tree's TTY lock for `holder` (a descendant of this actor)
/// from `started` until the caller closes its stream or its channel drops.
#[crate::context]
pub(crate) async fn lock_tty(ctx: Context<(), (), ()>, mut holder: String) -> Result<(), Error> {
    let rt = current::try_current().ok_or(Error::NoRuntime)?;
    if holder.len() > MAX_HOLDER {
        let cut = (0..=MAX_HOLDER)
            .rev()
            .find(|&i| holder.is_char_boundary(i))
            .unwrap_or(0);
        holder.truncate(cut);
    }
    with_tty_lock(&rt, holder, async || {
        ctx.started(()).await?;
        let held = ctx.open_stream()?;
        // Nothing is sent on it: it ends when the holder lets go.
        while held.recv().await?.is_some() {}
        Ok(())
    })
    .await
}

/// The whole actor tree, rendered by the root (asked through each parent
/// in turn).
#[crate::endpoint]
pub(crate) async fn whole_tree() -> Result<String, Error> {
    let rt = current::try_current().ok_or(Error::NoRuntime)?;
    Ok(super::tree::whole_tree(&rt).await)
}

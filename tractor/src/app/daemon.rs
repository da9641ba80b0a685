//! A root that only serves.

use crate::runtime::error::Error;

use super::config::RootConfig;
use super::root::open_root_actor;

/// Runs a root actor that only serves RPC (its `enable_modules`) until it
/// is cancelled. A peer's `cancel_actor` ends it normally (`Ok`); SIGINT or
/// SIGTERM end it with [`Error::Interrupted`] like any root (so
/// `#[tractor::main]` exits 130 or 143). It registers with (or becomes)
/// the registrar at its registry addresses like any root.
///
/// ```no_run
/// #[tractor::main]
/// async fn main() -> Result<(), tractor::Error> {
///     let cfg = tractor::RootConfig::new("quotes").enable_modules([module_path!()]);
///     tractor::run_daemon(cfg).await
/// }
/// ```
pub async fn run_daemon(cfg: RootConfig) -> Result<(), Error> {
    open_root_actor(cfg, async || {
        crate::runtime::identity::current_actor()?.cancelled().await;
        Ok(())
    })
    .await
}

//! Discovery: the registrar, and finding actors by name.
//!
//! The registrar is an ordinary actor that also holds the name → addrs
//! table ([`Registration`](crate::Registration)s). At boot a root rendezvous on its registry
//! addresses as its [`RegistrarRole`] says: by default it joins the
//! registrar that answers there, else becomes it and listens on the first
//! of those addresses. Every actor registers at boot and de-registers when
//! it exits; an actor that dies without de-registering is pruned as soon
//! as its channel to the registrar drops.
//!
//! This layer sits on the runtime and plugs into it (see the runtime's
//! plugins): the registrar's table and an actor's link to its registrar
//! are plugins the boot code in `app` adds, so the runtime never names
//! discovery.
//!
//! The registrar's endpoints are ordinary endpoints in [`mod@registrar`],
//! callable through the portal [`registrar()`](crate::registrar()) returns.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tractor::Error> {
//! // The common lookups are also at the crate root.
//! let names: Vec<String> = tractor::list_actors()
//!     .await?
//!     .into_iter()
//!     .map(|reg| reg.aid.name)
//!     .collect();
//! println!("running: {names:?}");
//! # Ok(()) }
//! ```

pub(crate) mod election;
pub(crate) mod lookup;
pub mod registrar;
mod registration;
pub(crate) mod registry;
mod registry_addr;

pub(crate) use election::RegistrarRole;
pub(crate) use election::{Ballot, Election, elect};
pub(crate) use lookup::registrar;
pub(crate) use registration::{become_registrar, register_self};
pub use registry_addr::{REGISTRY_ADDR_ENV, default_registry_addr, registry_addrs_from_env};

/// The module whose endpoints a registrar serves (a wire name: peers
/// built from other sources call it by this path).
pub(crate) const REGISTRAR_MODULE: &str = "tractor::discovery::registrar";

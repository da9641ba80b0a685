//! The registrar's endpoints: ordinary endpoints in this module, which a
//! registrar actor always exposes (and no other actor does).
//!
//! ```no_run
//! use tractor::discovery::registrar;
//! # async fn demo() -> Result<(), tractor::Error> {
//! // What `tractor::query_actor` does, spelled out:
//! let reg = tractor::registrar().await?.run(registrar::find::call("quotes".into())).await?;
//! println!("{reg:?}");
//! # Ok(()) }
//! ```

use std::sync::Arc;

use super::registry::{Registration, Registry};
use crate::runtime::error::{Error, RegistrarError};
use crate::runtime::{current, rpc};

/// This actor's name table; an error if it is not a registrar.
fn table() -> Result<Arc<Registry>, Error> {
    let rt = current::try_current().ok_or(Error::NoRuntime)?;
    rt.plugin::<Registry>().ok_or_else(|| {
        RegistrarError::NotARegistrar {
            actor: rt.aid().clone(),
        }
        .into()
    })
}

fn with_registry<T>(f: impl FnOnce(&Registry) -> T) -> Result<T, Error> {
    Ok(f(table()?.as_ref()))
}

/// Answers a probe: only a registrar exposes this.
#[crate::endpoint]
pub async fn hello() -> Result<String, Error> {
    with_registry(|_| "registrar".to_string())
}

/// Registers the calling actor's entry, tied to the calling channel.
#[crate::endpoint]
pub async fn register(reg: Registration) -> Result<(), Error> {
    let conn = rpc::current_caller_key().ok_or(Error::NoRuntime)?;
    with_registry(|r| r.register(reg, conn))
}

/// Removes an entry; whether it was there.
#[crate::endpoint]
pub async fn deregister(uuid: uuid::Uuid) -> Result<bool, Error> {
    with_registry(|r| r.deregister(uuid))
}

/// The latest registration under `name`.
#[crate::endpoint]
pub async fn find(name: String) -> Result<Option<Registration>, Error> {
    with_registry(|r| r.find(&name))
}

/// Every registration.
///
/// ```no_run
/// # async fn demo() -> Result<(), tractor::Error> {
/// let all = tractor::registrar().await?.run(tractor::discovery::registrar::list::call()).await?;
/// println!("{} actors registered", all.len());
/// # Ok(()) }
/// ```
#[crate::endpoint]
pub async fn list() -> Result<Vec<Registration>, Error> {
    with_registry(|r| r.list())
}

/// Waits until `name` is registered.
///
/// ```no_run
/// use tractor::discovery::registrar::wait_for;
/// # async fn demo() -> Result<(), tractor::Error> {
/// // Resolves once `worker` registers (or at once if it already has).
/// let reg = tractor::registrar().await?.run(wait_for::call("worker".into())).await?;
/// println!("worker is {}", reg.aid);
/// # Ok(()) }
/// ```
#[crate::endpoint]
pub async fn wait_for(name: String) -> Result<Registration, Error> {
    Ok(table()?.wait_for(&name).await)
}

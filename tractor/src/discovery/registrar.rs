//! The registrar's endpoints: ordinary endpoints in this module, which a
//! registrar actor always exposes (and no other actor does).

use crate::discovery::registry::Registration;
use crate::runtime::error::Error;
use crate::runtime::{current, rpc};

fn with_registry<T>(f: impl FnOnce(&super::registry::Registry) -> T) -> Result<T, Error> {
    let rt = current::try_current().ok_or(Error::NoRuntime)?;
    let reg = rt
        .registry
        .get()
        .ok_or_else(|| Error::Config(format!("actor {} is not a registrar", rt.aid())))?;
    Ok(f(reg))
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
#[crate::endpoint]
pub async fn list() -> Result<Vec<Registration>, Error> {
    with_registry(|r| r.list())
}

/// Waits until `name` is registered.
#[crate::endpoint]
pub async fn wait_for(name: String) -> Result<Registration, Error> {
    let rt = current::try_current().ok_or(Error::NoRuntime)?;
    let reg = rt
        .registry
        .get()
        .ok_or_else(|| Error::Config(format!("actor {} is not a registrar", rt.aid())))?;
    Ok(reg.wait_for(&name).await)
}

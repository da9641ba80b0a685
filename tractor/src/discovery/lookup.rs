//! Finding actors: lookups at the registrar of the calling actor's tree.

use std::sync::Arc;

use crate::runtime::actor::ActorRuntime;
use crate::runtime::conn::Conn;
use crate::runtime::current;
use crate::runtime::error::{ConfigError, Error};
use crate::runtime::portal::Portal;
use crate::runtime::share::{Claim, Lease};

use super::registrar as endpoints;
use super::registration::RegistrarLink;
use super::registry::{Registration, Registry};

fn runtime() -> Result<Arc<ActorRuntime>, Error> {
    current::try_current().ok_or(Error::NoRuntime)
}

/// A portal to the registrar of this actor's tree (tractor's `get_registry`).
///
/// Every lookup goes over one channel to the registrar, which the runtime
/// keeps open for its whole life (the one it registered over, else one
/// dialed on the first lookup): lookups leave no connection behind.
///
/// ```no_run
/// # async fn demo() -> Result<(), tractor::Error> {
/// let registrar = tractor::registrar().await?;
/// println!("the registrar is {}", registrar.aid());
/// # Ok(()) }
/// ```
#[doc(alias = "get_registry")]
pub async fn registrar() -> Result<Portal, Error> {
    let rt = runtime()?;
    if let Some(conn) = rt.plugin::<RegistrarLink>().and_then(|l| l.conn()) {
        return Ok(Portal::kept(rt.clone(), conn));
    }
    let addr = if rt.plugin::<Registry>().is_some() {
        rt.listen_addr.clone()
    } else {
        rt.p.registry_addrs
            .first()
            .cloned()
            .ok_or(ConfigError::NoRegistryAddrs)?
    };
    let (conn, _) = rt.connect_shared(&addr, Claim::Runtime).await?;
    Ok(Portal::kept(rt.clone(), conn))
}

/// A portal sharing the open channel `conn` (see [`Portal`]'s ownership
/// rules); `None` if it closed meanwhile.
fn shared_portal(rt: &Arc<ActorRuntime>, conn: Arc<Conn>) -> Option<Portal> {
    let lease = Lease::claim(&conn, Claim::Portal)?;
    Some(Portal {
        rt: rt.clone(),
        conn,
        main: None,
        lease: lease.map(Arc::new),
    })
}

/// Every actor the registrar knows, oldest registration first.
///
/// ```no_run
/// # async fn demo() -> Result<(), tractor::Error> {
/// for reg in tractor::list_actors().await? {
///     println!("{} at {:?}", reg.aid, reg.addrs);
/// }
/// # Ok(()) }
/// ```
pub async fn list_actors() -> Result<Vec<Registration>, Error> {
    registrar().await?.run(endpoints::list::call()).await
}

/// The addresses of the latest actor registered as `name`, without
/// connecting to it.
///
/// ```no_run
/// # async fn demo() -> Result<(), tractor::Error> {
/// // Only look: no channel is opened to the actor.
/// if let Some(reg) = tractor::query_actor("quotes").await? {
///     println!("quotes listens on {:?}", reg.addrs);
/// }
/// # Ok(()) }
/// ```
pub async fn query_actor(name: &str) -> Result<Option<Registration>, Error> {
    registrar()
        .await?
        .run(endpoints::find::call(name.to_string()))
        .await
}

/// A portal to the latest actor registered as `name`; `None` if there is
/// none. Already-connected peers are used first. An entry whose actor no
/// longer answers is removed from the registrar and gives `None`. The
/// portal shares its channel like one from [`connect_portal`](crate::connect_portal):
/// a channel dialed for it closes with the last portal sharing it.
///
/// ```no_run
/// # async fn demo() -> Result<(), tractor::Error> {
/// match tractor::find_actor("quotes").await? {
///     Some(p) => println!("found {}", p.aid()),
///     None => println!("no such actor"),
/// }
/// # Ok(()) }
/// ```
pub async fn find_actor(name: &str) -> Result<Option<Portal>, Error> {
    let rt = runtime()?;
    if let Some(p) = rt.conn_named(name).and_then(|c| shared_portal(&rt, c)) {
        return Ok(Some(p));
    }
    let Some(reg) = query_actor(name).await? else {
        return Ok(None);
    };
    connect_or_prune(&rt, reg).await
}

async fn connect_or_prune(
    rt: &Arc<ActorRuntime>,
    reg: Registration,
) -> Result<Option<Portal>, Error> {
    for addr in &reg.addrs {
        if let Ok((conn, lease)) = rt.connect_shared(addr, Claim::Portal).await {
            return Ok(Some(Portal {
                rt: rt.clone(),
                conn,
                main: None,
                lease: lease.map(Arc::new),
            }));
        }
    }
    // Stale: the actor is gone without de-registering.
    tracing::info!(target: "tractor::discovery", "removing stale registration of {}", reg.aid);
    let _ = registrar()
        .await?
        .run(endpoints::deregister::call(reg.aid.uuid))
        .await;
    Ok(None)
}

/// Waits until an actor named `name` is registered and returns a portal
/// to it, sharing its channel like [`find_actor`].
///
/// ```no_run
/// #[tractor::endpoint]
/// async fn ping() -> String { "pong".into() }
///
/// async fn demo() -> Result<(), tractor::Error> {
///     // A sibling may still be booting: wait for it rather than poll.
///     let peer = tractor::wait_for_actor("worker").await?;
///     assert_eq!(peer.run(ping::call()).await?, "pong");
///     Ok(())
/// }
/// # fn main() {}
/// ```
pub async fn wait_for_actor(name: &str) -> Result<Portal, Error> {
    let rt = runtime()?;
    if let Some(p) = rt.conn_named(name).and_then(|c| shared_portal(&rt, c)) {
        return Ok(p);
    }
    let registry = registrar().await?;
    loop {
        let reg = registry
            .run(endpoints::wait_for::call(name.to_string()))
            .await?;
        if let Some(p) = connect_or_prune(&rt, reg).await? {
            return Ok(p);
        }
    }
}

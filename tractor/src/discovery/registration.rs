//! An actor's side of discovery: registering with the registrar at boot,
//! de-registering at teardown, and the registrar's own table plugged in.
//! Both are runtime plugins, composed into an actor by the boot code.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::future::LocalBoxFuture;

use crate::ipc::{Addr, Aid};
use crate::runtime::actor::ActorRuntime;
use crate::runtime::conn::Conn;
use crate::runtime::error::Error;
use crate::runtime::plugin::{ConnKey, Plugin};
use crate::runtime::portal::Portal;
use crate::runtime::share::Claim;

use super::registrar;
use super::registry::{Registration, Registry};

/// This actor's channel to its registrar, once registered: lookups reuse
/// it, and teardown de-registers over it.
#[derive(Default)]
pub(crate) struct RegistrarLink {
    conn: OnceLock<Arc<Conn>>,
}

impl RegistrarLink {
    /// The channel, while it is open.
    pub(crate) fn conn(&self) -> Option<Arc<Conn>> {
        self.conn.get().filter(|c| !c.chan.is_closed()).cloned()
    }
}

impl Plugin for RegistrarLink {
    fn before_close(self: Arc<Self>, rt: Arc<ActorRuntime>) -> LocalBoxFuture<'static, ()> {
        Box::pin(async move {
            let Some(conn) = self.conn.get().cloned() else {
                return;
            };
            let portal = Portal::kept(rt.clone(), conn);
            let call = portal.run(registrar::deregister::call(rt.aid().uuid));
            if let Ok(Err(e)) = tokio::time::timeout(Duration::from_millis(500), call).await {
                tracing::debug!(target: "tractor::discovery", "de-registration failed: {e}");
            }
        })
    }
}

impl Plugin for Registry {
    fn conn_closed(&self, conn: ConnKey) {
        self.prune_conn(conn);
    }

    fn register_ready(&self, conn: ConnKey, peer: &Aid, addrs: &[Addr]) -> bool {
        let reg = Registration {
            aid: peer.clone(),
            addrs: addrs.to_vec(),
        };
        self.register(reg, conn);
        true
    }
}

/// Makes `rt` its tree's registrar: it holds the name table and serves
/// the registrar's endpoints. Call right after boot, before the actor
/// first yields, so no peer can find the module without the table.
pub(crate) fn become_registrar(rt: &ActorRuntime) {
    rt.add_plugin(Arc::new(Registry::new()));
}

/// Registers this actor with its registrar (boot of any non-registrar).
/// A failure is logged, not fatal: an actor works without discovery.
///
/// `parent` is the channel to our parent and the address we dialed it at.
/// When the parent is the registrar (a root's children, the common case)
/// nothing is sent here: the addresses to register are returned, for the
/// `Ready` that ends our spawn to carry (the parent registers us on it,
/// before its `start_actor` returns), and the registrar is reached over
/// that channel afterwards, rather than a second socket on both sides
/// per actor. The entry is pruned when that channel drops, and by then
/// we are going anyway. Otherwise we register by a call, and `None` is
/// returned.
#[must_use = "the addresses go in the child's `Ready`, or it is never registered"]
pub(crate) async fn register_self(
    rt: &Arc<ActorRuntime>,
    parent: Option<(&Addr, &Arc<Conn>)>,
) -> Option<Vec<Addr>> {
    let addr = rt.p.registry_addrs.first().cloned()?;
    let via_parent = parent
        .filter(|(parent_addr, conn)| **parent_addr == addr && !conn.chan.is_closed())
        .map(|(_, conn)| conn.clone());
    let link = RegistrarLink::default();
    if let Some(conn) = via_parent {
        let _ = link.conn.set(conn);
        rt.add_plugin(Arc::new(link));
        return Some(vec![rt.listen_addr.clone()]);
    }
    let res = async {
        let conn = rt.connect_shared(&addr, Claim::Runtime).await?.0;
        let portal = Portal::kept(rt.clone(), conn.clone());
        let reg = Registration {
            aid: rt.aid().clone(),
            addrs: vec![rt.listen_addr.clone()],
        };
        portal.run(registrar::register::call(reg)).await?;
        Ok::<_, Error>(conn)
    }
    .await;
    match res {
        Ok(conn) => {
            let _ = link.conn.set(conn);
            rt.add_plugin(Arc::new(link));
        }
        Err(e) => {
            tracing::warn!(target: "tractor::discovery", "could not register with the registrar at {addr}: {e}");
        }
    }
    None
}

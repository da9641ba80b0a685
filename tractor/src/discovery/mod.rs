//! Discovery: the registrar, and finding actors by name.
//!
//! The registrar is an ordinary actor that also holds the name → addrs
//! table ([`Registration`]s). At boot a root rendezvous on its
//! `registry_addrs`: if a registrar answers there it registers with it,
//! else it becomes the registrar and listens on the first of those
//! addresses (a root set to `join_existing_registry` fails instead: tools
//! such as the `tractor` CLI never turn into a registrar). Every actor registers at boot and de-registers when it exits;
//! an actor that dies without de-registering is pruned as soon as its
//! channel to the registrar drops.

pub mod registrar;
pub(crate) mod registry;

use std::sync::Arc;
use std::time::Duration;

pub use registry::Registration;

use crate::ipc::{Addr, Channel, TransportKind};
use crate::runtime::actor::ActorRuntime;
use crate::runtime::conn::Conn;
use crate::runtime::error::Error;
use crate::runtime::portal::Portal;
use crate::runtime::share::{Claim, Lease};
use crate::runtime::{current, root::RootConfig};

/// The module whose endpoints a registrar serves.
pub(crate) const REGISTRAR_MODULE: &str = "tractor::discovery::registrar";
/// How long a probe of a registry address may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// What a root decided at boot.
pub(crate) struct Election {
    /// Listen here (the registry address when becoming the registrar).
    pub bind: Option<Addr>,
    pub registry_addrs: Vec<Addr>,
    pub is_registrar: bool,
}

/// The default registry address for a transport: `127.0.0.1:1616`, or
/// `registry@1616.sock` in the unix-socket bindspace.
pub fn default_registry_addr(t: TransportKind) -> Addr {
    match t {
        TransportKind::Tcp => Addr::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], 1616))),
        TransportKind::Uds => {
            Addr::Uds(crate::ipc::transport::uds_bindspace().join("registry@1616.sock"))
        }
    }
}

enum Probe {
    Absent,
    Registrar,
    /// A registrar that is shutting down: wait for its address to free up.
    Leaving,
    Occupied(String),
}

async fn probe(rt_aid: &crate::Aid, secret: &crate::ipc::Secret, addr: &Addr) -> Probe {
    let attempt = async {
        let t = match crate::ipc::MsgTransport::connect(addr, crate::ipc::DEFAULT_MAX_FRAME).await {
            Ok(t) => t,
            Err(_) => return Probe::Absent,
        };
        let limits = crate::ipc::Limits::default().handshake_timeout(PROBE_TIMEOUT);
        let (chan, mut reader) =
            match Channel::handshake(t, rt_aid, secret, crate::ipc::Role::Dialer, &limits).await {
                Ok(c) => c,
                Err(e) => {
                    return Probe::Occupied(format!(
                        "it did not complete a tractor handshake ({e})"
                    ));
                }
            };
        // Ask for the registrar's hello on a throwaway channel.
        let cid = chan.next_cid();
        let start = crate::ipc::Msg::Start(crate::ipc::Start {
            cid,
            ns: REGISTRAR_MODULE.into(),
            func: "hello".into(),
            args: Vec::new(),
            kind: crate::ipc::FuncType::AsyncFunc,
            sig: None,
            flow: crate::ipc::FlowSpec::default(),
        });
        if chan.send(&start).await.is_err() {
            return Probe::Occupied("it closed the connection after the handshake".into());
        }
        let verdict = loop {
            match reader.recv().await {
                Ok(Some(crate::ipc::Msg::Return { .. })) => break Probe::Registrar,
                Ok(Some(crate::ipc::Msg::Error { error, .. })) => {
                    if error.boxed_type == crate::runtime::error::boxed_types::CONTEXT_CANCELLED {
                        break Probe::Leaving;
                    }
                    break Probe::Occupied(format!(
                        "actor {} listens there but is not a registrar",
                        chan.peer()
                    ));
                }
                Ok(Some(_)) => continue,
                _ => break Probe::Occupied("it closed the connection".into()),
            }
        };
        chan.close_flushed(Duration::from_millis(100)).await;
        verdict
    };
    tokio::time::timeout(PROBE_TIMEOUT * 2, attempt)
        .await
        .unwrap_or_else(|_| Probe::Occupied("it did not answer in time".into()))
}

/// Registry addresses from `TRACTOR_REGISTRY_ADDR` (comma-separated),
/// which win over configuration, like `TRACTOR_LOGLEVEL`.
fn registry_addrs_from_env() -> Result<Option<Vec<Addr>>, Error> {
    let Ok(v) = std::env::var(REGISTRY_ADDR_ENV) else {
        return Ok(None);
    };
    let addrs = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<Addr>()
                .map_err(|e| Error::Config(format!("{REGISTRY_ADDR_ENV}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((!addrs.is_empty()).then_some(addrs))
}

/// The environment variable that sets the registry addresses.
pub const REGISTRY_ADDR_ENV: &str = "TRACTOR_REGISTRY_ADDR";

/// Whether a root is a tree of its own, which no other program joins: a
/// `#[tractor::test]` root told of no registry is its own registrar on its
/// own port (tests run many roots in one process).
pub(crate) fn is_isolated(cfg: &RootConfig, in_test: bool) -> bool {
    cfg.registry_addrs.is_empty()
        && in_test
        && !cfg.ensure_registry
        && !cfg.join_existing_registry
        && std::env::var_os(REGISTRY_ADDR_ENV).is_none()
}

/// The rendezvous at root boot; `secret` is what a registrar found there
/// must share.
pub(crate) async fn elect(
    cfg: &RootConfig,
    me: &crate::Aid,
    secret: &crate::ipc::Secret,
    in_test: bool,
) -> Result<Election, Error> {
    if cfg.ensure_registry && cfg.join_existing_registry {
        return Err(Error::Config(
            "ensure_registry (become the registrar) and join_existing_registry (never become it) contradict each other; set at most one".into(),
        ));
    }
    if is_isolated(cfg, in_test) {
        // Tests run many roots in one process: each is its own registrar
        // on its own port (its listen address) unless told otherwise.
        return Ok(Election {
            bind: cfg.bind_addr.clone(),
            registry_addrs: Vec::new(),
            is_registrar: true,
        });
    }
    let addrs = if let Some(env) = registry_addrs_from_env()? {
        env
    } else if cfg.registry_addrs.is_empty() {
        vec![default_registry_addr(cfg.transport)]
    } else {
        cfg.registry_addrs.clone()
    };
    for a in &addrs {
        if a.transport() != cfg.transport {
            return Err(Error::Config(format!(
                "registry address {a} uses the `{}` transport but this tree's enabled transport is `{}`; set RootConfig::transport({:?}) or use a `{}` registry address",
                a.transport(),
                cfg.transport,
                a.transport(),
                cfg.transport
            )));
        }
    }
    let mut occupied = Vec::new();
    for a in &addrs {
        let mut verdict = probe(me, secret, a).await;
        // A registrar on its way out: its address frees up shortly.
        for _ in 0..50 {
            if !matches!(verdict, Probe::Leaving) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            verdict = probe(me, secret, a).await;
        }
        match verdict {
            Probe::Leaving => {
                occupied.push(format!("{a}: a registrar there is still shutting down"))
            }
            Probe::Registrar if cfg.ensure_registry => {
                return Err(Error::RuntimeFailure(format!(
                    "a registrar already answers at {a}, but ensure_registry demands that this root create it"
                )));
            }
            Probe::Registrar => {
                return Ok(Election {
                    bind: cfg.bind_addr.clone(),
                    registry_addrs: addrs,
                    is_registrar: false,
                });
            }
            Probe::Occupied(why) => occupied.push(format!("{a}: {why}")),
            Probe::Absent => {}
        }
    }
    if cfg.join_existing_registry {
        // Never become the registrar: there is none to join.
        if !occupied.is_empty() {
            return Err(Error::RuntimeFailure(format!(
                "no registrar answers at the registry address(es) ({}); point this root at a running registrar",
                occupied.join("; ")
            )));
        }
        return Err(Error::NoRegistrar { addrs });
    }
    if !occupied.is_empty() {
        return Err(Error::RuntimeFailure(format!(
            "registry address(es) are occupied but did not answer as tractor registrars ({}); pick free registry addresses",
            occupied.join("; ")
        )));
    }
    Ok(Election {
        bind: Some(addrs[0].clone()),
        registry_addrs: addrs,
        is_registrar: true,
    })
}

/// Registers this actor with its registrar (boot of any non-registrar).
/// A failure is logged, not fatal: an actor works without discovery.
///
/// `parent` is the channel to our parent and the address we dialed it at:
/// when the parent is the registrar (a root's children, the common case)
/// we register over that channel rather than hold a second socket, on
/// both sides, per actor. The entry is still pruned when that channel
/// drops, and by then we are going anyway.
pub(crate) async fn register_self(rt: &Arc<ActorRuntime>, parent: Option<(&Addr, &Arc<Conn>)>) {
    let Some(addr) = rt.p.registry_addrs.first().cloned() else {
        return;
    };
    let via_parent = parent
        .filter(|(parent_addr, conn)| **parent_addr == addr && !conn.chan.is_closed())
        .map(|(_, conn)| conn.clone());
    let res = async {
        let conn = match via_parent {
            Some(conn) => conn,
            None => rt.connect_shared(&addr, Claim::Runtime).await?.0,
        };
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
            let _ = rt.registrar_conn.set(conn);
        }
        Err(e) => {
            tracing::warn!(target: "tractor::discovery", "could not register with the registrar at {addr}: {e}");
        }
    }
}

/// De-registers this actor (every exit path runs this in teardown).
pub(crate) async fn deregister_self(rt: &Arc<ActorRuntime>) {
    let Some(conn) = rt.registrar_conn.get().cloned() else {
        return;
    };
    let portal = Portal::kept(rt.clone(), conn);
    let call = portal.run(registrar::deregister::call(rt.aid().uuid));
    if let Ok(Err(e)) = tokio::time::timeout(Duration::from_millis(500), call).await {
        tracing::debug!(target: "tractor::discovery", "de-registration failed: {e}");
    }
}

fn runtime() -> Result<Arc<ActorRuntime>, Error> {
    current::try_current().ok_or(Error::NoRuntime)
}

/// A portal to the registrar of this actor's tree.
///
/// Every lookup goes over one channel to the registrar, which the runtime
/// keeps open for its whole life (the one it registered over, else one
/// dialed on the first lookup): lookups leave no connection behind.
///
/// ```no_run
/// # async fn demo() -> Result<(), tractor::Error> {
/// let registrar = tractor::get_registry().await?;
/// println!("the registrar is {}", registrar.aid());
/// # Ok(()) }
/// ```
pub async fn get_registry() -> Result<Portal, Error> {
    let rt = runtime()?;
    if let Some(conn) = rt.registrar_conn.get() {
        if !conn.chan.is_closed() {
            return Ok(Portal::kept(rt.clone(), conn.clone()));
        }
    }
    let addr = if rt.registry.get().is_some() {
        rt.listen_addr.clone()
    } else {
        rt.p.registry_addrs.first().cloned().ok_or_else(|| {
            Error::Config("this actor knows no registrar (no registry addresses)".into())
        })?
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
pub async fn list_actors() -> Result<Vec<Registration>, Error> {
    get_registry().await?.run(registrar::list::call()).await
}

/// The addresses of the latest actor registered as `name`, without
/// connecting to it.
pub async fn query_actor(name: &str) -> Result<Option<Registration>, Error> {
    get_registry()
        .await?
        .run(registrar::find::call(name.to_string()))
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
    let _ = get_registry()
        .await?
        .run(registrar::deregister::call(reg.aid.uuid))
        .await;
    Ok(None)
}

/// Waits until an actor named `name` is registered and returns a portal
/// to it, sharing its channel like [`find_actor`].
pub async fn wait_for_actor(name: &str) -> Result<Portal, Error> {
    let rt = runtime()?;
    if let Some(p) = rt.conn_named(name).and_then(|c| shared_portal(&rt, c)) {
        return Ok(p);
    }
    let registry = get_registry().await?;
    loop {
        let reg = registry
            .run(registrar::wait_for::call(name.to_string()))
            .await?;
        if let Some(p) = connect_or_prune(&rt, reg).await? {
            return Ok(p);
        }
    }
}

/// Runs a root actor that only serves RPC (`enable_modules`) until it is
/// cancelled. A peer's `cancel_actor` ends it normally (`Ok`); SIGINT or
/// SIGTERM end it with [`Error::Interrupted`] like any root (so
/// `#[tractor::main]` exits 130 or 143). It registers with (or becomes)
/// the registrar at `registry_addrs` like any root.
///
/// ```no_run
/// #[tractor::main]
/// async fn main() -> Result<(), tractor::Error> {
///     let cfg = tractor::RootConfig::new("quotes").enable_modules([module_path!()]);
///     tractor::run_daemon(cfg).await
/// }
/// ```
pub async fn run_daemon(cfg: RootConfig) -> Result<(), Error> {
    crate::runtime::root::open_root_actor(cfg, async || {
        crate::runtime::identity::current_actor()?.cancelled().await;
        Ok(())
    })
    .await
}

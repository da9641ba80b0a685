//! The rendezvous at root boot: find the registrar at the registry
//! addresses, or become it.

use std::time::Duration;

use crate::ipc::{Addr, Aid, Channel, FlowSpec, FuncType, Msg, Role, Secret, Start};
use crate::runtime::error::{ConfigError, Error, RegistrarError, boxed_types};

use super::REGISTRAR_MODULE;

/// How long a probe of a registry address may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// What a root does about the registrar when it boots; see
/// [`RootConfig::registrar`](crate::RootConfig::registrar).
///
/// ```
/// use tractor::{RegistrarRole, RootConfig};
/// // A tool that must never turn into the registrar of a tree that is not running:
/// let cfg = RootConfig::new("client").registrar(RegistrarRole::Join);
/// assert_eq!(cfg.registrar_role(), RegistrarRole::Join);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrarRole {
    /// Join the registrar that answers at the registry addresses, or
    /// become it when none does (tractor's default).
    #[default]
    Elect,
    /// Become the registrar: an error if one already answers there
    /// (tractor's `ensure_registry`).
    Become,
    /// Only join a registrar that already answers there, never become
    /// one: [`Error::NoRegistrar`] if none does.
    Join,
}

/// What a root asks the rendezvous.
pub(crate) struct Ballot<'a> {
    pub role: RegistrarRole,
    /// The registry addresses, resolved (environment, configuration, default).
    pub addrs: Vec<Addr>,
    /// The tree's transport: every registry address must use it.
    pub transport: crate::TransportKind,
    /// Where the root asked to listen, if anywhere.
    pub bind_addr: Option<Addr>,
    pub me: &'a Aid,
    /// What a registrar found must share.
    pub secret: &'a Secret,
    /// The tree's TLS, for a registry address beyond loopback.
    pub tls: Option<&'a crate::ipc::TreeTls>,
}

/// What a root decided at boot.
pub(crate) struct Election {
    /// Listen here (the registry address when becoming the registrar).
    pub bind: Option<Addr>,
    pub registry_addrs: Vec<Addr>,
    pub is_registrar: bool,
}

enum Probe {
    Absent,
    Registrar,
    /// A registrar that is shutting down (it answers "cancelled", or
    /// hangs up after the handshake): wait for its address to free up.
    Leaving,
    Occupied(String),
}

async fn probe(me: &Aid, secret: &Secret, tls: Option<&crate::ipc::TreeTls>, addr: &Addr) -> Probe {
    let attempt = async {
        let t = match crate::ipc::MsgTransport::connect(addr, crate::ipc::DEFAULT_MAX_FRAME, tls)
            .await
        {
            Ok(t) => t,
            Err(e @ crate::ipc::IpcError::Tls(_)) => {
                return Probe::Occupied(format!("it did not complete mutual TLS ({e})"));
            }
            Err(_) => return Probe::Absent,
        };
        let limits = crate::ipc::Limits::default().handshake_timeout(PROBE_TIMEOUT);
        let (chan, mut reader) = match Channel::handshake(t, me, secret, Role::Dialer, &limits)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                return Probe::Occupied(format!("it did not complete a tractor handshake ({e})"));
            }
        };
        // Ask for the registrar's hello on a throwaway channel.
        let start = Msg::Start(Box::new(Start {
            cid: chan.next_cid(),
            ns: REGISTRAR_MODULE.into(),
            func: "hello".into(),
            args: Vec::new(),
            kind: FuncType::AsyncFunc,
            sig: None,
            flow: FlowSpec::default(),
            trace: None,
        }));
        // A tractor actor (it proved our secret) that hangs up instead of
        // answering is one in its teardown, which closes every channel:
        // a registrar on its way out, like one that answers "cancelled".
        if chan.send(&start).await.is_err() {
            return Probe::Leaving;
        }
        let verdict = loop {
            match reader.recv().await {
                Ok(Some(Msg::Return { .. })) => break Probe::Registrar,
                Ok(Some(Msg::Error { error, .. })) => {
                    if error.boxed_type == boxed_types::CONTEXT_CANCELLED {
                        break Probe::Leaving;
                    }
                    break Probe::Occupied(format!(
                        "actor {} listens there but is not a registrar",
                        chan.peer()
                    ));
                }
                Ok(Some(_)) => continue,
                _ => break Probe::Leaving,
            }
        };
        chan.close_flushed(Duration::from_millis(100)).await;
        verdict
    };
    tokio::time::timeout(PROBE_TIMEOUT * 2, attempt)
        .await
        .unwrap_or_else(|_| Probe::Occupied("it did not answer in time".into()))
}

/// The rendezvous: probes each registry address in order.
pub(crate) async fn elect(b: Ballot<'_>) -> Result<Election, Error> {
    for a in &b.addrs {
        if a.transport() != b.transport {
            return Err(ConfigError::RegistryTransport {
                addr: a.clone(),
                tree: b.transport,
            }
            .into());
        }
    }
    let mut occupied = Vec::new();
    for a in &b.addrs {
        let mut verdict = probe(b.me, b.secret, b.tls, a).await;
        // A registrar on its way out: its address frees up shortly.
        for _ in 0..50 {
            if !matches!(verdict, Probe::Leaving) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            verdict = probe(b.me, b.secret, b.tls, a).await;
        }
        match verdict {
            Probe::Leaving => occupied.push((
                a.clone(),
                "a registrar there is still shutting down".to_string(),
            )),
            Probe::Registrar if b.role == RegistrarRole::Become => {
                return Err(RegistrarError::AlreadyRunning { addr: a.clone() }.into());
            }
            Probe::Registrar => {
                return Ok(Election {
                    bind: b.bind_addr,
                    registry_addrs: b.addrs,
                    is_registrar: false,
                });
            }
            Probe::Occupied(why) => occupied.push((a.clone(), why)),
            Probe::Absent => {}
        }
    }
    if !occupied.is_empty() {
        return Err(RegistrarError::Occupied { addrs: occupied }.into());
    }
    if b.role == RegistrarRole::Join {
        // Never become the registrar: there is none to join.
        return Err(Error::NoRegistrar { addrs: b.addrs });
    }
    let Some(first) = b.addrs.first().cloned() else {
        return Err(ConfigError::NoRegistryAddrs.into());
    };
    Ok(Election {
        bind: Some(first),
        registry_addrs: b.addrs,
        is_registrar: true,
    })
}

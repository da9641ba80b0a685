//! Child mode, the runtime's part: dial the parent, learn the actor's
//! configuration from its `SpawnSpec`, boot, and serve until cancelled.
//! The process setup around it and registration are composed in `app`.

use std::sync::Arc;
use std::time::Duration;

use super::actor::{ActorRuntime, RuntimeParams};
use super::conn::Conn;
use crate::ipc::{Addr, Aid, Channel, Limits, Msg, MsgTransport, Role, TransportKind};
use crate::spawn::{BootExit, ChildEnv, SpawnMethod};

/// How long a child waits for its `SpawnSpec` once connected.
const SPAWN_SPEC_TIMEOUT: Duration = Duration::from_secs(30);

/// How a child reaches its parent.
pub(crate) enum ParentLink {
    /// Dial the parent's listener (a child process).
    Dial,
    /// This end of an in-process transport (a thread actor).
    InProcess(Box<MsgTransport>),
    /// This end of a socket pair the parent made and handed over (a
    /// forked child).
    Handed(std::os::unix::net::UnixStream),
}

/// Reaches the parent and boots the actor `env` describes; on failure,
/// the exit status that tells the parent which boot stage failed.
pub(crate) async fn boot(
    env: &ChildEnv,
    exec_args: Vec<String>,
    link: ParentLink,
) -> Result<(Arc<ActorRuntime>, Arc<Conn>), i32> {
    let aid = Aid {
        name: env.name.clone(),
        uuid: env.uuid,
        pid: std::process::id(),
    };
    if let Some(theirs) = env.build {
        let ours = super::endpoint::EndpointTable::global().map(|t| t.identity());
        if ours.as_ref().ok() != Some(&theirs) {
            let exe = std::env::current_exe().unwrap_or_default();
            eprintln!(
                "tractor child {aid}: this program ({}) is another build than its parent's: its endpoints differ",
                exe.display()
            );
            return Err(BootExit::OtherBuild as i32);
        }
    }
    let limits = Limits::default();
    let connected = match link {
        ParentLink::Dial => {
            let tls = env.tls.as_deref();
            Channel::connect(&env.parent_addr, &aid, &env.secret, tls, &limits).await
        }
        ParentLink::InProcess(t) => {
            Channel::handshake(*t, &aid, &env.secret, Role::Dialer, &limits).await
        }
        ParentLink::Handed(s) => match MsgTransport::handed(s, limits.max_frame) {
            Ok(t) => Channel::handshake(t, &aid, &env.secret, Role::Dialer, &limits).await,
            Err(e) => Err(crate::ipc::IpcError::Connect {
                addr: env.parent_addr.clone(),
                source: e,
            }),
        },
    };
    let (chan, mut reader) = match connected {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tractor child {aid}: cannot reach parent: {e}");
            return Err(BootExit::NoParent.for_error(&e) as i32);
        }
    };
    // A parent that connected us but never sends the spec (its spawn was
    // given up) does not keep us waiting forever.
    let spec = match tokio::time::timeout(SPAWN_SPEC_TIMEOUT, reader.recv()).await {
        Ok(Ok(Some(Msg::SpawnSpec(s)))) => *s,
        Err(_) => {
            eprintln!(
                "tractor child {aid}: no SpawnSpec from the parent within {SPAWN_SPEC_TIMEOUT:?}"
            );
            return Err(BootExit::NoSpawnSpec as i32);
        }
        Ok(other) => {
            eprintln!("tractor child {aid}: expected a SpawnSpec from the parent, got {other:?}");
            return Err(BootExit::NoSpawnSpec as i32);
        }
    };
    let loglevel = super::log::init(spec.loglevel.as_deref());
    // Children of ours use the backend ours came from, unless they choose.
    let spawn_method = spec.spawn_method.parse().unwrap_or_else(|e| {
        tracing::warn!(target: "tractor::spawn", "{e}; this actor's children use `exec`");
        SpawnMethod::Exec
    });
    let bind_addr = reachable_bind(&env.parent_addr, spec.transport);
    let params = RuntimeParams {
        aid,
        is_root: false,
        transport: spec.transport,
        bind_addr,
        loglevel,
        registry_addrs: spec.registry_addrs,
        debug_mode: spec.debug_mode,
        limits: spec.limits,
        tree_id: env.tree_id.clone(),
        registry_here: false,
        exec_args,
        enable_modules: spec.enable_modules,
        cancel_timeout: Duration::from_millis(500),
        heartbeat: crate::ipc::Heartbeat::effective(
            spec.heartbeat_ms.map(crate::ipc::Heartbeat::from_millis),
        ),
        secret: env.secret.clone(),
        tls: env.tls.clone(),
        spawn_method,
    };
    let rt = match ActorRuntime::boot(params).await {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tractor child {}: boot failed: {e}", env.name);
            chan.close();
            return Err(BootExit::BootFailed.for_error(&e) as i32);
        }
    };
    let parent = rt.adopt(chan, reader);
    // Ours for good, and shared by portals to the parent's address.
    parent.share.hold();
    rt.note_addr(&env.parent_addr, &parent);
    let _ = rt.parent.set(parent.clone());
    Ok((rt, parent))
}

/// Where a child listens: where its parent reached it from, when that is
/// beyond loopback (a child on another host, or of a parent serving other
/// hosts), so that the address it registers is one its peers can reach;
/// else the default (loopback).
fn reachable_bind(parent: &Addr, transport: TransportKind) -> Option<Addr> {
    let Addr::Tcp(parent) = parent else {
        return None;
    };
    if transport != TransportKind::Tcp || crate::ipc::tls::on_this_host(parent.ip()) {
        return None;
    }
    // The address the kernel routes to the parent from (a UDP "connect"
    // sends nothing).
    let any: std::net::SocketAddr = if parent.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let probe = std::net::UdpSocket::bind(any).ok()?;
    probe.connect(parent).ok()?;
    let local = probe.local_addr().ok()?;
    Some(Addr::Tcp(std::net::SocketAddr::new(local.ip(), 0)))
}

/// What asks a child to cancel itself, besides its parent's cancel request.
pub(crate) enum CancelSource {
    /// SIGTERM (a child process).
    Sigterm,
    /// Its parent's supervisor (a thread actor's SIGTERM).
    Watch(tokio::sync::watch::Receiver<bool>),
}

/// Tells the parent the child is ready, serves until the actor is
/// cancelled, and tears it down; the process's exit status.
pub(crate) async fn serve(
    rt: Arc<ActorRuntime>,
    cancel: CancelSource,
    register: Option<Vec<Addr>>,
) -> i32 {
    // SIGTERM becomes a graceful self-cancel (so the teardown, and with it
    // the lifetime stack, runs). The handler is installed before `Ready`:
    // from then on the parent may send SIGTERM, and the default action
    // would kill us without cleaning up.
    use tokio::signal::unix::{SignalKind, signal};
    if let CancelSource::Watch(mut asked) = cancel {
        let rt2 = rt.clone();
        tokio::task::spawn_local(async move {
            if asked.wait_for(|a| *a).await.is_ok() {
                tracing::info!(target: "tractor::cancel", "asked to cancel by the parent's supervisor");
                rt2.request_cancel(None);
            }
        });
    } else {
        install_sigterm(&rt, signal(SignalKind::terminate()));
    }
    if let Some(parent) = rt.parent.get() {
        let _ = parent.chan.send(&Msg::Ready { register }).await;
    }
    rt.cancel.cancelled().await;
    rt.teardown().await;
    0
}

fn install_sigterm(rt: &Arc<ActorRuntime>, term: std::io::Result<tokio::signal::unix::Signal>) {
    match term {
        Ok(mut term) => {
            let rt2 = rt.clone();
            tokio::task::spawn_local(async move {
                if term.recv().await.is_some() {
                    tracing::info!(target: "tractor::cancel", "SIGTERM: cancelling self");
                    rt2.request_cancel(None);
                }
            });
        }
        Err(e) => {
            tracing::warn!(target: "tractor::cancel", "cannot handle SIGTERM ({e}); it will kill this actor without its exit cleanups");
        }
    }
}

//! Booting a root actor: the composition of the runtime with discovery
//! (the registrar election, the registrar's table, self-registration).
//! The runtime below knows none of this; it only serves what is booted.

use std::sync::Arc;

use crate::discovery::{self, Ballot, RegistrarRole};
use crate::ipc::{Aid, IpcError, Secret, TreeTls};
use crate::runtime::actor::{ActorRuntime, RuntimeParams};
use crate::runtime::current::{self, ThreadActorGuard};
use crate::runtime::error::Error;
use crate::runtime::interrupt::Interrupts;
use crate::spawn::SpawnMethod;

use super::config::RootConfig;

/// Boots the root actor, runs `body` inside it, then tears the runtime
/// down (every task cancelled, every child reaped) before returning.
///
/// A second root inside a running tree is an [`Error::NestedRoot`].
///
/// ```no_run
/// #[tractor::main]
/// async fn main() -> Result<(), tractor::Error> {
///     tractor::open_root_actor(tractor::RootConfig::new("app"), async || {
///         assert!(tractor::is_root_process());
///         Ok(())
///     })
///     .await
/// }
/// ```
pub async fn open_root_actor<F, T>(cfg: RootConfig, body: F) -> Result<T, Error>
where
    F: AsyncFnOnce() -> Result<T, Error>,
{
    if let Some(rt) = current::try_current() {
        return Err(Error::NestedRoot {
            actor: rt.aid().clone(),
        });
    }
    // Checked here, so that a typo in TRACTOR_SPAWN_METHOD fails at once
    // rather than at the first spawn.
    let test = super::entry::test_env();
    let spawn_method = SpawnMethod::effective(
        cfg.spawn_method
            .or(test.as_ref().and_then(|t| t.spawn_method))
            .unwrap_or_default(),
    )?;
    crate::spawn::thread::set_main(super::child::run_thread_actor);
    let loglevel = crate::runtime::log::init(cfg.loglevel.as_deref());
    let debug_mode = debug_mode_from_env()?.unwrap_or(cfg.debug_mode);
    let task_dumps = crate::devx::introspect::DumpSwitch::from_env()?;
    let aid = Aid::new(cfg.name.clone());
    let tree_id = test
        .as_ref()
        .map(|t| t.tree_id.clone())
        // A marker handed down by whoever launched this program (a test
        // harness) tags the whole tree; else the root's uuid does.
        .or_else(|| {
            std::env::var(crate::spawn::env::TREE)
                .ok()
                .filter(|t| !t.is_empty())
        })
        .unwrap_or_else(|| aid.uuid.to_string());
    let isolated = is_isolated(&cfg, test.is_some());
    let secret = tree_secret(&cfg, isolated)?;
    let tls = tree_tls(&cfg)?;
    let exec_args = test.map(|t| t.exec_args).unwrap_or_default();
    let params = |election: discovery::Election| {
        let mut enable_modules = cfg.enable_modules.clone();
        if election.is_registrar {
            enable_modules.push(discovery::REGISTRAR_MODULE.to_string());
        }
        RuntimeParams {
            tree_id: tree_id.clone(),
            exec_args: exec_args.clone(),
            aid: aid.clone(),
            is_root: true,
            registry_here: election.is_registrar,
            transport: cfg.transport,
            bind_addr: election.bind,
            loglevel: loglevel.clone(),
            registry_addrs: election.registry_addrs,
            debug_mode,
            limits: cfg.limits,
            enable_modules,
            cancel_timeout: cfg.cancel_timeout,
            // A process stopped in a REPL or under gdb is not dead: in
            // debug mode silence does not get an actor killed.
            heartbeat: crate::ipc::Heartbeat::effective(cfg.heartbeat).filter(|_| !debug_mode),
            secret: secret.clone(),
            tls: Some(tls.clone()),
            spawn_method,
        }
    };
    // The root's tasks run on the thread that awaits this, whatever
    // runtime drives it (see `runtime::home`).
    crate::runtime::home::at_home(async {
        // Listening from the start: a ctrl-c while the tree boots
        // still tears down what was spawned.
        let interrupts = Interrupts::listen();
        // Two roots may elect themselves at once: the loser of the
        // bind finds the winner answering on the next round.
        let mut attempt = 0;
        let (rt, is_registrar) = loop {
            let election = if isolated {
                // Tests run many roots in one process: each is its own
                // registrar on its own port (its listen address).
                discovery::Election {
                    bind: cfg.bind_addr.clone(),
                    registry_addrs: Vec::new(),
                    is_registrar: true,
                }
            } else {
                discovery::elect(ballot(&cfg, &aid, &secret, &tls)?).await?
            };
            let is_registrar = election.is_registrar;
            let contested = is_registrar && election.bind.is_some();
            match ActorRuntime::boot(params(election)).await {
                Err(Error::Ipc(IpcError::Bind { source, .. }))
                    if contested
                        && source.kind() == std::io::ErrorKind::AddrInUse
                        && attempt < 20 =>
                {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                }
                other => break (other?, is_registrar),
            }
        };
        // Before the actor first yields: no peer may find the
        // registrar's module without its table.
        if is_registrar {
            discovery::become_registrar(&rt);
        }
        task_dumps.install(&rt);
        crate::devx::debug::install(&rt);
        let _thread = ThreadActorGuard::set(rt.clone());
        if cfg.discoverable {
            // Without a parent it registers by a call: nothing comes back.
            let _none = current::scope(rt.clone(), discovery::register_self(&rt, None)).await;
        }
        let this = rt.clone();
        let body = async move || {
            let res = body().await;
            // The error has climbed the whole tree: its last post-mortem.
            if let Err(e) = &res
                && this.p.debug_mode
            {
                crate::devx::debug::root_failed(&this, e).await;
            }
            res
        };
        crate::runtime::root::serve_root(rt, interrupts, body).await
    })
    .await
}

/// The rendezvous a root asks for: its role, and the registry addresses
/// (`TRACTOR_REGISTRY_ADDR` wins over configuration, else the default).
fn ballot<'a>(
    cfg: &RootConfig,
    me: &'a Aid,
    secret: &'a Secret,
    tls: &'a TreeTls,
) -> Result<Ballot<'a>, Error> {
    let addrs = match discovery::registry_addrs_from_env()? {
        Some(env) => env,
        None if cfg.registry_addrs.is_empty() => {
            vec![discovery::default_registry_addr(cfg.transport)]
        }
        None => cfg.registry_addrs.clone(),
    };
    Ok(Ballot {
        role: cfg.registrar,
        addrs,
        transport: cfg.transport,
        bind_addr: cfg.bind_addr.clone(),
        me,
        secret,
        tls: Some(tls),
    })
}

/// Whether a root is a tree of its own, which no other program joins: a
/// `#[tractor::test]` root told of no registry is its own registrar on its
/// own port (tests run many roots in one process).
fn is_isolated(cfg: &RootConfig, in_test: bool) -> bool {
    cfg.registry_addrs.is_empty()
        && in_test
        && cfg.registrar == RegistrarRole::Elect
        && std::env::var_os(discovery::REGISTRY_ADDR_ENV).is_none()
}

/// The tree's secret: configured, else `TRACTOR_COOKIE`, else a fresh one
/// for an isolated test root, else the cookie file (see [`RootConfig::secret`]).
fn tree_secret(cfg: &RootConfig, isolated: bool) -> Result<Secret, Error> {
    if let Some(s) = &cfg.secret {
        return Ok(s.clone());
    }
    let secret = match Secret::from_env().map_err(IpcError::from)? {
        Some(s) => s,
        None if isolated => Secret::generate().map_err(IpcError::from)?,
        None => Secret::from_cookie_file(&Secret::cookie_path()).map_err(IpcError::from)?,
    };
    Ok(secret)
}

/// The tree's TLS: configured, else from `TRACTOR_TLS_*`, else a CA of
/// its own (see [`RootConfig::tls`]).
fn tree_tls(cfg: &RootConfig) -> Result<Arc<TreeTls>, Error> {
    if let Some(t) = &cfg.tls {
        return Ok(t.clone());
    }
    let tls = match TreeTls::from_env().map_err(IpcError::from)? {
        Some(t) => t,
        None => TreeTls::mint().map_err(IpcError::from)?,
    };
    let on_loopback = crate::spawn::env::switch(crate::ipc::tls::LOOPBACK_ENV)
        .map_err(|value| crate::runtime::error::ConfigError::TlsLoopbackEnv { value })?;
    Ok(Arc::new(match on_loopback {
        Some(on) => tls.on_loopback(on),
        None => tls,
    }))
}

/// Debug mode as `TRACTOR_DEBUG_MODE` sets it, if it is set (it wins over
/// [`RootConfig::debug_mode`]).
fn debug_mode_from_env() -> Result<Option<bool>, Error> {
    crate::spawn::env::switch(crate::spawn::env::DEBUG_MODE)
        .map_err(|value| crate::runtime::error::ConfigError::DebugModeEnv { value }.into())
}

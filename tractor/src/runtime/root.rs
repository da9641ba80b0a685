//! The root actor: the parent-most actor of a tree, booted explicitly with
//! [`open_root_actor`] or implicitly by the first [`open_nursery`](crate::open_nursery).

use std::time::Duration;

use super::actor::{ActorRuntime, RuntimeParams};
use super::current::{self, ThreadActorGuard};
use super::error::Error;
use super::interrupt::Interrupts;
use crate::ipc::{Addr, Aid, Heartbeat, Limits, Secret, TransportKind};

/// Default registrar address (the discovery issue builds on it).
pub const DEFAULT_REGISTRY_ADDR: &str = "127.0.0.1:1616";

/// How the root actor (and through it, the tree) is configured.
///
/// ```
/// use tractor::{RootConfig, TransportKind};
/// let cfg = RootConfig::new("app").transport(TransportKind::Uds).loglevel("info");
/// assert_eq!(cfg.name, "app");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RootConfig {
    /// The root's name.
    pub name: String,
    /// Registrar addresses.
    pub registry_addrs: Vec<Addr>,
    /// The one transport of the tree.
    pub transport: TransportKind,
    /// Where to listen (default: loopback port 0, or a fresh socket file).
    /// Only a configured address makes a TCP actor reachable from other
    /// hosts; see [`bind_addr`](Self::bind_addr).
    pub bind_addr: Option<Addr>,
    /// Log filter (`TRACTOR_LOGLEVEL` wins).
    pub loglevel: Option<String>,
    /// Debug mode for the whole tree.
    pub debug_mode: bool,
    /// Modules whose endpoints the root itself serves.
    pub enable_modules: Vec<String>,
    /// What one peer may cost each actor of the tree.
    pub limits: Limits,
    /// How long a cancel request waits for its ack.
    pub cancel_timeout: Duration,
    /// Spawn backend (`TRACTOR_SPAWN_METHOD` wins); only `exec` exists yet.
    pub spawn_method: String,
    /// Demand that this root become the registrar (an error if one
    /// already answers at the registry addresses).
    pub ensure_registry: bool,
    /// Only join a registrar that already answers at the registry
    /// addresses, never become one: [`Error::NoRegistrar`] if none does.
    pub join_existing_registry: bool,
    /// Whether the root registers itself with the registrar (default
    /// `true`). Its children register regardless.
    pub discoverable: bool,
    /// Channel liveness for the whole tree (`TRACTOR_HEARTBEAT` wins);
    /// `None` turns heartbeats off.
    pub heartbeat: Option<Heartbeat>,
    /// The secret every connection of the tree must prove it holds
    /// (`None`: the shared cookie, see [`secret`](Self::secret)).
    pub secret: Option<Secret>,
}

impl Default for RootConfig {
    fn default() -> Self {
        RootConfig::new("root")
    }
}

impl RootConfig {
    /// Defaults with a name.
    pub fn new(name: impl Into<String>) -> Self {
        RootConfig {
            name: name.into(),
            registry_addrs: Vec::new(),
            transport: TransportKind::Tcp,
            bind_addr: None,
            loglevel: None,
            debug_mode: false,
            enable_modules: Vec::new(),
            limits: Limits::default(),
            cancel_timeout: Duration::from_millis(500),
            spawn_method: "exec".into(),
            ensure_registry: false,
            join_existing_registry: false,
            discoverable: true,
            heartbeat: Some(Heartbeat::default()),
            secret: None,
        }
    }

    /// Sets the transport.
    pub fn transport(mut self, t: TransportKind) -> Self {
        self.transport = t;
        self
    }

    /// Sets the log filter.
    pub fn loglevel(mut self, l: impl Into<String>) -> Self {
        self.loglevel = Some(l.into());
        self
    }

    /// Adds modules the root serves.
    pub fn enable_modules<I: IntoIterator<Item = S>, S: Into<String>>(mut self, m: I) -> Self {
        self.enable_modules.extend(m.into_iter().map(Into::into));
        self
    }

    /// Sets the listen address. Without one a TCP actor listens on
    /// loopback (`127.0.0.1`, a free port) only, and its children always do.
    /// An address on another interface lets other hosts reach it: every
    /// connection still has to prove it holds the tree's secret, but the
    /// traffic is not encrypted; across hosts, use a tunnel or VPN.
    pub fn bind_addr(mut self, a: Addr) -> Self {
        self.bind_addr = Some(a);
        self
    }

    /// Sets the registrar addresses.
    pub fn registry_addrs<I: IntoIterator<Item = Addr>>(mut self, a: I) -> Self {
        self.registry_addrs = a.into_iter().collect();
        self
    }

    /// Sets the largest accepted frame (a shorthand for
    /// [`limits`](Self::limits)).
    pub fn max_frame(mut self, n: usize) -> Self {
        self.limits = self.limits.max_frame(n);
        self
    }

    /// Sets what one peer may cost each actor of the tree; inherited by
    /// every child.
    ///
    /// ```
    /// let cfg = tractor::RootConfig::new("app")
    ///     .limits(tractor::Limits::default().tasks_per_connection(100));
    /// assert_eq!(cfg.limits.tasks_per_connection, 100);
    /// ```
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets debug mode.
    pub fn debug_mode(mut self, on: bool) -> Self {
        self.debug_mode = on;
        self
    }

    /// Demands that this root become the registrar.
    pub fn ensure_registry(mut self, on: bool) -> Self {
        self.ensure_registry = on;
        self
    }

    /// Only joins a registrar that already answers at the registry
    /// addresses (`TRACTOR_REGISTRY_ADDR`, [`registry_addrs`](Self::registry_addrs)
    /// or the default); never becomes one. If none answers, opening the
    /// root fails with [`Error::NoRegistrar`]. For clients and tools that
    /// must not turn into the registrar of a tree that is not running.
    ///
    /// ```
    /// let cfg = tractor::RootConfig::new("client").join_existing_registry(true);
    /// assert!(cfg.join_existing_registry);
    /// ```
    pub fn join_existing_registry(mut self, on: bool) -> Self {
        self.join_existing_registry = on;
        self
    }

    /// Whether the root registers itself with the registrar (default
    /// `true`). A tool that only looks others up (`tractor ls`) turns it
    /// off so that it never shows up in [`list_actors`](crate::list_actors).
    pub fn discoverable(mut self, on: bool) -> Self {
        self.discoverable = on;
        self
    }

    /// Sets how every channel of the tree checks that its peer is alive
    /// (`None`: never; a stopped or wedged actor then hangs its peers).
    /// `TRACTOR_HEARTBEAT=<interval_ms>,<timeout_ms>` (or `off`) wins.
    ///
    /// ```
    /// use std::time::Duration;
    /// let hb = tractor::Heartbeat::new(Duration::from_millis(250), Duration::from_secs(3));
    /// let cfg = tractor::RootConfig::new("app").heartbeat(Some(hb));
    /// assert_eq!(cfg.heartbeat, Some(hb));
    /// ```
    pub fn heartbeat(mut self, hb: Option<Heartbeat>) -> Self {
        self.heartbeat = hb;
        self
    }

    /// Sets the secret that every connection to and from this tree must
    /// prove it holds (a challenge-response over HMAC-SHA256; the secret
    /// itself never crosses the wire). Children get it from their parent.
    ///
    /// Without one (the default), in this order:
    /// - `TRACTOR_COOKIE`, when set and not empty;
    /// - a `#[tractor::test]` root told of no registry (a tree no other
    ///   program joins) makes a fresh random secret of its own;
    /// - else the user's cookie file ([`Secret::cookie_path`], mode 0600,
    ///   created on first use), so that separate programs of one user
    ///   (a daemon and its clients, the `tractor` CLI) meet with no
    ///   configuration while other users cannot connect.
    ///
    /// [`Secret::generate`] makes a tree that no other program can reach.
    ///
    /// ```
    /// let cfg = tractor::RootConfig::new("private")
    ///     .secret(tractor::Secret::generate().unwrap());
    /// assert!(cfg.secret.is_some());
    /// ```
    pub fn secret(mut self, s: Secret) -> Self {
        self.secret = Some(s);
        self
    }

    /// Sets the spawn method.
    pub fn spawn_method(mut self, m: impl Into<String>) -> Self {
        self.spawn_method = m.into();
        self
    }
}

/// Boots the root actor, runs `body` inside it, then tears the runtime
/// down (every task cancelled, every child reaped) before returning.
///
/// A second root inside a running tree is a [`Error::RuntimeFailure`].
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
        return Err(Error::RuntimeFailure(format!(
            "a root actor cannot be opened inside actor {} of a running tree; open_root_actor belongs in the parent-most process only (use open_nursery to spawn children)",
            rt.aid()
        )));
    }
    let method = std::env::var(crate::spawn::env::SPAWN_METHOD).unwrap_or(cfg.spawn_method.clone());
    if method != "exec" {
        return Err(crate::spawn::SpawnError::UnknownMethod(method).into());
    }
    let loglevel = crate::devx::log::init(cfg.loglevel.as_deref());
    let test = crate::app::test_env();
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
    let in_test = test.is_some();
    let secret = tree_secret(&cfg, in_test)?;
    let exec_args = test.map(|t| t.exec_args).unwrap_or_default();
    let params = |election: crate::discovery::Election| RuntimeParams {
        tree_id: tree_id.clone(),
        exec_args: exec_args.clone(),
        aid: aid.clone(),
        is_root: true,
        is_registrar: election.is_registrar,
        transport: cfg.transport,
        bind_addr: election.bind,
        loglevel: loglevel.clone(),
        registry_addrs: election.registry_addrs,
        debug_mode: cfg.debug_mode,
        limits: cfg.limits,
        enable_modules: cfg.enable_modules.clone(),
        cancel_timeout: cfg.cancel_timeout,
        heartbeat: crate::ipc::Heartbeat::effective(cfg.heartbeat),
        secret: secret.clone(),
    };
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            // Listening from the start: a ctrl-c while the tree boots
            // still tears down what was spawned.
            let mut interrupts = Interrupts::listen();
            // Two roots may elect themselves at once: the loser of the
            // bind finds the winner answering on the next round.
            let mut attempt = 0;
            let rt = loop {
                let election = crate::discovery::elect(&cfg, &aid, &secret, in_test).await?;
                let becomes_registrar = election.is_registrar && election.bind.is_some();
                match ActorRuntime::boot(params(election)).await {
                    Err(Error::Ipc(crate::ipc::IpcError::Bind { source, .. }))
                        if becomes_registrar
                            && source.kind() == std::io::ErrorKind::AddrInUse
                            && attempt < 20 =>
                    {
                        attempt += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                    }
                    other => break other?,
                }
            };
            let _thread = ThreadActorGuard::set(rt.clone());
            if cfg.discoverable {
                current::scope(rt.clone(), crate::discovery::register_self(&rt, None)).await;
            }
            // A cancel request to the root (a peer's `cancel_actor`, the
            // `tractor cancel` CLI) cancels its body too: the tree goes down
            // instead of leaving a root that refuses all work.
            let mut interrupted = None;
            let mut res = tokio::select! {
                // Body first: a body that itself waits for the cancel (a
                // daemon) ends normally.
                biased;
                r = current::scope(rt.clone(), body()) => r,
                _ = rt.cancel.cancelled() => Err(Error::Cancelled(match rt.canceller() {
                    Some(by) => format!("root actor {} was cancelled by {by}", rt.aid()),
                    None => format!("root actor {} was cancelled", rt.aid()),
                })),
                signal = interrupts.next() => {
                    tracing::info!(target: "tractor::cancel", "{signal}: cancelling the tree (again to kill it)");
                    interrupted = Some(signal);
                    Err(Error::Interrupted { signal, hard_killed: false })
                }
            };
            // The body is gone (its nurseries are tearing their children
            // down); a signal during the graceful teardown kills the tree.
            tokio::select! {
                () = rt.teardown() => {}
                signal = interrupts.next() => {
                    tracing::warn!(target: "tractor::cancel", "{signal} during teardown: killing the tree");
                    rt.hard_teardown().await;
                    if let Some(first) = interrupted {
                        res = Err(Error::Interrupted { signal: first, hard_killed: true });
                    }
                }
            }
            if let Some(signal) = interrupted {
                super::interrupt::note_interrupted(signal);
            }
            res
        })
        .await
}

/// The tree's secret: configured, else `TRACTOR_COOKIE`, else a fresh one
/// for an isolated test root, else the cookie file (see [`RootConfig::secret`]).
fn tree_secret(cfg: &RootConfig, in_test: bool) -> Result<Secret, Error> {
    if let Some(s) = &cfg.secret {
        return Ok(s.clone());
    }
    let secret = match Secret::from_env().map_err(crate::ipc::IpcError::from)? {
        Some(s) => s,
        None if crate::discovery::is_isolated(cfg, in_test) => {
            Secret::generate().map_err(crate::ipc::IpcError::from)?
        }
        None => {
            Secret::from_cookie_file(&Secret::cookie_path()).map_err(crate::ipc::IpcError::from)?
        }
    };
    Ok(secret)
}

//! [`RootConfig`]: how a tree's root is configured. A builder: every
//! setting has a method, and the fields stay private so that new settings
//! never break a user's code.

use std::time::Duration;

use crate::discovery::RegistrarRole;
use crate::ipc::{Addr, Heartbeat, Limits, Secret, TransportKind};
use crate::spawn::SpawnMethod;

/// How the root actor (and through it, the tree) is configured.
///
/// ```
/// use tractor::{RootConfig, TransportKind};
/// let cfg = RootConfig::new("app").transport(TransportKind::Uds).loglevel("info");
/// assert_eq!(cfg.name(), "app");
/// ```
#[derive(Clone, Debug)]
pub struct RootConfig {
    /// The root's name.
    pub(crate) name: String,
    /// Registrar addresses.
    pub(crate) registry_addrs: Vec<Addr>,
    /// The one transport of the tree.
    pub(crate) transport: TransportKind,
    /// Where to listen (default: loopback port 0, or a fresh socket file).
    /// Only a configured address makes a TCP actor reachable from other
    /// hosts; see [`bind_addr`](Self::bind_addr).
    pub(crate) bind_addr: Option<Addr>,
    /// Log filter (`TRACTOR_LOGLEVEL` wins).
    pub(crate) loglevel: Option<String>,
    /// Debug mode for the whole tree.
    pub(crate) debug_mode: bool,
    /// Modules whose endpoints the root itself serves.
    pub(crate) enable_modules: Vec<String>,
    /// What one peer may cost each actor of the tree.
    pub(crate) limits: Limits,
    /// How long a cancel request waits for its ack.
    pub(crate) cancel_timeout: Duration,
    /// Spawn backend, when chosen here (`TRACTOR_SPAWN_METHOD` wins).
    pub(crate) spawn_method: Option<SpawnMethod>,
    /// Join the registrar, become it, or either.
    pub(crate) registrar: RegistrarRole,
    /// Whether the root registers itself with the registrar (default
    /// `true`). Its children register regardless.
    pub(crate) discoverable: bool,
    /// Channel liveness for the whole tree (`TRACTOR_HEARTBEAT` wins);
    /// `None` turns heartbeats off.
    pub(crate) heartbeat: Option<Heartbeat>,
    /// The secret every connection of the tree must prove it holds
    /// (`None`: the shared cookie, see [`secret`](Self::secret)).
    pub(crate) secret: Option<Secret>,
    /// The tree's TLS (`None`: from the environment, else a fresh CA of
    /// the tree's own; see [`tls`](Self::tls)).
    pub(crate) tls: Option<std::sync::Arc<crate::ipc::TreeTls>>,
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
            spawn_method: None,
            registrar: RegistrarRole::Elect,
            discoverable: true,
            heartbeat: Some(Heartbeat::default()),
            secret: None,
            tls: None,
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
    ///
    /// ```
    /// // Let other actors call the root's own endpoints (those of this module).
    /// let cfg = tractor::RootConfig::new("app").enable_modules([module_path!()]);
    /// # let _ = cfg;
    /// ```
    pub fn enable_modules<I: IntoIterator<Item = S>, S: Into<String>>(mut self, m: I) -> Self {
        self.enable_modules.extend(m.into_iter().map(Into::into));
        self
    }

    /// Sets the listen address. Without one a TCP actor listens on
    /// loopback (`127.0.0.1`, a free port) only, and its children always do.
    /// An address on another interface lets other hosts reach it: every
    /// link with an address beyond loopback is in mutual TLS, so a peer
    /// must show a certificate of the tree's CA before anything it sends
    /// is read (see [`tls`](Self::tls)), and the traffic is encrypted.
    ///
    /// ```
    /// // A fixed port, so that clients know where to find this root.
    /// let addr: tractor::Addr = "tcp://127.0.0.1:7000".parse().unwrap();
    /// let cfg = tractor::RootConfig::new("service").bind_addr(addr);
    /// # let _ = cfg;
    /// ```
    pub fn bind_addr(mut self, a: Addr) -> Self {
        self.bind_addr = Some(a);
        self
    }

    /// Sets the registrar addresses (`TRACTOR_REGISTRY_ADDR` wins).
    ///
    /// ```
    /// // Two trees on one host that must not see each other: separate registrars.
    /// let addr: tractor::Addr = "127.0.0.1:1717".parse().unwrap();
    /// let cfg = tractor::RootConfig::new("staging").registry_addrs([addr]);
    /// # let _ = cfg;
    /// ```
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
    /// # let _ = cfg;
    /// ```
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets how long a cancel request to a child waits for its
    /// acknowledgement before the child is killed (default 500 ms).
    ///
    /// ```
    /// use std::time::Duration;
    /// let cfg = tractor::RootConfig::new("app").cancel_timeout(Duration::from_secs(2));
    /// # let _ = cfg;
    /// ```
    pub fn cancel_timeout(mut self, d: Duration) -> Self {
        self.cancel_timeout = d;
        self
    }

    /// Sets debug mode for the whole tree: every child inherits it (a
    /// child can also be given it alone, with
    /// [`StartActor::debug_mode`](crate::StartActor::debug_mode), and its
    /// own children inherit it from there). `TRACTOR_DEBUG_MODE=1` (or `0`)
    /// wins, so a tree can be debugged without recompiling.
    pub fn debug_mode(mut self, on: bool) -> Self {
        self.debug_mode = on;
        self
    }

    /// Sets what this root does about the registrar at its registry
    /// addresses (`TRACTOR_REGISTRY_ADDR`, [`registry_addrs`](Self::registry_addrs)
    /// or the default): join it or become it ([`RegistrarRole::Elect`],
    /// the default), insist on becoming it ([`RegistrarRole::Become`],
    /// tractor's `ensure_registry`), or only join one that answers
    /// ([`RegistrarRole::Join`]: opening the root fails with
    /// [`Error::NoRegistrar`](crate::Error::NoRegistrar) if none does; for clients and tools that
    /// must not turn into the registrar of a tree that is not running).
    ///
    /// ```
    /// use tractor::{RegistrarRole, RootConfig};
    /// let cfg = RootConfig::new("client").registrar(RegistrarRole::Join);
    /// assert_eq!(cfg.registrar_role(), RegistrarRole::Join);
    /// ```
    pub fn registrar(mut self, role: RegistrarRole) -> Self {
        self.registrar = role;
        self
    }

    /// The registrar role set by [`registrar`](Self::registrar).
    ///
    /// ```
    /// let cfg = tractor::RootConfig::new("app");
    /// assert_eq!(cfg.registrar_role(), tractor::RegistrarRole::Elect);
    /// ```
    pub fn registrar_role(&self) -> RegistrarRole {
        self.registrar
    }

    /// Whether the root registers itself with the registrar (default
    /// `true`). A tool that only looks others up (`tractor ls`) turns it
    /// off so that it never shows up in [`list_actors`](crate::list_actors).
    ///
    /// ```
    /// use tractor::{RegistrarRole, RootConfig};
    /// // A monitoring tool: joins a running tree, and stays out of its listings.
    /// let cfg = RootConfig::new("monitor").registrar(RegistrarRole::Join).discoverable(false);
    /// # let _ = cfg;
    /// ```
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
    /// # let _ = cfg;
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
    /// # let _ = cfg;
    /// ```
    pub fn secret(mut self, s: Secret) -> Self {
        self.secret = Some(s);
        self
    }

    /// Sets the TLS the tree's links beyond loopback use (mutual TLS: both
    /// ends show a certificate of one CA). Children get it from their
    /// parent.
    ///
    /// Without one (the default), in this order:
    /// - `TRACTOR_TLS_CA`, `TRACTOR_TLS_CERT` and `TRACTOR_TLS_KEY` (PEM
    ///   files: a CA to trust, this program's certificate and its key),
    ///   so that separate programs on several hosts meet;
    /// - else a CA of the tree's own, minted at boot
    ///   ([`TreeTls::mint`](crate::TreeTls::mint)): the tree is secure across
    ///   hosts with nothing to configure, and reaches no other program.
    ///
    /// `TRACTOR_TLS_LOOPBACK=1` puts loopback links in TLS too.
    ///
    /// ```
    /// let tls = tractor::TreeTls::mint().unwrap().on_loopback(true);
    /// let cfg = tractor::RootConfig::new("sealed").tls(tls);
    /// # let _ = cfg;
    /// ```
    pub fn tls(mut self, tls: crate::ipc::TreeTls) -> Self {
        self.tls = Some(std::sync::Arc::new(tls));
        self
    }

    /// Sets the tree's spawn backend (default `exec`): the root's children
    /// use it, and their children too unless they choose.
    /// `TRACTOR_SPAWN_METHOD` wins.
    ///
    /// ```
    /// let cfg = tractor::RootConfig::new("app").spawn_method(tractor::SpawnMethod::Forkserver);
    /// # let _ = cfg;
    /// ```
    pub fn spawn_method(mut self, m: SpawnMethod) -> Self {
        self.spawn_method = Some(m);
        self
    }

    /// The root's name.
    ///
    /// ```
    /// assert_eq!(tractor::RootConfig::new("app").name(), "app");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }
}

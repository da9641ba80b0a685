//! The typed details some [`Error`](super::Error) variants carry, to match on.

use super::Aid;

/// How a context or its stream was used against its protocol:
/// [`Error::ContextMisuse`](super::Error::ContextMisuse).
///
/// ```
/// use tractor::{Error, error::Misuse};
/// // A bug in the calling code, not a failure of the peer: worth a clear message.
/// fn is_second_stream(e: &Error) -> bool {
///     matches!(e, Error::ContextMisuse { misuse: Misuse::SecondStream, .. })
/// }
/// let e = Error::ContextMisuse { context: "my::ctx".into(), misuse: Misuse::SecondStream };
/// assert!(is_second_stream(&e));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// `started()` a second time.
    #[error("started() was already called")]
    StartedTwice,
    /// The callee opened its stream before `started()`.
    #[error("open_stream() before started(); call started() first")]
    StreamBeforeStarted,
    /// A second stream on one context.
    #[error("the stream was already opened; a context has one stream")]
    SecondStream,
    /// A stream opened once the context was cancelled.
    #[error("open_stream() after the context was cancelled")]
    StreamAfterCancel,
    /// The remote task returned: its stream is closed.
    #[error("the remote task returned; its stream is closed")]
    RemoteReturned,
    /// This side closed the stream; it cannot be re-opened.
    #[error("this stream was closed; a context's stream cannot be re-opened")]
    StreamClosed,
    /// The stream's flow window closed (the dialog ended under it).
    #[error("the stream's window was closed")]
    WindowClosed,
    /// The context endpoint returned without calling `started()`.
    #[error("the context endpoint returned without calling started()")]
    NoStarted,
    /// A context with the calling actor itself.
    #[error(
        "cannot open a context with this actor itself ({actor}); contexts link tasks of two actors"
    )]
    WithItself {
        /// The actor.
        actor: Aid,
    },
}

/// A configuration that cannot work: [`Error::Config`](super::Error::Config).
///
/// ```no_run
/// use tractor::{Error, error::ConfigError};
/// # async fn demo() -> Result<(), Error> {
/// // An actor booted without registry addresses has no registrar to ask.
/// match tractor::list_actors().await {
///     Ok(actors) => println!("{} actors", actors.len()),
///     Err(Error::Config(ConfigError::NoRegistryAddrs)) => println!("discovery is off"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The listen address does not use the tree's transport.
    #[error(
        "bind address {addr} does not use the tree's transport `{tree}`; set RootConfig::transport to match or pick a `{tree}` address"
    )]
    BindTransport {
        /// The configured listen address.
        addr: crate::Addr,
        /// The tree's transport.
        tree: crate::TransportKind,
    },
    /// A registry address does not use the tree's transport.
    #[error(
        "registry address {addr} does not use this tree's transport `{tree}`; set RootConfig::transport to match or use a `{tree}` registry address"
    )]
    RegistryTransport {
        /// The registry address.
        addr: crate::Addr,
        /// The tree's transport.
        tree: crate::TransportKind,
    },
    /// `TRACTOR_REGISTRY_ADDR` holds something that is not an address.
    #[error(
        "TRACTOR_REGISTRY_ADDR: `{value}` is not an address ({reason}); use host:port, tcp://host:port or uds:///path, comma-separated"
    )]
    RegistryEnv {
        /// The entry that did not parse.
        value: String,
        /// Why.
        reason: String,
    },
    /// `TRACTOR_DEBUG_MODE` holds something that is not a switch.
    #[error("TRACTOR_DEBUG_MODE: `{value}` is not a switch; use 1, true or on (or 0, false, off)")]
    DebugModeEnv {
        /// What it holds.
        value: String,
    },
    /// `TRACTOR_TLS_LOOPBACK` holds something that is not a switch.
    #[error(
        "TRACTOR_TLS_LOOPBACK: `{value}` is not a switch; use 1, true or on (or 0, false, off)"
    )]
    TlsLoopbackEnv {
        /// What it holds.
        value: String,
    },
    /// `TRACTOR_ENABLE_STACKSCOPE` holds something that is not a switch.
    #[error(
        "TRACTOR_ENABLE_STACKSCOPE: `{value}` is not a switch; use 1, true or on (or 0, false, off)"
    )]
    StackscopeEnv {
        /// What it holds.
        value: String,
    },
    /// This actor knows no registry address to reach a registrar at.
    #[error(
        "this actor knows no registrar (no registry addresses); set RootConfig::registry_addrs or TRACTOR_REGISTRY_ADDR"
    )]
    NoRegistryAddrs,
    /// An actor cluster of no actors.
    #[error(
        "an actor cluster needs at least one actor; give a count of 1 or more (the default is one per core)"
    )]
    EmptyCluster,
    /// An actor cluster's names do not match its count.
    #[error(
        "an actor cluster of {count} actors was given {names} names; give one name per actor, or none (worker_0, worker_1, ...)"
    )]
    ClusterNames {
        /// The actors asked for.
        count: usize,
        /// The names given.
        names: usize,
    },
    /// A name given twice to one actor cluster.
    #[error(
        "the name `{name}` is given twice to one actor cluster; a cluster maps each name to one actor"
    )]
    ClusterNameTwice {
        /// The repeated name.
        name: String,
    },
}

/// The registrar could not be joined or become: [`Error::Registrar`](super::Error::Registrar).
///
/// ```no_run
/// use tractor::{Error, RegistrarRole, RootConfig, error::RegistrarError};
/// # async fn demo() -> Result<(), Error> {
/// let cfg = RootConfig::new("registrar").registrar(RegistrarRole::Become);
/// match tractor::open_root_actor(cfg, async || Ok(())).await {
///     // Another tree's registrar already serves there: leave it alone.
///     Err(Error::Registrar(RegistrarError::AlreadyRunning { addr })) => println!("one runs at {addr}"),
///     other => other?,
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrarError {
    /// [`RegistrarRole::Become`](crate::RegistrarRole::Become), but a
    /// registrar already answers there.
    #[error(
        "a registrar already answers at {addr}, but this root was told to become it (RegistrarRole::Become, tractor's ensure_registry); use RegistrarRole::Elect to join it"
    )]
    AlreadyRunning {
        /// Where it answers.
        addr: crate::Addr,
    },
    /// Something other than a tractor registrar holds the registry
    /// addresses (another program, an actor that is not the registrar,
    /// a registrar that did not finish leaving).
    #[error(
        "registry address(es) are occupied but did not answer as tractor registrars ({}); pick free registry addresses",
        .addrs.iter().map(|(a, why)| format!("{a}: {why}")).collect::<Vec<_>>().join("; ")
    )]
    Occupied {
        /// Each occupied address, and what was found there.
        addrs: Vec<(crate::Addr, String)>,
    },
    /// A registrar endpoint was called on an actor that is not one.
    #[error("actor {actor} is not a registrar; ask the one at the registry addresses")]
    NotARegistrar {
        /// The actor that was called.
        actor: Aid,
    },
}

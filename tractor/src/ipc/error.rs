//! Errors of the IPC layer.

use super::addr::Addr;
use super::frame::FrameError;

/// What went wrong moving messages between two actors: [`Error::Ipc`](crate::Error::Ipc).
///
/// ```no_run
/// use tractor::{Error, error::IpcError};
/// # async fn demo(addr: tractor::Addr) -> Result<(), Error> {
/// match tractor::connect_portal(&addr).await {
///     Ok(portal) => println!("connected to {}", portal.aid()),
///     // Nobody listens there (yet): not worth a crash.
///     Err(Error::Ipc(IpcError::Connect { addr, .. })) => println!("nothing at {addr}"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    /// Could not connect to a peer.
    #[error("could not connect to {addr}: {source}; is an actor listening there?")]
    Connect {
        /// The address dialed.
        addr: Addr,
        /// OS error.
        source: std::io::Error,
    },
    /// Could not bind a listener.
    #[error("could not bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: Addr,
        /// OS error.
        source: std::io::Error,
    },
    /// A frame could not be read or written.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A frame's body is not a protocol message.
    #[error(
        "received a {len}-byte frame that is not a tractor message ({reason}); the connection is dropped"
    )]
    Decode {
        /// Body length.
        len: usize,
        /// Decoder error.
        reason: String,
    },
    /// A message could not be encoded.
    #[error("could not encode a message: {0}")]
    Encode(String),
    /// Mutual TLS could not be set up or the peer failed it.
    #[error(transparent)]
    Tls(#[from] super::tls::TlsError),
    /// The peer did not complete the handshake.
    #[error("handshake failed: {0}")]
    Handshake(String),
    /// The peer did not prove that it holds our secret, or refused our
    /// proof: it belongs to another tree or program, or is not tractor.
    #[error(
        "authentication with {peer} failed: {reason}; actors that must talk share one secret: give both programs the same cookie ({cookie_env}, or the same cookie file, see Secret::cookie_path) or the same RootConfig::secret",
        cookie_env = super::auth::COOKIE_ENV
    )]
    AuthFailed {
        /// Who was on the other end.
        peer: String,
        /// What went wrong.
        reason: String,
    },
    /// A unix-socket peer runs as another user (`SO_PEERCRED`).
    #[error(
        "refused a unix-socket peer running as uid {uid} (pid {pid}): only processes of this user (uid {ours}) may connect; run both programs as the same user"
    )]
    ForeignUser {
        /// The peer's uid.
        uid: u32,
        /// The peer's pid (0 when unknown).
        pid: i32,
        /// Our uid.
        ours: u32,
    },
    /// No secret could be had (a cookie file that is unreadable, insecure
    /// or someone else's; no randomness).
    #[error(transparent)]
    Secret(#[from] super::auth::SecretError),
    /// The channel is closed (the peer vanished or we closed it).
    #[error("the channel to {peer} is closed")]
    Closed {
        /// Who was on the other end.
        peer: String,
    },
}

impl IpcError {
    /// Whether this is the peer vanishing (reset, broken pipe) rather
    /// than a protocol violation.
    ///
    /// ```
    /// use tractor::error::IpcError;
    /// assert!(IpcError::Closed { peer: "worker".into() }.is_disconnect());
    /// assert!(!IpcError::Handshake("bad version".into()).is_disconnect());
    /// ```
    pub fn is_disconnect(&self) -> bool {
        use std::io::ErrorKind::*;
        match self {
            IpcError::Frame(FrameError::Io(e)) => {
                matches!(
                    e.kind(),
                    ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
                )
            }
            IpcError::Closed { .. } => true,
            _ => false,
        }
    }
}

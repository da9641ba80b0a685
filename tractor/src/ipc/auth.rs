//! Who may connect: the shared [`Secret`] and the mutual challenge-response
//! that every connection passes before anything else is read from it.
//!
//! The Erlang cookie model. Both ends of a connection hold one secret; at
//! the handshake each sends a fresh random nonce, then each proves it
//! knows the secret with an HMAC-SHA256 over both nonces and its *role*
//! (dialer or acceptor). The role label means a proof cannot be reflected
//! back at its sender; the fresh nonces mean an old proof cannot be
//! replayed. Proofs are compared in constant time. The acceptor speaks
//! second: it checks the dialer's proof before it sends its own proof or
//! its identity, so a peer without the secret learns nothing but a nonce.
//!
//! ```text
//! dialer                                 acceptor
//!   Challenge(nonce_d)        ──►  ◄──   Challenge(nonce_a)
//!   Proof(mac_d), Aid(dialer) ──►        verifies mac_d, else closes
//!   verifies mac_a            ◄──        Proof(mac_a), Aid(acceptor)
//! ```
//!
//! One round trip more than the bare identity exchange. On unix sockets,
//! a peer that runs as another user is refused before the challenge
//! ([`check_peer_uid`]).
//!
//! Where a secret comes from (a root's configuration, `TRACTOR_COOKIE`,
//! the cookie file) is decided by the runtime; this module only loads and
//! uses one (see [`Secret`]).

// `tractor::wire` (the `wire` feature) exposes parts of this module
// to tests that speak the protocol by hand; without it they are internal.
#![cfg_attr(not(feature = "wire"), allow(unreachable_pub, dead_code))]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::channel::Role;
use super::error::IpcError;
use super::msg::{Aid, Msg};
use super::transport::{MsgTransport, PeerCred};

/// The environment variable that gives a program the shared secret (it
/// wins over the cookie file; an explicit [`RootConfig::secret`] wins over it).
///
/// [`RootConfig::secret`]: crate::RootConfig::secret
pub(crate) const COOKIE_ENV: &str = "TRACTOR_COOKIE";

/// The cookie file's name, in the user's runtime directory
/// ([`uds_bindspace`](super::uds::uds_bindspace)).
pub(crate) const COOKIE_FILE: &str = "tractor.cookie";

/// Bytes of a generated secret and of each nonce.
const SECRET_LEN: usize = 32;
/// Longest secret accepted (from a cookie file, the environment or a parent).
pub(crate) const MAX_SECRET_LEN: usize = 1024;
/// Domain separation for the proofs (and their version).
const PROOF_CONTEXT: &[u8] = b"tractor-auth-v1\0";
/// Largest frame read while authenticating: the auth messages and the
/// identity are a few dozen bytes.
const MAX_AUTH_FRAME: usize = 64 * 1024;

/// The secret shared by every actor that may talk to another: a tree's,
/// or the cookie that lets separate programs of one user meet.
///
/// Cheap to clone; its `Debug` never shows the bytes, and they are zeroed
/// when the last clone drops.
///
/// ```
/// let s = tractor::Secret::from_bytes(b"correct horse".to_vec()).unwrap();
/// assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
/// assert!(tractor::Secret::from_bytes(Vec::new()).is_err());
/// ```
#[derive(Clone)]
pub struct Secret {
    key: Arc<Key>,
}

/// The bytes, zeroed on drop.
struct Key(Box<[u8]>);

impl Drop for Key {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // SAFETY: `b` is a valid, aligned, exclusive reference.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl PartialEq for Secret {
    /// Constant-time for secrets of equal length.
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.key.0.ct_eq(&other.key.0).into()
    }
}

impl Eq for Secret {}

/// Why a secret could not be had.
///
/// ```
/// use tractor::{Secret, error::SecretError};
/// // An empty secret would let anyone in: refused.
/// assert!(matches!(Secret::from_bytes(Vec::new()), Err(SecretError::Empty { .. })));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The cookie file (or its directory) could not be read or created.
    #[error(
        "cannot read or create the cookie file {path}: {source}; check that its directory is writable by you, or set {COOKIE_ENV}"
    )]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The cookie file is readable or writable by others.
    #[error(
        "the cookie file {path} has mode {mode:o}, so other users may read it; run `chmod 600 {path}` (and give every program of yours the same cookie again if someone else may have read it)"
    )]
    Insecure {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The cookie file (or its directory) belongs to another user.
    #[error(
        "{path} belongs to uid {owner}, not to this user (uid {ours}); someone else may have planted it: remove it, or point XDG_RUNTIME_DIR at a directory of your own"
    )]
    ForeignOwner {
        /// The file or directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// Our uid.
        ours: u32,
    },
    /// The cookie file is not a regular file.
    #[error("{path} is not a regular file; remove it so that a cookie file can be created there")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// A secret of no bytes.
    #[error("the secret from {origin} is empty; give every program the same non-empty cookie")]
    Empty {
        /// Where it came from.
        origin: String,
    },
    /// A secret longer than the accepted maximum (1024 bytes).
    #[error(
        "the secret from {origin} is {len} bytes, more than the {MAX_SECRET_LEN} accepted; use a shorter cookie"
    )]
    TooLong {
        /// Where it came from.
        origin: String,
        /// Its length.
        len: usize,
    },
    /// The OS random source failed.
    #[error("the OS random number generator failed ({0}); cannot make a secret or a nonce")]
    Random(String),
}

impl Secret {
    /// A fresh random secret (32 bytes from the OS): a tree of its own
    /// that no other program can join.
    pub fn generate() -> Result<Secret, SecretError> {
        let mut b = vec![0u8; SECRET_LEN];
        fill_random(&mut b)?;
        Ok(Secret::wrap(b))
    }

    /// A secret with these bytes (1 to 1024 of them).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Secret, SecretError> {
        Self::checked(bytes, "the given bytes")
    }

    fn checked(bytes: Vec<u8>, origin: &str) -> Result<Secret, SecretError> {
        if bytes.is_empty() {
            return Err(SecretError::Empty {
                origin: origin.into(),
            });
        }
        if bytes.len() > MAX_SECRET_LEN {
            return Err(SecretError::TooLong {
                origin: origin.into(),
                len: bytes.len(),
            });
        }
        Ok(Secret::wrap(bytes))
    }

    fn wrap(bytes: Vec<u8>) -> Secret {
        Secret {
            key: Arc::new(Key(bytes.into_boxed_slice())),
        }
    }

    /// The secret that separate programs of this user share:
    /// `TRACTOR_COOKIE` if set (and non-empty), else the cookie file
    /// ([`Secret::cookie_path`]), created on first use.
    pub fn shared() -> Result<Secret, SecretError> {
        match Self::from_env()? {
            Some(s) => Ok(s),
            None => Self::from_cookie_file(&Self::cookie_path()),
        }
    }

    /// `TRACTOR_COOKIE`, when it is set and not empty.
    pub fn from_env() -> Result<Option<Secret>, SecretError> {
        match std::env::var_os(COOKIE_ENV) {
            Some(v) if !v.is_empty() => {
                use std::os::unix::ffi::OsStringExt;
                let mut bytes = v.into_vec();
                trim_ascii(&mut bytes);
                Self::checked(bytes, COOKIE_ENV).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Where the shared cookie file lives: `tractor.cookie` in the user's
    /// runtime directory (`$XDG_RUNTIME_DIR/tractor/`, else
    /// `<tmp>/tractor-<uid>/`, the directory unix sockets live in).
    pub fn cookie_path() -> PathBuf {
        super::uds::uds_bindspace().join(COOKIE_FILE)
    }

    /// Reads the cookie file at `path`, creating it (mode 0600, 32 random
    /// bytes in hex) if it does not exist. Its directory is created owner
    /// only. A file with wider permissions, or of another owner, is
    /// refused.
    pub fn from_cookie_file(path: &Path) -> Result<Secret, SecretError> {
        super::cookie::load_or_create(path)
    }

    /// The bytes (for the spawn layer handing the secret to a child).
    pub(crate) fn expose(&self) -> &[u8] {
        &self.key.0
    }

    /// A secret read from a parent, a file or the environment.
    pub(crate) fn from_origin(bytes: Vec<u8>, origin: &str) -> Result<Secret, SecretError> {
        Self::checked(bytes, origin)
    }
}

/// Strips leading and trailing ASCII whitespace in place (a cookie file
/// or variable edited by hand may end in a newline).
pub(crate) fn trim_ascii(bytes: &mut Vec<u8>) {
    while bytes.last().is_some_and(u8::is_ascii_whitespace) {
        bytes.pop();
    }
    let lead = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count();
    bytes.drain(..lead);
}

/// Fills `buf` from the OS random source.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), SecretError> {
    getrandom::fill(buf).map_err(|e| SecretError::Random(e.to_string()))
}

fn role_label(role: Role) -> &'static [u8] {
    match role {
        Role::Dialer => b"dialer",
        Role::Acceptor => b"acceptor",
    }
}

fn mac(
    secret: &Secret,
    role: Role,
    dialer: &[u8],
    acceptor: &[u8],
) -> Result<Hmac<Sha256>, IpcError> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose()).map_err(|e| {
        IpcError::AuthFailed {
            peer: "-".into(),
            reason: format!("the secret cannot key an HMAC ({e})"),
        }
    })?;
    m.update(PROOF_CONTEXT);
    m.update(role_label(role));
    m.update(dialer);
    m.update(acceptor);
    Ok(m)
}

/// The proof that the side in `role` knows `secret`, for the nonces the
/// dialer and the acceptor sent: HMAC-SHA256(secret, context ‖ role ‖
/// dialer nonce ‖ acceptor nonce).
///
/// Public so tests can forge exactly what a reflection attack would send.
#[doc(hidden)]
pub fn proof(
    secret: &Secret,
    role: Role,
    dialer: &[u8; 32],
    acceptor: &[u8; 32],
) -> Result<[u8; 32], IpcError> {
    Ok(mac(secret, role, dialer, acceptor)?
        .finalize()
        .into_bytes()
        .into())
}

/// Whether `claimed` is the proof of `role` (compared in constant time).
fn verify(
    secret: &Secret,
    role: Role,
    dialer: &[u8; 32],
    acceptor: &[u8; 32],
    claimed: &[u8],
) -> Result<bool, IpcError> {
    Ok(mac(secret, role, dialer, acceptor)?
        .verify_slice(claimed)
        .is_ok())
}

/// Refuses a unix-socket peer that runs as another user than this process
/// (from `SO_PEERCRED`). TCP peers carry no credentials: the secret is
/// what they are checked by.
pub(crate) fn check_peer_uid(cred: Option<PeerCred>) -> Result<(), IpcError> {
    // SAFETY: geteuid cannot fail.
    let ours = unsafe { libc::geteuid() };
    match cred {
        Some(c) if c.uid != ours => Err(IpcError::ForeignUser {
            uid: c.uid,
            pid: c.pid.unwrap_or(0),
            ours,
        }),
        _ => Ok(()),
    }
}

/// Sending and receiving handshake messages, over a [`MsgTransport`] or a
/// raw byte stream (tests).
pub(crate) trait Wire {
    /// Buffers one message.
    async fn write(&mut self, msg: &Msg) -> Result<(), IpcError>;
    /// Puts what was buffered on the wire.
    async fn flush(&mut self) -> Result<(), IpcError>;
    /// The next message; `None` on EOF.
    async fn recv(&mut self) -> Result<Option<Msg>, IpcError>;
}

impl Wire for MsgTransport {
    async fn write(&mut self, msg: &Msg) -> Result<(), IpcError> {
        self.write_msg(msg).await
    }

    async fn flush(&mut self) -> Result<(), IpcError> {
        self.flush_msgs().await
    }

    async fn recv(&mut self) -> Result<Option<Msg>, IpcError> {
        MsgTransport::recv(self).await
    }
}

/// A raw byte stream spoken one exact frame at a time: nothing past the
/// handshake is read, so the caller can go on writing raw bytes.
struct RawWire<'a, S> {
    io: &'a mut S,
    out: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire for RawWire<'_, S> {
    async fn write(&mut self, msg: &Msg) -> Result<(), IpcError> {
        self.out
            .extend_from_slice(super::transport::encode(msg)?.bytes());
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), IpcError> {
        let io = |e| IpcError::Frame(super::frame::FrameError::Io(e));
        self.io.write_all(&self.out).await.map_err(io)?;
        self.out.clear();
        self.io.flush().await.map_err(io)
    }

    async fn recv(&mut self) -> Result<Option<Msg>, IpcError> {
        let io = |e| IpcError::Frame(super::frame::FrameError::Io(e));
        let mut len = [0u8; 4];
        match self.io.read_exact(&mut len).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(io(e)),
        }
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_AUTH_FRAME {
            return Err(IpcError::Decode {
                len,
                reason: format!("a handshake frame is at most {MAX_AUTH_FRAME} bytes"),
            });
        }
        let mut body = vec![0u8; len];
        self.io.read_exact(&mut body).await.map_err(io)?;
        super::codec::decode(&body)
            .map(Some)
            .map_err(|reason| IpcError::Decode { len, reason })
    }
}

/// The full handshake over a fresh transport: the peer-uid check, the
/// mutual proof of the secret, then the identities. Returns the peer's.
pub(crate) async fn handshake(
    t: &mut MsgTransport,
    me: &Aid,
    secret: &Secret,
    role: Role,
) -> Result<Aid, IpcError> {
    check_peer_uid(t.peer_cred)?;
    let peer = describe_peer(t);
    handshake_on(t, me, secret, role, &peer).await
}

/// [`handshake`] as a dialer over a raw byte stream, reading exactly the
/// handshake's frames: for tests that go on writing raw bytes after it.
#[doc(hidden)]
pub async fn dial_handshake_raw<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    me: &Aid,
    secret: &Secret,
) -> Result<Aid, IpcError> {
    let mut w = RawWire {
        io,
        out: Vec::new(),
    };
    handshake_on(&mut w, me, secret, Role::Dialer, "the peer").await
}

fn describe_peer(t: &MsgTransport) -> String {
    match (&t.peer_addr, t.peer_cred) {
        (Some(a), _) => a.to_string(),
        (None, Some(PeerCred { pid: Some(pid), .. })) => format!("unix-socket peer pid {pid}"),
        _ => "a unix-socket peer".into(),
    }
}

async fn handshake_on<W: Wire>(
    w: &mut W,
    me: &Aid,
    secret: &Secret,
    role: Role,
    peer: &str,
) -> Result<Aid, IpcError> {
    authenticate(w, secret, role, &Msg::Aid(me.clone()), peer).await?;
    match w.recv().await? {
        Some(Msg::Aid(aid)) => Ok(aid),
        Some(other) => Err(IpcError::Handshake(format!(
            "{peer} authenticated but sent `{}` instead of its identity",
            other.kind()
        ))),
        None => Err(IpcError::Handshake(format!(
            "{peer} authenticated, then closed the connection before identifying itself"
        ))),
    }
}

/// The challenge-response. On success the peer's proof was right and
/// `then` (our identity) was sent after our own proof.
async fn authenticate<W: Wire>(
    w: &mut W,
    secret: &Secret,
    role: Role,
    then: &Msg,
    peer: &str,
) -> Result<(), IpcError> {
    let failed = |reason: String| IpcError::AuthFailed {
        peer: peer.to_string(),
        reason,
    };
    let mut mine = [0u8; 32];
    fill_random(&mut mine)?;
    w.write(&Msg::Challenge { nonce: mine }).await?;
    w.flush().await?;
    let theirs = match w.recv().await {
        Ok(Some(Msg::Challenge { nonce })) => nonce,
        Ok(Some(other)) => {
            return Err(failed(format!(
                "it sent `{}` where the handshake expects its challenge (a tractor without authentication, or not tractor at all)",
                other.kind()
            )));
        }
        Ok(None) => {
            return Err(failed(
                "it closed the connection before its challenge".into(),
            ));
        }
        Err(e) if e.is_disconnect() => {
            return Err(failed(format!(
                "the connection dropped before its challenge ({e})"
            )));
        }
        Err(e) => return Err(e),
    };
    if theirs == mine {
        return Err(failed("it sent our own challenge back".into()));
    }
    let (dialer, acceptor) = match role {
        Role::Dialer => (&mine, &theirs),
        Role::Acceptor => (&theirs, &mine),
    };
    let ours = Msg::Proof {
        mac: proof(secret, role, dialer, acceptor)?,
    };
    let their_role = match role {
        Role::Dialer => Role::Acceptor,
        Role::Acceptor => Role::Dialer,
    };
    if role == Role::Dialer {
        w.write(&ours).await?;
        w.write(then).await?;
        w.flush().await?;
    }
    let claimed = match w.recv().await {
        Ok(Some(Msg::Proof { mac })) => mac,
        Ok(Some(other)) => {
            return Err(failed(format!(
                "it sent `{}` where the handshake expects its proof",
                other.kind()
            )));
        }
        Ok(None) => {
            return Err(failed(
                "it closed the connection instead of proving it knows the secret: it refused our proof, so it holds another secret".into(),
            ));
        }
        Err(e) if e.is_disconnect() => {
            return Err(failed(format!(
                "the connection dropped instead of a proof ({e}): it refused our proof, so it holds another secret"
            )));
        }
        Err(e) => return Err(e),
    };
    if !verify(secret, their_role, dialer, acceptor, &claimed)? {
        return Err(failed(
            "its proof does not match our secret: it holds another secret".into(),
        ));
    }
    if role == Role::Acceptor {
        w.write(&ours).await?;
        w.write(then).await?;
        w.flush().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: &[u8]) -> Secret {
        Secret::from_bytes(b.to_vec()).unwrap()
    }

    #[test]
    fn proofs_depend_on_role_nonces_and_secret() {
        let (d, a) = ([1u8; 32], [2u8; 32]);
        let p = proof(&s(b"k"), Role::Dialer, &d, &a).unwrap();
        assert!(verify(&s(b"k"), Role::Dialer, &d, &a, &p).unwrap());
        // Reflected: the dialer's proof is not the acceptor's.
        assert!(!verify(&s(b"k"), Role::Acceptor, &d, &a, &p).unwrap());
        assert!(!verify(&s(b"k2"), Role::Dialer, &d, &a, &p).unwrap());
        assert!(!verify(&s(b"k"), Role::Dialer, &a, &d, &p).unwrap());
        assert!(!verify(&s(b"k"), Role::Dialer, &d, &a, &p[..31]).unwrap());
    }

    #[test]
    fn secrets_are_checked_and_redacted() {
        assert!(matches!(
            Secret::from_bytes(vec![]),
            Err(SecretError::Empty { .. })
        ));
        assert!(matches!(
            Secret::from_bytes(vec![7; MAX_SECRET_LEN + 1]),
            Err(SecretError::TooLong { .. })
        ));
        let g = Secret::generate().unwrap();
        assert_eq!(g.expose().len(), 32);
        assert_ne!(g, Secret::generate().unwrap());
        assert_eq!(g, g.clone());
        assert_eq!(format!("{g:?}"), "Secret(<redacted>)");
        let mut v = b"  abc\n".to_vec();
        trim_ascii(&mut v);
        assert_eq!(v, b"abc");
    }

    #[tokio::test]
    async fn both_roles_meet_with_one_secret_and_not_with_two() {
        async fn pair(a: Secret, b: Secret) -> (Result<Aid, IpcError>, Result<Aid, IpcError>) {
            let (mut x, mut y) = tokio::io::duplex(4096);
            let dial = async move {
                let r = dial_handshake_raw(&mut x, &Aid::new("d"), &a).await;
                drop(x);
                r
            };
            let accept = async move {
                let mut w = RawWire {
                    io: &mut y,
                    out: Vec::new(),
                };
                let r = handshake_on(&mut w, &Aid::new("a"), &b, Role::Acceptor, "d").await;
                drop(y);
                r
            };
            tokio::join!(dial, accept)
        }
        let (d, a) = pair(s(b"same"), s(b"same")).await;
        assert_eq!(d.unwrap().name, "a");
        assert_eq!(a.unwrap().name, "d");
        let (d, a) = pair(s(b"one"), s(b"two")).await;
        assert!(matches!(d, Err(IpcError::AuthFailed { .. })), "{d:?}");
        assert!(matches!(a, Err(IpcError::AuthFailed { .. })), "{a:?}");
    }
}

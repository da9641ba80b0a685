//! [`Secret`]: the bytes every actor of a tree (or every program of a
//! user) holds, loaded, generated and kept redacted.

// `tractor::wire` (the `wire` feature) exposes parts of this module
// to tests that speak the protocol by hand; without it they are internal.
#![cfg_attr(not(feature = "wire"), allow(unreachable_pub, dead_code))]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{COOKIE_ENV, COOKIE_FILE, MAX_SECRET_LEN, SECRET_LEN};

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
        crate::ipc::uds::uds_bindspace().join(COOKIE_FILE)
    }

    /// Reads the cookie file at `path`, creating it (mode 0600, 32 random
    /// bytes in hex) if it does not exist. Its directory is created owner
    /// only. A file with wider permissions, or of another owner, is
    /// refused.
    pub fn from_cookie_file(path: &Path) -> Result<Secret, SecretError> {
        crate::ipc::cookie::load_or_create(path)
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

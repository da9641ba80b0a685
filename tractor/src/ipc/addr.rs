//! Transport addresses.
//!
//! An actor listens on exactly one transport; its address travels in
//! handshakes and spawn specs, so it is a plain serde value with a textual
//! form (`tcp://127.0.0.1:1616`, `uds:///run/user/1000/tractor/a@1.sock`) that
//! round-trips through `Display`/`FromStr`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which transport an actor serves on.
///
/// ```
/// use tractor::TransportKind;
/// assert_eq!("uds".parse::<TransportKind>().unwrap(), TransportKind::Uds);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TransportKind {
    /// TCP; loopback unless configured. The only transport across hosts.
    #[default]
    Tcp,
    /// Unix domain sockets under `$XDG_RUNTIME_DIR/tractor/` (or a temp dir).
    Uds,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Tcp => "tcp",
            TransportKind::Uds => "uds",
        })
    }
}

impl FromStr for TransportKind {
    type Err = AddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tcp" => Ok(TransportKind::Tcp),
            "uds" => Ok(TransportKind::Uds),
            other => Err(AddrParseError(format!(
                "unknown transport `{other}`: use `tcp` or `uds`"
            ))),
        }
    }
}

/// The address of an actor's IPC listener.
///
/// ```
/// use tractor::Addr;
/// let a: Addr = "tcp://127.0.0.1:1616".parse().unwrap();
/// assert_eq!(a.to_string(), "tcp://127.0.0.1:1616");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Addr {
    /// A TCP socket address.
    Tcp(SocketAddr),
    /// A unix socket file path.
    Uds(PathBuf),
}

impl Addr {
    /// The transport this address belongs to.
    pub fn transport(&self) -> TransportKind {
        match self {
            Addr::Tcp(_) => TransportKind::Tcp,
            Addr::Uds(_) => TransportKind::Uds,
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Tcp(a) => write!(f, "tcp://{a}"),
            Addr::Uds(p) => write!(f, "uds://{}", p.display()),
        }
    }
}

/// A string that is not a transport address.
///
/// ```
/// let err = "tcp://nowhere".parse::<tractor::Addr>().unwrap_err();
/// // The message names the bad input and the accepted forms.
/// assert!(err.to_string().contains("`tcp://nowhere`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid address: {0}")]
pub struct AddrParseError(String);

impl FromStr for Addr {
    type Err = AddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = s.strip_prefix("tcp://") {
            return rest
                .parse()
                .map(Addr::Tcp)
                .map_err(|e| AddrParseError(format!("`{s}`: {e}; expected tcp://HOST:PORT")));
        }
        if let Some(rest) = s.strip_prefix("uds://") {
            if rest.is_empty() {
                return Err(AddrParseError(format!("`{s}`: empty socket path")));
            }
            return Ok(Addr::Uds(PathBuf::from(rest)));
        }
        // A bare `HOST:PORT` is TCP, the default transport.
        s.parse().map(Addr::Tcp).map_err(|_| {
            AddrParseError(format!(
                "`{s}`: expected tcp://HOST:PORT, HOST:PORT or uds:///path/to.sock"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in ["tcp://127.0.0.1:1616", "uds:///tmp/x.sock"] {
            assert_eq!(s.parse::<Addr>().unwrap().to_string(), s);
        }
        assert_eq!(
            "127.0.0.1:5".parse::<Addr>().unwrap(),
            Addr::Tcp("127.0.0.1:5".parse().unwrap())
        );
        assert!("nope".parse::<Addr>().is_err());
        assert!("uds://".parse::<Addr>().is_err());
    }
}

//! Mutual TLS for links that leave the host: who may connect from
//! another machine, and an encrypted stream once they have.
//!
//! On one host the cheap checks suffice (a unix socket's peer uid, the
//! shared secret's challenge on loopback TCP, see [`auth`](super::auth)).
//! A TCP link to or from any other address is wrapped in TLS 1.3 with
//! certificates on *both* sides, checked against one CA:
//!
//! * By default the root mints a CA of its own tree ([`TreeTls::mint`]):
//!   an ECDSA P-256 key and a self-signed certificate, made on first use.
//!   Each child learns the CA over its spawn channel (in its `SpawnSpec`)
//!   and mints its own leaf certificate the first time it needs one, so a
//!   tree is secure across hosts with no configuration at all.
//! * Separate programs that must meet (a daemon and its clients on several
//!   hosts) are given one CA's certificate and a leaf certificate and key
//!   each, from PEM files ([`TreeTls::from_pem_files`]); their children
//!   present the same leaf.
//!
//! A peer without a certificate of the CA gets a closed connection (and
//! the refusal is logged on our side); it reaches nothing, not even the
//! identity exchange. Over TLS the secret's proofs are skipped: the
//! certificates have already shown that both ends belong.
//!
//! Every leaf names [`SERVER_NAME`], the name a dialer checks: actors are
//! dialed by address, and what identifies the peer is the CA that signed
//! its certificate, not a host name.

mod ca;
mod pem;
#[cfg(test)]
mod tests;

use std::sync::{Arc, OnceLock};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use serde::{Deserialize, Serialize};

/// The name every leaf certificate carries and every dialer checks.
pub(crate) const SERVER_NAME: &str = "tractor";

/// Whether a link with `ip` stays on this host: loopback (an IPv4 one
/// mapped into IPv6 too, as a dual-stack listener sees it), or the
/// unspecified address, which a dialer reaches on this host. Both ends
/// must agree: a dialer of `0.0.0.0` arrives from `127.0.0.1`.
pub(crate) fn on_this_host(ip: std::net::IpAddr) -> bool {
    let ip = ip.to_canonical();
    ip.is_loopback() || ip.is_unspecified()
}

/// The most a leaf certificate chain and its key may take: what travels
/// to each child with the secret (through a pipe the parent fills before
/// the child runs, whose buffer is 64 KiB).
pub(crate) const MAX_LEAF_BYTES: usize = 16 * 1024;

/// The most a [`TlsSpec`] takes encoded: a leaf and its key, the CA
/// certificate, and framing.
pub(crate) const MAX_SPEC_BYTES: usize = 3 * MAX_LEAF_BYTES;

/// PEM files of the CA a program trusts, its certificate (chain) and its
/// key: set all three, or none.
pub(crate) const CA_ENV: &str = "TRACTOR_TLS_CA";
pub(crate) const CERT_ENV: &str = "TRACTOR_TLS_CERT";
pub(crate) const KEY_ENV: &str = "TRACTOR_TLS_KEY";
/// A switch: TLS on loopback links too.
pub(crate) const LOOPBACK_ENV: &str = "TRACTOR_TLS_LOOPBACK";

/// What can go wrong setting up TLS.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key could not be made.
    #[error("could not mint a TLS certificate: {0}")]
    Mint(String),
    /// A PEM file could not be read or holds no usable item.
    #[error(
        "could not load {what} from {path}: {reason}; give a PEM file (TRACTOR_TLS_CA, TRACTOR_TLS_CERT, TRACTOR_TLS_KEY)"
    )]
    Load {
        /// What was being loaded (the CA certificate, the certificate, the key).
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Some of `TRACTOR_TLS_CA`, `TRACTOR_TLS_CERT`, `TRACTOR_TLS_KEY` are
    /// set, not all.
    #[error(
        "set all of TRACTOR_TLS_CA, TRACTOR_TLS_CERT and TRACTOR_TLS_KEY (PEM files: the CA, this program's certificate, its key), or none"
    )]
    PartialEnv,
    /// The certificates or key were refused by the TLS library (a key that
    /// does not match its certificate, a CA that is not one).
    #[error("the TLS certificates were refused: {0}")]
    Config(String),
    /// The TLS handshake with a peer failed (it has no certificate of our
    /// CA, or ours is not of its CA).
    #[error(
        "TLS handshake with {peer} failed: {reason}; both ends need certificates of one CA (one tree, or the same TRACTOR_TLS_CA)"
    )]
    Handshake {
        /// The peer's address.
        peer: String,
        /// What went wrong.
        reason: String,
    },
    /// A link that must be encrypted, with no TLS set up in this actor.
    #[error(
        "a link to {peer} leaves this host and needs TLS, which this actor has not set up; give it a tree CA (RootConfig::tls) or connect over loopback"
    )]
    Missing {
        /// The peer's address.
        peer: String,
    },
}

/// A tree's TLS material as it travels to a child (with the secret):
/// the CA certificate and either the CA's key (the child mints its own
/// leaf) or the leaf to present.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct TlsSpec {
    #[serde(with = "serde_bytes")]
    ca_cert: Vec<u8>,
    identity: IdentitySpec,
    on_loopback: bool,
}

impl std::fmt::Debug for TlsSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys stay out of logs.
        f.debug_struct("TlsSpec")
            .field("on_loopback", &self.on_loopback)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Serialize, Deserialize)]
enum IdentitySpec {
    /// The CA's PKCS#8 key: mint a leaf from it.
    Mint(#[serde(with = "serde_bytes")] Vec<u8>),
    /// A certificate chain and its PKCS#8 key.
    Leaf {
        chain: Vec<serde_bytes::ByteBuf>,
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
    },
}

/// How this actor proves itself.
enum Identity {
    /// It holds the CA's key (PKCS#8) and mints its leaf on first use
    /// (the key is parsed then too: a child that never leaves its host
    /// pays nothing for TLS).
    Mint(Vec<u8>),
    /// It presents a leaf made elsewhere.
    Leaf {
        chain: Vec<CertificateDer<'static>>,
        key: PrivatePkcs8KeyDer<'static>,
    },
}

/// The client and server sides, made once per actor.
struct Configs {
    client: Arc<rustls::ClientConfig>,
    server: Arc<rustls::ServerConfig>,
}

/// The TLS of one actor: the CA it trusts, how it proves itself, and
/// (once first needed) its client and server configurations.
pub struct TreeTls {
    ca_cert: CertificateDer<'static>,
    identity: Identity,
    on_loopback: bool,
    configs: OnceLock<Result<Configs, String>>,
    spec: OnceLock<TlsSpec>,
}

impl std::fmt::Debug for TreeTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeTls")
            .field("on_loopback", &self.on_loopback)
            .finish_non_exhaustive()
    }
}

impl TreeTls {
    /// A fresh CA for a new tree (its key never leaves the tree).
    pub fn mint() -> Result<TreeTls, TlsError> {
        let (ca, ca_cert) = ca::TreeCa::generate()?;
        Ok(TreeTls {
            ca_cert,
            identity: Identity::Mint(ca.key_der()),
            on_loopback: false,
            configs: OnceLock::new(),
            spec: OnceLock::new(),
        })
    }

    /// Makes a CA and, for each of `programs`, a certificate and key
    /// signed by it, as PEM files in `dir` (created if missing): `ca.pem`,
    /// `<program>.pem` and `<program>.key` (mode 0600). Separate programs
    /// that must meet across hosts are each given `ca.pem` and their own
    /// pair ([`from_pem_files`](Self::from_pem_files), or
    /// `TRACTOR_TLS_CA`, `TRACTOR_TLS_CERT`, `TRACTOR_TLS_KEY`). The CA's
    /// key is not kept: to admit one more program, make a new set.
    ///
    /// ```no_run
    /// let dir = std::path::Path::new("/etc/myapp/tls");
    /// tractor::TreeTls::mint_pem_files(dir, &["daemon", "client"])?;
    /// let daemon = tractor::TreeTls::from_pem_files(
    ///     &dir.join("ca.pem"),
    ///     &dir.join("daemon.pem"),
    ///     &dir.join("daemon.key"),
    /// )?;
    /// # let _ = daemon;
    /// # Ok::<(), tractor::error::TlsError>(())
    /// ```
    pub fn mint_pem_files(dir: &std::path::Path, programs: &[&str]) -> Result<(), TlsError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let write = |name: &str, mode: u32, label: &str, der: &[u8]| {
            let path = dir.join(name);
            let text = ::pem::encode(&::pem::Pem::new(label, der.to_vec()));
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(mode)
                .open(&path)
                .and_then(|mut f| f.write_all(text.as_bytes()))
                .map_err(|e| TlsError::Load {
                    what: "a file to write",
                    path,
                    reason: e.to_string(),
                })
        };
        std::fs::create_dir_all(dir).map_err(|e| TlsError::Load {
            what: "a directory to write in",
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        let (ca, ca_cert) = ca::TreeCa::generate()?;
        write("ca.pem", 0o644, "CERTIFICATE", &ca_cert)?;
        for program in programs {
            let safe: String = program
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let (chain, key) = ca.mint_leaf()?;
            let certs: Vec<u8> = chain
                .iter()
                .flat_map(|c| {
                    ::pem::encode(&::pem::Pem::new("CERTIFICATE", c.to_vec())).into_bytes()
                })
                .collect();
            let path = dir.join(format!("{safe}.pem"));
            std::fs::write(&path, certs).map_err(|e| TlsError::Load {
                what: "a file to write",
                path,
                reason: e.to_string(),
            })?;
            write(
                &format!("{safe}.key"),
                0o600,
                "PRIVATE KEY",
                key.secret_pkcs8_der(),
            )?;
        }
        Ok(())
    }

    /// A CA certificate to trust and this program's leaf certificate
    /// (chain) and key, from PEM files.
    pub fn from_pem_files(
        ca: &std::path::Path,
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> Result<TreeTls, TlsError> {
        let ca_cert = pem::certs(ca, "the CA certificate")?
            .into_iter()
            .next()
            .ok_or_else(|| pem::empty(ca, "the CA certificate"))?;
        if ca_cert.len() > MAX_LEAF_BYTES {
            return Err(TlsError::Load {
                what: "the CA certificate",
                path: ca.to_path_buf(),
                reason: format!(
                    "it takes {} bytes, more than {MAX_LEAF_BYTES}",
                    ca_cert.len()
                ),
            });
        }
        let chain = pem::certs(cert, "the certificate")?;
        if chain.is_empty() {
            return Err(pem::empty(cert, "the certificate"));
        }
        let key = pem::key(key)?;
        let size = chain.iter().map(|c| c.len()).sum::<usize>() + key.secret_pkcs8_der().len();
        if size > MAX_LEAF_BYTES {
            return Err(TlsError::Load {
                what: "the certificate",
                path: cert.to_path_buf(),
                reason: format!(
                    "the chain and key take {size} bytes, more than the {MAX_LEAF_BYTES} a child can be handed"
                ),
            });
        }
        let tls = TreeTls {
            ca_cert,
            identity: Identity::Leaf { chain, key },
            on_loopback: false,
            configs: OnceLock::new(),
            spec: OnceLock::new(),
        };
        // Refused material is reported now, not at the first remote peer.
        tls.configs()?;
        Ok(tls)
    }

    /// The TLS that `TRACTOR_TLS_CA`, `TRACTOR_TLS_CERT` and
    /// `TRACTOR_TLS_KEY` name, if they are set (all three, or an error).
    pub(crate) fn from_env() -> Result<Option<TreeTls>, TlsError> {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        match (var(CA_ENV), var(CERT_ENV), var(KEY_ENV)) {
            (None, None, None) => Ok(None),
            (Some(ca), Some(cert), Some(key)) => {
                Self::from_pem_files(ca.as_ref(), cert.as_ref(), key.as_ref()).map(Some)
            }
            _ => Err(TlsError::PartialEnv),
        }
    }

    /// Uses TLS on loopback TCP too (not only for links that leave the
    /// host): for tests, benchmarks, or hosts whose loopback is shared.
    pub fn on_loopback(mut self, on: bool) -> TreeTls {
        self.on_loopback = on;
        self
    }

    /// Whether a TCP link with `peer` is wrapped in TLS.
    pub(crate) fn wanted(&self, peer: &std::net::SocketAddr) -> bool {
        self.on_loopback || !on_this_host(peer.ip())
    }

    /// What a child is handed (made once, then shared by every spawn).
    pub(crate) fn spec(&self) -> &TlsSpec {
        self.spec.get_or_init(|| TlsSpec {
            ca_cert: self.ca_cert.to_vec(),
            identity: match &self.identity {
                Identity::Mint(key) => IdentitySpec::Mint(key.clone()),
                Identity::Leaf { chain, key } => IdentitySpec::Leaf {
                    chain: chain
                        .iter()
                        .map(|c| serde_bytes::ByteBuf::from(c.to_vec()))
                        .collect(),
                    key: key.secret_pkcs8_der().to_vec(),
                },
            },
            on_loopback: self.on_loopback,
        })
    }

    /// A child's TLS, from what its parent handed it (checked when first
    /// used).
    pub(crate) fn from_spec(spec: TlsSpec) -> TreeTls {
        let identity = match spec.identity {
            IdentitySpec::Mint(key) => Identity::Mint(key),
            IdentitySpec::Leaf { chain, key } => Identity::Leaf {
                chain: chain
                    .into_iter()
                    .map(|c| CertificateDer::from(c.into_vec()))
                    .collect(),
                key: PrivatePkcs8KeyDer::from(key),
            },
        };
        TreeTls {
            ca_cert: CertificateDer::from(spec.ca_cert),
            identity,
            on_loopback: spec.on_loopback,
            configs: OnceLock::new(),
            spec: OnceLock::new(),
        }
    }

    fn configs(&self) -> Result<&Configs, TlsError> {
        self.configs
            .get_or_init(|| self.make_configs().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| TlsError::Config(e.clone()))
    }

    fn make_configs(&self) -> Result<Configs, TlsError> {
        let (chain, key) = match &self.identity {
            Identity::Mint(key) => ca::TreeCa::from_key(key.clone())?.mint_leaf()?,
            Identity::Leaf { chain, key } => (chain.clone(), key.clone_key()),
        };
        let config = |e: rustls::Error| TlsError::Config(e.to_string());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_cert.clone()).map_err(config)?;
        let roots = Arc::new(roots);
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.clone(),
            provider.clone(),
        )
        .build()
        .map_err(|e| TlsError::Config(e.to_string()))?;
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(config)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), PrivateKeyDer::Pkcs8(key.clone_key()))
            .map_err(config)?;
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(config)?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, PrivateKeyDer::Pkcs8(key))
            .map_err(config)?;
        Ok(Configs {
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }

    /// Runs the client side of the TLS handshake over `tcp`.
    pub(crate) async fn connect(
        &self,
        tcp: tokio::net::TcpStream,
        peer: &str,
    ) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, TlsError> {
        let configs = self.configs()?;
        let name =
            ServerName::try_from(SERVER_NAME).map_err(|e| TlsError::Config(e.to_string()))?;
        tokio_rustls::TlsConnector::from(configs.client.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| TlsError::Handshake {
                peer: peer.to_string(),
                reason: e.to_string(),
            })
    }

    /// Runs the server side of the TLS handshake over `tcp`.
    pub(crate) async fn accept(
        &self,
        tcp: tokio::net::TcpStream,
        peer: &str,
    ) -> Result<tokio_rustls::server::TlsStream<tokio::net::TcpStream>, TlsError> {
        let configs = self.configs()?;
        tokio_rustls::TlsAcceptor::from(configs.server.clone())
            .accept(tcp)
            .await
            .map_err(|e| TlsError::Handshake {
                peer: peer.to_string(),
                reason: e.to_string(),
            })
    }
}

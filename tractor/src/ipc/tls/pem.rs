//! Certificates and keys from PEM files (a CA and a leaf made elsewhere).

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};

use super::TlsError;

fn load_error(path: &Path, what: &'static str, reason: impl std::fmt::Display) -> TlsError {
    TlsError::Load {
        what,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// A file that holds none of what it should.
pub(super) fn empty(path: &Path, what: &'static str) -> TlsError {
    load_error(path, what, "no certificate in it")
}

/// Every certificate in `path`, in order.
pub(super) fn certs(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_file_iter(path)
        .map_err(|e| load_error(path, what, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| load_error(path, what, e))
}

/// The PKCS#8 private key in `path` (`-----BEGIN PRIVATE KEY-----`).
pub(super) fn key(path: &Path) -> Result<PrivatePkcs8KeyDer<'static>, TlsError> {
    PrivatePkcs8KeyDer::from_pem_file(path)
        .map_err(|e| load_error(path, "the key", format!("{e} (a PKCS#8 key is needed)")))
}

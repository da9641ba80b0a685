//! A tree's own certificate authority: its key, its self-signed
//! certificate, and the leaves it signs.
//!
//! A child that holds the CA's key rebuilds the issuer from the same
//! fixed parameters the root used ([`ca_params`]), so no certificate
//! parser is needed to sign with a CA that came over the wire.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};

use super::{SERVER_NAME, TlsError};

/// The CA's name and powers; the same in every actor of a tree.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "tractor tree CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn mint_error(e: rcgen::Error) -> TlsError {
    TlsError::Mint(e.to_string())
}

/// A CA's key.
pub(super) struct TreeCa {
    key: KeyPair,
}

impl TreeCa {
    /// A fresh key and its self-signed certificate.
    pub(super) fn generate() -> Result<(TreeCa, CertificateDer<'static>), TlsError> {
        let key = KeyPair::generate().map_err(mint_error)?;
        let cert = ca_params().self_signed(&key).map_err(mint_error)?;
        Ok((TreeCa { key }, cert.der().clone()))
    }

    /// The CA of a tree whose key (PKCS#8) this actor was handed.
    pub(super) fn from_key(pkcs8: Vec<u8>) -> Result<TreeCa, TlsError> {
        let der = PrivatePkcs8KeyDer::from(pkcs8);
        let key = KeyPair::try_from(&der).map_err(mint_error)?;
        Ok(TreeCa { key })
    }

    /// The CA's key, PKCS#8.
    pub(super) fn key_der(&self) -> Vec<u8> {
        self.key.serialize_der()
    }

    /// A fresh leaf key and its certificate, signed by this CA, good for
    /// both ends of a link.
    pub(super) fn mint_leaf(
        &self,
    ) -> Result<(Vec<CertificateDer<'static>>, PrivatePkcs8KeyDer<'static>), TlsError> {
        let issuer = Issuer::new(ca_params(), &self.key);
        let leaf_key = KeyPair::generate().map_err(mint_error)?;
        let mut params =
            CertificateParams::new(vec![SERVER_NAME.to_string()]).map_err(mint_error)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "tractor actor");
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&leaf_key, &issuer).map_err(mint_error)?;
        Ok((
            vec![cert.der().clone()],
            PrivatePkcs8KeyDer::from(leaf_key.serialize_der()),
        ))
    }
}

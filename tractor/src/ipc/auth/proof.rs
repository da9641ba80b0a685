//! The proofs: HMAC-SHA256 over both nonces and the prover's role.

// `tractor::wire` (the `wire` feature) exposes parts of this module
// to tests that speak the protocol by hand; without it they are internal.
#![cfg_attr(not(feature = "wire"), allow(unreachable_pub, dead_code))]

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{PROOF_CONTEXT, Secret};
use crate::ipc::channel::Role;
use crate::ipc::error::IpcError;

pub(super) fn role_label(role: Role) -> &'static [u8] {
    match role {
        Role::Dialer => b"dialer",
        Role::Acceptor => b"acceptor",
    }
}

pub(super) fn mac(
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
pub(super) fn verify(
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

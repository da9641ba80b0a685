//! The bench's only two uses of tractor internals (`tractor::ipc`), one
//! function each, so that they can be repointed to a public surface in
//! one place.

/// The default stream window (messages in flight per stream).
pub(crate) fn default_window() -> u32 {
    tractor::ipc::FlowSpec::default().window
}

/// One HMAC proof of the dialer's side of the handshake.
pub(crate) fn dialer_proof(
    secret: &tractor::Secret,
    dialer: &[u8; 32],
    acceptor: &[u8; 32],
) -> [u8; 32] {
    tractor::ipc::auth::proof(secret, tractor::ipc::Role::Dialer, dialer, acceptor).expect("proof")
}

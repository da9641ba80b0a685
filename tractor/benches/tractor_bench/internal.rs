//! The bench's only two uses of tractor internals (`tractor::ipc`), one
//! function each, so that they can be repointed to a public surface in
//! one place.

/// The default stream window (messages in flight per stream).
pub(crate) fn default_window() -> u32 {
    tractor::wire::FlowSpec::default().window
}

/// One HMAC proof of the dialer's side of the handshake.
pub(crate) fn dialer_proof(
    secret: &tractor::Secret,
    dialer: &[u8; 32],
    acceptor: &[u8; 32],
) -> [u8; 32] {
    tractor::wire::proof(secret, tractor::wire::Role::Dialer, dialer, acceptor).expect("proof")
}

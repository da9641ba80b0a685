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
//! (`check_peer_uid`). A thread actor's in-process link to its parent
//! skips the proofs and only exchanges identities: this process made both
//! ends of that pipe, so no one else can be at the other end. So does a
//! link in mutual TLS ([`tls`](super::tls), every TCP link beyond
//! loopback): both certificates were checked against the tree's CA.
//!
//! Where a secret comes from (a root's configuration, `TRACTOR_COOKIE`,
//! the cookie file) is decided by the runtime; this module only loads and
//! uses one (see [`Secret`]).

// `tractor::wire` (the `wire` feature) exposes parts of this module
// to tests that speak the protocol by hand; without it they are internal.
#![cfg_attr(not(feature = "wire"), allow(unreachable_pub, dead_code))]

pub(crate) mod handshake;
pub(crate) mod proof;
mod secret;

pub(crate) use handshake::handshake;
pub use secret::{Secret, SecretError};
pub(crate) use secret::{fill_random, trim_ascii};

/// The environment variable that gives a program the shared secret (it
/// wins over the cookie file; an explicit [`RootConfig::secret`] wins over it).
///
/// [`RootConfig::secret`]: crate::RootConfig::secret
pub(crate) const COOKIE_ENV: &str = "TRACTOR_COOKIE";

/// The cookie file's name, in the user's runtime directory
/// ([`uds_bindspace`](super::uds::uds_bindspace)).
pub(crate) const COOKIE_FILE: &str = "tractor.cookie";

/// Bytes of a generated secret and of each nonce.
pub(super) const SECRET_LEN: usize = 32;
/// Longest secret accepted (from a cookie file, the environment or a parent).
pub(crate) const MAX_SECRET_LEN: usize = 1024;
/// Domain separation for the proofs (and their version).
pub(super) const PROOF_CONTEXT: &[u8] = b"tractor-auth-v1\0";
/// Largest frame read while authenticating: the auth messages and the
/// identity are a few dozen bytes.
pub(super) const MAX_AUTH_FRAME: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::handshake::{RawWire, dial_handshake_raw, handshake_on};
    use super::proof::{proof, verify};
    use super::*;
    use crate::ipc::channel::Role;
    use crate::ipc::error::IpcError;
    use crate::ipc::msg::{Aid, Msg};

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

    /// A thread actor's in-process link has no one to authenticate: its
    /// ends exchange identities in one step, whatever secret each holds
    /// (over a byte stream, the test above shows, the same secrets fail).
    #[tokio::test]
    async fn an_in_process_link_exchanges_identities_without_proofs() {
        use crate::ipc::transport::MsgTransport;
        let (mut x, mut y) = MsgTransport::in_process_pair(64 * 1024);
        let (dn, an, one, two) = (Aid::new("d"), Aid::new("a"), s(b"one"), s(b"two"));
        let (d, a) = tokio::join!(
            handshake::handshake(&mut x, &dn, &one, Role::Dialer),
            handshake::handshake(&mut y, &an, &two, Role::Acceptor),
        );
        assert_eq!(d.unwrap().name, "a");
        assert_eq!(a.unwrap().name, "d");
        // Nothing else was sent: the next frame either end reads is the
        // first one the other writes after the handshake.
        x.write_msg(&Msg::Heartbeat).await.unwrap();
        x.flush_msgs().await.unwrap();
        assert!(matches!(y.recv().await, Ok(Some(Msg::Heartbeat))));
    }
}

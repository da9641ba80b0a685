use std::sync::Arc;

use super::*;
use crate::ipc::transport::{Incoming, MsgListener, MsgTransport};
use crate::ipc::{Addr, Aid, Channel, Limits, Msg, Role, Secret};

fn loopback() -> Addr {
    Addr::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
}

fn secret(s: &[u8]) -> Secret {
    Secret::from_bytes(s.to_vec()).unwrap()
}

/// A listener whose first connection is secured with `server`, and a
/// dial to it secured with `client`: what each side ended with.
async fn link(
    server: Option<Arc<TreeTls>>,
    client: Option<&TreeTls>,
) -> (
    Result<MsgTransport, IpcError>,
    Result<MsgTransport, IpcError>,
) {
    let listener = MsgListener::bind(&loopback(), 1 << 20).await.unwrap();
    let addr = listener.local_addr().clone();
    let accepted = tokio::spawn(async move {
        let incoming: Incoming = listener.accept_incoming().await.unwrap();
        incoming.secure(server.as_deref()).await
    });
    let dialed = MsgTransport::connect(&addr, 1 << 20, client).await;
    (accepted.await.unwrap(), dialed)
}

/// A child's TLS, as it comes out of its `SpawnSpec`.
fn child_of(tree: &TreeTls) -> TreeTls {
    let bytes = postcard::to_stdvec(tree.spec()).unwrap();
    TreeTls::from_spec(postcard::from_bytes(&bytes).unwrap())
}

use crate::ipc::IpcError;

/// Two actors of one tree (the root's CA, a child's leaf minted from it)
/// meet in mutual TLS and exchange identities without the secret's
/// proofs: their different secrets do not matter once the certificates
/// have been checked.
#[tokio::test]
async fn actors_of_one_tree_meet_in_mutual_tls() {
    let root = Arc::new(TreeTls::mint().unwrap().on_loopback(true));
    let child = child_of(&root);
    let (acc, dial) = link(Some(root), Some(&child)).await;
    let (acc, dial) = (acc.unwrap(), dial.unwrap());
    assert!(acc.is_tls() && dial.is_tls());
    let limits = Limits::default();
    let (root_aid, child_aid) = (Aid::new("root"), Aid::new("child"));
    let (one, two) = (secret(b"one"), secret(b"two"));
    let (a, d) = tokio::join!(
        Channel::handshake(acc, &root_aid, &one, Role::Acceptor, &limits),
        Channel::handshake(dial, &child_aid, &two, Role::Dialer, &limits),
    );
    let ((a, _), (d, mut d_reader)) = (a.unwrap(), d.unwrap());
    assert_eq!(
        (a.peer().name.as_str(), d.peer().name.as_str()),
        ("child", "root")
    );
    a.send(&Msg::Ping { cid: 9 }).await.unwrap();
    assert!(matches!(
        d_reader.recv().await,
        Ok(Some(Msg::Ping { cid: 9 }))
    ));
    d.close();
    a.close();
}

/// A peer whose certificate another CA signed is refused, on both ends.
#[tokio::test]
async fn a_peer_of_another_ca_is_refused() {
    let ours = Arc::new(TreeTls::mint().unwrap().on_loopback(true));
    let theirs = TreeTls::mint().unwrap().on_loopback(true);
    let (acc, dial) = link(Some(ours), Some(&theirs)).await;
    assert!(
        matches!(acc, Err(IpcError::Tls(TlsError::Handshake { .. }))),
        "{acc:?}"
    );
    assert!(dial.is_err(), "the stranger got in: {dial:?}");
}

/// A peer that speaks in the clear where TLS is wanted reaches nothing:
/// the TLS handshake fails on it and its connection closes.
#[tokio::test]
async fn a_peer_without_tls_is_refused() {
    let ours = Arc::new(TreeTls::mint().unwrap().on_loopback(true));
    let listener = MsgListener::bind(&loopback(), 1 << 20).await.unwrap();
    let addr = listener.local_addr().clone();
    let accepted = tokio::spawn(async move {
        let incoming = listener.accept_incoming().await.unwrap();
        incoming.secure(Some(&ours)).await
    });
    // It speaks first, as a dialer does (the secret's challenge).
    let mut plain = MsgTransport::connect(&addr, 1 << 20, None).await.unwrap();
    let said = plain.send(&Msg::Ping { cid: 1 }).await;
    let acc = accepted.await.unwrap();
    assert!(
        matches!(acc, Err(IpcError::Tls(TlsError::Handshake { .. }))),
        "{acc:?}"
    );
    drop(acc);
    let heard = plain.recv().await;
    assert!(
        said.is_err() || !matches!(heard, Ok(Some(_))),
        "the plain peer was answered: {heard:?}"
    );
}

/// Without `on_loopback`, loopback links stay in the clear (the secret's
/// challenge guards them), and an actor with no TLS at all may not dial
/// beyond loopback.
#[tokio::test]
async fn loopback_stays_clear_and_remote_needs_tls() {
    let tree = Arc::new(TreeTls::mint().unwrap());
    let child = child_of(&tree);
    let (acc, dial) = link(Some(tree), Some(&child)).await;
    assert!(!acc.unwrap().is_tls() && !dial.unwrap().is_tls());
    let remote = Addr::Tcp(std::net::SocketAddr::from(([192, 0, 2, 1], 9)));
    let err = tls_wanted_for(&remote);
    assert!(
        matches!(err, Err(IpcError::Tls(TlsError::Missing { .. }))),
        "{err:?}"
    );
}

/// Both ends classify an address alike: loopback in any form, and the
/// unspecified address a dialer reaches this host by, stay clear.
#[test]
fn on_this_host_is_loopback_in_any_form() {
    for local in [
        "127.0.0.1",
        "127.8.9.1",
        "::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
        "::",
    ] {
        assert!(on_this_host(local.parse().unwrap()), "{local}");
    }
    for remote in ["10.0.0.7", "192.0.2.1", "::ffff:10.0.0.7", "2001:db8::1"] {
        assert!(!on_this_host(remote.parse().unwrap()), "{remote}");
    }
}

fn tls_wanted_for(addr: &Addr) -> Result<(), IpcError> {
    let Addr::Tcp(sa) = addr else { unreachable!() };
    crate::ipc::transport::tls_wanted(None, sa).map(|_| ())
}

/// A program given a CA and its own certificate and key as PEM files
/// meets a tree of that CA.
#[tokio::test]
async fn pem_files_of_a_shared_ca_meet_its_tree() {
    let (ca, ca_cert) = ca::TreeCa::generate().unwrap();
    let (chain, key) = ca.mint_leaf().unwrap();
    let dir = std::env::temp_dir().join(format!("tractor-tls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = |label: &str, der: &[u8]| ::pem::encode(&::pem::Pem::new(label, der.to_vec()));
    let (ca_path, cert_path, key_path) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&ca_path, pem("CERTIFICATE", &ca_cert)).unwrap();
    std::fs::write(&cert_path, pem("CERTIFICATE", &chain[0])).unwrap();
    std::fs::write(&key_path, pem("PRIVATE KEY", key.secret_pkcs8_der())).unwrap();
    let program = TreeTls::from_pem_files(&ca_path, &cert_path, &key_path)
        .unwrap()
        .on_loopback(true);
    let tree = Arc::new(TreeTls {
        ca_cert,
        identity: Identity::Mint(ca.key_der()),
        on_loopback: true,
        configs: OnceLock::new(),
        spec: OnceLock::new(),
    });
    let (acc, dial) = link(Some(tree), Some(&program)).await;
    assert!(acc.unwrap().is_tls() && dial.unwrap().is_tls());
    // A missing file is a typed error naming it.
    let err = TreeTls::from_pem_files(&dir.join("nope.pem"), &cert_path, &key_path).unwrap_err();
    assert!(
        matches!(
            err,
            TlsError::Load {
                what: "the CA certificate",
                ..
            }
        ),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Files made for two separate programs let them meet in mutual TLS,
/// and a program of another set of files is refused.
#[tokio::test]
async fn minted_pem_files_let_two_programs_meet() {
    let dir = std::env::temp_dir().join(format!("tractor-pem-{}", uuid::Uuid::new_v4()));
    TreeTls::mint_pem_files(&dir, &["daemon", "client"]).unwrap();
    let load = |name: &str| {
        TreeTls::from_pem_files(
            &dir.join("ca.pem"),
            &dir.join(format!("{name}.pem")),
            &dir.join(format!("{name}.key")),
        )
        .unwrap()
        .on_loopback(true)
    };
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("client.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "a key others may read: {mode:o}");
    let (acc, dial) = link(Some(Arc::new(load("daemon"))), Some(&load("client"))).await;
    assert!(acc.unwrap().is_tls() && dial.unwrap().is_tls());
    let other = std::env::temp_dir().join(format!("tractor-pem-{}", uuid::Uuid::new_v4()));
    TreeTls::mint_pem_files(&other, &["stranger"]).unwrap();
    let stranger = TreeTls::from_pem_files(
        &other.join("ca.pem"),
        &other.join("stranger.pem"),
        &other.join("stranger.key"),
    )
    .unwrap()
    .on_loopback(true);
    let (acc, _) = link(Some(Arc::new(load("daemon"))), Some(&stranger)).await;
    assert!(acc.is_err(), "a program of another CA got in");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&other).unwrap();
}

/// What minting costs: a CA at each root's boot, a leaf at each actor's
/// first TLS link (printed; the bench reports the links themselves).
#[test]
fn minting_is_cheap_enough_for_every_root() {
    let t = std::time::Instant::now();
    let tree = TreeTls::mint().unwrap();
    let ca = t.elapsed();
    let t = std::time::Instant::now();
    tree.configs().unwrap();
    eprintln!(
        "minted a tree CA in {ca:?}, a leaf and its configs in {:?}",
        t.elapsed()
    );
}

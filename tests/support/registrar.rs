//! Shared by the test binaries that need their own registrar: free
//! addresses, and a root that must become the registrar at one.

use tractor::{Addr, RootConfig, TransportKind};

/// A free address on transport `t` (nothing listens there).
pub(super) fn free_addr(t: TransportKind) -> Addr {
    match t {
        TransportKind::Tcp => {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            Addr::Tcp(l.local_addr().expect("addr"))
        }
        TransportKind::Uds => Addr::Uds(std::env::temp_dir().join(format!(
            "tractor-test-{}.sock",
            uuid::Uuid::new_v4().simple()
        ))),
    }
}

/// A root that must become the registrar at a fresh address.
pub(super) fn registrar_root(t: TransportKind) -> (RootConfig, Addr) {
    let addr = free_addr(t);
    let cfg = RootConfig::new("root")
        .transport(t)
        .registry_addrs([addr.clone()])
        .registrar(tractor::RegistrarRole::Become);
    (cfg, addr)
}

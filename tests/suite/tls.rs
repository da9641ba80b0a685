//! Mutual TLS: a tree whose every TCP link is in TLS (loopback ones too,
//! as links between hosts always are) works as any other on every spawn
//! backend, and a peer without a certificate of the tree's CA reaches
//! none of its actors, while they serve on.

use std::time::Duration;

use futures::StreamExt;
use tractor::{Addr, Aid, Error, Limits, RootConfig, SpawnMethod, TransportKind, TreeTls};

use crate::common::{self, MODULE};

/// This module's path: its endpoints' allowlist entry.
const HERE: &str = module_path!();

#[tractor::endpoint]
async fn count_to(n: u32) -> impl futures::Stream<Item = u32> {
    futures::stream::iter(0..n)
}

/// Spawns a grandchild (whose link to us is in TLS too) and has it add.
#[tractor::endpoint]
async fn grandchild_adds(a: u64, b: u64) -> Result<u64, Error> {
    tractor::open_nursery(async |an| {
        let gc = an
            .start_actor("grandchild")
            .enable_modules([MODULE])
            .await?;
        let sum = gc.run(common::add::call(a, b)).await?;
        an.cancel().await;
        Ok(sum)
    })
    .await
}

/// Dials `addr` as a stranger holding the tree's secret and, if given,
/// another CA's TLS: whether it got in.
async fn stranger_gets_in(addr: &Addr, tls: Option<&TreeTls>) -> bool {
    let secret = tractor::wire::tree_secret().expect("in a root");
    let limits = Limits::default().handshake_timeout(Duration::from_secs(3));
    let me = Aid::new("stranger");
    tractor::wire::Channel::connect(addr, &me, &secret, tls, &limits)
        .await
        .is_ok()
}

/// Spawns, calls (through a grandchild too), streams, gets an error boxed
/// and cancels, with every link in TLS; a peer in the clear, and one with
/// another tree's certificate, are refused by the child, which serves on.
async fn a_tree_in_tls_works_as_any_other(method: SpawnMethod) {
    let tls = TreeTls::mint().expect("a tree CA").on_loopback(true);
    let cfg = RootConfig::new("root")
        .transport(TransportKind::Tcp)
        .spawn_method(method)
        .tls(tls);
    tractor::open_root_actor(cfg, async || {
        tractor::open_nursery(async |an| {
            let p = an
                .start_actor("child")
                .enable_modules([MODULE, HERE])
                .await?;
            assert_eq!(p.run(common::add::call(2, 3)).await?, 5);
            assert_eq!(p.run(grandchild_adds::call(4, 5)).await?, 9);
            let items: Vec<u32> = p
                .open_stream_from(count_to::call(500))
                .await?
                .map(|r| r.expect("an item"))
                .collect()
                .await;
            assert_eq!(items, (0..500).collect::<Vec<_>>());
            let e = p.run(common::need_coffee::call(1)).await.unwrap_err();
            assert_eq!(
                e.as_remote().expect("a boxed remote error").origin().name,
                "child"
            );

            let addr: Addr = p
                .run(common::accept_addr::call())
                .await?
                .parse()
                .expect("an address");
            assert!(
                !stranger_gets_in(&addr, None).await,
                "a peer in the clear got in"
            );
            let other = TreeTls::mint().expect("a CA").on_loopback(true);
            assert!(
                !stranger_gets_in(&addr, Some(&other)).await,
                "a peer of another CA got in"
            );
            assert_eq!(
                p.run(common::add::call(1, 1)).await?,
                2,
                "the child serves on"
            );
            an.cancel().await;
            Ok(())
        })
        .await
    })
    .await
    .unwrap();
    common::assert_tree_gone(Duration::from_secs(5)).await;
}

#[tractor::test(timeout = 60)]
async fn a_tree_in_tls_works_on_exec() {
    a_tree_in_tls_works_as_any_other(SpawnMethod::Exec).await
}

#[tractor::test(timeout = 60)]
async fn a_tree_in_tls_works_on_forkserver() {
    a_tree_in_tls_works_as_any_other(SpawnMethod::Forkserver).await
}

#[tractor::test(timeout = 60)]
async fn a_tree_in_tls_works_on_thread() {
    a_tree_in_tls_works_as_any_other(SpawnMethod::Thread).await
}

#[tractor::endpoint]
async fn big_items(n: u32) -> impl futures::Stream<Item = tractor::Bytes> {
    futures::stream::iter((0..n).map(|i| tractor::Bytes::from(vec![i as u8; 100 * 1024])))
}

/// Large items between processes of one host take the shared-memory
/// lane unless the link is in TLS: a tree that asked for TLS on loopback
/// keeps its bytes in TLS, and its actors map no ring.
#[tractor::test(timeout = 60)]
async fn a_link_in_tls_takes_no_shared_memory_lane() {
    let tls = TreeTls::mint().expect("a tree CA").on_loopback(true);
    let cfg = RootConfig::new("root")
        .transport(TransportKind::Tcp)
        .tls(tls);
    tractor::open_root_actor(cfg, async || {
        tractor::open_nursery(async |an| {
            let p = an.start_actor("child").enable_modules([HERE]).await?;
            let mut s = p.open_stream_from(big_items::call(20)).await?;
            for i in 0..20u32 {
                let b = s.recv().await?.expect("an item");
                assert!(
                    b.len() == 100 * 1024 && b.iter().all(|&x| x == i as u8),
                    "item {i}"
                );
            }
            let maps = std::fs::read_to_string(format!("/proc/{}/maps", p.aid().pid))
                .expect("the child's maps");
            assert!(!maps.contains("memfd:tractor-ring"), "a ring in a TLS tree");
            an.cancel().await;
            Ok(())
        })
        .await
    })
    .await
    .unwrap();
}

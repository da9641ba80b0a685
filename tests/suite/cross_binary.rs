//! A caller and a callee built from different sources: the suite (v1)
//! calls endpoints of the separately built `peer_v2` program (v2).
//! `shared::greet`'s signature differs: `MsgTypeError` for that dialog
//! only. The shared structs are defined in each program's own source,
//! at different paths: where their fields and variants agree the
//! programs interoperate; where a field's type changed, that endpoint
//! alone gets `MsgTypeError`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tractor::{Context, Error, RemoteErrorKind};

/// Version 1 of the shared API, as this binary was built against it.
#[tractor::context(name = "shared::greet")]
async fn greet(ctx: Context<String>, name: String) -> Result<(), Error> {
    ctx.started(format!("hi {name}")).await
}

#[tractor::endpoint(name = "shared::ping")]
async fn ping() -> u32 {
    std::process::id()
}

// This binary's copy of the shared types: `peer_v2` defines them in
// `api::v2`, so their `type_name`s differ.

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Price {
    units: i64,
    cents: u8,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Side {
    Buy,
    Sell { limit: Option<Price> },
    Cancel(u64),
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Order {
    id: u64,
    side: Side,
    price: Price,
    tags: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Receipt {
    order: Order,
    filled: bool,
}

/// `peer_v2`'s `qty` is a `u64`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Quote {
    symbol: String,
    qty: u32,
}

// Callers only: the bodies run in `peer_v2`.

#[tractor::endpoint(name = "shared::place")]
async fn place(order: Order) -> Receipt {
    Receipt {
        order,
        filled: false,
    }
}

#[tractor::endpoint(name = "shared::quote")]
async fn quote(q: Quote) -> u64 {
    u64::from(q.qty)
}

#[tractor::context(name = "shared::trade")]
async fn trade(ctx: Context<Price, Receipt, Order>, best: i64) -> Result<u32, Error> {
    ctx.started(Price {
        units: best,
        cents: 0,
    })
    .await?;
    Ok(0)
}

/// The newest `peer_v2` test binary next to this one.
fn peer_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let deps = exe.parent().expect("deps dir");
    std::fs::read_dir(deps)
        .expect("deps dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("peer_v2-") && !n.contains('.'))
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .expect("the peer_v2 test binary is built by `cargo test`")
}

/// Starts `peer_v2` serving; returns it and its address.
async fn start_peer() -> (tokio::process::Child, tractor::Addr) {
    let tree = tractor::runtime_vars().map(|v| v.tree_id).ok();
    let mut peer = tokio::process::Command::new(peer_binary())
        .env("PEER_V2_SERVE", "1")
        .env("TRACTOR_TREE", tree.unwrap_or_default())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start peer_v2");
    let mut lines = BufReader::new(peer.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("peer_v2 came up")
            .expect("read")
            .expect("peer_v2 printed its address");
        if let Some(a) = line.strip_prefix("ADDR ") {
            break a.parse().expect("an address");
        }
    };
    (peer, addr)
}

/// Runs `body` in a root that may talk to `peer_v2`, then checks the peer
/// exits cleanly once `body` cancelled it.
async fn with_peer(body: impl AsyncFnOnce(tractor::Portal, u32) -> Result<(), Error>) {
    let (mut peer, addr) = start_peer().await;
    let pid = peer.id().unwrap_or_default();
    // A test root is a tree of its own (a fresh secret) unless told to
    // use the cookie that separate programs of this user share.
    let cfg = tractor::RootConfig::new("v1").secret(tractor::Secret::shared().expect("cookie"));
    tractor::open_root_actor(cfg, async || {
        let p = tractor::connect_portal(&addr).await?;
        body(p.clone(), pid).await?;
        assert!(p.cancel_actor().await?);
        Ok(())
    })
    .await
    .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(5), peer.wait())
        .await
        .expect("peer_v2 exits once cancelled")
        .expect("wait");
    assert!(status.success(), "{status}");
}

#[tractor::test]
async fn another_binarys_signature_is_a_msg_type_error() {
    with_peer(async |p, pid| {
        let e = p
            .open_context(greet::call("bob".into()), async |_c, _| Ok(()))
            .await
            .unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::MsgTypeError, "{r}");
        assert!(r.message().contains("shared::greet"), "{r}");
        assert!(
            r.message().contains("times: u64"),
            "names the callee's signature: {r}"
        );
        // Only that dialog failed: the same channel keeps serving.
        assert_eq!(p.run(ping::call()).await?, pid);
        Ok(())
    })
    .await;
}

fn order(id: u64, side: Side) -> Order {
    Order {
        id,
        side,
        price: Price {
            units: 101,
            cents: 25,
        },
        tags: vec!["gtc".into(), format!("#{id}")],
    }
}

#[tractor::test]
async fn structs_defined_in_each_binary_interoperate() {
    with_peer(async |p, pid| {
        // Plain calls: a struct with an enum field (each variant kind) and
        // a nested struct, there and back.
        let limit = Some(Price {
            units: 99,
            cents: 1,
        });
        for side in [Side::Buy, Side::Sell { limit }, Side::Cancel(7)] {
            let sent = order(1, side);
            let r = p.run(place::call(sent.clone())).await?;
            assert_eq!(r.filled, sent.side == Side::Buy);
            assert_eq!(r.order, sent);
        }
        // A context whose started value and both stream directions are
        // the shared structs.
        let n = p
            .open_context(trade::call(100), async |ctx, best| {
                assert_eq!(
                    best,
                    Price {
                        units: 100,
                        cents: 0
                    }
                );
                let s = ctx.open_stream()?;
                for id in 0..3 {
                    let sent = order(id, Side::Sell { limit: None });
                    s.send(sent.clone()).await?;
                    let r = s.recv().await?.expect("a receipt");
                    assert_eq!((r.order, r.filled), (sent, false));
                }
                s.close();
                ctx.wait_for_result().await
            })
            .await?;
        assert_eq!(n, 3);
        // A field whose type changed: that endpoint alone fails, naming
        // the callee's shape.
        let e = p
            .run(quote::call(Quote {
                symbol: "TRCT".into(),
                qty: 5,
            }))
            .await
            .unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::MsgTypeError, "{r}");
        assert!(r.message().contains("shared::quote"), "{r}");
        assert!(
            r.message().contains("qty: u64"),
            "shows the callee's shape: {r}"
        );
        // The other endpoints on the same portal still work.
        assert!(p.run(place::call(order(9, Side::Buy))).await?.filled);
        assert_eq!(p.run(ping::call()).await?, pid);
        Ok(())
    })
    .await;
}

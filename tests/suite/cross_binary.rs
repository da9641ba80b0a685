//! A caller and a callee built from different sources: the suite (v1)
//! calls `shared::greet` in the separately built `peer_v2` program (v2),
//! whose signature differs: `MsgTypeError` for that dialog only.

use std::time::Duration;

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

#[tractor::test]
async fn another_binarys_signature_is_a_msg_type_error() {
    let tree = tractor::runtime_vars().map(|v| v.tree_id).ok();
    let mut peer = tokio::process::Command::new(peer_binary())
        .env("PEER_V2_SERVE", "1")
        .env("TRACTOR_TREE", tree.unwrap_or_default())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start peer_v2");
    let mut lines = BufReader::new(peer.stdout.take().expect("stdout")).lines();
    let addr: tractor::Addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("peer_v2 came up")
            .expect("read")
            .expect("peer_v2 printed its address");
        if let Some(a) = line.strip_prefix("ADDR ") {
            break a.parse().expect("an address");
        }
    };
    // A test root is a tree of its own (a fresh secret) unless told to
    // use the cookie that separate programs of this user share.
    let cfg = tractor::RootConfig::new("v1").secret(tractor::Secret::shared().expect("cookie"));
    tractor::open_root_actor(cfg, async || {
        let p = tractor::connect_portal(&addr).await?;
        let e = p
            .open_context(greet::call("bob".into()), async |_c, _| Ok(()))
            .await
            .unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::MsgTypeError, "{r}");
        assert!(r.message().contains("shared::greet"), "{r}");
        assert!(
            r.message().contains("u64"),
            "names the callee's signature: {r}"
        );
        // Only that dialog failed: the same channel keeps serving.
        assert_eq!(p.run(ping::call()).await?, peer.id().unwrap_or_default());
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

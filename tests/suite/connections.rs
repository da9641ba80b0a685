//! Connections are owned and closed (issue 8, point 2): portals to one
//! actor share one channel, a channel dialed for portals closes with the
//! last portal sharing it, the runtime's own channels (parent, child,
//! registrar) are never closed by a portal, and registry lookups reuse one
//! registrar channel.
//!
//! The fds counted are those of the daemon processes (nothing else runs
//! there) or, for the registrar, of an isolated run of the test binary.

use std::time::Duration;

use tractor::{Addr, Error, RootConfig, TransportKind};

use crate::both_transports;
use crate::common::{self, MODULE, in_nursery};
use crate::isolated;

/// This module's path: the allowlist entry for its endpoints.
const HERE: &str = module_path!();

/// `connect_portal` calls made to one daemon.
const DIALS: u32 = 300;

both_transports!(
    repeated_connect_portal_shares_one_channel,
    dropping_the_last_portal_closes_the_channel,
    close_keeps_other_clones_calls_running,
    a_portal_to_a_child_leaves_its_channel_open,
    a_portal_to_the_parent_leaves_its_channel_open,
);

/// How many fds this actor's process has open.
#[tractor::endpoint]
async fn open_fds() -> u64 {
    isolated::open_fds() as u64
}

/// The listen address of this actor's parent: the root's, from the test.
#[tractor::endpoint]
async fn dial_parent_and_drop(parent: String) -> Result<(u64, u64), Error> {
    let addr: Addr = parent.parse().map_err(|e| Error::custom(format!("{e}")))?;
    let before = isolated::open_fds() as u64;
    for _ in 0..20 {
        let p = tractor::connect_portal(&addr).await?;
        assert!(p.is_connected());
        drop(p);
    }
    let p = tractor::connect_portal(&addr).await?;
    p.close().await;
    Ok((before, isolated::open_fds() as u64))
}

/// Dials the actor at `addr` `n` times, keeping every portal and calling
/// through each: this actor's fds before and after, and the peer's fds
/// with all of them open.
#[tractor::endpoint]
async fn dial_many(addr: String, n: u32) -> Result<(u64, u64, u64), Error> {
    let addr: Addr = addr.parse().map_err(|e| Error::custom(format!("{e}")))?;
    let before = isolated::open_fds() as u64;
    let mut portals = Vec::new();
    for _ in 0..n {
        let p = tractor::connect_portal(&addr).await?;
        p.run(common::pid::call()).await?;
        portals.push(p);
    }
    let after = isolated::open_fds() as u64;
    let peer = portals[0].run(open_fds::call()).await?;
    Ok((before, after, peer))
}

/// Dials `addr` `n` times at once: one channel whatever the race.
#[tractor::endpoint]
async fn dial_concurrently(addr: String, n: u32) -> Result<(u64, u64), Error> {
    let addr: Addr = addr.parse().map_err(|e| Error::custom(format!("{e}")))?;
    let before = isolated::open_fds() as u64;
    let dials = (0..n).map(|_| tractor::connect_portal(&addr));
    let portals = futures::future::try_join_all(dials).await?;
    let after = isolated::open_fds() as u64;
    drop(portals);
    Ok((before, after))
}

/// One portal dialed, used and dropped.
#[tractor::endpoint]
async fn dial_and_drop(addr: String) -> Result<(), Error> {
    let addr: Addr = addr.parse().map_err(|e| Error::custom(format!("{e}")))?;
    let p = tractor::connect_portal(&addr).await?;
    p.run(common::pid::call()).await?;
    Ok(())
}

/// Clones and a second portal share the channel; it stays open until the
/// last of them is closed. Returns the peer's fd count seen through each
/// step (all equal when shared).
#[tractor::endpoint]
async fn share_then_close(addr: String) -> Result<Vec<u64>, Error> {
    let addr: Addr = addr.parse().map_err(|e| Error::custom(format!("{e}")))?;
    let mut seen = Vec::new();
    let p1 = tractor::connect_portal(&addr).await?;
    seen.push(p1.run(open_fds::call()).await?);
    let p2 = p1.clone();
    drop(p1);
    // A clone keeps the channel open.
    seen.push(p2.run(open_fds::call()).await?);
    let p3 = tractor::connect_portal(&addr).await?;
    seen.push(p3.run(open_fds::call()).await?);
    // Closing one of two portals sharing it leaves it open.
    p2.close().await;
    assert!(
        p3.is_connected(),
        "closing one portal closed the other's channel"
    );
    seen.push(p3.run(open_fds::call()).await?);
    p3.close().await;
    Ok(seen)
}

/// Closes one clone while another waits on a call through it.
#[tractor::endpoint]
async fn close_during_a_call(addr: String) -> Result<u64, Error> {
    let addr: Addr = addr.parse().map_err(|e| Error::custom(format!("{e}")))?;
    let p1 = tractor::connect_portal(&addr).await?;
    let p2 = p1.clone();
    // A call long enough to be in flight while its channel is closed.
    let call = async move { p2.run(common::sleep_ms::call(200)).await };
    let close = async move {
        // Once the call is under way: `join!` polls `call` first, which
        // sends its request before it waits.
        tokio::task::yield_now().await;
        p1.close().await;
    };
    let (res, ()) = tokio::join!(call, close);
    res
}

/// Two daemons with this module and the common one enabled.
async fn two_daemons(
    an: &tractor::ActorNursery,
) -> Result<(tractor::Portal, tractor::Portal), Error> {
    let a = an
        .start_actor("dialer")
        .enable_modules([MODULE, HERE])
        .await?;
    let b = an
        .start_actor("dialed")
        .enable_modules([MODULE, HERE])
        .await?;
    Ok((a, b))
}

/// Polls `portal`'s actor until its fd count is `want`.
async fn until_fds(portal: &tractor::Portal, want: u64, what: &str) -> Result<(), Error> {
    crate::wait::until_async(what, Duration::from_secs(10), || async {
        let now = portal.run(open_fds::call()).await?;
        Ok(crate::wait::holds(
            now <= want,
            format!("{now} fds, {want} expected"),
        ))
    })
    .await
}

/// Hundreds of `connect_portal` calls to one actor, every portal kept:
/// one channel on both sides, not one per call; concurrent calls dial once.
async fn repeated_connect_portal_shares_one_channel(t: TransportKind) {
    in_nursery(t, async |an| {
        let (a, b) = two_daemons(an).await?;
        let addr = b.run(common::accept_addr::call()).await?;
        let b_before = b.run(open_fds::call()).await?;
        let (a_before, a_after, b_during) = a.run(dial_many::call(addr.clone(), DIALS)).await?;
        println!(
            "{DIALS} connect_portal: dialer fds {a_before} -> {a_after}, dialed fds {b_before} -> {b_during}"
        );
        assert!(
            a_after <= a_before + 1,
            "the dialer holds {} more fds after {DIALS} connect_portal calls to one actor; 1 expected",
            a_after - a_before
        );
        assert!(
            b_during <= b_before + 1,
            "the dialed actor holds {} more fds with {DIALS} portals to it open; 1 expected",
            b_during - b_before
        );
        until_fds(&b, b_before, "the channel stayed open after its portals were dropped").await?;
        let (c_before, c_after) = a.run(dial_concurrently::call(addr, 50)).await?;
        assert!(
            c_after <= c_before + 1,
            "50 concurrent connect_portal calls opened {} fds; 1 expected",
            c_after - c_before
        );
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
}

/// Dropping the only portal closes the channel it opened: the peer sees
/// it go (its fd count returns to what it was).
async fn dropping_the_last_portal_closes_the_channel(t: TransportKind) {
    in_nursery(t, async |an| {
        let (a, b) = two_daemons(an).await?;
        let addr = b.run(common::accept_addr::call()).await?;
        let b_before = b.run(open_fds::call()).await?;
        a.run(dial_and_drop::call(addr.clone())).await?;
        until_fds(&b, b_before, "the dropped portal's channel stayed open").await?;
        let seen = a.run(share_then_close::call(addr)).await?;
        assert!(
            seen.iter().all(|n| *n == seen[0]),
            "clones and portals to one actor did not share one channel: the peer's fds went {seen:?}"
        );
        assert!(seen[0] > b_before, "the peer never saw the channel: {seen:?}");
        until_fds(&b, b_before, "the explicitly closed channel stayed open").await?;
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
}

/// Closing a portal does not cut a call running through one of its clones.
async fn close_keeps_other_clones_calls_running(t: TransportKind) {
    in_nursery(t, async |an| {
        let (a, b) = two_daemons(an).await?;
        let addr = b.run(common::accept_addr::call()).await?;
        let b_before = b.run(open_fds::call()).await?;
        assert_eq!(a.run(close_during_a_call::call(addr)).await?, 200);
        until_fds(&b, b_before, "the channel stayed open after the call ended").await?;
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
}

/// `connect_portal` to our own child reuses the channel to it, and
/// dropping that portal leaves the channel open.
async fn a_portal_to_a_child_leaves_its_channel_open(t: TransportKind) {
    in_nursery(t, async |an| {
        let d = an.start_actor("kid").enable_modules([MODULE, HERE]).await?;
        let addr: Addr = d
            .run(common::accept_addr::call())
            .await?
            .parse()
            .map_err(|e| Error::custom(format!("{e}")))?;
        let before = d.run(open_fds::call()).await?;
        for _ in 0..20 {
            let p = tractor::connect_portal(&addr).await?;
            assert_eq!(p.aid(), d.aid());
            p.run(common::pid::call()).await?;
            drop(p);
        }
        tractor::connect_portal(&addr).await?.close().await;
        assert!(
            d.is_connected(),
            "a portal drop closed the channel to a child"
        );
        until_fds(&d, before, "portals to a child left channels open").await?;
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
}

/// A child's `connect_portal` to its parent reuses the channel to it, and
/// dropping or closing that portal leaves it open (the child would cancel
/// itself if it lost its parent).
async fn a_portal_to_the_parent_leaves_its_channel_open(t: TransportKind) {
    in_nursery(t, async |an| {
        let d = an.start_actor("kid").enable_modules([MODULE, HERE]).await?;
        let root = tractor::current_actor()?.accept_addr().to_string();
        let (before, after) = d.run(dial_parent_and_drop::call(root)).await?;
        assert_eq!(
            before, after,
            "portals to the parent changed the child's fd count"
        );
        // Still served: its channel to us is up and it did not cancel itself.
        d.run(common::pid::call()).await?;
        assert!(d.is_connected());
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
}

/// Lookups from a root that does not register itself (the `tractor`
/// CLI's configuration) reuse one registrar channel: the registrar's fds
/// stay flat. Measured in a process of its own.
#[tractor::test(timeout = 120)]
async fn lookups_from_a_non_discoverable_root_reuse_one_channel() {
    if isolated::active() {
        return non_discoverable_lookups_body().await;
    }
    for t in ["tcp", "uds"] {
        let out = isolated::run_with(
            "connections::lookups_from_a_non_discoverable_root_reuse_one_channel",
            &[("CONNECTIONS_TRANSPORT", t)],
        )
        .await;
        let before = isolated::figure(&out, "FDS_BEFORE");
        let after = isolated::figure(&out, "FDS_AFTER");
        println!("{t}: {LOOKUPS} lookups: process fds {before} -> {after}");
        assert!(
            after <= before + 2,
            "{t}: {LOOKUPS} lookups from a non-discoverable root left {} fds open (both ends in this process); at most 2 expected",
            after - before
        );
    }
}

/// Registry lookups made by the non-discoverable root.
const LOOKUPS: usize = 100;

/// The isolated run of
/// [`lookups_from_a_non_discoverable_root_reuse_one_channel`], over the
/// transport in `CONNECTIONS_TRANSPORT`: prints the figures the outer run
/// checks.
async fn non_discoverable_lookups_body() {
    let t: TransportKind = std::env::var("CONNECTIONS_TRANSPORT")
        .unwrap_or_default()
        .parse()
        .unwrap_or(TransportKind::Tcp);
    let addr = match t {
        TransportKind::Tcp => {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            Addr::Tcp(l.local_addr().expect("its address"))
        }
        TransportKind::Uds => Addr::Uds(std::env::temp_dir().join(format!(
            "tractor-conns-{}.sock",
            uuid::Uuid::new_v4().simple()
        ))),
    };
    // The registrar: a root on a thread of its own, until told to stop.
    let (up_tx, up_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let reg_addr = addr.clone();
    let registrar = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async move {
            let cfg = RootConfig::new("registrar")
                .transport(t)
                .registry_addrs([reg_addr])
                .registrar(tractor::RegistrarRole::Become);
            tractor::open_root_actor(cfg, async move || {
                let _ = up_tx.send(());
                let _ = stop_rx.await;
                Ok(())
            })
            .await
        })
    });
    up_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the registrar came up");
    let cfg = RootConfig::new("client")
        .transport(t)
        .registry_addrs([addr])
        .registrar(tractor::RegistrarRole::Join)
        .discoverable(false);
    tractor::open_root_actor(cfg, async || {
        // The first lookup opens the registrar channel.
        assert!(tractor::find_actor("nobody").await?.is_none());
        let before = isolated::open_fds();
        for _ in 0..LOOKUPS / 2 {
            assert!(tractor::find_actor("nobody").await?.is_none());
            assert!(tractor::query_actor("nobody").await?.is_none());
        }
        // A found actor: the registrar itself, over the same channel.
        for _ in 0..10 {
            let p = tractor::find_actor("registrar")
                .await?
                .expect("the registrar");
            drop(p);
        }
        let after = isolated::open_fds();
        println!("FDS_BEFORE {before}\nFDS_AFTER {after}");
        Ok(())
    })
    .await
    .expect("the lookups");
    let _ = stop_tx.send(());
    registrar
        .join()
        .expect("the registrar thread")
        .expect("the registrar root");
}

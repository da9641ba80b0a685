//! The connection layer's message routing, over a real unix-socket
//! channel: each message reaches the dialog its cid names and no other; a
//! stale cid is dropped; `Return` and `Error` end their dialog; a peer's
//! flow violation fails only its dialog (and asks the peer to stop the
//! task); a lost channel ends every open call.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::ipc::{Addr, MsgListener, MsgTransport, Role, Secret};
use crate::runtime::dialog::Terminal;

const SOON: Duration = Duration::from_secs(5);

/// Our side of a handshaken channel (as a `Conn`) and the peer's side.
async fn pair() -> (Arc<Conn>, Channel, MsgReader) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("tractor-conn-{}-{n}.sock", std::process::id()));
    let addr = Addr::Uds(path);
    let limits = Limits::default();
    let secret = Secret::generate().expect("secret");
    let listener = MsgListener::bind(&addr, limits.max_frame)
        .await
        .expect("bind");
    let (s2, l2) = (secret.clone(), limits);
    let peer = tokio::spawn(async move {
        let t = listener.accept().await.expect("accept");
        Channel::handshake(t, &Aid::new("peer"), &s2, Role::Acceptor, &l2).await
    });
    let t = MsgTransport::connect(&addr, limits.max_frame, None)
        .await
        .expect("dial");
    let (chan, _our_reader) =
        Channel::handshake(t, &Aid::new("me"), &secret, Role::Dialer, &limits)
            .await
            .expect("our handshake");
    let (peer_chan, peer_reader) = peer.await.expect("join").expect("peer handshake");
    (Arc::new(Conn::new(chan, limits)), peer_chan, peer_reader)
}

fn yield_(cid: Cid, byte: u8) -> Msg {
    Msg::Yield {
        cid,
        pld: vec![byte],
    }
}

async fn next(d: &mut Dialog) -> Option<Msg> {
    tokio::time::timeout(SOON, d.recv())
        .await
        .expect("a message in time")
}

#[tokio::test]
async fn each_message_reaches_the_dialog_its_cid_names() {
    let (conn, _peer, _reader) = pair().await;
    let me = Aid::new("me");
    let mut a = conn.open_dialog();
    let mut b = conn.open_dialog();
    assert_ne!(a.cid, b.cid);
    conn.route_call(&me, b.cid, yield_(b.cid, 2));
    conn.route_call(&me, a.cid, yield_(a.cid, 1));
    // A cid no dialog holds (a stale reply): dropped, nobody disturbed.
    conn.route_call(&me, 9_999, yield_(9_999, 9));
    assert!(matches!(next(&mut a).await, Some(Msg::Yield { pld, .. }) if pld == [1]));
    assert!(matches!(next(&mut b).await, Some(Msg::Yield { pld, .. }) if pld == [2]));
    conn.route_call(&me, a.cid, yield_(a.cid, 3));
    assert!(matches!(next(&mut a).await, Some(Msg::Yield { pld, .. }) if pld == [3]));
    assert!(a.shared.terminal().is_none() && b.shared.terminal().is_none());
}

#[tokio::test]
async fn return_and_error_end_their_own_dialog_only() {
    let (conn, _peer, _reader) = pair().await;
    let me = Aid::new("me");
    let mut a = conn.open_dialog();
    let mut b = conn.open_dialog();
    let mut c = conn.open_dialog();
    conn.route_call(
        &me,
        a.cid,
        Msg::Return {
            cid: a.cid,
            pld: vec![7],
        },
    );
    let err = crate::runtime::error::RemoteActorError::new_local("x::Oops", "boom", &me);
    let data = Box::new(err.data().clone());
    conn.route_call(
        &me,
        b.cid,
        Msg::Error {
            cid: Some(b.cid),
            error: data,
        },
    );
    // The value is kept once, in the end; the queued `Return` marks it.
    assert!(matches!(next(&mut a).await, Some(Msg::Return { pld, .. }) if pld.is_empty()));
    assert!(matches!(a.shared.take_terminal(), Some(Terminal::Returned(v)) if v == [7]));
    assert!(matches!(a.shared.terminal(), Some(Terminal::Returned(v)) if v.is_empty()));
    assert!(matches!(next(&mut b).await, Some(Msg::Error { .. })));
    assert!(matches!(b.shared.terminal(), Some(Terminal::Failed(e)) if e.message == "boom"));
    // The third is still open and still routed to.
    assert!(c.shared.terminal().is_none());
    conn.route_call(&me, c.cid, yield_(c.cid, 4));
    assert!(matches!(next(&mut c).await, Some(Msg::Yield { .. })));
}

#[tokio::test]
async fn a_plain_calls_answers_are_not_queued_a_contexts_are() {
    let (conn, _peer, _reader) = pair().await;
    let me = Aid::new("me");
    let tag = |kind| Some(DialogTag::new("x::f".into(), kind));
    let mut call = conn.open_dialog_with(FlowSpec::default(), tag(FuncType::AsyncFunc));
    let mut ctx = conn.open_dialog_with(FlowSpec::default(), tag(FuncType::Context));
    for d in [&call, &ctx] {
        let functype = d.shared.tag.as_ref().map(|t| t.kind).expect("tagged");
        conn.route_call(
            &me,
            d.cid,
            Msg::StartAck {
                cid: d.cid,
                functype,
            },
        );
        let pld = vec![1];
        conn.route_call(&me, d.cid, Msg::Return { cid: d.cid, pld });
    }
    // The call's caller waits for its result alone, and finds it in the
    // dialog's end: nothing was queued for it.
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(call.poll_msg(&mut cx).is_pending(), "nothing queued");
    assert!(matches!(call.recv_or_end().await, Some(Msg::Return { .. })));
    assert!(matches!(
        call.shared.take_terminal(),
        Some(Terminal::Returned(pld)) if pld == [1]
    ));
    assert!(matches!(next(&mut ctx).await, Some(Msg::StartAck { .. })));
    assert!(matches!(next(&mut ctx).await, Some(Msg::Return { .. })));
}

#[tokio::test]
async fn credit_never_owed_fails_only_its_dialog_and_stops_the_peers_task() {
    let (conn, _peer, mut reader) = pair().await;
    let me = Aid::new("me");
    let mut bad = conn.open_dialog();
    let mut good = conn.open_dialog();
    conn.route_call(
        &me,
        bad.cid,
        Msg::Credit {
            cid: bad.cid,
            n: u32::MAX,
            bytes: 0,
        },
    );
    match next(&mut bad).await {
        Some(Msg::Error { error, .. }) => {
            assert_eq!(
                error.boxed_type,
                crate::runtime::error::boxed_types::PROTOCOL_VIOLATION
            )
        }
        other => panic!("expected the dialog to fail, got {other:?}"),
    }
    // The peer is asked to stop the task behind the failed dialog.
    let cancel = tokio::time::timeout(SOON, async {
        loop {
            match reader.recv().await {
                Ok(Some(Msg::CancelTask { target, .. })) => break target,
                Ok(Some(_)) => continue,
                other => panic!("the channel ended first: {other:?}"),
            }
        }
    })
    .await
    .expect("a CancelTask in time");
    assert_eq!(cancel, bad.cid);
    conn.route_call(&me, good.cid, yield_(good.cid, 5));
    assert!(matches!(next(&mut good).await, Some(Msg::Yield { pld, .. }) if pld == [5]));
}

#[tokio::test]
async fn a_lost_channel_ends_every_open_call() {
    let (conn, _peer, _reader) = pair().await;
    let mut a = conn.open_dialog();
    let mut b = conn.open_dialog();
    conn.fail_all();
    for d in [&mut a, &mut b] {
        assert!(matches!(d.shared.terminal(), Some(Terminal::Lost)));
        assert!(next(d).await.is_none(), "the queue ends");
    }
}

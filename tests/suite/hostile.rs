//! Targeted hostile input on a live actor, spoken over a raw transport:
//! each breach fails at most its own dialog or connection, with a typed
//! error, and the actor keeps serving.

use std::time::Duration;

use tractor::ipc::{Aid, ErrorData, FlowSpec, FuncType, Msg, MsgTransport, Start};
use tractor::{Addr, Context, Error, TransportKind};

use crate::both_transports;
use crate::common::{self, MODULE, in_nursery};
use crate::ipc_robustness::{dial, expect_dropped};

both_transports!(
    deeply_nested_errors_are_refused_not_a_crash,
    credit_beyond_the_window_fails_only_its_dialog,
    a_reused_task_id_is_refused,
);

/// Says `started`, opens its stream, and waits.
#[tractor::context]
pub async fn idle_ctx(ctx: Context<(), u8, u8>) -> Result<(), Error> {
    ctx.started(()).await?;
    let _stream = ctx.open_stream().await?;
    std::future::pending().await
}

/// A raw, authenticated and handshaken connection to the daemon `p`.
async fn raw_peer(addr: &Addr) -> MsgTransport {
    let secret = tractor::testing::tree_secret().expect("inside the test's root");
    tractor::testing::dial_authenticated(addr, &Aid::new("hostile"), &secret)
        .await
        .expect("handshake")
        .0
}

/// The next message matching `want`, skipping others; fails past 10 s.
async fn expect_msg(t: &mut MsgTransport, what: &str, want: impl Fn(&Msg) -> bool) -> Msg {
    let next = async {
        loop {
            match t.recv().await {
                Ok(Some(m)) if want(&m) => return m,
                Ok(Some(_)) => continue,
                other => panic!("connection ended waiting for {what}: {other:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), next)
        .await
        .unwrap_or_else(|_| panic!("no {what} within 10 s"))
}

fn start(cid: u64, func: &str, args: Vec<u8>, kind: FuncType) -> Msg {
    Msg::Start(Start {
        cid,
        ns: module_path!().to_string(),
        func: func.into(),
        args,
        kind,
        sig: None,
        flow: FlowSpec::default(),
    })
}

/// Starts `idle_ctx` as `cid` and waits for its `Started`.
async fn start_idle(t: &mut MsgTransport, cid: u64) {
    t.send(&start(cid, "idle_ctx", Vec::new(), FuncType::Context))
        .await
        .expect("send Start");
    expect_msg(
        t,
        "Started",
        |m| matches!(m, Msg::Started { cid: c, .. } if *c == cid),
    )
    .await;
}

/// The next `Error` matching `want`, which must be a protocol violation.
async fn expect_violation(t: &mut MsgTransport, what: &str, want: impl Fn(&Msg) -> bool) {
    let Msg::Error { error, .. } =
        expect_msg(t, what, |m| matches!(m, Msg::Error { .. }) && want(m)).await
    else {
        unreachable!()
    };
    assert_eq!(
        error.boxed_type,
        tractor::boxed_types::PROTOCOL_VIOLATION,
        "{error:?}"
    );
}

/// The daemon still answers a plain call on this very connection.
async fn still_serves(t: &mut MsgTransport, cid: u64) {
    let call = Msg::Start(Start {
        cid,
        ns: MODULE.to_string(),
        func: "add".into(),
        args: postcard::to_stdvec(&(20u64, 22u64)).expect("args"),
        kind: FuncType::AsyncFunc,
        sig: None,
        flow: FlowSpec::default(),
    });
    t.send(&call).await.expect("send Start");
    let Msg::Return { pld, .. } = expect_msg(
        t,
        "the Return of add",
        |m| matches!(m, Msg::Return { cid: c, .. } if *c == cid),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(postcard::from_bytes::<u64>(&pld).expect("u64"), 42);
}

async fn daemon(an: &tractor::ActorNursery) -> Result<(tractor::Portal, Addr), Error> {
    let p = an
        .start_actor("target")
        .enable_modules([MODULE, module_path!()])
        .await?;
    let addr: Addr = p
        .run(common::accept_addr::call())
        .await?
        .parse()
        .expect("addr");
    Ok((p, addr))
}

/// An error message nested `depth` levels deep, encoded on a thread with
/// a stack big enough for the encoder (and the drop) to recurse that far.
fn nested_error_frame(depth: usize) -> Vec<u8> {
    std::thread::Builder::new()
        .stack_size(512 << 20)
        .spawn(move || {
            let leaf =
                tractor::RemoteActorError::new_local("x", "deep", &Aid::new("x")).into_data();
            let mut e: ErrorData = leaf.clone();
            for _ in 0..depth {
                let mut outer = leaf.clone();
                outer.grouped = vec![e];
                e = outer;
            }
            let msg = Msg::Error {
                cid: None,
                error: Box::new(e),
            };
            tractor::ipc::transport::encode(&msg)
                .expect("encode")
                .bytes()
                .to_vec()
        })
        .expect("thread")
        .join()
        .expect("join")
}

/// A frame whose error nests thousands of levels deep once overflowed the
/// decoder's stack (SIGABRT), even as the very first frame. Now it is a
/// decode error that drops that connection only.
async fn deeply_nested_errors_are_refused_not_a_crash(t: TransportKind) {
    in_nursery(t, async |an| {
        let (p, addr) = daemon(an).await?;
        let frame = nested_error_frame(5_000);
        for after_handshake in [false, true] {
            use tokio::io::AsyncWriteExt;
            let mut io = dial(&addr).await;
            if after_handshake {
                let secret = tractor::testing::tree_secret().expect("inside the test's root");
                tractor::testing::dial_handshake_raw(&mut io, &Aid::new("hostile"), &secret)
                    .await
                    .expect("handshake");
            }
            let _ = io.write_all(&frame).await;
            expect_dropped(&mut io, "a deeply nested error").await;
        }
        // Alive, and serving its parent.
        assert_eq!(p.run(common::add::call(2, 2)).await?, 4);
        let mut peer = raw_peer(&addr).await;
        still_serves(&mut peer, 2).await;
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// Credit beyond the window (which, summed up, once panicked the loop
/// when it overflowed the semaphore) fails that dialog with a typed
/// protocol violation; the connection goes on serving.
async fn credit_beyond_the_window_fails_only_its_dialog(t: TransportKind) {
    in_nursery(t, async |an| {
        let (p, addr) = daemon(an).await?;
        let mut peer = raw_peer(&addr).await;
        start_idle(&mut peer, 2).await;
        peer.send(&Msg::Credit {
            cid: 2,
            n: u32::MAX,
        })
        .await
        .expect("send Credit");
        expect_violation(&mut peer, "the dialog's Error", |m| {
            matches!(m, Msg::Error { cid: Some(2), .. })
        })
        .await;
        still_serves(&mut peer, 4).await;
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// A `Start` with the id of a running task once overwrote its slot (the
/// first task leaked); it is refused, and the first task is still the one
/// a cancel reaches.
async fn a_reused_task_id_is_refused(t: TransportKind) {
    in_nursery(t, async |an| {
        let (p, addr) = daemon(an).await?;
        let mut peer = raw_peer(&addr).await;
        start_idle(&mut peer, 2).await;
        peer.send(&start(2, "idle_ctx", Vec::new(), FuncType::Context))
            .await
            .expect("send Start");
        expect_violation(&mut peer, "a refusal", |m| {
            matches!(m, Msg::Error { cid: None, .. })
        })
        .await;
        peer.send(&Msg::CancelTask { cid: 6, target: 2 })
            .await
            .expect("send CancelTask");
        let Msg::CancelAck { acked, .. } = expect_msg(&mut peer, "the CancelAck", |m| {
            matches!(m, Msg::CancelAck { cid: 6, .. })
        })
        .await
        else {
            unreachable!()
        };
        assert!(acked, "the first task is still tracked");
        expect_msg(&mut peer, "the first task's end", |m| {
            matches!(m, Msg::Error { cid: Some(2), .. })
        })
        .await;
        still_serves(&mut peer, 8).await;
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

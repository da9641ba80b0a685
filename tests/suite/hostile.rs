//! Targeted hostile input on a live actor, spoken over a raw transport:
//! each breach fails at most its own dialog or connection, with a typed
//! error, and the actor keeps serving.

use std::time::Duration;

use tractor::Aid;
use tractor::wire::{ErrorData, FlowSpec, FuncType, Msg, MsgTransport, Start};
use tractor::{Addr, Context, Error, Limits, RemoteErrorKind, RootConfig, TransportKind};

use crate::both_transports;
use crate::common::{self, MODULE, in_nursery};
use crate::ipc_robustness::{dial, expect_dropped};
use crate::shm_lane::rings_mapped;

both_transports!(
    deeply_nested_errors_are_refused_not_a_crash,
    credit_beyond_the_window_fails_only_its_dialog,
    a_reused_task_id_is_refused,
    a_huge_window_is_capped_by_the_callee,
    many_dialogs_share_one_connection_budget,
    a_frame_that_stalls_is_dropped,
    a_silent_unhandshaken_connection_is_dropped,
    large_frames_are_refused_before_the_handshake,
    tasks_past_the_limits_are_refused,
    an_oversized_trace_carrier_drops_only_its_connection,
    calls_whose_replies_are_not_read_wait_for_room,
    a_bad_ring_reference_drops_only_its_connection,
);

/// Says `started`, opens its stream, and waits.
#[tractor::context]
pub(crate) async fn idle_ctx(ctx: Context<(), u8, u8>) -> Result<(), Error> {
    ctx.started(()).await?;
    let _stream = ctx.open_stream()?;
    std::future::pending().await
}

/// A raw, authenticated and handshaken connection to the daemon `p`.
async fn raw_peer(addr: &Addr) -> MsgTransport {
    let secret = tractor::wire::tree_secret().expect("inside the test's root");
    tractor::wire::dial_authenticated(addr, &Aid::new("hostile"), &secret)
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
    Msg::Start(Box::new(Start {
        cid,
        ns: module_path!().to_string(),
        func: func.into(),
        args,
        kind,
        sig: None,
        flow: FlowSpec::default(),
        trace: None,
    }))
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

/// The next `Error` matching `want`, which must box the error type `ty`.
async fn expect_error(
    t: &mut MsgTransport,
    what: &str,
    ty: &str,
    want: impl Fn(&Msg) -> bool,
) -> Box<ErrorData> {
    let Msg::Error { error, .. } =
        expect_msg(t, what, |m| matches!(m, Msg::Error { .. }) && want(m)).await
    else {
        unreachable!()
    };
    assert_eq!(error.boxed_type, ty, "{error:?}");
    error
}

/// The next `Error` matching `want`, which must be a protocol violation.
async fn expect_violation(t: &mut MsgTransport, what: &str, want: impl Fn(&Msg) -> bool) {
    expect_error(
        t,
        what,
        tractor::error::boxed_types::PROTOCOL_VIOLATION,
        want,
    )
    .await;
}

/// The daemon still answers a plain call on this very connection.
async fn still_serves(t: &mut MsgTransport, cid: u64) {
    let call = Msg::Start(Box::new(Start {
        cid,
        ns: MODULE.to_string(),
        func: "add".into(),
        args: postcard::to_stdvec(&(20u64, 22u64)).expect("args"),
        kind: FuncType::AsyncFunc,
        sig: None,
        flow: FlowSpec::default(),
        trace: None,
    }));
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

/// A nursery under a root whose tree holds peers to `limits`.
async fn in_limited_nursery<T: Send + 'static>(
    t: TransportKind,
    limits: Limits,
    body: impl AsyncFnOnce(&tractor::ActorNursery) -> Result<T, Error>,
) -> Result<T, Error> {
    let cfg = RootConfig::new("root").transport(t).limits(limits);
    tractor::open_root_actor(cfg, async move || tractor::open_nursery(body).await).await
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
            tractor::wire::encode(&msg)
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
                let secret = tractor::wire::tree_secret().expect("inside the test's root");
                tractor::wire::dial_handshake_raw(&mut io, &Aid::new("hostile"), &secret)
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
            bytes: 0,
        })
        .await
        .expect("send Credit");
        expect_violation(&mut peer, "the dialog's Error", |m| {
            matches!(m, Msg::Error { cid: Some(2), .. })
        })
        .await;
        // Credit for bytes that were never sent: the byte window cannot
        // be inflated either.
        start_idle(&mut peer, 6).await;
        peer.send(&Msg::Credit {
            cid: 6,
            n: 0,
            bytes: u64::MAX,
        })
        .await
        .expect("send Credit");
        expect_violation(&mut peer, "the dialog's Error", |m| {
            matches!(m, Msg::Error { cid: Some(6), .. })
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

/// A caller announcing a window of `u32::MAX` once made the callee queue
/// without limit; the callee buffers by its own `stream_buffer`, and the
/// dialog fails with an overrun past it.
async fn a_huge_window_is_capped_by_the_callee(t: TransportKind) {
    let limits = Limits::default().stream_buffer(64);
    in_limited_nursery(t, limits, async |an| {
        let (p, addr) = daemon(an).await?;
        let mut peer = raw_peer(&addr).await;
        let mut open = start(2, "idle_ctx", Vec::new(), FuncType::Context);
        if let Msg::Start(s) = &mut open {
            s.flow = FlowSpec {
                window: u32::MAX,
                overrun: false,
            };
        }
        peer.send(&open).await.expect("send Start");
        expect_msg(&mut peer, "Started", |m| {
            matches!(m, Msg::Started { cid: 2, .. })
        })
        .await;
        for _ in 0..65 {
            peer.send(&Msg::Yield {
                cid: 2,
                pld: vec![0; 16],
            })
            .await
            .expect("send Yield");
        }
        let overrun = tractor::error::boxed_types::STREAM_OVERRUN;
        let error = expect_error(&mut peer, "the overrun", overrun, |m| {
            matches!(m, Msg::Error { cid: Some(2), .. })
        })
        .await;
        assert!(error.message.contains("64 messages"), "{}", error.message);
        still_serves(&mut peer, 4).await;
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// A peer that announces a large frame and stops sending once held the
/// reader (and the size it reserved) forever; past `frame_timeout` the
/// connection is dropped, and other peers are served meanwhile.
async fn a_frame_that_stalls_is_dropped(t: TransportKind) {
    let limits = Limits::default().frame_timeout(Duration::from_millis(300));
    in_limited_nursery(t, limits, async |an| {
        use tokio::io::AsyncWriteExt;
        let (p, addr) = daemon(an).await?;
        let mut stalled = Vec::new();
        for _ in 0..6 {
            let mut io = dial(&addr).await;
            let secret = tractor::wire::tree_secret().expect("inside the test's root");
            tractor::wire::dial_handshake_raw(&mut io, &Aid::new("hostile"), &secret)
                .await
                .expect("handshake");
            let mut head = (40u32 << 20).to_le_bytes().to_vec();
            head.extend_from_slice(&[0; 100]);
            io.write_all(&head).await.expect("announce");
            stalled.push(io);
        }
        assert_eq!(p.run(common::add::call(2, 3)).await?, 5);
        for io in &mut stalled {
            expect_dropped(io, "a frame that stalled").await;
        }
        let mut peer = raw_peer(&addr).await;
        still_serves(&mut peer, 2).await;
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// A connection that never identifies itself is closed after the
/// handshake timeout.
async fn a_silent_unhandshaken_connection_is_dropped(t: TransportKind) {
    let limits = Limits::default().handshake_timeout(Duration::from_millis(300));
    in_limited_nursery(t, limits, async |an| {
        let (p, addr) = daemon(an).await?;
        let mut io = dial(&addr).await;
        expect_dropped(&mut io, "saying nothing").await;
        let mut peer = raw_peer(&addr).await;
        still_serves(&mut peer, 2).await;
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// Before it has identified itself a peer may send only small frames: a
/// larger one drops the connection at once, before any of it is read.
async fn large_frames_are_refused_before_the_handshake(t: TransportKind) {
    // A long handshake timeout: the drop must come from the frame cap.
    let limits = Limits::default().handshake_timeout(Duration::from_secs(60));
    in_limited_nursery(t, limits, async |an| {
        use tokio::io::AsyncWriteExt;
        let (p, addr) = daemon(an).await?;
        let mut io = dial(&addr).await;
        let announced = tractor::wire::HANDSHAKE_MAX_FRAME as u32 + 1;
        io.write_all(&announced.to_le_bytes())
            .await
            .expect("announce");
        let started = std::time::Instant::now();
        expect_dropped(&mut io, "a large frame before the handshake").await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "dropped only after {:?}",
            started.elapsed()
        );
        let mut peer = raw_peer(&addr).await;
        still_serves(&mut peer, 2).await;
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// Starts `sleep_forever` as `cid`; returns whether it was accepted (its
/// `StartAck`) or the refusal's error.
async fn start_sleeper(t: &mut MsgTransport, cid: u64) -> Result<(), Box<ErrorData>> {
    let call = Msg::Start(Box::new(Start {
        cid,
        ns: MODULE.to_string(),
        func: "sleep_forever".into(),
        args: postcard::to_stdvec(&()).expect("args"),
        kind: FuncType::AsyncFunc,
        sig: None,
        flow: FlowSpec::default(),
        trace: None,
    }));
    t.send(&call).await.expect("send Start");
    match expect_msg(t, "StartAck or Error", |m| {
        matches!(m, Msg::StartAck { cid: c, .. } | Msg::Error { cid: Some(c), .. } if *c == cid)
    })
    .await
    {
        Msg::StartAck { .. } => Ok(()),
        Msg::Error { error, .. } => Err(error),
        _ => unreachable!(),
    }
}

/// One connection once could start any number of tasks. Past the
/// per-connection and the per-actor limit a `Start` is refused with a
/// typed error, nothing runs, and room frees up as tasks end.
async fn tasks_past_the_limits_are_refused(t: TransportKind) {
    let limits = Limits::default()
        .tasks_per_connection(8)
        .tasks_per_actor(12);
    in_limited_nursery(t, limits, async |an| {
        let (p, addr) = daemon(an).await?;
        let mut first = raw_peer(&addr).await;
        for i in 1..=8 {
            start_sleeper(&mut first, 2 * i)
                .await
                .expect("within the limit");
        }
        let refused = start_sleeper(&mut first, 100).await.expect_err("9th task");
        assert_eq!(
            refused.boxed_type,
            tractor::error::boxed_types::TOO_MANY_TASKS
        );
        assert!(
            refused.message.contains("tasks_per_connection"),
            "{}",
            refused.message
        );
        let mut second = raw_peer(&addr).await;
        for i in 1..=4 {
            start_sleeper(&mut second, 2 * i)
                .await
                .expect("within the limit");
        }
        let refused = start_sleeper(&mut second, 100)
            .await
            .expect_err("13th task");
        assert!(
            refused.message.contains("tasks_per_actor"),
            "{}",
            refused.message
        );
        // The parent's calls meet the same actor-wide limit, typed.
        match p.run(common::add::call(1, 1)).await {
            Err(Error::Remote(e)) => assert_eq!(e.kind(), RemoteErrorKind::TooManyTasks),
            other => panic!("expected a TooManyTasks refusal, got {other:?}"),
        }
        // Room frees up as tasks end.
        first
            .send(&Msg::CancelTask {
                cid: 102,
                target: 2,
            })
            .await
            .expect("send CancelTask");
        expect_msg(&mut first, "the cancelled task's end", |m| {
            matches!(m, Msg::Error { cid: Some(2), .. })
        })
        .await;
        crate::wait::until_async(
            "a task slot to free up",
            Duration::from_secs(10),
            || async {
                Ok::<_, Error>(match p.run(common::add::call(1, 1)).await {
                    Ok(2) => Ok(()),
                    other => Err(format!("{other:?}")),
                })
            },
        )
        .await?;
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// Each dialog within its own buffer, many dialogs together still cannot
/// make the actor hold more than the connection's byte budget: past it,
/// the dialog that overflows it fails with an overrun.
async fn many_dialogs_share_one_connection_budget(t: TransportKind) {
    let limits = Limits::default().connection_bytes(64 * 1024);
    in_limited_nursery(t, limits, async |an| {
        let (p, addr) = daemon(an).await?;
        let mut peer = raw_peer(&addr).await;
        let dialogs = [2u64, 4, 6, 8];
        for cid in dialogs {
            start_idle(&mut peer, cid).await;
        }
        // 80 KiB of payload in all, 20 KiB per dialog: each fits its own
        // window (4,096 messages), together they do not fit the budget.
        for _ in 0..20 {
            for cid in dialogs {
                peer.send(&Msg::Yield {
                    cid,
                    pld: vec![0; 1024],
                })
                .await
                .expect("send Yield");
            }
        }
        let overrun = tractor::error::boxed_types::STREAM_OVERRUN;
        let error = expect_error(
            &mut peer,
            "an overrun",
            overrun,
            |m| matches!(m, Msg::Error { cid: Some(c), .. } if dialogs.contains(c)),
        )
        .await;
        assert!(error.message.contains("65536 bytes"), "{}", error.message);
        still_serves(&mut peer, 10).await;
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// A `Start` of `add` whose trace context carries `pairs` (what a hostile
/// peer may write: more pairs or longer strings than a carrier holds),
/// framed.
fn start_with_carrier(cid: u64, pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut body = tractor::wire::encode(&start(cid, "add", Vec::new(), FuncType::AsyncFunc))
        .expect("encode")
        .bytes()[4..]
        .to_vec();
    // `trace: None` is the last byte; write `Some` by hand instead.
    assert_eq!(body.pop(), Some(0), "a Start ends with its trace context");
    let varint = |mut n: usize, out: &mut Vec<u8>| loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    };
    body.extend([1, 7, 9]); // Some, trace_id 7, span_id 9
    varint(pairs.len(), &mut body);
    for (k, v) in pairs {
        for s in [k, v] {
            varint(s.len(), &mut body);
            body.extend_from_slice(s.as_bytes());
        }
    }
    let mut f = (body.len() as u32).to_le_bytes().to_vec();
    f.extend(body);
    f
}

/// A trace carrier past its limits (too many pairs, a value too long)
/// is a decode error: that connection is dropped, nothing is allocated
/// for what the peer claims, and the actor serves on.
async fn an_oversized_trace_carrier_drops_only_its_connection(t: TransportKind) {
    in_nursery(t, async |an| {
        let (p, addr) = daemon(an).await?;
        let long = "v".repeat(tractor::trace::Carrier::MAX_VALUE_LEN + 1);
        let keys: Vec<String> = (0..=tractor::trace::Carrier::MAX_ENTRIES)
            .map(|i| format!("k{i}"))
            .collect();
        let many: Vec<_> = keys.iter().map(|k| (k.as_str(), "v")).collect();
        for pairs in [many, vec![("tracestate", long.as_str())]] {
            use tokio::io::AsyncWriteExt;
            let mut io = dial(&addr).await;
            let secret = tractor::wire::tree_secret().expect("inside the test's root");
            tractor::wire::dial_handshake_raw(&mut io, &Aid::new("hostile"), &secret)
                .await
                .expect("handshake");
            io.write_all(&start_with_carrier(2, &pairs))
                .await
                .expect("send");
            expect_dropped(&mut io, "an oversized trace carrier").await;
        }
        // Within the limits, the same bytes are a call like any other.
        let mut peer = raw_peer(&addr).await;
        let fine = start_with_carrier(4, &[("traceparent", "00-ab-cd-01")]);
        let call: Msg = tractor::wire::codec::decode(&fine[4..]).expect("a carrier within limits");
        peer.send(&call).await.expect("send Start");
        expect_msg(&mut peer, "its Return or Error", |m| {
            matches!(
                m,
                Msg::Return { cid: 4, .. } | Msg::Error { cid: Some(4), .. }
            )
        })
        .await;
        still_serves(&mut peer, 6).await;
        assert_eq!(p.run(common::add::call(2, 2)).await?, 4);
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// A peer that calls without reading its replies fills the callee's
/// write buffer. Past its mark, calls that would be answered from the
/// message loop wait in tasks of their own for room instead, so what the
/// callee holds for the peer stays bounded; once the peer reads, every
/// reply arrives, after its own `StartAck`, none lost or mixed up.
async fn calls_whose_replies_are_not_read_wait_for_room(t: TransportKind) {
    // 10 MiB of replies: more than the sockets' buffers and the mark.
    const CALLS: u64 = 160;
    in_nursery(t, async |an| {
        let (p, addr) = daemon(an).await?;
        let mut raw = raw_peer(&addr).await;
        let filler = "x".repeat(64 * 1024);
        for i in 0..CALLS {
            let call = Msg::Start(Box::new(Start {
                cid: 2 * i,
                ns: MODULE.to_string(),
                func: "echo".into(),
                args: postcard::to_stdvec(&(format!("{i}:{filler}"),)).expect("args"),
                kind: FuncType::AsyncFunc,
                sig: None,
                flow: FlowSpec::default(),
                trace: None,
            }));
            raw.send(&call).await.expect("send Start");
        }
        let mut acked = std::collections::HashSet::new();
        let mut returned = std::collections::HashSet::new();
        while returned.len() < CALLS as usize {
            let what = format!("the replies ({} of {CALLS} so far)", returned.len());
            match expect_msg(&mut raw, &what, |m| {
                matches!(
                    m,
                    Msg::StartAck { .. } | Msg::Return { .. } | Msg::Error { .. }
                )
            })
            .await
            {
                Msg::StartAck { cid, .. } => assert!(acked.insert(cid), "two StartAcks for {cid}"),
                Msg::Return { cid, pld } => {
                    assert!(
                        acked.contains(&cid),
                        "the Return of {cid} came before its StartAck"
                    );
                    let echoed: String = postcard::from_bytes(&pld).expect("a string");
                    assert!(
                        echoed.starts_with(&format!("{}:x", cid / 2)),
                        "{cid}'s reply mixed up"
                    );
                    assert_eq!(echoed.len(), format!("{}:", cid / 2).len() + filler.len());
                    assert!(returned.insert(cid), "two Returns for {cid}");
                }
                other => panic!("a call failed: {other:?}"),
            }
        }
        still_serves(&mut raw, 2 * CALLS).await;
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// A reference to a large frame in shared memory that points outside the
/// ring the actor offered after our first large frame drops that
/// connection with a typed error; the ring goes with it, and the actor
/// serves others.
async fn a_bad_ring_reference_drops_only_its_connection(t: TransportKind) {
    in_nursery(t, async |an| {
        use tokio::io::AsyncWriteExt;
        let (p, addr) = daemon(an).await?;
        let pid = p.aid().pid;
        let before = rings_mapped(pid);
        let mut io = dial(&addr).await;
        let secret = tractor::wire::tree_secret().expect("inside the test's root");
        tractor::wire::dial_handshake_raw(&mut io, &Aid::new("hostile"), &secret)
            .await
            .expect("handshake");
        // A large call (its arguments are not `add`'s): refused with an
        // error, the connection kept.
        let big = start(1, "add", vec![7; 100 * 1024], FuncType::AsyncFunc);
        let frame = tractor::wire::encode(&big).expect("encode");
        io.write_all(frame.bytes())
            .await
            .expect("send the large call");
        {
            let mut r = tractor::wire::FrameReader::new(&mut io);
            let answered = async {
                loop {
                    let body = r
                        .next(1 << 20, Duration::from_secs(10))
                        .await
                        .expect("a frame");
                    let body = body.expect("the connection stays open");
                    let msg = tractor::wire::codec::decode(body).expect("a message");
                    if matches!(msg, Msg::Error { cid: Some(1), .. }) {
                        return;
                    }
                }
            };
            tokio::time::timeout(Duration::from_secs(10), answered)
                .await
                .expect("the large call is answered within 10 s");
        }
        {
            // Over either transport: we are on the actor's host.
            let mapped = async || Ok::<_, Error>(rings_mapped(pid) > before);
            crate::wait::until_async(
                "the actor to map a ring for us",
                Duration::from_secs(10),
                mapped,
            )
            .await?;
        }
        // Far past anything the ring holds: 1 TiB on.
        let mut bad = 0u32.to_le_bytes().to_vec();
        bad.extend_from_slice(&[1, 0, 0, 0]);
        bad.extend_from_slice(&(1u64 << 40).to_le_bytes());
        bad.extend_from_slice(&100u32.to_le_bytes());
        bad.extend_from_slice(&[0; 4]);
        io.write_all(&bad).await.expect("send the bad reference");
        expect_dropped(&mut io, "a reference outside the ring").await;
        let unmapped = async || Ok::<_, Error>(rings_mapped(pid) == before);
        crate::wait::until_async(
            "the dropped connection's ring to go",
            Duration::from_secs(10),
            unmapped,
        )
        .await?;
        let mut peer = raw_peer(&addr).await;
        still_serves(&mut peer, 2).await;
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

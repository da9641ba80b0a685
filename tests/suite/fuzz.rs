//! A stateful property test against a live actor: random sessions of
//! messages of every type, in every dialog state, with unknown and reused
//! dialog ids, credit floods, deep nesting, huge length fields and garbage
//! frames, sent over a raw connection before and after the handshake.
//!
//! After each case: the raw connection still answers a `Ping` or was
//! dropped (never a hang past the deadline), as a model of the actor's
//! reader predicts; the actor process is alive; its parent, a well-behaved
//! peer with a normal `Portal`, still gets correct answers. After the run,
//! its memory (VmRSS) and open fds are back within a bound.
//!
//! `TRACTOR_FUZZ_CASES` sets the number of random sessions (default
//! [`DEFAULT_CASES`], about 2 s; the test's deadline of 300 s fits some
//! 5,000), `TRACTOR_FUZZ_SEED` the seed (printed on every run, so a
//! failure is replayed with it), `TRACTOR_FUZZ_VERBOSE` prints each case
//! and the actor's VmRSS after it, `TRACTOR_FUZZ_ONLY=<Action variant>`
//! keeps only the actions of that kind.

use std::time::Duration;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tractor::Aid;
use tractor::wire::FrameReader;
use tractor::wire::MAX_ERROR_NESTING;
use tractor::wire::{FlowSpec, FuncType, Msg, Start, codec};
use tractor::{Addr, Context, Error, TransportKind};

use crate::both_transports;
use crate::common::{self, MODULE, in_nursery};
use crate::ipc_robustness::{Io, dial};

#[path = "../support/wire.rs"]
mod wire;

both_transports!(
    random_sessions_leave_the_actor_serving timeout = 300,
    every_message_in_every_dialog_state timeout = 300,
    a_caller_window_does_not_size_the_callee_buffer,
    a_partial_frame_is_not_held_forever timeout = 120,
    a_large_first_frame_is_refused_at_once,
);

/// Random sessions per transport in CI.
const DEFAULT_CASES: usize = 48;
/// How long one case (session and checks) may take.
const CASE_DEADLINE: Duration = Duration::from_secs(30);
/// How long the actor may take to answer or drop.
const ANSWER_DEADLINE: Duration = Duration::from_secs(10);
/// Growth of the actor's resident memory allowed over a run.
const RSS_GROWTH_KIB: u64 = 64 * 1024;
/// Bytes the test sends to complete a frame it left unfinished; a
/// longer one is ended by closing the write side instead.
const MAX_PAD: usize = 256 * 1024;

/// Says `started(7)`, then echoes every stream item; returns the count.
#[tractor::context]
pub(crate) async fn echo_ctx(ctx: Context<u32, u64, u64>) -> Result<u64, Error> {
    ctx.started(7).await?;
    let stream = ctx.open_stream()?;
    let mut n = 0;
    while let Some(x) = stream.recv().await? {
        stream.send(x).await?;
        n += 1;
    }
    Ok(n)
}

/// Yields `0..n` (at most 1,000).
#[tractor::endpoint]
pub(crate) async fn count_up(n: u32) -> impl futures::Stream<Item = u32> {
    futures::stream::iter(0..n.min(1000))
}

// ---------------------------------------------------------------------------
// The raw peer.

/// The body of a transport control frame, which an empty prefix
/// announces (no message is empty): a shared-memory ring's offer, a
/// reference into it, or a large frame's fragment.
const CONTROL_BODY: usize = 20;
/// The kind (first byte) of a control frame offering a ring.
const CONTROL_OFFER: u8 = 2;
/// The kind of a control frame introducing a fragment: the frame's body
/// length (`u64` at 4), the fragment's (`u32` at 12), then its bytes.
const CONTROL_FRAGMENT: u8 = 3;
/// The longest fragment the actor accepts.
const FRAGMENT_MAX: usize = 128 * 1024;

/// The length of the body after a prefix of `prefix`.
fn body_len(prefix: u32) -> usize {
    match prefix {
        0 => CONTROL_BODY,
        n => n as usize,
    }
}

/// A model of the actor's reader over the bytes we send: where frames
/// start and end, and what the actor makes of each.
#[derive(Debug, Default)]
struct Model {
    /// Bytes of the frame in progress, prefix included.
    pending: Vec<u8>,
    state: Peer,
    /// A ring was offered since the handshake (a second offer is refused).
    offered: bool,
    /// A frame coming in fragments: its body's length and bytes so far.
    assembly: Option<(usize, Vec<u8>)>,
    /// Bytes of the current fragment still to come.
    fragment_left: usize,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Peer {
    /// No complete frame yet.
    #[default]
    Fresh,
    /// The first frame was a `Challenge`: only a valid proof of the
    /// secret (which a random frame never is) may follow.
    Challenged,
    /// The case's own handshake proved the secret: every later message
    /// is served.
    Handshaken,
    /// A frame the actor must drop the connection for.
    Dropped,
    /// A `CancelActor` reached the actor after the handshake: it obeys.
    CancelledActor,
}

impl Model {
    /// The largest frame the actor reads in the current state: small ones
    /// until the handshake is done.
    fn cap(&self) -> usize {
        match self.state {
            Peer::Fresh | Peer::Challenged => tractor::wire::HANDSHAKE_MAX_FRAME,
            _ => wire::MAX_FRAME,
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty()
            && matches!(
                self.state,
                Peer::Fresh | Peer::Challenged | Peer::Handshaken
            )
        {
            if self.fragment_left > 0 {
                let take = self.fragment_left.min(bytes.len());
                self.fragment_left -= take;
                if let Some((total, body)) = self.assembly.as_mut() {
                    body.extend_from_slice(&bytes[..take]);
                    if self.fragment_left == 0 && body.len() == *total {
                        let body = std::mem::take(body);
                        self.assembly = None;
                        self.frame(&body);
                    }
                }
                bytes = &bytes[take..];
                continue;
            }
            let want = match self.announced() {
                None => 4,
                Some(len) if len > self.cap() => {
                    self.state = Peer::Dropped;
                    return;
                }
                Some(len) => 4 + len,
            };
            let take = (want - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.announced().is_some_and(|l| l > self.cap()) {
                self.state = Peer::Dropped;
                return;
            }
            if self
                .announced()
                .is_some_and(|l| self.pending.len() == 4 + l)
            {
                let frame = std::mem::take(&mut self.pending);
                match frame[..4] == [0; 4] {
                    true => self.control(&frame[4..]),
                    false => self.frame(&frame[4..]),
                }
            }
        }
    }

    /// A control frame: an offer is taken (once, after the handshake; a
    /// reader of the handshake skips them), a fragment starts or goes on
    /// a frame if it agrees with it, anything else is refused (no ring of
    /// the actor's can be known to this peer).
    fn control(&mut self, body: &[u8]) {
        if body.first() == Some(&CONTROL_FRAGMENT) {
            let word = |at: usize| body.get(at..at + 8).and_then(|b| b.try_into().ok());
            let total = word(4).map_or(u64::MAX, u64::from_le_bytes);
            let len = body
                .get(12..16)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u32::from_le_bytes) as usize;
            let (got, same) = match &self.assembly {
                Some((t, b)) => (b.len(), *t as u64 == total),
                None => (0, total <= self.cap() as u64),
            };
            if len == 0 || len > FRAGMENT_MAX || !same || got as u64 + len as u64 > total {
                self.state = Peer::Dropped;
                return;
            }
            self.assembly
                .get_or_insert_with(|| (total as usize, Vec::new()));
            self.fragment_left = len;
            return;
        }
        self.state = match (self.state, body.first()) {
            (Peer::Handshaken, Some(&CONTROL_OFFER)) if !self.offered => {
                self.offered = true;
                Peer::Handshaken
            }
            (s @ (Peer::Fresh | Peer::Challenged), Some(&CONTROL_OFFER)) => s,
            _ => Peer::Dropped,
        };
    }

    /// The body's length the prefix announces, once all 4 bytes are here.
    fn announced(&self) -> Option<usize> {
        let p: [u8; 4] = self.pending.get(..4)?.try_into().ok()?;
        Some(body_len(u32::from_le_bytes(p)))
    }

    fn frame(&mut self, body: &[u8]) {
        let msg = codec::decode::<Msg>(body);
        self.state = match (self.state, msg) {
            (_, Err(_)) => Peer::Dropped,
            (Peer::Fresh, Ok(Msg::Challenge { .. })) => Peer::Challenged,
            (Peer::Fresh | Peer::Challenged, Ok(_)) => Peer::Dropped,
            (Peer::Handshaken, Ok(Msg::CancelActor { .. })) => Peer::CancelledActor,
            (s, Ok(_)) => s,
        };
    }

    /// Bytes that complete the frame (or fragment) in progress, if any
    /// is and it is short. (A frame whose fragments did not all come is
    /// held, and the actor serves on meanwhile.)
    fn padding(&self) -> Option<Vec<u8>> {
        if self.fragment_left > 0 {
            return (self.fragment_left <= MAX_PAD).then(|| vec![0u8; self.fragment_left]);
        }
        if self.pending.is_empty()
            || !matches!(
                self.state,
                Peer::Fresh | Peer::Challenged | Peer::Handshaken
            )
        {
            return Some(Vec::new());
        }
        let mut prefix = [0u8; 4];
        let have = self.pending.len().min(4);
        prefix[..have].copy_from_slice(&self.pending[..have]);
        let len = body_len(u32::from_le_bytes(prefix));
        let need = 4 + len - self.pending.len();
        (need <= MAX_PAD).then(|| vec![0u8; need])
    }
}

/// A raw connection: our bytes out, the actor's messages in (read by a
/// task of their own, so the actor never blocks writing to us).
struct Raw {
    w: WriteHalf<Box<dyn Io>>,
    rx: mpsc::UnboundedReceiver<Msg>,
    model: Model,
    /// The case did the client handshake (not a random first frame).
    handshaken: bool,
    write_failed: bool,
    next_cid: u64,
}

impl Raw {
    /// Dials the actor; with `handshake`, proves the tree's secret first
    /// (the one place the client handshake is done), which the model is
    /// told of: whatever follows it is served.
    async fn open(addr: &Addr, handshake: bool) -> Raw {
        let mut io = dial(addr).await;
        let mut model = Model::default();
        if handshake {
            let secret = tractor::wire::tree_secret().expect("inside the test's root");
            tractor::wire::dial_handshake_raw(&mut io, &Aid::new("fuzz"), &secret)
                .await
                .expect("the handshake");
            model.state = Peer::Handshaken;
        }
        let (r, w) = tokio::io::split(io);
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(read_all(r, tx));
        Raw {
            w,
            rx,
            model,
            handshaken: handshake,
            write_failed: false,
            next_cid: 1 << 40,
        }
    }

    /// Writes `bytes`; a write to a connection the actor dropped fails,
    /// which is recorded, not an error of the test.
    async fn send_bytes(&mut self, bytes: &[u8]) {
        self.model.feed(bytes);
        if self.write_failed {
            return;
        }
        let w = async {
            self.w.write_all(bytes).await?;
            self.w.flush().await
        };
        if w.await.is_err() {
            self.write_failed = true;
        }
    }

    async fn send(&mut self, m: &Msg) {
        self.send_bytes(&wire::frame(&wire::encode(m))).await
    }

    /// The next message matching `want`; `None` if the actor dropped the connection.
    async fn wait_for(&mut self, what: &str, want: impl Fn(&Msg) -> bool) -> Option<Msg> {
        let next = async {
            while let Some(m) = self.rx.recv().await {
                if want(&m) {
                    return Some(m);
                }
            }
            None
        };
        tokio::time::timeout(ANSWER_DEADLINE, next)
            .await
            .unwrap_or_else(|_| panic!("no {what} and no drop within {ANSWER_DEADLINE:?}"))
    }

    /// Like [`wait_for`](Self::wait_for), for a step that must succeed.
    async fn expect(&mut self, what: &str, want: impl Fn(&Msg) -> bool) -> Msg {
        match self.wait_for(what, want).await {
            Some(m) => m,
            None => panic!("the actor dropped the connection waiting for {what}"),
        }
    }

    /// A dialog id of our side (the dialer's are even) not used before.
    fn fresh_cid(&mut self) -> u64 {
        self.next_cid += 2;
        self.next_cid
    }

    /// Ends the case: the connection answers a `Ping`, or is dropped, as
    /// the model predicts. Returns what the model ended in.
    async fn settle(&mut self) -> Peer {
        // A control frame completed may start a fragment: its bytes are
        // padded next.
        for _ in 0..4 {
            match self.model.padding() {
                Some(pad) if pad.is_empty() => break,
                Some(pad) => self.send_bytes(&pad).await,
                // An unfinished frame too long to complete: end it with EOF.
                None => {
                    let _ = self.w.shutdown().await;
                    self.write_failed = true;
                    // EOF in the middle of a frame: the actor drops us.
                    self.model.state = Peer::Dropped;
                    break;
                }
            }
        }
        let state = self.model.state;
        let cid = self.fresh_cid();
        self.send(&Msg::Ping { cid }).await;
        let pong = self
            .wait_for(
                "the Pong",
                |m| matches!(m, Msg::Pong { cid: c } if *c == cid),
            )
            .await;
        let expect_pong = match self.model.state {
            Peer::Handshaken => true,
            Peer::Fresh | Peer::Challenged | Peer::Dropped => false,
            // Answered or not, the actor is on its way out.
            Peer::CancelledActor => return Peer::CancelledActor,
        };
        // A random first frame that is an `Aid` is a handshake only
        // while the handshake is one; the case's own handshake always is.
        if self.handshaken || !expect_pong {
            assert_eq!(
                pong.is_some(),
                expect_pong,
                "the connection {} (model: {state:?} before the Ping)",
                if pong.is_some() {
                    "kept working after a frame the actor must drop it for"
                } else {
                    "was dropped though every frame was a valid message"
                }
            );
        }
        if pong.is_some() {
            // Dropped on our side now; the actor sees EOF.
            let _ = self.w.shutdown().await;
        }
        state
    }
}

async fn read_all(r: ReadHalf<Box<dyn Io>>, tx: mpsc::UnboundedSender<Msg>) {
    let mut frames = FrameReader::new(r);
    while let Ok(Some(body)) = frames.next(wire::MAX_FRAME, ANSWER_DEADLINE).await {
        match codec::decode::<Msg>(body) {
            Ok(m) => {
                if tx.send(m).is_err() {
                    return;
                }
            }
            Err(e) => {
                // Seen by the test as a drop, which the checks then report.
                eprintln!("the actor sent a frame that is not a message: {e}");
                return;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Cases.

/// Endpoints a random `Start` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ep {
    Add,
    SleepForever,
    CountUp,
    EchoCtx,
    IdleCtx,
    /// Not an endpoint of the actor.
    Missing,
    /// A module the actor does not expose.
    Hidden,
}

impl Ep {
    const ALL: [Ep; 7] = [
        Ep::Add,
        Ep::SleepForever,
        Ep::CountUp,
        Ep::EchoCtx,
        Ep::IdleCtx,
        Ep::Missing,
        Ep::Hidden,
    ];

    fn path(self) -> (String, &'static str, FuncType) {
        let here = module_path!().to_string();
        let hostile = here.replace("fuzz", "hostile");
        match self {
            Ep::Add => (MODULE.into(), "add", FuncType::AsyncFunc),
            Ep::SleepForever => (MODULE.into(), "sleep_forever", FuncType::AsyncFunc),
            Ep::CountUp => (here, "count_up", FuncType::Stream),
            Ep::EchoCtx => (here, "echo_ctx", FuncType::Context),
            Ep::IdleCtx => (hostile, "idle_ctx", FuncType::Context),
            Ep::Missing => (MODULE.into(), "no_such_fn", FuncType::AsyncFunc),
            Ep::Hidden => ("std::fs".into(), "remove_dir_all", FuncType::AsyncFunc),
        }
    }

    /// Arguments that decode.
    fn good_args(self) -> Vec<u8> {
        let r = match self {
            Ep::Add => codec::encode(&(20u64, 22u64)),
            Ep::CountUp => codec::encode(&(5u32,)),
            Ep::EchoCtx | Ep::IdleCtx | Ep::SleepForever | Ep::Missing | Ep::Hidden => {
                codec::encode(&())
            }
        };
        r.unwrap_or_default()
    }
}

fn ep() -> impl Strategy<Value = Ep> {
    proptest::sample::select(Ep::ALL.to_vec())
}

/// The dialog the case sets up (cid [`DIALOG`]) before its actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    /// Nothing: no dialog.
    Idle,
    /// `Start` sent, nothing awaited.
    Sent(Ep),
    /// `StartAck` received.
    Acked(Ep),
    /// A context's `Started` received.
    Started,
    /// A context's stream open, an item echoed.
    MidStream,
    /// Our stream stopped, the context returned.
    AfterStop,
    /// A call returned.
    AfterReturn,
    /// A call failed (arguments that do not decode).
    AfterError,
}

/// The dialog id of the set-up dialog.
const DIALOG: u64 = 2;

fn setups() -> Vec<Setup> {
    let mut s = vec![Setup::Idle];
    for e in Ep::ALL {
        s.push(Setup::Sent(e));
    }
    for e in [Ep::SleepForever, Ep::CountUp, Ep::EchoCtx, Ep::IdleCtx] {
        s.push(Setup::Acked(e));
    }
    s.extend([
        Setup::Started,
        Setup::MidStream,
        Setup::AfterStop,
        Setup::AfterReturn,
        Setup::AfterError,
    ]);
    s
}

fn start_msg(cid: u64, ep: Ep, args: Vec<u8>, flow: FlowSpec) -> Msg {
    let (ns, func, kind) = ep.path();
    Msg::Start(Box::new(Start {
        cid,
        ns,
        func: func.into(),
        args,
        kind,
        sig: None,
        flow,
        trace: None,
    }))
}

fn is_for(m: &Msg, cid: u64, kind: &str) -> bool {
    m.kind() == kind
        && match m {
            Msg::StartAck { cid: c, .. }
            | Msg::Started { cid: c, .. }
            | Msg::Yield { cid: c, .. }
            | Msg::Return { cid: c, .. }
            | Msg::Error { cid: Some(c), .. } => *c == cid,
            _ => false,
        }
}

async fn set_up(raw: &mut Raw, setup: Setup) {
    let flow = FlowSpec::default();
    let ctx = start_msg(DIALOG, Ep::EchoCtx, Vec::new(), flow);
    match setup {
        Setup::Idle => {}
        Setup::Sent(e) => raw.send(&start_msg(DIALOG, e, e.good_args(), flow)).await,
        Setup::Acked(e) => {
            raw.send(&start_msg(DIALOG, e, e.good_args(), flow)).await;
            raw.expect("StartAck", |m| is_for(m, DIALOG, "StartAck"))
                .await;
        }
        Setup::Started => {
            raw.send(&ctx).await;
            raw.expect("Started", |m| is_for(m, DIALOG, "Started"))
                .await;
        }
        Setup::MidStream | Setup::AfterStop => {
            raw.send(&ctx).await;
            raw.expect("Started", |m| is_for(m, DIALOG, "Started"))
                .await;
            let pld = codec::encode(&41u64).unwrap_or_default();
            raw.send(&Msg::Yield { cid: DIALOG, pld }).await;
            raw.expect("the echo", |m| is_for(m, DIALOG, "Yield")).await;
            if setup == Setup::AfterStop {
                raw.send(&Msg::Stop { cid: DIALOG }).await;
                raw.expect("Return", |m| is_for(m, DIALOG, "Return")).await;
            }
        }
        Setup::AfterReturn => {
            raw.send(&start_msg(DIALOG, Ep::Add, Ep::Add.good_args(), flow))
                .await;
            raw.expect("Return", |m| is_for(m, DIALOG, "Return")).await;
        }
        Setup::AfterError => {
            raw.send(&start_msg(DIALOG, Ep::Add, vec![0xff], flow))
                .await;
            raw.expect("Error", |m| is_for(m, DIALOG, "Error")).await;
        }
    }
}

/// One step of a session.
#[derive(Debug, Clone)]
enum Action {
    /// A well-formed message.
    Msg(Msg),
    /// A `Start` of a known endpoint, with real or random arguments.
    Start {
        cid: u64,
        ep: Ep,
        args: Option<Vec<u8>>,
        flow: FlowSpec,
    },
    /// `count` `Credit`s of `n` each.
    CreditFlood { cid: u64, n: u32, count: u16 },
    /// `count` `Yield`s.
    YieldFlood { cid: u64, count: u16 },
    /// A frame of random bytes.
    Garbage(Vec<u8>),
    /// A real message's frame, its body or its whole frame mutated.
    Mutated {
        msg: Msg,
        edits: Vec<wire::Mutation>,
        prefix_too: bool,
    },
    /// A length prefix claiming `len` bytes, and a few of them.
    Claim { len: u32, some: Vec<u8> },
    /// An error nested `depth` deep.
    Nested { depth: usize, claim: wire::Claim },
    /// A real message's frame in fragments of `sizes` (the last takes
    /// the rest; a 0 is refused), with `between` sent between the first
    /// two, each fragment claiming a frame of `total` bytes (the body's
    /// length if `None`).
    Fragmented {
        msg: Msg,
        sizes: Vec<u16>,
        between: Option<Msg>,
        total: Option<u64>,
    },
}

/// Dialog ids worth aiming at: the set-up dialog, ids of ours never used,
/// the actor's own (odd) ids, and anything.
fn target_cid() -> BoxedStrategy<u64> {
    prop_oneof![
        4 => Just(DIALOG),
        1 => Just(0u64),
        1 => (2u64..12).prop_map(|c| c & !1),
        1 => (1u64..12).prop_map(|c| c | 1),
        1 => any::<u64>(),
    ]
    .boxed()
}

/// Well-formed messages only: the connection must keep working.
fn valid_action() -> BoxedStrategy<Action> {
    // `CancelActor` is obeyed (who may send it is the handshake's
    // business); the sweep sends it once, last.
    let msg = wire::msg_with(target_cid())
        .prop_filter("not CancelActor", |m| !matches!(m, Msg::CancelActor { .. }))
        .boxed();
    prop_oneof![
        6 => msg.prop_map(Action::Msg),
        3 => (target_cid(), ep(), proptest::option::of(wire::bytes(16)), wire::flow())
            .prop_map(|(cid, ep, args, flow)| Action::Start { cid, ep, args, flow }),
        1 => (target_cid(), any::<u32>(), 1u16..500)
            .prop_map(|(cid, n, count)| Action::CreditFlood { cid, n, count }),
        1 => (target_cid(), 1u16..500).prop_map(|(cid, count)| Action::YieldFlood { cid, count }),
        1 => (0usize..MAX_ERROR_NESTING)
            .prop_map(|depth| Action::Nested { depth, claim: wire::Claim::One }),
    ]
    .boxed()
}

/// Anything, malformed frames included.
fn action() -> BoxedStrategy<Action> {
    let msg = wire::msg_with(target_cid())
        .prop_filter("not CancelActor", |m| !matches!(m, Msg::CancelActor { .. }))
        .boxed();
    prop_oneof![
        6 => valid_action(),
        1 => wire::bytes(64).prop_map(Action::Garbage),
        2 => (msg.clone(), proptest::collection::vec(wire::mutation(), 1..4), proptest::bool::weighted(0.2))
            .prop_map(|(msg, edits, prefix_too)| Action::Mutated { msg, edits, prefix_too }),
        1 => (prop_oneof![Just(u32::MAX), Just(wire::MAX_FRAME as u32 + 1), 5u32..4096, 4096u32..(1 << 24)], wire::bytes(8))
            .prop_map(|(len, some)| Action::Claim { len, some }),
        1 => (0usize..200, wire::claim()).prop_map(|(depth, claim)| Action::Nested { depth, claim }),
        1 => (
            msg.clone(),
            proptest::collection::vec(prop_oneof![1 => Just(0u16), 8 => 1u16..64], 1..5),
            proptest::option::of(msg),
            proptest::option::weighted(0.2, prop_oneof![Just(u64::MAX), 0u64..256]),
        )
            .prop_map(|(msg, sizes, between, total)| Action::Fragmented { msg, sizes, between, total }),
    ]
    .boxed()
}

/// A random session.
#[derive(Debug, Clone)]
struct Case {
    handshake: bool,
    setup: Setup,
    actions: Vec<Action>,
}

fn case() -> impl Strategy<Value = Case> {
    let only = |a: &Action| {
        std::env::var("TRACTOR_FUZZ_ONLY").map_or(true, |k| format!("{a:?}").starts_with(&k))
    };
    (
        proptest::bool::weighted(0.8),
        proptest::sample::select(setups()),
        proptest::bool::weighted(0.5),
    )
        .prop_flat_map(move |(handshake, setup, hostile)| {
            let actions = if hostile { action() } else { valid_action() };
            proptest::collection::vec(actions.prop_filter("TRACTOR_FUZZ_ONLY", only), 1..12)
                .prop_map(move |actions| Case {
                    handshake,
                    // A dialog needs a handshake first.
                    setup: if handshake { setup } else { Setup::Idle },
                    actions,
                })
        })
}

async fn act(raw: &mut Raw, a: &Action) {
    match a {
        Action::Msg(m) => raw.send(m).await,
        Action::Start {
            cid,
            ep,
            args,
            flow,
        } => {
            let args = args.clone().unwrap_or_else(|| ep.good_args());
            raw.send(&start_msg(*cid, *ep, args, *flow)).await
        }
        Action::CreditFlood { cid, n, count } => {
            let one = wire::frame(&wire::encode(&Msg::Credit {
                cid: *cid,
                n: *n,
                bytes: 0,
            }));
            raw.send_bytes(&one.repeat(usize::from(*count))).await
        }
        Action::YieldFlood { cid, count } => {
            let pld = codec::encode(&7u64).unwrap_or_default();
            let one = wire::frame(&wire::encode(&Msg::Yield { cid: *cid, pld }));
            raw.send_bytes(&one.repeat(usize::from(*count))).await
        }
        Action::Garbage(b) => raw.send_bytes(&wire::frame(b)).await,
        Action::Mutated {
            msg,
            edits,
            prefix_too,
        } => {
            let bytes = if *prefix_too {
                edits
                    .iter()
                    .fold(wire::frame(&wire::encode(msg)), wire::apply)
            } else {
                wire::frame(&edits.iter().fold(wire::encode(msg), wire::apply))
            };
            raw.send_bytes(&bytes).await
        }
        Action::Claim { len, some } => {
            let mut b = len.to_le_bytes().to_vec();
            b.extend_from_slice(some);
            raw.send_bytes(&b).await
        }
        Action::Nested { depth, claim } => {
            raw.send_bytes(&wire::frame(&wire::nested_error_body(*depth, *claim)))
                .await
        }
        Action::Fragmented {
            msg,
            sizes,
            between,
            total,
        } => {
            let body = wire::encode(msg);
            let total = total.unwrap_or(body.len() as u64);
            let mut rest = &body[..];
            let mut bytes = Vec::new();
            for (k, &size) in sizes.iter().enumerate() {
                if rest.is_empty() {
                    break;
                }
                let n = match k + 1 == sizes.len() {
                    true => rest.len(),
                    false => usize::from(size).min(rest.len()),
                };
                bytes.extend_from_slice(&[0, 0, 0, 0, CONTROL_FRAGMENT, 0, 0, 0]);
                bytes.extend_from_slice(&total.to_le_bytes());
                bytes.extend_from_slice(&(n as u32).to_le_bytes());
                bytes.extend_from_slice(&[0; 4]);
                bytes.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                if let (0, Some(b)) = (k, between) {
                    bytes.extend_from_slice(&wire::frame(&wire::encode(b)));
                }
            }
            raw.send_bytes(&bytes).await
        }
    }
}

// ---------------------------------------------------------------------------
// The daemon and the checks around each case.

struct Daemon {
    p: tractor::Portal,
    addr: Addr,
    pid: u32,
}

async fn spawn_daemon(an: &tractor::ActorNursery) -> Result<Daemon, Error> {
    let hostile = module_path!().replace("fuzz", "hostile");
    let p = an
        .start_actor("fuzzed")
        .enable_modules([MODULE.to_string(), module_path!().to_string(), hostile])
        .await?;
    let addr: Addr = p
        .run(common::accept_addr::call())
        .await?
        .parse()
        .map_err(|e| Error::custom(format!("{e}")))?;
    let pid = p.run(common::pid::call()).await?;
    // Warm-up: the first panic's backtrace loads the binary's debug info
    // (150 MiB in a debug build), once; not a cost of the run.
    let panicked = p.run(common::panic_now::call("warm-up".into())).await;
    assert!(panicked.is_err(), "panic_now returned");
    Ok(Daemon { p, addr, pid })
}

/// A `/proc/<pid>/status` field in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("actor {pid} is gone (no {field} in its status)"))
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Alive, and answering its well-behaved parent correctly.
async fn still_serves(d: &Daemon, n: u64) {
    status_kib(d.pid, "VmRSS:");
    let call = d.p.run(common::add::call(n, 1));
    match tokio::time::timeout(ANSWER_DEADLINE, call).await {
        Ok(Ok(v)) => assert_eq!(v, n + 1, "a wrong answer"),
        Ok(Err(e)) => panic!("the parent's call failed: {e}"),
        Err(_) => panic!("the actor did not answer its parent within {ANSWER_DEADLINE:?}"),
    }
}

/// Runs one session on a fresh connection, then the checks; returns how
/// the model ended.
async fn run_case(d: &Daemon, c: &Case, n: u64) -> Peer {
    if std::env::var_os("TRACTOR_FUZZ_VERBOSE").is_some() {
        eprintln!("case {n}: {c:?}");
    }
    let mut raw = Raw::open(&d.addr, c.handshake).await;
    set_up(&mut raw, c.setup).await;
    for a in &c.actions {
        act(&mut raw, a).await;
    }
    let end = raw.settle().await;
    if std::env::var_os("TRACTOR_FUZZ_VERBOSE").is_some() && end != Peer::CancelledActor {
        eprintln!("  -> {end:?}, VmRSS {} KiB", status_kib(d.pid, "VmRSS:"));
    }
    if end != Peer::CancelledActor {
        still_serves(d, n).await;
    }
    end
}

/// What the run started from, to bound what it leaves.
struct Baseline {
    rss_kib: u64,
    fds: usize,
}

impl Baseline {
    fn of(d: &Daemon) -> Self {
        Baseline {
            rss_kib: status_kib(d.pid, "VmRSS:"),
            fds: open_fds(d.pid),
        }
    }

    /// Memory within the bound, and every raw connection closed.
    async fn check(&self, d: &Daemon) -> Result<(), Error> {
        let grown = status_kib(d.pid, "VmRSS:").saturating_sub(self.rss_kib);
        eprintln!("fuzzed actor {}: VmRSS grew by {grown} KiB", d.pid);
        assert!(
            grown < RSS_GROWTH_KIB,
            "the actor's VmRSS grew by {grown} KiB"
        );
        let most = self.fds + 2;
        crate::wait::until_async(
            "the actor to close the raw connections (its open fds)",
            ANSWER_DEADLINE,
            || async {
                let now = open_fds(d.pid);
                Ok::<_, Error>(crate::wait::holds(
                    now <= most,
                    format!("{now} fds, at most {most} expected"),
                ))
            },
        )
        .await
    }
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn random_sessions_leave_the_actor_serving(t: TransportKind) {
    let cases = env_or("TRACTOR_FUZZ_CASES", DEFAULT_CASES);
    let seed = env_or("TRACTOR_FUZZ_SEED", rand_seed());
    eprintln!("{cases} random sessions over {t:?}, TRACTOR_FUZZ_SEED={seed}");
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &key),
    );
    in_nursery(t, async |an| {
        let mut d = spawn_daemon(an).await?;
        let mut base = Baseline::of(&d);
        let (mut kept, mut dropped, mut obeyed) = (0, 0, 0);
        for n in 0..cases {
            let c = match case().new_tree(&mut runner) {
                Ok(tree) => tree.current(),
                Err(e) => panic!("cannot generate a case: {e}"),
            };
            let run = tokio::time::timeout(CASE_DEADLINE, run_case(&d, &c, n as u64));
            let end = match run.await {
                Ok(end) => end,
                Err(_) => panic!(
                    "case {n} (TRACTOR_FUZZ_SEED={seed}) passed its {CASE_DEADLINE:?} deadline: {c:#?}"
                ),
            };
            match end {
                Peer::Handshaken => kept += 1,
                Peer::CancelledActor => obeyed += 1,
                Peer::Fresh | Peer::Challenged | Peer::Dropped => dropped += 1,
            }
            if end == Peer::CancelledActor {
                // A mutation that happened to be a valid `CancelActor`:
                // obeyed; the run goes on with a fresh actor.
                d = spawn_daemon(an).await?;
                base = Baseline::of(&d);
            }
        }
        base.check(&d).await?;
        eprintln!(
            "{cases} sessions over {t:?}: {kept} kept the connection, {dropped} were dropped, {obeyed} ended by a CancelActor"
        );
        d.p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

fn rand_seed() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}

/// One example of every message type, aimed at the set-up dialog.
fn every_message() -> Vec<Msg> {
    let aid = Aid::new("fuzz");
    let err = tractor::RemoteActorError::new_local("x", "fuzz", &aid).into_data();
    let pld = codec::encode(&7u64).unwrap_or_default();
    vec![
        Msg::Aid(Box::new(aid)),
        Msg::SpawnSpec(Box::new(tractor::wire::SpawnSpec {
            enable_modules: vec!["std".into()],
            transport: TransportKind::Tcp,
            registry_addrs: Vec::new(),
            loglevel: Some("trace".into()),
            debug_mode: true,
            heartbeat_ms: Some((1, 1)),
            limits: tractor::Limits::default(),
            spawn_method: "forkserver".into(),
        })),
        Msg::Ready { register: None },
        // A stranger asking to be registered as if it were a child of ours.
        Msg::Ready {
            register: Some(vec![tractor::Addr::Tcp(([127, 0, 0, 1], 9).into())]),
        },
        start_msg(DIALOG, Ep::EchoCtx, Vec::new(), FlowSpec::default()),
        Msg::StartAck {
            cid: DIALOG,
            functype: FuncType::Context,
        },
        Msg::Started {
            cid: DIALOG,
            pld: pld.clone(),
        },
        Msg::Yield {
            cid: DIALOG,
            pld: pld.clone(),
        },
        Msg::Stop { cid: DIALOG },
        Msg::Return { cid: DIALOG, pld },
        Msg::Error {
            cid: Some(DIALOG),
            error: Box::new(err.clone()),
        },
        Msg::Error {
            cid: None,
            error: Box::new(err),
        },
        Msg::CancelTask {
            cid: 100,
            target: DIALOG,
        },
        Msg::Credit {
            cid: DIALOG,
            n: 1,
            bytes: 0,
        },
        Msg::CancelAck {
            cid: DIALOG,
            acked: true,
        },
        Msg::Heartbeat,
        Msg::Ping { cid: DIALOG },
        Msg::Pong { cid: DIALOG },
        Msg::Challenge { nonce: [7; 32] },
        Msg::Proof { mac: [7; 32] },
        // Last: the actor obeys it.
        Msg::CancelActor { cid: 102 },
    ]
}

/// Every message type, in every dialog state, before and after the
/// handshake, each on a connection of its own (twice in a row, so a
/// repeated message and a reused cid are covered too).
async fn every_message_in_every_dialog_state(t: TransportKind) {
    in_nursery(t, async |an| {
        let d = spawn_daemon(an).await?;
        let base = Baseline::of(&d);
        let mut n = 0;
        let msgs = every_message();
        let (cancel, msgs) = msgs.split_last().expect("messages");
        for m in msgs {
            let mut cases = vec![Case {
                handshake: false,
                setup: Setup::Idle,
                actions: vec![Action::Msg(m.clone())],
            }];
            for setup in setups() {
                cases.push(Case {
                    handshake: true,
                    setup,
                    actions: vec![Action::Msg(m.clone()), Action::Msg(m.clone())],
                });
            }
            for c in cases {
                n += 1;
                let run = tokio::time::timeout(CASE_DEADLINE, run_case(&d, &c, n));
                assert!(
                    run.await.is_ok(),
                    "{} passed its {CASE_DEADLINE:?} deadline: {c:?}",
                    m.kind()
                );
            }
        }
        base.check(&d).await?;
        // `CancelActor` before the handshake is refused ...
        let c = Case {
            handshake: false,
            setup: Setup::Idle,
            actions: vec![Action::Msg(cancel.clone())],
        };
        assert_eq!(run_case(&d, &c, 0).await, Peer::Dropped);
        // ... and after it, obeyed: acked, and the actor exits.
        let mut raw = Raw::open(&d.addr, true).await;
        set_up(&mut raw, Setup::MidStream).await;
        raw.send(cancel).await;
        raw.expect("the CancelAck", |m| {
            matches!(
                m,
                Msg::CancelAck {
                    cid: 102,
                    acked: true
                }
            )
        })
        .await;
        eprintln!("{n} cases over {t:?}");
        Ok(())
    })
    .await
    .unwrap();
}

// ---------------------------------------------------------------------------
// Targeted properties for the bounds of `tractor::Limits`, at their
// defaults.

/// How long the actor may take to refuse a large first frame.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(2);

/// How long the actor may keep a partial frame: the liveness watchdog
/// drops a silent peer after 10 s by default, and `Limits::frame_timeout`
/// (30 s) bounds it with heartbeats off too.
const PARTIAL_FRAME_DEADLINE: Duration = Duration::from_secs(60);

/// A context that never reads its stream, opened with a window of
/// `u32::MAX`, flooded with 200,000 `Yield`s: the callee buffers at most
/// its own `Limits::stream_buffer`, fails the dialog with a typed error,
/// and stays small.
async fn a_caller_window_does_not_size_the_callee_buffer(t: TransportKind) {
    in_nursery(t, async |an| {
        let d = spawn_daemon(an).await?;
        let base = Baseline::of(&d);
        let mut raw = Raw::open(&d.addr, true).await;
        let flow = FlowSpec {
            window: u32::MAX,
            overrun: false,
        };
        raw.send(&start_msg(DIALOG, Ep::IdleCtx, Vec::new(), flow))
            .await;
        raw.expect("Started", |m| is_for(m, DIALOG, "Started"))
            .await;
        let pld = codec::encode(&7u8).unwrap_or_default();
        let one = wire::frame(&wire::encode(&Msg::Yield { cid: DIALOG, pld }));
        for _ in 0..20 {
            raw.send_bytes(&one.repeat(10_000)).await;
        }
        // The loop has handled the flood once it answers a Ping after it.
        raw.send(&Msg::Ping { cid: 4 }).await;
        let failed = std::cell::Cell::new(false);
        raw.expect("the Pong", |m| {
            failed.set(failed.get() || is_for(m, DIALOG, "Error"));
            matches!(m, Msg::Pong { cid: 4 })
        })
        .await;
        let grown = status_kib(d.pid, "VmRSS:").saturating_sub(base.rss_kib);
        eprintln!("200,000 Yields at a window of u32::MAX: VmRSS grew by {grown} KiB");
        if !failed.get() {
            // The task answers once its cancel went through, which may
            // be after the loop answered the Ping.
            raw.expect("the flooded dialog's Error", |m| is_for(m, DIALOG, "Error"))
                .await;
        }
        assert!(grown < 8 * 1024, "VmRSS grew by {grown} KiB");
        still_serves(&d, 1).await;
        d.p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// A handshaken peer announces a 1 MiB frame, sends ten bytes of it and
/// goes quiet: the actor drops the connection within the deadline.
async fn a_partial_frame_is_not_held_forever(t: TransportKind) {
    in_nursery(t, async |an| {
        let d = spawn_daemon(an).await?;
        let mut raw = Raw::open(&d.addr, true).await;
        let mut partial = (1u32 << 20).to_le_bytes().to_vec();
        partial.extend_from_slice(&[0; 10]);
        raw.send_bytes(&partial).await;
        let dropped = async { while raw.rx.recv().await.is_some() {} };
        assert!(
            tokio::time::timeout(PARTIAL_FRAME_DEADLINE, dropped)
                .await
                .is_ok(),
            "a partial frame held the connection open past {PARTIAL_FRAME_DEADLINE:?}"
        );
        still_serves(&d, 1).await;
        d.p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// A first frame announcing 32 MiB, its first bytes sent: refused at once
/// (well within the handshake timeout), not read into a reservation.
async fn a_large_first_frame_is_refused_at_once(t: TransportKind) {
    in_nursery(t, async |an| {
        let d = spawn_daemon(an).await?;
        let mut raw = Raw::open(&d.addr, false).await;
        let mut first = (32u32 << 20).to_le_bytes().to_vec();
        first.extend_from_slice(&[0; 10]);
        raw.send_bytes(&first).await;
        let dropped = async { while raw.rx.recv().await.is_some() {} };
        assert!(
            tokio::time::timeout(REFUSAL_DEADLINE, dropped)
                .await
                .is_ok(),
            "a 32 MiB first frame was not refused within {REFUSAL_DEADLINE:?}"
        );
        still_serves(&d, 1).await;
        d.p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

//! The wire protocol: every message two actors exchange.
//!
//! A dialog is `Start` → `StartAck` → (`Started`, `Yield`*, `Stop`) → exactly
//! one of `Return` | `Error`. Runtime requests (`CancelActor`, `CancelTask`)
//! are answered by `CancelAck`. Payloads (`args`, `pld`) stay encoded bytes
//! here: the channel decodes only this envelope, and the typed end of a
//! dialog decodes its payload, so the runtime's own traffic never depends on
//! user payload types.

// `tractor::wire` (the `wire` feature) exposes parts of this module
// to tests that speak the protocol by hand; without it they are internal.
#![cfg_attr(not(feature = "wire"), allow(unreachable_pub, dead_code))]

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::addr::{Addr, TransportKind};
use super::trace::TraceParent;

/// Dialog id, unique on one channel. The low bit says which side allocated
/// it (set by the side that accepted the connection), so both peers can open
/// dialogs on the same channel without colliding.
pub type Cid = u64;

/// An actor's identity: name, a uuid unique to this incarnation, and its pid.
///
/// Two `Aid`s are equal when their uuids are.
///
/// ```
/// use tractor::Aid;
/// let a = Aid::new("worker");
/// assert_eq!(a.name, "worker");
/// assert_eq!(a.to_string(), format!("worker@{}", std::process::id()));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Aid {
    /// The name given at spawn.
    pub name: String,
    /// Unique per actor incarnation.
    pub uuid: Uuid,
    /// OS process id.
    pub pid: u32,
}

impl Aid {
    /// A fresh identity for an actor in this process.
    pub fn new(name: impl Into<String>) -> Self {
        Aid {
            name: name.into(),
            uuid: Uuid::new_v4(),
            pid: std::process::id(),
        }
    }
}

impl PartialEq for Aid {
    fn eq(&self, other: &Self) -> bool {
        self.uuid == other.uuid
    }
}
impl Eq for Aid {}
impl std::hash::Hash for Aid {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.uuid.hash(state)
    }
}

impl std::fmt::Display for Aid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.pid)
    }
}

/// What the parent tells a freshly spawned child before anything else.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SpawnSpec {
    /// Module paths whose endpoints this child may serve.
    pub enable_modules: Vec<String>,
    /// The transport the child listens on.
    pub transport: TransportKind,
    /// Registrar addresses of the tree.
    pub registry_addrs: Vec<Addr>,
    /// Effective log filter for the child.
    pub loglevel: Option<String>,
    /// Debug mode of the tree.
    pub debug_mode: bool,
    /// Channel liveness settings of the tree: `(interval_ms, timeout_ms)`,
    /// `None` when heartbeats are off.
    pub heartbeat_ms: Option<(u64, u64)>,
    /// What one peer may cost each actor of the tree.
    pub limits: super::limits::Limits,
    /// The spawn backend the child uses for its own children unless it
    /// chooses (`exec`, `forkserver`, `thread`).
    pub spawn_method: String,
}

/// FNV-1a, for signature hashes that must agree across binaries.
pub(crate) fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// What kind of function a `Start` scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FuncType {
    /// A plain async function answered by one `Return`.
    AsyncFunc,
    /// A one-way stream of `Yield`s.
    Stream,
    /// A context dialog.
    Context,
}

/// Schedule a remote task.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Start {
    /// The dialog id chosen by the caller.
    pub cid: Cid,
    /// Module path of the endpoint.
    pub ns: String,
    /// Function name.
    pub func: String,
    /// Postcard-encoded argument struct.
    #[serde(with = "serde_bytes")]
    pub args: Vec<u8>,
    /// The kind of function the caller expects.
    pub kind: FuncType,
    /// Hash of the caller's compiled-in signature; `None` for name-based calls.
    pub sig: Option<u64>,
    /// Stream flow settings of the dialog.
    pub flow: FlowSpec,
    /// The caller's trace context; `None` when the caller is in no
    /// trace, so the callee's task starts one.
    pub trace: Option<TraceParent>,
}

/// A [`Msg::Start`] in place: its names and arguments borrowed, from
/// the frame it was read from or from the caller that sends it. Read and
/// written ([`append_to`](Self::append_to)), it has the bytes of a
/// `Msg::Start`, with no boxed copy of them (a call would allocate and
/// free three).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StartView<'a> {
    pub cid: Cid,
    #[serde(borrow)]
    pub ns: &'a str,
    #[serde(borrow)]
    pub func: &'a str,
    #[serde(borrow, with = "serde_bytes")]
    pub args: &'a [u8],
    pub kind: FuncType,
    pub sig: Option<u64>,
    pub flow: FlowSpec,
    pub trace: Option<TraceParent>,
}

/// [`Msg::Start`]'s index in [`Msg`], which postcard writes as its tag.
const START_TAG: u32 = 3;

/// A [`StartView`] encoded by the serializer as the `Msg::Start` it
/// stands for: the variant's tag, then the fields of [`Start`], in order
/// (what the tests hold [`StartView::append_to`] to).
#[cfg(test)]
pub(crate) struct StartMsg<'v, 'a>(pub &'v StartView<'a>);

#[cfg(test)]
impl Serialize for StartMsg<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_variant("Msg", START_TAG, "Start", self.0)
    }
}

impl<'a> StartView<'a> {
    /// A `Start` frame body read in place; `None` for any other message,
    /// and for a `Start` that does not decode (which the generic decoder
    /// then judges). Accepts only bodies the generic decoder decodes to
    /// the same `Msg::Start`.
    pub(crate) fn of(body: &'a [u8]) -> Option<StartView<'a>> {
        // The tag, a varint below 128, is its one byte.
        let (&tag, rest) = body.split_first()?;
        if u32::from(tag) != START_TAG {
            return None;
        }
        match postcard::take_from_bytes::<StartView<'a>>(rest) {
            Ok((view, [])) => Some(view),
            _ => None,
        }
    }

    /// Appends the bytes postcard writes for this `Msg::Start`, written
    /// field by field: the generic serializer spent about 1,700
    /// instructions on a call's `Start`, most of a caller's encoding. A
    /// trace context, when there is one, is still the serializer's.
    pub(crate) fn append_to(&self, buf: &mut Vec<u8>) -> Result<(), String> {
        use super::frame::push_varint;
        let bytes = |buf: &mut Vec<u8>, b: &[u8]| {
            push_varint(buf, b.len() as u64);
            buf.extend_from_slice(b);
        };
        buf.reserve(32 + self.ns.len() + self.func.len() + self.args.len());
        push_varint(buf, u64::from(START_TAG));
        push_varint(buf, self.cid);
        bytes(buf, self.ns.as_bytes());
        bytes(buf, self.func.as_bytes());
        bytes(buf, self.args);
        push_varint(buf, self.kind as u64);
        match self.sig {
            None => buf.push(0),
            Some(sig) => {
                buf.push(1);
                push_varint(buf, sig);
            }
        }
        push_varint(buf, u64::from(self.flow.window));
        buf.push(u8::from(self.flow.overrun));
        match &self.trace {
            None => {
                buf.push(0);
                Ok(())
            }
            Some(trace) => {
                buf.push(1);
                super::frame::append(trace, buf)
            }
        }
    }

    /// A view of an owned `Start`.
    pub(crate) fn from_owned(s: &'a Start) -> StartView<'a> {
        StartView {
            cid: s.cid,
            ns: &s.ns,
            func: &s.func,
            args: &s.args,
            kind: s.kind,
            sig: s.sig,
            flow: s.flow,
            trace: s.trace.clone(),
        }
    }
}

/// How stream traffic of one dialog is paced, chosen by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowSpec {
    /// Messages either side may have in flight unread (the receive buffer).
    /// With backpressure a sender also keeps its unacknowledged payload
    /// bytes under 1 MiB (one larger message may always go), so a large
    /// window of large items does not mean as large a buffer.
    pub window: u32,
    /// `false`: credit-based backpressure (a sender waits for window).
    /// `true`: tractor's mode, no waiting; a receiver whose buffer
    /// overflows fails the dialog with `StreamOverrun` unless it allows overruns.
    pub overrun: bool,
}

/// Messages a dialog's window holds unless its caller chooses: what a
/// receiver with default [`Limits`](super::Limits) queues
/// (`stream_buffer`), enough that a stream of small items is seldom held
/// up by credit round trips (a one-way `u64` stream went from 5-10 to
/// 10-16 M items/s with 4,096 over 1,024), and that credit goes back
/// seldom: every credit and every write wakes the other side's thread,
/// which in a VM costs microseconds (16,384 over 4,096: 13-15 over 9-13
/// M items/s, and up to 15% less CPU per item, in the same runs). Large items
/// are held by [`WINDOW_BYTES`] first, so the window costs memory only as
/// small items.
pub(crate) const DEFAULT_WINDOW: u32 = 16 * 1024;

/// Payload bytes a sender may have unacknowledged in a dialog with
/// backpressure, however many messages its window allows (one larger
/// message may always go). Both ends know it: a receiver returns credit
/// once it has read a quarter of it, so a sender held by bytes is never left
/// waiting for credit that a count of messages would not yet send.
pub(crate) const WINDOW_BYTES: usize = 1024 * 1024;

impl Default for FlowSpec {
    fn default() -> Self {
        FlowSpec {
            window: DEFAULT_WINDOW,
            overrun: false,
        }
    }
}

/// Wire form of a boxed error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorData {
    /// Type name at this hop (`RemoteActorError` once relayed).
    pub boxed_type: String,
    /// Type name where the error was raised.
    pub src_type: String,
    /// `Display` of the original error.
    pub message: String,
    /// `Display` of each `source()` below it.
    pub source_chain: Vec<String>,
    /// The actor where the error was raised.
    pub src_uid: Aid,
    /// Every actor it crossed: starts with `src_uid`, each relaying actor appends itself.
    pub relay_path: Vec<Aid>,
    /// Backtrace text, when one was captured.
    pub backtrace: Option<String>,
    /// Postcard encoding of the original error value when its type is `Serialize`.
    pub value: Option<Vec<u8>>,
    /// The actor that requested a cancellation, for `ContextCancelled`.
    pub canceller: Option<Aid>,
    /// Errors grouped under this one (an aggregate from a nested nursery).
    /// At most [`MAX_ERROR_NESTING`] levels deep on the wire: decoding is
    /// recursive, and a peer must not be able to exhaust our stack.
    #[serde(deserialize_with = "bounded::grouped")]
    pub grouped: Vec<ErrorData>,
}

/// How deep errors may nest (`grouped` inside `grouped`) in a decoded
/// message. Real trees aggregate a level per nursery; 64 is far beyond them.
pub const MAX_ERROR_NESTING: usize = 64;

mod bounded {
    use std::cell::Cell;

    use serde::Deserializer;
    use serde::de::{Error as _, SeqAccess, Visitor};

    use super::{ErrorData, MAX_ERROR_NESTING};

    thread_local! {
        static DEPTH: Cell<usize> = const { Cell::new(0) };
    }

    /// Restores the depth on every way out, an error included.
    struct Level(usize);

    impl Drop for Level {
        fn drop(&mut self) {
            DEPTH.with(|d| d.set(self.0));
        }
    }

    pub(super) fn grouped<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ErrorData>, D::Error> {
        let depth = DEPTH.with(Cell::get);
        if depth >= MAX_ERROR_NESTING {
            return Err(D::Error::custom(format!(
                "errors nested deeper than {MAX_ERROR_NESTING} levels"
            )));
        }
        let _level = Level(depth);
        DEPTH.with(|c| c.set(depth + 1));
        d.deserialize_seq(Grouped)
    }

    /// A `Vec<ErrorData>` grown as errors arrive. The count on the wire
    /// is the peer's claim: reserving room for it (serde's default, up to
    /// 1 MiB) at every level of nesting at once let a 4 KiB frame hold
    /// 33 MiB while it was decoded. Honest groups are a few errors.
    struct Grouped;

    impl<'de> Visitor<'de> for Grouped {
        type Value = Vec<ErrorData>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a sequence of errors")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut v = Vec::new();
            while let Some(e) = seq.next_element()? {
                v.push(e);
            }
            Ok(v)
        }
    }
}

/// One protocol message.
///
/// The rare large variants are boxed, so a `Msg` is five words: it is
/// what every dialog's queue holds slots of, and what a stream moves per
/// item. A box changes nothing on the wire.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Msg {
    /// Handshake: each side's identity, once it is authenticated.
    Aid(Box<Aid>),
    /// Parent → child bootstrap, right after the handshake.
    SpawnSpec(Box<SpawnSpec>),
    /// Child → parent: booted (listening, registered); spawning is done.
    Ready {
        /// Where the child listens, when its parent is also its
        /// registrar: the parent registers it on this message, one round
        /// trip less per spawn than a separate `register` call. `None`
        /// when the child registered elsewhere (or not at all).
        register: Option<Vec<Addr>>,
    },
    /// Schedule a remote task.
    Start(Box<Start>),
    /// The task was scheduled.
    StartAck {
        /// Dialog.
        cid: Cid,
        /// What was scheduled.
        functype: FuncType,
    },
    /// Context handshake value (contexts).
    Started {
        /// Dialog.
        cid: Cid,
        /// Encoded value.
        #[serde(with = "serde_bytes")]
        pld: Vec<u8>,
    },
    /// A stream item (streams, contexts).
    Yield {
        /// Dialog.
        cid: Cid,
        /// Encoded value.
        #[serde(with = "serde_bytes")]
        pld: Vec<u8>,
    },
    /// End of one side's stream.
    Stop {
        /// Dialog.
        cid: Cid,
    },
    /// The task's final value.
    Return {
        /// Dialog.
        cid: Cid,
        /// Encoded value.
        #[serde(with = "serde_bytes")]
        pld: Vec<u8>,
    },
    /// The task (or, with no cid, the peer's runtime) failed.
    Error {
        /// Dialog, if the error belongs to one.
        cid: Option<Cid>,
        /// The boxed error.
        error: Box<ErrorData>,
    },
    /// Cancel the peer's whole runtime and process.
    CancelActor {
        /// Dialog for the ack.
        cid: Cid,
    },
    /// Cancel one task of the peer.
    CancelTask {
        /// Dialog for the ack.
        cid: Cid,
        /// The task's own dialog id.
        target: Cid,
    },
    /// The receiver consumed `n` stream messages of `bytes` payload bytes
    /// in all: the sender may send `n` more, and that many more bytes.
    Credit {
        /// Dialog.
        cid: Cid,
        /// Messages of window returned.
        n: u32,
        /// Payload bytes of those messages (the byte window returned).
        bytes: u64,
    },
    /// Reply to a cancel request.
    CancelAck {
        /// Dialog of the request.
        cid: Cid,
        /// Whether something was cancelled.
        acked: bool,
    },
    /// Liveness: sent on an otherwise idle channel, so the peer can tell a
    /// quiet actor from a stopped or wedged one.
    Heartbeat,
    /// Liveness probe: answered at once with `Pong` by the peer's message
    /// loop, which a peer wedged in blocking code cannot do.
    Ping {
        /// Dialog for the answer.
        cid: Cid,
    },
    /// The answer to `Ping`.
    Pong {
        /// Dialog of the probe.
        cid: Cid,
    },
    /// Handshake, first message of each side: a fresh random nonce the
    /// other side must prove the shared secret over (see [`auth`](super::auth)).
    Challenge {
        /// 32 random bytes.
        nonce: [u8; 32],
    },
    /// Handshake: HMAC-SHA256 of the shared secret over both nonces and
    /// the sender's role.
    Proof {
        /// The MAC.
        mac: [u8; 32],
    },
}

/// The messages that carry a payload, which [`Msg::payload_frame`]
/// encodes without copying the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadMsg {
    /// [`Msg::Started`].
    Started,
    /// [`Msg::Yield`].
    Yield,
    /// [`Msg::Return`].
    Return,
}

impl PayloadMsg {
    /// The variant's index in [`Msg`], which postcard writes as its tag.
    pub(crate) fn tag(self) -> u8 {
        match self {
            PayloadMsg::Started => 5,
            PayloadMsg::Yield => 6,
            PayloadMsg::Return => 8,
        }
    }
}

impl Msg {
    /// Frames `kind { cid, pld: encode(value) }` in one pass (the same
    /// bytes as encoding the message, without the intermediate payload).
    pub fn payload_frame<T: Serialize + ?Sized>(
        kind: PayloadMsg,
        cid: Cid,
        value: &T,
    ) -> Result<super::frame::Frame, String> {
        super::frame::Frame::with_payload(kind.tag(), cid, value)
    }

    /// The dialog the message belongs to, if it belongs to one.
    pub(crate) fn dialog(&self) -> Option<Cid> {
        match self {
            Msg::Start(s) => Some(s.cid),
            Msg::StartAck { cid, .. }
            | Msg::Started { cid, .. }
            | Msg::Yield { cid, .. }
            | Msg::Stop { cid, .. }
            | Msg::Return { cid, .. }
            | Msg::CancelActor { cid, .. }
            | Msg::Credit { cid, .. }
            | Msg::CancelAck { cid, .. }
            | Msg::Ping { cid, .. }
            | Msg::Pong { cid, .. } => Some(*cid),
            // Ordered with the task it cancels, not with its ack.
            Msg::CancelTask { target, .. } => Some(*target),
            Msg::Error { cid, .. } => *cid,
            _ => None,
        }
    }

    /// The message's name, for logs and protocol errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Msg::Aid(_) => "Aid",
            Msg::SpawnSpec(_) => "SpawnSpec",
            Msg::Ready { .. } => "Ready",
            Msg::Start(_) => "Start",
            Msg::StartAck { .. } => "StartAck",
            Msg::Started { .. } => "Started",
            Msg::Yield { .. } => "Yield",
            Msg::Stop { .. } => "Stop",
            Msg::Return { .. } => "Return",
            Msg::Error { .. } => "Error",
            Msg::CancelActor { .. } => "CancelActor",
            Msg::CancelTask { .. } => "CancelTask",
            Msg::Credit { .. } => "Credit",
            Msg::CancelAck { .. } => "CancelAck",
            Msg::Heartbeat => "Heartbeat",
            Msg::Ping { .. } => "Ping",
            Msg::Pong { .. } => "Pong",
            Msg::Challenge { .. } => "Challenge",
            Msg::Proof { .. } => "Proof",
        }
    }
}

/// The dialog and payload of a `Yield` frame body, read in place; `None`
/// for any other message, and for anything unusual about a `Yield`
/// (which the generic decoder then judges). Accepts only bodies the
/// generic decoder decodes to the same `Msg::Yield { cid, pld }`.
#[inline]
pub(crate) fn split_yield(body: &[u8]) -> Option<(Cid, &[u8])> {
    // The common shape, one frame per small item of a busy stream: a
    // dialog id and a length of one byte each (below 128). A fifth of
    // the message loop's CPU per item went to the general varint reads.
    if let [tag, cid, len, pld @ ..] = body
        && *tag == PayloadMsg::Yield.tag()
        && *cid < 0x80
        && *len < 0x80
    {
        return (pld.len() == usize::from(*len)).then_some((Cid::from(*cid), pld));
    }
    split_yield_general(body)
}

/// [`split_yield`] for any varint widths.
fn split_yield_general(body: &[u8]) -> Option<(Cid, &[u8])> {
    split_payload(body, PayloadMsg::Yield)
}

/// The dialog and payload of a frame body of `kind`, read in place;
/// `None` for any other message and anything unusual (see
/// [`split_yield`]).
fn split_payload(body: &[u8], kind: PayloadMsg) -> Option<(Cid, &[u8])> {
    let (&tag, rest) = body.split_first()?;
    if tag != kind.tag() {
        return None;
    }
    let (cid, rest) = take_varint(rest, 10)?;
    // Postcard reads the length as a `usize`: at most 5 bytes where that
    // is 32 bits. Longer ones (never written) are left to it everywhere.
    let (len, pld) = take_varint(rest, 5)?;
    (u64::try_from(pld.len()).ok()? == len).then_some((cid, pld))
}

/// The answers a caller reads on every call (`StartAck`, `Started`,
/// `Return`), read in place rather than through the generic decoder; `None`
/// for any other message and anything unusual about these, which the
/// generic decoder then judges. Gives only what the generic decoder
/// decodes the same body to.
pub(crate) fn decode_answer(body: &[u8]) -> Option<Msg> {
    match *body.first()? {
        START_ACK_TAG => {
            let (cid, rest) = take_varint(&body[1..], 10)?;
            let functype = match rest {
                [0] => FuncType::AsyncFunc,
                [1] => FuncType::Stream,
                [2] => FuncType::Context,
                _ => return None,
            };
            Some(Msg::StartAck { cid, functype })
        }
        tag if tag == PayloadMsg::Return.tag() => {
            let (cid, pld) = split_payload(body, PayloadMsg::Return)?;
            Some(Msg::Return {
                cid,
                pld: pld.to_vec(),
            })
        }
        tag if tag == PayloadMsg::Started.tag() => {
            let (cid, pld) = split_payload(body, PayloadMsg::Started)?;
            Some(Msg::Started {
                cid,
                pld: pld.to_vec(),
            })
        }
        _ => None,
    }
}

/// [`Msg::StartAck`]'s index in [`Msg`], which postcard writes as its tag.
const START_ACK_TAG: u8 = 4;

/// A LEB128 `u64` of at most `max_bytes` (up to 10) bytes, as postcard
/// reads one (no bits beyond 64), and what follows it.
fn take_varint(b: &[u8], max_bytes: usize) -> Option<(u64, &[u8])> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(max_bytes) {
        if i == 9 && byte > 1 {
            return None;
        }
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, &b[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Start` in place encodes to the bytes of the owned one, and
    /// decodes back to it, whatever its fields hold.
    #[test]
    fn a_borrowed_start_encodes_as_the_owned_one() {
        let mut carrier = crate::ipc::trace::Carrier::new();
        carrier.insert("traceparent", "00-abc-def-01").unwrap();
        let traces = [
            None,
            Some(TraceParent::default()),
            Some(TraceParent {
                trace_id: u128::MAX,
                span_id: 1 << 40,
                carrier,
            }),
        ];
        for cid in [0, 1, 300, u64::MAX] {
            for (ns, func) in [("", ""), ("a::b", "f"), ("m\u{e9}\u{1f980}", "g_h")] {
                for args in [vec![], vec![7; 3], vec![1; 300]] {
                    for kind in [FuncType::AsyncFunc, FuncType::Stream, FuncType::Context] {
                        for sig in [None, Some(0), Some(u64::MAX)] {
                            for trace in &traces {
                                let flow = FlowSpec {
                                    window: match cid {
                                        0 => 0,
                                        1 => 127,
                                        300 => 128,
                                        _ => u32::MAX,
                                    },
                                    overrun: args.len() == 3,
                                };
                                let owned = Msg::Start(Box::new(Start {
                                    cid,
                                    ns: ns.into(),
                                    func: func.into(),
                                    args: args.clone(),
                                    kind,
                                    sig,
                                    flow,
                                    trace: trace.clone(),
                                }));
                                let view = StartView {
                                    cid,
                                    ns,
                                    func,
                                    args: &args,
                                    kind,
                                    sig,
                                    flow,
                                    trace: trace.clone(),
                                };
                                let bytes = postcard::to_stdvec(&StartMsg(&view)).unwrap();
                                assert_eq!(bytes, postcard::to_stdvec(&owned).unwrap());
                                let mut by_hand = vec![9];
                                view.append_to(&mut by_hand).unwrap();
                                assert_eq!(by_hand[1..], bytes[..], "written by hand");
                                let back: Msg = postcard::from_bytes(&bytes).unwrap();
                                assert_eq!(format!("{back:?}"), format!("{owned:?}"));
                            }
                        }
                    }
                }
            }
        }
    }

    /// The in-place read of a `Start` takes every `Start` the encoder
    /// writes and agrees with the generic decoder; it leaves other
    /// messages and malformed `Start`s to the decoder.
    #[test]
    fn a_start_read_in_place_agrees_with_the_decoder() {
        let mut carrier = crate::ipc::trace::Carrier::new();
        carrier.insert("k", "v").unwrap();
        for trace in [
            None,
            Some(TraceParent::default()),
            Some(TraceParent {
                trace_id: 7,
                span_id: 9,
                carrier,
            }),
        ] {
            for (ns, func, args) in [
                ("", "", vec![]),
                ("a::b", "f", vec![1, 2, 3]),
                ("x", "y", vec![9; 500]),
            ] {
                let start = Start {
                    cid: 300,
                    ns: ns.into(),
                    func: func.into(),
                    args: args.clone(),
                    kind: FuncType::Context,
                    sig: Some(5),
                    flow: FlowSpec::default(),
                    trace: trace.clone(),
                };
                let body = postcard::to_stdvec(&Msg::Start(Box::new(start.clone()))).unwrap();
                let view = StartView::of(&body).expect("an encoded Start is read in place");
                assert_eq!(
                    format!("{view:?}"),
                    format!("{:?}", StartView::from_owned(&start))
                );
                // Cut short, or with a byte more: left to the decoder, which refuses it too.
                for bad in [&body[..body.len() - 1], &[&body[..], &[0]].concat()[..]] {
                    assert!(StartView::of(bad).is_none());
                    assert!(crate::ipc::codec::decode::<Msg>(bad).is_err());
                }
            }
        }
        let stop = postcard::to_stdvec(&Msg::Stop { cid: 3 }).unwrap();
        assert!(StartView::of(&stop).is_none());
        // Not UTF-8 where a name goes.
        let mut body = postcard::to_stdvec(&StartMsg(&StartView {
            cid: 1,
            ns: "ab",
            func: "f",
            args: &[],
            kind: FuncType::AsyncFunc,
            sig: None,
            flow: FlowSpec::default(),
            trace: None,
        }))
        .unwrap();
        body[3] = 0xff;
        assert!(StartView::of(&body).is_none());
        assert!(crate::ipc::codec::decode::<Msg>(&body).is_err());
    }

    /// The in-place read of a `Yield` takes every `Yield` the encoder
    /// writes, agrees with the generic decoder on every frame it takes,
    /// and leaves anything else (other messages, malformed or unusual
    /// frames) to the decoder.
    #[test]
    fn split_yield_agrees_with_the_decoder() {
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        for cid in [0, 1, 127, 128, 1 << 40, u64::MAX] {
            for len in [0usize, 1, 127, 128, 20_000] {
                let body = postcard::to_stdvec(&Msg::Yield {
                    cid,
                    pld: vec![5; len],
                })
                .unwrap();
                let (c, pld) = split_yield(&body).expect("an encoded Yield is taken");
                assert_eq!((c, pld.len()), (cid, len));
                bodies.push(body);
            }
        }
        let y = postcard::to_stdvec(&Msg::Yield {
            cid: 300,
            pld: vec![1, 2, 3],
        })
        .unwrap();
        let odd = [
            postcard::to_stdvec(&Msg::Stop { cid: 3 }).unwrap(),
            y[..y.len() - 1].to_vec(),
            [&y[..], &[0]].concat(),
            // An 11-byte varint; a 10th byte beyond 64 bits.
            [&[6u8][..], &[0xff; 10], &[1, 0]].concat(),
            [&[6u8][..], &[0xff; 9], &[2, 0]].concat(),
            // The tag as a two-byte varint, which postcard also reads.
            [&[0x86u8, 0][..], &y[1..]].concat(),
            // A length beyond the body.
            vec![6, 1, 0x80, 0x80, 0x80, 0x80, 0x10],
            // One-byte id and length (the fast shape): a byte short, a
            // byte over.
            vec![6, 3, 2, 1],
            vec![6, 3, 1, 1, 9],
            vec![],
        ];
        for body in bodies.iter().chain(&odd) {
            if let Some((cid, pld)) = split_yield(body) {
                match crate::ipc::codec::decode::<Msg>(body) {
                    Ok(Msg::Yield { cid: c, pld: p }) => assert_eq!((cid, pld), (c, &p[..])),
                    other => panic!("took {body:?}, which decodes to {other:?}"),
                }
            }
        }
        assert!(odd.iter().all(|b| split_yield(b).is_none()));
    }

    /// The in-place read of a caller's answers takes every `StartAck`,
    /// `Started` and `Return` the encoder writes, agrees with the generic
    /// decoder on every frame it takes, and leaves anything else to it.
    #[test]
    fn answers_read_in_place_agree_with_the_decoder() {
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        for cid in [0, 1, 127, 128, 1 << 40, u64::MAX] {
            for functype in [FuncType::AsyncFunc, FuncType::Stream, FuncType::Context] {
                bodies.push(postcard::to_stdvec(&Msg::StartAck { cid, functype }).unwrap());
            }
            for len in [0usize, 1, 127, 128, 20_000] {
                let pld = vec![5; len];
                bodies.push(
                    postcard::to_stdvec(&Msg::Return {
                        cid,
                        pld: pld.clone(),
                    })
                    .unwrap(),
                );
                bodies.push(postcard::to_stdvec(&Msg::Started { cid, pld }).unwrap());
            }
        }
        for body in &bodies {
            let read = decode_answer(body).expect("an encoded answer is taken");
            let decoded = crate::ipc::codec::decode::<Msg>(body).unwrap();
            assert_eq!(format!("{read:?}"), format!("{decoded:?}"));
        }
        let ack = postcard::to_stdvec(&Msg::StartAck {
            cid: 300,
            functype: FuncType::Context,
        })
        .unwrap();
        let ret = postcard::to_stdvec(&Msg::Return {
            cid: 300,
            pld: vec![1, 2, 3],
        })
        .unwrap();
        let odd = [
            postcard::to_stdvec(&Msg::Stop { cid: 3 }).unwrap(),
            postcard::to_stdvec(&Msg::Yield {
                cid: 3,
                pld: vec![1],
            })
            .unwrap(),
            ack[..ack.len() - 1].to_vec(),
            [&ack[..], &[0]].concat(),
            // A kind that does not exist; a kind as a two-byte varint.
            vec![4, 1, 3],
            vec![4, 1, 0x80, 0],
            ret[..ret.len() - 1].to_vec(),
            [&ret[..], &[0]].concat(),
            [&[8u8][..], &[0xff; 10], &[1, 0]].concat(),
            vec![8, 1, 0x80, 0x80, 0x80, 0x80, 0x10],
            vec![],
        ];
        for body in &odd {
            if let Some(read) = decode_answer(body) {
                let decoded = crate::ipc::codec::decode::<Msg>(body);
                panic!("took {body:?} as {read:?}; the decoder says {decoded:?}");
            }
        }
    }

    /// Every dialog queue holds slots of `Msg`: a large variant inline
    /// would make each of them as big as a `SpawnSpec`.
    #[test]
    fn a_message_stays_five_words() {
        assert!(
            std::mem::size_of::<Msg>() <= 40,
            "{}",
            std::mem::size_of::<Msg>()
        );
    }

    /// The one-pass encoding is byte-identical to the generic one, for
    /// every payload message and for small and large cids and payloads.
    #[test]
    fn payload_frames_match_the_generic_encoding() {
        let payloads: Vec<Vec<u32>> = vec![vec![], vec![7], (0..5000).collect()];
        for cid in [0, 1, 127, 128, u64::MAX] {
            for p in &payloads {
                let pld = postcard::to_stdvec(p).unwrap();
                for (kind, msg) in [
                    (
                        PayloadMsg::Started,
                        Msg::Started {
                            cid,
                            pld: pld.clone(),
                        },
                    ),
                    (
                        PayloadMsg::Yield,
                        Msg::Yield {
                            cid,
                            pld: pld.clone(),
                        },
                    ),
                    (
                        PayloadMsg::Return,
                        Msg::Return {
                            cid,
                            pld: pld.clone(),
                        },
                    ),
                ] {
                    let fast = Msg::payload_frame(kind, cid, p).unwrap();
                    let slow = crate::ipc::transport::encode(&msg).unwrap();
                    assert_eq!(
                        fast.bytes(),
                        slow.bytes(),
                        "{kind:?} cid={cid} len={}",
                        p.len()
                    );
                }
            }
        }
    }
}

//! Generators of wire input shared by the fuzz target and the suite's
//! live fuzz: every `Msg` variant as a proptest strategy, mutations of
//! encoded messages, and errors nested as deep as asked, built as bytes.

#![allow(dead_code)]

use proptest::prelude::*;
use tractor::trace::Carrier;
use tractor::wire::{ErrorData, FlowSpec, FuncType, Msg, SpawnSpec, Start, TraceParent, codec};
use tractor::{Addr, Aid, TransportKind};

/// The frame limit of the runtime.
pub(super) const MAX_FRAME: usize = tractor::wire::DEFAULT_MAX_FRAME;

pub(super) fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_le_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

pub(super) fn encode(m: &Msg) -> Vec<u8> {
    match codec::encode(m) {
        Ok(b) => b,
        Err(e) => panic!("a generated message does not encode: {e}"),
    }
}

pub(super) fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z_:]{1,12}".prop_map(String::from),
        proptest::collection::vec(any::<char>(), 0..8).prop_map(String::from_iter),
    ]
}

pub(super) fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

pub(super) fn cid() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..16, any::<u64>(), Just(u64::MAX)]
}

pub(super) fn aid() -> impl Strategy<Value = Aid> {
    (text(), any::<[u8; 16]>(), any::<u32>()).prop_map(|(name, uuid, pid)| Aid {
        name,
        uuid: uuid::Uuid::from_bytes(uuid),
        pid,
    })
}

pub(super) fn addr() -> impl Strategy<Value = Addr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| Addr::Tcp((ip, port).into())),
        text().prop_map(|p| Addr::Uds(p.into())),
    ]
}

pub(super) fn functype() -> impl Strategy<Value = FuncType> {
    prop_oneof![
        Just(FuncType::AsyncFunc),
        Just(FuncType::Stream),
        Just(FuncType::Context)
    ]
}

pub(super) fn flow() -> impl Strategy<Value = FlowSpec> {
    (
        prop_oneof![Just(0u32), Just(1), Just(256), any::<u32>(), Just(u32::MAX)],
        any::<bool>(),
    )
        .prop_map(|(window, overrun)| FlowSpec { window, overrun })
}

/// A caller's trace context, its carrier within the limits.
pub(super) fn trace_parent() -> impl Strategy<Value = TraceParent> {
    (
        any::<u128>(),
        any::<u64>(),
        proptest::collection::vec((text(), text()), 0..4),
    )
        .prop_map(|(trace_id, span_id, pairs)| {
            let mut carrier = Carrier::new();
            for (k, v) in pairs {
                let _ = carrier.insert(k, v);
            }
            TraceParent {
                trace_id,
                span_id,
                carrier,
            }
        })
}

pub(super) fn error_data() -> impl Strategy<Value = ErrorData> {
    let leaf = (
        (
            text(),
            text(),
            text(),
            proptest::collection::vec(text(), 0..3),
        ),
        (
            aid(),
            proptest::collection::vec(aid(), 0..3),
            proptest::option::of(text()),
            proptest::option::of(bytes(16)),
            proptest::option::of(aid()),
        ),
    )
        .prop_map(
            |(
                (boxed_type, src_type, message, source_chain),
                (src_uid, relay_path, backtrace, value, canceller),
            )| ErrorData {
                boxed_type,
                src_type,
                message,
                source_chain,
                src_uid,
                relay_path,
                backtrace,
                value,
                canceller,
                grouped: Vec::new(),
            },
        );
    leaf.prop_recursive(4, 16, 3, |inner| {
        (inner.clone(), proptest::collection::vec(inner, 0..3)).prop_map(|(mut e, grouped)| {
            e.grouped = grouped;
            e
        })
    })
}

/// Every variant of [`Msg`].
pub(super) fn msg() -> impl Strategy<Value = Msg> {
    msg_with(cid().boxed())
}

/// Every variant of [`Msg`], its dialog ids drawn from `cid`.
pub(super) fn msg_with(cid: BoxedStrategy<u64>) -> impl Strategy<Value = Msg> {
    prop_oneof![
        aid().prop_map(|a| Msg::Aid(Box::new(a))),
        (
            proptest::collection::vec(text(), 0..3),
            any::<bool>(),
            proptest::collection::vec(addr(), 0..3),
            proptest::option::of(text()),
            any::<bool>(),
            proptest::option::of(any::<(u64, u64)>()),
        )
            .prop_map(
                |(enable_modules, uds, registry_addrs, loglevel, debug_mode, hb)| {
                    Msg::SpawnSpec(Box::new(SpawnSpec {
                        enable_modules,
                        transport: if uds {
                            TransportKind::Uds
                        } else {
                            TransportKind::Tcp
                        },
                        registry_addrs,
                        loglevel,
                        debug_mode,
                        heartbeat_ms: hb,
                        limits: tractor::Limits::default(),
                        spawn_method: "exec".into(),
                    }))
                }
            ),
        proptest::option::of(proptest::collection::vec(addr(), 0..3))
            .prop_map(|register| Msg::Ready { register }),
        (
            cid.clone(),
            text(),
            text(),
            bytes(32),
            functype(),
            proptest::option::of(any::<u64>()),
            flow(),
            proptest::option::of(trace_parent()),
        )
            .prop_map(|(cid, ns, func, args, kind, sig, flow, trace)| Msg::Start(
                Box::new(Start {
                    cid,
                    ns,
                    func,
                    args,
                    kind,
                    sig,
                    flow,
                    trace,
                })
            )),
        (cid.clone(), functype()).prop_map(|(cid, functype)| Msg::StartAck { cid, functype }),
        (cid.clone(), bytes(32)).prop_map(|(cid, pld)| Msg::Started { cid, pld }),
        (cid.clone(), bytes(32)).prop_map(|(cid, pld)| Msg::Yield { cid, pld }),
        cid.clone().prop_map(|cid| Msg::Stop { cid }),
        (cid.clone(), bytes(32)).prop_map(|(cid, pld)| Msg::Return { cid, pld }),
        (proptest::option::of(cid.clone()), error_data()).prop_map(|(cid, e)| Msg::Error {
            cid,
            error: Box::new(e),
        }),
        cid.clone().prop_map(|cid| Msg::CancelActor { cid }),
        (cid.clone(), cid.clone()).prop_map(|(cid, target)| Msg::CancelTask { cid, target }),
        (cid.clone(), any::<u32>(), any::<u64>()).prop_map(|(cid, n, bytes)| Msg::Credit {
            cid,
            n,
            bytes
        }),
        (cid.clone(), any::<bool>()).prop_map(|(cid, acked)| Msg::CancelAck { cid, acked }),
        Just(Msg::Heartbeat),
        cid.clone().prop_map(|cid| Msg::Ping { cid }),
        cid.clone().prop_map(|cid| Msg::Pong { cid }),
        any::<[u8; 32]>().prop_map(|nonce| Msg::Challenge { nonce }),
        any::<[u8; 32]>().prop_map(|mac| Msg::Proof { mac }),
    ]
}

/// One edit of an encoded message.
#[derive(Debug, Clone)]
pub(super) enum Mutation {
    /// Flips bit `bit` of the byte at `at` (modulo the length).
    Flip { at: usize, bit: u8 },
    /// Inserts `byte` before `at`.
    Insert { at: usize, byte: u8 },
    /// Deletes the byte at `at`.
    Delete { at: usize },
    /// Keeps the first `len` bytes.
    Truncate { len: usize },
    /// Replaces the byte at `at` with the varint of `value`.
    Varint { at: usize, value: u64 },
}

/// Claimed lengths a hostile peer would write.
pub(super) fn huge() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(u64::from(u32::MAX)),
        Just(u64::MAX),
        Just(1u64 << 31),
        Just(1u64 << 40),
        Just(MAX_FRAME as u64 + 1),
        (1u64 << 20)..(1u64 << 36),
    ]
}

pub(super) fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        (any::<usize>(), huge()).prop_map(|(at, value)| Mutation::Varint { at, value }),
    ]
}

pub(super) fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

pub(super) fn apply(mut b: Vec<u8>, m: &Mutation) -> Vec<u8> {
    let n = b.len();
    match *m {
        Mutation::Flip { at, bit } if n > 0 => b[at % n] ^= 1 << bit,
        Mutation::Insert { at, byte } => b.insert(at % (n + 1), byte),
        Mutation::Delete { at } if n > 0 => {
            b.remove(at % n);
        }
        Mutation::Truncate { len } => b.truncate(len % (n + 1)),
        Mutation::Varint { at, value } if n > 0 => {
            let at = at % n;
            b.splice(at..at + 1, varint(value));
        }
        _ => {}
    }
    b
}

/// How many grouped errors each level of a nested error claims.
#[derive(Debug, Clone, Copy)]
pub(super) enum Claim {
    /// One: the honest count.
    One,
    /// A huge count, more than the bytes left (a decoder can tell).
    Huge(u64),
    /// As many as there are bytes left: plausible, so a decoder that
    /// preallocates from the count would reserve that many errors.
    Remaining,
}

pub(super) fn claim() -> impl Strategy<Value = Claim> {
    prop_oneof![
        Just(Claim::One),
        huge().prop_map(Claim::Huge),
        Just(Claim::Remaining)
    ]
}

/// The body of `Msg::Error { cid: None, error }` with `depth` errors
/// nested in `grouped`, each level claiming a count of grouped errors of
/// which only one follows. Built as bytes: encoding (and dropping) such a
/// value would itself recurse `depth` deep.
pub(super) fn nested_error_body(depth: usize, claim: Claim) -> Vec<u8> {
    let leaf = tractor::RemoteActorError::new_local("x", "deep", &Aid::new("x")).into_data();
    let mut level = encode(&Msg::Error {
        cid: None,
        error: Box::new(leaf),
    });
    // The last byte is the leaf's empty `grouped` (a 0 varint); the
    // prefix is the tag, the cid, and the leaf up to its `grouped`.
    level.pop();
    let head = level[..2].to_vec(); // tag 9, cid None
    let fields = level[2..].to_vec();
    // Each level's count, from the innermost error outwards (a claim of
    // "the bytes left" depends on what follows it).
    let mut counts = Vec::with_capacity(depth);
    let mut tail_len = fields.len() + 1;
    for _ in 0..depth {
        let count = match claim {
            Claim::One => 1,
            Claim::Huge(n) => n.max(1),
            Claim::Remaining => tail_len as u64,
        };
        tail_len += fields.len() + varint(count).len();
        counts.push(count);
    }
    let mut body = head;
    for count in counts.iter().rev() {
        body.extend_from_slice(&fields);
        body.extend_from_slice(&varint(*count));
    }
    body.extend_from_slice(&fields);
    body.push(0);
    body
}

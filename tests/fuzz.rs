//! Property tests of the decoders a peer's bytes go through: the frame
//! reader, the message envelope (`Msg`, postcard), boxed errors with their
//! nesting bound, and typed endpoint arguments.
//!
//! Inputs: random bytes, real messages of every variant (generated) and
//! their frames mutated (bits flipped, bytes inserted, deleted, truncated,
//! a huge varint spliced in at every position), errors nested far past
//! [`MAX_ERROR_NESTING`]. Properties: never a panic; always `Ok` or a typed
//! error; and never an allocation of a claimed size. A counting global
//! allocator records the largest single allocation and the peak of live
//! bytes while one input is decoded, and both must stay below a small
//! multiple of the input's length plus a constant.
//!
//! `PROPTEST_CASES` scales every property (default: [`DEFAULT_CASES`]).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use proptest::prelude::*;
use proptest::test_runner::Config;
use tractor::ipc::frame::{FrameError, read_frame};
use tractor::ipc::msg::MAX_ERROR_NESTING;
use tractor::ipc::{
    Addr, Aid, ErrorData, FlowSpec, FuncType, Msg, SpawnSpec, Start, TransportKind, codec,
};

// ---------------------------------------------------------------------------
// Allocation accounting.

/// Counts the allocations of the thread that has tracking on.
struct Counting;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note_alloc(size: usize) {
    let _ = TRACKING.try_with(|t| {
        if t.get() {
            LARGEST.with(|l| l.set(l.get().max(size)));
            LIVE.with(|l| {
                let now = l.get() + size as isize;
                l.set(now);
                PEAK.with(|p| p.set(p.get().max(now)));
            });
        }
    });
}

fn note_free(size: usize) {
    let _ = TRACKING.try_with(|t| {
        if t.get() {
            LIVE.with(|l| l.set(l.get() - size as isize));
        }
    });
}

// SAFETY: every call is forwarded to `System` unchanged; the accounting
// touches only const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_free(layout.size());
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_free(layout.size());
        note_alloc(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// What one decode allocated.
#[derive(Debug, Clone, Copy)]
struct Usage {
    /// The largest single allocation (or reallocation target).
    largest: usize,
    /// The most bytes allocated and not yet freed at one time.
    peak: usize,
}

/// Runs `f` with this thread's allocations counted.
fn measure<R>(f: impl FnOnce() -> R) -> (R, Usage) {
    LARGEST.with(|l| l.set(0));
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    TRACKING.with(|t| t.set(true));
    let r = f();
    TRACKING.with(|t| t.set(false));
    let usage = Usage {
        largest: LARGEST.with(Cell::get),
        peak: PEAK.with(Cell::get).max(0) as usize,
    };
    (r, usage)
}

/// Fixed allowance on top of the per-byte one: serde preallocates a
/// sequence from its claimed length, but never more than 1 MiB
/// (`serde::de::size_hint::cautious`), and an error's `Display` has a
/// small constant cost of its own.
const ALLOWANCE: usize = 1024 * 1024 + 64 * 1024;
/// Allowed bytes per input byte: decoded strings and vectors are
/// copies of the input, in structs a few times larger than their wire form.
const PER_BYTE: usize = 32;

fn bound(input: usize) -> usize {
    PER_BYTE * input + ALLOWANCE
}

/// The lead's item of issue 8 point 1 ("grow the buffer as bytes arrive"):
/// until it lands, `read_frame` reserves the announced length (up to the
/// frame maximum) before the bytes are there, so a short input that
/// announces a large frame allocates what it claims. With it, flip this to
/// `true` and the frame reader is held to the same bound as the decoder.
/// Reproduce: `cargo test -p tractor --test fuzz -- frame_reader` with
/// this set to `true`.
const FRAME_READER_GROWS_WITH_INPUT: bool = false;

/// The frame limit the reader is run with: the runtime's default.
const MAX_FRAME: usize = tractor::ipc::DEFAULT_MAX_FRAME;

// ---------------------------------------------------------------------------
// The decoders, as the runtime runs them.

/// How a stream of bytes ended.
#[derive(Debug)]
enum End {
    /// Clean EOF after `n` messages.
    Eof,
    /// A typed frame error.
    Frame(FrameError),
    /// A frame that is not a message.
    Decode(String),
}

/// Reads frames and decodes messages from `bytes` until it ends, as a
/// `MsgReader` does, formatting each decoded error as the message loop's
/// log line does. Returns the messages decoded and how it ended.
fn read_stream(bytes: &[u8]) -> (usize, End) {
    let mut r = bytes;
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        match futures::executor::block_on(read_frame(&mut r, &mut buf, MAX_FRAME)) {
            Ok(false) => return (n, End::Eof),
            Err(e) => return (n, End::Frame(e)),
            Ok(true) => match codec::decode::<Msg>(&buf) {
                Ok(m) => {
                    display(&m);
                    n += 1;
                }
                Err(e) => return (n, End::Decode(e)),
            },
        }
    }
}

/// Formats what the runtime formats of a received message.
fn display(m: &Msg) -> usize {
    match m {
        Msg::Error { error, .. } => {
            let e = tractor::RemoteActorError::from_data((**error).clone());
            format!("{e}").len()
        }
        other => other.kind().len(),
    }
}

/// Decodes one body as a message; on success formats it as the runtime would.
fn decode_body(body: &[u8]) -> Result<Msg, String> {
    let m = codec::decode::<Msg>(body)?;
    display(&m);
    Ok(m)
}

/// Decodes `body` with allocations counted, and checks the bound.
fn check_body(body: &[u8]) -> Result<Result<Msg, String>, TestCaseError> {
    let (r, usage) = measure(|| decode_body(body));
    prop_assert!(
        usage.largest <= bound(body.len()) && usage.peak <= bound(body.len()),
        "decoding a {}-byte body allocated {usage:?}, above the bound {}: {:?}",
        body.len(),
        bound(body.len()),
        &body[..body.len().min(64)]
    );
    Ok(r)
}

/// Reads `bytes` as a stream of frames with allocations counted, and checks the bound.
fn check_stream(bytes: &[u8]) -> Result<(usize, End), TestCaseError> {
    let (r, usage) = measure(|| read_stream(bytes));
    let limit = if FRAME_READER_GROWS_WITH_INPUT {
        bound(bytes.len())
    } else {
        // Today's guarantee: never above the frame maximum.
        bound(bytes.len()).max(MAX_FRAME + ALLOWANCE)
    };
    prop_assert!(
        usage.largest <= limit && usage.peak <= limit,
        "reading {} bytes of frames allocated {usage:?}, above {limit}",
        bytes.len()
    );
    Ok(r)
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_le_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

fn encode(m: &Msg) -> Vec<u8> {
    match codec::encode(m) {
        Ok(b) => b,
        Err(e) => panic!("a generated message does not encode: {e}"),
    }
}

// ---------------------------------------------------------------------------
// Strategies: every message variant.

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z_:]{1,12}".prop_map(String::from),
        proptest::collection::vec(any::<char>(), 0..8).prop_map(String::from_iter),
    ]
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn cid() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..16, any::<u64>(), Just(u64::MAX)]
}

fn aid() -> impl Strategy<Value = Aid> {
    (text(), any::<[u8; 16]>(), any::<u32>()).prop_map(|(name, uuid, pid)| Aid {
        name,
        uuid: uuid::Uuid::from_bytes(uuid),
        pid,
    })
}

fn addr() -> impl Strategy<Value = Addr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| Addr::Tcp((ip, port).into())),
        text().prop_map(|p| Addr::Uds(p.into())),
    ]
}

fn functype() -> impl Strategy<Value = FuncType> {
    prop_oneof![
        Just(FuncType::AsyncFunc),
        Just(FuncType::Stream),
        Just(FuncType::Context)
    ]
}

fn flow() -> impl Strategy<Value = FlowSpec> {
    (
        prop_oneof![Just(0u32), Just(1), Just(256), any::<u32>(), Just(u32::MAX)],
        any::<bool>(),
    )
        .prop_map(|(window, overrun)| FlowSpec { window, overrun })
}

fn error_data() -> impl Strategy<Value = ErrorData> {
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
fn msg() -> impl Strategy<Value = Msg> {
    prop_oneof![
        aid().prop_map(Msg::Aid),
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
                    Msg::SpawnSpec(SpawnSpec {
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
                    })
                }
            ),
        Just(Msg::Ready),
        (
            cid(),
            text(),
            text(),
            bytes(32),
            functype(),
            proptest::option::of(any::<u64>()),
            flow()
        )
            .prop_map(|(cid, ns, func, args, kind, sig, flow)| Msg::Start(Start {
                cid,
                ns,
                func,
                args,
                kind,
                sig,
                flow,
            })),
        (cid(), functype()).prop_map(|(cid, functype)| Msg::StartAck { cid, functype }),
        (cid(), bytes(32)).prop_map(|(cid, pld)| Msg::Started { cid, pld }),
        (cid(), bytes(32)).prop_map(|(cid, pld)| Msg::Yield { cid, pld }),
        cid().prop_map(|cid| Msg::Stop { cid }),
        (cid(), bytes(32)).prop_map(|(cid, pld)| Msg::Return { cid, pld }),
        (proptest::option::of(cid()), error_data()).prop_map(|(cid, e)| Msg::Error {
            cid,
            error: Box::new(e),
        }),
        cid().prop_map(|cid| Msg::CancelActor { cid }),
        (cid(), cid()).prop_map(|(cid, target)| Msg::CancelTask { cid, target }),
        (cid(), any::<u32>()).prop_map(|(cid, n)| Msg::Credit { cid, n }),
        (cid(), any::<bool>()).prop_map(|(cid, acked)| Msg::CancelAck { cid, acked }),
        Just(Msg::Heartbeat),
        cid().prop_map(|cid| Msg::Ping { cid }),
        cid().prop_map(|cid| Msg::Pong { cid }),
    ]
}

/// One edit of an encoded message.
#[derive(Debug, Clone)]
enum Mutation {
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
fn huge() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(u64::from(u32::MAX)),
        Just(u64::MAX),
        Just(1u64 << 31),
        Just(1u64 << 40),
        Just(MAX_FRAME as u64 + 1),
        (1u64 << 20)..(1u64 << 36),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        (any::<usize>(), huge()).prop_map(|(at, value)| Mutation::Varint { at, value }),
    ]
}

fn varint(mut v: u64) -> Vec<u8> {
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

fn apply(mut b: Vec<u8>, m: &Mutation) -> Vec<u8> {
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
enum Claim {
    /// One: the honest count.
    One,
    /// A huge count, more than the bytes left (a decoder can tell).
    Huge(u64),
    /// As many as there are bytes left: plausible, so a decoder that
    /// preallocates from the count would reserve that many errors.
    Remaining,
}

fn claim() -> impl Strategy<Value = Claim> {
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
fn nested_error_body(depth: usize, claim: Claim) -> Vec<u8> {
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

fn cases(default: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        // Failures are reported with the seed; no files next to the sources.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Cases per property in CI.
const DEFAULT_CASES: u32 = 256;

// ---------------------------------------------------------------------------
// Properties.

proptest! {
    #![proptest_config(cases(DEFAULT_CASES))]

    /// Every generated message decodes back to itself, within the bound.
    #[test]
    fn real_messages_round_trip(m in msg()) {
        let body = encode(&m);
        let back = check_body(&body)?;
        prop_assert!(back.is_ok(), "{back:?}");
        prop_assert_eq!(encode(&back.map_err(TestCaseError::fail)?), body);
    }

    /// Random bytes: a message or a typed error, never a panic or a big allocation.
    #[test]
    fn random_bodies_decode_or_fail(body in bytes(512)) {
        let _ = check_body(&body)?;
    }

    /// Random bytes read as a stream of frames.
    #[test]
    fn frame_reader_on_random_bytes(raw in bytes(512)) {
        let (_, end) = check_stream(&raw)?;
        // Bytes from memory: never an I/O error, and a decode error says why.
        prop_assert!(!matches!(end, End::Frame(FrameError::Io(_))), "{end:?}");
        if let End::Decode(why) = &end {
            prop_assert!(!why.is_empty());
        }
    }

    /// Real messages, mutated: flipped, inserted, deleted, truncated bytes
    /// and huge varints spliced in.
    #[test]
    fn mutated_messages_decode_or_fail(
        m in msg(),
        edits in proptest::collection::vec(mutation(), 1..6),
    ) {
        let body = edits.iter().fold(encode(&m), apply);
        let _ = check_body(&body)?;
    }

    /// A huge varint at every position of a real message: every length
    /// field in the payload claims gigabytes, none is allocated.
    #[test]
    fn huge_length_at_every_position(m in msg(), value in huge()) {
        let body = encode(&m);
        for at in 0..body.len() {
            let mutated = apply(body.clone(), &Mutation::Varint { at, value });
            let _ = check_body(&mutated)?;
        }
    }

    /// Real frames, some mutated, concatenated and cut anywhere: the
    /// reader yields each good message, then ends with a typed error or EOF.
    #[test]
    fn mutated_frame_streams_read_or_fail(
        msgs in proptest::collection::vec((msg(), proptest::collection::vec(mutation(), 0..3)), 1..6),
        prefix_edits in proptest::collection::vec(mutation(), 0..2),
        cut in any::<usize>(),
    ) {
        let mut stream = Vec::new();
        for (m, edits) in &msgs {
            let body = edits.iter().fold(encode(m), apply);
            let f = prefix_edits.iter().fold(frame(&body), apply);
            stream.extend_from_slice(&f);
        }
        if cut % 4 == 0 {
            stream.truncate(cut % (stream.len() + 1));
        }
        check_stream(&stream)?;
    }

    /// Errors nested up to twice the bound, each level claiming up to
    /// billions of grouped errors: within the bound they decode, beyond it
    /// they are refused; neither allocates what is claimed.
    #[test]
    fn nested_errors_are_bounded(
        depth in 0usize..(2 * MAX_ERROR_NESTING),
        claim in claim(),
    ) {
        let body = nested_error_body(depth, claim);
        let r = check_body(&body)?;
        if depth > MAX_ERROR_NESTING {
            prop_assert!(r.is_err(), "an error nested {depth} deep was accepted");
        } else if matches!(claim, Claim::One) {
            prop_assert!(r.is_ok(), "an error nested {depth} deep was refused: {r:?}");
        }
    }

    /// Typed endpoint arguments and payloads (decoded by `Invocation::decode`
    /// and the typed ends of dialogs with the same codec): random bytes,
    /// and real encodings with a huge varint spliced in.
    #[test]
    fn typed_payloads_decode_or_fail(
        raw in bytes(256),
        strings in proptest::collection::vec(text(), 0..4),
        nums in proptest::collection::vec(any::<u64>(), 0..8),
        at in any::<usize>(),
        value in huge(),
    ) {
        let real = codec::encode(&(strings.clone(), nums.clone(), Some(raw.clone())))
            .map_err(TestCaseError::fail)?;
        let spliced = apply(real.clone(), &Mutation::Varint { at, value });
        for input in [&raw, &real, &spliced] {
            check_typed::<(u64, u64)>(input)?;
            check_typed::<String>(input)?;
            check_typed::<Vec<String>>(input)?;
            check_typed::<Vec<Vec<u8>>>(input)?;
            check_typed::<(Vec<String>, Vec<u64>, Option<Vec<u8>>)>(input)?;
            check_typed::<std::collections::BTreeMap<String, Vec<u64>>>(input)?;
            check_typed::<ErrorData>(input)?;
        }
        let back = codec::decode::<(Vec<String>, Vec<u64>, Option<Vec<u8>>)>(&real);
        prop_assert_eq!(back, Ok((strings, nums, Some(raw))));
    }
}

fn check_typed<T: serde::de::DeserializeOwned>(input: &[u8]) -> Result<(), TestCaseError> {
    let (_, usage) = measure(|| codec::decode::<T>(input).map(drop));
    prop_assert!(
        usage.largest <= bound(input.len()) && usage.peak <= bound(input.len()),
        "decoding {} bytes as `{}` allocated {usage:?}",
        input.len(),
        std::any::type_name::<T>()
    );
    Ok(())
}

/// Errors nested thousands of levels deep are refused without
/// exhausting the stack (the test thread's stack is the default 2 MiB;
/// the message loop's is no bigger).
#[test]
fn very_deep_nesting_is_refused() {
    for depth in [MAX_ERROR_NESTING + 1, 1_000, 10_000, 100_000] {
        let body = nested_error_body(depth, Claim::One);
        let (r, usage) = measure(|| decode_body(&body));
        assert!(r.is_err(), "an error nested {depth} deep was accepted");
        assert!(
            usage.peak <= bound(body.len()),
            "depth {depth}: {usage:?} for {} bytes",
            body.len()
        );
    }
}

/// A frame announcing 4 GiB (or anything above the maximum) is refused
/// from its 4-byte prefix, with nothing allocated for it.
#[test]
fn claimed_frame_sizes_are_not_allocated() {
    for claimed in [u32::MAX, MAX_FRAME as u32 + 1, 1 << 30] {
        let bytes = claimed.to_le_bytes();
        let ((_, end), usage) = measure(|| read_stream(&bytes));
        assert!(
            matches!(end, End::Frame(FrameError::Oversized { .. })),
            "{end:?}"
        );
        assert!(usage.largest < 64 * 1024, "{claimed}: {usage:?}");
    }
    // Within the maximum, announced but not sent.
    let mut short = (MAX_FRAME as u32 / 2).to_le_bytes().to_vec();
    short.extend_from_slice(&[0; 16]);
    let ((_, end), usage) = measure(|| read_stream(&short));
    assert!(
        matches!(end, End::Frame(FrameError::Truncated { .. })),
        "{end:?}"
    );
    if FRAME_READER_GROWS_WITH_INPUT {
        assert!(
            usage.largest <= bound(short.len()),
            "a 20-byte input announcing {} bytes allocated {usage:?}",
            MAX_FRAME / 2
        );
    } else {
        eprintln!(
            "known (issue 8, lead's frame-reader item): a 20-byte input announcing {} bytes allocated {usage:?}",
            MAX_FRAME / 2
        );
    }
}

/// Each level of a nested error claiming as many grouped errors as there
/// are bytes left once made the decoder reserve room for that many at
/// every level at once: a 4 KiB frame held tens of MiB while decoding.
#[test]
fn nested_claims_do_not_multiply() {
    for depth in [8, MAX_ERROR_NESTING / 2, MAX_ERROR_NESTING] {
        let body = nested_error_body(depth, Claim::Remaining);
        let (r, usage) = measure(|| decode_body(&body));
        eprintln!("depth {depth}: {} bytes, {usage:?}", body.len());
        assert!(r.is_err(), "only one error follows each claim");
        assert!(
            usage.peak <= bound(body.len()),
            "depth {depth}: a {}-byte body held {usage:?} while decoding",
            body.len()
        );
    }
}

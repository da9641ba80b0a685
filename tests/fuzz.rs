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
use tractor::error::FrameError;
use tractor::wire::FrameReader;
use tractor::wire::MAX_ERROR_NESTING;
use tractor::wire::{ErrorData, Msg, codec};

#[path = "support/wire.rs"]
mod wire;
use wire::{
    Claim, MAX_FRAME, Mutation, apply, bytes, claim, encode, frame, huge, msg, mutation,
    nested_error_body, text,
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
    // Built before counting starts: the reader's deadline needs a timer.
    RUNTIME.with(|_| ());
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

// ---------------------------------------------------------------------------
// The decoders, as the runtime runs them.

/// How long a frame may take to arrive (the reader's deadline; an input
/// in memory never waits).
const FRAME_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

thread_local! {
    /// The runtime the frame reader runs on (it needs a timer).
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
}

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
    let mut r = FrameReader::new(bytes);
    let mut n = 0;
    loop {
        let read = r.next(MAX_FRAME, FRAME_TIMEOUT);
        match RUNTIME.with(|rt| rt.block_on(read)) {
            Ok(None) => return (n, End::Eof),
            Err(e) => return (n, End::Frame(e)),
            Ok(Some(body)) => match codec::decode::<Msg>(body) {
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
    // The buffer grows as bytes arrive: what a frame claims is never
    // allocated ahead of them.
    let limit = bound(bytes.len());
    prop_assert!(
        usage.largest <= limit && usage.peak <= limit,
        "reading {} bytes of frames allocated {usage:?}, above {limit}",
        bytes.len()
    );
    Ok(r)
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
        // `depth` levels below the top error: `MAX_ERROR_NESTING` errors in all is the most.
        if depth >= MAX_ERROR_NESTING {
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
    for depth in [MAX_ERROR_NESTING, 1_000, 10_000, 100_000] {
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
    assert!(
        usage.largest <= bound(short.len()),
        "a 20-byte input announcing {} bytes allocated {usage:?}",
        MAX_FRAME / 2
    );
}

/// Each level of a nested error claiming as many grouped errors as there
/// are bytes left once made the decoder reserve room for that many at
/// every level at once: a 3,839-byte frame held 33 MiB while decoding.
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

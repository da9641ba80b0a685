//! Length-prefixed framing: a little-endian `u32` byte count, then the
//! body. Frames are built here and read by
//! [`FrameReader`](super::frame_reader::FrameReader). No message is
//! empty: a zero count starts a control frame of the transport (see
//! [`shm_ring`](super::shm_ring)), which the reader handles itself.

// `tractor::wire` (the `wire` feature) exposes parts of this module
// to tests that speak the protocol by hand; without it they are internal.
#![cfg_attr(not(feature = "wire"), allow(unreachable_pub, dead_code))]

use std::time::Duration;

use super::shared_bytes::{SPLICE_MIN, Splice};

/// Default largest frame an actor accepts: 64 MiB.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024 * 1024;

/// Why a frame could not be read: [`IpcError::Frame`](crate::error::IpcError::Frame).
///
/// ```
/// use tractor::error::{FrameError, IpcError};
/// // A peer that sent more than this actor accepts: raise `RootConfig::max_frame`?
/// fn too_big(e: &IpcError) -> Option<u64> {
///     match e {
///         IpcError::Frame(FrameError::Oversized { len, .. }) => Some(*len),
///         _ => None,
///     }
/// }
/// let e = IpcError::from(FrameError::Oversized { len: 1 << 30, max: 64 << 20 });
/// assert_eq!(too_big(&e), Some(1 << 30));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer announced a frame larger than this actor accepts.
    #[error(
        "peer announced a {len}-byte frame, above the {max}-byte maximum; the connection is dropped"
    )]
    Oversized {
        /// Announced length.
        len: u64,
        /// Configured maximum.
        max: usize,
    },
    /// The connection ended in the middle of a frame.
    #[error("connection closed in the middle of a frame ({got} of {want} bytes)")]
    Truncated {
        /// Bytes received.
        got: usize,
        /// Bytes announced.
        want: usize,
    },
    /// The peer started a frame and did not finish it in time.
    #[error(
        "peer sent {got} of the {want} bytes of a frame and then stalled for {within:?}; the connection is dropped"
    )]
    Stalled {
        /// Body bytes received (0 while the length prefix was incomplete).
        got: usize,
        /// Bytes announced (4 while the length prefix was incomplete).
        want: usize,
        /// How long a frame may take.
        within: Duration,
    },
    /// The peer referred to a frame in shared memory that it may not:
    /// outside the ring this actor offered, behind what was read, or
    /// with no ring offered (a broken or hostile peer).
    #[error("peer sent a bad shared-memory frame reference ({reason}); the connection is dropped")]
    BadRing {
        /// What was wrong with the reference.
        reason: String,
    },
    /// The peer sent a large frame's fragments out of order: one that
    /// disagrees with the frame in progress about its length, runs past
    /// it, or is empty or longer than a fragment may be (a broken or
    /// hostile peer).
    #[error("peer sent a bad fragment of a large frame ({reason}); the connection is dropped")]
    BadFragment {
        /// What was wrong with the fragment.
        reason: String,
    },
    /// An I/O error from the socket.
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
}

/// An encoded frame, length prefix included, ready for one write.
///
/// Payload-carrying messages are encoded in one pass: the payload is
/// serialized after a fixed headroom and the envelope header is written
/// into the headroom right before it, so the payload is never copied.
#[derive(Debug)]
pub struct Frame {
    buf: Vec<u8>,
    start: usize,
}

/// Headroom before a payload: length prefix (4), variant tag (1), cid
/// varint (up to 10) and payload length varint (up to 5).
const HEADROOM: usize = 4 + 1 + 10 + 5;

impl Frame {
    /// The frame's bytes: length prefix and body.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Its buffer and where the frame starts in it.
    pub(crate) fn into_parts(self) -> (Vec<u8>, usize) {
        (self.buf, self.start)
    }

    /// The frame that starts at `start` in `buf` and fills the rest of it
    /// (length prefix and body, as [`bytes`](Self::bytes) returns them).
    pub(crate) fn from_parts(buf: Vec<u8>, start: usize) -> Frame {
        debug_assert!(start <= buf.len());
        Frame { buf, start }
    }

    /// Frames the postcard encoding of `value`.
    pub fn build<T: serde::Serialize + ?Sized>(value: &T) -> Result<Frame, String> {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; 4]);
        append(value, &mut buf)?;
        let len = prefix_len(buf.len() - 4)?;
        buf[..4].copy_from_slice(&len);
        Ok(Frame { buf, start: 0 })
    }

    /// Frames the message `variant { cid, pld }` whose payload is the
    /// postcard encoding of `value`, byte-identical to encoding the message
    /// with an already encoded payload.
    pub fn with_payload<T: serde::Serialize + ?Sized>(
        variant: u8,
        cid: u64,
        value: &T,
    ) -> Result<Frame, String> {
        let mut buf = Vec::new();
        let start = payload_into(&mut buf, variant, cid, value)?;
        Ok(Frame { buf, start })
    }
}

/// Encodes the frame of `variant { cid, pld: value }` into `buf`
/// (replacing what it held), header right before the payload; where in
/// `buf` the frame starts.
fn payload_into<T: serde::Serialize + ?Sized>(
    buf: &mut Vec<u8>,
    variant: u8,
    cid: u64,
    value: &T,
) -> Result<usize, String> {
    payload_into_spliced(buf, variant, cid, value, false).map(|(start, _, _)| start)
}

/// [`payload_into`], with the large [`Bytes`](super::Bytes) in `value`
/// spliced rather than copied when `splicing`; also returns the payload's
/// length and the splices (the frame is `buf[start..]` with each written
/// at its `at`).
fn payload_into_spliced<T: serde::Serialize + ?Sized>(
    buf: &mut Vec<u8>,
    variant: u8,
    cid: u64,
    value: &T,
    splicing: bool,
) -> Result<(usize, usize, Vec<Splice>), String> {
    debug_assert!(variant < 0x80, "a one-byte varint tag");
    buf.clear();
    buf.resize(HEADROOM, 0);
    let mut splices = Vec::new();
    if splicing {
        append_spliced(value, buf, &mut splices)?;
    } else {
        append(value, buf)?;
    }
    let pld_len = buf.len() - HEADROOM + splices.iter().map(|s| s.bytes.len()).sum::<usize>();
    let mut header = [0u8; HEADROOM - 4];
    let mut n = 0;
    header[n] = variant;
    n += 1;
    n += varint(cid, &mut header[n..]);
    n += varint(pld_len as u64, &mut header[n..]);
    let start = HEADROOM - n - 4;
    buf[start + 4..HEADROOM].copy_from_slice(&header[..n]);
    let len = prefix_len(n + pld_len)?;
    buf[start..start + 4].copy_from_slice(&len);
    Ok((start, pld_len, splices))
}

/// Appends the frame of `variant { cid, pld: value }` (the bytes of
/// [`Frame::with_payload`]) to `buf`, after the frames it holds; returns
/// the payload's length. The large [`Bytes`](super::Bytes) buffers in it
/// are pushed onto `splices` instead of copied (the frame is `buf` with
/// each written at its `at`; none for most payloads). On an error `buf`
/// and `splices` are as they were.
///
/// The payload is encoded in place after a header whose payload-length
/// varint is guessed `len_width` bytes wide (see [`len_width`]); a wrong
/// guess moves the payload once. A stream's items are mostly alike, so
/// the width of the last one's is the guess that makes neither a small
/// item nor a 64 KiB one move.
pub(crate) fn append_payload_frame<T: serde::Serialize + ?Sized>(
    buf: &mut Vec<u8>,
    variant: u8,
    cid: u64,
    value: &T,
    len_width: usize,
    splices: &mut Vec<Splice>,
) -> Result<usize, String> {
    debug_assert!(variant < 0x80, "a one-byte varint tag");
    if let Some(pld_len) = append_small_frame(buf, variant, cid, value) {
        return Ok(pld_len);
    }
    let guess = len_width.clamp(1, 5);
    let at = buf.len();
    // Written into the buffer byte by byte: a header built on the stack
    // and copied in whole stalled on its wide load of the bytes just
    // stored (half of this function's time in a `u64` stream).
    buf.reserve(HEADROOM);
    buf.extend_from_slice(&[0; 4]);
    buf.push(variant);
    push_varint(buf, cid);
    let tag_cid = buf.len() - at;
    buf.resize(at + tag_cid + guess, 0);
    let pld_at = buf.len();
    let had = splices.len();
    if let Err(e) = append_spliced(value, buf, splices) {
        buf.truncate(at);
        splices.truncate(had);
        return Err(e);
    }
    let in_buf = buf.len() - pld_at;
    let ours = &mut splices[had..];
    let pld_len = in_buf + ours.iter().map(|s| s.bytes.len()).sum::<usize>();
    let w = self::len_width(pld_len);
    let len = match prefix_len(tag_cid - 4 + w + pld_len) {
        Ok(len) => len,
        Err(e) => {
            buf.truncate(at);
            splices.truncate(had);
            return Err(e);
        }
    };
    if w > guess {
        buf.resize(buf.len() + w - guess, 0);
        buf.copy_within(pld_at..pld_at + in_buf, pld_at + w - guess);
        ours.iter_mut().for_each(|s| s.at += w - guess);
    } else if w < guess {
        buf.copy_within(pld_at..pld_at + in_buf, pld_at - (guess - w));
        buf.truncate(buf.len() - (guess - w));
        ours.iter_mut().for_each(|s| s.at -= guess - w);
    }
    varint(pld_len as u64, &mut buf[at + tag_cid..at + tag_cid + w]);
    buf[at..at + 4].copy_from_slice(&len);
    Ok(pld_len)
}

/// Most bytes a frame built by [`append_small_frame`] takes.
const SMALL_FRAME: usize = 64;

/// [`append_payload_frame`] for a frame of at most [`SMALL_FRAME`]
/// bytes (a stream's numbers, short strings, small structs): room for it
/// is zeroed once and the frame written into it by index, so no byte
/// costs a capacity check, and the payload-length varint is one byte
/// (the payload is under 128 bytes). `None`, with `buf` as it was, when
/// the value does not fit (or does not encode): the general path then
/// builds it (or says why it cannot).
fn append_small_frame<T: serde::Serialize + ?Sized>(
    buf: &mut Vec<u8>,
    variant: u8,
    cid: u64,
    value: &T,
) -> Option<usize> {
    let at = buf.len();
    buf.extend_from_slice(&[0; SMALL_FRAME]);
    let out = &mut buf[at..];
    out[4] = variant;
    let pld_at = 5 + varint(cid, &mut out[5..]) + 1;
    let pld = SliceOut {
        buf: &mut out[pld_at..],
        n: 0,
    };
    let Ok(pld_len) = postcard::serialize_with_flavor(value, pld) else {
        buf.truncate(at);
        return None;
    };
    // One byte: under 128, as SMALL_FRAME is.
    out[pld_at - 1] = pld_len as u8;
    let body = pld_at - 4 + pld_len;
    out[..4].copy_from_slice(&(body as u32).to_le_bytes());
    buf.truncate(at + 4 + body);
    Some(pld_len)
}

/// A postcard output into a slice of fixed length: fails rather than
/// grows when the value does not fit.
struct SliceOut<'a> {
    buf: &'a mut [u8],
    /// Bytes written.
    n: usize,
}

impl postcard::ser_flavors::Flavor for SliceOut<'_> {
    type Output = usize;

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        let end = self.n + data.len();
        let dst = self
            .buf
            .get_mut(self.n..end)
            .ok_or(postcard::Error::SerializeBufferFull)?;
        // Byte by byte: a varint's few bytes, not worth a `memcpy` call.
        dst.iter_mut().zip(data).for_each(|(d, s)| *d = *s);
        self.n = end;
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        let dst = self
            .buf
            .get_mut(self.n)
            .ok_or(postcard::Error::SerializeBufferFull)?;
        *dst = data;
        self.n += 1;
        Ok(())
    }

    fn finalize(self) -> postcard::Result<usize> {
        Ok(self.n)
    }
}

/// The bytes the varint of a payload length `len` takes: the guess for
/// the next [`append_payload_frame`] of a stream whose last payload was
/// `len` bytes.
pub(crate) fn len_width(len: usize) -> usize {
    // Seven bits a byte; zero takes one.
    (u64::BITS - (len as u64 | 1).leading_zeros()).div_ceil(7) as usize
}

/// A payload frame built by [`with_payload_frame`]: small ones borrowed
/// from the thread's scratch buffer (to be copied where they go), large
/// ones owned (to be moved, never copied).
pub(crate) enum Built<'a> {
    /// The frame's bytes, valid for the call.
    Borrowed(&'a [u8]),
    /// A frame of at least the caller's `own_from` bytes, with the large
    /// [`Bytes`](super::Bytes) spliced into it.
    Owned(Frame, Vec<Splice>),
}

/// Most capacity the scratch buffer keeps between frames.
const SCRATCH_KEEP: usize = 256 * 1024;

thread_local! {
    /// Where small payload frames are built: a stream item costs no
    /// allocation of its own.
    static SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Builds the frame of `variant { cid, pld: value }` (the bytes of
/// [`Frame::with_payload`]) in this thread's scratch buffer and hands it
/// to `deliver`, with its payload's length: borrowed when smaller than
/// `own_from` bytes, else as an
/// owned [`Frame`] (the scratch buffer itself, so a large payload is
/// encoded once and never copied). When the scratch buffer went out with
/// a large frame, `fresh` gives the buffer to use instead (a recycled
/// one, or an empty `Vec`). Large [`Bytes`](super::Bytes) in `value` are
/// spliced, not copied (their frame is then always owned: a splice is at
/// least `own_from` bytes long, see [`SPLICE_MIN`](super::shared_bytes::SPLICE_MIN)).
pub(crate) fn with_payload_frame<T: serde::Serialize + ?Sized, R>(
    variant: u8,
    cid: u64,
    value: &T,
    own_from: usize,
    fresh: impl FnOnce() -> Vec<u8>,
    deliver: impl FnOnce(Built<'_>, usize) -> R,
) -> Result<R, String> {
    // Taken out of the cell, not borrowed: a `Serialize` impl that builds
    // a frame itself gets a fresh buffer instead of a panic.
    let mut buf = SCRATCH.take();
    if buf.capacity() == 0 {
        buf = fresh();
    }
    let (start, pld_len, splices) = match payload_into_spliced(&mut buf, variant, cid, value, true)
    {
        Ok(built) => built,
        Err(e) => {
            keep_scratch(buf);
            return Err(e);
        }
    };
    if !splices.is_empty() || buf.len() - start >= own_from {
        return Ok(deliver(
            Built::Owned(Frame { buf, start }, splices),
            pld_len,
        ));
    }
    let r = deliver(Built::Borrowed(&buf[start..]), pld_len);
    keep_scratch(buf);
    Ok(r)
}

fn keep_scratch(buf: Vec<u8>) {
    if buf.capacity() <= SCRATCH_KEEP {
        SCRATCH.set(buf);
    }
}

/// Appends the postcard encoding of `value` to `buf`. On an error, `buf`
/// may hold part of the encoding: truncate it back.
///
/// `postcard::to_extend` pushes a byte slice through `Extend` one byte at
/// a time (a 64 KiB payload cost 60 µs); this copies it in one `memcpy`.
pub(crate) fn append<T: serde::Serialize + ?Sized>(
    value: &T,
    buf: &mut Vec<u8>,
) -> Result<(), String> {
    let out = AppendVec { buf, splices: None };
    postcard::serialize_with_flavor(value, out).map_err(|e| e.to_string())
}

/// [`append`], with the large [`Bytes`](super::Bytes) in `value` recorded
/// in `splices` instead of copied into `buf`.
fn append_spliced<T: serde::Serialize + ?Sized>(
    value: &T,
    buf: &mut Vec<u8>,
    splices: &mut Vec<Splice>,
) -> Result<(), String> {
    let out = AppendVec {
        buf,
        splices: Some(splices),
    };
    postcard::serialize_with_flavor(value, out).map_err(|e| e.to_string())
}

/// A postcard output that appends to a `Vec` it borrows; with `splices`,
/// the buffer of a large [`Bytes`](super::Bytes) being serialized is
/// recorded there rather than appended.
struct AppendVec<'a> {
    buf: &'a mut Vec<u8>,
    splices: Option<&'a mut Vec<Splice>>,
}

impl postcard::ser_flavors::Flavor for AppendVec<'_> {
    type Output = ();

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if let Some(splices) = &mut self.splices
            && data.len() >= SPLICE_MIN
            && let Some(bytes) = super::shared_bytes::take_offered(data)
        {
            splices.push(Splice {
                at: self.buf.len(),
                bytes,
            });
            return Ok(());
        }
        append_bytes(self.buf, data);
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.buf.push(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Appends `data` to `buf`: the few bytes of a varint or a small field
/// one by one, as a `memcpy` call costs more than the copy (its calls
/// were 6-7% of a `u64` stream's sender).
pub(crate) fn append_bytes(buf: &mut Vec<u8>, data: &[u8]) {
    if data.len() <= 16 {
        buf.reserve(data.len());
        data.iter().for_each(|&b| buf.push(b));
    } else {
        buf.extend_from_slice(data);
    }
}

/// The length prefix of a `body`-byte frame.
pub(crate) fn prefix_len(body: usize) -> Result<[u8; 4], String> {
    // An empty frame's prefix marks a control frame (see `shm_ring`);
    // every message has a body.
    if body == 0 {
        return Err("an empty frame".into());
    }
    u32::try_from(body)
        .map(u32::to_le_bytes)
        .map_err(|_| format!("a {body}-byte frame is above the 4 GiB frame limit"))
}

/// Appends `v` as a LEB128 varint.
#[inline]
pub(crate) fn push_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// LEB128 varint, as postcard writes integers; returns the bytes used.
fn varint(mut v: u64, out: &mut [u8]) -> usize {
    let mut i = 0;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out[i] = byte;
            return i + 1;
        }
        out[i] = byte | 0x80;
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames appended back to back are each byte-identical to the frame
    /// built alone, whatever the payload's and the cid's varint lengths
    /// and whatever the guess of the payload length's width (short, right
    /// or long).
    #[test]
    fn appended_frames_match_frames_built_alone() {
        let mut buf = Vec::new();
        let mut want = Vec::new();
        let cases = [
            (0u64, 0usize),
            (3, 1),
            (1 << 40, 120),
            (7, 128),
            (9, 20_000),
            (u64::MAX, 2_100_000),
        ];
        for ((cid, len), guess) in cases.into_iter().flat_map(|c| (0..=6).map(move |g| (c, g))) {
            let value = serde_bytes::ByteBuf::from(vec![0x5a; len]);
            let pld =
                append_payload_frame(&mut buf, 3, cid, &value, guess, &mut Vec::new()).unwrap();
            let alone = Frame::with_payload(3, cid, &value).unwrap();
            want.extend_from_slice(alone.bytes());
            assert_eq!(pld, postcard::to_stdvec(&value).unwrap().len());
            assert_eq!(buf, want, "cid {cid}, {len} bytes, width guessed {guess}");
        }
    }

    /// Around the edge of the small-frame path (a frame of
    /// [`SMALL_FRAME`] bytes, for every width of the cid's varint), the
    /// frames appended are the frames built alone.
    #[test]
    fn small_and_general_frames_agree_at_the_edge() {
        for cid in [0u64, 127, 128, 1 << 14, 1 << 40, u64::MAX] {
            let mut buf = vec![1, 2, 3];
            let mut want = buf.clone();
            for len in 0..=SMALL_FRAME + 2 {
                let value = serde_bytes::ByteBuf::from(vec![0xa5; len]);
                let pld = append_payload_frame(&mut buf, 5, cid, &value, 1, &mut Vec::new());
                let alone = Frame::with_payload(5, cid, &value).unwrap();
                want.extend_from_slice(alone.bytes());
                assert_eq!(pld, Ok(postcard::to_stdvec(&value).unwrap().len()));
                assert_eq!(buf, want, "cid {cid}, {len} bytes");
            }
            for v in [0u64, 127, 128, u64::MAX] {
                append_payload_frame(&mut buf, 5, cid, &v, 1, &mut Vec::new()).unwrap();
                want.extend_from_slice(Frame::with_payload(5, cid, &v).unwrap().bytes());
                assert_eq!(buf, want, "cid {cid}, u64 {v}");
            }
        }
    }

    /// The width of a length's varint, counted, is the width written;
    /// and the varint pushed is the one written in place.
    #[test]
    fn varint_widths_and_pushes_agree_with_the_writer() {
        let edges = (0..64).flat_map(|b| {
            let p = 1u64 << b;
            [p - 1, p, p + 1]
        });
        for v in edges.chain([u64::MAX]) {
            let mut out = [0u8; 10];
            let n = varint(v, &mut out);
            if let Ok(len) = usize::try_from(v) {
                assert_eq!(len_width(len), n, "width of {v}");
            }
            let mut pushed = vec![9u8];
            push_varint(&mut pushed, v);
            assert_eq!(pushed[1..], out[..n], "varint of {v}");
        }
    }

    /// A value that fails to encode leaves the frames before it intact.
    #[test]
    fn a_failed_append_leaves_the_buffer_as_it_was() {
        struct Refuses;
        impl serde::Serialize for Refuses {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::{Error, SerializeSeq};
                let mut seq = s.serialize_seq(Some(2))?;
                seq.serialize_element(&1u8)?;
                Err(S::Error::custom("no"))
            }
        }
        let mut buf = Vec::new();
        append_payload_frame(&mut buf, 3, 1, &7u64, 1, &mut Vec::new()).unwrap();
        let before = buf.clone();
        assert!(append_payload_frame(&mut buf, 3, 1, &Refuses, 3, &mut Vec::new()).is_err());
        assert_eq!(buf, before);
    }
}

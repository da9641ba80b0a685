//! Length-prefixed framing: a little-endian `u32` byte count, then the body.
//!
//! The reader checks the announced length against the maximum *before*
//! allocating, so a peer that claims a 4 GiB frame costs us four bytes of
//! reading and a clear error, never a 4 GiB allocation. Below the maximum
//! the buffer still grows only as bytes arrive, and a frame must arrive
//! within a deadline once started, so a peer that announces a large frame
//! and dribbles it costs what it sent, for a bounded time.

// `tractor::wire` (the `wire` feature) exposes parts of this module
// to tests that speak the protocol by hand; without it they are internal.
#![cfg_attr(not(feature = "wire"), allow(unreachable_pub, dead_code))]

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

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
    /// An I/O error from the socket.
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
}

/// What a frame's buffer starts with: the rest grows as bytes arrive,
/// so a peer pays in bytes sent for every byte it makes us hold.
const INITIAL_RESERVE: usize = 64 * 1024;

/// Reads one frame into `buf` (cleared first). `Ok(false)` is a clean EOF
/// between frames.
///
/// Between frames the peer may be silent indefinitely; once the first
/// byte of a frame arrived, the whole frame must arrive `within` that
/// time, or the read fails with [`FrameError::Stalled`].
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
    within: Duration,
) -> Result<bool, FrameError> {
    let mut prefix = [0u8; 4];
    let first = r.read(&mut prefix).await?;
    if first == 0 {
        return Ok(false);
    }
    buf.clear();
    let mut want = 4;
    let rest = async {
        let mut got = first;
        while got < 4 {
            let n = r.read(&mut prefix[got..]).await?;
            if n == 0 {
                return Err(FrameError::Truncated { got, want: 4 });
            }
            got += n;
        }
        let len = u32::from_le_bytes(prefix) as usize;
        if len > max {
            return Err(FrameError::Oversized {
                len: len as u64,
                max,
            });
        }
        want = len;
        buf.reserve(len.min(INITIAL_RESERVE));
        // Reads into spare capacity (no zero-filling), growing it only as
        // bytes arrive.
        let got = r.take(len as u64).read_to_end(buf).await?;
        if got < len {
            return Err(FrameError::Truncated { got, want: len });
        }
        Ok(true)
    };
    match tokio::time::timeout(within, rest).await {
        Ok(done) => done,
        Err(_) => Err(FrameError::Stalled {
            got: buf.len(),
            want,
            within,
        }),
    }
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

    /// Frames a message body produced by `body`, which appends to the
    /// buffer it is given (4 bytes of prefix already reserved).
    pub fn build(body: impl FnOnce(Vec<u8>) -> Result<Vec<u8>, String>) -> Result<Frame, String> {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; 4]);
        let mut buf = body(buf)?;
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
        debug_assert!(variant < 0x80, "a one-byte varint tag");
        let mut buf = vec![0u8; HEADROOM];
        append(value, &mut buf)?;
        let pld_len = buf.len() - HEADROOM;
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
        Ok(Frame { buf, start })
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
    postcard::serialize_with_flavor(value, AppendVec(buf)).map_err(|e| e.to_string())
}

/// A postcard output that appends to a `Vec` it borrows.
struct AppendVec<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for AppendVec<'_> {
    type Output = ();

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// The length prefix of a `body`-byte frame.
pub(crate) fn prefix_len(body: usize) -> Result<[u8; 4], String> {
    u32::try_from(body)
        .map(u32::to_le_bytes)
        .map_err(|_| format!("a {body}-byte frame is above the 4 GiB frame limit"))
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
    use tokio::io::{AsyncWrite, AsyncWriteExt};

    use super::*;

    /// One frame as the channel's writer lays it out.
    async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, body: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(body.len()).map_err(std::io::Error::other)?;
        w.write_all(&len.to_le_bytes()).await?;
        w.write_all(body).await
    }

    const SOON: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn a_large_announced_frame_costs_only_what_arrived() {
        let (mut peer, mut us) = tokio::io::duplex(1024);
        let mut head = (60u32 << 20).to_le_bytes().to_vec();
        head.extend_from_slice(b"just a few bytes");
        peer.write_all(&head).await.unwrap();
        let mut buf = Vec::new();
        let within = Duration::from_millis(100);
        let err = read_frame(&mut us, &mut buf, 64 << 20, within)
            .await
            .unwrap_err();
        assert!(
            matches!(err, FrameError::Stalled { got: 16, want, .. } if want == 60 << 20),
            "{err}"
        );
        assert!(buf.capacity() <= INITIAL_RESERVE, "{}", buf.capacity());
    }

    #[tokio::test]
    async fn a_stalled_length_prefix_is_dropped() {
        let (mut peer, mut us) = tokio::io::duplex(1024);
        peer.write_all(&[1, 0]).await.unwrap();
        let mut buf = Vec::new();
        let err = read_frame(&mut us, &mut buf, 1024, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Stalled {
                    got: 0,
                    want: 4,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn silence_between_frames_is_not_a_stall() {
        let (_peer, mut us) = tokio::io::duplex(1024);
        let mut buf = Vec::new();
        let read = read_frame(&mut us, &mut buf, 1024, Duration::from_millis(20));
        let waited = tokio::time::timeout(Duration::from_millis(200), read).await;
        assert!(waited.is_err(), "an idle peer was treated as stalled");
    }

    #[tokio::test]
    async fn oversized_is_refused_without_allocating() {
        let bytes = u32::MAX.to_le_bytes();
        let mut buf = Vec::new();
        let err = read_frame(&mut &bytes[..], &mut buf, 1024, SOON)
            .await
            .unwrap_err();
        assert!(matches!(err, FrameError::Oversized { .. }), "{err}");
        assert!(buf.capacity() < 1024);
    }

    #[tokio::test]
    async fn truncated_and_clean_eof() {
        let mut buf = Vec::new();
        assert!(
            !read_frame(&mut &[][..], &mut buf, 1024, SOON)
                .await
                .unwrap()
        );
        let bytes = [5u8, 0, 0, 0, 1, 2];
        let err = read_frame(&mut &bytes[..], &mut buf, 1024, SOON)
            .await
            .unwrap_err();
        assert!(
            matches!(err, FrameError::Truncated { got: 2, want: 5 }),
            "{err}"
        );
        let mut out = Vec::new();
        write_frame(&mut out, b"hey").await.unwrap();
        assert!(
            read_frame(&mut &out[..], &mut buf, 1024, SOON)
                .await
                .unwrap()
        );
        assert_eq!(buf, b"hey");
    }
}

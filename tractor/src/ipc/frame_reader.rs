//! Frames out of a byte stream, many per read.
//!
//! A [`FrameReader`] owns one buffer that it reads into without zeroing
//! it, hands out each complete frame's body as a slice of that buffer, and
//! reads again only when the buffered bytes hold no complete frame. So a
//! burst of small frames costs one syscall, and a connection that carries
//! little holds little: the buffer starts small, doubles only while
//! reads fill it, and a frame larger than it grows it only as that
//! frame's bytes arrive.
//!
//! An announced length is checked against the maximum *before* anything
//! is allocated for it, so a peer that claims a 4 GiB frame costs us four
//! bytes of reading and a clear error. The peer may be silent between
//! frames, but a started frame must be complete within a deadline, so a
//! peer that announces a large frame and dribbles it costs what it sent,
//! for a bounded time.

// `tractor::wire` (the `wire` feature) exposes the reader to tests that
// speak the protocol by hand; without it it is internal.
#![cfg_attr(not(feature = "wire"), allow(unreachable_pub))]

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::frame::FrameError;

/// What a reader's buffer starts with: enough for the frames of a quiet
/// connection (a handshake, a call and its answer) in one read. A busy
/// one doubles it within a few reads; an idle actor of a thousand-actor
/// tree holds only this, once per channel.
const INITIAL: usize = 2 * 1024;

/// The most a busy connection's buffer grows to for reading runs of
/// frames: the reads that fill it are large enough that syscalls no
/// longer dominate. Only a single larger frame takes it beyond.
const READ_AHEAD: usize = 64 * 1024;

/// A buffer larger than this (grown for one large frame) is released once
/// that frame is consumed, so one large message does not pin its size for
/// the connection's lifetime.
const KEEP: usize = 1024 * 1024;

/// Reads length-prefixed frames (a little-endian `u32` byte count, then
/// the body) from `R`.
pub struct FrameReader<R> {
    io: R,
    /// `buf[start..]` are bytes read and not yet handed out.
    buf: Vec<u8>,
    start: usize,
    /// Bytes the frame handed out last occupies, consumed at the next call.
    handed_out: usize,
    /// The capacity the buffer reads runs of frames with: doubled when a
    /// read fills the buffer, up to [`READ_AHEAD`].
    read_size: usize,
}

impl<R> std::fmt::Debug for FrameReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReader")
            .field("buffered", &(self.buf.len() - self.start))
            .field("capacity", &self.buf.capacity())
            .finish_non_exhaustive()
    }
}

/// What [`FrameReader::next_run`] hands out.
#[derive(Debug)]
pub enum Run<'a> {
    /// Complete frames, in place in the reader's buffer.
    Frames(Frames<'a>),
    /// One large frame, with the buffer it was read into.
    Owned(OwnedFrame),
}

/// A large frame in the buffer it was read into, handed over whole.
#[derive(Debug)]
pub struct OwnedFrame {
    buf: Vec<u8>,
    body: std::ops::Range<usize>,
}

impl OwnedFrame {
    /// The frame's body.
    pub fn body(&self) -> &[u8] {
        &self.buf[self.body.clone()]
    }

    /// Where in the buffer `part` (a slice of [`body`](Self::body))
    /// lies; `None` if it is not part of the body.
    pub fn range_of(&self, part: &[u8]) -> Option<std::ops::Range<usize>> {
        let body = self.body();
        let at = (part.as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
        let end = at.checked_add(part.len())?;
        (end <= body.len()).then(|| self.body.start + at..self.body.start + end)
    }

    /// The buffer the frame was read into.
    pub fn into_buf(self) -> Vec<u8> {
        self.buf
    }
}

/// Complete frames back to back, as [`FrameReader::next_run`] hands
/// them out; iterates over their bodies.
#[derive(Debug)]
pub struct Frames<'a> {
    bytes: &'a [u8],
}

impl<'a> Iterator for Frames<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (prefix, rest) = self.bytes.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*prefix) as usize;
        // Checked complete when the run was cut; an empty run otherwise.
        let body = rest.get(..len)?;
        self.bytes = &rest[len..];
        Some(body)
    }
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// A reader of the frames `io` carries.
    pub fn new(io: R) -> Self {
        FrameReader {
            io,
            buf: Vec::new(),
            start: 0,
            handed_out: 0,
            read_size: INITIAL,
        }
    }

    /// Bytes buffered and not handed out.
    fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next frame's body; `Ok(None)` on a clean EOF between frames.
    ///
    /// Between frames the peer may be silent indefinitely; once a frame's
    /// first byte is here, the whole frame must arrive `within` that time,
    /// or the read fails with [`FrameError::Stalled`]. Cancel-safe: bytes
    /// read by a cancelled call stay buffered for the next.
    pub async fn next(
        &mut self,
        max: usize,
        within: Duration,
    ) -> Result<Option<&[u8]>, FrameError> {
        self.consume_handed_out();
        // The common case under load: the frame is already here, and
        // needs neither a read nor a deadline.
        let len = match self.complete_frame(max)? {
            Some(len) => len,
            None => {
                if self.buffered() == 0 && self.fill(4).await? == 0 {
                    return Ok(None);
                }
                // Most often that read brought the whole frame: no deadline
                // (a clock read and a timer) to set up.
                match self.complete_frame(max)? {
                    Some(len) => len,
                    None => match tokio::time::timeout(within, self.read_rest(max)).await {
                        Ok(len) => len?,
                        Err(_) => return Err(self.stalled(within)),
                    },
                }
            }
        };
        let body = self.start + 4;
        self.handed_out = 4 + len;
        Ok(Some(&self.buf[body..body + len]))
    }

    /// The next frame and every complete frame buffered after it, at
    /// once: what one read brought in, for a loop that handles them
    /// without a call per frame. Reads, waits and fails as
    /// [`next`](Self::next) does for the first frame; a later one
    /// announcing more than `max` is left for the next call to refuse.
    ///
    /// A frame of [`KEEP`] bytes or more comes alone, as its own buffer
    /// ([`Run::Owned`]): it is never copied out of the buffer it was read
    /// into (what was read past it moves to a fresh buffer instead).
    pub async fn next_run(
        &mut self,
        max: usize,
        within: Duration,
    ) -> Result<Option<Run<'_>>, FrameError> {
        let Some(first) = self.next(max, within).await?.map(<[u8]>::len) else {
            return Ok(None);
        };
        let body = self.start + 4;
        if first >= KEEP {
            let rest = &self.buf[body + first..];
            let mut fresh = Vec::with_capacity(self.read_size.max(rest.len()));
            fresh.extend_from_slice(rest);
            let buf = std::mem::replace(&mut self.buf, fresh);
            self.start = 0;
            self.handed_out = 0;
            return Ok(Some(Run::Owned(OwnedFrame {
                buf,
                body: body..body + first,
            })));
        }
        let mut end = body + first;
        while let Some(prefix) = self.buf.get(end..end + 4) {
            let mut le = [0u8; 4];
            le.copy_from_slice(prefix);
            let len = u32::from_le_bytes(le) as usize;
            if len > max || self.buf.len() - end - 4 < len {
                break;
            }
            end += 4 + len;
        }
        self.handed_out = end - self.start;
        Ok(Some(Run::Frames(Frames {
            bytes: &self.buf[self.start..end],
        })))
    }

    /// The body length of the frame at `start` if it is all buffered.
    fn complete_frame(&self, max: usize) -> Result<Option<usize>, FrameError> {
        let Some(len) = self.announced(max)? else {
            return Ok(None);
        };
        Ok((self.buffered() - 4 >= len).then_some(len))
    }

    /// The length the buffered prefix announces, once all 4 bytes are here.
    fn announced(&self, max: usize) -> Result<Option<usize>, FrameError> {
        let Some(prefix) = self.buf.get(self.start..self.start + 4) else {
            return Ok(None);
        };
        let mut le = [0u8; 4];
        le.copy_from_slice(prefix);
        let len = u32::from_le_bytes(le) as usize;
        if len > max {
            return Err(FrameError::Oversized {
                len: len as u64,
                max,
            });
        }
        Ok(Some(len))
    }

    /// Reads until the started frame is complete; its body length.
    async fn read_rest(&mut self, max: usize) -> Result<usize, FrameError> {
        loop {
            if let Some(len) = self.complete_frame(max)? {
                return Ok(len);
            }
            let want = self.announced(max)?.map_or(4, |len| 4 + len);
            if self.fill(want).await? == 0 {
                return Err(match want {
                    4 => FrameError::Truncated {
                        got: self.buffered(),
                        want: 4,
                    },
                    _ => FrameError::Truncated {
                        got: self.buffered() - 4,
                        want: want - 4,
                    },
                });
            }
        }
    }

    /// Makes room to read towards a frame of `want` bytes (prefix
    /// included) of which `buffered()` are here. A buffer short of room
    /// first moves its bytes to the front; a buffer below the read size grows to it;
    /// a frame larger than that grows the buffer only while reads fill
    /// it, so a peer pays in bytes sent for every byte it makes us hold.
    fn make_room(&mut self, want: usize) {
        let room = self.buf.capacity() - self.buf.len();
        if self.start > 0 && room < self.buf.capacity() / 4 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let cap = self.buf.capacity();
        let target = if self.buf.len() < cap {
            self.read_size
        } else {
            // Full of one incomplete frame (`want > cap`): double, up to it.
            cap.saturating_mul(2)
                .max(self.read_size)
                .min(want.max(self.read_size))
        };
        if target > cap {
            self.buf.reserve_exact(target - self.buf.len());
        }
    }

    /// One read towards a frame of `want` bytes; the bytes read, 0 at EOF.
    async fn fill(&mut self, want: usize) -> Result<usize, FrameError> {
        self.make_room(want);
        let room = self.buf.capacity() - self.buf.len();
        let n = self.io.read_buf(&mut self.buf).await?;
        if n == room && self.read_size < READ_AHEAD {
            // Reads fill the buffer: the peer sends in runs.
            self.read_size = (self.read_size * 2).min(READ_AHEAD);
        }
        Ok(n)
    }

    /// Drops the frame handed out last. An emptied buffer starts over at
    /// its front; one grown past [`KEEP`] for a large frame is released.
    fn consume_handed_out(&mut self) {
        self.start += std::mem::take(&mut self.handed_out);
        if self.buf.capacity() <= KEEP {
            if self.start == self.buf.len() {
                self.buf.clear();
                self.start = 0;
            }
        } else if self.buffered() <= self.read_size {
            let mut small = Vec::with_capacity(self.read_size);
            small.extend_from_slice(&self.buf[self.start..]);
            self.buf = small;
            self.start = 0;
        }
    }

    /// The stall error for the frame being read.
    fn stalled(&self, within: Duration) -> FrameError {
        match self.announced(usize::MAX) {
            Ok(Some(len)) => FrameError::Stalled {
                got: self.buffered() - 4,
                want: len,
                within,
            },
            _ => FrameError::Stalled {
                got: 0,
                want: 4,
                within,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    const SOON: Duration = Duration::from_secs(5);

    fn frames(run: Run<'_>) -> Frames<'_> {
        match run {
            Run::Frames(f) => f,
            Run::Owned(o) => panic!("a small frame came owned: {o:?}"),
        }
    }

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut f = (body.len() as u32).to_le_bytes().to_vec();
        f.extend_from_slice(body);
        f
    }

    #[tokio::test]
    async fn many_frames_come_out_of_one_read() {
        let mut bytes = Vec::new();
        for i in 0..100u8 {
            bytes.extend(frame(&vec![i; i as usize]));
        }
        let mut r = FrameReader::new(&bytes[..]);
        for i in 0..100u8 {
            let body = r.next(1024, SOON).await.unwrap().unwrap();
            assert_eq!(body, &vec![i; i as usize][..]);
        }
        assert!(r.next(1024, SOON).await.unwrap().is_none());
    }

    /// A run is every complete frame buffered, in order; a partial frame
    /// or one above the maximum is left for the next call (which reads
    /// the rest, or refuses it).
    #[tokio::test]
    async fn a_run_hands_out_the_complete_frames_buffered_and_stops_short_of_the_rest() {
        let mut bytes = Vec::new();
        for i in 0..5u8 {
            bytes.extend(frame(&[i; 3]));
        }
        bytes.extend(frame(&[9; 100]));
        bytes.extend(frame(b"tail"));
        let (mut peer, us) = tokio::io::duplex(1 << 16);
        peer.write_all(&bytes[..bytes.len() - 2]).await.unwrap();
        let mut r = FrameReader::new(us);
        let run: Vec<Vec<u8>> = frames(r.next_run(50, SOON).await.unwrap().unwrap())
            .map(<[u8]>::to_vec)
            .collect();
        assert_eq!(
            run,
            (0..5u8).map(|i| vec![i; 3]).collect::<Vec<_>>(),
            "stops before the oversized frame"
        );
        assert!(matches!(
            r.next_run(50, SOON).await,
            Err(FrameError::Oversized { len: 100, max: 50 })
        ));
        let mut r = FrameReader::new(&bytes[..]);
        let all: Vec<usize> = frames(r.next_run(1000, SOON).await.unwrap().unwrap())
            .map(<[u8]>::len)
            .collect();
        assert_eq!(all, [3, 3, 3, 3, 3, 100, 4]);
        assert!(r.next_run(1000, SOON).await.unwrap().is_none());

        // The partial last frame comes in the next run, once complete.
        let (mut peer, us) = tokio::io::duplex(1 << 16);
        let mut r = FrameReader::new(us);
        peer.write_all(&bytes[..bytes.len() - 2]).await.unwrap();
        let first: Vec<usize> = frames(r.next_run(1000, SOON).await.unwrap().unwrap())
            .map(<[u8]>::len)
            .collect();
        assert_eq!(first, [3, 3, 3, 3, 3, 100]);
        peer.write_all(&bytes[bytes.len() - 2..]).await.unwrap();
        let rest: Vec<Vec<u8>> = frames(r.next_run(1000, SOON).await.unwrap().unwrap())
            .map(<[u8]>::to_vec)
            .collect();
        assert_eq!(rest, [b"tail".to_vec()]);
    }

    /// A large frame is handed over in the buffer it was read into, and
    /// what was read past it is the next run.
    #[tokio::test]
    async fn a_large_frame_comes_alone_and_owned() {
        let big = vec![3u8; KEEP + 10];
        let mut bytes = frame(&big);
        bytes.extend(frame(b"next"));
        let mut r = FrameReader::new(&bytes[..]);
        let Run::Owned(owned) = r.next_run(4 * KEEP, SOON).await.unwrap().unwrap() else {
            panic!("a large frame comes owned");
        };
        assert_eq!(owned.body(), &big[..]);
        let part = &owned.body()[5..9];
        let part_ptr = part.as_ptr();
        let range = owned.range_of(part).unwrap();
        assert!(owned.range_of(b"elsewhere").is_none());
        let buf = owned.into_buf();
        assert_eq!(
            buf[range.clone()].as_ptr(),
            part_ptr,
            "the same bytes, not a copy"
        );
        assert_eq!(range.len(), 4);
        let rest: Vec<Vec<u8>> = frames(r.next_run(4 * KEEP, SOON).await.unwrap().unwrap())
            .map(<[u8]>::to_vec)
            .collect();
        assert_eq!(rest, [b"next".to_vec()]);
        assert!(r.next_run(4 * KEEP, SOON).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn frames_split_across_reads_are_reassembled() {
        let (mut peer, us) = tokio::io::duplex(7);
        let mut bytes = Vec::new();
        let bodies: Vec<Vec<u8>> = (0..50u32)
            .map(|i| (0..i * 37).map(|b| b as u8).collect())
            .collect();
        for b in &bodies {
            bytes.extend(frame(b));
        }
        let writer = tokio::spawn(async move {
            peer.write_all(&bytes).await.unwrap();
        });
        let mut r = FrameReader::new(us);
        for b in &bodies {
            assert_eq!(r.next(1 << 20, SOON).await.unwrap().unwrap(), &b[..]);
        }
        assert!(r.next(1 << 20, SOON).await.unwrap().is_none());
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn a_large_frame_grows_the_buffer_only_as_it_arrives_and_is_released() {
        let (mut peer, us) = tokio::io::duplex(1024);
        let mut head = (60u32 << 20).to_le_bytes().to_vec();
        head.extend_from_slice(&[7; 5000]);
        let dribbler = tokio::spawn(async move {
            peer.write_all(&head).await.unwrap();
            peer
        });
        let mut r = FrameReader::new(us);
        let err = r
            .next(64 << 20, Duration::from_millis(100))
            .await
            .unwrap_err();
        assert!(
            matches!(err, FrameError::Stalled { got: 5000, want, .. } if want == 60 << 20),
            "{err}"
        );
        assert!(r.buf.capacity() <= 4 * 5004, "{}", r.buf.capacity());
        drop(dribbler.await.unwrap());

        let big = vec![9u8; 3 << 20];
        let (mut peer, us) = tokio::io::duplex(64 * 1024);
        let writer = tokio::spawn(async move {
            peer.write_all(&frame(&big)).await.unwrap();
            peer.write_all(&frame(b"after")).await.unwrap();
        });
        let mut r = FrameReader::new(us);
        assert_eq!(r.next(4 << 20, SOON).await.unwrap().unwrap().len(), 3 << 20);
        assert_eq!(r.next(4 << 20, SOON).await.unwrap().unwrap(), b"after");
        assert!(r.buf.capacity() <= READ_AHEAD, "{}", r.buf.capacity());
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn oversized_is_refused_without_allocating() {
        let bytes = u32::MAX.to_le_bytes();
        let mut r = FrameReader::new(&bytes[..]);
        let err = r.next(1024, SOON).await.unwrap_err();
        assert!(matches!(err, FrameError::Oversized { .. }), "{err}");
        assert!(r.buf.capacity() <= INITIAL);
    }

    #[tokio::test]
    async fn truncation_names_what_arrived() {
        let mut r = FrameReader::new(&[5u8, 0, 0, 0, 1, 2][..]);
        let err = r.next(1024, SOON).await.unwrap_err();
        assert!(
            matches!(err, FrameError::Truncated { got: 2, want: 5 }),
            "{err}"
        );
        let mut r = FrameReader::new(&[5u8, 0][..]);
        let err = r.next(1024, SOON).await.unwrap_err();
        assert!(
            matches!(err, FrameError::Truncated { got: 2, want: 4 }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_stalled_prefix_fails_and_silence_is_not_a_stall() {
        let (mut peer, us) = tokio::io::duplex(1024);
        let mut r = FrameReader::new(us);
        let idle = tokio::time::timeout(
            Duration::from_millis(200),
            r.next(1024, Duration::from_millis(20)),
        )
        .await;
        assert!(idle.is_err(), "an idle peer was treated as stalled");
        peer.write_all(&[1, 0]).await.unwrap();
        let err = r.next(1024, Duration::from_millis(50)).await.unwrap_err();
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
    async fn a_busy_connection_reads_in_larger_runs() {
        let mut bytes = Vec::new();
        while bytes.len() < 1 << 20 {
            bytes.extend(frame(b"small item"));
        }
        let mut r = FrameReader::new(&bytes[..]);
        while r.next(1024, SOON).await.unwrap().is_some() {}
        assert_eq!(r.read_size, READ_AHEAD);
    }
}

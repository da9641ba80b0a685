//! The two halves of a connected unix socket, each registered with the
//! reactor for what it waits on, and only while it waits.
//!
//! tokio registers a socket for both readiness kinds for as long as it
//! lives. Over TCP that costs nothing extra: the kernel wakes a writer
//! only after one found the send buffer full. A unix socket has no such
//! gate: every buffer of ours the peer reads through signals "writable"
//! to every waiter, and an epoll registration always counts as one. So
//! each batch of stream items the receiver read woke the sender's
//! sleeping thread (a cross-CPU interrupt, dear in a VM) whether it was
//! blocked on the socket or not, and each credit the sender read woke the
//! receiver: in a stream of small items, 15-20% of either process's CPU.
//!
//! Here the read half is registered for readability only. The write half
//! writes to the socket directly and, from a write that found the buffer
//! full, registers a duplicate of its descriptor for writability (one
//! epoll registers a descriptor once): four syscalls each time the peer
//! falls a buffer behind, against a wake-up per buffer the peer read. A
//! writer that keeps filling the buffer (a stream of large items, which
//! fills it every few items) keeps the registration until
//! [`KEEP_ROOM_FOR`] writes in a row went through without waiting, so
//! those four syscalls are not paid per few items; a connection holds
//! one descriptor otherwise. A write that went through only in part
//! found the buffer full: the next waits for room without trying first.

use std::io::{self, IoSlice, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

/// How long a write waiting for room sleeps between tries when no
/// descriptor is left to register for writability (the process is at its
/// fd limit): slower than a wake-up, but the write still goes.
const RETRY_WITHOUT_FD: Duration = Duration::from_millis(2);

/// Writes in a row that found room after which the registration for room
/// is dropped: a writer that fills the buffer again within that many
/// keeps it (see the module docs).
const KEEP_ROOM_FOR: u32 = 64;

/// Splits a non-blocking connected unix socket into halves registered
/// with the current runtime's reactor (see the module docs). Must be
/// called inside a tokio runtime.
pub(crate) fn split(s: UnixStream) -> io::Result<(UnixReadHalf, UnixWriteHalf)> {
    s.set_nonblocking(true)?;
    let s = Arc::new(s);
    let read = UnixReadHalf(registered(s.clone(), Interest::READABLE)?);
    let write = UnixWriteHalf {
        sock: s,
        waiting: None,
        roomy_writes: 0,
        retry: None,
    };
    Ok((read, write))
}

/// `s` registered with the current runtime's reactor for `interest`.
fn registered<S: AsRawFd>(s: S, interest: Interest) -> io::Result<AsyncFd<S>> {
    // SAFETY: a `UnixStream` (alone or shared) owns its descriptor, open
    // and the same for as long as it lives, and the `AsyncFd` holds it.
    unsafe { AsyncFd::register_with_interest(s, interest) }.map_err(|e| e.into_parts().1)
}

/// The read half: readable readiness only.
#[derive(Debug)]
pub(crate) struct UnixReadHalf(AsyncFd<Arc<UnixStream>>);

impl AsyncRead for UnixReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut ready = ready!(self.0.poll_read_ready(cx))?;
            // SAFETY: `read(2)` only writes into the unfilled part, up to
            // its length, and we mark as filled exactly what it wrote.
            let unfilled = unsafe { buf.unfilled_mut() };
            let room = unfilled.len();
            let read = ready.try_io(|s| {
                // SAFETY: the pointer and length describe `unfilled`, valid
                // for writes for the duration of the call.
                let n = unsafe {
                    libc::read(s.as_raw_fd(), unfilled.as_mut_ptr().cast(), unfilled.len())
                };
                usize::try_from(n).map_err(|_| io::Error::last_os_error())
            });
            match read {
                Ok(Ok(n)) => {
                    if n > 0 && n < room {
                        // It gave all it had: the next read would find
                        // nothing (a syscall per message saved). Data that
                        // arrives later signals readable anew.
                        ready.clear_ready();
                    }
                    // SAFETY: the kernel initialised `n` bytes of `unfilled`.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                // Not readable after all: readiness was cleared, wait again.
                Err(_would_block) => continue,
            }
        }
    }
}

/// The write half: registered for writable readiness only while a write
/// waits for room. Dropping it shuts the socket's write side down, as a
/// tokio write half does: the peer reads the end of the stream.
#[derive(Debug)]
pub(crate) struct UnixWriteHalf {
    sock: Arc<UnixStream>,
    /// From a write that found no room until [`KEEP_ROOM_FOR`] writes in
    /// a row found some: a duplicate of the socket's descriptor,
    /// registered for writability.
    waiting: Option<AsyncFd<UnixStream>>,
    /// Writes in a row that found room while `waiting` is registered.
    roomy_writes: u32,
    /// While a write waits for room and no descriptor was left to
    /// duplicate: when to try again.
    retry: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl UnixWriteHalf {
    /// Writes `len` bytes or fewer with `write`, waiting for room when the
    /// buffer is full.
    fn poll_with(
        &mut self,
        cx: &mut Context<'_>,
        len: usize,
        write: impl Fn(&UnixStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            if let Some(fd) = &self.waiting {
                let mut ready = ready!(fd.poll_write_ready(cx))?;
                // Still full: readiness was cleared, wait again.
                let Ok(done) = ready.try_io(|s| write(s.get_ref())) else {
                    self.roomy_writes = 0;
                    continue;
                };
                if matches!(done, Ok(n) if n < len) {
                    // Full now: the next write waits for room first.
                    ready.clear_ready();
                    self.roomy_writes = 0;
                } else {
                    self.roomy_writes += 1;
                    if self.roomy_writes >= KEEP_ROOM_FOR {
                        // The peer keeps up: no more wake-ups for room.
                        self.waiting = None;
                    }
                }
                return Poll::Ready(done);
            }
            if let Some(retry) = &mut self.retry {
                ready!(retry.as_mut().poll(cx));
                self.retry = None;
            }
            match write(&self.sock) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait_for_room()?,
                Ok(n) if n < len => {
                    // Full now: the next write waits for room first.
                    self.wait_for_room()?;
                    return Poll::Ready(Ok(n));
                }
                done => return Poll::Ready(done),
            }
        }
    }

    /// Registers for writability; the registration reports the socket's
    /// readiness at once, so room freed since the full write is not missed.
    fn wait_for_room(&mut self) -> io::Result<()> {
        self.roomy_writes = 0;
        match self.sock.try_clone() {
            Ok(dup) => self.waiting = Some(registered(dup, Interest::WRITABLE)?),
            Err(e)
                if e.raw_os_error() == Some(libc::EMFILE)
                    || e.raw_os_error() == Some(libc::ENFILE) =>
            {
                self.retry = Some(Box::pin(tokio::time::sleep(RETRY_WITHOUT_FD)));
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

impl AsyncWrite for UnixWriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_with(cx, buf.len(), |mut s| s.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.get_mut()
            .poll_with(cx, len, |mut s| s.write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.sock.shutdown(Shutdown::Write))
    }
}

impl Drop for UnixWriteHalf {
    fn drop(&mut self) {
        let _ = self.sock.shutdown(Shutdown::Write);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Every wait in these tests ends by this, or the test fails.
    const DEADLINE: Duration = Duration::from_secs(20);

    /// Both directions carry bytes in order, a writer held by a full
    /// buffer resumes when the peer reads, and dropping a write half ends
    /// the peer's stream.
    #[tokio::test(flavor = "current_thread")]
    async fn halves_carry_bytes_and_wait_for_room() {
        let (a, b) = UnixStream::pair().expect("socket pair");
        let (mut ar, mut aw) = split(a).expect("split a");
        let (mut br, bw) = split(b).expect("split b");
        // Far more than a unix socket buffers: the writer must wait for room.
        let sent: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let expect = sent.clone();
        let writer = tokio::spawn(async move {
            aw.write_all(&sent).await.expect("write");
            drop(aw);
        });
        let mut got = Vec::new();
        tokio::time::timeout(DEADLINE, br.read_to_end(&mut got))
            .await
            .expect("the reader stalled")
            .expect("read to the end");
        assert!(got == expect, "bytes arrive whole and in order");
        writer.await.expect("writer");
        drop(bw);
        let mut rest = Vec::new();
        ar.read_to_end(&mut rest).await.expect("a reads b's end");
        assert!(rest.is_empty());
    }

    /// A reader that took all there was (a short read, after which it
    /// does not read again until told) still wakes for what comes next:
    /// round trips of small messages, each read short.
    #[tokio::test(flavor = "current_thread")]
    async fn a_short_read_still_wakes_for_the_next_message() {
        let (a, b) = UnixStream::pair().expect("socket pair");
        let (mut ar, mut aw) = split(a).expect("split a");
        let (mut br, mut bw) = split(b).expect("split b");
        let echo = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            loop {
                let n = br.read(&mut buf).await.expect("echo read");
                if n == 0 {
                    return;
                }
                bw.write_all(&buf[..n]).await.expect("echo write");
            }
        });
        let round_trips = async {
            let mut buf = [0u8; 64];
            for i in 0..2_000u32 {
                aw.write_all(&i.to_le_bytes()).await.expect("write");
                let mut got = 0;
                while got < 4 {
                    let n = ar.read(&mut buf[got..]).await.expect("read");
                    assert!(n > 0, "the echo ended early");
                    got += n;
                }
                assert_eq!(buf[..4], i.to_le_bytes(), "round trip {i}");
            }
        };
        tokio::time::timeout(DEADLINE, round_trips)
            .await
            .expect("a reader missed a message after a short read: round trips stalled");
        drop(aw);
        echo.await.expect("echo");
    }

    /// A connection holds one descriptor, and a second from a write that
    /// found the buffer full (or filled it) until writes keep finding room.
    #[tokio::test(flavor = "current_thread")]
    async fn a_second_descriptor_only_while_writes_wait() {
        let (a, b) = UnixStream::pair().expect("socket pair");
        let (_ar, mut aw) = split(a).expect("split a");
        let (mut br, _bw) = split(b).expect("split b");
        let chunk = vec![7u8; 64 * 1024];
        // Fill the buffer until a write waits.
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut sent = 0usize;
        while let Poll::Ready(n) = Pin::new(&mut aw).poll_write(&mut cx, &chunk) {
            sent += n.expect("write");
            assert!(
                sent < 64 * 1024 * 1024,
                "a unix socket buffered {sent} bytes"
            );
        }
        let dup = aw.waiting.as_ref().map(AsRawFd::as_raw_fd);
        assert!(dup.is_some(), "a write that found no room registers for it");
        assert_ne!(
            dup,
            Some(aw.sock.as_raw_fd()),
            "registered as a descriptor of its own"
        );
        let mut got = vec![0u8; sent];
        tokio::time::timeout(DEADLINE, br.read_exact(&mut got))
            .await
            .expect("the reader stalled")
            .expect("the reader takes what was sent");
        // Room again: small writes go through; the registration stays for
        // a writer that may fill the buffer again soon, and goes once
        // `KEEP_ROOM_FOR` writes in a row found room.
        let small = [1u8; 16];
        for i in 1..=KEEP_ROOM_FOR {
            let write = std::future::poll_fn(|cx| Pin::new(&mut aw).poll_write(cx, &small));
            let n = tokio::time::timeout(DEADLINE, write)
                .await
                .expect("a writer waiting for room was not woken")
                .expect("write after room");
            assert_eq!(n, small.len(), "a small write goes through whole");
            assert_eq!(
                aw.waiting.is_some(),
                i < KEEP_ROOM_FOR,
                "after {i} writes that found room"
            );
        }
        // Dropped, its duplicate descriptor closed (counting the process's
        // descriptors here would race the tests running beside this one).
        let mut rest = vec![0u8; small.len() * KEEP_ROOM_FOR as usize];
        tokio::time::timeout(DEADLINE, br.read_exact(&mut rest))
            .await
            .expect("the reader stalled")
            .expect("the reader takes the small writes");
    }

    /// A write that went through in part filled the buffer: the writer
    /// registers for room at once, and the next write waits for it
    /// rather than trying (and failing) first; the bytes still all
    /// arrive, in order.
    #[tokio::test(flavor = "current_thread")]
    async fn a_partial_write_waits_for_room_next() {
        let (a, b) = UnixStream::pair().expect("socket pair");
        let (_ar, mut aw) = split(a).expect("split a");
        let (mut br, _bw) = split(b).expect("split b");
        // Larger than the socket's buffer: the first write goes in part.
        let big: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let Poll::Ready(first) = Pin::new(&mut aw).poll_write(&mut cx, &big) else {
            panic!("the first write into an empty buffer waited");
        };
        let first = first.expect("first write");
        assert!(
            first > 0 && first < big.len(),
            "a unix socket took {first} of {} bytes at once",
            big.len()
        );
        assert!(aw.waiting.is_some(), "a partial write registers for room");
        // Nothing read yet: the next write waits.
        assert!(
            Pin::new(&mut aw)
                .poll_write(&mut cx, &big[first..])
                .is_pending(),
            "a write right after a partial one went through"
        );
        let reader = async {
            let mut got = vec![0u8; big.len()];
            br.read_exact(&mut got).await.expect("read");
            got
        };
        let writer = async {
            aw.write_all(&big[first..]).await.expect("write the rest");
        };
        let (got, ()) = tokio::time::timeout(DEADLINE, async { tokio::join!(reader, writer) })
            .await
            .expect("a writer waiting after a partial write was not woken");
        assert!(got == big, "bytes arrive whole and in order");
    }
}

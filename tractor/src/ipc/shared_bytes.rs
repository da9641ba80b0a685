//! [`Bytes`]: a byte payload that crosses a channel without being copied
//! on either side.
//!
//! Serde hands a `Serialize` impl only a serializer and a `Deserialize`
//! impl only a slice of the input, so a `Vec<u8>` or `serde_bytes::ByteBuf`
//! payload is copied into the frame that sends it and out of the frame
//! that received it. A large [`Bytes`] is neither: the frame refers to
//! its buffer, which goes to the socket with the frame's header in one
//! vectored write (a *splice*), and on the receiving side a stream item
//! of 16 KiB or more is in a buffer of its own (read into it, or copied
//! into it when it arrived whole among smaller frames), of which the
//! decoded `Bytes` is a slice. What is on the wire is what a `ByteBuf` puts
//! there, so the two are interchangeable across a channel.
//!
//! Both sides work through thread-locals set only for the span of one
//! `Bytes`'s serialize or one item's decode: the frame encoder splices
//! only the exact slice a `Bytes` offered, and a `Bytes` borrows only a
//! slice that lies in the frame being decoded. Any other serializer or
//! deserializer gets a plain copy.

use std::cell::{Cell, RefCell};

/// A payload this large is spliced into its frame rather than copied
/// (smaller ones cost less to copy than a vectored write's bookkeeping).
pub(crate) const SPLICE_MIN: usize = 64 * 1024;

/// Bytes to be written in place of nothing at `at` of a frame's buffer.
pub(crate) struct Splice {
    /// Where in the buffer they go (before the byte at `at`).
    pub at: usize,
    pub bytes: ::bytes::Bytes,
}

thread_local! {
    /// The buffer of the large `Bytes` being serialized right now (set
    /// only for the span of its `serialize_bytes`).
    static OFFERED: Cell<Option<::bytes::Bytes>> = const { Cell::new(None) };
    /// The buffer of the frame whose item is being decoded.
    static RECEIVED: RefCell<Option<::bytes::Bytes>> = const { RefCell::new(None) };
}

/// The buffer of the [`Bytes`] being serialized, if `data` (what the
/// serializer is about to write) is it: the caller writes it as a splice
/// instead of copying it. A frame encoder that does not splice never
/// asks, and the serializer's copy is made as for any bytes.
pub(crate) fn take_offered(data: &[u8]) -> Option<::bytes::Bytes> {
    let offered = OFFERED.take()?;
    if same_slice(&offered, data) {
        return Some(offered);
    }
    OFFERED.set(Some(offered));
    None
}

fn same_slice(a: &[u8], b: &[u8]) -> bool {
    a.as_ptr() == b.as_ptr() && a.len() == b.len()
}

/// Runs `decode` (which decodes one item from a slice of `frame`) so
/// that the large [`Bytes`] in it are slices of `frame`, not copies.
pub(crate) fn decoding_in<R>(frame: &::bytes::Bytes, decode: impl FnOnce() -> R) -> R {
    /// Puts the outer frame back however `decode` ends (a user's
    /// `Deserialize` may panic, and the thread live on): the frame is not
    /// held past its decode.
    struct Restore(Option<::bytes::Bytes>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let outer = self.0.take();
            RECEIVED.with(|r| *r.borrow_mut() = outer);
        }
    }
    let _restore = Restore(RECEIVED.with(|r| r.borrow_mut().replace(frame.clone())));
    decode()
}

/// `part` as a slice of the frame being decoded, if it lies in it and is
/// large (a small one is copied: kept, a slice would keep the whole
/// frame's buffer alive).
fn slice_of_received(part: &[u8]) -> Option<::bytes::Bytes> {
    if part.len() < SPLICE_MIN {
        return None;
    }
    RECEIVED.with(|r| {
        let r = r.borrow();
        let frame = r.as_ref()?;
        let at = (part.as_ptr() as usize).checked_sub(frame.as_ptr() as usize)?;
        let end = at.checked_add(part.len())?;
        (end <= frame.len()).then(|| frame.slice(at..end))
    })
}

/// Bytes that travel between actors without being copied on the way (a
/// payload of 64 KiB or more; smaller ones are copied, which costs less).
///
/// Use it for bulk data where a `Vec<u8>` would be copied into each frame
/// and out again. Sending any message whose payload holds one (a stream
/// item, a context stream's message, a result) writes its buffer to the
/// socket as it is, in one vectored write with the frame's header.
/// Receiving it in a stream item gives a slice of the buffer that item
/// arrived in (which stays allocated while a slice of it lives); in a
/// call's argument or result it is copied once, out of the connection's
/// buffers. A `Bytes` under 64 KiB is copied either way. It is a
/// cheaply cloned, immutable [`bytes::Bytes`](::bytes::Bytes) and encodes
/// exactly as `serde_bytes::ByteBuf` does, so a peer may read it as
/// either.
///
/// ```
/// let payload = tractor::Bytes::from(vec![7u8; 1 << 20]);
/// let copy = payload.clone(); // a reference count, not a copy
/// assert_eq!(copy.len(), 1 << 20);
/// assert_eq!(&payload[..3], &[7, 7, 7]);
/// let inner: bytes::Bytes = payload.into_inner();
/// assert_eq!(inner.len(), 1 << 20);
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(::bytes::Bytes);

impl Bytes {
    /// An empty payload.
    ///
    /// ```
    /// assert!(tractor::Bytes::new().is_empty());
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Bytes(::bytes::Bytes::new())
    }

    /// The underlying [`bytes::Bytes`](::bytes::Bytes).
    ///
    /// ```
    /// let b = tractor::Bytes::from(&b"abc"[..]);
    /// assert_eq!(b.into_inner(), bytes::Bytes::from_static(b"abc"));
    /// ```
    #[must_use]
    pub fn into_inner(self) -> ::bytes::Bytes {
        self.0
    }

    /// The bytes, copied into a `Vec` (free when this is their only
    /// owner and they fill their buffer).
    ///
    /// ```
    /// assert_eq!(tractor::Bytes::from(vec![1, 2]).into_vec(), vec![1, 2]);
    /// ```
    #[must_use]
    pub fn into_vec(self) -> Vec<u8> {
        self.0.into()
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A payload may be megabytes: its length, and a glimpse.
        let head = &self.0[..self.0.len().min(16)];
        f.debug_struct("Bytes")
            .field("len", &self.0.len())
            .field("head", &head)
            .finish()
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes(v.into())
    }
}

impl From<::bytes::Bytes> for Bytes {
    fn from(b: ::bytes::Bytes) -> Self {
        Bytes(b)
    }
}

impl From<&[u8]> for Bytes {
    fn from(b: &[u8]) -> Self {
        Bytes(::bytes::Bytes::copy_from_slice(b))
    }
}

impl From<Bytes> for ::bytes::Bytes {
    fn from(b: Bytes) -> Self {
        b.0
    }
}

impl serde::Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// Withdraws an offer not taken (a serializer that copies, or one
        /// that failed or panicked first).
        struct Withdraw;
        impl Drop for Withdraw {
            fn drop(&mut self) {
                OFFERED.take();
            }
        }
        let _withdraw = (self.0.len() >= SPLICE_MIN).then(|| {
            OFFERED.set(Some(self.0.clone()));
            Withdraw
        });
        s.serialize_bytes(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_bytes(BytesVisitor)
    }
}

struct BytesVisitor;

impl<'de> serde::de::Visitor<'de> for BytesVisitor {
    type Value = Bytes;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("bytes")
    }

    fn visit_borrowed_bytes<E: serde::de::Error>(self, v: &'de [u8]) -> Result<Bytes, E> {
        Ok(Bytes(
            slice_of_received(v).unwrap_or_else(|| ::bytes::Bytes::copy_from_slice(v)),
        ))
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
        Ok(Bytes::from(v))
    }

    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
        Ok(Bytes::from(v))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
        // Formats that write bytes as a list of numbers (JSON); bounded by
        // what the input holds, not by a length it claims.
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(b) = seq.next_element::<u8>()? {
            v.push(b);
        }
        Ok(Bytes::from(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On the wire a `Bytes` is a `ByteBuf`, whichever way it goes.
    #[test]
    fn encodes_as_a_byte_buf() {
        for len in [0, 5, SPLICE_MIN + 3] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let ours = postcard::to_stdvec(&Bytes::from(data.clone())).unwrap();
            let theirs = postcard::to_stdvec(&serde_bytes::ByteBuf::from(data.clone())).unwrap();
            assert_eq!(ours, theirs);
            let back: Bytes = postcard::from_bytes(&theirs).unwrap();
            assert_eq!(&back[..], &data[..]);
        }
    }

    /// Another serializer copies, and an offer not taken does not linger
    /// into what is encoded next.
    #[test]
    fn an_offer_lasts_one_serialize() {
        let big = Bytes::from(vec![1u8; SPLICE_MIN]);
        assert!(postcard::to_stdvec(&big).unwrap().len() > SPLICE_MIN);
        assert!(
            take_offered(&big).is_none(),
            "withdrawn after its serialize"
        );
    }

    /// Decoding inside a frame borrows from it; outside, it copies.
    #[test]
    fn decodes_as_a_slice_of_the_frame() {
        let in_frame = |b: &Bytes, frame: &::bytes::Bytes| {
            let (p, f) = (b.as_ptr() as usize, frame.as_ptr() as usize);
            p >= f && p < f + frame.len()
        };
        let data = vec![9u8; SPLICE_MIN];
        let frame = ::bytes::Bytes::from(postcard::to_stdvec(&Bytes::from(data)).unwrap());
        let inside: Bytes = decoding_in(&frame, || postcard::from_bytes(&frame).unwrap());
        assert!(in_frame(&inside, &frame), "a slice of the frame");
        let outside: Bytes = postcard::from_bytes(&frame).unwrap();
        assert!(!in_frame(&outside, &frame), "a copy");
        // A small one is copied even inside its frame: kept, it must not
        // keep the frame's buffer alive.
        let tagged = (Bytes::from(&b"id"[..]), Bytes::from(vec![3u8; SPLICE_MIN]));
        let frame = ::bytes::Bytes::from(postcard::to_stdvec(&tagged).unwrap());
        let (id, bulk): (Bytes, Bytes) =
            decoding_in(&frame, || postcard::from_bytes(&frame).unwrap());
        assert!(!in_frame(&id, &frame) && in_frame(&bulk, &frame));
        // Bytes of another buffer, decoded while a frame is set: copied.
        let other = postcard::to_stdvec(&Bytes::from(vec![1u8; SPLICE_MIN])).unwrap();
        let copied: Bytes = decoding_in(&frame, || postcard::from_bytes(&other).unwrap());
        assert_eq!(&copied[..], &[1u8; SPLICE_MIN][..]);
    }

    /// A decode that panics does not leave its frame set on the thread.
    #[test]
    fn a_panicking_decode_lets_its_frame_go() {
        let frame = ::bytes::Bytes::from(vec![0u8; 8]);
        let panicked = std::panic::catch_unwind(|| decoding_in(&frame, || panic!("user decode")));
        assert!(panicked.is_err());
        assert!(RECEIVED.with(|r| r.borrow().is_none()));
    }
}

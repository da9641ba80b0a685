//! What an actor and its forkserver say to each other: length-prefixed
//! postcard frames on a unix stream socket.

use serde::{Deserialize, Serialize};

use crate::spawn::affinity::CpuMask;

/// The largest frame either side accepts: a fork request is a name, an
/// address, a secret (at most [`MAX_SECRET_LEN`](crate::ipc::auth::MAX_SECRET_LEN))
/// and the tree's TLS (at most [`MAX_SPEC_BYTES`](crate::ipc::tls::MAX_SPEC_BYTES)).
pub(super) const MAX_FRAME: usize = 16 * 1024 + crate::ipc::tls::MAX_SPEC_BYTES;

/// From an actor to the forkserver.
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Request {
    /// Fork a child actor; answered by `Forked` or `Failed` with this id.
    Fork {
        id: u64,
        name: String,
        uuid: [u8; 16],
        tree_id: String,
        parent_addr: String,
        #[serde(with = "serde_bytes")]
        secret: Vec<u8>,
        tls: Option<Box<crate::ipc::tls::TlsSpec>>,
        /// An fd rides with this frame (`SCM_RIGHTS`): the child's end of
        /// the channel its parent made for it, which it then uses instead
        /// of dialing the parent.
        channel: bool,
        /// The CPUs the child may run on: the asking actor's thread's
        /// (none if unreadable: then the server's).
        cpus: Option<CpuMask>,
    },
    /// Send `sig` to `pid`, if it is a live child forked for this actor.
    Signal { pid: i32, sig: i32 },
}

/// From the forkserver to an actor.
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Reply {
    /// The server is up (its first frame on the root's link).
    Hello { pid: i32 },
    /// Request `id` forked child `pid`.
    Forked { id: u64, pid: i32 },
    /// Request `id` failed with OS error `errno`.
    Failed { id: u64, errno: i32 },
    /// Child `pid` exited; `status` is its raw wait status.
    Exited { pid: i32, status: i32 },
}

/// Why a peer's bytes are no frame.
#[derive(Debug, thiserror::Error)]
pub(super) enum ProtoError {
    #[error("a forkserver frame of {0} bytes is larger than the {MAX_FRAME} accepted")]
    TooLarge(usize),
    #[error("malformed forkserver frame: {0}")]
    Malformed(#[from] postcard::Error),
}

/// `msg` as one frame, appended to `out`.
pub(super) fn encode<T: Serialize>(msg: &T, out: &mut Vec<u8>) -> Result<(), ProtoError> {
    let body = postcard::to_allocvec(msg)?;
    if body.len() > MAX_FRAME {
        return Err(ProtoError::TooLarge(body.len()));
    }
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(())
}

/// Every complete frame in `buf`, removed from it (at once: a burst of
/// small frames costs one move of what is left, not one per frame).
pub(super) fn decode_all<T: for<'de> Deserialize<'de>>(
    buf: &mut Vec<u8>,
) -> Result<Vec<T>, ProtoError> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(head) = buf[at..].first_chunk::<4>() {
        let len = u32::from_le_bytes(*head) as usize;
        if len > MAX_FRAME {
            return Err(ProtoError::TooLarge(len));
        }
        if buf.len() - at < 4 + len {
            break;
        }
        out.push(postcard::from_bytes(&buf[at + 4..at + 4 + len])?);
        at += 4 + len;
    }
    buf.drain(..at);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_split_anywhere() {
        let mut wire = Vec::new();
        encode(&Reply::Forked { id: 7, pid: 42 }, &mut wire).unwrap();
        encode(&Reply::Exited { pid: 42, status: 9 }, &mut wire).unwrap();
        for cut in 0..wire.len() {
            let mut buf = wire[..cut].to_vec();
            let mut got = decode_all::<Reply>(&mut buf).unwrap();
            buf.extend_from_slice(&wire[cut..]);
            got.extend(decode_all::<Reply>(&mut buf).unwrap());
            assert_eq!(got.len(), 2, "cut at {cut}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn oversized_and_malformed_frames_are_refused() {
        let mut buf = ((MAX_FRAME + 1) as u32).to_le_bytes().to_vec();
        assert!(matches!(
            decode_all::<Reply>(&mut buf),
            Err(ProtoError::TooLarge(_))
        ));
        let mut buf = vec![1, 0, 0, 0, 0xff];
        assert!(matches!(
            decode_all::<Reply>(&mut buf),
            Err(ProtoError::Malformed(_))
        ));
    }
}

//! The authenticated handshake over a fresh transport: peer-uid check,
//! challenges, proofs, identities.

// `tractor::wire` (the `wire` feature) exposes parts of this module
// to tests that speak the protocol by hand; without it they are internal.
#![cfg_attr(not(feature = "wire"), allow(unreachable_pub, dead_code))]

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::proof::{proof, verify};
use super::{MAX_AUTH_FRAME, Secret, fill_random};
use crate::ipc::channel::Role;
use crate::ipc::error::IpcError;
use crate::ipc::msg::{Aid, Msg};
use crate::ipc::transport::{MsgTransport, PeerCred};

/// Refuses a unix-socket peer that runs as another user than this process
/// (from `SO_PEERCRED`). TCP peers carry no credentials: the secret is
/// what they are checked by.
pub(crate) fn check_peer_uid(cred: Option<PeerCred>) -> Result<(), IpcError> {
    // SAFETY: geteuid cannot fail.
    let ours = unsafe { libc::geteuid() };
    match cred {
        Some(c) if c.uid != ours => Err(IpcError::ForeignUser {
            uid: c.uid,
            pid: c.pid.unwrap_or(0),
            ours,
        }),
        _ => Ok(()),
    }
}

/// Sending and receiving handshake messages, over a [`MsgTransport`] or a
/// raw byte stream (tests).
pub(crate) trait Wire {
    /// Buffers one message.
    async fn write(&mut self, msg: &Msg) -> Result<(), IpcError>;
    /// Puts what was buffered on the wire.
    async fn flush(&mut self) -> Result<(), IpcError>;
    /// The next message; `None` on EOF.
    async fn recv(&mut self) -> Result<Option<Msg>, IpcError>;
}

impl Wire for MsgTransport {
    async fn write(&mut self, msg: &Msg) -> Result<(), IpcError> {
        self.write_msg(msg).await
    }

    async fn flush(&mut self) -> Result<(), IpcError> {
        self.flush_msgs().await
    }

    async fn recv(&mut self) -> Result<Option<Msg>, IpcError> {
        MsgTransport::recv(self).await
    }
}

/// A raw byte stream spoken one exact frame at a time: nothing past the
/// handshake is read, so the caller can go on writing raw bytes.
pub(super) struct RawWire<'a, S> {
    pub(super) io: &'a mut S,
    pub(super) out: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire for RawWire<'_, S> {
    async fn write(&mut self, msg: &Msg) -> Result<(), IpcError> {
        self.out
            .extend_from_slice(crate::ipc::transport::encode(msg)?.bytes());
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), IpcError> {
        let io = |e| IpcError::Frame(crate::ipc::frame::FrameError::Io(e));
        self.io.write_all(&self.out).await.map_err(io)?;
        self.out.clear();
        self.io.flush().await.map_err(io)
    }

    async fn recv(&mut self) -> Result<Option<Msg>, IpcError> {
        let io = |e| IpcError::Frame(crate::ipc::frame::FrameError::Io(e));
        let mut len = [0u8; 4];
        match self.io.read_exact(&mut len).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(io(e)),
        }
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_AUTH_FRAME {
            return Err(IpcError::Decode {
                len,
                reason: format!("a handshake frame is at most {MAX_AUTH_FRAME} bytes"),
            });
        }
        let mut body = vec![0u8; len];
        self.io.read_exact(&mut body).await.map_err(io)?;
        crate::ipc::codec::decode(&body)
            .map(Some)
            .map_err(|reason| IpcError::Decode { len, reason })
    }
}

/// The handshake over a fresh transport: the peer-uid check, the mutual
/// proof of the secret, then the identities (an in-process pair, or a link
/// in mutual TLS, exchanges the identities alone). Returns the peer's.
pub(crate) async fn handshake(
    t: &mut MsgTransport,
    me: &Aid,
    secret: &Secret,
    role: Role,
) -> Result<Aid, IpcError> {
    let vouched = if t.is_handed() {
        // A thread actor's link, or a socket pair handed to a forked
        // child: the parent made both ends, so only it and the child it
        // gave the other end to can be on them. The proofs would cost a
        // round trip and prove nothing.
        Some("the peer on a channel its parent made connected")
    } else if t.is_tls() {
        // Both certificates were checked against our CA: the peer belongs
        // (a program of another tree sharing our CA belongs too).
        Some("the peer completed mutual TLS")
    } else {
        None
    };
    if let Some(how) = vouched {
        // The identities are still exchanged, as on any channel.
        t.write(&Msg::Aid(Box::new(me.clone()))).await?;
        t.flush().await?;
        return their_identity(t, how).await;
    }
    check_peer_uid(t.peer_cred)?;
    let peer = describe_peer(t);
    handshake_on(t, me, secret, role, &peer).await
}

/// [`handshake`] as a dialer over a raw byte stream, reading exactly the
/// handshake's frames: for tests that go on writing raw bytes after it.
#[doc(hidden)]
pub async fn dial_handshake_raw<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    me: &Aid,
    secret: &Secret,
) -> Result<Aid, IpcError> {
    let mut w = RawWire {
        io,
        out: Vec::new(),
    };
    handshake_on(&mut w, me, secret, Role::Dialer, "the peer").await
}

fn describe_peer(t: &MsgTransport) -> String {
    match (&t.peer_addr, t.peer_cred) {
        (Some(a), _) => a.to_string(),
        (None, Some(PeerCred { pid: Some(pid), .. })) => format!("unix-socket peer pid {pid}"),
        _ => "a unix-socket peer".into(),
    }
}

pub(super) async fn handshake_on<W: Wire>(
    w: &mut W,
    me: &Aid,
    secret: &Secret,
    role: Role,
    peer: &str,
) -> Result<Aid, IpcError> {
    authenticate(w, secret, role, &Msg::Aid(Box::new(me.clone())), peer).await?;
    their_identity(w, &format!("{peer} authenticated")).await
}

/// The identity a peer sends once it is trusted; `peer` says who it is
/// and how far it got ("x authenticated").
async fn their_identity<W: Wire>(w: &mut W, peer: &str) -> Result<Aid, IpcError> {
    match w.recv().await? {
        Some(Msg::Aid(aid)) => Ok(*aid),
        Some(other) => Err(IpcError::Handshake(format!(
            "{peer} but sent `{}` instead of its identity",
            other.kind()
        ))),
        None => Err(IpcError::Handshake(format!(
            "{peer}, then closed the connection before identifying itself"
        ))),
    }
}

/// The challenge-response. On success the peer's proof was right and
/// `then` (our identity) was sent after our own proof.
async fn authenticate<W: Wire>(
    w: &mut W,
    secret: &Secret,
    role: Role,
    then: &Msg,
    peer: &str,
) -> Result<(), IpcError> {
    let failed = |reason: String| IpcError::AuthFailed {
        peer: peer.to_string(),
        reason,
    };
    let mut mine = [0u8; 32];
    fill_random(&mut mine)?;
    w.write(&Msg::Challenge { nonce: mine }).await?;
    w.flush().await?;
    let theirs = match w.recv().await {
        Ok(Some(Msg::Challenge { nonce })) => nonce,
        Ok(Some(other)) => {
            return Err(failed(format!(
                "it sent `{}` where the handshake expects its challenge (a tractor without authentication, or not tractor at all)",
                other.kind()
            )));
        }
        Ok(None) => {
            return Err(failed(
                "it closed the connection before its challenge".into(),
            ));
        }
        Err(e) if e.is_disconnect() => {
            return Err(failed(format!(
                "the connection dropped before its challenge ({e})"
            )));
        }
        Err(e) => return Err(e),
    };
    if theirs == mine {
        return Err(failed("it sent our own challenge back".into()));
    }
    let (dialer, acceptor) = match role {
        Role::Dialer => (&mine, &theirs),
        Role::Acceptor => (&theirs, &mine),
    };
    let ours = Msg::Proof {
        mac: proof(secret, role, dialer, acceptor)?,
    };
    let their_role = match role {
        Role::Dialer => Role::Acceptor,
        Role::Acceptor => Role::Dialer,
    };
    if role == Role::Dialer {
        w.write(&ours).await?;
        w.write(then).await?;
        w.flush().await?;
    }
    let claimed = match w.recv().await {
        Ok(Some(Msg::Proof { mac })) => mac,
        Ok(Some(other)) => {
            return Err(failed(format!(
                "it sent `{}` where the handshake expects its proof",
                other.kind()
            )));
        }
        Ok(None) => {
            return Err(failed(
                "it closed the connection instead of proving it knows the secret: it refused our proof, so it holds another secret".into(),
            ));
        }
        Err(e) if e.is_disconnect() => {
            return Err(failed(format!(
                "the connection dropped instead of a proof ({e}): it refused our proof, so it holds another secret"
            )));
        }
        Err(e) => return Err(e),
    };
    if !verify(secret, their_role, dialer, acceptor, &claimed)? {
        return Err(failed(
            "its proof does not match our secret: it holds another secret".into(),
        ));
    }
    if role == Role::Acceptor {
        w.write(&ours).await?;
        w.write(then).await?;
        w.flush().await?;
    }
    Ok(())
}

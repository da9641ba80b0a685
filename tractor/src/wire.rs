//! The wire protocol, for tests and tools that speak it by hand: the
//! messages, the codec and framing, raw transports and the handshake.
//! Compiled only with the `wire` cargo feature; outside semver.

pub use crate::ipc::FuncType;
pub use crate::ipc::auth::handshake::dial_handshake_raw;
pub use crate::ipc::auth::proof::proof;
pub use crate::ipc::channel::{Channel, Role};
pub use crate::ipc::codec;
pub use crate::ipc::frame::{DEFAULT_MAX_FRAME, Frame};
pub use crate::ipc::frame_reader::FrameReader;
pub use crate::ipc::limits::HANDSHAKE_MAX_FRAME;
pub use crate::ipc::msg::MAX_ERROR_NESTING;
pub use crate::ipc::msg::{Cid, ErrorData, FlowSpec, Msg, PayloadMsg, SpawnSpec, Start};
pub use crate::ipc::trace::TraceParent;
pub use crate::ipc::transport::{MsgListener, MsgReader, MsgTransport, PeerCred};
pub use crate::ipc::transport::{default_bind_addr, encode};

/// The secret of the actor the calling code runs in (a test's root):
/// what a hand-made peer must prove it holds to be let in.
pub fn tree_secret() -> Option<crate::Secret> {
    crate::runtime::current::try_current().map(|rt| rt.p.secret.clone())
}

/// Dials `addr` and completes the handshake (peer-uid check, the proof of
/// `secret`, identities) as `me`: a raw transport to send hand-made
/// messages over. Returns it and the peer's identity.
pub async fn dial_authenticated(
    addr: &crate::Addr,
    me: &crate::Aid,
    secret: &crate::Secret,
) -> Result<(MsgTransport, crate::Aid), crate::error::IpcError> {
    let mut t = MsgTransport::connect(addr, DEFAULT_MAX_FRAME, None).await?;
    let peer = crate::ipc::auth::handshake(&mut t, me, secret, Role::Dialer).await?;
    Ok((t, peer))
}

//! IPC: addresses, framing, the protocol messages, transports, who may
//! connect (authentication) and channels.
//!
//! This layer knows nothing of actors' behaviour; the runtime above it
//! decides what a message means.

pub mod addr;
pub mod auth;
pub mod channel;
pub mod codec;
mod cookie;
pub mod error;
pub mod frame;
pub mod heartbeat;
pub mod limits;
pub mod msg;
pub(crate) mod schema;
pub mod transport;

pub use addr::{Addr, TransportKind};
pub use auth::{Secret, SecretError};
pub use channel::{Channel, Role};
pub use error::IpcError;
pub use frame::{DEFAULT_MAX_FRAME, Frame, FrameError};
pub use heartbeat::Heartbeat;
pub use limits::{HANDSHAKE_MAX_FRAME, Limits};
pub use msg::{
    Aid, Cid, ErrorData, FlowSpec, FuncType, Msg, PayloadMsg, SpawnSpec, Start, stable_hash,
};
pub use transport::{MsgListener, MsgReader, MsgTransport, PeerCred};

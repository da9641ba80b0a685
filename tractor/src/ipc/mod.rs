//! IPC: addresses, framing, the protocol messages, transports, who may
//! connect (authentication) and channels.
//!
//! This layer knows nothing of actors' behaviour; the runtime above it
//! decides what a message means.

pub(crate) mod addr;
pub(crate) mod auth;
pub(crate) mod buffer_pool;
pub(crate) mod channel;
pub mod codec;
mod cookie;
pub(crate) mod error;
pub(crate) mod fragment;
pub(crate) mod frame;
pub(crate) mod frame_reader;
pub(crate) mod heartbeat;
pub(crate) mod limits;
pub(crate) mod msg;
mod outbox;
pub(crate) mod schema;
pub(crate) mod shared_bytes;
pub(crate) mod shm_ring;
pub(crate) mod tls;
pub(crate) mod trace;
pub(crate) mod transport;
pub(crate) mod uds;
mod unix_halves;

pub use addr::{Addr, AddrParseError, TransportKind};
pub use auth::{Secret, SecretError};
pub use error::IpcError;
pub use frame::FrameError;
pub use heartbeat::Heartbeat;
pub use limits::Limits;
pub(crate) use msg::stable_hash;
pub use msg::{Aid, FuncType};
pub use shared_bytes::Bytes;
pub use tls::{TlsError, TreeTls};
pub use trace::{Carrier, CarrierError};

pub(crate) use channel::{Channel, Role};
pub(crate) use frame::DEFAULT_MAX_FRAME;
pub(crate) use frame_reader::{Frames, OwnedFrame, Run};
pub(crate) use msg::{
    Cid, ErrorData, FlowSpec, Msg, PayloadMsg, SpawnSpec, Start, StartView, WINDOW_BYTES,
    decode_answer, split_yield,
};
pub(crate) use outbox::COALESCE_MAX;
pub(crate) use trace::TraceParent;
pub(crate) use transport::{MsgListener, MsgReader, MsgTransport};

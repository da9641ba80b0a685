//! What one peer may cost an actor.
//!
//! Every bound here is enforced by the receiving side on its own
//! configuration, never on what the peer announces: a peer that claims a
//! huge window, announces a huge frame, dribbles bytes, never finishes its
//! handshake or starts tasks without end gets a typed refusal and a closed
//! dialog or connection, and the rest of the actor goes on. A root's
//! limits are inherited by every actor of its tree.

// `tractor::wire` (the `wire` feature) exposes parts of this module
// to tests that speak the protocol by hand; without it they are internal.
#![cfg_attr(not(feature = "wire"), allow(unreachable_pub, dead_code))]

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::frame::DEFAULT_MAX_FRAME;

/// Largest frame accepted before the handshake completes: identities and
/// proofs are a few hundred bytes, so an unauthenticated peer can never
/// make an actor buffer more than this.
pub const HANDSHAKE_MAX_FRAME: usize = 16 * 1024;

/// The bounds an actor holds each peer to.
///
/// ```
/// use std::time::Duration;
/// let limits = tractor::Limits::default()
///     .tasks_per_connection(64)
///     .frame_timeout(Duration::from_secs(5));
/// assert_eq!(limits.tasks_per_connection, 64);
/// let cfg = tractor::RootConfig::new("app").limits(limits);
/// # let _ = cfg;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Limits {
    /// Largest frame accepted once the handshake is done; a larger
    /// announced frame drops the connection before anything is allocated.
    pub max_frame: usize,
    /// How long a new connection may take to identify itself.
    pub handshake_timeout: Duration,
    /// How long one frame may take to arrive once its first byte did: a
    /// peer that stalls mid-frame is dropped (between frames a peer may be
    /// silent; liveness is the heartbeat's business).
    pub frame_timeout: Duration,
    /// Most stream messages one dialog queues unread, whatever window the
    /// peer asked for; a smaller peer window is kept as is.
    pub stream_buffer: u32,
    /// Most bytes the stream messages of one connection's dialogs may
    /// hold unread, all dialogs together (each message counts its payload
    /// plus a fixed overhead; one message is always taken while nothing
    /// else is queued).
    pub connection_bytes: usize,
    /// Most tasks one connection may run in this actor at once.
    pub tasks_per_connection: usize,
    /// Most tasks all peers together may run in this actor at once.
    pub tasks_per_actor: usize,
}

impl Default for Limits {
    /// 64 MiB frames, 5 s to handshake, 30 s per frame, 16 Ki messages
    /// queued per dialog and 256 MiB per connection, 8 Ki tasks per
    /// connection and 32 Ki per actor.
    fn default() -> Self {
        Limits {
            max_frame: DEFAULT_MAX_FRAME,
            handshake_timeout: Duration::from_secs(5),
            frame_timeout: Duration::from_secs(30),
            stream_buffer: 16 * 1024,
            connection_bytes: 256 * 1024 * 1024,
            tasks_per_connection: 8 * 1024,
            tasks_per_actor: 32 * 1024,
        }
    }
}

impl Limits {
    /// Sets the largest frame accepted after the handshake (at least the
    /// handshake's own frame size).
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes.max(HANDSHAKE_MAX_FRAME);
        self
    }

    /// Sets how long a new connection may take to identify itself.
    pub fn handshake_timeout(mut self, d: Duration) -> Self {
        self.handshake_timeout = d;
        self
    }

    /// Sets how long one frame may take once its first byte arrived.
    pub fn frame_timeout(mut self, d: Duration) -> Self {
        self.frame_timeout = d;
        self
    }

    /// Sets the most stream messages one dialog queues unread (at least 1).
    pub fn stream_buffer(mut self, messages: u32) -> Self {
        self.stream_buffer = messages.max(1);
        self
    }

    /// Sets the most bytes one connection's dialogs may hold unread.
    pub fn connection_bytes(mut self, bytes: usize) -> Self {
        self.connection_bytes = bytes;
        self
    }

    /// Sets the most tasks one connection may run at once (at least 1).
    pub fn tasks_per_connection(mut self, n: usize) -> Self {
        self.tasks_per_connection = n.max(1);
        self
    }

    /// Sets the most tasks all peers together may run at once (at least 1).
    pub fn tasks_per_actor(mut self, n: usize) -> Self {
        self.tasks_per_actor = n.max(1);
        self
    }
}

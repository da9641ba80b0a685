//! Who keeps a channel open.
//!
//! A channel is opened for one of three owners:
//!
//! - the runtime (the channel to our parent, to a child, to the
//!   registrar): it stays open for the life of the actor, whoever else
//!   uses it;
//! - the peer (it dialed us): the peer decides when it closes;
//! - portals ([`connect_portal`](crate::connect_portal),
//!   [`find_actor`](crate::find_actor), [`wait_for_actor`](crate::wait_for_actor)):
//!   each such portal (all its clones together) holds one [`Lease`], and
//!   so does every dialog started through it (a stream or context may
//!   outlive the portal). When the last lease goes, the channel closes,
//!   unless the runtime took it over meanwhile.
//!
//! Only channels owned by the runtime or dialed for portals are shared
//! with new portals: a channel a peer dialed may be closed by that peer
//! whenever its own portals go.

use std::sync::{Arc, Mutex};

use super::actor::lock;
use super::conn::Conn;

/// Ownership state of one channel.
#[derive(Default)]
pub(crate) struct ShareState(Mutex<Share>);

#[derive(Default)]
struct Share {
    /// Live leases: portals (with their clones) and their dialogs.
    leases: usize,
    /// We dialed it for portals: it closes with its last lease.
    dialed: bool,
    /// The runtime keeps it (parent, child, registrar): never closed by leases.
    held: bool,
    /// The last lease went and the channel is closing: no new users.
    closing: bool,
}

/// What a caller of [`ActorRuntime::connect_shared`](super::actor::ActorRuntime::connect_shared)
/// claims on the channel it gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// A lease for a portal.
    Portal,
    /// The runtime keeps the channel for its whole life.
    Runtime,
}

impl ShareState {
    /// The runtime keeps this channel: no lease ever closes it.
    pub(crate) fn hold(&self) {
        lock(&self.0).held = true;
    }

    /// We dialed this channel for portals: it closes with its last lease.
    pub(crate) fn mark_dialed(&self) {
        lock(&self.0).dialed = true;
    }

    /// Whether new portals may share this channel: one the runtime keeps
    /// or one we dialed, and not on its way out.
    pub(crate) fn is_shareable(&self) -> bool {
        let s = lock(&self.0);
        (s.held || s.dialed) && !s.closing
    }

    fn try_lease(&self) -> bool {
        let mut s = lock(&self.0);
        if s.closing {
            return false;
        }
        s.leases += 1;
        true
    }

    fn try_hold(&self) -> bool {
        let mut s = lock(&self.0);
        if s.closing {
            return false;
        }
        s.held = true;
        true
    }

    /// Drops one lease; true when that was the last one of a channel we
    /// dialed for portals and nobody else keeps it: the caller closes it.
    fn release(&self) -> bool {
        let mut s = lock(&self.0);
        s.leases = s.leases.saturating_sub(1);
        if s.leases == 0 && s.dialed && !s.held && !s.closing {
            s.closing = true;
            return true;
        }
        false
    }
}

/// A portal's share of a channel; the channel closes when the last share
/// of a channel dialed for portals goes (see the module doc).
pub(crate) struct Lease {
    conn: Arc<Conn>,
    released: bool,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lease({})", self.conn.chan.peer())
    }
}

impl Lease {
    /// Claims `conn` as `claim` says; `None` if the channel is closed or
    /// closing (a portal must then dial anew). For [`Claim::Runtime`] the
    /// result holds no lease.
    pub(crate) fn claim(conn: &Arc<Conn>, claim: Claim) -> Option<Option<Lease>> {
        if conn.chan.is_closed() {
            return None;
        }
        match claim {
            Claim::Portal => conn.share.try_lease().then(|| {
                Some(Lease {
                    conn: conn.clone(),
                    released: false,
                })
            }),
            Claim::Runtime => conn.share.try_hold().then_some(None),
        }
    }

    /// Gives the share back now; true when the channel was closed because
    /// of it (the caller may wait for it to flush).
    pub(crate) fn release(mut self) -> bool {
        self.released = true;
        self.give_back()
    }

    fn give_back(&self) -> bool {
        if self.conn.share.release() {
            tracing::debug!(target: "tractor::ipc", peer = %self.conn.chan.peer(), "last portal gone: closing the channel it opened");
            self.conn.chan.close();
            return true;
        }
        false
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.released {
            self.give_back();
        }
    }
}

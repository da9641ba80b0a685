//! The registrar's table: name → actors and their addresses.
//!
//! Entries are keyed by uuid, so duplicate names are allowed; a name lookup
//! returns the latest registration. Each entry remembers the channel it was
//! registered over: when that channel drops (the actor died, even by
//! SIGKILL), its entries are pruned. That is the liveness tractor lacks.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use uuid::Uuid;

use crate::ipc::{Addr, Aid};
use crate::runtime::actor::lock;

/// One registered actor, as [`list_actors`](crate::list_actors) and
/// [`query_actor`](crate::query_actor) return it.
///
/// ```no_run
/// # async fn demo() -> Result<(), tractor::Error> {
/// if let Some(reg) = tractor::query_actor("quotes").await? {
///     // Any of its addresses will do; connect to the first.
///     let portal = tractor::connect_portal(&reg.addrs[0]).await?;
///     assert_eq!(portal.aid(), &reg.aid);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// Who.
    pub aid: Aid,
    /// Where it listens.
    pub addrs: Vec<Addr>,
}

struct Entry {
    reg: Registration,
    /// Identity of the channel it registered over.
    conn: usize,
    /// Registration order, for "latest wins".
    seq: u64,
}

/// The registrar's table.
pub(crate) struct Registry {
    entries: Mutex<Vec<Entry>>,
    seq: Mutex<u64>,
    changed: watch::Sender<u64>,
}

impl Registry {
    pub(super) fn new() -> Self {
        Registry {
            entries: Mutex::new(Vec::new()),
            seq: Mutex::new(0),
            changed: watch::channel(0).0,
        }
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    pub(super) fn register(&self, reg: Registration, conn: usize) {
        let seq = {
            let mut s = lock(&self.seq);
            *s += 1;
            *s
        };
        {
            let mut e = lock(&self.entries);
            e.retain(|x| x.reg.aid.uuid != reg.aid.uuid);
            e.push(Entry { reg, conn, seq });
        }
        self.bump();
    }

    pub(super) fn deregister(&self, uuid: Uuid) -> bool {
        let removed = {
            let mut e = lock(&self.entries);
            let before = e.len();
            e.retain(|x| x.reg.aid.uuid != uuid);
            before != e.len()
        };
        if removed {
            self.bump();
        }
        removed
    }

    /// Drops every entry registered over channel `conn` (it closed).
    pub(super) fn prune_conn(&self, conn: usize) {
        let removed = {
            let mut e = lock(&self.entries);
            let before = e.len();
            e.retain(|x| x.conn != conn);
            before != e.len()
        };
        if removed {
            tracing::info!(target: "tractor::discovery", "pruned registrations of a closed channel");
            self.bump();
        }
    }

    /// The latest registration under `name`.
    pub(super) fn find(&self, name: &str) -> Option<Registration> {
        lock(&self.entries)
            .iter()
            .filter(|x| x.reg.aid.name == name)
            .max_by_key(|x| x.seq)
            .map(|x| x.reg.clone())
    }

    /// Every registration, oldest first.
    pub(super) fn list(&self) -> Vec<Registration> {
        let mut all: Vec<_> = lock(&self.entries)
            .iter()
            .map(|x| (x.seq, x.reg.clone()))
            .collect();
        all.sort_by_key(|(s, _)| *s);
        all.into_iter().map(|(_, r)| r).collect()
    }

    /// Waits until `name` is registered.
    pub(super) async fn wait_for(&self, name: &str) -> Registration {
        let mut rx = self.changed.subscribe();
        loop {
            if let Some(r) = self.find(name) {
                return r;
            }
            if rx.changed().await.is_err() {
                // The sender lives as long as the registry: unreachable.
                std::future::pending::<()>().await;
            }
        }
    }
}

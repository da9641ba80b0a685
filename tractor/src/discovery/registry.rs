//! The registrar's table: name → actors and their addresses.
//!
//! Entries are keyed by uuid, so duplicate names are allowed; a name lookup
//! returns the latest registration. Each entry remembers the channel it was
//! registered over: when that channel drops (the actor died, even by
//! SIGKILL), its entries are pruned. That is the liveness tractor lacks.

use std::collections::{BTreeMap, HashMap, HashSet};
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

/// The entries, indexed so that registering, deregistering, pruning a
/// channel's entries and finding a name each cost the same with ten
/// actors or ten thousand (a Vec scanned per change made a thousand
/// registrations a million comparisons).
#[derive(Default)]
struct Table {
    by_uuid: HashMap<Uuid, Entry>,
    /// Per name, its actors in registration order: the latest is last.
    by_name: HashMap<String, BTreeMap<u64, Uuid>>,
    /// Per channel, the actors registered over it.
    by_conn: HashMap<usize, HashSet<Uuid>>,
    /// Every actor in registration order.
    order: BTreeMap<u64, Uuid>,
    seq: u64,
}

impl Table {
    fn insert(&mut self, reg: Registration, conn: usize) {
        let uuid = reg.aid.uuid;
        self.remove(uuid);
        self.seq += 1;
        let seq = self.seq;
        self.by_name
            .entry(reg.aid.name.clone())
            .or_default()
            .insert(seq, uuid);
        self.by_conn.entry(conn).or_default().insert(uuid);
        self.order.insert(seq, uuid);
        self.by_uuid.insert(uuid, Entry { reg, conn, seq });
    }

    fn remove(&mut self, uuid: Uuid) -> bool {
        let Some(e) = self.by_uuid.remove(&uuid) else {
            return false;
        };
        if let Some(named) = self.by_name.get_mut(&e.reg.aid.name) {
            named.remove(&e.seq);
            if named.is_empty() {
                self.by_name.remove(&e.reg.aid.name);
            }
        }
        if let Some(over) = self.by_conn.get_mut(&e.conn) {
            over.remove(&uuid);
            if over.is_empty() {
                self.by_conn.remove(&e.conn);
            }
        }
        self.order.remove(&e.seq);
        true
    }
}

/// The registrar's table.
pub(crate) struct Registry {
    table: Mutex<Table>,
    changed: watch::Sender<u64>,
}

impl Registry {
    pub(super) fn new() -> Self {
        Registry {
            table: Mutex::new(Table::default()),
            changed: watch::channel(0).0,
        }
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    pub(super) fn register(&self, reg: Registration, conn: usize) {
        lock(&self.table).insert(reg, conn);
        self.bump();
    }

    pub(super) fn deregister(&self, uuid: Uuid) -> bool {
        let removed = lock(&self.table).remove(uuid);
        if removed {
            self.bump();
        }
        removed
    }

    /// Drops every entry registered over channel `conn` (it closed).
    pub(super) fn prune_conn(&self, conn: usize) {
        let removed = {
            let mut t = lock(&self.table);
            let over = t.by_conn.remove(&conn).unwrap_or_default();
            over.into_iter().filter(|u| t.remove(*u)).count()
        };
        if removed > 0 {
            tracing::info!(target: "tractor::discovery", "pruned registrations of a closed channel");
            self.bump();
        }
    }

    /// The latest registration under `name`.
    pub(super) fn find(&self, name: &str) -> Option<Registration> {
        let t = lock(&self.table);
        let (_, uuid) = t.by_name.get(name)?.last_key_value()?;
        t.by_uuid.get(uuid).map(|e| e.reg.clone())
    }

    /// Every registration, oldest first.
    pub(super) fn list(&self) -> Vec<Registration> {
        let t = lock(&self.table);
        t.order
            .values()
            .filter_map(|u| t.by_uuid.get(u))
            .map(|e| e.reg.clone())
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(name: &str) -> Registration {
        Registration {
            aid: Aid::new(name),
            addrs: Vec::new(),
        }
    }

    #[test]
    fn the_latest_of_a_name_wins_and_its_removal_uncovers_the_one_before() {
        let r = Registry::new();
        let (a, b) = (reg("w"), reg("w"));
        r.register(a.clone(), 1);
        r.register(b.clone(), 2);
        assert_eq!(r.find("w"), Some(b.clone()));
        assert!(r.deregister(b.aid.uuid));
        assert!(!r.deregister(b.aid.uuid), "gone already");
        assert_eq!(r.find("w"), Some(a.clone()));
        assert!(r.deregister(a.aid.uuid));
        assert_eq!(r.find("w"), None);
        assert!(r.list().is_empty());
        let t = lock(&r.table);
        assert!(t.by_name.is_empty() && t.by_conn.is_empty() && t.order.is_empty());
    }

    #[test]
    fn re_registering_replaces_and_moves_to_the_end() {
        let r = Registry::new();
        let (a, b) = (reg("a"), reg("b"));
        r.register(a.clone(), 1);
        r.register(b.clone(), 1);
        let mut a2 = a.clone();
        a2.addrs = vec!["127.0.0.1:9".parse().expect("addr")];
        r.register(a2.clone(), 2);
        assert_eq!(r.list(), vec![b.clone(), a2.clone()]);
        // It now belongs to channel 2: channel 1 closing leaves it.
        r.prune_conn(1);
        assert_eq!(r.list(), vec![a2]);
    }

    #[test]
    fn a_closed_channel_takes_exactly_its_entries() {
        let r = Registry::new();
        let regs: Vec<_> = (0..1000).map(|i| reg(&format!("n{}", i % 10))).collect();
        for (i, g) in regs.iter().enumerate() {
            r.register(g.clone(), i % 3);
        }
        r.prune_conn(0);
        let left = r.list();
        assert_eq!(left.len(), 1000 - 334);
        assert!(left.iter().all(|g| {
            let i = regs.iter().position(|x| x == g).expect("one of ours");
            i % 3 != 0
        }));
        // The latest of each name among those left.
        let n1 = regs
            .iter()
            .enumerate()
            .rev()
            .find(|(i, g)| i % 3 != 0 && g.aid.name == "n1");
        assert_eq!(r.find("n1").as_ref(), n1.map(|(_, g)| g));
    }
}

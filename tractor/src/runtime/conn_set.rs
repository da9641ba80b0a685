//! The channels an actor serves, in the order they opened.
//!
//! A set, not a list scanned on every close: a root tearing down a
//! thousand children removes a thousand channels, and a scan per removal
//! made that a million comparisons.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::conn::Conn;
use super::plugin::ConnKey;

/// Channels by the order they opened; removal and insertion are O(log n).
#[derive(Default)]
pub(crate) struct ConnSet {
    by_order: BTreeMap<u64, Arc<Conn>>,
    order_of: HashMap<ConnKey, u64>,
    next: u64,
}

/// A channel's identity in the set (its allocation's address).
fn key(conn: &Arc<Conn>) -> ConnKey {
    Arc::as_ptr(conn) as ConnKey
}

impl ConnSet {
    pub(crate) fn insert(&mut self, conn: Arc<Conn>) {
        self.next += 1;
        if let Some(old) = self.order_of.insert(key(&conn), self.next) {
            self.by_order.remove(&old);
        }
        self.by_order.insert(self.next, conn);
    }

    pub(crate) fn remove(&mut self, conn: &Arc<Conn>) {
        if let Some(order) = self.order_of.remove(&key(conn)) {
            self.by_order.remove(&order);
        }
    }

    /// Oldest first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &Arc<Conn>> {
        self.by_order.values()
    }

    pub(crate) fn to_vec(&self) -> Vec<Arc<Conn>> {
        self.by_order.values().cloned().collect()
    }
}

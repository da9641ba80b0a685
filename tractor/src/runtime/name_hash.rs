//! A fast hash for the tables looked up by name on every call: the
//! endpoint table and the exposed modules.
//!
//! std's SipHash resists a peer that chooses keys to collide, which
//! matters for a table that peers fill. These tables are filled by the
//! binary (its endpoints) and the actor's spawner (`enable_modules`),
//! never by a caller: a caller only looks names up, and a lookup cannot
//! make a table's chains longer. SipHash cost a plain call about 400
//! instructions (three lookups); FNV-1a over names of a few dozen bytes
//! costs a fraction of that.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a, 64-bit.
#[derive(Clone, Copy)]
pub(crate) struct NameHasher(u64);

impl Default for NameHasher {
    fn default() -> Self {
        NameHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by names, filled by this process (see the module docs).
pub(crate) type NameMap<K, V> = HashMap<K, V, BuildHasherDefault<NameHasher>>;

/// A set of names, filled by this process (see the module docs).
pub(crate) type NameSet<K> = HashSet<K, BuildHasherDefault<NameHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_and_told_apart() {
        let names = ["", "a", "b", "ab", "ba", "tractor::_debug", "suite::common"];
        let mut set = NameSet::default();
        for n in names {
            assert!(set.insert(n.to_string()), "{n} twice");
        }
        for n in names {
            assert!(set.contains(n), "{n} lost");
        }
        assert!(!set.contains("suite::commons"));
        // The published FNV-1a test vector.
        let mut h = NameHasher::default();
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
    }
}

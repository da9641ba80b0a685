//! The trace context a `Start` carries: the caller's trace and span ids,
//! and a small carrier of string pairs for a user's propagator (W3C
//! `traceparent`/`tracestate`, say).
//!
//! The carrier is bounded on both ends: [`Carrier::insert`] refuses what
//! would not fit, and decoding refuses a carrier over the same limits
//! without allocating what the peer claims, so a peer cannot bloat an
//! actor through its calls' trace context.

// `tractor::wire` (the `wire` feature) exposes parts of this module
// to tests that speak the protocol by hand; without it they are internal.
#![cfg_attr(not(feature = "wire"), allow(unreachable_pub, dead_code))]

use std::fmt;

use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// The caller's side of a call's trace, as a `Start` carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceParent {
    /// The trace the call belongs to.
    pub trace_id: u128,
    /// The caller's span: the parent of the callee's task span.
    pub span_id: u64,
    /// What the caller's propagator injected (empty without one).
    pub carrier: Carrier,
}

/// String pairs a [`Propagator`](crate::trace::Propagator) injects on
/// the caller's side and extracts on the callee's: for example the W3C
/// `traceparent` and `tracestate` of an OpenTelemetry context.
///
/// It holds at most [`MAX_ENTRIES`](Self::MAX_ENTRIES) pairs, keys of at
/// most [`MAX_KEY_LEN`](Self::MAX_KEY_LEN) bytes and values of at most
/// [`MAX_VALUE_LEN`](Self::MAX_VALUE_LEN): what does not fit is refused
/// by [`insert`](Self::insert) with a [`CarrierError`], and a peer's
/// carrier over those limits is refused when its message is decoded.
///
/// ```
/// use tractor::trace::Carrier;
/// let mut c = Carrier::new();
/// c.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")?;
/// assert_eq!(c.get("traceparent").map(str::len), Some(55));
/// assert_eq!(c.get("tracestate"), None);
/// # Ok::<(), tractor::trace::CarrierError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Carrier {
    entries: Vec<(String, String)>,
}

/// Why a pair does not fit in a [`Carrier`].
///
/// ```
/// use tractor::trace::{Carrier, CarrierError};
/// let mut c = Carrier::new();
/// let long = "x".repeat(Carrier::MAX_VALUE_LEN + 1);
/// assert!(matches!(c.insert("baggage", long), Err(CarrierError::TooLong { .. })));
/// assert!(c.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    /// The carrier already holds [`Carrier::MAX_ENTRIES`] pairs.
    #[error(
        "a trace carrier holds at most {max} entries; propagate less (fewer baggage items, say)"
    )]
    TooManyEntries {
        /// The limit.
        max: usize,
    },
    /// A key or value is longer than its limit.
    #[error(
        "a trace carrier {what} of {len} bytes is longer than the {max} allowed; propagate less"
    )]
    TooLong {
        /// `"key"` or `"value"`.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl Carrier {
    /// Most pairs in one carrier.
    pub const MAX_ENTRIES: usize = 8;
    /// Longest key, in bytes.
    pub const MAX_KEY_LEN: usize = 64;
    /// Longest value, in bytes (W3C `tracestate` is at most 512).
    pub const MAX_VALUE_LEN: usize = 1024;

    /// An empty carrier (allocates nothing).
    ///
    /// ```
    /// assert!(tractor::trace::Carrier::new().is_empty());
    /// ```
    pub const fn new() -> Self {
        Carrier {
            entries: Vec::new(),
        }
    }

    /// Sets `key` to `value`, replacing an earlier value of `key`.
    /// Refused, leaving the carrier as it was, when the pair would
    /// break a limit.
    ///
    /// ```
    /// let mut c = tractor::trace::Carrier::new();
    /// c.insert("k", "1")?;
    /// c.insert("k", "2")?;
    /// assert_eq!((c.len(), c.get("k")), (1, Some("2")));
    /// # Ok::<(), tractor::trace::CarrierError>(())
    /// ```
    pub fn insert(
        &mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<(), CarrierError> {
        let (key, value) = (key.into(), value.into());
        check_len("key", key.len(), Self::MAX_KEY_LEN)?;
        check_len("value", value.len(), Self::MAX_VALUE_LEN)?;
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
            return Ok(());
        }
        if self.entries.len() >= Self::MAX_ENTRIES {
            return Err(CarrierError::TooManyEntries {
                max: Self::MAX_ENTRIES,
            });
        }
        self.entries.push((key, value));
        Ok(())
    }

    /// The value of `key` (keys are compared exactly).
    ///
    /// ```
    /// let c = tractor::trace::Carrier::new();
    /// assert_eq!(c.get("traceparent"), None);
    /// ```
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The pairs, in the order they were first inserted.
    ///
    /// ```
    /// let mut c = tractor::trace::Carrier::new();
    /// c.insert("a", "1")?;
    /// c.insert("b", "2")?;
    /// let keys: Vec<&str> = c.iter().map(|(k, _)| k).collect();
    /// assert_eq!(keys, ["a", "b"]);
    /// # Ok::<(), tractor::trace::CarrierError>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many pairs it holds.
    ///
    /// ```
    /// assert_eq!(tractor::trace::Carrier::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no pair.
    ///
    /// ```
    /// assert!(tractor::trace::Carrier::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn check_len(what: &'static str, len: usize, max: usize) -> Result<(), CarrierError> {
    if len > max {
        return Err(CarrierError::TooLong { what, len, max });
    }
    Ok(())
}

/// Decoded under the same limits as [`Carrier::insert`]: a string is
/// checked before it is copied, pairs are counted as they arrive (the
/// count on the wire is the peer's claim), and a carrier over a limit
/// fails the decoding of its message.
impl<'de> Deserialize<'de> for Carrier {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(Pairs)
    }
}

struct Pairs;

impl<'de> Visitor<'de> for Pairs {
    type Value = Carrier;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a trace carrier (a short sequence of string pairs)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Carrier, A::Error> {
        let mut c = Carrier::new();
        while let Some((k, v)) = seq.next_element_seed(Pair)? {
            c.insert(k, v).map_err(A::Error::custom)?;
        }
        Ok(c)
    }
}

/// One `(key, value)`, each string checked before it is copied.
struct Pair;

impl<'de> DeserializeSeed<'de> for Pair {
    type Value = (String, String);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_tuple(2, Pair)
    }
}

impl<'de> Visitor<'de> for Pair {
    type Value = (String, String);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a (key, value) pair of a trace carrier")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let key = seq
            .next_element_seed(Bounded("key", Carrier::MAX_KEY_LEN))?
            .ok_or_else(|| A::Error::invalid_length(0, &self))?;
        let value = seq
            .next_element_seed(Bounded("value", Carrier::MAX_VALUE_LEN))?
            .ok_or_else(|| A::Error::invalid_length(1, &self))?;
        Ok((key, value))
    }
}

/// A string of at most `.1` bytes, refused before it is copied.
struct Bounded(&'static str, usize);

impl<'de> DeserializeSeed<'de> for Bounded {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for Bounded {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a trace carrier {} of at most {} bytes", self.0, self.1)
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<String, E> {
        check_len(self.0, s.len(), self.1).map_err(E::custom)?;
        Ok(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::codec;

    /// What a hostile peer may put on the wire: any number of pairs of
    /// any length (the same encoding as a `Carrier`, without its limits).
    #[derive(Serialize)]
    struct RawParent {
        trace_id: u128,
        span_id: u64,
        carrier: Vec<(String, String)>,
    }

    fn raw(carrier: Vec<(String, String)>) -> Vec<u8> {
        codec::encode(&RawParent {
            trace_id: 7,
            span_id: 9,
            carrier,
        })
        .unwrap()
    }

    fn pairs(n: usize, key_len: usize, value_len: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|i| (format!("{i:0key_len$}"), "v".repeat(value_len)))
            .collect()
    }

    #[test]
    fn a_carrier_within_the_limits_round_trips() {
        let mut carrier = Carrier::new();
        for (k, v) in pairs(
            Carrier::MAX_ENTRIES,
            Carrier::MAX_KEY_LEN,
            Carrier::MAX_VALUE_LEN,
        ) {
            carrier.insert(k, v).unwrap();
        }
        let p = TraceParent {
            trace_id: u128::MAX,
            span_id: 1,
            carrier,
        };
        let back: TraceParent = codec::decode(&codec::encode(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        let same: TraceParent = codec::decode(&raw(pairs(2, 3, 4))).unwrap();
        assert_eq!(same.carrier.len(), 2);
        // A key repeated replaces its value: it never grows the carrier.
        let repeated = vec![("k".to_string(), "v".to_string()); 10_000];
        let one: TraceParent = codec::decode(&raw(repeated)).unwrap();
        assert_eq!(one.carrier.len(), 1);
    }

    /// Too many pairs, a key or a value too long: the message does not
    /// decode (the channel drops a peer sending one), nothing panics.
    #[test]
    fn an_oversized_carrier_from_a_peer_is_refused() {
        for (what, carrier) in [
            ("entries", pairs(Carrier::MAX_ENTRIES + 1, 1, 1)),
            ("entries", pairs(100_000, 1, 0)),
            ("key", pairs(1, Carrier::MAX_KEY_LEN + 1, 1)),
            ("value", pairs(1, 1, Carrier::MAX_VALUE_LEN + 1)),
            ("value", pairs(1, 1, 4 << 20)),
        ] {
            let r = codec::decode::<TraceParent>(&raw(carrier));
            assert!(r.is_err(), "an oversized carrier ({what}) was accepted");
        }
    }

    /// A carrier whose count claims more pairs than its bytes hold, or
    /// whose strings are not UTF-8, is an error, not a panic or an
    /// allocation of the claimed size.
    #[test]
    fn a_malformed_carrier_is_refused() {
        let mut lying = raw(pairs(1, 1, 1));
        // trace_id 7, span_id 9, then the pair count: claim u32::MAX.
        assert_eq!(&lying[..3], &[7, 9, 1]);
        lying.splice(2..3, [0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(codec::decode::<TraceParent>(&lying).is_err());
        let mut bad_utf8 = raw(vec![("k".into(), "v".into())]);
        let last = bad_utf8.len() - 1;
        bad_utf8[last] = 0xff;
        assert!(codec::decode::<TraceParent>(&bad_utf8).is_err());
        assert!(codec::decode::<TraceParent>(&[7, 9]).is_err(), "truncated");
    }

    #[test]
    fn insert_refuses_what_does_not_fit() {
        let mut c = Carrier::new();
        for (k, v) in pairs(Carrier::MAX_ENTRIES, 2, 2) {
            c.insert(k, v).unwrap();
        }
        assert_eq!(
            c.insert("one-more", "x"),
            Err(CarrierError::TooManyEntries {
                max: Carrier::MAX_ENTRIES
            })
        );
        // Replacing a present key still works when full.
        c.insert("00", "new").unwrap();
        assert_eq!(c.get("00"), Some("new"));
        let long_key = "k".repeat(Carrier::MAX_KEY_LEN + 1);
        assert!(matches!(
            Carrier::new().insert(long_key, ""),
            Err(CarrierError::TooLong { what: "key", .. })
        ));
    }
}

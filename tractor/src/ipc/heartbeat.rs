//! Channel liveness settings.
//!
//! A peer that is SIGSTOPped, or whose runtime is wedged in blocking code,
//! keeps its sockets open: the kernel still accepts our writes and nothing
//! ever reports an error. Only silence tells, so every channel expects to
//! hear *something* from its peer at least every `interval` (a heartbeat
//! is sent only when the channel was otherwise idle, so a busy channel
//! pays nothing), and treats a peer silent for `timeout` as failed.

use std::time::Duration;

/// Environment variable that overrides the tree's heartbeat settings:
/// `"<interval_ms>,<timeout_ms>"`, or `off`. Inherited by every child.
pub(crate) const HEARTBEAT_ENV: &str = "TRACTOR_HEARTBEAT";

/// How often a channel proves it is alive, and how long a silent peer is
/// given before it is treated as failed.
///
/// The timeout bounds how long an actor may block its own runtime thread
/// (a busy loop, `std::thread::sleep` in an endpoint) before its peers
/// give up on it: run long blocking work with `tokio::task::spawn_blocking`
/// or raise the timeout.
///
/// ```
/// use std::time::Duration;
/// let hb = tractor::Heartbeat::new(Duration::from_millis(200), Duration::from_secs(2));
/// assert_eq!(hb.timeout(), Duration::from_secs(2));
/// assert_eq!(tractor::Heartbeat::default().interval(), Duration::from_secs(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    interval: Duration,
    timeout: Duration,
}

impl Default for Heartbeat {
    /// One heartbeat per second of idleness; a peer silent for 10 s failed.
    fn default() -> Self {
        Heartbeat {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

impl Heartbeat {
    /// Settings with a heartbeat `interval` and a silence `timeout`. The
    /// interval is at least 1 ms, and the timeout at least two intervals
    /// (one late heartbeat is never a failure).
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        let interval = interval.max(Duration::from_millis(1));
        Heartbeat {
            interval,
            timeout: timeout.max(interval * 2),
        }
    }

    /// How often an idle channel sends a heartbeat.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// How long a peer may stay silent before it is treated as failed.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How many silent intervals in a row make the peer failed.
    pub(crate) fn silent_ticks(&self) -> u32 {
        let n = self
            .timeout
            .as_nanos()
            .div_ceil(self.interval.as_nanos().max(1));
        u32::try_from(n).unwrap_or(u32::MAX).max(2)
    }

    /// The wire form: `(interval_ms, timeout_ms)`.
    pub(crate) fn to_millis(self) -> (u64, u64) {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        (ms(self.interval), ms(self.timeout))
    }

    /// From the wire form.
    pub(crate) fn from_millis((interval, timeout): (u64, u64)) -> Self {
        Self::new(
            Duration::from_millis(interval),
            Duration::from_millis(timeout),
        )
    }

    /// Parses [`HEARTBEAT_ENV`]'s value: `Some(None)` for `off`, `None`
    /// when it does not parse.
    pub(crate) fn parse_env(v: &str) -> Option<Option<Heartbeat>> {
        let v = v.trim();
        if v.eq_ignore_ascii_case("off") {
            return Some(None);
        }
        let (i, t) = v.split_once(',')?;
        let i = i.trim().parse().ok()?;
        let t = t.trim().parse().ok()?;
        Some(Some(Self::from_millis((i, t))))
    }

    /// The settings in force: the env var wins over `configured`.
    pub(crate) fn effective(configured: Option<Heartbeat>) -> Option<Heartbeat> {
        match std::env::var(HEARTBEAT_ENV) {
            Ok(v) => match Self::parse_env(&v) {
                Some(hb) => hb,
                None => {
                    tracing::warn!(target: "tractor::runtime", "ignoring {HEARTBEAT_ENV}={v:?}: expected `<interval_ms>,<timeout_ms>` or `off`");
                    configured
                }
            },
            Err(_) => configured,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_forms() {
        let hb = Heartbeat::parse_env("100, 500").flatten();
        assert_eq!(hb, Some(Heartbeat::from_millis((100, 500))));
        assert_eq!(Heartbeat::parse_env("off"), Some(None));
        assert_eq!(Heartbeat::parse_env("fast"), None);
        assert_eq!(Heartbeat::parse_env("1,x"), None);
    }

    #[test]
    fn timeout_is_at_least_two_intervals() {
        let hb = Heartbeat::new(Duration::from_millis(100), Duration::from_millis(10));
        assert_eq!(hb.timeout(), Duration::from_millis(200));
        assert_eq!(hb.silent_ticks(), 2);
        let hb = Heartbeat::new(Duration::from_millis(100), Duration::from_millis(1050));
        assert_eq!(hb.silent_ticks(), 11);
    }
}

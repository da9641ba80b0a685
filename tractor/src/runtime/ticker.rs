//! Ticks for the liveness watchdogs, kept off tokio's timer.
//!
//! A tokio runtime with any timer pending walks its timer wheel on every
//! park: before each wait for I/O, the wheel's next expiry, and after it,
//! the expired entries. A heartbeat interval is a timer always pending,
//! so every message a round trip waits for paid for it (about 0.2 µs per
//! park, 4-5% of a context-stream round trip on the bench machine). Here
//! one thread per interval per process sleeps and counts the ticks, and a
//! watchdog waits on the count: its runtime's timer wheel stays empty.
//!
//! A tick is the thread waking after its interval, so a process stopped
//! and continued (ctrl-z, `fg`) sees one late tick, not the ticks it
//! missed: silence is still counted in ticks seen (see `liveness`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The ticks of one interval: counted by its thread, awaited by watchdogs.
struct Source {
    count: AtomicU64,
    ticked: Notify,
    /// The process whose thread ticks it: a forked child inherits the
    /// source, not the thread.
    pid: u32,
}

/// The sources running, by interval (few: one per heartbeat setting).
static SOURCES: Mutex<Vec<(Duration, Weak<Source>)>> = Mutex::new(Vec::new());

/// A watchdog's view of the ticks of its interval.
pub(crate) struct Ticks {
    source: Arc<Source>,
    seen: u64,
    /// Until then a tick does not count: the first comes a whole interval
    /// after the watchdog started (at most two), as a timer's would.
    not_before: Option<Instant>,
}

/// Ticks every `interval`, from the process's thread for that interval
/// (started on first use; it ends once no watchdog holds its ticks).
pub(crate) fn every(interval: Duration) -> std::io::Result<Ticks> {
    let mut sources = crate::runtime::actor::lock(&SOURCES);
    let pid = std::process::id();
    sources.retain(|(_, s)| s.upgrade().is_some_and(|s| s.pid == pid));
    let running = sources
        .iter()
        .find(|(d, _)| *d == interval)
        .and_then(|(_, s)| s.upgrade());
    let source = match running {
        Some(s) => s,
        None => {
            let s = Arc::new(Source {
                count: AtomicU64::new(0),
                ticked: Notify::new(),
                pid,
            });
            let weak = Arc::downgrade(&s);
            std::thread::Builder::new()
                .name("tractor-ticks".into())
                .spawn(move || tick_until_unused(&weak, interval))?;
            sources.push((interval, Arc::downgrade(&s)));
            s
        }
    };
    let seen = source.count.load(Ordering::Acquire);
    Ok(Ticks {
        source,
        seen,
        not_before: Some(Instant::now() + interval),
    })
}

/// The thread of one interval.
fn tick_until_unused(source: &Weak<Source>, interval: Duration) {
    loop {
        std::thread::sleep(interval);
        let Some(s) = source.upgrade() else {
            return;
        };
        s.count.fetch_add(1, Ordering::Release);
        s.ticked.notify_waiters();
    }
}

impl Ticks {
    /// Waits for the next tick (a tick missed while the caller was busy
    /// is seen at once; several missed are seen as one).
    pub(crate) async fn tick(&mut self) {
        loop {
            let ticked = self.source.ticked.notified();
            tokio::pin!(ticked);
            // Registered before the count is read: a tick after it wakes us.
            ticked.as_mut().enable();
            let count = self.source.count.load(Ordering::Acquire);
            if count != self.seen {
                self.seen = count;
                match self.not_before {
                    Some(t) if Instant::now() < t => {}
                    _ => {
                        self.not_before = None;
                        return;
                    }
                }
            }
            ticked.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ticks come at the interval, not before the first one is due, and
    /// watchdogs of one interval share its thread.
    #[tokio::test]
    async fn ticks_come_at_the_interval() {
        let interval = Duration::from_millis(30);
        let started = Instant::now();
        let mut a = every(interval).unwrap_or_else(|e| panic!("ticker: {e}"));
        let b = every(interval).unwrap_or_else(|e| panic!("ticker: {e}"));
        assert!(Arc::ptr_eq(&a.source, &b.source));
        let deadline = Duration::from_secs(10);
        for n in 1..=3u32 {
            let got = tokio::time::timeout(deadline, a.tick()).await;
            assert!(got.is_ok(), "no tick {n} within {deadline:?}");
            assert!(started.elapsed() >= interval * n, "tick {n} came early");
        }
    }

    /// A tick missed while the watchdog was busy is seen at once.
    #[tokio::test]
    async fn a_missed_tick_is_seen_at_once() {
        let interval = Duration::from_millis(20);
        let mut t = every(interval).unwrap_or_else(|e| panic!("ticker: {e}"));
        let deadline = Duration::from_secs(10);
        assert!(tokio::time::timeout(deadline, t.tick()).await.is_ok());
        // Busy (not awaiting) until the thread has ticked again.
        let before = t.source.count.load(Ordering::Acquire);
        while t.source.count.load(Ordering::Acquire) == before {
            std::thread::yield_now();
        }
        let seen = futures::FutureExt::now_or_never(t.tick());
        assert!(seen.is_some(), "the missed tick was not seen at once");
    }
}

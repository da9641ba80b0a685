//! The IPC server's accept loop. An accept that fails for lack of a
//! resource (fds above all) fails again at once until something is freed,
//! so the loop backs off instead of spinning, logs each cause once per
//! interval, and records the cause for a spawn that waits on a child
//! which cannot get through.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tracing::Instrument;

use super::actor::ActorRuntime;
use crate::ipc::transport::Incoming;
use crate::ipc::{Channel, MsgListener, MsgTransport, Role};
use crate::spawn::Resource;

/// First pause after a failed accept; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(5);
/// Longest pause between accept attempts while they keep failing.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// A repeated failure cause is logged at most once per this interval.
const LOG_EVERY: Duration = Duration::from_secs(5);
/// Connections that may be mid-handshake at once. Each holds socket
/// buffers until it identifies itself or times out; past this, new
/// connections are closed at once rather than let a flood of silent
/// dialers grow the actor's memory.
const MAX_PENDING_HANDSHAKES: usize = 1024;

pub(super) async fn accept_loop(rt: Arc<ActorRuntime>, listener: MsgListener) {
    let mut backoff = MIN_BACKOFF;
    let mut log = LogOnce::default();
    let pending = Arc::new(AtomicUsize::new(0));
    let mut refused = RefusalLog::default();
    loop {
        let t = tokio::select! {
            biased;
            _ = rt.shutdown.cancelled() => break,
            t = listener.accept_incoming() => t,
        };
        let t = match t {
            Ok(t) => {
                backoff = MIN_BACKOFF;
                t
            }
            Err(e) => {
                let resource = Resource::of_io(&e);
                if let Some(r) = resource {
                    rt.note_exhaustion(r, &e);
                }
                log.warn(&e, resource);
                // Keep serving the channels we have meanwhile; only new
                // peers wait, and a shutdown is not held up.
                tokio::select! {
                    biased;
                    _ = rt.shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        if pending.load(Ordering::Relaxed) >= MAX_PENDING_HANDSHAKES {
            refused.note();
            drop(t);
            continue;
        }
        let handshaking = Pending::enter(&pending);
        let rt2 = rt.clone();
        rt.io.spawn_local(
            async move {
                let _handshaking = handshaking;
                admit(rt2, t, None).await;
            }
            .in_current_span(),
        );
    }
    drop(listener);
}

/// Admits the parent's end of a channel a spawn made for child `child`
/// (a thread actor's in-process transport, a forked child's socket pair),
/// the way a connection from the listener is admitted.
pub(crate) fn accept_handed(rt: &Arc<ActorRuntime>, t: MsgTransport, child: uuid::Uuid) {
    rt.io
        .spawn_local(admit(rt.clone(), Incoming::Ready(t), Some(child)).in_current_span());
}

/// Secures (TLS, for a peer beyond loopback), handshakes with a new peer
/// and adopts its channel.
/// `expected`: the child a handed channel was made for; any other
/// identity on it is refused.
async fn admit(rt: Arc<ActorRuntime>, incoming: Incoming, expected: Option<uuid::Uuid>) {
    let t = match incoming.secure(rt.p.tls.as_deref()).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(target: "tractor::ipc", "refused a connection: {e}");
            return;
        }
    };
    let handed = t.is_handed();
    let hs = Channel::handshake(t, rt.aid(), &rt.p.secret, Role::Acceptor, &rt.p.limits);
    match hs.await {
        Ok((chan, _)) if expected.is_some_and(|u| u != chan.peer().uuid) => {
            tracing::error!(target: "tractor::ipc", peer = %chan.peer(), "refused a spawned child's channel: the actor on it is not the child it was made for");
            chan.close();
        }
        Ok((chan, reader)) => {
            tracing::debug!(target: "tractor::ipc", peer = %chan.peer(), "peer connected");
            let conn = rt.adopt(chan, reader);
            rt.hand_to_spawner(&conn);
        }
        // A channel we made for a child we spawned: the child died in its
        // boot, which its spawn reports with the cause.
        Err(e) if handed => {
            tracing::debug!(target: "tractor::ipc", "a spawned child's channel closed before it identified itself: {e}");
        }
        Err(e) => {
            tracing::error!(target: "tractor::ipc", "dropping connection that failed the handshake: {e}");
        }
    }
}

/// One connection mid-handshake, counted while it lives.
struct Pending(Arc<AtomicUsize>);

impl Pending {
    fn enter(count: &Arc<AtomicUsize>) -> Pending {
        count.fetch_add(1, Ordering::Relaxed);
        Pending(count.clone())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts connections closed for too many pending handshakes, logged at
/// most once per [`LOG_EVERY`].
#[derive(Default)]
struct RefusalLog {
    last: Option<Instant>,
    since: u64,
}

impl RefusalLog {
    fn note(&mut self) {
        self.since += 1;
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < LOG_EVERY) {
            return;
        }
        self.last = Some(now);
        tracing::warn!(
            target: "tractor::ipc",
            closed = std::mem::take(&mut self.since),
            "{MAX_PENDING_HANDSHAKES} connections are mid-handshake; closing new ones until some identify themselves or time out"
        );
    }
}

/// Logs each distinct accept failure at most once per [`LOG_EVERY`],
/// with how many repeats were not logged.
#[derive(Default)]
struct LogOnce {
    /// Per cause: when it was last logged and the repeats since.
    seen: HashMap<String, (Instant, u64)>,
}

impl LogOnce {
    fn warn(&mut self, e: &std::io::Error, resource: Option<Resource>) {
        let cause = e
            .raw_os_error()
            .map_or_else(|| format!("{:?}", e.kind()), |n| n.to_string());
        let now = Instant::now();
        let entry = self.seen.entry(cause).or_insert((now - LOG_EVERY, 0));
        if now.duration_since(entry.0) < LOG_EVERY {
            entry.1 += 1;
            return;
        }
        let suppressed = std::mem::replace(entry, (now, 0)).1;
        match resource {
            Some(r) => tracing::warn!(
                target: "tractor::ipc",
                suppressed,
                "cannot accept peers: this process is {r} ({e}); retrying with backoff, peers wait meanwhile; {}",
                r.advice()
            ),
            None => {
                tracing::warn!(target: "tractor::ipc", suppressed, "accept failed: {e}; retrying")
            }
        }
    }
}

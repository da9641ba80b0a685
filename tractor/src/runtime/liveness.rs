//! The liveness watchdog of one channel: heartbeats out when idle, and a
//! peer silent past the timeout declared failed.
//!
//! It runs beside the channel's message loop rather than inside it: the
//! loop's read is not cancel-safe mid-frame, and a tick must never tear a
//! frame. The loop counts what it hears ([`Conn::heard`]); the watchdog
//! only compares counters once per interval, so a busy channel costs one
//! relaxed increment per message and no timer work per message.
//!
//! Silence is counted in *ticks seen*, not in wall time: when a whole tree
//! is stopped and continued together (ctrl-z, `fg`), every watchdog wakes
//! to one late tick, not to a timeout.

use std::sync::Arc;

use tokio::time::{Interval, MissedTickBehavior};

use super::conn::{Conn, LostReason};
use super::ticker::{self, Ticks};
use crate::ipc::{Heartbeat, Msg};

/// Watches `conn` until it closes.
pub(crate) async fn watch(conn: Arc<Conn>, hb: Heartbeat) {
    let mut tick = Tick::every(hb.interval());
    let limit = hb.silent_ticks();
    let mut heard = conn.heard();
    let mut written = conn.chan.batches_written();
    let mut silent = 0u32;
    let mut sent_heartbeat = false;
    loop {
        tokio::select! {
            biased;
            _ = conn.chan.closed() => return,
            _ = tick.tick() => {}
        }
        let now_heard = conn.heard();
        if now_heard == heard {
            silent += 1;
        } else {
            silent = 0;
            heard = now_heard;
        }
        if silent >= limit {
            let silent_for = hb.interval() * silent;
            tracing::warn!(target: "tractor::ipc", peer = %conn.chan.peer(), "peer sent nothing for {silent_for:?} (heartbeat timeout {:?}); treating it as failed", hb.timeout());
            conn.declare_lost(LostReason::Unresponsive { silent_for });
            return;
        }
        // Idle unless something besides our own last heartbeat went out.
        let now_written = conn.chan.batches_written();
        let ours = u64::from(sent_heartbeat);
        sent_heartbeat = now_written.saturating_sub(written) <= ours;
        if sent_heartbeat {
            conn.chan.send_soon(Msg::Heartbeat);
        }
        written = now_written;
    }
}

/// The watchdog's ticks: from the process's ticker thread (see `ticker`),
/// or from a tokio timer if that thread could not be started.
enum Tick {
    Thread(Ticks),
    Timer(Interval),
}

impl Tick {
    fn every(interval: std::time::Duration) -> Tick {
        match ticker::every(interval) {
            Ok(ticks) => Tick::Thread(ticks),
            Err(e) => {
                tracing::debug!(target: "tractor::ipc", "no ticker thread ({e}): heartbeats use a timer");
                let mut timer =
                    tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
                timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
                Tick::Timer(timer)
            }
        }
    }

    async fn tick(&mut self) {
        match self {
            Tick::Thread(ticks) => ticks.tick().await,
            Tick::Timer(timer) => {
                timer.tick().await;
            }
        }
    }
}

//! The tree-wide TTY lock: one REPL at a time, in the order asked for.
//!
//! The root holds the lock. An actor that wants the terminal asks its
//! parent for it with the [`lock_tty`](super::endpoints::lock_tty) context,
//! and a parent that is not the root asks its own parent in turn, so the
//! request climbs the existing channels to the root, where a fair (FIFO)
//! mutex decides. The lock is held for as long as the context is open: a
//! holder that ends its REPL closes the context; a holder that dies
//! closes its channel, which cancels the relaying tasks one channel at a
//! time up to the root, and the root's task drops its guard. A crash in a
//! REPL never wedges the tree.
//!
//! While the lock is held the root shields SIGINT: ctrl-c belongs to the
//! REPL, not to the tree's cancellation.

use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard, watch};

use super::endpoints::lock_tty;
use crate::runtime::actor::ActorRuntime;
use crate::runtime::error::Error;
use crate::runtime::interrupt::{SigintShield, shield};
use crate::runtime::portal::Portal;

/// Who holds the lock and how many wait for it.
#[derive(Clone, Debug, Default)]
struct LockState {
    holder: Option<String>,
    waiting: usize,
}

impl LockState {
    fn busy(&self) -> bool {
        self.holder.is_some() || self.waiting > 0
    }
}

/// The root's lock.
#[derive(Debug)]
pub(crate) struct TtyLock {
    turn: Arc<Mutex<()>>,
    state: Arc<std::sync::Mutex<LockState>>,
    /// Whether anyone holds or waits for the lock, for supervisors.
    busy: watch::Sender<bool>,
}

impl TtyLock {
    pub(crate) fn new() -> Self {
        TtyLock {
            turn: Arc::new(Mutex::new(())),
            state: Arc::default(),
            busy: watch::channel(false).0,
        }
    }

    /// Waits for the lock (after everyone who asked before) and takes it
    /// for `holder`.
    async fn acquire(&self, holder: String) -> TtyGuard {
        let waiting = Waiting::enter(self);
        let turn = self.turn.clone().lock_owned().await;
        tracing::debug!(target: "tractor::devx", "TTY lock taken by {holder}");
        update(&self.state, &self.busy, |s| s.holder = Some(holder));
        drop(waiting);
        TtyGuard {
            _turn: turn,
            state: self.state.clone(),
            busy: self.busy.clone(),
            _shield: shield(),
        }
    }

    /// `true` while anyone holds or waits for the lock.
    pub(crate) fn busy(&self) -> watch::Receiver<bool> {
        self.busy.subscribe()
    }
}

/// Changes the state and publishes whether the lock is busy.
fn update(
    state: &std::sync::Mutex<LockState>,
    busy: &watch::Sender<bool>,
    f: impl FnOnce(&mut LockState),
) {
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut s);
    let now = s.busy();
    busy.send_if_modified(|b| std::mem::replace(b, now) != now);
}

/// One waiter counted while it waits (a cancelled wait uncounts itself).
struct Waiting {
    state: Arc<std::sync::Mutex<LockState>>,
    busy: watch::Sender<bool>,
}

impl Waiting {
    fn enter(lock: &TtyLock) -> Waiting {
        update(&lock.state, &lock.busy, |s| s.waiting += 1);
        Waiting {
            state: lock.state.clone(),
            busy: lock.busy.clone(),
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        update(&self.state, &self.busy, |s| {
            s.waiting = s.waiting.saturating_sub(1);
        });
    }
}

/// The lock, held.
struct TtyGuard {
    _turn: OwnedMutexGuard<()>,
    state: Arc<std::sync::Mutex<LockState>>,
    busy: watch::Sender<bool>,
    _shield: SigintShield,
}

impl Drop for TtyGuard {
    fn drop(&mut self) {
        update(&self.state, &self.busy, |s| {
            if let Some(h) = s.holder.take() {
                tracing::debug!(target: "tractor::devx", "TTY lock released by {h}");
            }
        });
    }
}

/// In an actor other than the root: how many REPL sessions (its own or
/// its descendants') ask for or hold the lock through it. Its own
/// supervisors wait on this, as the root's wait on the lock itself: a
/// child of this actor may be the one queued for, or in, a REPL.
#[derive(Debug)]
pub(crate) struct Relays {
    count: Arc<std::sync::Mutex<usize>>,
    busy: watch::Sender<bool>,
}

impl Relays {
    pub(crate) fn new() -> Self {
        Relays {
            count: Arc::default(),
            busy: watch::channel(false).0,
        }
    }

    /// `true` while any session asks for or holds the lock through here.
    pub(crate) fn busy(&self) -> watch::Receiver<bool> {
        self.busy.subscribe()
    }

    fn enter(&self) -> Relaying {
        adjust(&self.count, &self.busy, 1);
        Relaying {
            count: self.count.clone(),
            busy: self.busy.clone(),
        }
    }
}

fn adjust(count: &std::sync::Mutex<usize>, busy: &watch::Sender<bool>, n: isize) {
    let mut c = count.lock().unwrap_or_else(|p| p.into_inner());
    *c = c.saturating_add_signed(n);
    let now = *c > 0;
    busy.send_if_modified(|b| std::mem::replace(b, now) != now);
}

/// One session relayed, counted while it lives.
struct Relaying {
    count: Arc<std::sync::Mutex<usize>>,
    busy: watch::Sender<bool>,
}

impl Drop for Relaying {
    fn drop(&mut self) {
        adjust(&self.count, &self.busy, -1);
    }
}

/// Runs `body` holding the tree's TTY lock for `holder`: taken here in
/// the root, asked of the parent anywhere else.
pub(crate) async fn with_tty_lock<T: Send + 'static>(
    rt: &Arc<ActorRuntime>,
    holder: String,
    body: impl AsyncFnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    let debugger = rt.plugin::<super::Debugger>();
    if let Some(lock) = debugger.as_ref().and_then(|d| d.lock.clone()) {
        let _guard = lock.acquire(holder).await;
        return body().await;
    }
    let _relaying = debugger.as_ref().map(|d| d.relays.enter());
    let Some(parent) = rt.parent.get().cloned() else {
        // Neither the root nor a child (a root booted without the
        // debugger): nothing to serialise with.
        return body().await;
    };
    let portal = Portal::kept(rt.clone(), parent);
    portal
        .open_context(lock_tty::call(holder), async |ctx, ()| {
            // Held until this stream closes (or the channel does).
            let held = ctx.open_stream()?;
            let out = body().await;
            drop(held);
            out
        })
        .await
}

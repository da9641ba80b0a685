//! Child supervision: one runtime-owned task per child process that waits
//! for it to exit and, when asked, walks the teardown ladder:
//! cancel request over IPC → bounded wait → SIGTERM → bounded wait →
//! SIGKILL, always ending with the child reaped.
//!
//! A child that stops answering (its channel's heartbeat timed out: it is
//! SIGSTOPped or its runtime is wedged) can neither ack a cancel nor act
//! on SIGTERM, so the supervisor skips the ladder and SIGKILLs it at once;
//! its exit then carries the reason, for the nursery to report. A request
//! for [`Teardown::Kill`] (a second ctrl-c) cuts a ladder under way short.
//!
//! The task belongs to the actor runtime, not to the nursery's scope, so a
//! nursery future that is dropped mid-way still gets its children reaped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::spawn::ChildProcess as Child;
use tokio::sync::watch;

use super::actor::ActorRuntime;
use super::conn::{Conn, LostReason};
use super::portal::{CancelReply, request_actor_cancel_patient};
use crate::ipc::Aid;

/// How long a child that keeps answering liveness probes may take to ack
/// its cancel (it waits for its own children first) before SIGTERM.
const CANCEL_PATIENCE: Duration = Duration::from_secs(5);
/// How long a child that acked its cancel gets to exit.
const EXIT_AFTER_ACK: Duration = Duration::from_secs(3);
/// How long a child gets between SIGTERM and SIGKILL.
const TERMINATE_AFTER: Duration = Duration::from_millis(1600);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Teardown {
    None,
    /// Cancel request, then SIGTERM, then SIGKILL.
    Graceful,
    /// SIGTERM, then SIGKILL.
    Hard,
    /// SIGKILL now.
    Kill,
}

#[derive(Clone, Debug)]
pub(crate) struct ExitInfo {
    pub success: bool,
    pub status: String,
    /// The exit code, when it exited rather than died by a signal.
    pub code: Option<i32>,
    /// Someone asked for this child's teardown (it did not fail on its own).
    pub requested: bool,
    /// Why the supervisor gave up on the child, when it did.
    pub failure: Option<String>,
}

/// The shared view of one child process.
pub(crate) struct ChildProc {
    pub aid: Aid,
    pub conn: Arc<Conn>,
    /// When it connected back (for a task dump).
    pub since: Instant,
    teardown: watch::Sender<Teardown>,
    exit: watch::Sender<Option<ExitInfo>>,
}

impl ChildProc {
    /// Starts supervising `child`; `on_exit` is told how it ended.
    pub(crate) fn supervise(
        rt: &Arc<ActorRuntime>,
        aid: Aid,
        conn: Arc<Conn>,
        child: Child,
    ) -> Arc<ChildProc> {
        // Subscribed before anyone can request a teardown, so no request
        // is missed even if it comes before the task first runs.
        let (teardown, teardown_rx) = watch::channel(Teardown::None);
        let proc = Arc::new(ChildProc {
            aid,
            conn,
            since: Instant::now(),
            teardown,
            exit: watch::channel(None).0,
        });
        rt.adopt_child(&proc);
        let p = proc.clone();
        let timeout = rt.p.cancel_timeout;
        // In debug mode a child may be queued for, or in, a debugger REPL:
        // a graceful cancel waits for the debugger (a kill does not).
        let debugger = DebugClock(rt.p.debug_mode.then(|| rt.plugins_busy()).flatten());
        rt.work.spawn(tracing::Instrument::instrument(
            async move { p.run(child, teardown_rx, timeout, debugger).await },
            rt.span.clone(),
        ));
        proc
    }

    /// Asks for the child to be torn down (upgrading graceful to hard).
    pub(crate) fn request_teardown(&self, how: Teardown) {
        self.teardown.send_if_modified(|t| {
            if how > *t {
                *t = how;
                true
            } else {
                false
            }
        });
    }

    pub(crate) fn teardown_requested(&self) -> bool {
        *self.teardown.borrow() != Teardown::None
    }

    /// Waits until the child has exited and been reaped.
    pub(crate) async fn wait_exit(&self) -> ExitInfo {
        let mut rx = self.exit.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(v) => v.clone().unwrap_or_else(unknown_exit),
            Err(_) => unknown_exit(),
        }
    }

    pub(crate) fn exit_info(&self) -> Option<ExitInfo> {
        self.exit.borrow().clone()
    }

    async fn run(
        self: Arc<Self>,
        mut child: Child,
        mut rx: watch::Receiver<Teardown>,
        cancel_timeout: Duration,
        mut debugger: DebugClock,
    ) {
        let pid = child.id();
        let mut failure = None;
        let mut chan_open = true;
        let status = loop {
            tokio::select! {
                st = child.wait() => break st,
                changed = rx.changed() => {
                    if changed.is_err() {
                        continue;
                    }
                    let mut how = *rx.borrow_and_update();
                    if how == Teardown::Graceful {
                        tokio::select! {
                            st = child.wait() => break st,
                            () = debugger.idle() => {}
                            _ = rx.wait_for(|t| *t == Teardown::Kill) => how = Teardown::Kill,
                        }
                    }
                    if how != Teardown::None {
                        // A silent child cannot take the graceful steps.
                        let how = match self.unresponsive(&mut failure) {
                            true => Teardown::Kill,
                            false => how,
                        };
                        break self.ladder(&mut child, how, &mut rx, cancel_timeout, &mut debugger).await;
                    }
                }
                _ = self.conn.chan.closed(), if chan_open => {
                    chan_open = false;
                    if self.unresponsive(&mut failure) {
                        tracing::warn!(target: "tractor::cancel", child = %self.aid, "child stopped answering; sending SIGKILL");
                        break self.ladder(&mut child, Teardown::Kill, &mut rx, cancel_timeout, &mut debugger).await;
                    }
                }
            }
        };
        if let Some(pid) = pid {
            crate::spawn::note_reaped(pid);
        }
        if let Some(why) = child.abandoned() {
            failure.get_or_insert(why);
        }
        // The child is gone (or, a thread actor, abandoned): nobody finds
        // or calls it through this channel again, whether or not its
        // end has reached the channel yet (a thread's in-process pipe may
        // be read after its exit is).
        self.conn.chan.close();
        // A child that did not exit on its own terms could not unlink its
        // socket file, nor could the grandchildren it took down with it.
        if !matches!(&status, Ok(st) if st.success()) {
            crate::ipc::uds::sweep_stale_sockets();
        }
        let (success, status, code) = match status {
            Ok(st) => (st.success(), describe(st), st.code()),
            Err(e) => (false, format!("could not be waited on: {e}"), None),
        };
        tracing::debug!(target: "tractor::spawn", child = %self.aid, %status, "child reaped");
        let requested = self.teardown_requested();
        self.exit.send_replace(Some(ExitInfo {
            success,
            status,
            code,
            requested,
            failure,
        }));
    }

    /// Whether the child's channel was given up on as silent; if so, the
    /// reason goes to `failure`.
    fn unresponsive(&self, failure: &mut Option<String>) -> bool {
        let Some(LostReason::Unresponsive { silent_for }) = self.conn.lost_reason() else {
            return false;
        };
        *failure = Some(format!(
            "it stopped answering (nothing came from it for {silent_for:?}: stopped, or wedged in blocking code) and was killed"
        ));
        true
    }

    /// Walks the ladder from `how`; a request for [`Teardown::Kill`]
    /// arriving meanwhile cuts it short.
    async fn ladder(
        &self,
        child: &mut Child,
        how: Teardown,
        rx: &mut watch::Receiver<Teardown>,
        cancel_timeout: Duration,
        debugger: &mut DebugClock,
    ) -> std::io::Result<std::process::ExitStatus> {
        if how < Teardown::Kill {
            let steps = self.soft_steps(child, how, cancel_timeout, debugger);
            tokio::select! {
                st = steps => return st,
                _ = rx.wait_for(|t| *t == Teardown::Kill) => {}
            }
        }
        tracing::debug!(target: "tractor::cancel", child = %self.aid, "SIGKILL");
        let _ = child.start_kill();
        child.wait().await
    }

    async fn soft_steps(
        &self,
        child: &mut Child,
        how: Teardown,
        cancel_timeout: Duration,
        debugger: &mut DebugClock,
    ) -> std::io::Result<std::process::ExitStatus> {
        if how == Teardown::Graceful {
            tracing::debug!(target: "tractor::cancel", child = %self.aid, "cancelling child");
            let acked = loop {
                let reply = tokio::select! {
                    st = child.wait() => return st,
                    r = request_actor_cancel_patient(&self.conn, cancel_timeout, CANCEL_PATIENCE) => r,
                };
                // A child that is slow because someone is debugging is
                // asked again once the REPL is done, not escalated on.
                if matches!(reply, CancelReply::TimedOut) && debugger.is_busy() {
                    tokio::select! {
                        st = child.wait() => return st,
                        () = debugger.idle() => continue,
                    }
                }
                break matches!(reply, CancelReply::Acked(true) | CancelReply::Gone);
            };
            if acked && let Some(st) = debugger.timeout(EXIT_AFTER_ACK, child.wait()).await {
                return st;
            }
            tracing::warn!(target: "tractor::cancel", child = %self.aid, "child did not exit after a cancel request; sending SIGTERM");
        }
        child.signal(libc::SIGTERM);
        if let Some(st) = debugger.timeout(TERMINATE_AFTER, child.wait()).await {
            return st;
        }
        tracing::warn!(target: "tractor::cancel", child = %self.aid, "child ignored SIGTERM; sending SIGKILL");
        let _ = child.start_kill();
        child.wait().await
    }
}

/// The clock of a child's teardown ladder in debug mode: a step's time
/// only runs out while no debugger REPL is up or wanted in the tree
/// (outside debug mode, an ordinary clock).
pub(crate) struct DebugClock(Option<watch::Receiver<bool>>);

impl DebugClock {
    fn is_busy(&self) -> bool {
        self.0.as_ref().is_some_and(|rx| *rx.borrow())
    }

    /// Resolves once no REPL is up or wanted.
    async fn idle(&mut self) {
        if let Some(rx) = &mut self.0 {
            // A closed channel: the root's debugger is gone, so is the REPL.
            let _ = rx.wait_for(|busy| !*busy).await;
        }
    }

    /// `fut`'s output, or `None` once `d` has passed with no REPL up at
    /// its end (a REPL up then restarts the step once it is done).
    async fn timeout<F: Future>(&mut self, d: Duration, fut: F) -> Option<F::Output> {
        tokio::pin!(fut);
        loop {
            if let Ok(out) = tokio::time::timeout(d, &mut fut).await {
                return Some(out);
            }
            if !self.is_busy() {
                return None;
            }
            tokio::select! {
                out = &mut fut => return Some(out),
                () = self.idle() => {}
            }
        }
    }
}

fn describe(st: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => st.to_string(),
    }
}

fn unknown_exit() -> ExitInfo {
    ExitInfo {
        success: false,
        status: "unknown".into(),
        code: None,
        requested: true,
        failure: None,
    }
}

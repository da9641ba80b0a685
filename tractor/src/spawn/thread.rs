//! The `thread` backend: an actor per OS thread of this process.
//!
//! Each thread actor runs its own current-thread runtime and talks to its
//! parent over an in-process transport that carries the same encoded
//! frames as a socket, after the same identity exchange (without the
//! secret's proofs, which would prove nothing inside one process), so its
//! calls, errors and type checks are exactly those of a process actor. It costs a
//! thread and a runtime: spawned in well under a millisecond, for tests
//! and very light actors.
//!
//! # Isolation: what a thread cannot give
//! * A hard crash (a segfault, an abort, a `panic = "abort"` build) or a
//!   `std::process::exit` anywhere takes the whole process, every actor
//!   of it with it. A panic in an endpoint is caught, as in any actor.
//! * A thread cannot be killed. A stuck thread actor (blocking code that
//!   never yields) is asked to cancel; if it does not end by the last step
//!   of the teardown ladder, it is *abandoned*: reported as such, its
//!   channel closed, and left running until the process exits.
//! * Process-wide state is shared: the environment, the current
//!   directory, signal dispositions, statics. Thread actors do not set a
//!   process title (the thread is named after the actor instead) and leave
//!   signals to the process's root.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{ChildEnv, SpawnError};
use crate::ipc::MsgTransport;

/// What a thread actor is started with.
pub(crate) struct ThreadLink {
    /// Its end of the in-process transport to its parent.
    pub transport: MsgTransport,
    /// Raised when the parent asks it to cancel (its SIGTERM).
    pub cancel: watch::Receiver<bool>,
}

/// Runs a thread actor to its end; its exit code. Set from above (the app
/// layer composes the actor's boot), like the child-mode entry point.
pub(crate) type ThreadMain = fn(ChildEnv, ThreadLink) -> i32;

static MAIN: OnceLock<ThreadMain> = OnceLock::new();

/// Thread actors running, per tree: what a test's survivor check counts
/// (a thread is no process for `/proc` to show).
static LIVE: std::sync::Mutex<Vec<(String, usize)>> = std::sync::Mutex::new(Vec::new());

fn count_live(tree_id: &str, delta: isize) {
    let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
    match live.iter_mut().position(|(t, _)| t == tree_id) {
        Some(i) => {
            live[i].1 = live[i].1.saturating_add_signed(delta);
            if live[i].1 == 0 {
                live.swap_remove(i);
            }
        }
        None if delta > 0 => live.push((tree_id.to_string(), delta as usize)),
        None => {}
    }
}

/// How many thread actors of tree `tree_id` are still running (an
/// abandoned one counts until its thread ends).
pub(crate) fn live(tree_id: &str) -> usize {
    let live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
    live.iter()
        .find(|(t, _)| t == tree_id)
        .map_or(0, |(_, n)| *n)
}

/// Counts a thread actor while its thread runs.
struct Running(String);

impl Running {
    fn start(tree_id: &str) -> Running {
        count_live(tree_id, 1);
        Running(tree_id.to_string())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        count_live(&self.0, -1);
    }
}

/// Sets the entry point of thread actors (once; later calls are no-ops).
pub(crate) fn set_main(main: ThreadMain) {
    let _ = MAIN.set(main);
}

/// How long a killed thread actor gets to end (it is told to cancel)
/// before it is abandoned: a kill is immediate for a process, but a thread
/// can only be asked.
const KILL_GRACE: Duration = Duration::from_millis(300);

/// A thread actor, as its parent's supervisor sees it. Dropping it asks
/// the actor to cancel.
#[derive(Debug)]
pub(crate) struct ThreadChild {
    name: String,
    exit: watch::Receiver<Option<ExitStatus>>,
    cancel: watch::Sender<bool>,
    /// When it was killed: abandoned if still running [`KILL_GRACE`] later.
    killed: Option<Instant>,
    abandoned: AtomicBool,
}

impl Drop for ThreadChild {
    fn drop(&mut self) {
        self.cancel.send_replace(true);
    }
}

/// Starts thread actor `env` on the end `transport` of an in-process pair.
pub(crate) fn spawn_thread(
    env: ChildEnv,
    transport: MsgTransport,
) -> Result<ThreadChild, SpawnError> {
    let Some(main) = MAIN.get().copied() else {
        return Err(SpawnError::BadEnv(
            "the thread backend's entry point is not set (open a root actor first)".into(),
        ));
    };
    let name = env.name.clone();
    let (exit_tx, exit) = watch::channel(None);
    let (cancel, cancel_rx) = watch::channel(false);
    let link = ThreadLink {
        transport,
        cancel: cancel_rx,
    };
    let running = Running::start(&env.tree_id);
    let spawned = std::thread::Builder::new()
        // The OS keeps 15 bytes of it: what `top -H` and `pstree -t` show.
        .name(name.clone())
        .spawn(move || {
            let _running = running;
            let run = std::panic::AssertUnwindSafe(move || main(env, link));
            // A panic that escaped the actor: the status Rust gives one on `main`'s thread.
            let code = std::panic::catch_unwind(run).unwrap_or(101);
            exit_tx.send_replace(Some(ExitStatus::from_raw((code & 0xff) << 8)));
        });
    match spawned {
        Ok(_detached) => Ok(ThreadChild {
            name,
            exit,
            cancel,
            killed: None,
            abandoned: AtomicBool::new(false),
        }),
        Err(source) => Err(SpawnError::starting(&name, source)),
    }
}

impl ThreadChild {
    /// SIGTERM and SIGINT become a cancel request; SIGKILL a kill.
    pub(crate) fn signal(&mut self, sig: libc::c_int) {
        if sig == libc::SIGKILL {
            self.kill();
        } else {
            self.cancel.send_replace(true);
        }
    }

    /// Tells the thread to cancel; if it has not ended [`KILL_GRACE`]
    /// later, its wait ends anyway and it is reported abandoned.
    pub(crate) fn kill(&mut self) {
        self.cancel.send_replace(true);
        self.killed.get_or_insert_with(Instant::now);
    }

    pub(crate) fn abandoned(&self) -> Option<String> {
        self.abandoned.load(Ordering::SeqCst).then(|| {
            "it was a thread actor that did not end when killed (a thread cannot be killed); its thread was abandoned, still running".to_string()
        })
    }

    /// Waits for the thread's end (or, once killed, its abandonment).
    /// Cancel-safe.
    pub(crate) async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        let gone = ExitStatus::from_raw(libc::SIGKILL);
        let ended = async {
            match self.exit.wait_for(Option::is_some).await {
                Ok(st) => (*st).unwrap_or(gone),
                // The thread ended without a word (it could not start).
                Err(_) => gone,
            }
        };
        let Some(killed) = self.killed else {
            return Ok(ended.await);
        };
        let deadline = tokio::time::Instant::from_std(killed + KILL_GRACE);
        match tokio::time::timeout_at(deadline, ended).await {
            Ok(st) => Ok(st),
            Err(_) => {
                if !self.abandoned.swap(true, Ordering::SeqCst) {
                    tracing::warn!(target: "tractor::spawn", child = %self.name, "thread actor did not end {KILL_GRACE:?} after it was killed; abandoning its thread (a thread cannot be killed)");
                }
                Ok(gone)
            }
        }
    }
}

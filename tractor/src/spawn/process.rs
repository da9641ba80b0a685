//! A child actor, however it was started: the one handle the supervisor
//! waits on, signals and kills, whatever the backend.
//!
//! * An exec'd child is this process's own child. `tokio::process::Child`
//!   would keep a pidfd open per child on Linux: one more fd per actor in
//!   every parent, on top of the channel to it. Here it is waited on
//!   through SIGCHLD instead, whose one signal pipe all children share.
//! * A forked child is the forkserver's child: the forkserver reaps it and
//!   reports its exit status, and signals it on our behalf (only it can
//!   do so without racing a recycled pid).
//! * A thread actor is a thread of this process: it "exits" when its
//!   thread returns, a SIGTERM becomes a graceful cancel request, and a
//!   kill abandons it, since a thread cannot be killed.

use std::process::ExitStatus;

use tokio::signal::unix::{Signal, SignalKind, signal};

use super::forkserver::ForkedChild;
use super::launcher::RemoteChild;
use super::thread::ThreadChild;

/// A spawned child: killed (and reaped in the background) if dropped
/// before it was reaped.
#[derive(Debug)]
pub(crate) enum ChildProcess {
    /// Started by fork + exec from this process.
    Exec(ExecChild),
    /// Forked by the forkserver.
    Forked(ForkedChild),
    /// A thread of this process.
    Thread(ThreadChild),
    /// A process on another host, run by an `ssh` client of ours.
    Remote(RemoteChild),
}

impl ChildProcess {
    /// The OS pid, until the child is reaped (`None` for a thread actor).
    pub(crate) fn id(&self) -> Option<u32> {
        match self {
            ChildProcess::Exec(c) => c.id(),
            ChildProcess::Forked(c) => c.id(),
            ChildProcess::Thread(_) => None,
            // The local process standing for it: its `ssh` client.
            ChildProcess::Remote(c) => c.id(),
        }
    }

    /// Sends `sig` (SIGTERM to a thread actor: a cancel request), unless
    /// the child was reaped already.
    pub(crate) fn signal(&mut self, sig: libc::c_int) {
        match self {
            ChildProcess::Exec(c) => c.signal(sig),
            ChildProcess::Forked(c) => c.signal(sig),
            ChildProcess::Thread(c) => c.signal(sig),
            ChildProcess::Remote(c) => c.signal(sig),
        }
    }

    /// Sends SIGKILL (a thread actor is told to cancel, and abandoned if
    /// it does not), unless the child was reaped already.
    pub(crate) fn start_kill(&mut self) -> std::io::Result<()> {
        match self {
            ChildProcess::Exec(c) => c.start_kill(),
            ChildProcess::Forked(c) => {
                c.signal(libc::SIGKILL);
                Ok(())
            }
            ChildProcess::Thread(c) => {
                c.kill();
                Ok(())
            }
            ChildProcess::Remote(c) => {
                c.kill();
                Ok(())
            }
        }
    }

    /// Waits for the child to exit and reaps it. Cancel-safe.
    pub(crate) async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        match self {
            ChildProcess::Exec(c) => c.wait().await,
            ChildProcess::Forked(c) => c.wait().await,
            ChildProcess::Thread(c) => c.wait().await,
            ChildProcess::Remote(c) => c.wait().await,
        }
    }

    /// Why the child's end was not an exit of its own, when it was not:
    /// a thread actor that was abandoned still running.
    pub(crate) fn abandoned(&self) -> Option<String> {
        match self {
            ChildProcess::Thread(c) => c.abandoned(),
            _ => None,
        }
    }
}

/// An exec'd child of this process.
#[derive(Debug)]
pub(crate) struct ExecChild {
    /// The handle; taken only by `drop`.
    child: Option<std::process::Child>,
    sigchld: Signal,
    status: Option<ExitStatus>,
}

impl ExecChild {
    /// Starts a child on the actor's spawner thread (`start` spawns it);
    /// must run inside a tokio runtime with signals enabled.
    pub(crate) async fn spawn_on(
        spawner: &super::spawner::SpawnerSlot,
        start: super::spawner::Start,
    ) -> std::io::Result<ExecChild> {
        // Listening before the fork means no SIGCHLD of this child is missed.
        let sigchld = signal(SignalKind::child())?;
        let child = spawner.spawn(start).await?;
        Ok(ExecChild {
            child: Some(child),
            sigchld,
            status: None,
        })
    }

    /// Spawns `cmd` from this thread; must run inside a tokio runtime with
    /// signals enabled.
    pub(crate) fn spawn(cmd: &mut std::process::Command) -> std::io::Result<ExecChild> {
        // Listening before the fork means no SIGCHLD of this child is missed.
        let sigchld = signal(SignalKind::child())?;
        let child = cmd.spawn()?;
        Ok(ExecChild {
            child: Some(child),
            sigchld,
            status: None,
        })
    }

    pub(crate) fn id(&self) -> Option<u32> {
        self.child
            .as_ref()
            .filter(|_| self.status.is_none())
            .map(|c| c.id())
    }

    /// The pipe to the child's stdin, if it was started with one.
    pub(crate) fn take_stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.child.as_mut().and_then(|c| c.stdin.take())
    }

    fn signal(&self, sig: libc::c_int) {
        if let Some(pid) = self.id() {
            // SAFETY: kill has no memory-safety preconditions; the pid is our
            // own unreaped child, so it cannot have been recycled.
            unsafe {
                libc::kill(pid as libc::pid_t, sig);
            }
        }
    }

    pub(crate) fn start_kill(&mut self) -> std::io::Result<()> {
        match &mut self.child {
            Some(c) if self.status.is_none() => c.kill(),
            _ => Ok(()),
        }
    }

    /// Waits for the child to exit and reaps it. Cancel-safe.
    pub(crate) async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        loop {
            if let Some(st) = self.status {
                return Ok(st);
            }
            let Some(child) = self.child.as_mut() else {
                return Err(std::io::Error::other("the child handle is gone"));
            };
            if let Some(st) = child.try_wait()? {
                self.status = Some(st);
                return Ok(st);
            }
            if self.sigchld.recv().await.is_none() {
                return Err(std::io::Error::other(
                    "the SIGCHLD listener closed: the tokio runtime is shutting down",
                ));
            }
        }
    }
}

impl Drop for ExecChild {
    fn drop(&mut self) {
        let Some(child) = self.child.take() else {
            return;
        };
        if self.status.is_some() {
            return;
        }
        kill_and_reap(child);
    }
}

/// Kills a child nobody will supervise and reaps it, without blocking:
/// a killed child not dead yet is a zombie until someone waits on it, and
/// nobody else will, so a thread of its own does (a rare path: a spawn
/// abandoned mid-boot).
pub(crate) fn kill_and_reap(mut child: std::process::Child) {
    let _ = child.kill();
    if let Ok(None) = child.try_wait() {
        let pid = child.id();
        let reaper = std::thread::Builder::new()
            .name(format!("tractor-reap-{pid}"))
            .spawn(move || {
                let _ = child.wait();
                super::note_reaped(pid);
            });
        if let Err(e) = reaper {
            tracing::warn!(target: "tractor::spawn", "cannot start a thread to reap killed child {pid} ({e}); it stays a zombie until this process exits");
        }
    } else {
        super::note_reaped(child.id());
    }
}

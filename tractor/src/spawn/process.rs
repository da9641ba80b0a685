//! A child process handle that holds no fd of its own.
//!
//! `tokio::process::Child` keeps a pidfd open per child on Linux: one more
//! fd per actor in every parent, on top of the channel to it. Here a child
//! is waited on through SIGCHLD instead, whose one signal pipe all children
//! share.

use std::process::ExitStatus;

use tokio::signal::unix::{Signal, SignalKind, signal};

/// A spawned child: killed (and reaped in the background) if dropped
/// before it was reaped.
#[derive(Debug)]
pub(crate) struct ChildProcess {
    /// The handle; taken only by `drop`.
    child: Option<std::process::Child>,
    sigchld: Signal,
    status: Option<ExitStatus>,
}

impl ChildProcess {
    /// Spawns `cmd`; must run inside a tokio runtime with signals enabled.
    pub(crate) fn spawn(cmd: &mut std::process::Command) -> std::io::Result<ChildProcess> {
        // Listening before the fork means no SIGCHLD of this child is missed.
        let sigchld = signal(SignalKind::child())?;
        let child = cmd.spawn()?;
        Ok(ChildProcess {
            child: Some(child),
            sigchld,
            status: None,
        })
    }

    /// The OS pid, until the child is reaped.
    pub(crate) fn id(&self) -> Option<u32> {
        self.child
            .as_ref()
            .filter(|_| self.status.is_none())
            .map(|c| c.id())
    }

    /// Sends SIGKILL, unless the child was reaped already.
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

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if self.status.is_some() {
            return;
        }
        let _ = child.kill();
        if let Ok(None) = child.try_wait() {
            // Killed, not dead yet: a zombie until someone waits on it, and
            // nobody else will. A thread of its own reaps it (a rare path:
            // a spawn abandoned mid-boot), without blocking this one.
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
}

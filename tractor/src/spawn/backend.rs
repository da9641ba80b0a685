//! The seam between the nursery and the spawn backends: one call starts a
//! child with whichever backend was chosen, and returns the one handle
//! the supervisor drives ([`ChildProcess`]).

use std::sync::Arc;

use super::forkserver::ForkClient;
use super::launcher::{Launcher, launch_ssh};
use super::process::ChildProcess;
use super::spawner::SpawnerSlot;
use super::{ChildEnv, SpawnError, SpawnMethod, spawn_exec, thread};
use crate::ipc::MsgTransport;

/// An actor's forkserver link, opened on its first forkserver spawn and
/// closed (the server reaped) at its teardown.
#[derive(Default)]
pub(crate) struct ForkserverSlot(tokio::sync::OnceCell<Arc<ForkClient>>);

impl ForkserverSlot {
    /// Closes the link, if one was opened; a server this actor started
    /// exits and is reaped.
    pub(crate) async fn close(&self) {
        if let Some(c) = self.0.get() {
            c.close().await;
        }
    }
}

/// What the spawning actor contributes to a spawn.
pub(crate) struct SpawnContext<'a> {
    /// How this binary is re-run to reach child mode (a test's filter).
    pub exec_args: &'a [String],
    /// The child's log filter, handed down in its environment (`exec`).
    pub loglevel: Option<&'a str>,
    /// The spawning actor's forkserver link.
    pub forkserver: &'a ForkserverSlot,
    /// The spawning actor's spawner thread (`exec`).
    pub spawner: &'a SpawnerSlot,
    /// The largest frame a channel the spawn makes takes (`thread`,
    /// `forkserver`).
    pub max_frame: usize,
}

/// A started child.
pub(crate) struct Started {
    /// The handle the supervisor drives.
    pub child: ChildProcess,
    /// The parent's end of the channel the spawn made for the child (a
    /// thread actor's in-process transport, a forked child's socket
    /// pair): the caller accepts it like a connection from its listener.
    /// `None`: the child dials the parent's listener.
    pub channel: Option<MsgTransport>,
}

/// Starts child `env` where `launcher` says, with backend `method` when
/// that is here. Runs on the spawning actor's home thread (a process's
/// parent-death signal follows the thread that forked it).
pub(crate) async fn start(
    launcher: &Launcher,
    method: SpawnMethod,
    env: &ChildEnv,
    cx: &SpawnContext<'_>,
) -> Result<Started, SpawnError> {
    if let Launcher::Ssh(host) = launcher {
        let child = launch_ssh(host, env, cx.exec_args, cx.loglevel).await?;
        return Ok(Started {
            child: ChildProcess::Remote(child),
            channel: None,
        });
    }
    let child = match method {
        SpawnMethod::Exec => {
            ChildProcess::Exec(spawn_exec(env, cx.exec_args, cx.loglevel, cx.spawner).await?)
        }
        SpawnMethod::Forkserver => {
            let tree_id = env.tree_id.as_str();
            let client = cx
                .forkserver
                .0
                .get_or_try_init(|| ForkClient::open(cx.exec_args, tree_id))
                .await?;
            // The child's channel to us: a socket pair, its end handed
            // over with the fork request, so it neither dials nor proves.
            let (ours, theirs) = std::os::unix::net::UnixStream::pair()
                .map_err(|e| SpawnError::starting(&env.name, e))?;
            let ours = MsgTransport::handed(ours, cx.max_frame)
                .map_err(|e| SpawnError::starting(&env.name, e))?;
            let child = client.fork(env, Some(theirs.into())).await?;
            return Ok(Started {
                child: ChildProcess::Forked(child),
                channel: Some(ours),
            });
        }
        SpawnMethod::Thread => {
            let (ours, theirs) = MsgTransport::in_process_pair(cx.max_frame);
            let child = thread::spawn_thread(env.clone(), theirs)?;
            return Ok(Started {
                child: ChildProcess::Thread(child),
                channel: Some(ours),
            });
        }
    };
    Ok(Started {
        child,
        channel: None,
    })
}

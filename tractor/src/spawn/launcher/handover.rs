//! What a parent hands a child it launched on another host, over the
//! launcher's channel (the SSH session's stdin), and the lifeline that
//! channel stays afterwards.
//!
//! Frames are a 4-byte little-endian length and a postcard body. The
//! first is the [`Handover`]: nothing a credential is on a command line,
//! where `ps` would show it. Later ones are [`Control`] frames: signals the
//! supervisor sends (the remote process is no child of ours to `kill`).
//! EOF on the channel means the parent is gone (Erlang's rule for peer
//! nodes): the child cancels itself, and is killed if it has not ended
//! [`ORPHAN_GRACE`] later.

use std::io::Read;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::super::{ChildEnv, SpawnError, env};
use crate::ipc::tls::TlsSpec;
use crate::ipc::{Addr, Secret, TreeTls};

/// The largest frame on the channel: a hand-over is a few names, the
/// secret and the tree's TLS.
const MAX_FRAME: usize = 16 * 1024 + crate::ipc::tls::MAX_SPEC_BYTES;

/// How long an orphaned remote child (its launcher's channel closed) has
/// to cancel itself before it kills itself.
pub(crate) const ORPHAN_GRACE: Duration = Duration::from_secs(1);

/// The first frame: who the child is and how it reaches its parent.
#[derive(Serialize, Deserialize)]
pub(crate) struct Handover {
    pub parent_addr: String,
    pub name: String,
    pub uuid: [u8; 16],
    #[serde(with = "serde_bytes")]
    pub secret: Vec<u8>,
    pub tls: Option<TlsSpec>,
    pub loglevel: Option<String>,
    /// The parent's build identity, checked by the child.
    pub build: Option<u64>,
}

/// The frames after it.
#[derive(Serialize, Deserialize)]
pub(crate) enum Control {
    /// Deliver this signal to the child (SIGKILL kills its process group).
    Signal(i32),
}

/// `body` as one frame.
pub(crate) fn frame<T: Serialize>(body: &T) -> std::io::Result<Vec<u8>> {
    let bytes = postcard::to_stdvec(body).map_err(std::io::Error::other)?;
    if bytes.len() > MAX_FRAME {
        return Err(std::io::Error::other(format!(
            "a launcher frame of {} bytes, more than {MAX_FRAME}",
            bytes.len()
        )));
    }
    let mut out = (bytes.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&bytes);
    Ok(out)
}

/// The next frame's body from `r`; `None` at EOF between frames.
fn read_frame(r: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::other(format!(
            "a launcher frame of {len} bytes, more than {MAX_FRAME}"
        )));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok(Some(body))
}

/// Child mode of a remotely launched actor: reads the hand-over from
/// stdin, then watches stdin as the lifeline (on a thread of its own, so
/// that even a wedged runtime is killed when its parent goes).
pub(crate) fn remote_child_env() -> Result<ChildEnv, SpawnError> {
    let bad = |what: String| SpawnError::BadEnv(format!("{}: {what}", env::SSH_CHILD));
    let mut stdin = std::io::stdin().lock();
    let body = read_frame(&mut stdin)
        .map_err(|e| bad(format!("cannot read the hand-over from stdin: {e}")))?
        .ok_or_else(|| bad("stdin closed before the hand-over".into()))?;
    drop(stdin);
    let h: Handover = postcard::from_bytes(&body).map_err(|e| {
        bad(format!(
            "not a parent's hand-over ({e}); is the parent this program?"
        ))
    })?;
    let parent_addr =
        Addr::from_str(&h.parent_addr).map_err(|e| bad(format!("the parent's address: {e}")))?;
    let secret = Secret::from_origin(h.secret, "the parent").map_err(|e| bad(e.to_string()))?;
    if let Some(level) = &h.loglevel {
        // SAFETY: child mode is decided in `init()`, before the program
        // starts any thread that could read the environment.
        unsafe { std::env::set_var(env::LOGLEVEL, level) };
    }
    // Our process group is what a kill reaches: be its leader (sshd made
    // us a session leader already, when this fails).
    // SAFETY: setpgid takes no pointers.
    unsafe { libc::setpgid(0, 0) };
    std::thread::Builder::new()
        .name("tractor-lifeline".into())
        .spawn(watch_lifeline)
        .map_err(|e| bad(format!("cannot start the lifeline thread: {e}")))?;
    Ok(ChildEnv {
        parent_addr,
        name: h.name,
        uuid: uuid::Uuid::from_bytes(h.uuid),
        tree_id: std::env::var(env::TREE).unwrap_or_default(),
        secret,
        tls: h.tls.map(|t| Arc::new(TreeTls::from_spec(t))),
        build: h.build,
    })
}

/// Delivers the parent's signals; at EOF (the parent, or the session to
/// it, is gone) asks this process to cancel, then kills it.
fn watch_lifeline() {
    let mut stdin = std::io::stdin().lock();
    // A frame that is no control message is skipped; EOF or a broken
    // pipe ends the watch.
    while let Ok(Some(body)) = read_frame(&mut stdin) {
        if let Ok(Control::Signal(sig)) = postcard::from_bytes::<Control>(&body) {
            deliver(sig);
        }
    }
    deliver(libc::SIGTERM);
    std::thread::sleep(ORPHAN_GRACE);
    deliver(libc::SIGKILL);
}

/// Signals this process; SIGKILL reaches its whole process group when it
/// leads one (its own children die with it by their own death signal).
fn deliver(sig: i32) {
    // SAFETY: getpid, getpgrp and kill take no pointers.
    unsafe {
        let me = libc::getpid();
        if sig == libc::SIGKILL && libc::getpgrp() == me {
            libc::kill(0, sig);
        } else {
            libc::kill(me, sig);
        }
    }
}

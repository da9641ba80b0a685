//! The `forkserver` backend: children forked from a small single-threaded
//! server instead of exec'd.
//!
//! # What it is
//! The server is this program's own binary, started once (lazily, on the
//! first forkserver spawn of an actor) and turned into the server by
//! [`init`](crate::init) before anything else runs: `#[tractor::main]` and
//! `#[tractor::test]` call it first thing, so the server holds the
//! program's image as it is *before tokio starts*, with one thread. Each
//! child is a `fork` of that image: no exec, no dynamic loading, no
//! re-initialisation, and its pages are shared copy-on-write with the
//! server and every sibling until written.
//!
//! It is started by exec rather than forked from the running program
//! because a program that has started tokio (or a test harness, which
//! always runs threads) cannot fork safely: only the forking thread goes
//! on in the child, and any lock another thread held (the allocator's, a
//! logger's, std's environment lock) stays held forever. The server never
//! has a runtime, a socket of the program or a lock held while it forks.
//!
//! # What a child shares, and what it must not
//! * Shared: the pre-tokio memory image (code, statics as `init` left
//!   them), copy-on-write; the program's environment and stdio (stdin is
//!   `/dev/null`, as with `exec`); the process title is set per child.
//! * Not shared: threads (the server has none to give), sockets (the
//!   child's only inherited fds are its own link to the server and its
//!   channel to its parent: one end of a socket pair the parent made and
//!   handed over with the fork request, so the child neither dials nor
//!   proves the secret: only the parent could have made it), locks (none is held at fork), the tree's secret (sent per
//!   fork over the link, never in the environment).
//!
//! # Lifetimes
//! * The server dies with the actor that started it: a parent-death
//!   signal, and the end of its lifeline (the link to that actor). Then it
//!   kills every child it forked and exits.
//! * A forked child dies with its server (parent-death signal), and with
//!   the actor that asked for it: the server kills a link's children when
//!   the link closes, so a forked actor that dies takes its own forked
//!   children with it, down the tree.
//! * The server reaps its children and reports each exit to the actor that
//!   asked for it, which is also the only one it signals a child for (the
//!   server alone can do that without racing a recycled pid).

mod client;
mod fdpass;
mod proto;
mod server;

use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Mutex;

pub(crate) use client::{ForkClient, ForkedChild};

use super::{ChildEnv, env};

/// A forked child's link to the server that forked it: taken by the first
/// actor of the child's process that spawns with the forkserver.
pub(super) static INHERITED_LINK: InheritedLink = InheritedLink(Mutex::new(None));

/// A forked child's channel to its parent, which the parent made and
/// handed over with the fork request: taken by the child's boot, which
/// then does not dial.
static HANDED_CHANNEL: InheritedLink = InheritedLink(Mutex::new(None));

/// This forked process's channel to its parent, if the parent handed one
/// (once: the boot takes it).
pub(crate) fn take_handed_channel() -> Option<UnixStream> {
    HANDED_CHANNEL.take()
}

pub(super) struct InheritedLink(Mutex<Option<UnixStream>>);

impl InheritedLink {
    fn with_link(&self, link: UnixStream) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(link);
    }

    fn take(&self) -> Option<UnixStream> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Turns this process into a forkserver if its parent started it as one
/// (and then never returns); otherwise returns at once. `on_child` runs a
/// forked child as an actor.
pub(crate) fn serve_if_asked(on_child: fn(ChildEnv) -> !) {
    let Ok(v) = std::env::var(env::FORKSERVER_FD) else {
        return;
    };
    let fd = match v.parse::<i32>() {
        Ok(fd) if fd > 2 && is_socket(fd) => fd,
        _ => {
            eprintln!(
                "tractor: {}={v} names no inherited socket; a forkserver must be started by a tractor actor",
                env::FORKSERVER_FD
            );
            super::BootExit::BadEnv.exit();
        }
    };
    // SAFETY: our parent made `fd` for us alone (a socket, checked above);
    // we own it from here.
    let lifeline = unsafe { UnixStream::from_raw_fd(fd) };
    // Forked children inherit this environment: none of them is a server,
    // nor is anything they start.
    // SAFETY: no thread of ours reads the environment now (this is
    // `init`, first thing; a test harness's own thread only waits).
    unsafe { std::env::remove_var(env::FORKSERVER_FD) };
    // Children re-run this binary the way we were run: keep the arguments
    // before the title overwrites them.
    let _ = super::process_args();
    let title = format!("_forkserver[{}]", std::process::id());
    // SAFETY: nothing has read the arguments and no other thread of ours
    // runs (this is `init`, first thing in the program).
    unsafe { super::proctitle::set_title(&title) };
    server::serve(lifeline, on_child)
}

fn is_socket(fd: i32) -> bool {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: fstat writes into `st`, a properly sized buffer.
    unsafe {
        libc::fstat(fd, st.as_mut_ptr()) == 0 && {
            let st = st.assume_init();
            st.st_mode & libc::S_IFMT == libc::S_IFSOCK
        }
    }
}

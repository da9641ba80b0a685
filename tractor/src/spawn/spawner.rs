//! The threads an actor's exec'd children are started from.
//!
//! Starting a process blocks the thread that starts it until the child
//! has exec'd (a `vfork`), and when many children boot at once that wait
//! is the CPU's to grant: about a millisecond each on a busy machine. On
//! the actor's own thread, a thousand spawns would hold up everything
//! else it does, accepting and handshaking the children already started
//! among them. So an actor starts its exec'd children from a thread of
//! its own, made on its first exec spawn, while its runtime goes on.
//!
//! A child's parent-death signal follows the thread that started it, so
//! that thread lives exactly as long as the actor's runtime: it ends
//! when the runtime closes (or drops) its [`SpawnerSlot`], and a child
//! still alive then is killed by the kernel, as it was when the actor's
//! own thread started it.
//!
//! The spawner thread keeps a file-descriptor table of its own
//! (`unshare(CLONE_FILES)`), holding stdio and nothing else. A child
//! starts with a copy of its spawner's table and closes every
//! close-on-exec fd in it at exec: from the actor's table, which holds a
//! socket per child, that is a thousand copies and closes per child at a
//! thousand children (measured: 9% of a child's start). A spawn's own fd,
//! the pipe carrying the tree's secret, is made on the spawner thread,
//! in its table, for that one child. The price: the spawner must never
//! touch an fd of the process. Waking a tokio task does (a runtime's
//! eventfd), and so would a log line to a file, so the spawner neither
//! answers a spawn nor logs: it hands each result to a second thread, the
//! relay, which shares the process's table and wakes the waiting spawn.
//! A child keeps the stdio the process had when the spawner started.

use std::collections::HashMap;
use std::process::Child;
use std::sync::{Arc, Mutex, mpsc};

use tokio::sync::oneshot;

/// What the spawner thread runs: it starts one child.
pub(crate) type Start = Box<dyn FnOnce() -> std::io::Result<Child> + Send>;

type Started = std::io::Result<Child>;

/// The spawns waiting for their child, by job number. Only the relay
/// answers them, or drops them.
type Waiting = Arc<Mutex<HashMap<u64, oneshot::Sender<Started>>>>;

/// An actor's spawner threads: started on first use, ended by
/// [`close`](Self::close) (at the actor's teardown) or when the slot is
/// dropped.
#[derive(Default)]
pub(crate) struct SpawnerSlot(Mutex<Slot>);

#[derive(Default)]
enum Slot {
    #[default]
    Unstarted,
    Running(Running),
    Closed,
}

struct Running {
    jobs: mpsc::Sender<(u64, Start)>,
    waiting: Waiting,
    next: u64,
}

impl SpawnerSlot {
    /// Runs `start` on the spawner thread (starting the threads first if
    /// needed) and returns the child it started. Any fd `start` opens is
    /// in the spawner's table, not this process's. A child whose spawn is
    /// given up (this future dropped) before it is handed over is killed
    /// and reaped.
    pub(crate) async fn spawn(&self, start: Start) -> std::io::Result<Child> {
        let child = self.submit(start)?;
        child.await.map_err(|_| gone())?
    }

    /// Ends the spawner threads once the spawns already asked for are
    /// done: a child they started that is still alive is killed by its
    /// parent-death signal. Later spawns fail.
    pub(crate) fn close(&self) {
        *lock(&self.0) = Slot::Closed;
    }

    fn submit(&self, start: Start) -> std::io::Result<oneshot::Receiver<Started>> {
        let mut slot = lock(&self.0);
        if matches!(*slot, Slot::Unstarted) {
            *slot = Slot::Running(start_threads()?);
        }
        let Slot::Running(running) = &mut *slot else {
            return Err(gone());
        };
        let (reply, child) = oneshot::channel();
        let id = running.next;
        running.next += 1;
        lock(&running.waiting).insert(id, reply);
        if running.jobs.send((id, start)).is_err() {
            lock(&running.waiting).remove(&id);
            return Err(gone());
        }
        Ok(child)
    }
}

/// Starts the relay, then the spawner (one spawner: more, on a machine
/// busy booting the children already started, only add to the contention;
/// measured, 4 spawned a thousand children slower than 1).
fn start_threads() -> std::io::Result<Running> {
    let (jobs, to_spawn) = mpsc::channel::<(u64, Start)>();
    let (done, to_relay) = mpsc::channel::<(u64, Started)>();
    let waiting = Waiting::default();
    let relaying = waiting.clone();
    std::thread::Builder::new()
        .name("tractor-spawn-relay".into())
        .spawn(move || relay(to_relay, relaying))?;
    // If this fails, `done` is dropped with the closure and the relay ends.
    std::thread::Builder::new()
        .name("tractor-spawner".into())
        .spawn(move || spawner(to_spawn, done))?;
    Ok(Running {
        jobs,
        waiting,
        next: 0,
    })
}

/// The spawner thread: starts each child asked for and hands the result
/// to the relay. Ends once the slot's sender is dropped (and the queue
/// is empty), or the relay is gone.
fn spawner(jobs: mpsc::Receiver<(u64, Start)>, done: mpsc::Sender<(u64, Started)>) {
    // A private fd table only with every signal blocked here: a handler
    // running on this thread would write to fds that table lacks.
    if block_signals() {
        own_fd_table();
    }
    while let Ok((id, start)) = jobs.recv() {
        if done.send((id, start())).is_err() {
            // No relay to hand it to: this thread ends, and with it the
            // child (its parent-death signal).
            return;
        }
    }
}

/// The relay thread: answers each spawn with its child. A child nobody
/// waits for any more is killed and reaped here.
fn relay(results: mpsc::Receiver<(u64, Started)>, waiting: Waiting) {
    while let Ok((id, started)) = results.recv() {
        let unclaimed = match lock(&waiting).remove(&id) {
            Some(reply) => reply.send(started).err(),
            None => Some(started),
        };
        if let Some(Ok(mut child)) = unclaimed {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Blocks every signal on this thread (whether it did), so none is
/// handled here: a handler writes to fds of the process's table (tokio's
/// signal pipe), which this thread's own table does not hold. Children
/// inherit the mask; a child actor clears it first thing in `init()`.
fn block_signals() -> bool {
    let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset initialises the set; pthread_sigmask only
    // changes this thread's mask.
    unsafe {
        libc::sigfillset(all.as_mut_ptr()) == 0
            && libc::pthread_sigmask(libc::SIG_BLOCK, all.as_ptr(), std::ptr::null_mut()) == 0
    }
}

/// Gives this thread a file-descriptor table of its own, with stdio only.
/// Where that fails, it keeps the process's fds (shared, or a full
/// private copy): spawns stay correct (every fd of ours is close-on-exec),
/// only slower. Nothing is logged: once fds are closed here, a log file's
/// fd number could name the next secret's pipe.
fn own_fd_table() {
    // SAFETY: unshare(CLONE_FILES) makes this thread's fd table a private
    // copy; no other thread's fds change.
    if unsafe { libc::unshare(libc::CLONE_FILES) } != 0 {
        return;
    }
    // SAFETY: closes fds >= 3 of this thread's private copy only, which
    // nothing here uses (the copies of other threads' fds).
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
}

fn gone() -> std::io::Error {
    std::io::Error::other(
        "this actor is tearing down: its spawner thread has ended, so it starts no more children",
    )
}

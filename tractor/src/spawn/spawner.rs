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
//! (`close_range` with `CLOSE_RANGE_UNSHARE`), holding stdio and nothing
//! else. A child
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
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Set by `close`: the spawner drops what is left in its queue.
    closed: Arc<AtomicBool>,
}

/// A spawn's answer, still to come: a child delivered but never taken
/// (the spawn given up in between) is killed and reaped.
struct Unclaimed(oneshot::Receiver<Started>);

impl Drop for Unclaimed {
    fn drop(&mut self) {
        self.0.close();
        if let Ok(Ok(child)) = self.0.try_recv() {
            super::process::kill_and_reap(child);
        }
    }
}

impl SpawnerSlot {
    /// Runs `start` on the spawner thread (starting the threads first if
    /// needed) and returns the child it started. Any fd `start` opens is
    /// in the spawner's table, not this process's. A child whose spawn is
    /// given up (this future dropped) before it is handed over is killed
    /// and reaped.
    pub(crate) async fn spawn(&self, start: Start) -> std::io::Result<Child> {
        let mut child = Unclaimed(self.submit(start)?);
        (&mut child.0).await.map_err(|_| ended())?
    }

    /// Ends the spawner threads: spawns asked for and not started yet are
    /// dropped (they fail), and a child they started that is still alive
    /// is killed by its parent-death signal. Later spawns fail.
    pub(crate) fn close(&self) {
        if let Slot::Running(running) = std::mem::replace(&mut *lock(&self.0), Slot::Closed) {
            running.closed.store(true, Ordering::Relaxed);
        }
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
            // The spawner thread is gone (it cannot end any other way
            // while the slot holds its queue): the next spawn starts anew.
            *slot = Slot::Unstarted;
            return Err(ended());
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
    let closed = Arc::new(AtomicBool::new(false));
    let relaying = waiting.clone();
    std::thread::Builder::new()
        .name("tractor-spawn-relay".into())
        .spawn(move || relay(to_relay, relaying))?;
    // If this fails, `done` is dropped with the closure and the relay ends.
    let closing = closed.clone();
    let asked = waiting.clone();
    std::thread::Builder::new()
        .name("tractor-spawner".into())
        .spawn(move || spawner(to_spawn, done, closing, asked))?;
    Ok(Running {
        jobs,
        waiting,
        next: 0,
        closed,
    })
}

/// The spawner thread: starts each child asked for and hands the result
/// to the relay. Ends once the slot's sender is dropped (and the queue
/// is empty), or the relay is gone.
fn spawner(
    jobs: mpsc::Receiver<(u64, Start)>,
    done: mpsc::Sender<(u64, Started)>,
    closed: Arc<AtomicBool>,
    waiting: Waiting,
) {
    // A private fd table only with every signal blocked here: a handler
    // running on this thread would write to fds that table lacks.
    if block_signals() {
        own_fd_table();
    }
    while let Ok((id, start)) = jobs.recv() {
        // Nothing left to start for an actor that closed its slot, or for
        // a spawn given up already (looking at its reply touches no fd;
        // the relay drops the reply).
        if closed.load(Ordering::Relaxed) {
            return;
        }
        let given_up = lock(&waiting)
            .get(&id)
            .is_none_or(|reply| reply.is_closed());
        let started = if given_up {
            Err(std::io::Error::other("the spawn was given up"))
        } else {
            start()
        };
        if done.send((id, started)).is_err() {
            // No relay to hand it to: this thread ends, and with it the
            // child (its parent-death signal).
            return;
        }
    }
}

/// The relay thread: answers each spawn with its child. A child nobody
/// waits for any more is killed and reaped here.
fn relay(results: mpsc::Receiver<(u64, Started)>, waiting: Waiting) {
    // However the relay ends (the spawner gone, or a panic), the spawns
    // still waiting are answered, with an error: their senders dropped
    // here, on a thread of the process's fd table.
    let _answer_the_rest = AnswerTheRest(waiting.clone());
    while let Ok((id, started)) = results.recv() {
        let unclaimed = match lock(&waiting).remove(&id) {
            Some(reply) => reply.send(started).err(),
            None => Some(started),
        };
        if let Some(Ok(child)) = unclaimed {
            super::process::kill_and_reap(child);
        }
    }
}

struct AnswerTheRest(Waiting);

impl Drop for AnswerTheRest {
    fn drop(&mut self) {
        lock(&self.0).clear();
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

/// Gives this thread a file-descriptor table of its own, with stdio only,
/// in one step (before Linux 5.9, none: the table stays shared, and
/// spawns stay correct, every fd of ours being close-on-exec, only
/// slower). Nothing is logged: in the private table, a log file's fd
/// number could name the next secret's pipe.
fn own_fd_table() {
    // SAFETY: with CLOSE_RANGE_UNSHARE, the kernel gives this thread a
    // private table holding only fds 0-2 (the others are "closed" in that
    // copy alone), or fails and leaves the shared table as it was; no
    // other thread's fds change either way.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_UNSHARE,
        )
    };
}

fn gone() -> std::io::Error {
    std::io::Error::other(
        "this actor is tearing down: its spawner thread has ended, so it starts no more children",
    )
}

fn ended() -> std::io::Error {
    std::io::Error::other(
        "the actor's spawner thread ended before starting this child (the actor is tearing down, or the thread failed; a later spawn starts a new one)",
    )
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::time::{Duration, Instant};

    use super::*;

    fn gone_within(pid: u32, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[tokio::test]
    async fn spawns_run_on_a_thread_holding_stdio_only() {
        let slot = SpawnerSlot::default();
        let seen = Arc::new(Mutex::new(None));
        let seen2 = seen.clone();
        let start: Start = Box::new(move || {
            // The listing's own fd is one of those counted.
            let fds: Vec<String> = std::fs::read_dir("/proc/thread-self/fd")?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            *lock(&seen2) = Some(fds);
            Command::new("true").spawn()
        });
        let mut child = slot.spawn(start).await.expect("spawned");
        assert!(child.wait().expect("reaped").success());
        let fds = lock(&seen).clone().expect("the start ran");
        assert!(fds.len() <= 4, "the spawner thread holds fds {fds:?}");
        slot.close();
        let late: Start = Box::new(|| Command::new("true").spawn());
        assert!(slot.spawn(late).await.is_err(), "a spawn after close");
    }

    #[test]
    fn a_child_handed_over_but_never_taken_is_killed_and_reaped() {
        let (reply, answer) = oneshot::channel::<Started>();
        let child = Command::new("sleep").arg("30").spawn().expect("sleep");
        let pid = child.id();
        reply.send(Ok(child)).expect("the receiver is there");
        // The spawn's future is dropped with its answer unread.
        drop(Unclaimed(answer));
        assert!(
            gone_within(pid, Duration::from_secs(5)),
            "child {pid} was left running"
        );
    }
}

//! An actor's home: the thread, and the `LocalSet` on it, where its
//! runtime's tasks run.
//!
//! The runtime spawns its tasks with `spawn_local`: an actor's message
//! loops and RPC tasks share one thread, wherever the program's other
//! tasks run. Handles to the actor (portals, streams, contexts) are
//! `Send` and work from any thread: a program that owns a multi-thread
//! runtime calls into actors from its worker tasks. What such a call
//! must do at home (dial a channel, whose socket, writer and message
//! loop then belong to the actor's runtime rather than the caller's) is
//! queued here and run there. What forks a child process stays at home:
//! a child's parent-death signal follows the thread that forked it, and
//! a worker thread may exit.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::ThreadId;

use futures::task::AtomicWaker;

use tokio::sync::{mpsc, oneshot};
use tokio::task::LocalSet;

thread_local! {
    /// Whether this thread is polling an actor's home `LocalSet` now.
    static AT_HOME: Cell<bool> = const { Cell::new(false) };
}

/// Drives `body` as an actor's home: a `LocalSet` of its own runs the
/// actor's tasks while this is polled, and code in `body` may spawn
/// them directly.
///
/// What `LocalSet::run_until` does, with two costs of its own gone from
/// the path of every message: `run_until` polls the body on every poll
/// (each time one of the tasks is woken: a message loop reading), and a
/// task that wakes the body during that poll sends the runtime to the
/// OS for events (a syscall) before the body runs. Here each half is
/// polled only when it was woken, and the body a task woke runs at once.
///
/// The body is boxed: a program's own future nests this one (a
/// `#[tokio::main]` around a root around nurseries), and the box keeps
/// its type out of the compiler's layout of that whole chain.
pub(crate) fn at_home<F: Future>(body: F) -> AtHome<F> {
    let wakes = Arc::new(Wakes {
        // Both polled first thing.
        body: AtomicBool::new(true),
        tasks: AtomicBool::new(true),
        polling: AtomicBool::new(false),
        outer: AtomicWaker::new(),
    });
    AtHome {
        body: Box::pin(body),
        tasks: LocalSet::new(),
        body_waker: half_waker(&wakes, true),
        tasks_waker: half_waker(&wakes, false),
        wakes,
    }
}

fn half_waker(wakes: &Arc<Wakes>, body: bool) -> Waker {
    Waker::from(Arc::new(HalfWake {
        wakes: wakes.clone(),
        body,
    }))
}

/// How many rounds (the body if woken, then the tasks if woken) one
/// poll of [`AtHome`] runs while either half is woken by the other:
/// enough for a task to hand the body a message and the body to act on
/// it. A wake after that is left to the runtime, so halves that keep
/// waking each other cannot starve its I/O and timers.
const ROUNDS: usize = 2;

/// The future [`at_home`] returns.
pub(crate) struct AtHome<F> {
    // Dropped before the tasks, as `run_until`'s body is.
    body: Pin<Box<F>>,
    tasks: LocalSet,
    /// What each half is polled with, made once.
    body_waker: Waker,
    tasks_waker: Waker,
    wakes: Arc<Wakes>,
}

impl<F: Future> Future for AtHome<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _mark = Mark::set();
        let this = &mut *self;
        let wakes = &*this.wakes;
        wakes.outer.register(cx.waker());
        // The body's `spawn_local` lands in the set.
        let _in_set = this.tasks.enter();
        for _ in 0..ROUNDS {
            {
                let _polling = Polling::set(&wakes.polling);
                let body_cx = &mut Context::from_waker(&this.body_waker);
                // Looked at before taken: a half not woken costs no
                // read-modify-write (a locked instruction, ~10 ns).
                if wakes.body.load(SeqCst)
                    && wakes.body.swap(false, SeqCst)
                    && let Poll::Ready(out) = this.body.as_mut().poll(body_cx)
                {
                    return Poll::Ready(out);
                }
                if wakes.tasks.load(SeqCst) && wakes.tasks.swap(false, SeqCst) {
                    // `Ready` means no task is left now; the body may spawn more.
                    let _ =
                        Pin::new(&mut this.tasks).poll(&mut Context::from_waker(&this.tasks_waker));
                }
            }
            if !wakes.body.load(SeqCst) && !wakes.tasks.load(SeqCst) {
                return Poll::Pending;
            }
        }
        // Still woken: the runtime polls again after its turn at I/O.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Marks an [`AtHome`] poll under way until dropped (by a panic too:
/// wakes after it must reach the task again).
struct Polling<'a>(&'a AtomicBool);

impl<'a> Polling<'a> {
    fn set(flag: &'a AtomicBool) -> Self {
        flag.store(true, SeqCst);
        Polling(flag)
    }
}

impl Drop for Polling<'_> {
    fn drop(&mut self) {
        self.0.store(false, SeqCst);
    }
}

/// Which halves of an [`AtHome`] were woken, and the task polling it.
///
/// A wake while that poll runs only marks its half (the poll looks at
/// the marks before it returns); any other wake also goes on to the task.
/// Sequentially consistent, so a wake racing the end of a poll is seen by
/// the poll or passed on by the waker, never lost.
struct Wakes {
    body: AtomicBool,
    tasks: AtomicBool,
    polling: AtomicBool,
    outer: AtomicWaker,
}

/// The waker of one half of an [`AtHome`]: the body (`body`) or the
/// task set.
struct HalfWake {
    wakes: Arc<Wakes>,
    body: bool,
}

impl Wake for HalfWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let w = &self.wakes;
        let half = if self.body { &w.body } else { &w.tasks };
        half.store(true, SeqCst);
        if !w.polling.load(SeqCst) {
            w.outer.wake();
        }
    }
}

/// Marks the thread as at home while a poll lasts (restoring what was
/// there, so nested homes unwind correctly).
struct Mark(bool);

impl Mark {
    fn set() -> Mark {
        Mark(AT_HOME.replace(true))
    }
}

impl Drop for Mark {
    fn drop(&mut self) {
        AT_HOME.set(self.0);
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Where an actor's tasks run, and the queue that reaches it from
/// elsewhere.
#[derive(Debug)]
pub(crate) struct Home {
    thread: ThreadId,
    jobs: mpsc::UnboundedSender<Job>,
}

impl Home {
    /// The home of the calling task, which must run on a `LocalSet`:
    /// starts the task that runs what other threads queue here. It lives
    /// as long as the `LocalSet`; what is queued after is dropped unrun.
    pub(crate) fn here() -> Home {
        // Unbounded: only this process's own code queues (a channel to
        // dial, a child to fork, one per call from another thread), never
        // a peer, and each job is taken at once.
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        tokio::task::spawn_local(async move {
            while let Some(job) = queue.recv().await {
                job();
            }
        });
        Home {
            thread: std::thread::current().id(),
            jobs,
        }
    }

    /// Whether the caller runs at home now (so it may `spawn_local`).
    pub(crate) fn is_here(&self) -> bool {
        AT_HOME.get() && std::thread::current().id() == self.thread
    }

    /// Starts the future `make` builds at home (at once when called
    /// there, else through the queue, from any thread) and returns what
    /// waits for its output. Dropping that drops the work at home too.
    pub(crate) fn run<M, F, T>(&self, make: M) -> AtHomeResult<T>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        self.start(make, None::<fn(T)>)
    }

    /// [`run`](Self::run) for work that must not stop half-way (a child
    /// being forked): it runs to its end even if the caller gives up, and
    /// then hands its output to `unclaimed` instead.
    pub(crate) fn run_to_end<M, F, T, U>(&self, make: M, unclaimed: U) -> AtHomeResult<T>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future<Output = T> + 'static,
        T: Send + 'static,
        U: FnOnce(T) + Send + 'static,
    {
        self.start(make, Some(unclaimed))
    }

    fn start<M, F, T, U>(&self, make: M, unclaimed: Option<U>) -> AtHomeResult<T>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future<Output = T> + 'static,
        T: Send + 'static,
        U: FnOnce(T) + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job = move || {
            tokio::task::spawn_local(work(make, tx, unclaimed));
        };
        if self.is_here() {
            job();
        } else {
            // Refused, or dropped unrun with the home's queue: `rx` fails.
            let _ = self.jobs.send(Box::new(job));
        }
        AtHomeResult(rx)
    }
}

/// Why work sent home produced no output.
#[derive(Debug)]
pub(crate) enum NotRun {
    /// The home is gone: the actor ended.
    Gone,
    /// The work panicked, with this message.
    Panicked(String),
}

/// Runs `make`'s future and sends its output: unless the caller gave up,
/// which drops the work, or (with `unclaimed`) hands the output there
/// once the work has run to its end.
async fn work<M, F, T, U>(make: M, mut tx: oneshot::Sender<Result<T, NotRun>>, unclaimed: Option<U>)
where
    M: FnOnce() -> F,
    F: Future<Output = T>,
    U: FnOnce(T),
{
    use futures::FutureExt;
    let work = std::panic::AssertUnwindSafe(make()).catch_unwind();
    tokio::pin!(work);
    let out = if unclaimed.is_some() {
        Some(work.await)
    } else {
        tokio::select! {
            out = &mut work => Some(out),
            // The caller gave up: so does the work.
            () = tx.closed() => None,
        }
    };
    let out = match out {
        None => return,
        Some(Ok(out)) => Ok(out),
        Some(Err(panic)) => Err(NotRun::Panicked(panic_message(panic.as_ref()))),
    };
    if let Err(Ok(out)) = tx.send(out)
        && let Some(unclaimed) = unclaimed
    {
        unclaimed(out);
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".into())
}

/// The output of work [`Home::run`] started at home, once it is done.
/// `Send`, whatever the work is.
#[derive(Debug)]
pub(crate) struct AtHomeResult<T>(oneshot::Receiver<Result<T, NotRun>>);

impl<T> Future for AtHomeResult<T> {
    type Output = Result<T, NotRun>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(NotRun::Gone)))
    }
}

impl NotRun {
    /// As the error a caller of `actor`'s runtime gets.
    pub(crate) fn into_error(self, actor: &crate::ipc::Aid) -> crate::Error {
        match self {
            NotRun::Gone => crate::Error::ActorEnded {
                actor: actor.clone(),
            },
            NotRun::Panicked(message) => crate::Error::RuntimeFailure(format!(
                "work sent to actor {actor}'s thread panicked: {message}"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::runtime::count_wakes::CountWakes;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    /// Runs `fut` at a fresh home, as an actor's boot does.
    async fn run_home<F: Future>(fut: F) -> F::Output {
        at_home(fut).await
    }

    fn current_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    }

    #[test]
    fn runs_at_home_for_another_thread() {
        current_thread().block_on(run_home(async {
            let home = Arc::new(Home::here());
            assert!(home.is_here());
            let home_thread = std::thread::current().id();
            let from = {
                let home = home.clone();
                std::thread::spawn(move || {
                    assert!(!home.is_here());
                    current_thread().block_on(home.run(|| async {
                        // `!Send` work is fine: it is built at home.
                        let here = std::rc::Rc::new(std::thread::current().id());
                        tokio::task::yield_now().await;
                        *here
                    }))
                })
            };
            let ran_on = tokio::task::spawn_blocking(move || from.join());
            let ran_on = tokio::time::timeout(Duration::from_secs(5), ran_on).await;
            assert!(matches!(ran_on, Ok(Ok(Ok(Ok(t)))) if t == home_thread));
        }));
    }

    #[test]
    fn a_plain_task_on_the_home_thread_is_not_at_home() {
        current_thread().block_on(run_home(async {
            let home = Arc::new(Home::here());
            let h = home.clone();
            // `tokio::spawn` runs outside the LocalSet, where `spawn_local`
            // would panic: the home must be reached through its queue.
            let seen = tokio::spawn(async move { (h.is_here(), h.run(|| async { 7 }).await) });
            let seen = tokio::time::timeout(Duration::from_secs(5), seen).await;
            assert!(matches!(seen, Ok(Ok((false, Ok(7))))));
        }));
    }

    #[test]
    fn work_sent_to_a_home_that_is_gone_is_not_run() {
        let home = current_thread().block_on(run_home(async { Home::here() }));
        let got = current_thread().block_on(async {
            tokio::time::timeout(Duration::from_secs(5), home.run(|| async { 1 })).await
        });
        assert!(matches!(got, Ok(Err(NotRun::Gone))), "{got:?}");
    }

    #[test]
    fn a_panic_at_home_reaches_the_caller_as_one() {
        current_thread().block_on(run_home(async {
            let home = Home::here();
            let got: Result<(), NotRun> = home.run(|| async { panic!("forked badly") }).await;
            assert!(
                matches!(&got, Err(NotRun::Panicked(m)) if m == "forked badly"),
                "{got:?}"
            );
        }));
    }

    #[test]
    fn work_run_to_its_end_hands_an_unclaimed_output_over() {
        current_thread().block_on(run_home(async {
            let home = Arc::new(Home::here());
            let (started_tx, started) = oneshot::channel::<()>();
            let (finish_tx, finish) = oneshot::channel::<()>();
            let (unclaimed_tx, unclaimed) = oneshot::channel::<u32>();
            let h = home.clone();
            let caller = tokio::spawn(async move {
                h.run_to_end(
                    move || async move {
                        let _ = started_tx.send(());
                        let _ = finish.await;
                        42
                    },
                    move |out| {
                        let _ = unclaimed_tx.send(out);
                    },
                )
                .await
            });
            // The work is under way; its caller gives up; it still ends.
            let within = Duration::from_secs(5);
            assert!(tokio::time::timeout(within, started).await.is_ok());
            caller.abort();
            let _ = caller.await;
            let _ = finish_tx.send(());
            let got = tokio::time::timeout(within, unclaimed).await;
            assert!(matches!(got, Ok(Ok(42))), "{got:?}");
        }));
    }

    #[test]
    fn a_caller_that_gives_up_drops_the_work_at_home() {
        current_thread().block_on(run_home(async {
            let home = Arc::new(Home::here());
            let (dropped_tx, dropped) = oneshot::channel::<()>();
            let (started_tx, started) = oneshot::channel::<()>();
            let h = home.clone();
            let caller = tokio::spawn(async move {
                h.run(move || async move {
                    let _signal = DropSignal(Some(dropped_tx));
                    let _ = started_tx.send(());
                    std::future::pending::<()>().await;
                })
                .await
            });
            // Under way at home before the caller gives up.
            let started = tokio::time::timeout(Duration::from_secs(5), started).await;
            assert!(matches!(started, Ok(Ok(()))));
            caller.abort();
            // The work's future is dropped once the caller's end is.
            let seen = tokio::time::timeout(Duration::from_secs(5), dropped).await;
            assert!(matches!(seen, Ok(Err(_))));
        }));
    }

    /// Polls `home` once with a waker counting wakes: its result and the
    /// wakes so far.
    fn poll_once<F: Future>(
        home: &mut AtHome<F>,
        wakes: &Arc<CountWakes>,
    ) -> (Poll<F::Output>, usize) {
        let waker = Waker::from(wakes.clone());
        let polled = Pin::new(home).poll(&mut Context::from_waker(&waker));
        (polled, wakes.count())
    }

    #[test]
    fn a_body_a_task_wakes_runs_on_in_the_same_poll() {
        current_thread().block_on(async {
            let mut home = at_home(async {
                let (tx, rx) = oneshot::channel();
                // Runs after the body's first poll, as a message loop does.
                tokio::task::spawn_local(async move {
                    let _ = tx.send(7);
                });
                rx.await
            });
            let wakes = Arc::new(CountWakes::default());
            let (polled, woken) = poll_once(&mut home, &wakes);
            assert!(matches!(polled, Poll::Ready(Ok(7))), "{polled:?}");
            assert_eq!(woken, 0, "the runtime was asked to poll again");
        });
    }

    #[test]
    fn a_woken_task_runs_without_polling_the_body() {
        current_thread().block_on(async {
            let (tx, rx) = oneshot::channel::<()>();
            let (done_tx, done) = std::sync::mpsc::channel::<()>();
            let body_polls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let mut start = Some((rx, done_tx));
            let polls = body_polls.clone();
            let mut home = at_home(std::future::poll_fn(move |_| {
                polls.fetch_add(1, SeqCst);
                if let Some((rx, done_tx)) = start.take() {
                    tokio::task::spawn_local(async move {
                        let _ = rx.await;
                        let _ = done_tx.send(());
                    });
                }
                Poll::<()>::Pending
            }));
            let wakes = Arc::new(CountWakes::default());
            let (polled, woken) = poll_once(&mut home, &wakes);
            assert!(polled.is_pending());
            assert_eq!((body_polls.load(SeqCst), woken), (1, 0));
            // The task's wake comes from outside a poll: it goes on.
            assert!(tx.send(()).is_ok());
            assert_eq!(wakes.count(), 1);
            let (polled, _) = poll_once(&mut home, &wakes);
            assert!(polled.is_pending());
            assert!(done.try_recv().is_ok(), "the task did not run");
            assert_eq!(
                body_polls.load(SeqCst),
                1,
                "the body was polled though not woken"
            );
        });
    }

    #[test]
    fn a_body_that_keeps_waking_itself_goes_back_to_the_runtime() {
        current_thread().block_on(async {
            let mut home = at_home(std::future::poll_fn(|cx| {
                cx.waker().wake_by_ref();
                Poll::<()>::Pending
            }));
            let wakes = Arc::new(CountWakes::default());
            for round in 1..=3 {
                let (polled, woken) = poll_once(&mut home, &wakes);
                assert!(polled.is_pending());
                // One wake per poll: the runtime's I/O and timers get their turn.
                assert_eq!(woken, round);
            }
        });
    }

    #[test]
    fn a_wake_from_another_thread_reaches_the_runtime() {
        current_thread().block_on(async {
            let (tx, rx) = oneshot::channel::<u8>();
            let mut home = at_home(rx);
            let wakes = Arc::new(CountWakes::default());
            let (polled, woken) = poll_once(&mut home, &wakes);
            assert!(polled.is_pending());
            assert_eq!(woken, 0);
            let sent = std::thread::spawn(move || tx.send(3)).join();
            assert!(matches!(sent, Ok(Ok(()))));
            // The wake happened while nothing polled: it went on at once.
            assert_eq!(wakes.count(), 1);
            let (polled, _) = poll_once(&mut home, &wakes);
            assert!(matches!(polled, Poll::Ready(Ok(3))), "{polled:?}");
        });
    }

    /// Drops its sender when dropped: the receiver sees the work gone.
    struct DropSignal(Option<oneshot::Sender<()>>);

    impl Drop for DropSignal {
        fn drop(&mut self) {
            drop(self.0.take());
        }
    }
}

//! A future that waits beside a busy one without being polled each time
//! the busy one is.
//!
//! A `select!` polls every branch whenever its task wakes. Beside a body
//! that wakes for every message (a root's body, a nursery's), watchers
//! that almost never fire (a cancellation token, the signal listeners, a
//! nursery's failure flag) were polled just as often, and each such poll
//! costs locks: a pending `Notified` takes its `Notify`'s mutex to check
//! its waker, a cancellation token takes its node's. [`Gated`] polls its
//! future only when that future's own waker fired (and the first time).
//!
//! A skipped poll costs one load: no read-modify-write at all while the
//! task's waker is the one registered before. Those (a locked instruction
//! each, about 10 ns here) were most of what a gate cost on a message's
//! path, where a task polls several gates for every message it handles.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures::task::AtomicWaker;

/// `fut`, polled only when it woke since its last poll.
pub(crate) struct Gated<'a, T> {
    fut: Pin<Box<dyn Future<Output = T> + Send + 'a>>,
    wake: Arc<GateWake>,
    /// The task's waker as last registered with `wake.task`.
    registered: Option<Waker>,
}

/// The waker `fut` is polled with: records that it fired, and wakes the
/// task that polls the gate.
struct GateWake {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for GateWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl<'a, T> Gated<'a, T> {
    /// Gates `fut` (boxed once, here).
    pub(crate) fn new(fut: impl Future<Output = T> + Send + 'a) -> Self {
        Gated {
            fut: Box::pin(fut),
            wake: Arc::new(GateWake {
                // The first poll always reaches `fut`.
                woken: AtomicBool::new(true),
                task: AtomicWaker::new(),
            }),
            registered: None,
        }
    }
}

impl<T> Future for Gated<'_, T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = &mut *self;
        let same_task = this
            .registered
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()));
        // Not woken, and the registration still stands for this task: only
        // a wake takes it, and a wake marks `woken` before it does, so one
        // that took it either shows here or is waking this task now.
        if same_task && !this.wake.woken.load(Ordering::Acquire) {
            return Poll::Pending;
        }
        // Registered before the flag is read: a wake after the read finds
        // this waker and polls us again.
        this.wake.task.register(cx.waker());
        if !this.wake.woken.swap(false, Ordering::AcqRel) {
            // No wake since the registration: it stands.
            if !same_task {
                this.registered = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
        // A wake came, maybe during the registration, which it then used
        // up (the waker was woken at once and taken): register again next
        // time. Its mark is consumed here, so it will not show then.
        this.registered = None;
        let waker = Waker::from(this.wake.clone());
        this.fut.as_mut().poll(&mut Context::from_waker(&waker))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::count_wakes::CountWakes;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    /// Pending until `n` polls; wakes itself on the 1st (so the gate must
    /// poll it again) and counts every poll that reached it.
    struct Counted {
        polls: Arc<AtomicUsize>,
        ready_at: usize,
    }

    impl Future for Counted {
        type Output = usize;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            let n = self.polls.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= self.ready_at {
                return Poll::Ready(n);
            }
            if n == 1 {
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        }
    }

    /// Polls that find the gated future not woken do not reach it; its
    /// own wakes do, and its output comes through.
    #[test]
    fn only_its_own_wakes_reach_the_future() {
        let polls = Arc::new(AtomicUsize::new(0));
        let mut gate = Box::pin(Gated::new(Counted {
            polls: polls.clone(),
            ready_at: 3,
        }));
        let noop = futures::task::noop_waker();
        let mut cx = Context::from_waker(&noop);
        // 1st poll reaches it (it wakes itself); the 2nd too.
        assert!(gate.as_mut().poll(&mut cx).is_pending());
        assert!(gate.as_mut().poll(&mut cx).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), 2);
        // Not woken since: the gate answers alone, however often polled.
        for _ in 0..10 {
            assert!(gate.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    }

    /// A gate polled by another task's waker (a future moved between
    /// tasks) wakes that one, not the one it was polled with before; and
    /// after a wake it registers again, so the next wake comes too.
    #[test]
    fn the_latest_poller_is_woken_every_time() {
        let notify = Arc::new(tokio::sync::Notify::new());
        let waiting = notify.clone();
        let mut gate = Box::pin(Gated::new(async move {
            for _ in 0..2 {
                waiting.notified().await;
            }
        }));
        let (a, b) = (
            Arc::new(CountWakes::default()),
            Arc::new(CountWakes::default()),
        );
        let (wa, wb) = (Waker::from(a.clone()), Waker::from(b.clone()));
        assert!(
            gate.as_mut()
                .poll(&mut Context::from_waker(&wa))
                .is_pending()
        );
        assert!(
            gate.as_mut()
                .poll(&mut Context::from_waker(&wb))
                .is_pending()
        );
        notify.notify_one();
        assert_eq!((a.count(), b.count()), (0, 1), "the latest poller is woken");
        // Skipped polls between wakes keep the registration.
        let mut cx = Context::from_waker(&wb);
        assert!(gate.as_mut().poll(&mut cx).is_pending());
        assert!(gate.as_mut().poll(&mut cx).is_pending());
        notify.notify_one();
        assert_eq!(b.count(), 2, "woken again after its wake was taken");
        assert!(gate.as_mut().poll(&mut cx).is_ready());
    }

    /// Wakes from another thread, many of them, each while the task is
    /// idle or busy with the gate, are never lost: a gated receiver takes
    /// every message of a sender on another thread, each of which waits
    /// for room and so wakes it. (The narrowest race, a wake inside the
    /// gate's registration that uses it up, cannot be forced from here;
    /// `poll` registers again after every wake for it.)
    #[test]
    fn wakes_from_another_thread_are_not_lost() {
        const N: u32 = 20_000;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(1);
        let sender = std::thread::spawn(move || {
            for i in 0..N {
                if tx.blocking_send(i).is_err() {
                    return;
                }
            }
        });
        let got = rt.block_on(async {
            let gate = Gated::new(async move {
                let mut n = 0;
                while rx.recv().await.is_some() {
                    n += 1;
                }
                n
            });
            tokio::time::timeout(Duration::from_secs(20), gate).await
        });
        assert_eq!(got.ok(), Some(N), "a wake was lost: the gate stalled");
        sender.join().expect("the sender");
    }

    /// A wake from another thread reaches a task waiting on the gate.
    #[test]
    fn a_wake_from_elsewhere_ends_the_wait() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let got = rt.block_on(async {
            let notify = Arc::new(tokio::sync::Notify::new());
            let fired = notify.clone();
            let (waiting_tx, waiting) = std::sync::mpsc::channel();
            let gate = Gated::new(async move {
                let woken = notify.notified();
                tokio::pin!(woken);
                woken.as_mut().enable();
                let _ = waiting_tx.send(());
                woken.await;
                7
            });
            // Woken only once the gated future waits: `notify_waiters`
            // stores no permit for a later waiter.
            std::thread::spawn(move || {
                if waiting.recv().is_ok() {
                    fired.notify_waiters();
                }
            });
            tokio::time::timeout(Duration::from_secs(20), gate).await
        });
        assert_eq!(
            got.ok(),
            Some(7),
            "the gate's future saw its wake within 20 s"
        );
    }
}

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::*;

const DEADLINE: Duration = Duration::from_secs(10);

/// Sends on its channel when dropped: proves a task's future was dropped.
struct DropSignal(Option<oneshot::Sender<()>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

fn drop_signal() -> (DropSignal, oneshot::Receiver<()>) {
    let (tx, rx) = oneshot::channel();
    (DropSignal(Some(tx)), rx)
}

/// Runs `fut` on a `LocalSet` of a fresh current-thread runtime.
fn on_a_local_set<F: Future>(fut: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, fut)
}

async fn within<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .expect("test deadline")
}

#[tokio::test]
async fn all_tasks_joined_and_body_value_returned() {
    within(async {
        let count = Arc::new(AtomicUsize::new(0));
        let value = open_task_nursery(async |tn| {
            for _ in 0..10 {
                let count = count.clone();
                tn.spawn(async move {
                    tokio::task::yield_now().await;
                    count.fetch_add(1, Ordering::SeqCst);
                    Ok::<(), TaskError>(())
                });
            }
            Ok::<_, TaskError>(42)
        })
        .await
        .unwrap();
        assert_eq!(value, 42);
        assert_eq!(count.load(Ordering::SeqCst), 10);
    })
    .await;
}

#[tokio::test]
async fn first_error_cancels_siblings_and_body() {
    within(async {
        let (guard, dropped) = drop_signal();
        let (body_guard, body_dropped) = drop_signal();
        let res: Result<(), TaskError> = open_task_nursery(async |tn| {
            tn.spawn(async move {
                let _guard = guard;
                std::future::pending::<Result<(), TaskError>>().await
            });
            tn.spawn(async { Err::<(), _>("boom") });
            let _body_guard = body_guard;
            std::future::pending::<()>().await;
            Ok::<(), TaskError>(())
        })
        .await;
        let err = res.unwrap_err();
        assert!(
            matches!(&err, TaskError::Failed(e) if e.to_string() == "boom"),
            "{err}"
        );
        dropped.await.unwrap();
        body_dropped.await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_errors_are_all_kept() {
    within(async {
        let barrier = Arc::new(tokio::sync::Barrier::new(3));
        // Counts the tasks that reached their error: the count is taken
        // with no await before the return, so an abort cannot fall between.
        let failed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let res: Result<(), TaskError> = open_task_nursery(async |tn| {
            for i in 0..3 {
                let barrier = barrier.clone();
                let failed = failed.clone();
                // All three fail in the same instant (no await after the barrier).
                tn.spawn(async move {
                    barrier.wait().await;
                    failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Err::<(), _>(format!("task {i}"))
                });
            }
            Ok::<(), TaskError>(())
        })
        .await;
        let errors = res.unwrap_err().into_errors();
        // The first failure aborts the others, but every one that already
        // ended with an error is kept: none is dropped.
        assert_eq!(
            errors.len(),
            failed.load(std::sync::atomic::Ordering::SeqCst),
            "{errors:?}"
        );
        for e in &errors {
            assert!(e.to_string().contains("task "), "{e}");
        }
    })
    .await;
}

#[tokio::test]
async fn body_error_fails_the_nursery_and_cancels_tasks() {
    within(async {
        let (guard, dropped) = drop_signal();
        let res: Result<(), TaskError> = open_task_nursery(async |tn| {
            tn.spawn(async move {
                let _guard = guard;
                std::future::pending::<Result<(), TaskError>>().await
            });
            Err::<(), _>("body")
        })
        .await;
        assert!(matches!(res, Err(TaskError::Failed(e)) if e.to_string() == "body"));
        dropped.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn two_failures_in_one_poll_are_both_reported() {
    within(async {
        // Both tasks fail before the nursery polls its set again: the
        // second failure is joined after the first, and kept.
        let res: Result<(), TaskError> = open_task_nursery(async |tn| {
            tn.spawn(async { Err::<(), _>("first") });
            tn.spawn(async { Err::<(), _>("second") });
            let (tx, mut rx) = mpsc::unbounded_channel::<()>();
            // Let both run to completion before the body yields to the nursery.
            tn.spawn(async move {
                let _ = tx.send(());
                Ok::<(), TaskError>(())
            });
            let _ = rx.recv().await;
            std::future::pending::<()>().await;
            Ok::<(), TaskError>(())
        })
        .await;
        let errors = res.unwrap_err().into_errors();
        let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 2, "{texts:?}");
        assert!(
            texts[0].contains("first") && texts[1].contains("second"),
            "{texts:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn panic_is_an_error_with_its_message() {
    within(async {
        let res: Result<(), TaskError> = open_task_nursery(async |tn| {
            tn.spawn(async {
                panic!("kaboom {}", 7);
                #[allow(unreachable_code)]
                Ok::<(), TaskError>(())
            });
            Ok::<(), TaskError>(())
        })
        .await;
        match res {
            Err(TaskError::Panicked { message }) => assert_eq!(message, "kaboom 7"),
            other => panic!("expected a panic error, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn start_returns_the_started_value_and_task_keeps_running() {
    within(async {
        let (tx, rx) = oneshot::channel::<()>();
        let (done_tx, done_rx) = oneshot::channel::<u32>();
        open_task_nursery(async |tn| {
            let v = tn
                .start(|status| async move {
                    status.started(5u32);
                    let _ = rx.await;
                    let _ = done_tx.send(6);
                    Ok::<(), TaskError>(())
                })
                .await?;
            assert_eq!(v, 5);
            let _ = tx.send(());
            Ok::<(), TaskError>(())
        })
        .await
        .unwrap();
        assert_eq!(done_rx.await.unwrap(), 6);
    })
    .await;
}

#[tokio::test]
async fn start_failure_before_started_goes_to_start_not_the_nursery() {
    within(async {
        open_task_nursery(async |tn| {
            let r = tn
                .start(|_s: TaskStatus<u8>| async { Err::<(), _>("bind failed") })
                .await;
            assert!(matches!(&r, Err(TaskError::Failed(e)) if e.to_string() == "bind failed"));
            let r = tn
                .start(|_s: TaskStatus<u8>| async { Ok::<(), TaskError>(()) })
                .await;
            assert!(matches!(r, Err(TaskError::NeverStarted)));
            let r = tn
                .start(|_s: TaskStatus<u8>| async {
                    panic!("early");
                    #[allow(unreachable_code)]
                    Ok::<(), TaskError>(())
                })
                .await;
            assert!(matches!(&r, Err(TaskError::Panicked { message }) if message == "early"));
            Ok::<(), TaskError>(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn failure_after_started_fails_the_nursery() {
    within(async {
        let res: Result<(), TaskError> = open_task_nursery(async |tn| {
            tn.start(|s| async move {
                s.started(());
                Err::<(), _>("after start")
            })
            .await?;
            std::future::pending::<()>().await;
            Ok::<(), TaskError>(())
        })
        .await;
        assert!(res.unwrap_err().to_string().contains("after start"));
    })
    .await;
}

#[tokio::test]
async fn dropping_the_scope_aborts_and_joins_every_task() {
    within(async {
        let (guard_a, dropped_a) = drop_signal();
        let (guard_b, dropped_b) = drop_signal();
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<()>();
        let scope = open_task_nursery(async |tn| {
            for guard in [guard_a, guard_b] {
                let ready = ready_tx.clone();
                tn.spawn(async move {
                    let _guard = guard;
                    let _ = ready.send(());
                    std::future::pending::<Result<(), TaskError>>().await
                });
            }
            std::future::pending::<()>().await;
            Ok::<(), TaskError>(())
        });
        // Run the scope until both tasks are up, then drop it mid-way.
        tokio::select! {
            _ = scope => unreachable!("the scope never ends by itself"),
            _ = async { ready_rx.recv().await; ready_rx.recv().await } => {}
        }
        dropped_a.await.unwrap();
        dropped_b.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn cancel_aborts_tasks_and_returns_cancelled() {
    within(async {
        let (guard, dropped) = drop_signal();
        let res = open_task_nursery(async |tn| {
            let token = tn.cancel_token();
            tn.spawn(async move {
                let _guard = guard;
                std::future::pending::<Result<(), TaskError>>().await
            });
            tn.cancel();
            assert!(token.is_cancelled());
            std::future::pending::<()>().await;
            Ok::<(), TaskError>(())
        })
        .await;
        assert!(matches!(res, Err(TaskError::Cancelled)));
        dropped.await.unwrap();
    })
    .await;
}

#[test]
fn works_with_local_tasks_on_a_current_thread_runtime() {
    on_a_local_set(async {
        within(async {
            let shared = std::rc::Rc::new(std::cell::Cell::new(0));
            open_task_nursery(async |tn| {
                for _ in 0..3 {
                    let shared = shared.clone();
                    tn.spawn_local(async move {
                        tokio::task::yield_now().await;
                        shared.set(shared.get() + 1);
                        Ok::<(), TaskError>(())
                    });
                }
                tn.spawn(async { Ok::<(), TaskError>(()) });
                Ok::<(), TaskError>(())
            })
            .await
            .unwrap();
            assert_eq!(shared.get(), 3);
        })
        .await;
    });
}

#[tokio::test]
async fn deadlines_cancel_work() {
    within(async {
        use crate::trionics::{CancelScope, Elapsed, fail_after, move_on_after};
        let (guard, dropped) = drop_signal();
        let r = move_on_after(Duration::from_millis(20), async move {
            let _guard = guard;
            std::future::pending::<()>().await
        })
        .await;
        assert_eq!(r, None);
        dropped.await.unwrap();
        let after = Duration::from_millis(10);
        assert_eq!(
            fail_after(after, std::future::pending::<()>()).await,
            Err(Elapsed { after })
        );
        assert_eq!(fail_after(DEADLINE, async { 3 }).await, Ok(3));

        // A scope tied to a nursery ends when the nursery cancels.
        let res = open_task_nursery(async |tn| {
            let scope = CancelScope::child_of(&tn.cancel_token());
            let (tx, rx) = oneshot::channel();
            tn.spawn(async move {
                let _ = rx.await;
                Err::<(), _>("stop")
            });
            let r = scope
                .run(async {
                    let _ = tx.send(());
                    std::future::pending::<()>().await
                })
                .await;
            assert_eq!(r, None);
            Ok::<(), TaskError>(())
        })
        .await;
        assert!(res.is_err());

        // Moving a deadline earlier while running takes effect.
        let scope = CancelScope::with_timeout(DEADLINE);
        let s2 = scope.clone();
        let r = scope
            .run(async move {
                s2.set_deadline(tokio::time::Instant::now());
                std::future::pending::<()>().await
            })
            .await;
        assert_eq!(r, None);
        assert!(scope.cancelled_caught());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_spawns_siblings_that_are_joined_too() {
    within(async {
        let count = Arc::new(AtomicUsize::new(0));
        let kept = Arc::new(std::sync::Mutex::new(None));
        open_task_nursery(async |tn| {
            let (siblings, count, kept) = (tn.clone(), count.clone(), kept.clone());
            tn.spawn(async move {
                // The body has returned by now, or soon: the nursery still
                // joins what this task spawns, after a yield.
                for _ in 0..5 {
                    let count = count.clone();
                    siblings.spawn(async move {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        count.fetch_add(1, Ordering::SeqCst);
                        Ok::<(), TaskError>(())
                    });
                }
                *kept.lock().unwrap() = Some(siblings);
                Ok::<(), TaskError>(())
            });
            Ok::<(), TaskError>(())
        })
        .await
        .unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 5, "every sibling was joined");
        // A clone kept past the nursery's end spawns nothing: the task is
        // dropped unrun (its sender dropped, never sent on).
        let late = kept.lock().unwrap().take().expect("the clone was kept");
        let (ran_tx, ran) = oneshot::channel::<()>();
        late.spawn(async move {
            let _ = ran_tx.send(());
            Ok::<(), TaskError>(())
        });
        assert!(ran.await.is_err(), "a task spawned after the end ran");
    })
    .await;
}

#[tokio::test]
async fn a_sibling_spawned_by_a_task_fails_the_nursery() {
    within(async {
        let res = open_task_nursery(async |tn| {
            let siblings = tn.clone();
            tn.spawn(async move {
                siblings.spawn(async { Err::<(), _>("sibling broke") });
                std::future::pending::<()>().await;
                Ok::<(), TaskError>(())
            });
            Ok::<(), TaskError>(())
        })
        .await;
        assert!(
            matches!(&res, Err(TaskError::Failed(e)) if e.to_string() == "sibling broke"),
            "{res:?}"
        );
    })
    .await;
}

#[test]
fn start_local_reports_a_not_send_value() {
    on_a_local_set(async {
        within(async {
            let res = open_task_nursery(async |tn| {
                let rc = tn
                    .start_local(|status| async move {
                        status.started(std::rc::Rc::new(3));
                        Ok::<(), TaskError>(())
                    })
                    .await?;
                assert_eq!(*rc, 3);
                let early = tn
                    .start_local(|_status: TaskStatus<()>| async { Err::<(), _>("no port") })
                    .await;
                assert!(matches!(early, Err(TaskError::Failed(_))), "{early:?}");
                Ok::<(), TaskError>(())
            })
            .await;
            assert!(res.is_ok(), "{res:?}");
        })
        .await;
    });
}

//! The bodies of `#[tractor::main]` and `#[tractor::test]`.

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

use crate::devx::survivors;

use super::init;

/// What a `#[tractor::test]` tells the root actor it opens: how children
/// re-run this test binary, and the tree marker for the survivor check.
#[derive(Clone, Debug)]
pub(crate) struct TestEnv {
    pub tree_id: String,
    pub exec_args: Vec<String>,
    /// The backend the test asked for (`#[tractor::test(spawn_method = ..)]`).
    pub spawn_method: Option<crate::SpawnMethod>,
}

thread_local! {
    static TEST_ENV: RefCell<Option<TestEnv>> = const { RefCell::new(None) };
}

pub(crate) fn test_env() -> Option<TestEnv> {
    TEST_ENV.with(|t| t.borrow().clone())
}

fn build_runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tractor: cannot build the tokio runtime: {e}");
            std::process::exit(70);
        }
    }
}

/// The body of `#[tractor::main]`: child mode, or the root on a
/// current-thread runtime.
///
/// `main`'s value is reported the usual way (an `Err` is printed, exit
/// status 1); a failure because a root was interrupted by a signal exits
/// with the shell's convention instead: 130 for SIGINT, 143 for SIGTERM.
pub fn run_main<T, F>(fut: F) -> std::process::ExitCode
where
    T: std::process::Termination,
    F: Future<Output = T>,
{
    init();
    let code = build_runtime().block_on(fut).report();
    match crate::runtime::interrupt::interrupted_by() {
        Some(signal) if code != std::process::ExitCode::SUCCESS => {
            std::process::ExitCode::from(signal.exit_code())
        }
        _ => code,
    }
}

/// The body of `#[tractor::test]`.
///
/// In the parent: runs the test on a fresh current-thread runtime with a
/// deadline, then fails the test if any process of its tree survived it.
/// In a child (the test binary re-run with `--exact <this test>`): serves
/// as the child actor instead.
pub fn run_test<F: Future>(
    test_path: &str,
    deadline: Duration,
    spawn_method: Option<crate::SpawnMethod>,
    fut: F,
) -> F::Output {
    init();
    let name = test_path
        .split_once("::")
        .map_or(test_path, |(_krate, rest)| rest);
    let tree_id = format!("test-{}", uuid::Uuid::new_v4().simple());
    let env = TestEnv {
        tree_id: tree_id.clone(),
        exec_args: vec![
            name.to_string(),
            "--exact".into(),
            "--nocapture".into(),
            "--test-threads=1".into(),
        ],
        spawn_method,
    };
    let prev = TEST_ENV.with(|t| t.replace(Some(env)));
    let rt = build_runtime();
    // On the heap: a test's future nests every scope it opens, and the
    // test thread's stack is only 2 MiB.
    let fut = Box::pin(fut);
    let out = rt.block_on(async { tokio::time::timeout(deadline, fut).await });
    rt.shutdown_timeout(Duration::from_secs(1));
    TEST_ENV.with(|t| *t.borrow_mut() = prev);
    let left = survivors::wait_gone(&tree_id, Duration::from_secs(3));
    if !left.is_empty() {
        let what = survivors::describe(&left);
        kill_all(&left);
        panic!("actor processes survived test `{name}`: {what}");
    }
    let threads = survivors::wait_threads_gone(&tree_id, Duration::from_secs(3));
    if threads > 0 {
        panic!("{threads} thread actor(s) of test `{name}` were still running 3 s after it");
    }
    match out {
        Ok(v) => v,
        Err(_) => panic!("test `{name}` passed its {deadline:?} deadline"),
    }
}

fn kill_all(pids: &[u32]) {
    for &p in pids {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(p as libc::pid_t, libc::SIGKILL);
        }
    }
}

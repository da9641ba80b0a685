//! `kill -9` of the root of a 3-level tree: every descendant dies within
//! 2 s (parent-death signal at each level), no orphan survives.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::{self, MODULE};

/// Set when the suite runs `tree_root` as a separate root process to kill.
const HOLD_ENV: &str = "SUITE_HOLD_TREE";

/// Child side: spawns a grandchild and reports both pids; with `hold`,
/// prints them and never returns.
#[tractor::endpoint]
async fn hold_tree(hold: bool) -> Result<(u32, u32), tractor::Error> {
    tractor::open_nursery(async |an| {
        let gc = an
            .start_actor("grandchild")
            .enable_modules([MODULE])
            .await?;
        let gc_pid = gc.run(common::pid::call()).await?;
        if hold {
            println!("GRANDCHILD {gc_pid}");
            std::future::pending::<()>().await;
        }
        gc.cancel_actor().await?;
        Ok((std::process::id(), gc_pid))
    })
    .await
}

/// A 3-level tree (root → child → grandchild). Run by the suite normally it
/// spawns and tears down; run by `kill9_root_kills_the_tree` with
/// `SUITE_HOLD_TREE=1` it holds the tree open to be killed.
#[tractor::test]
async fn tree_root() {
    let hold = std::env::var_os(HOLD_ENV).is_some();
    let (child, grandchild) = tractor::open_nursery(async |an| {
        if hold {
            println!("TREE {}", common::tree_id());
        }
        let c = an.run_in_actor(hold_tree::call(hold)).name("child").await?;
        c.wait_for_result().await
    })
    .await
    .unwrap();
    assert!(child != grandchild && child != std::process::id());
}

#[tractor::test]
async fn kill9_root_kills_the_tree() {
    // The root itself is not marked; its child and grandchild are.
    kill9_root_on("exec", 2).await
}

/// A forked child and grandchild, and the forkserver that forked both.
/// The grandchild's pid comes from the child's `println!`: a forked
/// child's stdout is the program's.
#[tractor::test]
async fn kill9_root_kills_the_forkserver_tree() {
    kill9_root_on("forkserver", 3).await
}

#[test]
fn kill9_root_kills_the_thread_tree() {
    eprintln!(
        "skipped on the `thread` backend: a thread tree is one process, killed whole with its root"
    );
}

/// Holds a 3-level tree spawned with backend `method` in a root process,
/// SIGKILLs the root, and checks that the `marked` processes of its tree
/// it found up before are gone within 2 s.
async fn kill9_root_on(method: &str, marked: usize) {
    let exe = std::env::current_exe().unwrap();
    let mut root = tokio::process::Command::new(exe)
        .args([
            "kill9::tree_root",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLD_ENV, "1")
        .env("TRACTOR_SPAWN_METHOD", method)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(root.stdout.take().unwrap()).lines();
    let (mut tree, mut grandchild) = (None, None);
    while tree.is_none() || grandchild.is_none() {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the tree came up")
            .unwrap()
            .expect("the root printed its tree");
        // The test harness may print on the same line first.
        if let Some(i) = line.find("TREE ") {
            tree = Some(line[i + 5..].trim().to_string());
        } else if let Some(i) = line.find("GRANDCHILD ") {
            grandchild = Some(line[i + 11..].trim().parse::<u32>().unwrap());
        }
    }
    let tree = tree.unwrap();
    let before = tractor::testing::survivors(&tree);
    assert_eq!(
        before.len(),
        marked,
        "the tree's processes are up ({method}): {}",
        tractor::testing::describe(&before)
    );
    assert!(before.contains(&grandchild.unwrap()));
    root.start_kill().unwrap();
    root.wait().await.unwrap();
    let left = tractor::testing::wait_gone_async(&tree, Duration::from_secs(2)).await;
    assert!(
        left.is_empty(),
        "descendants outlived a SIGKILLed root: {}",
        tractor::testing::describe(&left)
    );
}

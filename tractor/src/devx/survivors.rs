//! Finding actor processes that outlived their tree.
//!
//! Every process of a tree carries `TRACTOR_TREE=<id>` in its environment
//! (set at spawn, inherited down the tree), so a test can find exactly the
//! processes its own tree left behind, grandchildren included, even when
//! other tests run beside it. Zombies have no readable environment; they are
//! found as this process's children of that tree that were never reaped.

use std::time::{Duration, Instant};

/// Pids of live processes marked with `tree_id`, and zombie children of
/// this process.
///
/// ```
/// // A tree that never ran left nothing behind.
/// assert!(tractor::testing::survivors("no-such-tree").is_empty());
/// ```
pub fn survivors(tree_id: &str) -> Vec<u32> {
    let me = std::process::id();
    let needle = format!("{}={tree_id}\0", crate::spawn::env::TREE);
    let mut found = Vec::new();
    let own_zombies = crate::spawn::unreaped(tree_id);
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for ent in dir.flatten() {
        let Some(pid) = ent.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let (state, ppid) = parse_stat(&stat);
        if state == Some('Z') {
            if ppid == Some(me) && own_zombies.contains(&pid) {
                found.push(pid);
            }
            continue;
        }
        if let Ok(env) = std::fs::read(format!("/proc/{pid}/environ"))
            && contains(&env, needle.as_bytes())
        {
            found.push(pid);
        }
    }
    found
}

fn parse_stat(stat: &str) -> (Option<char>, Option<u32>) {
    let Some(i) = stat.rfind(')') else {
        return (None, None);
    };
    let mut f = stat[i + 1..].split_whitespace();
    let state = f.next().and_then(|s| s.chars().next());
    let ppid = f.next().and_then(|s| s.parse().ok());
    (state, ppid)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    // environ entries are NUL-separated; match a whole entry.
    hay.split(|&b| b == 0)
        .any(|entry| entry.len() + 1 == needle.len() && needle.starts_with(entry))
}

/// Waits up to `within` for every process of `tree_id` to be gone and
/// returns the ones still alive then (empty means none survived).
///
/// Polls a condition with a deadline: processes killed by the parent-death
/// signal vanish asynchronously, a few milliseconds after their parent.
///
/// ```no_run
/// use std::time::Duration;
/// use tractor::testing::{describe, wait_gone};
///
/// fn main() -> Result<(), tractor::Error> {
///     tractor::init(); // first thing: this binary also runs the children
///     let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
///     // Remember the tree's id while it runs, check it once the tree is gone.
///     let tree = rt.block_on(tractor::open_nursery(async |an| {
///         an.start_actor("worker").await?.cancel_actor().await?;
///         Ok(tractor::runtime_vars()?.tree_id)
///     }))?;
///     let left = wait_gone(&tree, Duration::from_secs(2));
///     assert!(left.is_empty(), "survivors: {}", describe(&left));
///     Ok(())
/// }
/// ```
pub fn wait_gone(tree_id: &str, within: Duration) -> Vec<u32> {
    let deadline = Instant::now() + within;
    loop {
        let left = survivors(tree_id);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// [`wait_gone`] for async code: polls without blocking the runtime, so
/// the actor's own supervisors keep reaping meanwhile.
///
/// ```no_run
/// # async fn demo(an: &tractor::ActorNursery) -> Result<(), tractor::Error> {
/// use std::time::Duration;
/// let tree = tractor::runtime_vars()?.tree_id;
/// an.start_actor("victim").await?.cancel_actor().await?;
/// // Still inside the tree: only the root itself should be left.
/// let left = tractor::testing::wait_gone_async(&tree, Duration::from_secs(2)).await;
/// assert!(left.is_empty(), "{}", tractor::testing::describe(&left));
/// # Ok(()) }
/// ```
pub async fn wait_gone_async(tree_id: &str, within: Duration) -> Vec<u32> {
    let deadline = Instant::now() + within;
    loop {
        let left = survivors(tree_id);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A description of each pid, for failure messages.
///
/// ```
/// let me = std::process::id();
/// // "<pid> (<command line>)", comma-separated.
/// assert!(tractor::testing::describe(&[me]).starts_with(&format!("{me} (")));
/// ```
pub fn describe(pids: &[u32]) -> String {
    pids.iter()
        .map(|p| {
            let cmd = std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default();
            format!("{p} ({})", cmd.trim())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Waits up to `within` for every thread actor of `tree_id` to end;
/// how many still run then (a thread is no process: [`survivors`] cannot
/// see it).
pub(crate) fn wait_threads_gone(tree_id: &str, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let n = crate::spawn::thread::live(tree_id);
        if n == 0 || Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

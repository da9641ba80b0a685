//! Resource use and exhaustion: fds held per child, the open-file limit
//! raised at boot, and a tree that runs out of fds failing spawns with an
//! error naming the cause instead of spinning.

use tractor::TransportKind;

use crate::common::{MODULE, in_nursery};
use crate::isolated;

/// Daemons spawned to measure the fds their parent holds per child.
const CHILDREN: usize = 32;
/// The most fds a parent may hold per live child: its channel to it.
const FDS_PER_CHILD: usize = 1;

#[tractor::test(timeout = 120)]
async fn parent_holds_at_most_one_fd_per_child() {
    if isolated::active() {
        return fds_per_child_body().await;
    }
    let out = isolated::run("resources::parent_holds_at_most_one_fd_per_child", None).await;
    let before = isolated::figure(&out, "FDS_BEFORE");
    let live = isolated::figure(&out, "FDS_LIVE");
    let after = isolated::figure(&out, "FDS_AFTER");
    let per_child = (live - before) as f64 / CHILDREN as f64;
    println!(
        "fds: {before} before, {live} with {CHILDREN} children ({per_child:.2} per child), {after} after reaping"
    );
    assert!(
        live - before <= (CHILDREN * FDS_PER_CHILD) as u64,
        "the parent holds {per_child:.2} fds per child; at most {FDS_PER_CHILD} expected"
    );
    assert!(
        after <= before + 2,
        "fds not released after reaping: {before} -> {after}"
    );
}

/// The isolated run of [`parent_holds_at_most_one_fd_per_child`]: prints
/// the figures the outer run checks.
async fn fds_per_child_body() {
    in_nursery(TransportKind::Tcp, async |an| {
        let before = isolated::open_fds();
        let mut portals = Vec::new();
        for i in 0..CHILDREN {
            portals.push(
                an.start_actor(format!("fd{i}"))
                    .enable_modules([MODULE])
                    .await?,
            );
        }
        let live = isolated::open_fds();
        an.cancel().await;
        drop(portals);
        // The children are reaped; their channels' sockets close as each
        // message loop sees its peer gone, a moment later.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let mut after = isolated::open_fds();
        while after > before + 2 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            after = isolated::open_fds();
        }
        println!("FDS_BEFORE {before}\nFDS_LIVE {live}\nFDS_AFTER {after}");
        Ok(())
    })
    .await
    .expect("spawn and reap the daemons");
}

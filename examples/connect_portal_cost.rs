//! What repeated `connect_portal` calls cost: `cargo run --example
//! connect_portal_cost [N]` dials one daemon N times (default 1,000),
//! keeping every portal, and prints the fds and resident memory of the
//! dialer and the dialed actor before, with every portal open, and after
//! they are dropped. Twice: from the root to its own child, and from one
//! daemon to a sibling (a channel only those portals use).

use std::cell::RefCell;
use std::time::Duration;

use tractor::{Addr, Error};

thread_local! {
    /// Portals an actor keeps open until told to drop them.
    static KEPT: RefCell<Vec<tractor::Portal>> = const { RefCell::new(Vec::new()) };
}

/// This process's open fds and resident memory (KiB).
fn usage() -> (u64, u64) {
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
    let rss = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    (fds, rss)
}

/// This actor's usage.
#[tractor::endpoint]
async fn stats() -> (u64, u64) {
    usage()
}

/// Dials `addr` `n` times, calling through each portal and keeping it.
#[tractor::endpoint]
async fn dial(addr: String, n: u32) -> Result<(), Error> {
    let addr: Addr = addr.parse().map_err(|e| Error::custom(format!("{e}")))?;
    for _ in 0..n {
        let p = tractor::connect_portal(&addr).await?;
        p.run(stats::call()).await?;
        KEPT.with(|k| k.borrow_mut().push(p));
    }
    Ok(())
}

/// Drops the kept portals.
#[tractor::endpoint]
async fn release() {
    KEPT.with(|k| k.borrow_mut().clear());
}

fn show(what: &str, before: (u64, u64), during: (u64, u64), after: (u64, u64)) {
    println!(
        "  {what}: fds {} -> {} -> {}, RSS {} -> {} -> {} KiB",
        before.0, during.0, after.0, before.1, during.1, after.1
    );
}

#[tractor::main]
async fn main() -> Result<(), Error> {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    tractor::open_nursery(async |an| {
        let a = an
            .start_actor("dialer")
            .enable_modules([module_path!()])
            .await?;
        let b = an
            .start_actor("dialed")
            .enable_modules([module_path!()])
            .await?;
        let b_addr = b.run(accept_addr::call()).await?;
        let settle = || tokio::time::sleep(Duration::from_millis(300));

        println!(
            "{n} connect_portal calls from the root to its child (before, all open, dropped):"
        );
        let (r0, b0) = (usage(), b.run(stats::call()).await?);
        let child_addr: Addr = b_addr.parse().map_err(|e| Error::custom(format!("{e}")))?;
        let mut kept = Vec::new();
        for _ in 0..n {
            let p = tractor::connect_portal(&child_addr).await?;
            p.run(stats::call()).await?;
            kept.push(p);
        }
        let (r1, b1) = (usage(), b.run(stats::call()).await?);
        drop(kept);
        settle().await;
        let (r2, b2) = (usage(), b.run(stats::call()).await?);
        show("root (dialer)", r0, r1, r2);
        show("child (dialed)", b0, b1, b2);

        println!(
            "{n} connect_portal calls from a daemon to its sibling (before, all open, dropped):"
        );
        let (a0, b0) = (a.run(stats::call()).await?, b.run(stats::call()).await?);
        a.run(dial::call(b_addr.clone(), n)).await?;
        let (a1, b1) = (a.run(stats::call()).await?, b.run(stats::call()).await?);
        a.run(release::call()).await?;
        settle().await;
        let (a2, b2) = (a.run(stats::call()).await?, b.run(stats::call()).await?);
        show("daemon (dialer)", a0, a1, a2);
        show("sibling (dialed)", b0, b1, b2);
        an.cancel().await;
        Ok(())
    })
    .await
}

/// This actor's listen address.
#[tractor::endpoint]
async fn accept_addr() -> Result<String, Error> {
    Ok(tractor::current_actor()?.accept_addr().to_string())
}

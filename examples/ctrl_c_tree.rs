//! Ctrl-C a running tree: `cargo run --example ctrl_c_tree`, wait for
//! "tree up", press ctrl-c.
//!
//! The root streams from two relays, each relaying two leaves: seven
//! processes, six live streams. The first ctrl-c (SIGINT, or SIGTERM) cancels
//! the whole tree from the root: every actor's task is cancelled (its
//! `Drop` runs), every actor's exit cleanups run, every process is reaped,
//! and the program exits with status 130 (143 for SIGTERM). A second ctrl-c
//! during that teardown kills the tree at once.
//!
//! `SLOW_CLEANUP_IN=<actor name>` makes that actor's task block its thread
//! for 30 s while it is cancelled, so the graceful teardown takes seconds:
//! the case a second ctrl-c is for. `CTRL_C_TREE_MODE=daemons` starts two
//! idle daemons instead and leaves the nursery waiting on them, the way a
//! service runs until it is stopped. `CTRL_C_TREE_TRANSPORT=uds` runs the
//! tree over unix sockets instead of TCP (its registry address must then
//! be a unix socket too: `TRACTOR_REGISTRY_ADDR=uds:///path/reg.sock`).

use std::time::Duration;

use tractor::{Context, Error};

/// Says on stdout when the task holding it is dropped (cancelled).
struct OnDrop(String);

impl Drop for OnDrop {
    fn drop(&mut self) {
        println!("task of {} dropped", self.0);
        if std::env::var("SLOW_CLEANUP_IN").as_deref() == Ok(self.0.as_str()) {
            println!("{} blocks its thread while cancelled", self.0);
            std::thread::sleep(Duration::from_secs(30));
        }
    }
}

/// Registers the actor's exit cleanup and the guard of its task.
fn announce() -> Result<OnDrop, Error> {
    let me = tractor::current_actor()?;
    let name = me.name().to_string();
    let cleanup_name = name.clone();
    me.on_exit(move || println!("cleanup ran in {cleanup_name}"))?;
    Ok(OnDrop(name))
}

/// A leaf: streams a counter to its relay, forever.
#[tractor::context]
async fn leaf(ctx: Context<Vec<(String, u32)>, u64, ()>) -> Result<(), Error> {
    let _guard = announce()?;
    let me = tractor::current_actor()?;
    ctx.started(vec![(me.name().to_string(), me.aid().pid)])
        .await?;
    let stream = ctx.open_stream()?;
    for n in 0u64.. {
        stream.send(n).await?;
        // Pacing, so seven processes do not saturate the machine.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

/// A relay: spawns two leaves and forwards both streams up, forever.
#[tractor::context]
async fn relay(ctx: Context<Vec<(String, u32)>, u64, ()>) -> Result<(), Error> {
    let _guard = announce()?;
    let me = tractor::current_actor()?;
    let name = me.name().to_string();
    tractor::open_nursery(async |an| {
        let a = an
            .start_actor(format!("{name}_leaf_a"))
            .enable_modules([module_path!()])
            .await?;
        let b = an
            .start_actor(format!("{name}_leaf_b"))
            .enable_modules([module_path!()])
            .await?;
        a.open_context(leaf::call(), async |ca, pids_a| {
            b.open_context(leaf::call(), async |cb, pids_b| {
                let mut pids = vec![(name.clone(), me.aid().pid)];
                pids.extend(pids_a);
                pids.extend(pids_b);
                ctx.started(pids).await?;
                let up = ctx.open_stream()?;
                let (sa, sb) = (ca.open_stream()?, cb.open_stream()?);
                loop {
                    let n = tokio::select! {
                        n = sa.recv() => n?,
                        n = sb.recv() => n?,
                    };
                    let Some(n) = n else { return Ok(()) };
                    up.send(n).await?;
                }
            })
            .await
        })
        .await
    })
    .await
}

/// Registers this actor's exit cleanup (for an idle daemon).
#[tractor::endpoint]
async fn register_cleanup() -> Result<u32, Error> {
    let me = tractor::current_actor()?;
    let name = me.name().to_string();
    me.on_exit(move || println!("cleanup ran in {name}"))?;
    Ok(me.aid().pid)
}

/// Two idle daemons; the nursery waits on them until interrupted.
async fn wait_on_daemons() -> Result<(), Error> {
    tractor::open_nursery(async |an| {
        let me = tractor::current_actor()?;
        let name = me.name().to_string();
        me.on_exit(move || println!("cleanup ran in {name}"))?;
        println!("actor root {}", std::process::id());
        for name in ["daemon_0", "daemon_1"] {
            let d = an
                .start_actor(name)
                .enable_modules([module_path!()])
                .await?;
            let pid = d.run(register_cleanup::call()).await?;
            println!("actor {name} {pid}");
        }
        println!("tree up: the nursery waits on 2 daemons; press ctrl-c");
        Ok(())
    })
    .await
}

#[tractor::main]
async fn main() -> Result<(), Error> {
    let transport = match std::env::var("CTRL_C_TREE_TRANSPORT").as_deref() {
        Ok("uds") => tractor::TransportKind::Uds,
        _ => tractor::TransportKind::Tcp,
    };
    let cfg = tractor::RootConfig::new("root").transport(transport);
    tractor::open_root_actor(cfg, async || {
        if std::env::var("CTRL_C_TREE_MODE").as_deref() == Ok("daemons") {
            return wait_on_daemons().await;
        }
        stream_tree().await
    })
    .await
}

/// The root's nursery: two relays, each streaming from two leaves.
async fn stream_tree() -> Result<(), Error> {
    tractor::open_nursery(async |an| {
        let _guard = announce()?;
        println!("actor root {}", std::process::id());
        let r0 = an
            .start_actor("relay_0")
            .enable_modules([module_path!()])
            .await?;
        let r1 = an
            .start_actor("relay_1")
            .enable_modules([module_path!()])
            .await?;
        r0.open_context(relay::call(), async |c0, pids0| {
            r1.open_context(relay::call(), async |c1, pids1| {
                for (name, pid) in pids0.iter().chain(&pids1) {
                    println!("actor {name} {pid}");
                }
                let (s0, s1) = (c0.open_stream()?, c1.open_stream()?);
                let mut seen = 0u64;
                loop {
                    let n = tokio::select! {
                        n = s0.recv() => n?,
                        n = s1.recv() => n?,
                    };
                    if n.is_none() {
                        return Ok(());
                    }
                    seen += 1;
                    if seen == 100 {
                        println!("tree up: 7 actors, 6 live streams; press ctrl-c");
                    }
                }
            })
            .await
        })
        .await
    })
    .await
}

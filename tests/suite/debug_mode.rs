//! Debug mode reaches the whole tree: set on the root, every descendant
//! has it; set on one child, that child's subtree has it and its siblings
//! do not; `TRACTOR_DEBUG_MODE` turns it on (or off) without recompiling,
//! and a value that is not a switch is a typed configuration error.

use tractor::error::ConfigError;
use tractor::{Error, RootConfig, TransportKind};

use crate::both_transports;
use crate::isolated;

const MODULE: &str = module_path!();
const ENV: &str = "TRACTOR_DEBUG_MODE";

both_transports!(
    root_debug_mode_reaches_every_descendant,
    a_childs_debug_mode_is_its_subtree_only,
    pause_outside_debug_mode_does_nothing
);

/// Whether this actor runs in debug mode.
#[tractor::endpoint]
async fn debug_mode_here() -> Result<bool, Error> {
    Ok(tractor::runtime_vars()?.debug_mode)
}

/// This actor's debug mode and its own child's.
#[tractor::endpoint]
async fn here_and_below() -> Result<(bool, bool), Error> {
    let here = tractor::runtime_vars()?.debug_mode;
    let below = tractor::open_nursery(async |an| {
        let kid = an
            .start_actor("grandchild")
            .enable_modules([MODULE])
            .await?;
        let below = kid.run(debug_mode_here::call()).await?;
        kid.cancel_actor().await?;
        Ok(below)
    })
    .await?;
    Ok((here, below))
}

/// Root in debug mode or not; what two children (one given debug mode on
/// its own) and their children report.
async fn tree(t: TransportKind, root_on: bool) -> Result<[(bool, bool); 2], Error> {
    let cfg = RootConfig::new("root").transport(t).debug_mode(root_on);
    tractor::open_root_actor(cfg, async || {
        tractor::open_nursery(async |an| {
            let plain = an.start_actor("plain").enable_modules([MODULE]).await?;
            let debugged = an
                .start_actor("debugged")
                .enable_modules([MODULE])
                .debug_mode(true)
                .await?;
            let a = plain.run(here_and_below::call()).await?;
            let b = debugged.run(here_and_below::call()).await?;
            an.cancel().await;
            Ok([a, b])
        })
        .await
    })
    .await
}

/// What the two children and their children should report for a root
/// configured with `root_on`: the tree-wide switch (which
/// `TRACTOR_DEBUG_MODE`, when whoever runs the suite sets it, overrides)
/// for the plain child's subtree; always on for the child given it.
fn expected(root_on: bool) -> [(bool, bool); 2] {
    let root = match std::env::var(ENV).as_deref() {
        Ok("1" | "true" | "on" | "yes") => true,
        Ok("0" | "false" | "off" | "no") => false,
        _ => root_on,
    };
    [(root, root), (true, true)]
}

async fn root_debug_mode_reaches_every_descendant(t: TransportKind) {
    assert_eq!(tree(t, true).await.unwrap(), expected(true));
}

async fn a_childs_debug_mode_is_its_subtree_only(t: TransportKind) {
    assert_eq!(tree(t, false).await.unwrap(), expected(false));
}

/// Pauses (with values to show), then answers.
#[tractor::endpoint]
async fn pause_then_answer(x: u32) -> Result<u32, Error> {
    tractor::pause!(x).await?;
    tractor::pause!().await?;
    Ok(x + 1)
}

/// Outside debug mode `pause!()` returns at once (a warning is logged),
/// in a child and in the root: a forgotten pause cannot wedge a tree.
async fn pause_outside_debug_mode_does_nothing(t: TransportKind) {
    if expected(false)[0].0 {
        // Whoever runs the suite turned debug mode on for every tree:
        // a pause here would open a REPL (the pty tests cover that).
        return;
    }
    let cfg = RootConfig::new("root").transport(t).debug_mode(false);
    let got = tractor::open_root_actor(cfg, async || {
        tractor::pause!().await?;
        tractor::open_nursery(async |an| {
            let p = an.start_actor("pauser").enable_modules([MODULE]).await?;
            let got = p.run(pause_then_answer::call(41)).await?;
            an.cancel().await;
            Ok(got)
        })
        .await
    })
    .await
    .unwrap();
    assert_eq!(got, 42);
}

/// In its isolated run (with the variable set), prints what the tree saw.
async fn env_body() -> Result<(), Error> {
    match tree(TransportKind::Tcp, false).await {
        Ok([a, b]) => println!("TREE {} {} {} {}", a.0, a.1, b.0, b.1),
        Err(Error::Config(ConfigError::DebugModeEnv { value })) => {
            println!("REFUSED {value}")
        }
        Err(e) => println!("FAILED {e}"),
    }
    Ok(())
}

/// `TRACTOR_DEBUG_MODE=1` turns debug mode on for a root configured
/// without it, and so for its whole tree; `=0` sets the tree-wide switch
/// off (a child given debug mode on its own keeps it); a value that is no
/// switch is refused with a typed error. Each runs in a process of its
/// own, since the variable is process-wide.
#[tractor::test]
async fn the_environment_turns_debug_mode_on_without_recompiling() {
    if isolated::active() {
        return env_body().await.unwrap();
    }
    let path = "debug_mode::the_environment_turns_debug_mode_on_without_recompiling";
    for (value, expect) in [
        ("1", "TREE true true true true"),
        ("on", "TREE true true true true"),
        ("0", "TREE false false true true"),
        ("maybe", "REFUSED maybe"),
    ] {
        let out = isolated::run_with(path, &[(ENV, value)]).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.lines().any(|l| l.ends_with(expect)),
            "{ENV}={value}: expected `{expect}`; got:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

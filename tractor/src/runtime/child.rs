//! Child mode: what a re-executed binary does instead of its own `main`
//! when its parent spawned it as an actor.

use std::time::Duration;

use super::actor::{ActorRuntime, RuntimeParams};
use super::current::ThreadActorGuard;
use crate::ipc::{Aid, Channel, Limits, Msg};
use crate::spawn::{BootExit, ChildEnv, proctitle};

/// Runs this process as the child actor described by `env` and exits.
pub(crate) fn run_child(env: ChildEnv) -> ! {
    // Grandchildren re-run this binary the way we were run; read the args
    // before the process title overwrites them.
    let exec_args: Vec<String> = std::env::args().skip(1).collect();
    let pid = std::process::id();
    proctitle::set_title(&proctitle::subactor_title(&env.name, pid));
    // Ctrl-C at a terminal reaches the whole process group; the root turns
    // it into a graceful cancel of the tree, so children leave it to the root.
    // SAFETY: setting a signal disposition to SIG_IGN is always sound.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "tractor child {}: cannot build a tokio runtime: {e}",
                env.name
            );
            BootExit::NoRuntime.for_error(&e).exit();
        }
    };
    let local = tokio::task::LocalSet::new();
    let code = runtime.block_on(local.run_until(child_main(env, exec_args)));
    drop(local);
    runtime.shutdown_timeout(Duration::from_millis(100));
    std::process::exit(code)
}

async fn child_main(env: ChildEnv, exec_args: Vec<String>) -> i32 {
    let aid = Aid {
        name: env.name.clone(),
        uuid: env.uuid,
        pid: std::process::id(),
    };
    let (chan, mut reader) =
        match Channel::connect(&env.parent_addr, &aid, &env.secret, &Limits::default()).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("tractor child {aid}: cannot reach parent: {e}");
                return BootExit::NoParent.for_error(&e) as i32;
            }
        };
    let spec = match reader.recv().await {
        Ok(Some(Msg::SpawnSpec(s))) => s,
        other => {
            eprintln!("tractor child {aid}: expected a SpawnSpec from the parent, got {other:?}");
            return BootExit::NoSpawnSpec as i32;
        }
    };
    let loglevel = crate::devx::log::init(spec.loglevel.as_deref());
    let params = RuntimeParams {
        aid,
        is_root: false,
        transport: spec.transport,
        bind_addr: None,
        loglevel,
        registry_addrs: spec.registry_addrs,
        debug_mode: spec.debug_mode,
        limits: spec.limits,
        tree_id: env.tree_id,
        is_registrar: false,
        exec_args,
        enable_modules: spec.enable_modules,
        cancel_timeout: Duration::from_millis(500),
        heartbeat: crate::ipc::Heartbeat::effective(
            spec.heartbeat_ms.map(crate::ipc::Heartbeat::from_millis),
        ),
        secret: env.secret.clone(),
    };
    let rt = match ActorRuntime::boot(params).await {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tractor child {}: boot failed: {e}", env.name);
            chan.close();
            return BootExit::BootFailed.for_error(&e) as i32;
        }
    };
    let _thread = ThreadActorGuard::set(rt.clone());
    let parent = rt.adopt(chan, reader);
    // Ours for good, and shared by portals to the parent's address.
    parent.share.hold();
    rt.note_addr(&env.parent_addr, &parent);
    let _ = rt.parent.set(parent.clone());
    let register = crate::discovery::register_self(&rt, Some((&env.parent_addr, &parent)));
    super::current::scope(rt.clone(), register).await;
    // SIGTERM becomes a graceful self-cancel (so the teardown, and with it
    // the lifetime stack, runs). The handler is installed before `Ready`:
    // from then on the parent may send SIGTERM, and the default action
    // would kill us without cleaning up.
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            let rt2 = rt.clone();
            tokio::task::spawn_local(async move {
                if term.recv().await.is_some() {
                    tracing::info!(target: "tractor::cancel", "SIGTERM: cancelling self");
                    rt2.request_cancel(None);
                }
            });
        }
        Err(e) => {
            tracing::warn!(target: "tractor::cancel", "cannot handle SIGTERM ({e}); it will kill this actor without its exit cleanups");
        }
    }
    if let Some(parent) = rt.parent.get() {
        let _ = parent.chan.send(&Msg::Ready).await;
    }
    rt.cancel.cancelled().await;
    rt.teardown().await;
    0
}

//! Child mode: what a re-executed binary does instead of its own `main`
//! when its parent spawned it as an actor. The process setup and the
//! composition of the runtime's boot with registration live here.

use std::time::Duration;

use crate::runtime::child::{CancelSource, ParentLink};
use crate::runtime::current::{self, ThreadActorGuard};
use crate::spawn::thread::ThreadLink;
use crate::spawn::{BootExit, ChildEnv, proctitle};

/// Runs this process as the child actor described by `env` and exits.
pub(crate) fn run_child(env: ChildEnv) -> ! {
    // Grandchildren re-run this binary the way we were run; read the args
    // before the process title overwrites them.
    let exec_args = crate::spawn::process_args();
    let pid = std::process::id();
    // SAFETY: the arguments were copied above, and no other thread reads
    // them now: either none has started (the usual case, `init()` first
    // thing in `main`), or they are the idle workers of a runtime the
    // program built before calling `init()` (`init`'s docs ask that
    // nothing else run before it).
    unsafe { proctitle::set_title(&proctitle::subactor_title(&env.name, pid)) };
    // Ctrl-C at a terminal reaches the whole process group; the root turns
    // it into a graceful cancel of the tree, so children leave it to the root.
    // SAFETY: setting a signal disposition to SIG_IGN is always sound.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    // A program whose `#[tokio::main]` built its runtime before calling
    // `init()` is inside that runtime here, where another cannot be
    // driven: the actor gets a thread of its own, and the program's
    // runtime stays idle.
    // A forked child whose parent handed it its channel uses that, and
    // dials nothing.
    let link = match crate::spawn::forkserver::take_handed_channel() {
        Some(channel) => ParentLink::Handed(channel),
        None => ParentLink::Dial,
    };
    let code = if tokio::runtime::Handle::try_current().is_ok() {
        let name = env.name.clone();
        match std::thread::Builder::new()
            .name(format!("actor {name}"))
            .spawn(move || run_actor(env, exec_args, link, CancelSource::Sigterm))
        {
            // A panic that escaped the actor: the status Rust gives one on `main`'s thread.
            Ok(thread) => thread.join().unwrap_or(101),
            Err(e) => {
                eprintln!("tractor child {name}: cannot start the actor's thread: {e}");
                BootExit::NoRuntime.for_error(&e).exit();
            }
        }
    } else {
        run_actor(env, exec_args, link, CancelSource::Sigterm)
    };
    crate::runtime::trace::flush();
    std::process::exit(code)
}

/// Runs a thread actor (the `thread` backend's entry point) on the
/// calling thread until it ends; its exit code. Nothing process-wide is
/// touched: no title, no signal handlers, no `exit`.
pub(crate) fn run_thread_actor(env: ChildEnv, link: ThreadLink) -> i32 {
    let exec_args = crate::spawn::process_args();
    run_actor(
        env,
        exec_args,
        ParentLink::InProcess(Box::new(link.transport)),
        CancelSource::Watch(link.cancel),
    )
}

/// Readiness events one turn of an actor's I/O driver takes; more wait
/// for the next turn, a few microseconds later.
const IO_EVENTS_PER_TICK: usize = 128;

/// Runs the actor on a current-thread runtime of its own until it ends;
/// its exit status.
fn run_actor(env: ChildEnv, exec_args: Vec<String>, link: ParentLink, cancel: CancelSource) -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // An actor waits on a handful of sockets: tokio's default event
        // buffer (1,024 slots, 12 KiB) is most of an idle actor's runtime.
        .max_io_events_per_tick(IO_EVENTS_PER_TICK)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "tractor child {}: cannot build a tokio runtime: {e}",
                env.name
            );
            // Returned, not exited: a thread actor must not end the process.
            return BootExit::NoRuntime.for_error(&e) as i32;
        }
    };
    // The actor's tasks (and the set they run in) end with `block_on`.
    let code = runtime.block_on(crate::runtime::home::at_home(child_main(
        env, exec_args, link, cancel,
    )));
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}

async fn child_main(
    env: ChildEnv,
    exec_args: Vec<String>,
    link: ParentLink,
    cancel: CancelSource,
) -> i32 {
    let boot = crate::runtime::child::boot(&env, exec_args, link);
    let booted = match &cancel {
        // A thread actor told to go before it booted (its spawn was given
        // up) leaves at once.
        CancelSource::Watch(asked) => {
            let mut asked = asked.clone();
            tokio::select! {
                booted = boot => booted,
                _ = asked.wait_for(|a| *a) => Err(BootExit::NoSpawnSpec as i32),
            }
        }
        CancelSource::Sigterm => boot.await,
    };
    let (rt, parent) = match booted {
        Ok(booted) => booted,
        Err(code) => return code,
    };
    if matches!(cancel, CancelSource::Sigterm) {
        // A signal reaches a process, not a thread actor of it.
        crate::devx::introspect::DumpSwitch::from_env_or_warn().install(&rt);
    }
    crate::devx::debug::install(&rt);
    let _thread = ThreadActorGuard::set(rt.clone());
    let register = crate::discovery::register_self(&rt, Some((&env.parent_addr, &parent)));
    let registered_by_ready = current::scope(rt.clone(), register).await;
    crate::runtime::child::serve(rt, cancel, registered_by_ready).await
}

//! What is particular to each spawn backend. The core scenarios of the
//! other modules run on every backend through `on_backend!`; this module
//! checks what only one backend does, and how the choice is made.

use std::time::{Duration, Instant};

use tractor::{RootConfig, SpawnMethod, TransportKind};

use crate::common::{self, MODULE, in_nursery, in_root};

/// This module's path: its endpoints' allowlist entry.
const HERE: &str = module_path!();

/// The name of the thread an endpoint runs on.
#[tractor::endpoint]
async fn thread_name() -> String {
    std::thread::current().name().unwrap_or("").to_string()
}

/// Starts a daemon grandchild, reports its pid as `started`, then holds
/// the tree open until cancelled.
#[tractor::context]
async fn hold_grandchild(ctx: tractor::Context<u32, (), ()>) -> Result<(), tractor::Error> {
    tractor::open_nursery(async |an| {
        let gc = an
            .start_actor("grandchild")
            .enable_modules([MODULE, HERE])
            .await?;
        ctx.started(gc.run(common::pid::call()).await?).await?;
        std::future::pending::<()>().await;
        Ok(())
    })
    .await
}

/// Starts a daemon grandchild; its pid and parent pid, read while it runs.
#[tractor::endpoint]
async fn spawn_grandchild_here() -> Result<(u32, u32), tractor::Error> {
    tractor::open_nursery(async |an| {
        let gc = an
            .start_actor("grandchild")
            .enable_modules([MODULE, HERE])
            .await?;
        let pid = gc.run(common::pid::call()).await?;
        let ppid = ppid_of(pid);
        an.cancel().await;
        Ok((pid, ppid))
    })
    .await
}

/// Whether process `pid` is gone (or a zombie: dead, not yet reaped).
fn is_gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
}

/// `(state, ppid)` of process `pid`, from `/proc/<pid>/stat`.
fn ppid_of(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn cmdline(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw)
        .trim_end_matches('\0')
        .replace('\0', " ")
}

/// A forked child is a child of the forkserver (itself a child of the
/// root), titled like an exec'd one; the forkserver says what it is.
#[tractor::test(spawn_method = "forkserver")]
async fn forkserver_children_are_forks_with_titles() {
    in_nursery(TransportKind::Tcp, async |an| {
        let p = an
            .start_actor("forked")
            .enable_modules([MODULE, HERE])
            .await?;
        let pid = p.run(common::pid::call()).await?;
        assert_eq!(cmdline(pid), format!("_subactor[forked@{pid}]"));
        let server = ppid_of(pid);
        assert_ne!(server, std::process::id());
        assert_eq!(ppid_of(server), std::process::id());
        assert_eq!(cmdline(server), format!("_forkserver[{server}]"));
        // A second child comes from the same server.
        let q = an
            .start_actor("forked2")
            .enable_modules([MODULE, HERE])
            .await?;
        let pid2 = q.run(common::pid::call()).await?;
        assert_eq!(ppid_of(pid2), server);
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
}

/// A forked actor's own children come from the same forkserver, and die
/// when it is SIGKILLed (the server kills a dead link's children).
#[tractor::test(spawn_method = "forkserver")]
async fn forkserver_grandchild_dies_with_its_forked_parent() {
    let res = in_nursery(TransportKind::Uds, async |an| {
        let child = an
            .start_actor("middle")
            .enable_modules([MODULE, HERE])
            .await?;
        let child_pid = child.run(common::pid::call()).await?;
        child
            .open_context(hold_grandchild::call(), async |_ctx, gc_pid| {
                assert_eq!(
                    ppid_of(gc_pid),
                    ppid_of(child_pid),
                    "both forked by one server"
                );
                // SAFETY: kill has no memory-safety preconditions.
                unsafe { libc::kill(child_pid as i32, libc::SIGKILL) };
                let deadline = Instant::now() + Duration::from_secs(2);
                while !is_gone(gc_pid) {
                    assert!(
                        Instant::now() < deadline,
                        "grandchild {gc_pid} outlived its forked parent by 2 s"
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Ok(())
            })
            .await
    })
    .await;
    // The killed daemon fails the nursery (and its context).
    assert!(res.is_err(), "{res:?}");
}

/// The grandchildren of a forked actor are spawned the way it was,
/// unless it is told otherwise.
#[tractor::test(spawn_method = "forkserver")]
async fn forkserver_is_inherited_unless_children_choose() {
    in_nursery(TransportKind::Tcp, async |an| {
        let a = an.start_actor("a").enable_modules([MODULE, HERE]).await?;
        let a_pid = a.run(common::pid::call()).await?;
        let (_, gc_parent) = a.run(spawn_grandchild_here::call()).await?;
        assert_eq!(gc_parent, ppid_of(a_pid), "forked by the same server");
        let b = an
            .start_actor("b")
            .enable_modules([MODULE, HERE])
            .children_spawn_method(SpawnMethod::Thread)
            .await?;
        let b_pid = b.run(common::pid::call()).await?;
        let (gc, _) = b.run(spawn_grandchild_here::call()).await?;
        assert_eq!(gc, b_pid, "a thread of b");
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
}

/// A spawn's own choice beats the tree's.
#[tractor::test]
async fn per_spawn_choice_beats_the_tree() {
    let cfg = RootConfig::new("root").spawn_method(SpawnMethod::Exec);
    tractor::open_root_actor(cfg, async || {
        tractor::open_nursery(async |an| {
            let t = an
                .start_actor("threaded")
                .enable_modules([MODULE, HERE])
                .spawn_method(SpawnMethod::Thread)
                .await?;
            assert_eq!(t.run(common::pid::call()).await?, std::process::id());
            let e = an
                .start_actor("execd")
                .enable_modules([MODULE, HERE])
                .await?;
            assert_ne!(e.run(common::pid::call()).await?, std::process::id());
            an.cancel().await;
            Ok(())
        })
        .await
    })
    .await
    .unwrap();
}

/// A thread actor's endpoints run on a thread named after it (what
/// `top -H` and `ps -L` show), and its identity is its own.
#[tractor::test(spawn_method = "thread")]
async fn thread_actors_are_named_threads() {
    in_nursery(TransportKind::Tcp, async |an| {
        let p = an
            .start_actor("worker_7")
            .enable_modules([MODULE, HERE])
            .await?;
        assert_eq!(p.run(thread_name::call()).await?, "worker_7");
        assert_eq!(p.aid().name, "worker_7");
        assert_ne!(p.aid().uuid, tractor::current_actor()?.aid().uuid);
        let comms: Vec<String> = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
            .map(|c| c.trim().to_string())
            .collect();
        assert!(comms.iter().any(|c| c == "worker_7"), "{comms:?}");
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
}

/// A thread actor stuck in blocking code cannot be killed: a hard kill
/// abandons it within the ladder's bound, and the tree goes on.
#[tractor::test(spawn_method = "thread", timeout = 30)]
async fn thread_stuck_actor_is_abandoned() {
    let marker = common::marker_path("stuck");
    let m = marker.clone();
    let took = in_nursery(TransportKind::Tcp, async move |an| {
        let p = an
            .start_actor("stuck")
            .enable_modules([MODULE, HERE])
            .await?;
        let call = {
            let p = p.clone();
            let m = m.clone();
            tokio::task::spawn_local(
                async move { p.run(common::touch_then_block::call(m, 2500)).await },
            )
        };
        common::wait_exists(&m).await?;
        let t0 = Instant::now();
        an.cancel().hard_kill().await;
        let took = t0.elapsed();
        call.abort();
        Ok(took)
    })
    .await
    .unwrap();
    assert!(took < Duration::from_millis(3000), "abandoned in {took:?}");
    let _ = std::fs::remove_file(&marker);
}

/// Each backend, from one root: same calls, same errors.
#[tractor::test]
async fn every_backend_in_one_tree() {
    in_root(TransportKind::Uds, async || {
        tractor::open_nursery(async |an| {
            for m in [
                SpawnMethod::Exec,
                SpawnMethod::Forkserver,
                SpawnMethod::Thread,
            ] {
                let p = an
                    .start_actor(format!("on_{m}"))
                    .enable_modules([MODULE, HERE])
                    .spawn_method(m)
                    .await?;
                assert_eq!(p.run(common::add::call(1, 2)).await?, 3);
                let e = p.run(common::need_coffee::call(1)).await.unwrap_err();
                let r = e.as_remote().expect("a remote error");
                assert_eq!(r.origin().name, format!("on_{m}"));
            }
            an.cancel().await;
            Ok(())
        })
        .await
    })
    .await
    .unwrap();
}

/// Writes a frame longer than the forkserver accepts on this forked
/// actor's link to it (fd 3, where every forked child has it).
#[tractor::endpoint]
async fn send_bad_frame_to_forkserver() -> Result<(), tractor::Error> {
    let frame = (1u32 << 30).to_le_bytes();
    // SAFETY: writes 4 bytes from a local buffer to our own fd 3.
    let n = unsafe { libc::write(3, frame.as_ptr().cast(), frame.len()) };
    if n == 4 {
        Ok(())
    } else {
        Err(tractor::Error::custom(
            "cannot write to the forkserver link",
        ))
    }
}

/// A forked actor that sends its forkserver garbage loses its link, and
/// with it its own children (they die with the link); the server keeps
/// forking for everyone else.
#[tractor::test(spawn_method = "forkserver")]
async fn forkserver_drops_only_a_link_that_sends_garbage() {
    let res = in_nursery(TransportKind::Tcp, async |an| {
        let a = an.start_actor("a").enable_modules([MODULE, HERE]).await?;
        a.open_context(hold_grandchild::call(), async |_ctx, gc_pid| {
            a.run(send_bad_frame_to_forkserver::call()).await?;
            let deadline = Instant::now() + Duration::from_secs(2);
            while !is_gone(gc_pid) {
                assert!(
                    Instant::now() < deadline,
                    "grandchild {gc_pid} outlived its parent's link by 2 s"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            // `a` itself lives on; the server still forks for others.
            assert_eq!(a.run(common::add::call(1, 1)).await?, 2);
            let b = an.start_actor("b").enable_modules([MODULE]).await?;
            assert_eq!(b.run(common::add::call(2, 2)).await?, 4);
            Ok(())
        })
        .await
    })
    .await;
    // The grandchild's death fails `a`'s nursery, and with it the context,
    // unless the context's own end (after the checks above) got there
    // first: either way is right, the checks are what count.
    if let Err(e) = res {
        assert!(
            e.to_string().contains("grandchild"),
            "only the grandchild's death may fail the tree: {e}"
        );
    }
}

/// An exec'd child arms its parent-death signal itself, first thing in
/// `init()` (its parent starts it with `posix_spawn`, running nothing
/// between fork and exec). One whose parent is gone by then (here: named
/// by a pid that is not its parent's) leaves at once, saying so, rather
/// than live on where no signal will ever reach it. Named by its real
/// parent, it goes on, to read its secret (here: none, so it exits for a
/// bad environment).
#[tractor::test]
async fn an_exec_child_whose_parent_is_gone_leaves_at_once() {
    let run = |parent_pid: u32| async move {
        let mut cmd = tokio::process::Command::new(std::env::current_exe().expect("exe"));
        cmd.args([
            "backends::an_exec_child_whose_parent_is_gone_leaves_at_once",
            "--exact",
            "--nocapture",
        ])
        .env("TRACTOR_PARENT_ADDR", "tcp://127.0.0.1:9")
        .env("TRACTOR_PARENT_PID", parent_pid.to_string())
        .env("TRACTOR_ACTOR_NAME", "orphan")
        .env("TRACTOR_ACTOR_UUID", uuid::Uuid::new_v4().to_string())
        .env("TRACTOR_SECRET_FD", "0")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
        let out = tokio::time::timeout(Duration::from_secs(20), cmd.output())
            .await
            .expect("the child exits within 20 s")
            .expect("run the child");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // pid 1 is never this test's child's parent.
    let (code, stderr) = run(1).await;
    assert_eq!(
        code,
        Some(tractor::error::BootExit::NoParent as i32),
        "{stderr}"
    );
    assert!(stderr.contains("(pid 1) is gone"), "{stderr}");
    let (code, stderr) = run(std::process::id()).await;
    assert_eq!(
        code,
        Some(tractor::error::BootExit::BadEnv as i32),
        "{stderr}"
    );
    assert!(stderr.contains("not an inherited pipe"), "{stderr}");
}

/// The signals the actor's thread blocks (`SigBlk` of its status: in a
/// test binary, the harness's own threads are not the actor's).
#[tractor::endpoint]
async fn blocked_signals() -> String {
    std::fs::read_to_string("/proc/thread-self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("SigBlk:"))
        .map(|m| m.trim().to_string())
        .unwrap_or_default()
}

/// The blocked signals of a grandchild this actor starts.
#[tractor::endpoint]
async fn grandchild_blocked_signals() -> Result<String, tractor::Error> {
    tractor::open_nursery(async |an| {
        let gc = an
            .start_actor("grandchild")
            .enable_modules([MODULE, HERE])
            .await?;
        let mask = gc.run(blocked_signals::call()).await?;
        an.cancel().await;
        Ok(mask)
    })
    .await
}

/// An exec'd child blocks no signal, though the thread its parent starts
/// it from blocks them all: a blocked SIGTERM would stall the cancel
/// ladder. Checked on a child's child too, which a child's spawner starts.
#[tractor::test]
async fn exec_children_block_no_signal() {
    in_nursery(TransportKind::Tcp, async |an| {
        let p = an
            .start_actor("child")
            .spawn_method(SpawnMethod::Exec)
            .enable_modules([MODULE, HERE])
            .await?;
        assert_eq!(p.run(blocked_signals::call()).await?, "0000000000000000");
        assert_eq!(
            p.run(grandchild_blocked_signals::call()).await?,
            "0000000000000000"
        );
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// The CPUs the calling thread may run on, as ids.
fn thread_cpus() -> Vec<usize> {
    // SAFETY: an all-zero cpu_set_t is a valid (empty) set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: sched_getaffinity writes at most the size given into `set`.
    let got =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    assert_eq!(
        got,
        0,
        "sched_getaffinity: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: every id is < CPU_SETSIZE, inside `set`.
    (0..libc::CPU_SETSIZE as usize)
        .filter(|c| unsafe { libc::CPU_ISSET(*c, &set) })
        .collect()
}

/// Restricts the calling thread to `cpus`.
fn pin_thread(cpus: &[usize]) {
    // SAFETY: an all-zero cpu_set_t is a valid (empty) set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for c in cpus {
        // SAFETY: the ids come from `thread_cpus`, each < CPU_SETSIZE.
        unsafe { libc::CPU_SET(*c, &mut set) };
    }
    // SAFETY: sched_setaffinity reads the size given from `set`.
    let set_ok =
        unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    assert_eq!(
        set_ok,
        0,
        "sched_setaffinity: {}",
        std::io::Error::last_os_error()
    );
}

/// The CPUs the actor's own thread may run on.
#[tractor::endpoint]
async fn actor_cpus() -> Vec<usize> {
    thread_cpus()
}

/// Puts the thread's CPUs back when dropped (a failed assertion too).
struct Unpin(Vec<usize>);

impl Drop for Unpin {
    fn drop(&mut self) {
        pin_thread(&self.0);
    }
}

/// A child runs on the CPUs its parent's thread may run on when it is
/// spawned, on every backend: not on those of the parent's first spawn
/// (when the exec spawner thread and the forkserver are made, and
/// inherit the thread's CPUs of that moment).
async fn children_take_the_spawning_thread_s_cpus() {
    let all = thread_cpus();
    let _unpin = Unpin(all.clone());
    let last = *all.last().expect("some CPU allowed");
    in_nursery(TransportKind::Uds, async |an| {
        let spawn = async |name: &str| {
            let p = an.start_actor(name).enable_modules([MODULE, HERE]).await?;
            let cpus = p.run(actor_cpus::call()).await?;
            p.cancel_actor().await?;
            Ok::<_, tractor::Error>(cpus)
        };
        assert_eq!(spawn("first").await?, all, "the first child");
        pin_thread(&[last]);
        assert_eq!(
            spawn("pinned").await?,
            [last],
            "a child spawned while the thread ran on CPU {last} only"
        );
        pin_thread(&all);
        assert_eq!(spawn("unpinned").await?, all, "a child spawned after");
        Ok(())
    })
    .await
    .unwrap();
}

#[tractor::test(spawn_method = "exec")]
async fn exec_children_take_the_spawning_thread_s_cpus() {
    children_take_the_spawning_thread_s_cpus().await
}

#[tractor::test(spawn_method = "forkserver")]
async fn forkserver_children_take_the_spawning_thread_s_cpus() {
    children_take_the_spawning_thread_s_cpus().await
}

#[tractor::test(spawn_method = "thread")]
async fn thread_children_take_the_spawning_thread_s_cpus() {
    children_take_the_spawning_thread_s_cpus().await
}

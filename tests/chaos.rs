//! Chaos test (issue 7 point 8): a tree of 7 or 10 actors with live
//! streams, one random fault per iteration at a random moment, and after
//! every iteration: the root completed or its error names the failed actor,
//! nothing hung, and no process, socket file or registry entry survived.
//!
//! One binary, three roles (`harness = false`, so `cargo test --test chaos`
//! builds everything it needs):
//! - the driver (no `CHAOS_ROLE`): runs the iterations and prints a table;
//! - `CHAOS_ROLE=tree`: the chaos tree's root (children re-run this binary
//!   in child mode, so the role is inherited);
//! - `CHAOS_ROLE=registrar`: one registrar for the whole run, which every
//!   tree registers with and the driver lists after every iteration.
//!
//! ```text
//! chaos_root ─┬─ mid_0 ─┬─ mid_0_leaf_0     (root ⇄ mid ⇄ leaves: a
//!             │         └─ mid_0_leaf_1      lock-step bidirectional
//!             ├─ mid_1 ─┬─ ...               context stream per edge)
//!             └─ mid_2 (sometimes) ...
//! ```
//!
//! Environment (driver):
//! - `TRACTOR_CHAOS_ITERS` iterations (default [`DEFAULT_ITERS`]);
//! - `TRACTOR_CHAOS_FAULTS` comma list of `kill,stop,sigint,sigterm,error,panic`
//!   (default [`DEFAULT_FAULTS`]; `all` for every kind);
//! - `TRACTOR_CHAOS_SEED` the PRNG seed (printed; rerun with it to reproduce);
//! - `TRACTOR_CHAOS_TRANSPORTS` `tcp,uds` (default both, alternating at random);
//! - `TRACTOR_CHAOS_VERBOSE=1` prints every iteration.
//!
//! `cargo test --test chaos` (defaults: CI-sized, well under 2 minutes), or
//! `TRACTOR_CHAOS_ITERS=500 cargo test --release --test chaos`.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tractor::{Context, Error, RootConfig, TransportKind};

#[path = "support/wait.rs"]
mod wait;

/// Fault kinds run by default: every kind.
const DEFAULT_FAULTS: &[Fault] = &Fault::ALL;
/// Default iteration count: the whole test under 2 minutes on 2 cores.
const DEFAULT_ITERS: u64 = 40;
/// How long the tree streams before the root ends it cleanly.
const RUN_MS: u64 = 600;
/// A fault is injected this long after the tree is up, at most
/// (uniformly at random below it). Past [`RUN_MS`] on purpose: some faults
/// land while the tree tears itself down (counted as `raced` when the root
/// then rightly completes, or `no-fault` when an injected error never fired).
const MAX_FAULT_DELAY_MS: u64 = 750;
/// From the fault (or from the start, if the tree never comes up) to the
/// root's exit: past this, the iteration is a hang.
const EXIT_DEADLINE: Duration = Duration::from_secs(10);
/// How long leftovers (processes, socket files, registry entries) may take
/// to disappear after the root's exit.
const CLEANUP_DEADLINE: Duration = Duration::from_secs(3);
/// The heartbeat a SIGSTOPped actor is detected with
/// (`<interval_ms>,<timeout_ms>`, inherited by children).
const HEARTBEAT: &str = "200,1000";
/// The test fails past this, whatever the iteration count.
const PER_ITER_BUDGET: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------
// The tree (CHAOS_ROLE=tree and its children)
// ---------------------------------------------------------------------

/// This binary's root module: the allowlist entry for the endpoints below.
const MODULE: &str = module_path!();
/// `<kind>:<actor name>:<after ms>` (kind `error` or `panic`): the named
/// actor fails that long after its streams began. Inherited by children.
const INJECT_ENV: &str = "CHAOS_INJECT";
const ROLE_ENV: &str = "CHAOS_ROLE";

/// The message of an injected endpoint error. It deliberately does not
/// name the actor: the runtime's error must do that.
#[derive(Debug, thiserror::Error)]
enum ChaosError {
    #[error("chaos: injected endpoint error")]
    Injected,
    #[error(transparent)]
    Tractor(#[from] Error),
}

fn unix_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The fault this actor must inject, if any: `(kind, after)`.
fn my_injection() -> Option<(String, Duration)> {
    let spec = std::env::var(INJECT_ENV).ok()?;
    let mut parts = spec.splitn(3, ':');
    let kind = parts.next()?.to_string();
    let who = parts.next()?;
    let after: u64 = parts.next()?.parse().ok()?;
    let me = tractor::current_actor().ok()?;
    (me.name() == who).then(|| (kind, Duration::from_millis(after)))
}

/// Fails (error or panic) once the injection's delay has passed.
fn maybe_fire(inject: &Option<(String, Duration)>, since: Instant) -> Result<(), ChaosError> {
    let Some((kind, after)) = inject else {
        return Ok(());
    };
    if since.elapsed() < *after {
        return Ok(());
    }
    let name = tractor::current_actor()
        .map(|a| a.name().to_string())
        .unwrap_or_default();
    println!("CHAOS_FAULT {kind} {name} {}", unix_ns());
    if kind == "panic" {
        panic!("chaos: injected panic");
    }
    Err(ChaosError::Injected)
}

/// A leaf: answers every value `v` with `v + 1`.
#[tractor::context]
async fn leaf(ctx: Context<u32, u64, u64>) -> Result<u64, ChaosError> {
    ctx.started(std::process::id()).await?;
    let stream = ctx.open_stream()?;
    let inject = my_injection();
    let since = Instant::now();
    let mut n = 0;
    while let Some(v) = stream.recv().await? {
        maybe_fire(&inject, since)?;
        stream.send(v + 1).await?;
        n += 1;
    }
    Ok(n)
}

/// A mid actor: starts two leaves, reports every pid, then forwards every
/// value from the root to both leaves and answers with the sum of theirs.
#[tractor::context]
async fn mid(ctx: Context<Vec<(String, u32)>, u64, u64>) -> Result<u64, ChaosError> {
    let me = tractor::current_actor()?.name().to_string();
    // Set when this actor injects its error inside the nested scopes below
    // (which speak `tractor::Error`); turned into the user error at the end.
    let fired = std::cell::Cell::new(false);
    let n = tractor::open_nursery(async |an| {
        let l0 = an
            .start_actor(format!("{me}_leaf_0"))
            .enable_modules([MODULE])
            .await?;
        let l1 = an
            .start_actor(format!("{me}_leaf_1"))
            .enable_modules([MODULE])
            .await?;
        let n = l0
            .open_context(leaf::call(), async |c0, pid0| {
                l1.open_context(leaf::call(), async |c1, pid1| {
                    let pids = vec![
                        (me.clone(), std::process::id()),
                        (l0.aid().name.clone(), pid0),
                        (l1.aid().name.clone(), pid1),
                    ];
                    ctx.started(pids).await?;
                    let up = ctx.open_stream()?;
                    let s0 = c0.open_stream()?;
                    let s1 = c1.open_stream()?;
                    let inject = my_injection();
                    let since = Instant::now();
                    let mut n = 0u64;
                    while let Some(v) = up.recv().await? {
                        if maybe_fire(&inject, since).is_err() {
                            fired.set(true);
                            return Err(Error::Cancelled("chaos: injected".into()));
                        }
                        s0.send(v).await?;
                        s1.send(v).await?;
                        // A stream the callee dropped while failing ends
                        // (`None`) before its error arrives: the error is
                        // the context's result, so look there first.
                        let Some(a) = s0.recv().await? else {
                            c0.wait_for_result().await?;
                            return Err(Error::custom("leaf 0 ended early"));
                        };
                        let Some(b) = s1.recv().await? else {
                            c1.wait_for_result().await?;
                            return Err(Error::custom("leaf 1 ended early"));
                        };
                        up.send(a + b).await?;
                        n += 1;
                    }
                    s0.close();
                    s1.close();
                    c1.wait_for_result().await?;
                    c0.wait_for_result().await?;
                    Ok(n)
                })
                .await
            })
            .await?;
        an.cancel().await;
        Ok(n)
    })
    .await;
    match n {
        Ok(n) => Ok(n),
        Err(_) if fired.get() => Err(ChaosError::Injected),
        Err(e) => Err(e.into()),
    }
}

fn transport_from_env() -> TransportKind {
    match std::env::var("CHAOS_TRANSPORT").as_deref() {
        Ok("uds") => TransportKind::Uds,
        _ => TransportKind::Tcp,
    }
}

/// The chaos tree's root. Prints `CHAOS_ACTOR <name> <pid>` per actor,
/// `CHAOS_UP <ns>` once every stream is live, `CHAOS_ENDING <ns>` when it
/// starts its clean ending, and `CHAOS_OUTCOME ok|error <Display>` last.
#[tractor::main]
async fn tree_main() -> Result<(), Error> {
    let mids: usize = std::env::var("CHAOS_MIDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let run = Duration::from_millis(
        std::env::var("CHAOS_RUN_MS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(RUN_MS),
    );
    let cfg = RootConfig::new("chaos_root").transport(transport_from_env());
    let barrier = tokio::sync::Barrier::new(mids);
    let ending = std::cell::Cell::new(false);
    let res = tractor::open_root_actor(cfg, async || {
        println!("CHAOS_ACTOR chaos_root {}", std::process::id());
        tractor::open_nursery(async |an| {
            let mut portals = Vec::new();
            for i in 0..mids {
                let p = an
                    .start_actor(format!("mid_{i}"))
                    .enable_modules([MODULE])
                    .await?;
                portals.push(p);
            }
            let scopes = portals.iter().map(|p| {
                let (barrier, ending) = (&barrier, &ending);
                p.open_context(mid::call(), async move |ctx, pids| {
                    for (name, pid) in pids {
                        println!("CHAOS_ACTOR {name} {pid}");
                    }
                    let stream = ctx.open_stream()?;
                    if barrier.wait().await.is_leader() {
                        println!("CHAOS_UP {}", unix_ns());
                    }
                    let end = Instant::now() + run;
                    let mut v = 0u64;
                    while Instant::now() < end {
                        stream.send(v).await?;
                        let Some(sum) = stream.recv().await? else {
                            // Ended early: the mid's error is its result.
                            ctx.wait_for_result().await?;
                            return Err(Error::custom("a mid ended early"));
                        };
                        if sum != 2 * (v + 1) {
                            return Err(Error::custom(format!("bad sum for {v}: {sum:?}")));
                        }
                        v += 1;
                        // Workload pacing (not synchronisation): keeps
                        // ten processes from saturating two cores.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    if !ending.replace(true) {
                        println!("CHAOS_ENDING {}", unix_ns());
                    }
                    stream.close();
                    ctx.wait_for_result().await
                })
            });
            futures::future::try_join_all(scopes).await?;
            an.cancel().await;
            Ok(())
        })
        .await
    })
    .await;
    match &res {
        Ok(()) => println!("CHAOS_OUTCOME ok"),
        Err(e) => println!("CHAOS_OUTCOME error {}", e.to_string().replace('\n', " | ")),
    }
    res
}

/// The shared registrar: prints `CHAOS_REGISTRAR_UP` once it serves.
#[tractor::main]
async fn registrar_main() -> Result<(), Error> {
    let cfg = RootConfig::new("chaos_registrar")
        .transport(transport_from_env())
        .registrar(tractor::RegistrarRole::Become);
    tractor::open_root_actor(cfg, async || {
        let me = tractor::current_actor()?;
        println!("CHAOS_REGISTRAR_UP {}", me.accept_addr());
        me.cancelled().await;
        Ok(())
    })
    .await
}

fn main() -> std::process::ExitCode {
    // `#[tractor::main]` turns an interrupted root into 130 / 143.
    match std::env::var(ROLE_ENV).as_deref() {
        Ok("tree") => tree_main(),
        Ok("registrar") => registrar_main(),
        _ => {
            driver();
            std::process::ExitCode::SUCCESS
        }
    }
}

// ---------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    /// SIGKILL of a non-root actor.
    Kill,
    /// SIGSTOP of a non-root actor.
    Stop,
    /// SIGINT of the root.
    Sigint,
    /// SIGTERM of the root.
    Sigterm,
    /// An endpoint error in a non-root actor.
    Error,
    /// A panic in a non-root actor.
    Panic,
}

impl Fault {
    const ALL: [Fault; 6] = [
        Fault::Kill,
        Fault::Stop,
        Fault::Sigint,
        Fault::Sigterm,
        Fault::Error,
        Fault::Panic,
    ];

    fn name(self) -> &'static str {
        match self {
            Fault::Kill => "kill",
            Fault::Stop => "stop",
            Fault::Sigint => "sigint",
            Fault::Sigterm => "sigterm",
            Fault::Error => "error",
            Fault::Panic => "panic",
        }
    }

    fn targets_root(self) -> bool {
        matches!(self, Fault::Sigint | Fault::Sigterm)
    }
}

/// xorshift64*: tiny, seedable, good enough to pick faults.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn parse_faults() -> Vec<Fault> {
    let Ok(spec) = std::env::var("TRACTOR_CHAOS_FAULTS") else {
        return DEFAULT_FAULTS.to_vec();
    };
    if spec.trim() == "all" {
        return Fault::ALL.to_vec();
    }
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            *Fault::ALL
                .iter()
                .find(|f| f.name() == s)
                .unwrap_or_else(|| panic!("unknown fault kind `{s}` in TRACTOR_CHAOS_FAULTS"))
        })
        .collect()
}

/// What the driver sees of a running tree.
enum Event {
    Line(String),
    Eof,
    Exited(ExitStatus, u128),
}

/// A process of ours, with its stdout as events; killed with its whole
/// tree if the driver gives up on it.
struct Proc {
    pid: u32,
    events: mpsc::Receiver<Event>,
    stderr: std::thread::JoinHandle<String>,
}

fn self_exe() -> std::path::PathBuf {
    std::env::current_exe().expect("current exe")
}

/// The cookie every program of this run shares (registrars, trees, the
/// `tractor` tool), whatever runtime directory each is given.
fn run_cookie() -> &'static str {
    static COOKIE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    COOKIE.get_or_init(|| format!("chaos-{}", tractor::Aid::new("run").uuid.simple()))
}

fn spawn_role(role: &str, envs: &[(&str, String)]) -> Proc {
    let mut cmd = Command::new(self_exe());
    cmd.env(ROLE_ENV, role)
        .env("TRACTOR_COOKIE", run_cookie())
        .env_remove("TRACTOR_PARENT_ADDR")
        .env_remove(INJECT_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    // Whatever happens to the driver (a failed assertion, a kill), its
    // trees and registrars go with it.
    // SAFETY: the closure runs between fork and exec and only calls
    // async-signal-safe functions (prctl).
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn the chaos binary");
    let pid = child.id();
    let (tx, events) = mpsc::channel();
    let out = child.stdout.take().expect("stdout");
    let lines_tx = tx.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(Event::Line(line)).is_err() {
                return;
            }
        }
        let _ = lines_tx.send(Event::Eof);
    });
    let mut err = child.stderr.take().expect("stderr");
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    std::thread::spawn(move || {
        if let Ok(status) = child.wait() {
            let _ = tx.send(Event::Exited(status, unix_ns()));
        }
    });
    Proc {
        pid,
        events,
        stderr,
    }
}

/// SIGKILLs every process of `tree` (SIGCONT is not needed: SIGKILL ends
/// stopped processes too).
fn kill_tree(tree: &str, root: u32) {
    signal(root, libc::SIGKILL);
    for p in tractor::testing::survivors(tree) {
        signal(p, libc::SIGKILL);
    }
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// One iteration's record.
#[derive(Debug, Default)]
struct Record {
    fault: Option<Fault>,
    hang: bool,
    survivors: bool,
    sockets: bool,
    /// Socket files left after the driver killed a hung tree itself.
    stale: bool,
    registry: bool,
    lost: bool,
    raced: bool,
    no_fault: bool,
    /// Fault to root exit.
    exit_after: Option<Duration>,
    notes: Vec<String>,
}

impl Record {
    fn failed(&self) -> bool {
        self.hang || self.survivors || self.sockets || self.registry || self.lost
    }
}

struct Run {
    registry_tcp: String,
    registry_uds: String,
    xdg: std::path::PathBuf,
}

impl Run {
    fn socket_dir(&self) -> std::path::PathBuf {
        self.xdg.join("tractor")
    }
}

fn sockets_left(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Names listed by the registrar at `registry`, besides the registrar.
fn registry_entries(registry: &str) -> Result<Vec<String>, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_tractor"))
        .args(["--registry", registry, "--timeout", "5", "ls"])
        .env("TRACTOR_COOKIE", run_cookie())
        .env_remove("TRACTOR_REGISTRY_ADDR")
        .env_remove(ROLE_ENV)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run tractor ls: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "tractor ls failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|n| n != "chaos_registrar")
        .collect())
}

/// Polls `f` until it returns an empty list or `within` passes; the last list.
fn wait_empty<T: std::fmt::Debug>(within: Duration, mut f: impl FnMut() -> Vec<T>) -> Vec<T> {
    wait::try_until(within, || {
        let left = f();
        wait::holds(left.is_empty(), left)
    })
    .err()
    .unwrap_or_default()
}

fn iteration(run: &Run, i: u64, fault: Fault, rng: &mut Rng, uds: bool) -> Record {
    let mut rec = Record {
        fault: Some(fault),
        ..Record::default()
    };
    let mids = 2 + rng.below(2); // 7 or 10 actors
    let delay = Duration::from_millis(rng.below(MAX_FAULT_DELAY_MS));
    // The victim: a non-root actor, named before the tree is up.
    let victim = if fault.targets_root() {
        "chaos_root".to_string()
    } else {
        let m = rng.below(mids);
        match rng.below(3) {
            0 => format!("mid_{m}"),
            l => format!("mid_{m}_leaf_{}", l - 1),
        }
    };
    let tree = format!("chaos-{}-{i}", std::process::id());
    let registry = if uds {
        &run.registry_uds
    } else {
        &run.registry_tcp
    };
    let mut envs = vec![
        ("TRACTOR_TREE", tree.clone()),
        ("TRACTOR_REGISTRY_ADDR", registry.clone()),
        ("XDG_RUNTIME_DIR", run.xdg.display().to_string()),
        (
            "CHAOS_TRANSPORT",
            if uds { "uds" } else { "tcp" }.to_string(),
        ),
        ("CHAOS_MIDS", mids.to_string()),
        ("CHAOS_RUN_MS", RUN_MS.to_string()),
        ("TRACTOR_HEARTBEAT", HEARTBEAT.to_string()),
        ("TRACTOR_LOGLEVEL", "error".to_string()),
    ];
    if matches!(fault, Fault::Error | Fault::Panic) {
        envs.push((
            INJECT_ENV,
            format!("{}:{victim}:{}", fault.name(), delay.as_millis()),
        ));
    }
    let proc = spawn_role("tree", &envs);
    let started = Instant::now();

    let mut pids: BTreeMap<String, u32> = BTreeMap::new();
    let mut up_at: Option<Instant> = None;
    let mut ending_ns: Option<u128> = None;
    let mut fault_ns: Option<u128> = None;
    let mut outcome: Option<String> = None;
    let mut exited: Option<(ExitStatus, u128)> = None;
    let mut eof = false;
    let mut injected = false;
    let mut stopped: Option<u32> = None;

    // Until the root exits: collect lines, inject a signal fault on time.
    // The hang deadline runs from the fault once there is one, else from
    // the start (a tree that never comes up, or a fault that never fires).
    let mut fault_at: Option<Instant> = None;
    while exited.is_none() {
        let now = Instant::now();
        let deadline = match fault_at {
            Some(f) => f + EXIT_DEADLINE,
            None => started + EXIT_DEADLINE + Duration::from_millis(RUN_MS + MAX_FAULT_DELAY_MS),
        };
        if now > deadline {
            rec.hang = true;
            rec.notes.push(format!(
                "hang: the root did not exit within {EXIT_DEADLINE:?} of the fault (tree up: {}, fault at up+{delay:?}, fault seen: {})",
                up_at.is_some(),
                fault_at.is_some(),
            ));
            kill_tree(&tree, proc.pid);
            break;
        }
        // Wake for the fault's time, when a signal is still to be sent.
        let wait = match (up_at, injected || !is_signal(fault)) {
            (Some(up), false) => (up + delay).saturating_duration_since(now),
            _ => Duration::from_millis(200),
        };
        match proc.events.recv_timeout(wait) {
            Ok(Event::Line(l)) => {
                handle_line(
                    &l,
                    &mut pids,
                    &mut up_at,
                    &mut ending_ns,
                    &mut fault_ns,
                    &mut outcome,
                );
                if fault_ns.is_some() && fault_at.is_none() {
                    fault_at = Some(Instant::now());
                }
            }
            Ok(Event::Eof) => eof = true,
            Ok(Event::Exited(s, at)) => exited = Some((s, at)),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if let Some(up) = up_at
            && is_signal(fault)
            && !injected
            && Instant::now() >= up + delay
        {
            injected = true;
            match pids.get(&victim) {
                Some(&pid) => {
                    let sig = match fault {
                        Fault::Kill => libc::SIGKILL,
                        Fault::Stop => libc::SIGSTOP,
                        Fault::Sigint => libc::SIGINT,
                        _ => libc::SIGTERM,
                    };
                    fault_ns = Some(unix_ns());
                    fault_at = Some(Instant::now());
                    signal(pid, sig);
                    if fault == Fault::Stop {
                        stopped = Some(pid);
                    }
                }
                None => rec
                    .notes
                    .push(format!("no pid for victim {victim}: {pids:?}")),
            }
        }
    }
    // After the exit: the outcome line is in the pipe; read up to it (or
    // the pipe's end), bounded.
    let drain_deadline = Instant::now() + Duration::from_secs(2);
    while outcome.is_none() && !eof && exited.is_some() {
        let left = drain_deadline.saturating_duration_since(Instant::now());
        match proc.events.recv_timeout(left) {
            Ok(Event::Line(l)) => handle_line(
                &l,
                &mut pids,
                &mut up_at,
                &mut ending_ns,
                &mut fault_ns,
                &mut outcome,
            ),
            Ok(Event::Eof) => eof = true,
            Ok(Event::Exited(..)) => {}
            Err(_) => break,
        }
    }
    if let (Some(f), Some((_, at))) = (fault_ns, exited) {
        rec.exit_after = Some(Duration::from_nanos(at.saturating_sub(f) as u64));
    }
    // A stopped victim that outlived its tree would never die by itself.
    if let Some(pid) = stopped {
        signal(pid, libc::SIGCONT);
    }

    // Leftovers.
    let left = tractor::testing::wait_gone(&tree, CLEANUP_DEADLINE);
    if !left.is_empty() {
        rec.survivors = true;
        rec.notes
            .push(format!("survivors: {}", tractor::testing::describe(&left)));
        kill_tree(&tree, proc.pid);
        // Keep the next iteration clean.
        tractor::testing::wait_gone(&tree, CLEANUP_DEADLINE);
    }
    let socks = wait_empty(CLEANUP_DEADLINE, || sockets_left(&run.socket_dir()));
    if !socks.is_empty() {
        // After a hang the driver SIGKILLed the whole tree itself: the
        // runtime had no chance to unlink anything.
        if rec.hang {
            rec.stale = true;
            rec.notes
                .push(format!("socket files of killed actors left: {socks:?}"));
        } else {
            rec.sockets = true;
            rec.notes.push(format!("socket files left: {socks:?}"));
        }
        for s in &socks {
            let _ = std::fs::remove_file(run.socket_dir().join(s));
        }
    }
    let mut reg_err = None;
    let entries = wait_empty(CLEANUP_DEADLINE, || match registry_entries(registry) {
        Ok(e) => e,
        Err(e) => {
            reg_err = Some(e);
            Vec::new()
        }
    });
    if let Some(e) = reg_err {
        rec.registry = true;
        rec.notes.push(format!("registry check failed: {e}"));
    }
    if !entries.is_empty() {
        rec.registry = true;
        rec.notes
            .push(format!("registry entries left: {entries:?}"));
    }

    // The verdict on the outcome.
    let status = exited.map(|(s, _)| s);
    let happened = fault_ns.is_some();
    if !rec.hang {
        judge(
            &mut rec,
            fault,
            &victim,
            &pids,
            status,
            outcome.as_deref(),
            happened,
            fault_ns,
            ending_ns,
        );
    }
    if rec.failed() || std::env::var_os("TRACTOR_CHAOS_VERBOSE").is_some() {
        let stderr = if rec.failed() {
            proc.stderr
                .join()
                .unwrap_or_default()
                .lines()
                .take(30)
                .collect::<Vec<_>>()
                .join("\n    ")
        } else {
            String::new()
        };
        println!(
            "  #{i} {} {victim} ({}, {} actors, delay {delay:?}): status {status:?}, outcome {:?}, exit after {:?}{}{}",
            fault.name(),
            if uds { "uds" } else { "tcp" },
            1 + mids * 3,
            outcome,
            rec.exit_after,
            rec.notes
                .iter()
                .map(|n| format!("\n    {n}"))
                .collect::<String>(),
            if stderr.is_empty() {
                String::new()
            } else {
                format!("\n    stderr:\n    {stderr}")
            },
        );
    }
    rec
}

fn is_signal(f: Fault) -> bool {
    !matches!(f, Fault::Error | Fault::Panic)
}

fn handle_line(
    l: &str,
    pids: &mut BTreeMap<String, u32>,
    up_at: &mut Option<Instant>,
    ending_ns: &mut Option<u128>,
    fault_ns: &mut Option<u128>,
    outcome: &mut Option<String>,
) {
    let mut w = l.splitn(2, ' ');
    let (tag, rest) = (w.next().unwrap_or(""), w.next().unwrap_or(""));
    match tag {
        "CHAOS_ACTOR" => {
            let mut f = rest.split_whitespace();
            if let (Some(n), Some(p)) = (f.next(), f.next().and_then(|p| p.parse().ok())) {
                pids.insert(n.to_string(), p);
            }
        }
        "CHAOS_UP" => *up_at = Some(Instant::now()),
        "CHAOS_ENDING" => *ending_ns = rest.parse().ok(),
        "CHAOS_FAULT" => *fault_ns = rest.rsplit(' ').next().and_then(|s| s.parse().ok()),
        "CHAOS_OUTCOME" => *outcome = Some(rest.to_string()),
        _ => {}
    }
}

#[allow(clippy::too_many_arguments)]
fn judge(
    rec: &mut Record,
    fault: Fault,
    victim: &str,
    pids: &BTreeMap<String, u32>,
    status: Option<ExitStatus>,
    outcome: Option<&str>,
    happened: bool,
    fault_ns: Option<u128>,
    ending_ns: Option<u128>,
) {
    use std::os::unix::process::ExitStatusExt;
    let code = status.and_then(|s| s.code());
    if !happened {
        // Error/panic not fired: the streams ended first (a clean run).
        rec.no_fault = true;
        if outcome != Some("ok") || code != Some(0) {
            rec.lost = true;
            rec.notes.push(format!(
                "no fault fired, yet not ok: {outcome:?} {status:?}"
            ));
        }
        return;
    }
    // A fault after the root began its clean ending may legitimately be
    // missed (the victim had already delivered its result).
    let after_ending = matches!((fault_ns, ending_ns), (Some(f), Some(e)) if f > e);
    match fault {
        Fault::Sigint | Fault::Sigterm => {
            let want = if fault == Fault::Sigint { 130 } else { 143 };
            if code == Some(0) && after_ending {
                rec.raced = true;
            } else if code != Some(want) {
                rec.lost = true;
                rec.notes.push(format!(
                    "root {}: want exit {want}, got {}",
                    fault.name(),
                    match (code, status.and_then(|s| s.signal())) {
                        (Some(c), _) => format!("exit {c}"),
                        (None, Some(s)) => format!("killed by signal {s}"),
                        _ => "no status".into(),
                    }
                ));
            }
        }
        _ => {
            let pid = pids.get(victim).copied().unwrap_or(0);
            let named = format!("{victim}@{pid}");
            match outcome {
                Some("ok") if after_ending && code == Some(0) => rec.raced = true,
                Some(o) if o.starts_with("error ") && o.contains(&named) && code == Some(1) => {}
                _ => {
                    rec.lost = true;
                    rec.notes.push(format!(
                        "lost error: want an error naming {named} (exit 1), got {outcome:?} / {status:?}"
                    ));
                }
            }
        }
    }
}

fn median(v: &mut [Duration]) -> Option<Duration> {
    v.sort();
    v.get(v.len() / 2).copied()
}

fn driver() {
    let iters: u64 = env_or("TRACTOR_CHAOS_ITERS", DEFAULT_ITERS);
    let seed: u64 = env_or(
        "TRACTOR_CHAOS_SEED",
        (unix_ns() as u64) ^ u64::from(std::process::id()),
    )
    .max(1);
    let faults = parse_faults();
    let transports: Vec<bool> = match std::env::var("TRACTOR_CHAOS_TRANSPORTS") {
        Ok(s) => s
            .split(',')
            .map(|t| match t.trim() {
                "uds" => true,
                "tcp" => false,
                other => panic!("unknown transport `{other}` in TRACTOR_CHAOS_TRANSPORTS"),
            })
            .collect(),
        Err(_) => vec![false, true],
    };
    println!(
        "chaos: {iters} iterations, faults {:?}, seed {seed} (rerun: TRACTOR_CHAOS_SEED={seed} TRACTOR_CHAOS_ITERS={iters} TRACTOR_CHAOS_FAULTS={})",
        faults.iter().map(|f| f.name()).collect::<Vec<_>>(),
        faults
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(",")
    );
    let started = Instant::now();
    let budget = PER_ITER_BUDGET * (iters as u32 + 2);

    let base = std::env::temp_dir().join(format!(
        "tractor-chaos-{}-{}",
        std::process::id(),
        seed % 100_000
    ));
    let xdg = base.join("xdg");
    std::fs::create_dir_all(&xdg).expect("create the run dir");
    let tcp_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let run = Run {
        registry_tcp: format!("tcp://{tcp_port}"),
        registry_uds: format!("uds://{}", base.join("registrar.sock").display()),
        xdg,
    };
    // Two registrars (one per transport), each a tree of its own.
    let reg_tree = format!("chaos-registrar-{}", std::process::id());
    let registrars: Vec<Proc> = [
        ("tcp", run.registry_tcp.clone()),
        ("uds", run.registry_uds.clone()),
    ]
    .into_iter()
    .map(|(t, addr)| {
        let p = spawn_role(
            "registrar",
            &[
                ("TRACTOR_TREE", reg_tree.clone()),
                ("TRACTOR_REGISTRY_ADDR", addr),
                ("CHAOS_TRANSPORT", t.to_string()),
                ("TRACTOR_LOGLEVEL", "error".to_string()),
            ],
        );
        match p.events.recv_timeout(Duration::from_secs(20)) {
            Ok(Event::Line(l)) if l.starts_with("CHAOS_REGISTRAR_UP") => {}
            other => {
                kill_tree(&reg_tree, p.pid);
                panic!(
                    "the {t} registrar did not come up: {}",
                    match other {
                        Ok(Event::Line(l)) => l,
                        _ => "no line".into(),
                    }
                );
            }
        }
        p
    })
    .collect();

    let mut rng = Rng(seed);
    let mut records: Vec<Record> = Vec::new();
    for i in 0..iters {
        let fault = faults[rng.below(faults.len() as u64) as usize];
        let uds = transports[rng.below(transports.len() as u64) as usize];
        records.push(iteration(&run, i, fault, &mut rng, uds));
        if started.elapsed() > budget {
            for p in &registrars {
                kill_tree(&reg_tree, p.pid);
            }
            panic!(
                "chaos: passed its {budget:?} budget after {} iterations",
                i + 1
            );
        }
    }
    let elapsed = started.elapsed();

    // The registrars go last; nothing of theirs may survive either.
    for p in &registrars {
        signal(p.pid, libc::SIGKILL);
    }
    let reg_left = tractor::testing::wait_gone(&reg_tree, CLEANUP_DEADLINE);
    let _ = std::fs::remove_dir_all(&base);

    // The table.
    println!(
        "\nchaos: {iters} iterations in {elapsed:.1?} (seed {seed})\n{:<8} {:>5} {:>5} {:>9} {:>7} {:>5} {:>8} {:>5} {:>6} {:>8} {:>10} {:>10}",
        "fault",
        "count",
        "hangs",
        "survivors",
        "sockets",
        "stale",
        "registry",
        "lost",
        "raced",
        "no-fault",
        "median",
        "max"
    );
    let mut failed_default = 0;
    for f in Fault::ALL {
        let rs: Vec<&Record> = records.iter().filter(|r| r.fault == Some(f)).collect();
        if rs.is_empty() {
            continue;
        }
        let count = |p: fn(&Record) -> bool| rs.iter().filter(|r| p(r)).count();
        let mut times: Vec<Duration> = rs.iter().filter_map(|r| r.exit_after).collect();
        let max = times.iter().max().copied();
        let med = median(&mut times);
        let fmt = |d: Option<Duration>| d.map_or("-".into(), |d| format!("{:.0?}", d));
        println!(
            "{:<8} {:>5} {:>5} {:>9} {:>7} {:>5} {:>8} {:>5} {:>6} {:>8} {:>10} {:>10}",
            f.name(),
            rs.len(),
            count(|r| r.hang),
            count(|r| r.survivors),
            count(|r| r.sockets),
            count(|r| r.stale),
            count(|r| r.registry),
            count(|r| r.lost),
            count(|r| r.raced),
            count(|r| r.no_fault),
            fmt(med),
            fmt(max)
        );
        if DEFAULT_FAULTS.contains(&f) {
            failed_default += count(Record::failed);
        }
    }
    assert!(
        reg_left.is_empty(),
        "the registrars left processes behind: {}",
        tractor::testing::describe(&reg_left)
    );
    assert_eq!(
        failed_default, 0,
        "chaos: {failed_default} iterations of default fault kinds failed (seed {seed}; see above)"
    );
    println!("chaos: ok");
}

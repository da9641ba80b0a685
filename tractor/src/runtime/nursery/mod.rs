//! `ActorNursery`: a scope that owns child actor processes.
//!
//! Like a trio nursery, the scope cannot end before every child is done
//! and reaped. Supervision is one-cancels-all by default ([`Supervision`]):
//!
//! * the body's error, and any child's error (a `run_in_actor` child's
//!   error, a daemon that dies on its own or stops answering), cancels
//!   every sibling at once and interrupts the body;
//! * errors that arrive while that cancel is under way are still
//!   aggregated: one is returned bare, several as a [`MultiError`] keyed by
//!   actor; errors caused by our own cancellation are not counted;
//! * a body that had already returned its value when a child failed gets
//!   it back inside the error ([`Error::ValueKept`]).
//!
//! [`Supervision::WaitForAllResults`] keeps Python tractor's order for
//! batch jobs that want every error: child errors are collected until
//! every `run_in_actor` child has finished, and only then are the daemons
//! cancelled.
//!
//! Children are supervised by runtime-owned tasks, so dropping the scope's
//! future mid-way still gets every child cancelled and reaped.

#[macro_use]
mod builders;
mod handle;
mod one_shot;
mod scope;

use builders::SpawnOptions;
pub use builders::{CancelNursery, RunInActorBuilder, StartActor};
pub use handle::{NurseryHandle, StartActorFrom};
pub use one_shot::RunInActor;
pub(crate) use one_shot::{MainOutcome, MainSlot};
pub use scope::Supervision;
pub(crate) use scope::run_scope;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::watch;

use super::actor::{ActorRuntime, lock};
use super::endpoint::{Call, Endpoint};
use super::error::{Error, RemoteErrorKind};
use super::portal::Portal;
use super::supervisor::{ChildProc, ExitInfo, Teardown};
use crate::ipc::{Aid, FuncType, Msg, SpawnSpec, TransportKind};
use crate::spawn::{BootExit, ChildEnv, SpawnError, SpawnMethod};

/// How long a spawned child may take to connect back.
const BOOT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a child that closed its channel mid-boot gets to exit on its own.
const EXIT_GRACE: Duration = Duration::from_secs(1);

#[derive(Clone)]
struct ChildRecord {
    proc: Arc<ChildProc>,
    /// Set for a `run_in_actor` child once its main task is scheduled.
    main: Arc<OnceLock<Arc<MainSlot>>>,
    /// Raised once whatever this child contributes to the nursery's
    /// errors is recorded (by its exit watcher, or its main task).
    settled: Arc<watch::Sender<bool>>,
}

impl ChildRecord {
    /// Waits until the child is reaped and its failure, if any, recorded.
    async fn wait_settled(&self) {
        self.proc.wait_exit().await;
        let _ = self.settled.subscribe().wait_for(|s| *s).await;
    }
}

/// Raises a child's `settled` flag when dropped: on every way out of the
/// task that reports the child.
struct Settle(Arc<watch::Sender<bool>>);

impl Drop for Settle {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

/// A child's failure, in the order children were spawned.
struct Failure {
    index: usize,
    actor: Aid,
    error: Error,
}

pub(crate) struct NurseryInner {
    rt: Arc<ActorRuntime>,
    supervision: Supervision,
    /// When it opened, and the RPC task that opened it (none: the root's
    /// body), for a task dump.
    opened: std::time::Instant,
    owner: Option<&'static str>,
    children: Mutex<Vec<ChildRecord>>,
    cancel_called: AtomicBool,
    closed: AtomicBool,
    /// Spawns under way (a handle's may come from any thread): the scope
    /// closes only once none is, with the `children` lock held by both.
    spawning: watch::Sender<usize>,
    failures: Mutex<Vec<Failure>>,
    /// Raised with the first failure: wakes the scope to interrupt its body.
    failed: watch::Sender<bool>,
}

impl NurseryInner {
    fn new(rt: Arc<ActorRuntime>, supervision: Supervision) -> Self {
        NurseryInner {
            rt,
            supervision,
            opened: std::time::Instant::now(),
            owner: super::rpc::current_task_path(),
            children: Mutex::new(Vec::new()),
            cancel_called: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            spawning: watch::channel(0).0,
            failures: Mutex::new(Vec::new()),
            failed: watch::channel(false).0,
        }
    }

    fn snapshot(&self) -> Vec<ChildRecord> {
        lock(&self.children).clone()
    }

    /// Admits a spawn unless the nursery has closed; it does not close
    /// while the returned ticket lives.
    fn begin_spawn(self: &Arc<Self>) -> Option<SpawnTicket> {
        let _children = lock(&self.children);
        if self.closed.load(Ordering::SeqCst) {
            return None;
        }
        self.spawning.send_modify(|n| *n += 1);
        Some(SpawnTicket(self.clone()))
    }

    /// Waits until every child has settled and no spawn is under way,
    /// then closes the nursery (to spawns through a handle too): a child
    /// whose spawn began before the close is waited for like the rest.
    async fn settle_and_close(&self) {
        let mut spawning = self.spawning.subscribe();
        loop {
            let _ = spawning.wait_for(|n| *n == 0).await;
            let seen = self.snapshot();
            for c in &seen {
                c.wait_settled().await;
            }
            let children = lock(&self.children);
            if *self.spawning.borrow() == 0 && children.len() == seen.len() {
                self.closed.store(true, Ordering::SeqCst);
                return;
            }
        }
    }

    /// When the nursery opened.
    pub(crate) fn opened(&self) -> std::time::Instant {
        self.opened
    }

    /// The endpoint whose task opened it; `None` outside an RPC task.
    pub(crate) fn owner(&self) -> Option<&'static str> {
        self.owner
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel_called.load(Ordering::SeqCst)
    }

    /// Its children, in the order they were spawned (reaped ones too).
    pub(crate) fn procs(&self) -> Vec<Arc<ChildProc>> {
        lock(&self.children)
            .iter()
            .map(|c| c.proc.clone())
            .collect()
    }

    fn teardown_all(&self, how: Teardown) {
        for c in lock(&self.children).iter() {
            c.proc.request_teardown(how);
        }
    }

    /// Cancels every child (graceful ladder); children spawned later are
    /// refused.
    fn cancel_all(&self) {
        self.cancel_called.store(true, Ordering::SeqCst);
        self.teardown_all(Teardown::Graceful);
    }

    /// Records a child's failure (once per child) and, under
    /// one-cancels-all, cancels every sibling at once.
    fn child_failed(&self, actor: &Aid, error: Error) {
        {
            let mut failures = lock(&self.failures);
            if failures.iter().any(|f| f.actor == *actor) {
                return;
            }
            let index = lock(&self.children)
                .iter()
                .position(|c| c.proc.aid == *actor)
                .unwrap_or(usize::MAX);
            tracing::debug!(target: "tractor::cancel", child = %actor, "child failed: {error}");
            failures.push(Failure {
                index,
                actor: actor.clone(),
                error,
            });
        }
        if self.supervision == Supervision::OneCancelsAll {
            self.cancel_all();
        }
        self.failed.send_replace(true);
    }

    fn has_failures(&self) -> bool {
        !lock(&self.failures).is_empty()
    }

    /// The failures recorded so far, in the order children were spawned.
    fn take_failures(&self) -> Vec<(Aid, Error)> {
        let mut failures: Vec<Failure> = std::mem::take(&mut *lock(&self.failures));
        failures.sort_by_key(|f| f.index);
        failures.into_iter().map(|f| (f.actor, f.error)).collect()
    }
}

/// The error a child that ended outside its main task's result
/// contributes: it stopped answering, or died.
fn exit_error(proc: &ChildProc, exit: &ExitInfo, what: &str) -> Error {
    if let Some(super::conn::LostReason::Unresponsive { silent_for }) = proc.conn.lost_reason() {
        return Error::PeerUnresponsive {
            peer: proc.aid.clone(),
            silent_for,
        };
    }
    Error::ActorFailure {
        actor: proc.aid.clone(),
        reason: match &exit.failure {
            Some(why) => why.clone(),
            None => format!("{what} ({})", exit.status),
        },
    }
}

/// A spawn under way (see [`NurseryInner::begin_spawn`]).
struct SpawnTicket(Arc<NurseryInner>);

impl Drop for SpawnTicket {
    fn drop(&mut self) {
        let _children = lock(&self.0.children);
        self.0.spawning.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Withdraws the wait for a child connecting back, however the spawn
/// ends (also when its future is dropped mid-way).
struct AwaitedChild<'a>(&'a ActorRuntime, uuid::Uuid);

impl Drop for AwaitedChild<'_> {
    fn drop(&mut self) {
        self.0.forget_child(&self.1);
    }
}

/// Tears the children down if the scope's future is dropped before it
/// finished (Rust has no async drop: the runtime-owned supervisors do the
/// awaiting). Inside an RPC task, the dropped nursery is handed to the
/// task's [`Orphans`], so its children's failures still reach the caller.
struct ScopeGuard(Arc<NurseryInner>);

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        if !self.0.closed.swap(true, Ordering::SeqCst) {
            self.0.cancel_all();
            super::rpc::adopt_orphan(self.0.clone());
        }
    }
}

/// The nurseries a cancelled task dropped mid-way.
///
/// A task's cancellation drops its future, and with it any nursery scope
/// in it; but a child of that nursery may have failed before the cancel,
/// or fail while it is torn down. trio would raise those errors instead
/// of the cancellation; here the task collects them ([`settle`](Self::settle))
/// and reports them instead of `ContextCancelled`, so none is dropped.
#[derive(Clone, Default)]
pub(crate) struct Orphans(Arc<Mutex<Vec<Arc<NurseryInner>>>>);

impl Orphans {
    /// Keeps `nursery`, dropped mid-way by the task, for [`settle`](Self::settle).
    pub(crate) fn adopt(&self, nursery: Arc<NurseryInner>) {
        lock(&self.0).push(nursery);
    }

    /// Waits until every child of the dropped nurseries is reaped, and
    /// returns the failures they recorded (ours excluded: the ends we
    /// caused are not failures).
    pub(crate) async fn settle(&self) -> Vec<(Aid, Error)> {
        let nurseries: Vec<_> = std::mem::take(&mut *lock(&self.0));
        let mut errors = Vec::new();
        for inner in nurseries {
            for c in inner.snapshot() {
                c.wait_settled().await;
            }
            errors.extend(inner.take_failures());
        }
        errors
    }
}

/// A process nursery: spawns child actors and supervises them. Obtained
/// from [`open_nursery`](crate::open_nursery).
///
/// ```no_run
/// #[tractor::endpoint]
/// async fn double(x: u32) -> u32 { x * 2 }
///
/// async fn demo() -> Result<(), tractor::Error> {
///     tractor::open_nursery(async |an| {
///         // A one-shot child: runs one call, then is reaped.
///         let one = an.run_in_actor(double::call(21)).await?;
///         // A daemon: serves calls until cancelled.
///         let daemon = an.start_actor("doubler").enable_modules([module_path!()]).await?;
///         assert_eq!(daemon.run(double::call(1)).await?, 2);
///         assert_eq!(one.wait_for_result().await?, 42);
///         an.cancel().await; // the scope ends only once every child is reaped
///         Ok(())
///     })
///     .await
/// }
/// # fn main() {}
/// ```
pub struct ActorNursery {
    inner: Arc<NurseryInner>,
}

impl std::fmt::Debug for ActorNursery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorNursery")
            .field("children", &self.children())
            .field("cancel_called", &self.cancel_called())
            .finish()
    }
}

impl ActorNursery {
    /// Starts a daemon child that serves RPC until cancelled.
    ///
    /// ```no_run
    /// # async fn demo(an: &tractor::ActorNursery) -> Result<(), tractor::Error> {
    /// let portal = an.start_actor("frank").enable_modules(["my_crate::api"]).await?;
    /// # Ok(()) }
    /// ```
    pub fn start_actor(&self, name: impl Into<String>) -> StartActor<'_> {
        StartActor {
            an: self,
            opts: SpawnOptions::new(name.into()),
        }
    }

    /// Spawns a child that runs one endpoint call and is reaped as soon as
    /// its result arrives. The endpoint's module is enabled automatically.
    ///
    /// ```no_run
    /// #[tractor::endpoint]
    /// async fn checksum(path: String) -> Result<u64, String> {
    ///     let bytes = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
    ///     Ok(bytes.iter().map(|&b| b as u64).sum())
    /// }
    ///
    /// async fn demo(an: &tractor::ActorNursery) -> Result<(), tractor::Error> {
    ///     // One process per file, in parallel; each result is typed.
    ///     let mut jobs = Vec::new();
    ///     for f in ["a.bin", "b.bin"] {
    ///         jobs.push(an.run_in_actor(checksum::call(f.into())).name(format!("sum_{f}")).await?);
    ///     }
    ///     for job in jobs {
    ///         let sum: u64 = job.wait_for_result().await?;
    ///         println!("{sum}");
    ///     }
    ///     Ok(())
    /// }
    /// # fn main() {}
    /// ```
    pub fn run_in_actor<E: Endpoint>(&self, call: Call<E>) -> RunInActorBuilder<'_, E> {
        RunInActorBuilder {
            an: self,
            opts: SpawnOptions::new(E::NAME.to_string()),
            call,
        }
    }

    /// Cancels every child (graceful cancel request first, escalating to
    /// signals) and waits until all are reaped.
    ///
    /// ```no_run
    /// # async fn demo(an: &tractor::ActorNursery) -> Result<(), tractor::Error> {
    /// an.start_actor("worker").await?;
    /// // Done with the daemons: without this the scope would wait for them forever.
    /// an.cancel().await;
    /// assert!(an.cancel_called() && an.children().is_empty());
    /// # Ok(()) }
    /// ```
    pub fn cancel(&self) -> CancelNursery<'_> {
        CancelNursery {
            an: self,
            hard: false,
        }
    }

    /// Whether this nursery was cancelled.
    pub fn cancel_called(&self) -> bool {
        self.inner.cancel_called.load(Ordering::SeqCst)
    }

    /// The children not yet reaped.
    pub fn children(&self) -> Vec<crate::Aid> {
        self.inner
            .snapshot()
            .iter()
            .filter(|c| c.proc.exit_info().is_none())
            .map(|c| c.proc.aid.clone())
            .collect()
    }

    async fn spawn(&self, opts: SpawnOptions) -> Result<(ChildRecord, Portal), Error> {
        let rt = &self.inner.rt;
        if !rt.home.is_here() {
            return Err(Error::AwayFromHome {
                actor: rt.aid().clone(),
            });
        }
        let closed = || {
            Error::Cancelled(format!(
                "cannot spawn `{}`: the nursery is cancelled or closed",
                opts.name
            ))
        };
        let Some(_ticket) = self.inner.begin_spawn() else {
            return Err(closed());
        };
        if self.cancel_called() {
            return Err(closed());
        }
        if rt.cancel.is_cancelled() {
            return Err(Error::Cancelled(format!(
                "cannot spawn `{}`: actor {} is cancelling",
                opts.name,
                rt.aid()
            )));
        }
        let uuid = uuid::Uuid::new_v4();
        let env = ChildEnv {
            parent_addr: rt.listen_addr.clone(),
            name: opts.name.clone(),
            uuid,
            tree_id: rt.p.tree_id.clone(),
            secret: rt.p.secret.clone(),
            tls: rt.p.tls.clone(),
            // A program on another host may be another build.
            build: match opts.launcher {
                crate::spawn::Launcher::Local => None,
                _ => Some(rt.endpoints.identity()),
            },
        };
        let loglevel = std::env::var(crate::spawn::env::LOGLEVEL)
            .ok()
            .or_else(|| opts.loglevel.clone())
            .or_else(|| rt.p.loglevel.clone());
        // The environment wins, then this spawn's choice, then the actor's.
        let method = SpawnMethod::effective(opts.spawn_method.unwrap_or(rt.p.spawn_method))?;
        let started = std::time::Instant::now();
        let connected = rt.expect_child(uuid);
        let awaited = AwaitedChild(rt, uuid);
        let cx = crate::spawn::SpawnContext {
            exec_args: &rt.p.exec_args,
            loglevel: loglevel.as_deref(),
            forkserver: &rt.forkserver,
            spawner: &rt.spawner,
            max_frame: rt.p.limits.max_frame,
        };
        let spawned = crate::spawn::start(&opts.launcher, method, &env, &cx).await?;
        if let Some(t) = spawned.channel {
            super::accept::accept_handed(rt, t, uuid);
        }
        let mut child = spawned.child;
        let conn = tokio::select! {
            c = connected => c.map_err(|_| Error::Cancelled("actor is shutting down".into())),
            st = child.wait() => Err(boot_death(rt, &opts.name, started, st).into()),
            _ = tokio::time::sleep(BOOT_TIMEOUT) => Err(SpawnError::BootTimeout {
                name: opts.name.clone(),
                secs: BOOT_TIMEOUT.as_secs(),
            }.into()),
        };
        drop(awaited);
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                let pid = child.id();
                let _ = child.start_kill();
                let _ = child.wait().await;
                if let Some(pid) = pid {
                    crate::spawn::note_reaped(pid);
                }
                return Err(e);
            }
        };
        let aid = conn.chan.peer().clone();
        let spec = SpawnSpec {
            enable_modules: opts.enable_modules.clone(),
            transport: opts.transport.unwrap_or(rt.p.transport),
            registry_addrs: rt.p.registry_addrs.clone(),
            loglevel,
            debug_mode: opts.debug_mode || rt.p.debug_mode,
            // A child in debug mode may sit in a REPL or under gdb: its
            // subtree does not take silence for death.
            heartbeat_ms: rt
                .p
                .heartbeat
                .filter(|_| !opts.debug_mode)
                .map(crate::ipc::Heartbeat::to_millis),
            limits: rt.p.limits,
            spawn_method: opts
                .child_spawn_method
                .unwrap_or(method)
                .as_str()
                .to_string(),
        };
        let proc = ChildProc::supervise(rt, aid.clone(), conn.clone(), child);
        let record = self.record(proc.clone());
        if let Err(e) = conn.chan.send(&Msg::SpawnSpec(Box::new(spec))).await {
            proc.request_teardown(Teardown::Hard);
            return Err(e.into());
        }
        // Spawning ends when the child reports it is listening and
        // registered, so a lookup right after `start_actor` finds it.
        let mut ready = conn.ready.subscribe();
        let booted = tokio::select! {
            r = ready.wait_for(|r| *r) => r.is_ok(),
            _ = conn.chan.closed() => false,
            _ = tokio::time::sleep(BOOT_TIMEOUT) => false,
        };
        if !booted {
            // A child that closed its channel is exiting with a code that
            // says why; give it a moment to, rather than killing it first.
            let exit = match tokio::time::timeout(EXIT_GRACE, proc.wait_exit()).await {
                Ok(exit) => exit,
                Err(_) => {
                    proc.request_teardown(Teardown::Hard);
                    proc.wait_exit().await
                }
            };
            proc.request_teardown(Teardown::Hard);
            let cause = exit.code.and_then(BootExit::from_code);
            return Err(SpawnError::DiedDuringBoot {
                name: opts.name.clone(),
                status: exit.status,
                // It completed the handshake, so it did enter child mode.
                cause: Some(cause.unwrap_or(BootExit::BootFailed)),
            }
            .into());
        }
        tracing::info!(target: "tractor::spawn", child = %aid, "spawned");
        let portal = Portal::kept(rt.clone(), conn);
        Ok((record, portal))
    }

    /// Records a child the moment it exists, so a scope dropped while the
    /// child is still booting tears it down too.
    ///
    /// A daemon that exits on its own (it crashed, was killed, stopped
    /// answering) is a failure of this nursery; a one-shot child's failure
    /// is reported by its main task instead, with its result.
    fn record(&self, proc: Arc<ChildProc>) -> ChildRecord {
        let record = ChildRecord {
            proc: proc.clone(),
            main: Arc::new(OnceLock::new()),
            settled: Arc::new(watch::channel(false).0),
        };
        lock(&self.inner.children).push(record.clone());
        // A spawn that was under way when the nursery was cancelled: the
        // cancel did not see this child, so it is torn down here.
        if self.cancel_called() {
            proc.request_teardown(Teardown::Graceful);
        }
        let inner = self.inner.clone();
        let watched = record.clone();
        self.inner.rt.work.spawn_local(async move {
            let exit = proc.wait_exit().await;
            if watched.main.get().is_some() {
                return;
            }
            let _settle = Settle(watched.settled.clone());
            if !exit.success && !exit.requested {
                let err = exit_error(&proc, &exit, "the daemon exited unexpectedly");
                inner.child_failed(&proc.aid, err);
            }
        });
        record
    }
}

/// Why child `name`, spawned at `started`, died before connecting back:
/// its boot exit code, or this process being unable to accept it.
fn boot_death(
    rt: &ActorRuntime,
    name: &str,
    started: std::time::Instant,
    st: std::io::Result<std::process::ExitStatus>,
) -> SpawnError {
    let (status, err) = match st {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e)),
    };
    let died = SpawnError::died_during_boot(name, status, err);
    let unreached = matches!(
        died,
        SpawnError::DiedDuringBoot {
            cause: Some(BootExit::NoParent),
            ..
        }
    );
    match rt.exhaustion_since(started) {
        Some((resource, source)) if unreached => SpawnError::ResourceExhausted {
            name: name.to_string(),
            resource,
            stage: crate::spawn::SpawnStage::Accept,
            source,
        },
        _ => died,
    }
}

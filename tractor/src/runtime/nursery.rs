//! `ActorNursery`: a scope that owns child actor processes.
//!
//! Like a trio nursery, the scope cannot end before every child is done
//! and reaped. Supervision is one-cancels-all, with tractor's ordering:
//!
//! * the body's error cancels every child at once;
//! * a `run_in_actor` child's error is recorded; once every `run_in_actor`
//!   child has finished, any recorded error cancels the remaining daemons
//!   (a body that re-raises such a child's error, having awaited its
//!   result, is supervised the same way, so no sibling's error is lost);
//! * errors are aggregated: one is returned bare, several as a
//!   [`MultiError`] keyed by actor; errors caused by our own cancellation
//!   are not counted.
//!
//! Children are supervised by runtime-owned tasks, so dropping the scope's
//! future mid-way still gets every child cancelled and reaped.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::actor::{ActorRuntime, lock};
use super::endpoint::{Call, Endpoint};
use super::error::{Error, MultiError, RemoteErrorKind};
use super::portal::{MainOutcome, MainSlot, Portal, RunInActor};
use super::supervisor::{ChildProc, Teardown};
use crate::ipc::{Aid, FuncType, Msg, SpawnSpec, TransportKind};
use crate::spawn::{BootExit, ChildEnv, SpawnError, spawn_exec};

/// How long a spawned child may take to connect back.
const BOOT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a child that closed its channel mid-boot gets to exit on its own.
const EXIT_GRACE: Duration = Duration::from_secs(1);

#[derive(Clone)]
struct ChildRecord {
    proc: Arc<ChildProc>,
    /// Set for a `run_in_actor` child once its main task is scheduled.
    main: Arc<OnceLock<Arc<MainSlot>>>,
}

struct NurseryInner {
    rt: Arc<ActorRuntime>,
    children: Mutex<Vec<ChildRecord>>,
    cancel_called: AtomicBool,
    closed: AtomicBool,
}

impl NurseryInner {
    fn snapshot(&self) -> Vec<ChildRecord> {
        lock(&self.children).clone()
    }

    fn teardown_all(&self, how: Teardown) {
        for c in lock(&self.children).iter() {
            c.proc.request_teardown(how);
        }
    }
}

/// Tears the children down if the scope's future is dropped before it
/// finished (Rust has no async drop: the runtime-owned supervisors do the
/// awaiting).
struct ScopeGuard(Arc<NurseryInner>);

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        if !self.0.closed.swap(true, Ordering::SeqCst) {
            self.0.cancel_called.store(true, Ordering::SeqCst);
            self.0.teardown_all(Teardown::Graceful);
        }
    }
}

/// A process nursery: spawns child actors and supervises them. Obtained
/// from [`open_nursery`].
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

/// Opens an actor nursery, runs `body` with it, and returns only when every
/// child has finished and been reaped.
///
/// Boots an implicit root actor (named `root`) when no runtime runs here.
///
/// ```no_run
/// #[tractor::endpoint]
/// async fn square(x: u64) -> u64 { x * x }
///
/// #[tractor::main]
/// async fn main() -> Result<(), tractor::Error> {
///     let nine = tractor::open_nursery(async |an| {
///         let child = an.run_in_actor(square::call(3)).await?;
///         child.wait_for_result().await
///     })
///     .await?;
///     assert_eq!(nine, 9);
///     Ok(())
/// }
/// ```
pub async fn open_nursery<F, T>(body: F) -> Result<T, Error>
where
    F: AsyncFnOnce(&ActorNursery) -> Result<T, Error>,
{
    match super::current::try_current() {
        Some(rt) => run_scope(rt, body).await,
        None => {
            super::root::open_root_actor(super::root::RootConfig::default(), async move || {
                let rt = super::current::try_current().ok_or(Error::NoRuntime)?;
                run_scope(rt, body).await
            })
            .await
        }
    }
}

async fn run_scope<F, T>(rt: Arc<ActorRuntime>, body: F) -> Result<T, Error>
where
    F: AsyncFnOnce(&ActorNursery) -> Result<T, Error>,
{
    let an = ActorNursery {
        inner: Arc::new(NurseryInner {
            rt: rt.clone(),
            children: Mutex::new(Vec::new()),
            cancel_called: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        }),
    };
    let guard = ScopeGuard(an.inner.clone());
    let body_res = body(&an).await;
    let inner = an.inner.clone();
    let me = rt.aid().clone();
    let mut errors: Vec<(Aid, Error)> = Vec::new();
    // A body that re-raises a one-shot child's error (it awaited its
    // result) fails *because of* that child: supervise as for the child's
    // own error, so siblings still finish and report theirs.
    let mut reraised = None;
    let body_res = match body_res {
        Err(e) if reraises_child_error(&inner, &e) => {
            reraised = Some(e);
            Ok(None)
        }
        Err(e) => Err(e),
        Ok(v) => Ok(Some(v)),
    };
    let value = match body_res {
        Ok(v) => {
            // Every one-shot child's result first, raising their errors...
            for c in inner.snapshot() {
                if let Some(err) = child_error(&c).await {
                    errors.push((c.proc.aid.clone(), err));
                }
            }
            if !errors.is_empty() {
                inner.cancel_called.store(true, Ordering::SeqCst);
                inner.teardown_all(Teardown::Graceful);
            }
            v
        }
        Err(e) => {
            inner.cancel_called.store(true, Ordering::SeqCst);
            inner.teardown_all(Teardown::Graceful);
            for c in inner.snapshot() {
                if let Some(err) = child_error(&c).await {
                    errors.push((c.proc.aid.clone(), err));
                }
            }
            errors.insert(0, (me.clone(), e));
            None
        }
    };
    // ...then every daemon, for as long as it lives.
    for c in inner.snapshot() {
        let exit = c.proc.wait_exit().await;
        let already = errors.iter().any(|(a, _)| *a == c.proc.aid);
        if c.main.get().is_none() && !exit.success && !exit.requested && !already {
            errors.push((
                c.proc.aid.clone(),
                Error::ActorFailure {
                    actor: c.proc.aid.clone(),
                    reason: format!("daemon exited unexpectedly ({})", exit.status),
                },
            ));
        }
    }
    inner.closed.store(true, Ordering::SeqCst);
    drop(guard);
    match (value, errors.len()) {
        (Some(v), 0) => Ok(v),
        (_, 1) => Err(errors.remove(0).1),
        // Only when the body re-raised a child error that was not counted
        // (a cancellation we caused): it is still the body's outcome.
        (None, 0) => {
            Err(reraised.unwrap_or_else(|| Error::Cancelled("the nursery body failed".into())))
        }
        _ => Err(Error::Multi(MultiError { errors })),
    }
}

/// Whether `e` is the error a one-shot child of this nursery already
/// raised (the body awaited its result and passed it on).
fn reraises_child_error(inner: &NurseryInner, e: &Error) -> bool {
    let Some(r) = e.as_remote() else {
        return false;
    };
    inner.snapshot().iter().any(|c| {
        c.main
            .get()
            .and_then(|slot| slot.outcome())
            .is_some_and(|o| matches!(o, MainOutcome::Raised(raised) if raised == *r))
    })
}

/// The error a finished child contributes to its nursery, if any. Waits
/// for a one-shot child's result (and, if it was lost, for its exit).
async fn child_error(c: &ChildRecord) -> Option<Error> {
    let slot = c.main.get()?;
    let outcome = slot.wait().await;
    if slot.caused_by_cancel() {
        return None;
    }
    match outcome {
        MainOutcome::Returned(_) => None,
        MainOutcome::Raised(r) => Some(Error::Remote(r)),
        MainOutcome::Lost(_) | MainOutcome::Failed(_) => {
            let exit = c.proc.wait_exit().await;
            Some(Error::ActorFailure {
                actor: c.proc.aid.clone(),
                reason: format!("died before returning its result ({})", exit.status),
            })
        }
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
    pub fn run_in_actor<E: Endpoint>(&self, call: Call<E>) -> RunInActorBuilder<'_, E> {
        RunInActorBuilder {
            an: self,
            opts: SpawnOptions::new(E::NAME.to_string()),
            call,
        }
    }

    /// Cancels every child (graceful cancel request first, escalating to
    /// signals) and waits until all are reaped.
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

    async fn spawn(
        &self,
        opts: SpawnOptions,
    ) -> Result<(Arc<ChildProc>, Portal, Arc<OnceLock<Arc<MainSlot>>>), Error> {
        let rt = &self.inner.rt;
        if self.inner.closed.load(Ordering::SeqCst) || self.cancel_called() {
            return Err(Error::Cancelled(format!(
                "cannot spawn `{}`: the nursery is cancelled or closed",
                opts.name
            )));
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
        };
        let loglevel = std::env::var(crate::spawn::env::LOGLEVEL)
            .ok()
            .or_else(|| opts.loglevel.clone())
            .or_else(|| rt.p.loglevel.clone());
        let started = std::time::Instant::now();
        let connected = rt.expect_child(uuid);
        let mut child = match spawn_exec(&env, &rt.p.exec_args, loglevel.as_deref()) {
            Ok(c) => c,
            Err(e) => {
                rt.forget_child(&uuid);
                return Err(e.into());
            }
        };
        let conn = tokio::select! {
            c = connected => c.map_err(|_| Error::Cancelled("actor is shutting down".into())),
            st = child.wait() => Err(boot_death(rt, &opts.name, started, st).into()),
            _ = tokio::time::sleep(BOOT_TIMEOUT) => Err(SpawnError::BootTimeout {
                name: opts.name.clone(),
                secs: BOOT_TIMEOUT.as_secs(),
            }.into()),
        };
        rt.forget_child(&uuid);
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
        };
        let proc = ChildProc::supervise(rt, aid.clone(), conn.clone(), child);
        let main = self.record(proc.clone());
        if let Err(e) = conn.chan.send(&Msg::SpawnSpec(spec)).await {
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
        let portal = Portal {
            rt: rt.clone(),
            conn,
            main: None,
        };
        Ok((proc, portal, main))
    }

    /// Records a child the moment it exists, so a scope dropped while the
    /// child is still booting tears it down too.
    fn record(&self, proc: Arc<ChildProc>) -> Arc<OnceLock<Arc<MainSlot>>> {
        let main = Arc::new(OnceLock::new());
        lock(&self.inner.children).push(ChildRecord {
            proc,
            main: main.clone(),
        });
        main
    }
}

/// Options shared by `start_actor` and `run_in_actor`.
#[derive(Clone, Debug)]
struct SpawnOptions {
    name: String,
    enable_modules: Vec<String>,
    loglevel: Option<String>,
    debug_mode: bool,
    transport: Option<TransportKind>,
}

impl SpawnOptions {
    fn new(name: String) -> Self {
        SpawnOptions {
            name,
            enable_modules: Vec::new(),
            loglevel: None,
            debug_mode: false,
            transport: None,
        }
    }
}

macro_rules! spawn_option_setters {
    () => {
        /// Modules whose endpoints the child serves (its RPC allowlist).
        pub fn enable_modules<I, S>(mut self, modules: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.opts
                .enable_modules
                .extend(modules.into_iter().map(Into::into));
            self
        }

        /// The child's log filter (`TRACTOR_LOGLEVEL` still wins).
        pub fn loglevel(mut self, level: impl Into<String>) -> Self {
            self.opts.loglevel = Some(level.into());
            self
        }

        /// Debug mode for this child (OR-ed with the tree's).
        pub fn debug_mode(mut self, on: bool) -> Self {
            self.opts.debug_mode = on;
            self
        }

        /// The transport the child listens on (default: the parent's).
        pub fn transport(mut self, kind: TransportKind) -> Self {
            self.opts.transport = Some(kind);
            self
        }
    };
}

/// A pending [`ActorNursery::start_actor`]; configure it, then `.await` it.
#[must_use = "the actor is spawned only when awaited"]
pub struct StartActor<'a> {
    an: &'a ActorNursery,
    opts: SpawnOptions,
}

impl StartActor<'_> {
    spawn_option_setters!();

    /// Spawns the daemon (the same as awaiting the builder).
    pub async fn spawn(self) -> Result<Portal, Error> {
        let (_proc, portal, _main) = self.an.spawn(self.opts).await?;
        Ok(portal)
    }
}

impl<'a> IntoFuture for StartActor<'a> {
    type Output = Result<Portal, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + 'a>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.spawn())
    }
}

/// A pending [`ActorNursery::run_in_actor`]; configure it, then `.await` it.
#[must_use = "the actor is spawned only when awaited"]
pub struct RunInActorBuilder<'a, E: Endpoint> {
    an: &'a ActorNursery,
    opts: SpawnOptions,
    call: Call<E>,
}

impl<E: Endpoint> RunInActorBuilder<'_, E> {
    spawn_option_setters!();

    /// The child's name (default: the endpoint's fn name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.opts.name = name.into();
        self
    }

    /// Spawns the child and schedules its main task.
    pub async fn spawn(mut self) -> Result<RunInActor<E::Output>, Error> {
        self.opts.enable_modules.push(E::module().to_string());
        let (proc, mut portal, main) = self.an.spawn(self.opts).await?;
        let slot = Arc::new(MainSlot::new(E::PATH));
        portal.main = Some(slot.clone());
        let _ = main.set(slot.clone());
        let p = portal.clone();
        let me = self.an.inner.rt.aid().clone();
        let call = self.call;
        self.an.inner.rt.work.spawn_local(async move {
            let res = match p.start_dialog(&call, FuncType::AsyncFunc).await {
                Ok(d) => p.await_return(d).await,
                Err(e) => Err(e),
            };
            let outcome = match res {
                Ok(b) => MainOutcome::Returned(b),
                Err(Error::Remote(r)) => {
                    // Absorbed like tractor's ctxc: a cancel we asked for
                    // (nursery teardown or our own `cancel_actor`).
                    let by_us = r.kind() == RemoteErrorKind::ContextCancelled
                        && (proc.teardown_requested() || r.canceller() == Some(&me));
                    slot.mark_caused_by_cancel(by_us);
                    MainOutcome::Raised(r)
                }
                Err(Error::TransportClosed { peer }) => {
                    slot.mark_caused_by_cancel(proc.teardown_requested());
                    MainOutcome::Lost(peer)
                }
                Err(e) => MainOutcome::Failed(e.to_string()),
            };
            slot.set(outcome);
            // The result is in: the child has nothing left to do.
            proc.request_teardown(Teardown::Graceful);
        });
        Ok(RunInActor::new(portal))
    }
}

impl<'a, E: Endpoint> IntoFuture for RunInActorBuilder<'a, E> {
    type Output = Result<RunInActor<E::Output>, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + 'a>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.spawn())
    }
}

/// A pending [`ActorNursery::cancel`]; `.await` it.
#[must_use = "the nursery is cancelled only when awaited"]
pub struct CancelNursery<'a> {
    an: &'a ActorNursery,
    hard: bool,
}

impl CancelNursery<'_> {
    /// Skip the graceful request: SIGTERM, then SIGKILL.
    pub fn hard_kill(mut self) -> Self {
        self.hard = true;
        self
    }
}

impl<'a> IntoFuture for CancelNursery<'a> {
    type Output = ();
    type IntoFuture = Pin<Box<dyn Future<Output = ()> + 'a>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let inner = &self.an.inner;
            inner.cancel_called.store(true, Ordering::SeqCst);
            inner.teardown_all(if self.hard {
                Teardown::Hard
            } else {
                Teardown::Graceful
            });
            for c in inner.snapshot() {
                c.proc.wait_exit().await;
            }
        })
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

//! The pending operations of a nursery: configure, then `.await`.
//! `start_actor` and `run_in_actor` share their spawn options.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use super::*;

/// Options shared by `start_actor` and `run_in_actor`.
#[derive(Clone, Debug)]
pub(super) struct SpawnOptions {
    pub(super) name: String,
    pub(super) enable_modules: Vec<String>,
    pub(super) loglevel: Option<String>,
    pub(super) debug_mode: bool,
    pub(super) transport: Option<TransportKind>,
    pub(super) spawn_method: Option<SpawnMethod>,
    pub(super) child_spawn_method: Option<SpawnMethod>,
    pub(super) launcher: crate::spawn::Launcher,
}

impl SpawnOptions {
    pub(super) fn new(name: String) -> Self {
        SpawnOptions {
            name,
            enable_modules: Vec::new(),
            loglevel: None,
            debug_mode: false,
            transport: None,
            spawn_method: None,
            child_spawn_method: None,
            launcher: crate::spawn::Launcher::Local,
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

        /// The backend this child is spawned with (default: this actor's,
        /// which it inherited from its parent or the root's config);
        /// `TRACTOR_SPAWN_METHOD` wins. The child's own children use it
        /// too unless [`children_spawn_method`](Self::children_spawn_method)
        /// says otherwise.
        pub fn spawn_method(mut self, method: crate::SpawnMethod) -> Self {
            self.opts.spawn_method = Some(method);
            self
        }

        /// The backend the child spawns its own children with (default:
        /// the one it was spawned with).
        pub fn children_spawn_method(mut self, method: crate::SpawnMethod) -> Self {
            self.opts.child_spawn_method = Some(method);
            self
        }

        /// Runs the child on another host, through `ssh` (this program,
        /// copied there once; see [`SshHost`](crate::SshHost) for the port,
        /// key, options or an installed binary). This actor must listen
        /// where that host can reach it (`RootConfig::bind_addr`); the
        /// link is in mutual TLS.
        pub fn on_host(self, host: impl Into<crate::SshHost>) -> Self {
            self.launcher(crate::Launcher::Ssh(host.into()))
        }

        /// Where the child runs (default: here, by the spawn backend).
        pub fn launcher(mut self, launcher: crate::Launcher) -> Self {
            self.opts.launcher = launcher;
            self
        }
    };
}

/// A pending [`ActorNursery::start_actor`]; configure it, then `.await` it.
///
/// ```no_run
/// # async fn demo(an: &tractor::ActorNursery) -> Result<(), tractor::Error> {
/// let portal = an
///     .start_actor("db")
///     .enable_modules(["my_app::db"]) // the only endpoints it will serve
///     .loglevel("debug")
///     .transport(tractor::TransportKind::Uds)
///     .await?;
/// println!("spawned {}", portal.aid());
/// # Ok(()) }
/// ```
#[must_use = "the actor is spawned only when awaited"]
pub struct StartActor<'a> {
    pub(super) an: &'a ActorNursery,
    pub(super) opts: SpawnOptions,
}

impl<'a> std::fmt::Debug for StartActor<'a> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartActor")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl StartActor<'_> {
    spawn_option_setters!();

    /// Spawns the daemon (the same as awaiting the builder).
    pub async fn spawn(self) -> Result<Portal, Error> {
        let (_record, portal) = self.an.spawn(self.opts).await?;
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
///
/// ```no_run
/// #[tractor::endpoint]
/// async fn crunch(seed: u64) -> u64 { seed.wrapping_mul(6364136223846793005) }
///
/// async fn demo(an: &tractor::ActorNursery) -> Result<(), tractor::Error> {
///     let child = an
///         .run_in_actor(crunch::call(7))
///         .name("crunch-7") // default: the fn name, `crunch`
///         .debug_mode(true)
///         .await?;
///     println!("{}", child.wait_for_result().await?);
///     Ok(())
/// }
/// # fn main() {}
/// ```
#[must_use = "the actor is spawned only when awaited"]
pub struct RunInActorBuilder<'a, E: Endpoint> {
    pub(super) an: &'a ActorNursery,
    pub(super) opts: SpawnOptions,
    pub(super) call: Call<E>,
}

impl<'a, E: Endpoint> std::fmt::Debug for RunInActorBuilder<'a, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunInActorBuilder")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
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
        let (record, mut portal) = self.an.spawn(self.opts).await?;
        let proc = record.proc.clone();
        let slot = Arc::new(MainSlot::new(E::PATH));
        portal.main = Some(slot.clone());
        let _ = record.main.set(slot.clone());
        let settle = Settle(record.settled.clone());
        let p = portal.clone();
        let me = self.an.inner.rt.aid().clone();
        let call = self.call;
        let inner = self.an.inner.clone();
        self.an.inner.rt.work.spawn_local(async move {
            let _settle = settle;
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
                    MainOutcome::Lost {
                        peer,
                        silent_for: None,
                    }
                }
                Err(Error::PeerUnresponsive { peer, silent_for }) => MainOutcome::Lost {
                    peer,
                    silent_for: Some(silent_for),
                },
                Err(e) => MainOutcome::Failed(e.to_string()),
            };
            slot.set(outcome.clone());
            // The result is in: the child has nothing left to do.
            proc.request_teardown(Teardown::Graceful);
            if slot.caused_by_cancel() {
                return;
            }
            let err = match outcome {
                MainOutcome::Returned(_) => return,
                MainOutcome::Raised(r) => Error::Remote(r),
                MainOutcome::Lost { .. } | MainOutcome::Failed(_) => {
                    let exit = proc.wait_exit().await;
                    exit_error(&proc, &exit, "it died before returning its result")
                }
            };
            inner.child_failed(&proc.aid, err);
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
///
/// ```no_run
/// # async fn demo(an: &tractor::ActorNursery) {
/// // Children wedged in blocking code cannot ack a cancel request: skip it.
/// an.cancel().hard_kill().await;
/// # }
/// ```
#[must_use = "the nursery is cancelled only when awaited"]
pub struct CancelNursery<'a> {
    pub(super) an: &'a ActorNursery,
    pub(super) hard: bool,
}

impl<'a> std::fmt::Debug for CancelNursery<'a> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelNursery")
            .field("hard", &self.hard)
            .finish_non_exhaustive()
    }
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

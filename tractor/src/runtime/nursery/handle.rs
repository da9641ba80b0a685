//! `NurseryHandle`: starting children in a nursery from any task, on any
//! thread (a server's handlers on a multi-thread runtime). The spawn
//! itself runs at the actor's home, where every child is forked.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use super::builders::SpawnOptions;
use super::*;

/// A `Send + Clone` handle to an [`ActorNursery`], from
/// [`ActorNursery::handle`]: starts daemon children in that nursery from
/// tasks that cannot borrow it (spawned tasks, other threads).
///
/// A child started through a handle is the nursery's like any other: it
/// is supervised by it, fails it, and is cancelled and reaped before the
/// nursery's scope returns. Once that scope has ended (or the nursery was
/// cancelled), starting fails with [`Error::Cancelled`].
///
/// ```no_run
/// #[tractor::endpoint]
/// async fn hello(who: String) -> String { format!("hello {who}") }
///
/// # async fn demo(an: &tractor::ActorNursery) -> Result<(), tractor::Error> {
/// let handle = an.handle();
/// // A task of the program's own runtime, on any of its threads:
/// let greeted = tokio::spawn(async move {
///     let worker = handle.start_actor("greeter").enable_modules([module_path!()]).await?;
///     let greeting = worker.run(hello::call("you".into())).await?;
///     worker.cancel_actor().await?;
///     Ok::<_, tractor::Error>(greeting)
/// });
/// # let _ = greeted;
/// # Ok(()) }
/// # fn main() {}
/// ```
#[derive(Clone)]
pub struct NurseryHandle {
    inner: Arc<NurseryInner>,
}

impl std::fmt::Debug for NurseryHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NurseryHandle")
            .field("actor", &self.inner.rt.aid().to_string())
            .finish_non_exhaustive()
    }
}

impl ActorNursery {
    /// A `Send + Clone` handle that starts children in this nursery from
    /// other tasks and threads.
    ///
    /// ```no_run
    /// # async fn demo(an: &tractor::ActorNursery) {
    /// let handle = an.handle();
    /// tokio::spawn(async move { handle.start_actor("worker").await });
    /// # }
    /// ```
    pub fn handle(&self) -> NurseryHandle {
        NurseryHandle {
            inner: self.inner.clone(),
        }
    }
}

impl NurseryHandle {
    /// Starts a daemon child in the nursery; configure it, then `.await`
    /// it (a `Send` future).
    ///
    /// ```no_run
    /// # async fn demo(handle: tractor::NurseryHandle) -> Result<(), tractor::Error> {
    /// let portal = handle.start_actor("db").enable_modules(["my_app::db"]).await?;
    /// # Ok(()) }
    /// ```
    pub fn start_actor(&self, name: impl Into<String>) -> StartActorFrom {
        StartActorFrom {
            inner: self.inner.clone(),
            opts: SpawnOptions::new(name.into()),
        }
    }

    /// Whether the nursery was cancelled (or its scope ended): starting
    /// more children then fails.
    pub fn cancel_called(&self) -> bool {
        self.inner.cancel_called.load(Ordering::SeqCst) || self.inner.closed.load(Ordering::SeqCst)
    }
}

/// A pending [`NurseryHandle::start_actor`]; configure it, then `.await` it.
///
/// ```no_run
/// # async fn demo(handle: tractor::NurseryHandle) -> Result<(), tractor::Error> {
/// let portal = handle
///     .start_actor("cache")
///     .enable_modules(["my_app::cache"])
///     .loglevel("info")
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "the actor is spawned only when awaited"]
pub struct StartActorFrom {
    inner: Arc<NurseryInner>,
    opts: SpawnOptions,
}

impl std::fmt::Debug for StartActorFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartActorFrom")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl StartActorFrom {
    spawn_option_setters!();

    /// Spawns the daemon (the same as awaiting the builder).
    pub async fn spawn(self) -> Result<Portal, Error> {
        let StartActorFrom { inner, opts } = self;
        let rt = inner.rt.clone();
        // A fork is never dropped half-way (an axum handler's future is
        // dropped when its client goes): the spawn runs to its end, and a
        // child nobody is left to take is torn down again.
        let spawned = rt.home.run_to_end(
            move || async move { ActorNursery { inner }.spawn(opts).await },
            |unclaimed: Result<(ChildRecord, Portal), Error>| {
                if let Ok((record, _portal)) = unclaimed {
                    record.proc.request_teardown(Teardown::Graceful);
                }
            },
        );
        match spawned.await {
            Ok(res) => res.map(|(_record, portal)| portal),
            Err(not_run) => Err(not_run.into_error(rt.aid())),
        }
    }
}

impl IntoFuture for StartActorFrom {
    type Output = Result<Portal, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.spawn())
    }
}

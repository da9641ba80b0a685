//! `open_actor_cluster`: n daemon actors started at once, handed to a
//! body by name, torn down together when it ends.

use std::collections::HashSet;
use std::future::IntoFuture;

use crate::runtime::error::{ConfigError, Error, MultiError};
use crate::runtime::identity::current_actor;
use crate::runtime::nursery::ActorNursery;
use crate::runtime::portal::Portal;

use super::nursery::open_nursery;

/// What [`open_actor_cluster`] starts: how many daemons, their names, the
/// modules they serve, and how they are torn down.
///
/// ```
/// let cluster = tractor::Cluster::new([module_path!()]).count(4);
/// # let _ = cluster;
/// ```
#[derive(Clone, Debug)]
#[must_use = "a cluster is started only by `open_actor_cluster`"]
pub struct Cluster {
    modules: Vec<String>,
    count: Option<usize>,
    names: Option<Vec<String>>,
    hard_kill: bool,
}

impl Cluster {
    /// A cluster whose actors serve `modules` (their endpoints' module
    /// paths, as for [`StartActor::enable_modules`](crate::StartActor::enable_modules)):
    /// one actor per core, named `worker_0`, `worker_1`, ...
    pub fn new<I, S>(modules: I) -> Cluster
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cluster {
            modules: modules.into_iter().map(Into::into).collect(),
            count: None,
            names: None,
            hard_kill: false,
        }
    }

    /// How many actors (default: the cores this process may use).
    pub fn count(mut self, n: usize) -> Cluster {
        self.count = Some(n);
        self
    }

    /// The actors' names, one each (default: `worker_{i}`). With a
    /// [`count`](Self::count) too, the two must agree.
    ///
    /// ```
    /// let cluster = tractor::Cluster::new([module_path!()]).names(["left", "right"]);
    /// # let _ = cluster;
    /// ```
    pub fn names<I, S>(mut self, names: I) -> Cluster
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.names = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Tear the actors down without asking them first (SIGTERM, then
    /// SIGKILL), for actors that may be wedged in blocking code.
    pub fn hard_kill(mut self) -> Cluster {
        self.hard_kill = true;
        self
    }

    /// The names the actors get, checked.
    fn resolve_names(&self) -> Result<Vec<String>, ConfigError> {
        let names = match (&self.names, self.count) {
            (Some(names), Some(count)) if names.len() != count => {
                return Err(ConfigError::ClusterNames {
                    count,
                    names: names.len(),
                });
            }
            (Some(names), _) => names.clone(),
            (None, count) => {
                let count = count.unwrap_or_else(|| {
                    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
                });
                (0..count).map(|i| format!("worker_{i}")).collect()
            }
        };
        if names.is_empty() {
            return Err(ConfigError::EmptyCluster);
        }
        let mut seen = HashSet::new();
        if let Some(twice) = names.iter().find(|n| !seen.insert(n.as_str())) {
            return Err(ConfigError::ClusterNameTwice {
                name: twice.clone(),
            });
        }
        Ok(names)
    }
}

/// The actors of a cluster, by name, in the order they were named.
///
/// ```no_run
/// # fn demo(cluster: &tractor::ActorCluster) {
/// for (name, portal) in cluster.iter() {
///     println!("{name} is {}", portal.aid());
/// }
/// let first = cluster.get("worker_0");
/// # let _ = first;
/// # }
/// ```
#[derive(Debug)]
pub struct ActorCluster {
    actors: Vec<(String, Portal)>,
}

impl ActorCluster {
    /// The portal to the actor named `name`.
    pub fn get(&self, name: &str) -> Option<&Portal> {
        self.actors
            .iter()
            .find_map(|(n, p)| (n == name).then_some(p))
    }

    /// Every actor, as `(name, portal)`.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Portal)> {
        self.actors.iter().map(|(n, p)| (n.as_str(), p))
    }

    /// Every actor's portal.
    pub fn portals(&self) -> impl ExactSizeIterator<Item = &Portal> {
        self.actors.iter().map(|(_, p)| p)
    }

    /// Every actor's name.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.actors.iter().map(|(n, _)| n.as_str())
    }

    /// How many actors.
    pub fn len(&self) -> usize {
        self.actors.len()
    }

    /// Whether it has no actors (never, for a cluster that opened).
    pub fn is_empty(&self) -> bool {
        self.actors.is_empty()
    }
}

/// Starts the cluster's daemon actors all at once in a nursery of their
/// own, runs `body` with them by name, then cancels every one and returns
/// once all are reaped (tractor's `open_actor_cluster`).
///
/// If an actor fails to start, the others are torn down and the error is
/// returned (several as [`Error::Multi`]). A failure of the body, or of
/// an actor while the body runs, ends the cluster the way it ends any
/// nursery ([`open_nursery`]): every actor cancelled, the error returned.
/// Boots an implicit root actor when none runs here.
///
/// ```no_run
/// #[tractor::endpoint]
/// async fn square(x: u64) -> u64 { x * x }
///
/// #[tractor::main]
/// async fn main() -> Result<(), tractor::Error> {
///     let cluster = tractor::Cluster::new([module_path!()]).count(4);
///     let total = tractor::open_actor_cluster(cluster, async |cluster| {
///         let mut total = 0;
///         for (i, portal) in cluster.portals().enumerate() {
///             total += portal.run(square::call(i as u64)).await?;
///         }
///         Ok(total)
///     })
///     .await?;
///     assert_eq!(total, 0 + 1 + 4 + 9);
///     Ok(())
/// }
/// ```
pub async fn open_actor_cluster<F, T>(cluster: Cluster, body: F) -> Result<T, Error>
where
    F: AsyncFnOnce(&ActorCluster) -> Result<T, Error>,
    T: Send + 'static,
{
    let names = cluster.resolve_names()?;
    open_nursery(async move |an| {
        let started = start_all(an, &cluster.modules, names).await;
        let res = match started {
            Ok(actors) => body(&ActorCluster { actors }).await,
            Err(e) => Err(e),
        };
        let cancel = an.cancel();
        if cluster.hard_kill {
            cancel.hard_kill().await;
        } else {
            cancel.await;
        }
        res
    })
    .await
}

/// Starts one daemon per name, concurrently, and waits for every start to
/// end (none is dropped half-way); every failure is kept.
async fn start_all(
    an: &ActorNursery,
    modules: &[String],
    names: Vec<String>,
) -> Result<Vec<(String, Portal)>, Error> {
    let starts = names.iter().map(|name| {
        an.start_actor(name.clone())
            .enable_modules(modules.iter().cloned())
            .into_future()
    });
    let results = futures::future::join_all(starts).await;
    let mut actors = Vec::with_capacity(names.len());
    let mut failed = Vec::new();
    for (name, res) in names.into_iter().zip(results) {
        match res {
            Ok(portal) => actors.push((name, portal)),
            Err(e) => failed.push(e),
        }
    }
    match failed.len() {
        0 => Ok(actors),
        1 => Err(failed.remove(0)),
        _ => {
            // Errors of the nursery's own body are keyed by this actor.
            let me = current_actor()?.aid().clone();
            Err(MultiError {
                errors: failed.into_iter().map(|e| (me.clone(), e)).collect(),
            }
            .into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_default_to_workers_one_per_core() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let names = Cluster::new(["m"]).resolve_names();
        assert_eq!(names.map(|n| n.len()), Ok(cores));
        let names = Cluster::new(["m"]).count(3).resolve_names();
        assert_eq!(
            names,
            Ok(vec![
                "worker_0".into(),
                "worker_1".into(),
                "worker_2".into()
            ])
        );
    }

    #[test]
    fn names_that_do_not_fit_are_refused() {
        assert_eq!(
            Cluster::new(["m"])
                .count(3)
                .names(["a", "b"])
                .resolve_names(),
            Err(ConfigError::ClusterNames { count: 3, names: 2 })
        );
        assert_eq!(
            Cluster::new(["m"]).count(0).resolve_names(),
            Err(ConfigError::EmptyCluster)
        );
        assert_eq!(
            Cluster::new(["m"])
                .names(Vec::<String>::new())
                .resolve_names(),
            Err(ConfigError::EmptyCluster)
        );
        assert_eq!(
            Cluster::new(["m"]).names(["a", "b", "a"]).resolve_names(),
            Err(ConfigError::ClusterNameTwice { name: "a".into() })
        );
        assert_eq!(
            Cluster::new(["m"])
                .count(2)
                .names(["a", "b"])
                .resolve_names(),
            Ok(vec!["a".into(), "b".into()])
        );
    }
}

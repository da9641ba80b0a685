//! Shared async resources: [`ContextCache::maybe_open_context`] (many
//! tasks share one resource per key; the last user closes it) and
//! [`gather_contexts`].
//!
//! Rust has no async context managers, so a resource here is a pair: an
//! async *open* given at each call (run only on a cache miss), and an async
//! *close* given once to the [`ContextCache`]. Users hold a
//! [`SharedContext`] guard that derefs to the value; the last one to let go
//! closes it, awaiting the close (and getting its error) with
//! [`SharedContext::release`], or, if just dropped, from a detached task.
//! The cache is a value the program owns (put it in an `Arc` or a static),
//! not a hidden actor-wide global.

mod gather;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

pub use gather::{GatherError, gather_contexts};

use super::error::{BoxError, TaskError};

type CloseFn<V> =
    dyn Fn(V) -> Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>> + Send + Sync;

enum Slot<V> {
    /// A task is running the open; others wait for it.
    Opening(Arc<Notify>),
    Open {
        value: Arc<V>,
        users: usize,
    },
    /// The last user is closing it; newcomers wait, then open afresh.
    Closing(Arc<Notify>),
}

struct Inner<K, V> {
    slots: Mutex<HashMap<K, Slot<V>>>,
    close: Box<CloseFn<V>>,
}

impl<K, V> Inner<K, V> {
    fn lock(&self) -> MutexGuard<'_, HashMap<K, Slot<V>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A cache of shared async resources, one per key, each opened by its
/// first user and closed after its last (tractor's `maybe_open_context`).
///
/// ```
/// use std::sync::Arc;
/// use tractor::trionics::ContextCache;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // What closes a connection once its last user is done.
/// let cache = ContextCache::new(|conn: String| async move {
///     println!("closing {conn}");
///     Ok::<(), std::io::Error>(())
/// });
/// let a = cache.maybe_open_context("db", async || Ok::<_, std::io::Error>("conn-1".to_string())).await.unwrap();
/// let b = cache.maybe_open_context("db", async || Ok::<_, std::io::Error>("conn-2".to_string())).await.unwrap();
/// assert!(!a.cache_hit() && b.cache_hit());
/// assert_eq!(*b, "conn-1");
/// a.release().await.unwrap();
/// b.release().await.unwrap(); // the last user: closes "conn-1"
/// # }
/// ```
pub struct ContextCache<K, V> {
    inner: Arc<Inner<K, V>>,
}

impl<K, V> Clone for ContextCache<K, V> {
    fn clone(&self) -> Self {
        ContextCache {
            inner: self.inner.clone(),
        }
    }
}

impl<K, V> fmt::Debug for ContextCache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextCache").finish_non_exhaustive()
    }
}

impl<K, V> ContextCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// A cache whose resources are closed by `close` after their last user.
    ///
    /// ```
    /// let cache: tractor::trionics::ContextCache<u8, u8> =
    ///     tractor::trionics::ContextCache::new(|_v| async { Ok::<(), std::io::Error>(()) });
    /// ```
    pub fn new<F, Fut, E>(close: F) -> ContextCache<K, V>
    where
        F: Fn(V) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let close: Box<CloseFn<V>> = Box::new(move |v| {
            let fut = close(v);
            Box::pin(async move { fut.await.map_err(Into::into) })
        });
        ContextCache {
            inner: Arc::new(Inner {
                slots: Mutex::new(HashMap::new()),
                close,
            }),
        }
    }

    /// The resource for `key`: the cached one (a cache hit), or a fresh one
    /// from `open` (a miss) that later callers share.
    ///
    /// Callers arriving while another opens it wait for that open; if it
    /// fails or is cancelled, one of them opens instead (the cache is left
    /// as it was). Callers arriving while its last user closes it wait for
    /// the close, then open afresh.
    ///
    /// # Errors
    ///
    /// `open`'s error, on a miss.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let cache = tractor::trionics::ContextCache::new(|_v: u32| async { Ok::<(), std::io::Error>(()) });
    /// let v = cache.maybe_open_context(1, async || Ok::<_, std::io::Error>(7)).await.unwrap();
    /// assert_eq!((*v, v.cache_hit()), (7, false));
    /// # }
    /// ```
    pub async fn maybe_open_context<O, E>(&self, key: K, open: O) -> Result<SharedContext<K, V>, E>
    where
        O: AsyncFnOnce() -> Result<V, E>,
    {
        loop {
            let wait = {
                let mut slots = self.inner.lock();
                match slots.get_mut(&key) {
                    Some(Slot::Open { value, users }) => {
                        *users += 1;
                        return Ok(self.guard(key, value.clone(), true));
                    }
                    Some(Slot::Opening(n) | Slot::Closing(n)) => {
                        // Made under the lock, so `notify_waiters` reaches
                        // it even before its first poll: no lost wake-up.
                        n.clone().notified_owned()
                    }
                    None => {
                        slots.insert(key.clone(), Slot::Opening(Arc::new(Notify::new())));
                        break;
                    }
                }
            };
            wait.await;
        }
        // A miss: we open. If this future is dropped mid-open, or the open
        // fails, the guard removes the slot and wakes the waiters.
        let mut opening = OpeningGuard {
            inner: &self.inner,
            key: Some(key.clone()),
        };
        let value = Arc::new(open().await?);
        opening.key = None;
        let mut slots = self.inner.lock();
        if let Some(Slot::Opening(n)) = slots.insert(
            key.clone(),
            Slot::Open {
                value: value.clone(),
                users: 1,
            },
        ) {
            n.notify_waiters();
        }
        drop(slots);
        Ok(self.guard(key, value, false))
    }

    fn guard(&self, key: K, value: Arc<V>, cache_hit: bool) -> SharedContext<K, V> {
        SharedContext {
            cache: self.clone(),
            key,
            value: Some(value),
            cache_hit,
            left: false,
        }
    }

    /// Drops one user of `key`; if it was the last, starts the close on a
    /// runtime task and returns its handle.
    fn leave(&self, key: &K) -> Option<tokio::task::JoinHandle<Result<(), TaskError>>> {
        let runtime = tokio::runtime::Handle::try_current().ok();
        let value = {
            let mut slots = self.inner.lock();
            let Some(Slot::Open { users, .. }) = slots.get_mut(key) else {
                return None;
            };
            *users -= 1;
            if *users > 0 {
                return None;
            }
            if runtime.is_none() {
                // No runtime to run the close on: the value is just dropped.
                slots.remove(key);
                return None;
            }
            match slots.insert(key.clone(), Slot::Closing(Arc::new(Notify::new()))) {
                Some(Slot::Open { value, .. }) => value,
                _ => return None,
            }
        };
        let inner = self.inner.clone();
        let key = key.clone();
        let close = async move {
            // Every user's handle was dropped before it left: this is the
            // only one.
            let res = match Arc::try_unwrap(value) {
                Ok(value) => (inner.close)(value).await.map_err(TaskError::failed),
                Err(_) => Ok(()),
            };
            if let Some(Slot::Closing(n)) = inner.lock().remove(&key) {
                n.notify_waiters();
            }
            res
        };
        runtime.map(|handle| handle.spawn(close))
    }
}

struct OpeningGuard<'a, K: Hash + Eq, V> {
    inner: &'a Inner<K, V>,
    key: Option<K>,
}

impl<K: Hash + Eq, V> Drop for OpeningGuard<'_, K, V> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take()
            && let Some(Slot::Opening(n)) = self.inner.lock().remove(&key)
        {
            n.notify_waiters();
        }
    }
}

/// One user's share of a cached resource: derefs to the value. The last
/// user to [release](SharedContext::release) (or drop) it closes it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let cache = tractor::trionics::ContextCache::new(|_v: Vec<u8>| async { Ok::<(), std::io::Error>(()) });
/// let shared = cache.maybe_open_context("k", async || Ok::<_, std::io::Error>(vec![1, 2])).await.unwrap();
/// assert_eq!(shared.len(), 2);
/// shared.release().await.unwrap();
/// # }
/// ```
pub struct SharedContext<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    cache: ContextCache<K, V>,
    key: K,
    value: Option<Arc<V>>,
    cache_hit: bool,
    /// `release` already left the cache.
    left: bool,
}

impl<K, V> fmt::Debug for SharedContext<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedContext")
            .field("cache_hit", &self.cache_hit)
            .finish_non_exhaustive()
    }
}

impl<K, V> SharedContext<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// Whether the value came from the cache (`true`) or was opened for
    /// this caller (`false`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let cache = tractor::trionics::ContextCache::new(|_v: u8| async { Ok::<(), std::io::Error>(()) });
    /// let a = cache.maybe_open_context((), async || Ok::<_, std::io::Error>(1)).await.unwrap();
    /// assert!(!a.cache_hit());
    /// # }
    /// ```
    pub fn cache_hit(&self) -> bool {
        self.cache_hit
    }

    /// Lets go of the resource; if this was the last user, closes it and
    /// waits for the close, returning its error. Cancelling this wait
    /// does not cancel the close.
    ///
    /// # Errors
    ///
    /// The close's error (or panic), for the last user only.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let cache = tractor::trionics::ContextCache::new(|_v: u8| async { Err::<(), _>("flush failed") });
    /// let a = cache.maybe_open_context((), async || Ok::<_, std::io::Error>(1)).await.unwrap();
    /// assert!(a.release().await.is_err());
    /// # }
    /// ```
    pub async fn release(mut self) -> Result<(), TaskError> {
        drop(self.value.take());
        self.left = true;
        match self.cache.leave(&self.key) {
            Some(close) => match close.await {
                Ok(res) => res,
                Err(e) if e.is_panic() => Err(TaskError::from_panic(e.into_panic())),
                Err(_) => Err(TaskError::Cancelled),
            },
            None => Ok(()),
        }
    }
}

impl<K, V> Deref for SharedContext<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    type Target = V;

    fn deref(&self) -> &V {
        // Present until release or drop, which consume the handle.
        match &self.value {
            Some(v) => v,
            None => unreachable!("a SharedContext's value is only taken when it goes away"),
        }
    }
}

impl<K, V> Drop for SharedContext<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    fn drop(&mut self) {
        if !self.left {
            drop(self.value.take());
            // Dropped without release: the close (if last) runs detached.
            drop(self.cache.leave(&self.key));
        }
    }
}

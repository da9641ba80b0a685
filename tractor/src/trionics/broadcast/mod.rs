//! `broadcast_receiver`: fan one stream out to many local consumers.
//!
//! The source is polled by whichever subscriber needs the next item first;
//! there is no background task. A window of the last `max_buffer` items
//! lets slower subscribers catch up. When a subscriber falls further
//! behind than that, it either gets [`Lagged`] once and jumps to the
//! oldest item still held ([`BroadcastReceiver::subscribe`], the default),
//! or holds every other subscriber back until it catches up
//! ([`BroadcastReceiver::subscribe_backpressure`]). A dropped subscriber
//! never blocks the others.
//!
//! Items must be `Clone`. A fallible stream whose error is not `Clone`
//! (such as a [`RemoteStream`](crate::RemoteStream), whose items are
//! `Result<T, tractor::Error>`) can be shared after
//! `.map(|r| r.map_err(Arc::new))`.

mod state;

#[cfg(test)]
mod tests;

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::Stream;

use state::{Next, Shared, State, Waiters};

/// A subscriber fell more than the buffer's size behind and missed
/// `skipped` items; it goes on from the oldest item still buffered.
///
/// ```
/// let e = tractor::trionics::Lagged(3);
/// assert!(e.to_string().contains("missed 3"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "this subscriber missed {0} items by falling behind; read faster, use a larger buffer, or subscribe_backpressure()"
)]
pub struct Lagged(pub u64);

/// Why [`BroadcastReceiver::subscribe`] failed.
///
/// ```
/// let e = tractor::trionics::BroadcastError::Ended;
/// assert!(e.to_string().contains("ended"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BroadcastError {
    /// The source stream ended (or the broadcast was closed): there is
    /// nothing left to subscribe to.
    #[error("the broadcast's source has ended or was closed; open a new stream to subscribe to")]
    Ended,
}

/// Fans `source` out to many local subscribers, keeping up to `max_buffer`
/// items (at least 1) for those that fall behind.
///
/// ```
/// use futures::StreamExt;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let b = tractor::trionics::broadcast_receiver(futures::stream::iter(1..=3), 16);
/// let mut one = b.subscribe().unwrap();
/// let mut two = b.subscribe().unwrap();
/// let a: Vec<_> = (&mut one).map(Result::unwrap).collect().await;
/// let b: Vec<_> = (&mut two).map(Result::unwrap).collect().await;
/// assert_eq!(a, vec![1, 2, 3]);
/// assert_eq!(a, b);
/// # }
/// ```
pub fn broadcast_receiver<S>(source: S, max_buffer: usize) -> BroadcastReceiver<S>
where
    S: Stream,
    S::Item: Clone,
{
    BroadcastReceiver {
        shared: Arc::new(Shared {
            state: Mutex::new(State::new(source, max_buffer)),
            waiters: Arc::new(Waiters::default()),
        }),
    }
}

/// The handle of a broadcast made by [`broadcast_receiver`]: subscribe to it,
/// or close it. Clones share the broadcast.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let b = tractor::trionics::broadcast_receiver(futures::stream::iter([1]), 4);
/// let b2 = b.clone();
/// let mut s = b2.subscribe().unwrap();
/// assert_eq!(s.recv().await, Ok(Some(1)));
/// # }
/// ```
pub struct BroadcastReceiver<S: Stream> {
    shared: Arc<Shared<S>>,
}

impl<S: Stream> Clone for BroadcastReceiver<S> {
    fn clone(&self) -> Self {
        BroadcastReceiver {
            shared: self.shared.clone(),
        }
    }
}

impl<S: Stream> fmt::Debug for BroadcastReceiver<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BroadcastReceiver").finish_non_exhaustive()
    }
}

impl<S> BroadcastReceiver<S>
where
    S: Stream,
    S::Item: Clone,
{
    /// A subscriber that sees every item pulled from now on, and gets
    /// [`Lagged`] if it falls more than the buffer behind.
    ///
    /// # Errors
    ///
    /// [`BroadcastError::Ended`] if the source has ended or was closed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let b = tractor::trionics::broadcast_receiver(futures::stream::iter(0..10), 2);
    /// let mut fast = b.subscribe().unwrap();
    /// let mut slow = b.subscribe().unwrap();
    /// for i in 0..5 { assert_eq!(fast.recv().await, Ok(Some(i))); }
    /// assert_eq!(slow.recv().await, Err(tractor::trionics::Lagged(3)));
    /// assert_eq!(slow.recv().await, Ok(Some(3)));
    /// # }
    /// ```
    pub fn subscribe(&self) -> Result<Subscriber<S>, BroadcastError> {
        self.subscribe_with(false)
    }

    /// A subscriber that never lags: while it is a full buffer behind, the
    /// others wait for it.
    ///
    /// # Errors
    ///
    /// [`BroadcastError::Ended`] if the source has ended or was closed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let b = tractor::trionics::broadcast_receiver(futures::stream::iter(0..10), 2);
    /// let mut slow = b.subscribe_backpressure().unwrap();
    /// for i in 0..10 { assert_eq!(slow.recv().await, Ok(Some(i))); }
    /// # }
    /// ```
    pub fn subscribe_backpressure(&self) -> Result<Subscriber<S>, BroadcastError> {
        self.subscribe_with(true)
    }

    fn subscribe_with(&self, backpressure: bool) -> Result<Subscriber<S>, BroadcastError> {
        let id = self
            .shared
            .lock()
            .subscribe(backpressure)
            .ok_or(BroadcastError::Ended)?;
        Ok(Subscriber {
            shared: self.shared.clone(),
            id,
        })
    }

    /// Closes the broadcast: drops the source stream (for a tractor stream,
    /// that cancels it). Subscribers read what is buffered, then end.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let b = tractor::trionics::broadcast_receiver(futures::stream::pending::<u8>(), 4);
    /// let mut s = b.subscribe().unwrap();
    /// b.close();
    /// assert_eq!(s.recv().await, Ok(None));
    /// assert!(b.subscribe().is_err());
    /// # }
    /// ```
    pub fn close(&self) {
        self.shared.lock().close();
        self.shared.waiters.wake_all();
    }
}

/// One consumer of a broadcast: a [`Stream`] of `Result<item, Lagged>`
/// that ends when the source does. Dropping it never blocks the others.
///
/// ```
/// use futures::StreamExt;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let b = tractor::trionics::broadcast_receiver(futures::stream::iter(["a"]), 4);
/// let mut s = b.subscribe().unwrap();
/// assert_eq!(s.next().await, Some(Ok("a")));
/// assert_eq!(s.next().await, None);
/// # }
/// ```
pub struct Subscriber<S: Stream> {
    shared: Arc<Shared<S>>,
    id: u64,
}

impl<S: Stream> fmt::Debug for Subscriber<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<S> Subscriber<S>
where
    S: Stream,
    S::Item: Clone,
{
    /// The next item: `Ok(Some(item))`, `Ok(None)` once the source ended,
    /// or `Err(Lagged(n))` once after missing `n` items. Cancel-safe.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let b = tractor::trionics::broadcast_receiver(futures::stream::iter([7]), 4);
    /// let mut s = b.subscribe().unwrap();
    /// assert_eq!(s.recv().await, Ok(Some(7)));
    /// assert_eq!(s.recv().await, Ok(None));
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Result<Option<S::Item>, Lagged> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<S::Item>, Lagged>> {
        let waiters = &self.shared.waiters;
        // Registered before polling, so a wake during the poll is not lost.
        waiters.register(self.id, cx.waker());
        let source_waker = futures::task::waker(waiters.clone());
        let mut woke_others = false;
        let res = self
            .shared
            .lock()
            .poll_next(self.id, &source_waker, &mut woke_others);
        if res.is_ready() {
            waiters.remove(self.id);
        }
        if woke_others {
            waiters.wake_all();
        }
        res.map(|next| match next {
            Next::Item(item) => Ok(Some(item)),
            Next::Lagged(n) => Err(Lagged(n)),
            Next::End => Ok(None),
        })
    }
}

impl<S> Stream for Subscriber<S>
where
    S: Stream,
    S::Item: Clone,
{
    type Item = Result<S::Item, Lagged>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx).map(Result::transpose)
    }
}

impl<S: Stream> Drop for Subscriber<S> {
    fn drop(&mut self) {
        self.shared.waiters.remove(self.id);
        self.shared.lock().unsubscribe(self.id);
        // Whoever waited on room, or on a source this one polled last, retries.
        self.shared.waiters.wake_all();
    }
}

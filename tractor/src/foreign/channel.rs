//! The actor side of a link: `open_channel_from` and `LinkedChannel`.

use futures::Stream;
use tokio::sync::{mpsc, oneshot};

use super::error::ForeignError;
use super::side::ForeignSide;
use super::thread::Link;

/// How many values each direction of a link buffers (as tractor's).
pub const BUFFER: usize = 256;

/// Runs `f` on a new OS thread linked to the calling task, and returns
/// once `f` calls [`ForeignSide::started_nowait`]: the channel and that
/// first value.
///
/// If `f` fails, panics or returns before `started_nowait`, this returns
/// that error ([`ForeignError::Failed`], [`ForeignError::Panicked`],
/// [`ForeignError::NotStarted`]). Dropping this future, or the channel,
/// cancels the link: the foreign side's token fires, its `get` fails with
/// [`LinkError::Cancelled`](super::LinkError::Cancelled), and its thread is
/// joined off the async thread.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tractor::foreign::{ForeignError, ForeignSide, open_channel_from};
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("sensor offline")]
/// struct Offline;
///
/// let got = open_channel_from(|_side: ForeignSide<(), ()>| Err::<(), _>(Offline)).await;
/// assert!(matches!(got, Err(ForeignError::Failed(Offline))));
/// # }
/// ```
pub async fn open_channel_from<In, Out, First, R, E, F>(
    f: F,
) -> Result<(LinkedChannel<In, Out, R, E>, First), ForeignError<E>>
where
    In: Send + 'static,
    Out: Send + 'static,
    First: Send + 'static,
    R: Send + 'static,
    E: Send + 'static,
    F: FnOnce(ForeignSide<In, Out, First>) -> Result<R, E> + Send + 'static,
{
    let (to_foreign, from_actor) = mpsc::channel(BUFFER);
    let (to_actor, from_foreign) = mpsc::channel(BUFFER);
    let (started_tx, started_rx) = oneshot::channel();
    let mut link = Link::spawn("tractor-foreign", move |token| {
        f(ForeignSide {
            from_actor,
            to_actor,
            started: Some(started_tx),
            token,
        })
    })?;
    match started_rx.await {
        Ok(first) => Ok((
            LinkedChannel {
                to_foreign: Some(to_foreign),
                from_foreign,
                link,
            },
            first,
        )),
        Err(_) => Err(match link.outcome().await {
            Ok(_) => ForeignError::NotStarted,
            Err(e) => e,
        }),
    }
}

/// The actor task's end of a link to a foreign thread, from
/// [`open_channel_from`]: send to it, receive from it, wait for its
/// result, or cancel it.
///
/// Dropping the channel cancels the link (an actor task that is
/// cancelled, fails or panics drops it): the foreign side sees its token
/// fire and its `get` fail, and its thread is joined on tokio's blocking
/// pool, so the actor's runtime does not end before it does.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tractor::foreign::{ForeignError, ForeignSide, open_channel_from};
///
/// let (mut chan, n) = open_channel_from(|mut side: ForeignSide<(), u32>| {
///     side.started_nowait(3)?;
///     for i in 0..3 { let _ = side.send(i); }
///     Ok::<_, tractor::foreign::LinkError>("done")
/// })
/// .await
/// .unwrap();
/// let mut got = Vec::new();
/// for _ in 0..n { got.push(chan.recv().await.unwrap()); }
/// assert_eq!(got, [0, 1, 2]);
/// // Once it returned, another `recv` says so; the result is kept.
/// assert!(matches!(chan.recv().await, Err(ForeignError::Exited)));
/// assert_eq!(chan.wait_for_result().await.unwrap(), "done");
/// # }
/// ```
#[derive(Debug)]
pub struct LinkedChannel<In, Out, R, E> {
    to_foreign: Option<mpsc::Sender<In>>,
    from_foreign: mpsc::Receiver<Out>,
    link: Link<R, E>,
}

impl<In, Out, R, E> Drop for LinkedChannel<In, Out, R, E> {
    fn drop(&mut self) {
        // Before the sender goes: the foreign side must see `Cancelled`,
        // never a `Closed` that only means "done sending".
        self.link.token.cancel();
    }
}

impl<In, Out, R, E> LinkedChannel<In, Out, R, E> {
    /// Sends a value to the foreign side, waiting while its buffer is
    /// full. If the foreign side has ended, returns why: its error, or
    /// [`ForeignError::Exited`] when it returned `Ok`. See
    /// [`ForeignSide`] for an example.
    pub async fn send(&mut self, value: In) -> Result<(), ForeignError<E>> {
        let sent = match &self.to_foreign {
            Some(tx) => tx.send(value).await.is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            Err(self.closing_error().await)
        }
    }

    /// Receives the next value from the foreign side. Values it sent
    /// before ending are delivered first; then this returns why it ended:
    /// its error (once; later calls get [`ForeignError::AlreadyReported`]),
    /// a panic, [`ForeignError::Cancelled`] if it cancelled the link, or
    /// [`ForeignError::Exited`] when it returned `Ok` (its result stays
    /// for [`wait_for_result`](Self::wait_for_result)).
    /// See [`LinkedChannel`] for an example.
    pub async fn recv(&mut self) -> Result<Out, ForeignError<E>> {
        match self.from_foreign.recv().await {
            Some(v) => Ok(v),
            None => Err(self.closing_error().await),
        }
    }

    /// The values from the foreign side as a `Stream`: each value, then
    /// the end once the foreign side returned `Ok` (its result stays for
    /// [`wait_for_result`](Self::wait_for_result)), or its error as the
    /// last item.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use futures::StreamExt;
    /// use tractor::foreign::{ForeignSide, LinkError, open_channel_from};
    ///
    /// let (mut chan, ()) = open_channel_from(|mut side: ForeignSide<(), u32, ()>| {
    ///     side.started_nowait(())?;
    ///     for i in 0..5 { side.send(i)?; }
    ///     Ok::<_, LinkError>(5)
    /// })
    /// .await
    /// .unwrap();
    /// let got: Vec<u32> = chan.stream().map(|v| v.unwrap()).collect().await;
    /// assert_eq!(got, [0, 1, 2, 3, 4]);
    /// assert_eq!(chan.wait_for_result().await.unwrap(), 5);
    /// # }
    /// ```
    pub fn stream(&mut self) -> impl Stream<Item = Result<Out, ForeignError<E>>> + '_ {
        futures::stream::unfold(Some(self), |chan| async move {
            let chan = chan?;
            match chan.recv().await {
                Ok(v) => Some((Ok(v), Some(chan))),
                Err(ForeignError::Exited) => None,
                Err(e) => Some((Err(e), None)),
            }
        })
    }

    /// Tells the foreign side that nothing more will be sent (its `get`
    /// fails with [`LinkError::Closed`](super::LinkError::Closed)) and waits
    /// for its result.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tractor::foreign::{ForeignSide, LinkError, open_channel_from};
    ///
    /// let (mut chan, ()) = open_channel_from(|mut side: ForeignSide<u32, ()>| {
    ///     side.started_nowait(())?;
    ///     let mut sum = 0;
    ///     loop {
    ///         match side.get() {
    ///             Ok(v) => sum += v,
    ///             Err(LinkError::Closed) => return Ok(sum),
    ///             Err(e) => return Err(e),
    ///         }
    ///     }
    /// })
    /// .await
    /// .unwrap();
    /// for v in 1..=4 { chan.send(v).await.unwrap(); }
    /// assert_eq!(chan.wait_for_result().await.unwrap(), 10);
    /// # }
    /// ```
    pub async fn wait_for_result(mut self) -> Result<R, ForeignError<E>> {
        self.to_foreign = None;
        self.link.outcome().await
    }

    /// Cancels the foreign side: its token fires and its `get`/`send`
    /// fail with [`LinkError::Cancelled`](super::LinkError::Cancelled).
    /// Dropping the channel does the same.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tractor::foreign::{ForeignSide, LinkError, open_channel_from};
    ///
    /// let (chan, ()) = open_channel_from(|mut side: ForeignSide<(), ()>| {
    ///     side.started_nowait(())?;
    ///     side.get()
    /// })
    /// .await
    /// .unwrap();
    /// chan.cancel();
    /// assert!(matches!(
    ///     chan.wait_for_result().await,
    ///     Err(tractor::foreign::ForeignError::Failed(LinkError::Cancelled))
    /// ));
    /// # }
    /// ```
    pub fn cancel(&self) {
        self.link.token.cancel();
    }

    /// Whether the link was cancelled, by either side.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (chan, ()) = tractor::foreign::open_channel_from(
    ///     |mut side: tractor::foreign::ForeignSide<(), ()>| side.started_nowait(()),
    /// )
    /// .await
    /// .unwrap();
    /// assert!(!chan.is_cancelled());
    /// chan.cancel();
    /// assert!(chan.is_cancelled());
    /// # }
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.link.token.is_cancelled()
    }

    async fn closing_error(&mut self) -> ForeignError<E> {
        let cancelled = self.link.token.is_cancelled();
        match self.link.closing_error().await {
            ForeignError::Exited if cancelled || self.link.token.is_cancelled() => {
                ForeignError::Cancelled
            }
            e => e,
        }
    }
}

//! The foreign side of a link: what the code on the foreign thread holds.

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::error::{LinkError, TrySendError};

/// The foreign thread's end of a [`LinkedChannel`](super::LinkedChannel):
/// it announces its first value with [`started_nowait`](Self::started_nowait),
/// sends with [`send_nowait`](Self::send_nowait) (or the blocking
/// [`send`](Self::send)), receives with the blocking [`get`](Self::get)
/// (or [`recv`](Self::recv) on another executor), and watches
/// [`cancelled_token`](Self::cancelled_token) to stop when the actor side
/// cancels or goes away.
///
/// `First`, the type of the value handed over by `started_nowait`, is
/// `Out` unless given: `ForeignSide<In, Out, First>`.
///
/// The blocking calls park the calling thread; call them from the foreign
/// thread, never from inside an async task.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tractor::foreign::ForeignError<tractor::foreign::LinkError>> {
/// use tractor::foreign::{ForeignSide, open_channel_from};
///
/// // A blocking loop that doubles what it gets until the actor side is done.
/// let (mut chan, first) = open_channel_from(|mut side: ForeignSide<u32, u32>| {
///     side.started_nowait(0)?;
///     loop {
///         match side.get() {
///             Ok(v) => { let _ = side.send(v * 2); }
///             Err(_) => return Ok(()),
///         }
///     }
/// })
/// .await?;
/// assert_eq!(first, 0);
/// chan.send(21).await?;
/// assert_eq!(chan.recv().await?, 42);
/// chan.wait_for_result().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ForeignSide<In, Out, First = Out> {
    pub(super) from_actor: mpsc::Receiver<In>,
    pub(super) to_actor: mpsc::Sender<Out>,
    pub(super) started: Option<oneshot::Sender<First>>,
    pub(super) token: CancellationToken,
}

impl<In, Out, First> ForeignSide<In, Out, First> {
    /// Hands the actor side its first value; `open_channel_from` returns
    /// once this is called. Call it once.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Receives u8s, sends u32s, starts with a &str.
    /// let (_chan, first) = tractor::foreign::open_channel_from(
    ///     |mut side: tractor::foreign::ForeignSide<u8, u32, &str>| side.started_nowait("ready"),
    /// )
    /// .await
    /// .unwrap();
    /// assert_eq!(first, "ready");
    /// # }
    /// ```
    pub fn started_nowait(&mut self, first: First) -> Result<(), LinkError> {
        let tx = self.started.take().ok_or(LinkError::AlreadyStarted)?;
        tx.send(first).map_err(|_| LinkError::Cancelled)
    }

    /// Sends a value to the actor side without waiting; a full buffer or a
    /// gone actor side returns the value in the error.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (mut chan, _) = tractor::foreign::open_channel_from(
    ///     |mut side: tractor::foreign::ForeignSide<(), u8>| {
    ///         side.started_nowait(0)?;
    ///         side.send_nowait(7).map_err(|_| tractor::foreign::LinkError::Closed)
    ///     },
    /// )
    /// .await
    /// .unwrap();
    /// assert_eq!(chan.recv().await.unwrap(), 7);
    /// # }
    /// ```
    pub fn send_nowait(&self, value: Out) -> Result<(), TrySendError<Out>> {
        if self.token.is_cancelled() {
            return Err(TrySendError::Closed(value));
        }
        self.to_actor.try_send(value).map_err(|e| match e {
            mpsc::error::TrySendError::Full(v) => TrySendError::Full(v),
            mpsc::error::TrySendError::Closed(v) => TrySendError::Closed(v),
        })
    }

    /// Sends a value to the actor side, blocking this thread while the
    /// buffer is full; fails once the actor side cancelled or stopped
    /// receiving. See [`ForeignSide`] for an example.
    pub fn send(&self, value: Out) -> Result<(), LinkError> {
        futures::executor::block_on(self.send_async(value))
    }

    /// [`send`](Self::send) for a foreign side that runs its own executor
    /// (a multi-thread tokio runtime, smol, ...) on the foreign thread.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tractor::foreign::{ForeignSide, LinkError, open_channel_from};
    ///
    /// let (mut chan, _) = open_channel_from(|mut side: ForeignSide<(), u8>| {
    ///     side.started_nowait(0)?;
    ///     futures::executor::block_on(async { side.send_async(9).await })
    /// })
    /// .await
    /// .unwrap();
    /// assert_eq!(chan.recv().await.unwrap(), 9);
    /// # }
    /// ```
    pub async fn send_async(&self, value: Out) -> Result<(), LinkError> {
        tokio::select! {
            biased;
            _ = self.token.cancelled() => Err(LinkError::Cancelled),
            sent = self.to_actor.send(value) => sent.map_err(|_| self.closed()),
        }
    }

    /// Waits (blocking this thread) for the next value from the actor side;
    /// fails with [`LinkError::Cancelled`] once the actor side cancelled or
    /// went away, [`LinkError::Closed`] once it sends nothing more. See
    /// [`ForeignSide`] for an example.
    pub fn get(&mut self) -> Result<In, LinkError> {
        futures::executor::block_on(self.recv())
    }

    /// [`get`](Self::get) for a foreign side that runs its own executor on
    /// the foreign thread.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tractor::foreign::{ForeignSide, open_channel_from};
    ///
    /// let (mut chan, _) = open_channel_from(|mut side: ForeignSide<u8, ()>| {
    ///     side.started_nowait(())?;
    ///     futures::executor::block_on(async { side.recv().await })
    /// })
    /// .await
    /// .unwrap();
    /// chan.send(5).await.unwrap();
    /// assert_eq!(chan.wait_for_result().await.unwrap(), 5);
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Result<In, LinkError> {
        let token = self.token.clone();
        tokio::select! {
            biased;
            _ = token.cancelled() => Err(LinkError::Cancelled),
            v = self.from_actor.recv() => v.ok_or_else(|| self.closed()),
        }
    }

    /// Whether the link was cancelled (by the actor side, or by
    /// [`cancel`](Self::cancel)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let got = tractor::foreign::run_task(|token| Ok::<_, String>(token.is_cancelled())).await;
    /// assert_eq!(got.unwrap(), false);
    /// # }
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The link's cancellation token, for a foreign loop to poll
    /// (`is_cancelled`) or await (`cancelled()`) on its own executor.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tractor::foreign::{ForeignSide, open_channel_from};
    ///
    /// let (chan, ()) = open_channel_from(|mut side: ForeignSide<(), ()>| {
    ///     side.started_nowait(())?;
    ///     let token = side.cancelled_token();
    ///     while !token.is_cancelled() {
    ///         std::thread::park_timeout(std::time::Duration::from_millis(5));
    ///     }
    ///     Ok::<_, tractor::foreign::LinkError>(())
    /// })
    /// .await
    /// .unwrap();
    /// drop(chan); // cancels the loop, which then ends; its thread is joined
    /// # }
    /// ```
    pub fn cancelled_token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Cancels the link from the foreign side (tractor's asyncio task
    /// cancelling itself): the actor side's `recv`/`send` then fail with
    /// [`ForeignError::Cancelled`](super::ForeignError::Cancelled) once
    /// the foreign function returns `Ok`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tractor::foreign::{ForeignError, ForeignSide, open_channel_from};
    ///
    /// let (mut chan, ()) = open_channel_from(|mut side: ForeignSide<(), ()>| {
    ///     side.started_nowait(())?;
    ///     side.cancel();
    ///     Ok::<_, tractor::foreign::LinkError>(())
    /// })
    /// .await
    /// .unwrap();
    /// assert!(matches!(chan.recv().await, Err(ForeignError::Cancelled)));
    /// # }
    /// ```
    pub fn cancel(&self) {
        self.token.cancel();
    }

    fn closed(&self) -> LinkError {
        if self.token.is_cancelled() {
            LinkError::Cancelled
        } else {
            LinkError::Closed
        }
    }
}

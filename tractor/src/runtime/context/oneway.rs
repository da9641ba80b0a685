//! One-way stream endpoints: an endpoint returning `impl Stream<Item = T>`,
//! consumed with [`Portal::open_stream_from`].

use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskCx, Poll};

use futures::{FutureExt, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::batch::{Batch, Pushed};
use super::stream::poll_item;
use super::{CtxCore, Reading};
use crate::ipc::{FuncType, Msg};
use crate::runtime::endpoint::{Call, Reply, StreamEndpoint, box_tractor_error};
use crate::runtime::error::{Error, RemoteActorError};
use crate::runtime::portal::Portal;

/// The consumer's end of a one-way stream endpoint. Items arrive with
/// [`recv`](Self::recv) or through [`futures::Stream`]; the stream ends
/// when the remote generator does. Dropping it cancels the remote task.
///
/// ```no_run
/// #[tractor::endpoint]
/// async fn ticks(n: u32) -> impl futures::Stream<Item = u32> {
///     futures::stream::iter(0..n)
/// }
///
/// async fn demo(portal: tractor::Portal) -> Result<(), tractor::Error> {
///     let mut ticks = portal.open_stream_from(ticks::call(1_000)).await?;
///     while let Some(t) = ticks.recv().await? {
///         if t == 10 { break; } // dropping `ticks` cancels the remote generator
///     }
///     Ok(())
/// }
/// # fn main() {}
/// ```
pub struct RemoteStream<T> {
    core: Arc<CtxCore>,
    /// This handle alone reads the dialog: no lock per item.
    reading: Reading,
    _t: PhantomData<fn() -> T>,
}

impl<T> Drop for RemoteStream<T> {
    fn drop(&mut self) {
        // What was read is not charged to the dialog meanwhile: the
        // connection's loop may hold its state a moment longer.
        self.core.release(&mut self.reading);
    }
}

impl<T> std::fmt::Debug for RemoteStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStream")
            .field("endpoint", &self.core.path)
            .field("actor", &self.core.peer().to_string())
            .finish()
    }
}

impl<T: DeserializeOwned> RemoteStream<T> {
    /// The next item; `Ok(None)` once the remote stream ended. Cancel-safe.
    pub async fn recv(&mut self) -> Result<Option<T>, Error> {
        std::future::poll_fn(|cx| poll_item(&self.core, &mut self.reading, cx)).await
    }
}

impl<T: DeserializeOwned> futures::Stream for RemoteStream<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskCx<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        poll_item::<T>(&this.core, &mut this.reading, cx).map(Result::transpose)
    }
}

impl Portal {
    /// The body of [`Portal::open_stream_from`], which lives with `Portal` so
    /// that compiler messages about its bounds name `tractor::Portal`.
    pub(crate) async fn start_stream_from<E: StreamEndpoint>(
        &self,
        call: Call<E>,
    ) -> Result<RemoteStream<E::Item>, Error> {
        let mut dialog = self.start_dialog::<E>(&call, FuncType::Stream).await?;
        // Wait for the StartAck so that a refused call fails here.
        loop {
            match dialog.recv().await {
                Some(Msg::StartAck { .. }) => break,
                Some(Msg::Error { error, .. }) => {
                    dialog.finish();
                    return Err(Error::Remote(RemoteActorError::from_data(*error)));
                }
                Some(_) => continue,
                None => {
                    dialog.finish();
                    return Err(self.conn.lost_error());
                }
            }
        }
        let (core, reading) = CtxCore::caller_read_alone(self.rt.clone(), dialog, E::PATH);
        Ok(RemoteStream {
            core,
            reading,
            _t: PhantomData,
        })
    }
}

/// The callee side of a one-way stream: sends every item (waiting for
/// window), then the endpoint returns `()`. The items the generator has
/// ready at once go out as one [`Batch`]. Whatever ends the stream early
/// (an item that does not encode, a generator that panics) comes after
/// every item gathered before it, as it would unbatched.
pub(crate) async fn pump<S>(core: Arc<CtxCore>, items: S) -> Reply
where
    S: futures::Stream,
    S::Item: Serialize,
{
    let mut items = std::pin::pin!(items);
    let mut batch = Batch::new(&core);
    let failed = |e: &Error| Reply::Err(box_tractor_error(e));
    loop {
        let ready = std::panic::catch_unwind(AssertUnwindSafe(|| items.next().now_or_never()));
        let next = match ready {
            Ok(Some(next)) => next,
            Ok(None) => {
                // Nothing ready: what was gathered goes out before we wait.
                if let Err(e) = batch.flush().await {
                    return failed(&e);
                }
                items.next().await
            }
            Err(panic) => {
                let _ = batch.flush().await;
                std::panic::resume_unwind(panic)
            }
        };
        let Some(item) = next else { break };
        // Waits only when the window is out: the usual item costs no
        // future of its own.
        let large = loop {
            match batch.push_now(&item) {
                Ok(Pushed::Gathered) => break Ok(false),
                Ok(Pushed::Large(large)) => break batch.send_large(large).await.map(|()| true),
                Ok(Pushed::NoRoom) => {
                    if let Err(e) = batch.wait_room().await {
                        break Err(e);
                    }
                }
                Err(e) => break Err(e),
            }
        };
        let large = match large {
            Ok(large) => large,
            Err(e) => {
                let _ = batch.flush().await;
                return failed(&e);
            }
        };
        if large {
            // One large item per turn of the event loop: a request that
            // arrived meanwhile is read and answered between two, not
            // after the write buffer was filled.
            tokio::task::yield_now().await;
        } else if batch.is_full() {
            if let Err(e) = batch.flush().await {
                return failed(&e);
            }
            // The writer puts it on the wire while we gather the next.
            tokio::task::yield_now().await;
        }
    }
    match batch.flush().await {
        Ok(()) => Reply::ok(&()),
        Err(e) => failed(&e),
    }
}

/// The handles stay usable from any task: moved between threads, shared.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<RemoteStream<u64>>();
};

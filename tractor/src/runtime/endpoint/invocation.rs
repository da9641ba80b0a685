//! The callee's side of one call: the arguments as they arrived, and
//! the reply the dispatcher hands back.

use futures::future::LocalBoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::LocalError;
use crate::runtime::error::boxed_types;

/// An incoming call's encoded arguments.
pub struct Invocation {
    pub(crate) args: Vec<u8>,
    pub(crate) path: &'static str,
    pub(crate) ctx: Option<std::sync::Arc<crate::runtime::context::CtxCore>>,
}

impl std::fmt::Debug for Invocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invocation")
            .field("path", &self.path)
            .field("args_len", &self.args.len())
            .finish_non_exhaustive()
    }
}

impl Invocation {
    /// The callee's half of a context endpoint's dialog.
    pub fn context<S, Tx, Rx>(&mut self) -> Result<crate::Context<S, Tx, Rx>, Reply>
    where
        S: Serialize,
        Tx: Serialize,
        Rx: DeserializeOwned,
    {
        match self.ctx.take() {
            Some(core) => Ok(crate::Context::new(core)),
            None => Err(Reply::Err(LocalError::new(
                boxed_types::MSG_TYPE_ERROR,
                format!(
                    "`{}` is a context endpoint; open it with Portal::open_context",
                    self.path
                ),
            ))),
        }
    }

    /// Streams a one-way stream endpoint's items to the caller.
    pub async fn pump<S>(mut self, items: S) -> Reply
    where
        S: futures::Stream,
        S::Item: Serialize,
    {
        match self.ctx.take() {
            Some(core) => crate::runtime::context::pump(core, items).await,
            None => Reply::Err(LocalError::new(
                boxed_types::MSG_TYPE_ERROR,
                format!(
                    "`{}` is a stream endpoint; open it with Portal::open_stream_from",
                    self.path
                ),
            )),
        }
    }

    /// Decodes the argument struct; a mismatch is a `MsgTypeError` reply.
    pub fn decode<A: DeserializeOwned>(&self) -> Result<A, Reply> {
        crate::ipc::codec::decode(&self.args).map_err(|e| {
            Reply::Err(LocalError::new(
                boxed_types::MSG_TYPE_ERROR,
                format!(
                    "arguments of `{}` do not decode as `{}`: {e}; the caller was built with a different signature",
                    self.path,
                    std::any::type_name::<A>()
                ),
            ))
        })
    }
}

/// What a dispatcher hands back to the runtime.
#[derive(Debug)]
pub enum Reply {
    /// The encoded success value.
    Ok(Vec<u8>),
    /// A failure, boxed by the runtime with this actor's identity.
    Err(LocalError),
}

impl Reply {
    /// Encodes a success value.
    pub fn ok<T: Serialize + ?Sized>(v: &T) -> Reply {
        match postcard::to_stdvec(v) {
            Ok(b) => Reply::Ok(b),
            Err(e) => Reply::Err(LocalError::new(
                boxed_types::MSG_TYPE_ERROR,
                format!(
                    "the return value `{}` could not be encoded: {e}",
                    std::any::type_name::<T>()
                ),
            )),
        }
    }
}

/// The future a dispatcher returns.
pub type HandlerFuture = LocalBoxFuture<'static, Reply>;

//! The traits every endpoint type implements: what callers name.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ipc::FuncType;

/// What every remote-callable fn has, whatever its kind. Implemented by
/// the macros; users rarely name it.
///
/// ```
/// use tractor::RemoteFn;
///
/// #[tractor::endpoint]
/// async fn greet(name: String) -> String { format!("hi {name}") }
///
/// # fn main() {
/// // The generated `greet::Endpoint` names the fn, e.g. in logs or generic helpers.
/// assert_eq!(greet::Endpoint::NAME, "greet");
/// assert!(greet::Endpoint::PATH.ends_with("::greet"));
/// # }
/// ```
pub trait RemoteFn: 'static {
    /// The arguments, as one serde struct.
    type Args: Serialize + DeserializeOwned + Send + 'static;
    /// The full path: `module_path!()` of the endpoint's module plus its name.
    const PATH: &'static str;
    /// The function's name.
    const NAME: &'static str;
    /// How it is called.
    const KIND: FuncType;

    /// The dialog's wire schema (argument, payload and result types), in
    /// a readable form for messages.
    fn signature() -> String;

    /// What tells a caller and a callee built from different sources
    /// apart: generated code hashes the serde shape of the dialog's types,
    /// traced once; this default hashes [`signature`](Self::signature).
    fn signature_hash() -> u64 {
        crate::ipc::stable_hash(&Self::signature())
    }

    /// The module part of [`PATH`](Self::PATH), which `enable_modules` matches.
    fn module() -> &'static str {
        module_of(Self::PATH, Self::NAME)
    }
}

/// A plain async fn endpoint (`#[tractor::endpoint]`), answered by one value.
///
/// ```no_run
/// use std::time::Duration;
/// use tractor::{Call, Endpoint, Portal};
///
/// // Generic over any plain endpoint: a call with a deadline (dropping the
/// // call's future cancels the remote task).
/// async fn run_within<E: Endpoint>(p: &Portal, call: Call<E>, d: Duration) -> Option<Result<E::Output, tractor::Error>> {
///     tokio::time::timeout(d, p.run(call)).await.ok()
/// }
/// # fn main() {}
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a plain endpoint",
    label = "not the call of an `#[tractor::endpoint]` fn returning a value",
    note = "`Portal::run` and `run_in_actor` take calls of `#[tractor::endpoint]` fns; open a `#[tractor::context]` with `Portal::open_context` and a stream endpoint with `Portal::open_stream_from`"
)]
pub trait Endpoint: RemoteFn {
    /// The success value.
    type Output: DeserializeOwned + Send + 'static;
}

/// A context endpoint (`#[tractor::context]`): a task linked to the
/// caller's, with a `started` value, a bidirectional stream and a result.
///
/// ```
/// use tractor::ContextEndpoint;
///
/// #[tractor::context]
/// async fn chat(ctx: tractor::Context<u32, String, bool>) -> Result<(), tractor::Error> {
///     ctx.started(1).await
/// }
///
/// # fn main() {
/// // The caller's view is the mirror image of the callee's `Context<Started, Tx, Rx>`:
/// fn to_callee<E: ContextEndpoint<ToCallee = bool, FromCallee = String>>() {}
/// to_callee::<chat::Endpoint>();
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a context endpoint",
    label = "not the call of a `#[tractor::context]` fn",
    note = "`Portal::open_context` takes calls of `#[tractor::context]` fns; call an `#[tractor::endpoint]` with `Portal::run`, or a stream endpoint with `Portal::open_stream_from`"
)]
pub trait ContextEndpoint: RemoteFn {
    /// What the callee's `started` hands the caller.
    type Started: Serialize + DeserializeOwned + 'static;
    /// What the caller sends on the stream.
    type ToCallee: Serialize + DeserializeOwned + 'static;
    /// What the callee sends on the stream.
    type FromCallee: Serialize + DeserializeOwned + 'static;
    /// The callee's success value.
    type Return: DeserializeOwned + 'static;
}

/// A one-way stream endpoint (`#[tractor::endpoint]` returning
/// `impl Stream<Item = T>`).
///
/// ```no_run
/// use futures::TryStreamExt;
/// use tractor::{Call, Portal, StreamEndpoint};
///
/// // Generic over any stream endpoint: collect everything it yields.
/// async fn collect<E: StreamEndpoint>(p: &Portal, call: Call<E>) -> Result<Vec<E::Item>, tractor::Error> {
///     p.open_stream_from(call).await?.try_collect().await
/// }
/// # fn main() {}
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a stream endpoint",
    label = "not the call of an `#[tractor::endpoint]` fn returning `impl Stream`",
    note = "`Portal::open_stream_from` takes calls of endpoints returning `impl Stream<Item = T>`; call a plain endpoint with `Portal::run`, or a context with `Portal::open_context`"
)]
pub trait StreamEndpoint: RemoteFn {
    /// The items.
    type Item: Serialize + DeserializeOwned + 'static;
}

pub(crate) fn module_of(path: &'static str, name: &str) -> &'static str {
    path.strip_suffix(name)
        .and_then(|p| p.strip_suffix("::"))
        .unwrap_or(path)
}

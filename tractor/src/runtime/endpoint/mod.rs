//! Endpoints: the typed functions an actor serves over IPC.
//!
//! `#[tractor::endpoint]` turns an `async fn` into an [`Endpoint`] type (for
//! callers) and an [`EndpointEntry`] in the link-time [`ENDPOINTS`] table
//! (for the callee's dispatcher). The table is collected by the linker, so a
//! child process re-executed from the same binary serves every endpoint the
//! binary contains, filtered at run time by its `enable_modules` allowlist.

mod boxing;
mod call;
mod invocation;
mod local_error;
mod panic;
mod schema;
mod table;
mod traits;

pub use boxing::{
    BoxDisplayError, BoxSerializableError, BoxStdError, BoxTractorError, EndpointErrorDisplay,
    ErrorProbe,
};
pub use call::Call;
pub use invocation::{HandlerFuture, Invocation, Reply};
pub use local_error::LocalError;
pub(crate) use local_error::box_tractor_error;
pub(crate) use panic::{box_panic, force_backtraces, install_panic_hook};
pub use schema::{context_schema, endpoint_schema, stream_schema};
pub use table::{ENDPOINTS, EndpointEntry, EndpointError};
pub(crate) use table::{EndpointTable, Lookup};
pub(crate) use traits::module_of;
pub use traits::{ContextEndpoint, Endpoint, RemoteFn, StreamEndpoint};

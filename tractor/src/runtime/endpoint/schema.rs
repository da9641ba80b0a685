//! The wire schema of each kind of endpoint, for generated code: which
//! types a dialog carries, traced once by the endpoint's `static`.
//!
//! Generic over the endpoint traits (not over the types themselves) so an
//! endpoint whose types lack serde gets the traits' errors only, not a
//! second one here.

use super::{ContextEndpoint, Endpoint, StreamEndpoint};
use crate::ipc::schema::{DialogSchema, Node, shape_of};

/// A plain endpoint: its arguments and its value.
pub fn endpoint_schema<E: Endpoint>() -> DialogSchema {
    DialogSchema::new(shape_of::<E::Args>(), Vec::new(), shape_of::<E::Output>())
}

/// A stream endpoint: its arguments and its items; it ends with `()`.
pub fn stream_schema<E: StreamEndpoint>() -> DialogSchema {
    DialogSchema::new(
        shape_of::<E::Args>(),
        vec![shape_of::<E::Item>()],
        Node::Unit,
    )
}

/// A context endpoint: its arguments, `started` value, both stream
/// directions and its result.
pub fn context_schema<E: ContextEndpoint>() -> DialogSchema {
    let payloads = vec![
        shape_of::<E::Started>(),
        shape_of::<E::ToCallee>(),
        shape_of::<E::FromCallee>(),
    ];
    DialogSchema::new(shape_of::<E::Args>(), payloads, shape_of::<E::Return>())
}

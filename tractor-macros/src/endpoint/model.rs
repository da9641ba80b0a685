//! What the generator needs to know about an endpoint fn.

use proc_macro2::Span;
use syn::{Ident, ItemFn, Type, Visibility};

pub(super) struct EndpointModel {
    /// The user's fn, emitted unchanged.
    pub func: ItemFn,
    pub name: Ident,
    /// `name = "module::fn"`, overriding `module_path!()` + fn name.
    pub name_override: Option<syn::LitStr>,
    /// Visibility for the generated module's items.
    pub item_vis: Visibility,
    pub args: Vec<Arg>,
    pub output: Output,
    pub kind: Kind,
}

/// Which macro, and for a context, its `Context` parameter.
pub(super) enum Kind {
    /// `#[tractor::endpoint]`.
    Endpoint,
    /// `#[tractor::context]`: the `Context<Started, Tx, Rx>` parameter sits
    /// at `position` among the fn's inputs.
    Context(Box<ContextParam>),
}

/// Where a context endpoint's `Context<Started, Tx, Rx>` parameter sits
/// among the fn's inputs, and its payload types.
pub(super) struct ContextParam {
    pub position: usize,
    pub started: Type,
    pub tx: Type,
    pub rx: Type,
}

pub(super) struct Arg {
    pub name: Ident,
    pub ty: Type,
}

pub(super) enum Output {
    /// `-> T` (or nothing: `()`).
    Plain(Type),
    /// `-> Result<T, E>`: `E` is boxed as a remote error; errors about it
    /// point at `err_span`.
    Fallible { ok: Type, err_span: Span },
    /// `-> impl Stream<Item = T>`: a one-way stream endpoint.
    Stream { item: Type },
}

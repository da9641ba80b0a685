//! What the generator needs to know about an endpoint fn: the parser's
//! output, already validated, one variant per kind of endpoint.

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
    /// The arguments that travel (a context's `Context` is not one).
    pub args: Vec<Arg>,
    pub kind: Kind,
}

/// The kinds of endpoint: each is called and answered its own way.
pub(super) enum Kind {
    /// `#[tractor::endpoint]` answered by one value.
    Plain(Output),
    /// `#[tractor::endpoint]` returning `impl Stream<Item = T>`.
    Stream { item: Type },
    /// `#[tractor::context]`.
    Context {
        param: Box<ContextParam>,
        output: Output,
    },
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

/// What a plain or context endpoint returns.
pub(super) enum Output {
    /// `-> T` (or nothing: `()`).
    Value(Type),
    /// `-> Result<T, E>`: `E` is boxed as a remote error; errors about it
    /// point at `err_span`.
    Fallible { ok: Type, err_span: Span },
}

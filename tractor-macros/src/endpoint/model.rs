//! What the generator needs to know about an endpoint fn.

use proc_macro2::Span;
use syn::{Ident, ItemFn, Type, Visibility};

pub struct EndpointModel {
    /// The user's fn, emitted unchanged.
    pub func: ItemFn,
    pub name: Ident,
    /// Visibility for the generated module's items.
    pub item_vis: Visibility,
    pub args: Vec<Arg>,
    pub output: Output,
}

pub struct Arg {
    pub name: Ident,
    pub ty: Type,
}

pub enum Output {
    /// `-> T` (or nothing: `()`).
    Plain(Type),
    /// `-> Result<T, E>`: `E` is boxed as a remote error; errors about it
    /// point at `err_span`.
    Fallible { ok: Type, err_span: Span },
}

//! Error collection shared by the macros: every problem is kept, each at
//! the span of the token it is about, so one compile shows them all.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{Item, ItemFn};

/// The problems found so far.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Reports `msg` over the whole of `tokens` (first to last token).
    pub(crate) fn push(&mut self, tokens: impl ToTokens, msg: impl std::fmt::Display) {
        self.push_error(syn::Error::new_spanned(tokens, msg));
    }

    /// Keeps an already built error.
    pub(crate) fn push_error(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    /// Every problem so far, then `e`: for a problem that stops the parse.
    pub(crate) fn and(self, e: syn::Error) -> syn::Error {
        match self.0 {
            Some(mut all) => {
                all.combine(e);
                all
            }
            None => e,
        }
    }

    /// `Err` with every problem if there is any.
    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Parses the item under `#[tractor::<what>]` as a fn; any other item is
/// rejected by name, at its keyword and name.
pub(crate) fn parse_fn(item: TokenStream, what: &str) -> syn::Result<ItemFn> {
    let item: Item = syn::parse2(item)?;
    let (kind, at): (&str, TokenStream) = match item {
        Item::Fn(f) => return Ok(f),
        Item::Struct(i) => ("a struct", keyword_and_name(i.struct_token, &i.ident)),
        Item::Enum(i) => ("an enum", keyword_and_name(i.enum_token, &i.ident)),
        Item::Union(i) => ("a union", keyword_and_name(i.union_token, &i.ident)),
        Item::Trait(i) => ("a trait", keyword_and_name(i.trait_token, &i.ident)),
        Item::Impl(i) => ("an `impl` block", i.impl_token.to_token_stream()),
        Item::Mod(i) => ("a module", keyword_and_name(i.mod_token, &i.ident)),
        Item::Const(i) => ("a `const`", keyword_and_name(i.const_token, &i.ident)),
        Item::Static(i) => ("a `static`", keyword_and_name(i.static_token, &i.ident)),
        Item::Type(i) => ("a type alias", keyword_and_name(i.type_token, &i.ident)),
        Item::Use(i) => ("a `use` item", i.use_token.to_token_stream()),
        Item::ForeignMod(i) => ("an `extern` block", i.abi.to_token_stream()),
        other => ("this item", other.to_token_stream()),
    };
    Err(syn::Error::new_spanned(
        at,
        format!("#[tractor::{what}] applies to an `async fn`, not to {kind}"),
    ))
}

fn keyword_and_name(keyword: impl ToTokens, name: &syn::Ident) -> TokenStream {
    quote!(#keyword #name)
}

//! `#[tractor::endpoint]`: parse the fn into a model, then generate.

mod codegen;
mod model;
mod parse;

use proc_macro2::TokenStream;

pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let model = parse::parse(attr, item)?;
    Ok(codegen::generate(&model))
}

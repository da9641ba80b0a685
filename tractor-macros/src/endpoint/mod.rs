//! `#[tractor::endpoint]`: parse the fn into a model, then generate.

mod codegen;
mod model;
mod parse;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

/// The generated code, or every problem found plus the item unchanged (so
/// its uses do not add "not found" errors to the real ones).
pub(crate) use parse::Macro;

pub(crate) fn expand(attr: TokenStream, item: TokenStream, which: Macro) -> TokenStream {
    match parse::parse(attr, item.clone(), which) {
        Ok(model) => codegen::generate(&model),
        Err(e) => {
            let errors = e.into_compile_error();
            // rustc piles its own errors on a variadic non-`extern` fn.
            if syn::parse2::<ItemFn>(item.clone()).is_ok_and(|f| f.sig.variadic.is_some()) {
                return errors;
            }
            quote! {
                #errors
                #[allow(dead_code)]
                #item
            }
        }
    }
}

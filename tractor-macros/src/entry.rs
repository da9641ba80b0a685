//! `#[tractor::main]` and `#[tractor::test]`: wrap an async fn into a sync
//! entry point that first checks for child mode.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{ItemFn, LitInt, Token};

fn check_entry_fn(func: &ItemFn, what: &str) -> syn::Result<()> {
    let mut err: Option<syn::Error> = None;
    let mut push = |e: syn::Error| match &mut err {
        Some(all) => all.combine(e),
        None => err = Some(e),
    };
    if func.sig.asyncness.is_none() {
        push(syn::Error::new(
            func.sig.fn_token.span(),
            format!("#[tractor::{what}] needs an `async fn`"),
        ));
    }
    if !func.sig.inputs.is_empty() {
        push(syn::Error::new(
            func.sig.inputs.span(),
            format!("#[tractor::{what}] fn takes no arguments"),
        ));
    }
    if !func.sig.generics.params.is_empty() {
        push(syn::Error::new(
            func.sig.generics.span(),
            format!("#[tractor::{what}] fn cannot be generic"),
        ));
    }
    err.map_or(Ok(()), Err)
}

pub fn expand_main(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    if !attr.is_empty() {
        return Err(syn::Error::new(
            attr.span(),
            "#[tractor::main] takes no arguments; configure the root with `open_root_actor`",
        ));
    }
    let func: ItemFn = syn::parse2(item)?;
    check_entry_fn(&func, "main")?;
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let ident = &sig.ident;
    let output = &sig.output;
    Ok(quote! {
        #(#attrs)*
        #vis fn #ident() #output {
            ::tractor::__private::run_main(async move #block)
        }
    })
}

/// `timeout = <seconds>`.
struct TestArgs {
    timeout_secs: u64,
}

impl syn::parse::Parse for TestArgs {
    fn parse(input: syn::parse::ParseStream) -> syn::Result<Self> {
        let mut timeout_secs = 60;
        if !input.is_empty() {
            let key: syn::Ident = input.parse()?;
            if key != "timeout" {
                return Err(syn::Error::new(
                    key.span(),
                    "unknown #[tractor::test] option: the only one is `timeout = <seconds>`",
                ));
            }
            input.parse::<Token![=]>()?;
            let lit: LitInt = input.parse()?;
            timeout_secs = lit.base10_parse()?;
            if timeout_secs == 0 {
                return Err(syn::Error::new(lit.span(), "the test deadline must be at least 1 second"));
            }
        }
        Ok(TestArgs { timeout_secs })
    }
}

pub fn expand_test(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args: TestArgs = syn::parse2(attr)?;
    let func: ItemFn = syn::parse2(item)?;
    check_entry_fn(&func, "test")?;
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let ident = &sig.ident;
    let name = ident.to_string();
    let output = &sig.output;
    let secs = args.timeout_secs;
    Ok(quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis fn #ident() #output {
            ::tractor::__private::run_test(
                ::core::concat!(::core::module_path!(), "::", #name),
                ::core::time::Duration::from_secs(#secs),
                async move #block,
            )
        }
    })
}

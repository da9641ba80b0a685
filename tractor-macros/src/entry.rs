//! `#[tractor::main]` and `#[tractor::test]`: wrap an async fn into a sync
//! entry point that first checks for child mode.

use proc_macro2::TokenStream;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ItemFn, Lit, MetaNameValue, Token};

use crate::diag::{self, Errors};

fn check_entry_fn(func: &ItemFn, what: &str, errs: &mut Errors) {
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        errs.push(
            sig.fn_token,
            format!("#[tractor::{what}] applies to an `async fn`: add `async` before `fn`"),
        );
    }
    if !sig.generics.params.is_empty() {
        errs.push(
            &sig.generics,
            format!("a #[tractor::{what}] fn cannot be generic"),
        );
    }
    if !sig.inputs.is_empty() {
        let hint = match what {
            "main" => "; read command-line arguments with `std::env::args()`",
            _ => "",
        };
        errs.push(
            &sig.inputs,
            format!("a #[tractor::{what}] fn takes no arguments{hint}"),
        );
    }
}

pub(crate) fn expand_main(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errs = Errors::default();
    if !attr.is_empty() {
        errs.push(
            &attr,
            "#[tractor::main] takes no arguments: it always runs a current-thread runtime; configure the root actor with `open_root_actor`",
        );
    }
    let func = match diag::parse_fn(item.clone(), "main") {
        Ok(f) => f,
        Err(e) => {
            let errors = errs.and(e).into_compile_error();
            return quote! {
                #errors
                #[allow(dead_code)]
                #item
            };
        }
    };
    check_entry_fn(&func, "main", &mut errs);
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let ident = &sig.ident;
    if let Err(e) = errs.finish() {
        // A stand-in, so the only errors are the ones above (no "`main`
        // function not found").
        let errors = e.into_compile_error();
        return quote! {
            #errors
            #[allow(dead_code)]
            #vis fn #ident() {}
        };
    }
    // The body keeps the declared return type (so `?` converts into it);
    // the process's exit status is decided by the runtime (130 after an
    // interrupt).
    let ret = match &sig.output {
        syn::ReturnType::Default => quote!(()),
        // `impl Termination` cannot be named in a turbofish: inferred.
        syn::ReturnType::Type(_, ty) if matches!(**ty, syn::Type::ImplTrait(_)) => quote!(_),
        syn::ReturnType::Type(_, ty) => quote!(#ty),
    };
    quote! {
        #(#attrs)*
        #vis fn #ident() -> ::std::process::ExitCode {
            ::tractor::__private::run_main::<#ret, _>(async move #block)
        }
    }
}

const TEST_OPTIONS: &str = "#[tractor::test] takes `timeout = <seconds>` and `spawn_method = \"exec\" | \"forkserver\" | \"thread\"`";

/// The spawn backends `spawn_method` names, as `tractor::SpawnMethod` variants.
const SPAWN_METHODS: [(&str, &str); 3] = [
    ("exec", "Exec"),
    ("forkserver", "Forkserver"),
    ("thread", "Thread"),
];

/// A test's options.
struct TestArgs {
    timeout: u64,
    /// The `tractor::SpawnMethod` variant the test's root uses.
    spawn_method: Option<syn::Ident>,
}

/// `spawn_method = "<backend>"`; `None` (with the error collected) when it is no backend.
fn parse_spawn_method(opt: &MetaNameValue, errs: &mut Errors) -> Option<syn::Ident> {
    let expected = "`spawn_method` is one of \"exec\", \"forkserver\", \"thread\" (a string)";
    let Expr::Lit(ExprLit {
        lit: Lit::Str(s), ..
    }) = ungroup(&opt.value)
    else {
        errs.push(&opt.value, expected);
        return None;
    };
    match SPAWN_METHODS.iter().find(|(name, _)| *name == s.value()) {
        Some((_, variant)) => Some(syn::Ident::new(variant, s.span())),
        None => {
            errs.push(s, format!("unknown spawn method: {expected}"));
            None
        }
    }
}

/// `e` without the invisible groups a `macro_rules!` fragment (`$x:literal`)
/// wraps it in.
fn ungroup(mut e: &Expr) -> &Expr {
    while let Expr::Group(g) = e {
        e = &g.expr;
    }
    e
}

/// `timeout = <seconds>` and `spawn_method = "<backend>"`; every problem is collected.
fn parse_test_args(attr: TokenStream, errs: &mut Errors) -> TestArgs {
    let mut timeout: Option<u64> = None;
    let mut spawn_method: Option<syn::Ident> = None;
    let mut method_seen = false;
    let parser = Punctuated::<MetaNameValue, Token![,]>::parse_terminated;
    let options = match syn::parse::Parser::parse2(parser, attr) {
        Ok(options) => options,
        Err(e) => {
            errs.push_error(syn::Error::new(e.span(), format!("{TEST_OPTIONS}: {e}")));
            return TestArgs {
                timeout: 60,
                spawn_method: None,
            };
        }
    };
    for opt in &options {
        if opt.path.is_ident("spawn_method") {
            if method_seen {
                errs.push(opt, "`spawn_method` is given twice");
                continue;
            }
            method_seen = true;
            spawn_method = parse_spawn_method(opt, errs);
            continue;
        }
        if !opt.path.is_ident("timeout") {
            errs.push(&opt.path, format!("unknown option: {TEST_OPTIONS}"));
            continue;
        }
        if timeout.is_some() {
            errs.push(opt, "`timeout` is given twice");
            continue;
        }
        let secs = match ungroup(&opt.value) {
            Expr::Lit(ExprLit {
                lit: Lit::Int(lit), ..
            }) if lit.suffix().is_empty() => match lit.base10_parse::<u64>() {
                Ok(0) => {
                    errs.push(
                        lit,
                        "`timeout` is the test's deadline in seconds and must be at least 1",
                    );
                    continue;
                }
                Ok(secs) => secs,
                Err(e) => {
                    errs.push_error(e);
                    continue;
                }
            },
            other => {
                errs.push(
                    other,
                    "`timeout` is a whole number of seconds, without quotes or unit: write `timeout = 30`",
                );
                continue;
            }
        };
        timeout = Some(secs);
    }
    TestArgs {
        timeout: timeout.unwrap_or(60),
        spawn_method,
    }
}

pub(crate) fn expand_test(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errs = Errors::default();
    let TestArgs {
        timeout: secs,
        spawn_method,
    } = parse_test_args(attr, &mut errs);
    let func = match diag::parse_fn(item, "test") {
        Ok(f) => f,
        Err(e) => return errs.and(e).into_compile_error(),
    };
    check_entry_fn(&func, "test", &mut errs);
    if let Err(e) = errs.finish() {
        return e.into_compile_error();
    }
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let ident = &sig.ident;
    let name = ident.to_string();
    let output = &sig.output;
    let spawn_method = match spawn_method {
        Some(m) => quote!(::core::option::Option::Some(::tractor::SpawnMethod::#m)),
        None => quote!(::core::option::Option::None),
    };
    quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis fn #ident() #output {
            ::tractor::__private::run_test(
                ::core::concat!(::core::module_path!(), "::", #name),
                ::core::time::Duration::from_secs(#secs),
                #spawn_method,
                async move #block,
            )
        }
    }
}

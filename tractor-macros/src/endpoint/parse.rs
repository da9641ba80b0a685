//! Validates the fn and builds the model. Every problem is collected, so
//! one compile shows them all.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, Pat, PathArguments, ReturnType, Type, Visibility};

use super::model::{Arg, EndpointModel, Output};

struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, span: impl Spanned, msg: impl std::fmt::Display) {
        let e = syn::Error::new(span.span(), msg);
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }
}

pub fn parse(attr: TokenStream, item: TokenStream) -> syn::Result<EndpointModel> {
    let mut errs = Errors(None);
    if !attr.is_empty() {
        errs.push(
            &attr,
            "#[tractor::endpoint] takes no arguments; its name is the fn's module path plus its name",
        );
    }
    let func: ItemFn = syn::parse2(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            "#[tractor::endpoint] applies to an `async fn` item",
        )
    })?;
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        errs.push(
            sig.fn_token,
            "an endpoint must be an `async fn`: write `async fn`",
        );
    }
    if let Some(c) = &sig.constness {
        errs.push(c, "an endpoint cannot be a `const fn`");
    }
    if let Some(u) = &sig.unsafety {
        errs.push(u, "an endpoint cannot be `unsafe`: a remote caller cannot uphold its contract");
    }
    if let Some(a) = &sig.abi {
        errs.push(a, "an endpoint cannot have an `extern` ABI");
    }
    if let Some(v) = &sig.variadic {
        errs.push(v, "an endpoint cannot be variadic");
    }
    if !sig.generics.params.is_empty() {
        errs.push(
            &sig.generics.params,
            "an endpoint cannot be generic: the remote actor must know the concrete argument and return types; write one endpoint per concrete type",
        );
    }
    if let Some(w) = &sig.generics.where_clause {
        errs.push(w, "an endpoint cannot have a `where` clause: it cannot be generic");
    }
    let mut args = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => errs.push(
                r,
                "an endpoint cannot take `self`: endpoints are free functions called by name from another process; pass the state it needs as arguments",
            ),
            FnArg::Typed(pt) => {
                let name = match &*pt.pat {
                    Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                        Some(pi.ident.clone())
                    }
                    other => {
                        errs.push(
                            other,
                            "endpoint arguments must be plain names (`x: T`): they become the fields of the generated `Args` struct",
                        );
                        None
                    }
                };
                check_owned(&pt.ty, "argument", &mut errs);
                if let Some(name) = name {
                    args.push(Arg {
                        name,
                        ty: (*pt.ty).clone(),
                    });
                }
            }
        }
    }
    let output = match &sig.output {
        ReturnType::Default => Output::Plain(syn::parse_quote!(())),
        ReturnType::Type(_, ty) => {
            check_owned(ty, "return type", &mut errs);
            match result_ok_type(ty) {
                ResultShape::NotResult => Output::Plain((**ty).clone()),
                ResultShape::Fallible(ok) => Output::Fallible { ok },
                ResultShape::Alias => {
                    errs.push(
                        ty,
                        "spell the endpoint's `Result` with both parameters, `Result<T, E>`, so its error type can be boxed for the caller",
                    );
                    Output::Plain((**ty).clone())
                }
            }
        }
    };
    if let Some(e) = errs.0 {
        return Err(e);
    }
    let item_vis = item_visibility(&func.vis);
    Ok(EndpointModel {
        name: func.sig.ident.clone(),
        func,
        item_vis,
        args,
        output,
    })
}

/// Arguments and results cross a process boundary: no borrows, no
/// `impl Trait`, no trait objects.
fn check_owned(ty: &Type, what: &str, errs: &mut Errors) {
    match ty {
        Type::Reference(r) => errs.push(
            r,
            format!(
                "an endpoint {what} crosses a process boundary and must be owned: use `String` for `&str`, `Vec<T>` for `&[T]`, or `T` for `&T`"
            ),
        ),
        Type::ImplTrait(i) => errs.push(
            i,
            format!("an endpoint {what} cannot be `impl Trait`: name a concrete serde type"),
        ),
        Type::TraitObject(t) => errs.push(
            t,
            format!("an endpoint {what} cannot be a trait object: name a concrete serde type"),
        ),
        Type::Paren(p) => check_owned(&p.elem, what, errs),
        Type::Tuple(t) => t.elems.iter().for_each(|e| check_owned(e, what, errs)),
        Type::Array(a) => check_owned(&a.elem, what, errs),
        Type::Slice(s) => check_owned(&s.elem, what, errs),
        Type::Path(p) => {
            for seg in &p.path.segments {
                if let PathArguments::AngleBracketed(ab) = &seg.arguments {
                    for a in &ab.args {
                        match a {
                            GenericArgument::Type(t) => check_owned(t, what, errs),
                            GenericArgument::Lifetime(l) => errs.push(
                                l,
                                format!(
                                    "an endpoint {what} crosses a process boundary and cannot borrow: remove the lifetime `{}` and use an owned type",
                                    l.to_token_stream()
                                ),
                            ),
                            _ => {}
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

enum ResultShape {
    NotResult,
    Fallible(Type),
    Alias,
}

fn result_ok_type(ty: &Type) -> ResultShape {
    let Type::Path(p) = ty else {
        return ResultShape::NotResult;
    };
    let Some(last) = p.path.segments.last() else {
        return ResultShape::NotResult;
    };
    if last.ident != "Result" {
        return ResultShape::NotResult;
    }
    let PathArguments::AngleBracketed(ab) = &last.arguments else {
        return ResultShape::Alias;
    };
    let tys: Vec<&Type> = ab
        .args
        .iter()
        .filter_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        })
        .collect();
    match tys.as_slice() {
        [ok, _err] => ResultShape::Fallible((*ok).clone()),
        _ => ResultShape::Alias,
    }
}

/// Items of the generated module must be reachable wherever the fn is.
fn item_visibility(fn_vis: &Visibility) -> Visibility {
    match fn_vis {
        Visibility::Inherited => syn::parse_quote!(pub(super)),
        Visibility::Public(_) => syn::parse_quote!(pub),
        Visibility::Restricted(r) if r.path.is_ident("crate") => syn::parse_quote!(pub(crate)),
        Visibility::Restricted(_) => syn::parse_quote!(pub(crate)),
    }
}

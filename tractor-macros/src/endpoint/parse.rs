//! Validates the fn and builds the model. Every problem is collected, so
//! one compile shows them all.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{
    FnArg, GenericArgument, GenericParam, ItemFn, Pat, PathArguments, ReturnType, Type, Visibility,
};

use super::model::{Arg, ContextParam, EndpointModel, Kind, Output};

/// What the fn returns, before it is paired with the kind of macro.
enum Returns {
    Value(Output),
    Stream(Type),
}
use crate::diag::{self, Errors};

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Macro {
    /// `#[tractor::endpoint]`
    Endpoint,
    /// `#[tractor::context]`
    Context,
}

impl Macro {
    fn name(self) -> &'static str {
        match self {
            Macro::Endpoint => "endpoint",
            Macro::Context => "context",
        }
    }
}

pub(super) fn parse(
    attr: TokenStream,
    item: TokenStream,
    which: Macro,
) -> syn::Result<EndpointModel> {
    let mut errs = Errors::default();
    let name_override = match parse_name_attr(attr, which) {
        Ok(n) => n,
        Err(e) => {
            errs.push_error(e);
            None
        }
    };
    let func: ItemFn = match diag::parse_fn(item, which.name()) {
        Ok(f) => f,
        Err(e) => return Err(errs.and(e)),
    };
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        errs.push(
            sig.fn_token,
            "an endpoint must be an `async fn`: add `async` before `fn`",
        );
    }
    if let Some(c) = &sig.constness {
        errs.push(
            c,
            "an endpoint cannot be a `const fn`: it runs when another actor calls it, never at compile time; remove `const`",
        );
    }
    if let Some(u) = &sig.unsafety {
        errs.push(
            u,
            "an endpoint cannot be an `unsafe fn`: a remote caller cannot uphold its safety contract; remove `unsafe` and check the preconditions in the body",
        );
    }
    if let Some(a) = &sig.abi {
        errs.push(
            a,
            "an endpoint cannot have an `extern` ABI: tractor's dispatcher calls it as a Rust fn; remove the ABI",
        );
    }
    if let Some(v) = &sig.variadic {
        errs.push(
            v,
            "an endpoint cannot be variadic: its arguments become the fields of a struct; take a `Vec<T>` instead",
        );
    }
    let params = &sig.generics.params;
    if params
        .iter()
        .any(|p| !matches!(p, GenericParam::Lifetime(_)))
    {
        errs.push(
            &sig.generics,
            "an endpoint cannot be generic: the remote actor must know the concrete argument and return types; write one endpoint per concrete type",
        );
    } else if !params.is_empty() {
        errs.push(
            &sig.generics,
            "an endpoint cannot have lifetime parameters: its arguments and result cross a process boundary and must be owned",
        );
    }
    if let Some(w) = &sig.generics.where_clause {
        errs.push(
            w,
            "an endpoint cannot have a `where` clause: endpoints are not generic, so there is nothing to bound",
        );
    }
    let mut args = Vec::new();
    let mut context: Option<Box<ContextParam>> = None;
    // A `Context` parameter was written, even if malformed: do not also
    // report it missing.
    let mut saw_context = false;
    for (position, input) in sig.inputs.iter().enumerate() {
        if let FnArg::Typed(pt) = input
            && let Type::Reference(r) = &*pt.ty
            && context_params(&r.elem).is_some()
        {
            saw_context = true;
            errs.push(
                r,
                match which {
                    Macro::Endpoint => "an endpoint taking a `Context` is a context endpoint: mark it #[tractor::context] instead of #[tractor::endpoint], and take the `Context` by value",
                    Macro::Context => "take the `Context` by value (`ctx: Context<..>`, not `&Context<..>`): the context endpoint owns its half of the dialog",
                },
            );
            continue;
        }
        if let FnArg::Typed(pt) = input
            && let Some(params) = context_params(&pt.ty)
        {
            let first = !saw_context;
            saw_context = true;
            match (which, first) {
                (Macro::Endpoint, _) => errs.push(
                    &pt.ty,
                    "an endpoint taking a `Context` is a context endpoint: mark it #[tractor::context] instead of #[tractor::endpoint]",
                ),
                (Macro::Context, false) => errs.push(
                    &pt.ty,
                    "a context endpoint takes exactly one `Context` parameter: remove this one (the stream of the first carries both directions)",
                ),
                (Macro::Context, true) => match params {
                    Ok([started, tx, rx]) => {
                        for t in [&started, &tx, &rx] {
                            check_owned(t, "a `Context` payload", &mut errs);
                        }
                        context = Some(Box::new(ContextParam {
                            position,
                            started,
                            tx,
                            rx,
                        }))
                    }
                    Err(e) => errs.push_error(e),
                },
            }
            continue;
        }
        match input {
            FnArg::Receiver(r) => errs.push(
                r,
                "an endpoint cannot take `self`: it is a free function that another process calls by name; move it out of the `impl` block and pass the state it needs as arguments",
            ),
            FnArg::Typed(pt) => {
                let name = match &*pt.pat {
                    Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                        Some(pi.ident.clone())
                    }
                    other => {
                        errs.push(
                            other,
                            "endpoint arguments must be plain names (`x: T`): each becomes a field of the generated `Args` struct; destructure it in the body instead",
                        );
                        None
                    }
                };
                check_owned(&pt.ty, "an endpoint argument", &mut errs);
                if let Some(name) = name {
                    args.push(Arg {
                        name,
                        ty: (*pt.ty).clone(),
                    });
                }
            }
        }
    }
    if which == Macro::Context && !saw_context {
        // At the parentheses: never empty, unlike the inputs.
        errs.push_error(syn::Error::new(
            sig.paren_token.span.join(),
            "a context endpoint needs a `tractor::Context<Started, Tx, Rx>` parameter: add one (e.g. `ctx: tractor::Context<()>` for no payloads), or use #[tractor::endpoint] for a plain call",
        ));
    }
    let returns = match &sig.output {
        ReturnType::Default => Returns::Value(Output::Value(syn::parse_quote!(()))),
        ReturnType::Type(_, ty) if stream_item(ty).is_some() => {
            let item = stream_item(ty)
                .cloned()
                .unwrap_or_else(|| syn::parse_quote!(()));
            if which == Macro::Context {
                errs.push(
                    ty,
                    "a context endpoint cannot return a stream: open the context's stream with `ctx.open_stream()` instead, or make this a #[tractor::endpoint]",
                );
            }
            check_owned(&item, "a stream item", &mut errs);
            Returns::Stream(item)
        }
        ReturnType::Type(_, ty) => {
            check_owned(ty, "an endpoint return type", &mut errs);
            Returns::Value(match result_types(ty) {
                ResultShape::NotResult => Output::Value((**ty).clone()),
                ResultShape::Fallible { ok, err } => Output::Fallible {
                    ok: ok.clone(),
                    err_span: err.span(),
                },
                ResultShape::Alias => {
                    errs.push(
                        ty,
                        "write the endpoint's result as `Result<T, E>` with both parameters: the macro reads `E` from the signature to box the error for the caller and cannot see through a `Result` alias (for `io::Result<T>`, write `Result<T, std::io::Error>`)",
                    );
                    Output::Value((**ty).clone())
                }
            })
        }
    };
    errs.finish()?;
    let kind = match (context, returns) {
        (None, Returns::Value(output)) => Kind::Plain(output),
        (None, Returns::Stream(item)) => Kind::Stream { item },
        (Some(param), Returns::Value(output)) => Kind::Context { param, output },
        // Reported above; `finish` returned it.
        (Some(_), Returns::Stream(item)) => {
            return Err(syn::Error::new(
                item.span(),
                "a context endpoint cannot return a stream",
            ));
        }
    };
    let item_vis = item_visibility(&func.vis);
    Ok(EndpointModel {
        name: func.sig.ident.clone(),
        name_override,
        func,
        item_vis,
        args,
        kind,
    })
}

/// `Context<A, B, C>` (any path ending in `Context`) → its three payload
/// types, `()` for omitted ones.
fn context_params(ty: &Type) -> Option<syn::Result<[Type; 3]>> {
    let Type::Path(p) = ty else {
        return None;
    };
    let last = p.path.segments.last()?;
    if last.ident != "Context" {
        return None;
    }
    let unit: Type = syn::parse_quote!(());
    let mut out = [unit.clone(), unit.clone(), unit];
    let mut errs = Errors::default();
    if let PathArguments::AngleBracketed(ab) = &last.arguments {
        let mut slots = out.iter_mut();
        for (i, a) in ab.args.iter().enumerate() {
            match a {
                GenericArgument::Type(t) => {
                    if let Some(slot) = slots.next() {
                        *slot = t.clone();
                        continue;
                    }
                    // This and every later argument, as one error.
                    let extra: TokenStream =
                        ab.args.iter().skip(i).map(|a| a.to_token_stream()).collect();
                    errs.push(
                        extra,
                        "`Context` takes at most three payload types, `Context<Started, Tx, Rx>` (the `started` value, what this side sends, what it receives): remove the extra ones; send a tuple or a struct to carry more",
                    );
                    break;
                }
                GenericArgument::Lifetime(l) => errs.push(
                    l,
                    format!(
                        "a `Context` payload crosses a process boundary and cannot borrow: remove the lifetime `{}`; `Context<Started, Tx, Rx>` takes only owned payload types",
                        l.to_token_stream()
                    ),
                ),
                other => errs.push(
                    other,
                    "`Context` takes only payload types, `Context<Started, Tx, Rx>` (the `started` value, what this side sends, what it receives): remove this",
                ),
            }
        }
    }
    Some(errs.finish().map(|()| out))
}

/// `impl Stream<Item = T>` (any path ending in `Stream`) → `T`.
fn stream_item(ty: &Type) -> Option<&Type> {
    let Type::ImplTrait(it) = ty else {
        return None;
    };
    it.bounds.iter().find_map(|b| {
        let syn::TypeParamBound::Trait(tb) = b else {
            return None;
        };
        let last = tb.path.segments.last()?;
        if last.ident != "Stream" {
            return None;
        }
        let PathArguments::AngleBracketed(ab) = &last.arguments else {
            return None;
        };
        ab.args.iter().find_map(|a| match a {
            GenericArgument::AssocType(at) if at.ident == "Item" => Some(&at.ty),
            _ => None,
        })
    })
}

/// Arguments and results cross a process boundary: no borrows, no
/// `impl Trait`, no trait objects. `what` is the message's subject
/// ("an endpoint argument").
fn check_owned(ty: &Type, what: &str, errs: &mut Errors) {
    match ty {
        Type::Reference(r) => errs.push(
            r,
            format!(
                "{what} crosses a process boundary and must be owned: use `String` for `&str`, `Vec<T>` for `&[T]`, or `T` for `&T`"
            ),
        ),
        Type::ImplTrait(i) => errs.push(
            i,
            format!(
                "{what} cannot be `impl Trait`: the other process must know the concrete type; name a serde (`Serialize + Deserialize`) type"
            ),
        ),
        Type::TraitObject(t) => errs.push(
            t,
            format!(
                "{what} cannot be a trait object: the other process must know the concrete type; name a serde (`Serialize + Deserialize`) type"
            ),
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
                                    "{what} crosses a process boundary and cannot borrow: remove the lifetime `{}` and use an owned type",
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

enum ResultShape<'a> {
    NotResult,
    Fallible { ok: &'a Type, err: &'a Type },
    Alias,
}

/// `Result<T, E>` → its `T` and `E`, recognised by the last path segment.
fn result_types(ty: &Type) -> ResultShape<'_> {
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
        [ok, err] => ResultShape::Fallible { ok, err },
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

/// `name = "module::fn"`: an explicit wire name, so that binaries built
/// from different crates (a service and its clients) agree on it. Without
/// it an endpoint is named by `module_path!()` and its fn name.
fn parse_name_attr(attr: TokenStream, which: Macro) -> syn::Result<Option<syn::LitStr>> {
    if attr.is_empty() {
        return Ok(None);
    }
    let usage = match which {
        Macro::Endpoint => {
            "#[tractor::endpoint] takes one optional argument, `name = \"module::fn\"` (the wire name; default: the fn's module path and name)"
        }
        Macro::Context => {
            "#[tractor::context] takes one optional argument, `name = \"module::fn\"` (the wire name; default: the fn's module path and name); its stream's flow is set per call (`name::call(..).buffer(n)`, `.overrun_mode()`)"
        }
    };
    let parser = |input: syn::parse::ParseStream| -> syn::Result<syn::LitStr> {
        let key: syn::Ident = input.parse()?;
        if key != "name" {
            return Err(syn::Error::new(key.span(), usage));
        }
        input.parse::<syn::Token![=]>()?;
        let lit: syn::LitStr = input.parse()?;
        if !input.is_empty() {
            return Err(input.error(usage));
        }
        Ok(lit)
    };
    let lit = syn::parse::Parser::parse2(parser, attr).map_err(|e| {
        let msg = e.to_string();
        if msg == usage {
            e
        } else {
            syn::Error::new(e.span(), format!("{usage}; here: {msg}"))
        }
    })?;
    let value = lit.value();
    let valid = value
        .rsplit_once("::")
        .is_some_and(|(m, f)| !m.is_empty() && !f.is_empty() && !f.contains(':'));
    if !valid {
        return Err(syn::Error::new(
            lit.span(),
            "an endpoint name is `module::fn` (a module path, `::`, a fn name); `enable_modules` matches its module part",
        ));
    }
    Ok(Some(lit))
}

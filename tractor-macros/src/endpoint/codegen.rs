//! Generates the endpoint's module: `Args`, `Endpoint`, `call`, and the
//! link-time registered dispatcher.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::Type;
use syn::spanned::Spanned;

use super::model::{EndpointModel, Kind, Output};

pub(super) fn generate(m: &EndpointModel) -> TokenStream {
    let func = &m.func;
    let fn_vis = &m.func.vis;
    let name = &m.name;
    let name_str = name.to_string();
    let vis = &m.item_vis;
    let arg_names: Vec<_> = m.args.iter().map(|a| &a.name).collect();
    let arg_tys: Vec<_> = m.args.iter().map(|a| &a.ty).collect();
    let mod_doc = format!("Typed RPC plumbing of the endpoint [`{name_str}()`](fn@{name_str}).");
    let call_doc = format!(
        "A typed call of [`{name_str}()`](fn@super::{name_str}), for {}.",
        match (&m.kind, &m.output) {
            (Kind::Context(_), _) => "`Portal::open_context`",
            (_, Output::Stream { .. }) => "`Portal::open_stream_from`",
            _ => "`Portal::run` or `ActorNursery::run_in_actor`",
        }
    );
    // Spans: a rustc error about an argument, the result or the error type
    // points at that type in the user's signature, not at the attribute.
    let fields = m.args.iter().map(|a| {
        let (name, ty) = (&a.name, &a.ty);
        quote_spanned!(ty.span()=> pub #name: #ty)
    });
    let call = format_ident!("call", span = name.span());
    // Each local is bound and used with one span, so it resolves even when
    // the user's types come from another macro's expansion.
    let ok_reply = |ok: &Type, value: &Ident| quote_spanned!(ok.span()=> ::tractor::__private::Reply::ok(&#value));
    let out = match &m.output {
        Output::Plain(t) => Ident::new("out", t.span()),
        Output::Stream { item } => Ident::new("out", item.span()),
        Output::Fallible { .. } => format_ident!("out"),
    };
    let (ok_ty, reply) = match &m.output {
        Output::Plain(t) => (t, ok_reply(t, &out)),
        Output::Stream { item } => {
            // An item that is not `Serialize` is reported at the item type;
            // `inv` keeps the span it is bound with.
            let inv = format_ident!("inv");
            (
                item,
                quote_spanned!(item.span()=> ::tractor::__private::Invocation::pump(#inv, #out).await),
            )
        }
        Output::Fallible { ok, err_span } => {
            let v = Ident::new("v", ok.span());
            let ok_v = ok_reply(ok, &v);
            let e = Ident::new("e", *err_span);
            let box_error = quote_spanned! {*err_span=>
                (&&&&::tractor::__private::ErrorProbe(&#e)).box_error()
            };
            (
                ok,
                quote! {
                    match #out {
                        ::core::result::Result::Ok(#v) => #ok_v,
                        ::core::result::Result::Err(#e) => {
                            use ::tractor::__private::{
                                BoxDisplayError as _, BoxSerializableError as _, BoxStdError as _,
                                BoxTractorError as _,
                            };
                            let boxed = #box_error;
                            ::tractor::__private::Reply::Err(boxed)
                        }
                    }
                },
            )
        }
    };
    let dispatch = format_ident!("dispatch");
    let (path, wire_name) = match &m.name_override {
        Some(lit) => {
            let full = lit.value();
            let fname = full
                .rsplit_once("::")
                .map_or(full.as_str(), |(_, f)| f)
                .to_string();
            (quote!(#lit), quote!(#fname))
        }
        None => (quote!(::core::module_path!()), quote!(#name_str)),
    };
    let (kind_variant, kind_impl, payload_tys, ctx_binding, call_args, inv_binding) =
        match (&m.kind, &m.output) {
            (Kind::Context(c), _) => {
                let (position, started, tx, rx) = (&c.position, &c.started, &c.tx, &c.rx);
                let mut call_args: Vec<TokenStream> =
                    arg_names.iter().map(|n| quote!(#n)).collect();
                call_args.insert((*position).min(call_args.len()), quote!(ctx));
                (
                    format_ident!("Context"),
                    quote! {
                        #[diagnostic::do_not_recommend]
                        impl ::tractor::ContextEndpoint for Endpoint {
                            type Started = #started;
                            type ToCallee = #rx;
                            type FromCallee = #tx;
                            type Return = #ok_ty;
                        }
                    },
                    vec![started.clone(), tx.clone(), rx.clone()],
                    quote! {
                        let ctx = match inv.context::<#started, #tx, #rx>() {
                            ::core::result::Result::Ok(ctx) => ctx,
                            ::core::result::Result::Err(reply) => return reply,
                        };
                    },
                    call_args,
                    quote!(mut inv),
                )
            }
            (Kind::Endpoint, Output::Stream { item }) => (
                format_ident!("Stream"),
                quote! {
                    #[diagnostic::do_not_recommend]
                    impl ::tractor::StreamEndpoint for Endpoint {
                        type Item = #item;
                    }
                },
                vec![item.clone()],
                quote!(),
                arg_names.iter().map(|n| quote!(#n)).collect(),
                quote!(inv),
            ),
            (Kind::Endpoint, _) => (
                format_ident!("AsyncFunc"),
                quote! {
                    #[diagnostic::do_not_recommend]
                    impl ::tractor::Endpoint for Endpoint {
                        type Output = #ok_ty;
                    }
                },
                Vec::new(),
                quote!(),
                arg_names.iter().map(|n| quote!(#n)).collect(),
                quote!(inv),
            ),
        };
    quote! {
        #func

        #[doc = #mod_doc]
        #[allow(non_snake_case, unused_imports)]
        #fn_vis mod #name {
            use super::*;

            /// The endpoint's arguments, as sent over IPC.
            #[derive(::tractor::__private::serde::Serialize, ::tractor::__private::serde::Deserialize)]
            #[serde(crate = "::tractor::__private::serde")]
            #[allow(missing_docs)]
            #vis struct Args {
                #( #fields, )*
            }

            /// Names the endpoint in `Call<Endpoint>`.
            #vis struct Endpoint;

            impl ::tractor::RemoteFn for Endpoint {
                type Args = Args;
                const PATH: &'static str = #path;
                const NAME: &'static str = #wire_name;
                const KIND: ::tractor::__private::FuncType = ::tractor::__private::FuncType::#kind_variant;

                fn signature() -> ::std::string::String {
                    ::tractor::__private::signature(
                        &[#( ::core::any::type_name::<#arg_tys>() ),*],
                        &[#( ::core::any::type_name::<#payload_tys>() ),*],
                        ::core::any::type_name::<#ok_ty>(),
                    )
                }

                fn signature_hash() -> u64 {
                    static HASH: ::tractor::__private::OnceLock<u64> = ::tractor::__private::OnceLock::new();
                    *HASH.get_or_init(|| ::tractor::__private::stable_hash(&<Self as ::tractor::RemoteFn>::signature()))
                }
            }

            #kind_impl

            #[doc = #call_doc]
            #vis fn #call(#( #arg_names: #arg_tys ),*) -> ::tractor::Call<Endpoint> {
                ::tractor::Call::new(Args { #( #arg_names ),* })
            }

            fn #dispatch(#inv_binding: ::tractor::__private::Invocation) -> ::tractor::__private::HandlerFuture {
                ::tractor::__private::Box::pin(async move {
                    let Args { #( #arg_names ),* } = match inv.decode::<Args>() {
                        ::core::result::Result::Ok(args) => args,
                        ::core::result::Result::Err(reply) => return reply,
                    };
                    #ctx_binding
                    let #out = super::#name(#( #call_args ),*).await;
                    #reply
                })
            }

            #[::tractor::__private::linkme::distributed_slice(::tractor::__private::ENDPOINTS)]
            #[linkme(crate = ::tractor::__private::linkme)]
            static ENTRY: ::tractor::__private::EndpointEntry = ::tractor::__private::EndpointEntry {
                path: <Endpoint as ::tractor::RemoteFn>::PATH,
                name: <Endpoint as ::tractor::RemoteFn>::NAME,
                kind: <Endpoint as ::tractor::RemoteFn>::KIND,
                signature: <Endpoint as ::tractor::RemoteFn>::signature,
                handler: #dispatch,
            };
        }
    }
}

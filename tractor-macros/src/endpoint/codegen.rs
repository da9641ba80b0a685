//! Generates the endpoint's module: `Args`, `Endpoint`, `call`, and the
//! link-time registered dispatcher.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::Type;
use syn::spanned::Spanned;

use super::model::{EndpointModel, Output};

pub fn generate(m: &EndpointModel) -> TokenStream {
    let func = &m.func;
    let fn_vis = &m.func.vis;
    let name = &m.name;
    let name_str = name.to_string();
    let vis = &m.item_vis;
    let arg_names: Vec<_> = m.args.iter().map(|a| &a.name).collect();
    let arg_tys: Vec<_> = m.args.iter().map(|a| &a.ty).collect();
    let mod_doc = format!("Typed RPC plumbing of the endpoint [`{name_str}()`](fn@{name_str}).");
    let call_doc = format!(
        "A typed call of [`{name_str}()`](fn@super::{name_str}), for `Portal::run` or `ActorNursery::run_in_actor`."
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
        Output::Fallible { .. } => format_ident!("out"),
    };
    let (ok_ty, reply) = match &m.output {
        Output::Plain(t) => (t, ok_reply(t, &out)),
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

            impl ::tractor::Endpoint for Endpoint {
                type Args = Args;
                type Output = #ok_ty;
                const PATH: &'static str = ::core::module_path!();
                const NAME: &'static str = #name_str;
            }

            #[doc = #call_doc]
            #vis fn #call(#( #arg_names: #arg_tys ),*) -> ::tractor::Call<Endpoint> {
                ::tractor::Call::new(Args { #( #arg_names ),* })
            }

            fn #dispatch(inv: ::tractor::__private::Invocation) -> ::tractor::__private::HandlerFuture {
                ::tractor::__private::Box::pin(async move {
                    let Args { #( #arg_names ),* } = match inv.decode::<Args>() {
                        ::core::result::Result::Ok(args) => args,
                        ::core::result::Result::Err(reply) => return reply,
                    };
                    let #out = super::#name(#( #arg_names ),*).await;
                    #reply
                })
            }

            #[::tractor::__private::linkme::distributed_slice(::tractor::__private::ENDPOINTS)]
            #[linkme(crate = ::tractor::__private::linkme)]
            static ENTRY: ::tractor::__private::EndpointEntry = ::tractor::__private::EndpointEntry {
                path: <Endpoint as ::tractor::Endpoint>::PATH,
                name: #name_str,
                handler: #dispatch,
            };
        }
    }
}

//! What differs between the kinds of endpoint: one type each, producing
//! its part of the generated module.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::Type;
use syn::spanned::Spanned;

use crate::endpoint::model::{ContextParam, EndpointModel, Kind, Output};

/// The parts of the generated module a kind of endpoint decides.
pub(super) trait KindCode {
    /// The `FuncType` variant caller and callee agree on.
    fn func_type(&self) -> Ident;
    /// The public trait saying how the endpoint is called, for `Endpoint`.
    fn trait_impl(&self) -> TokenStream;
    /// The `__private` fn that traces the dialog's schema.
    fn schema_fn(&self) -> Ident;
    /// Which method takes a call, for the `call` fn's doc.
    fn called_with(&self) -> &'static str;
    /// The dispatcher's `Invocation` parameter.
    fn invocation(&self) -> TokenStream {
        quote!(inv)
    }
    /// Statements between decoding the arguments and calling the fn.
    fn prelude(&self) -> TokenStream {
        TokenStream::new()
    }
    /// The fn's arguments, in the order it takes them.
    fn call_args(&self, names: &[&Ident]) -> Vec<TokenStream> {
        names.iter().map(|n| quote!(#n)).collect()
    }
    /// The local holding what the fn returned.
    fn out(&self) -> Ident;
    /// Turns `out` into the dispatcher's `Reply`.
    fn reply(&self, out: &Ident) -> TokenStream;
}

pub(super) fn of(m: &EndpointModel) -> Box<dyn KindCode + '_> {
    match &m.kind {
        Kind::Plain(output) => Box::new(PlainFn {
            answer: Answer(output),
        }),
        Kind::Stream { item } => Box::new(StreamFn { item }),
        Kind::Context { param, output } => Box::new(ContextFn {
            param,
            answer: Answer(output),
        }),
    }
}

/// `#[tractor::endpoint]` answered by one value.
struct PlainFn<'a> {
    answer: Answer<'a>,
}

impl KindCode for PlainFn<'_> {
    fn func_type(&self) -> Ident {
        format_ident!("AsyncFunc")
    }

    fn trait_impl(&self) -> TokenStream {
        let output = self.answer.ok_type();
        quote! {
            #[diagnostic::do_not_recommend]
            impl ::tractor::Endpoint for Endpoint {
                type Output = #output;
            }
        }
    }

    fn schema_fn(&self) -> Ident {
        format_ident!("endpoint_schema")
    }

    fn called_with(&self) -> &'static str {
        "`Portal::run` or `ActorNursery::run_in_actor`"
    }

    fn out(&self) -> Ident {
        self.answer.out()
    }

    fn reply(&self, out: &Ident) -> TokenStream {
        self.answer.reply(out)
    }
}

/// `#[tractor::endpoint]` returning `impl Stream<Item = T>`.
struct StreamFn<'a> {
    item: &'a Type,
}

impl KindCode for StreamFn<'_> {
    fn func_type(&self) -> Ident {
        format_ident!("Stream")
    }

    fn trait_impl(&self) -> TokenStream {
        let item = self.item;
        quote! {
            #[diagnostic::do_not_recommend]
            impl ::tractor::StreamEndpoint for Endpoint {
                type Item = #item;
            }
        }
    }

    fn schema_fn(&self) -> Ident {
        format_ident!("stream_schema")
    }

    fn called_with(&self) -> &'static str {
        "`Portal::open_stream_from`"
    }

    fn out(&self) -> Ident {
        Ident::new("out", self.item.span())
    }

    fn reply(&self, out: &Ident) -> TokenStream {
        // An item that is not `Serialize` is reported at the item type;
        // `inv` keeps the span the dispatcher binds it with.
        let inv = format_ident!("inv");
        quote_spanned!(self.item.span()=> ::tractor::__private::Invocation::pump(#inv, #out).await)
    }
}

/// `#[tractor::context]`: the fn also takes its half of the dialog.
struct ContextFn<'a> {
    param: &'a ContextParam,
    answer: Answer<'a>,
}

impl KindCode for ContextFn<'_> {
    fn func_type(&self) -> Ident {
        format_ident!("Context")
    }

    fn trait_impl(&self) -> TokenStream {
        let ContextParam {
            started, tx, rx, ..
        } = self.param;
        let output = self.answer.ok_type();
        // The callee's `Tx` is what the caller receives, its `Rx` what
        // the caller sends.
        quote! {
            #[diagnostic::do_not_recommend]
            impl ::tractor::ContextEndpoint for Endpoint {
                type Started = #started;
                type ToCallee = #rx;
                type FromCallee = #tx;
                type Return = #output;
            }
        }
    }

    fn schema_fn(&self) -> Ident {
        format_ident!("context_schema")
    }

    fn called_with(&self) -> &'static str {
        "`Portal::open_context`"
    }

    fn invocation(&self) -> TokenStream {
        quote!(mut inv)
    }

    fn prelude(&self) -> TokenStream {
        let ContextParam {
            started, tx, rx, ..
        } = self.param;
        quote! {
            let ctx = match inv.context::<#started, #tx, #rx>() {
                ::core::result::Result::Ok(ctx) => ctx,
                ::core::result::Result::Err(reply) => return reply,
            };
        }
    }

    fn call_args(&self, names: &[&Ident]) -> Vec<TokenStream> {
        let mut args: Vec<_> = names.iter().map(|n| quote!(#n)).collect();
        args.insert(self.param.position.min(args.len()), quote!(ctx));
        args
    }

    fn out(&self) -> Ident {
        self.answer.out()
    }

    fn reply(&self, out: &Ident) -> TokenStream {
        self.answer.reply(out)
    }
}

/// How a plain or context endpoint's return value becomes its reply.
struct Answer<'a>(&'a Output);

impl Answer<'_> {
    /// The success value's type.
    fn ok_type(&self) -> &Type {
        match self.0 {
            Output::Value(ty) | Output::Fallible { ok: ty, .. } => ty,
        }
    }

    /// Each local is bound and used with one span, so it resolves even
    /// when the user's types come from another macro's expansion.
    fn out(&self) -> Ident {
        match self.0 {
            Output::Value(ty) => Ident::new("out", ty.span()),
            Output::Fallible { .. } => format_ident!("out"),
        }
    }

    fn reply(&self, out: &Ident) -> TokenStream {
        match self.0 {
            Output::Value(ty) => ok_reply(ty, out),
            Output::Fallible { ok, err_span } => {
                let v = Ident::new("v", ok.span());
                let ok_v = ok_reply(ok, &v);
                let e = Ident::new("e", *err_span);
                // Autoref picks the most specific boxing of the error; a
                // bad error type is reported at `E` in the signature.
                let box_error = quote_spanned! {*err_span=>
                    (&&&&::tractor::__private::ErrorProbe(&#e)).box_error()
                };
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
                }
            }
        }
    }
}

/// The encoded success value; an error about its type points at `ty`.
fn ok_reply(ty: &Type, value: &Ident) -> TokenStream {
    quote_spanned!(ty.span()=> ::tractor::__private::Reply::ok(&#value))
}

//! Generates the endpoint's module: `Args`, `Endpoint` and its traits,
//! the dialog's schema, `call`, and the link-time registered dispatcher.
//!
//! This file assembles the module; what differs between the kinds of
//! endpoint (plain, stream, context) is in [`kinds`], one type each.
//! Generated code names `::tractor::__private::...` and the public
//! `::tractor::...` traits only, never an internal path.

mod kinds;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::model::EndpointModel;
use kinds::KindCode;

/// The user's fn, unchanged, and its module.
pub(super) fn generate(m: &EndpointModel) -> TokenStream {
    let func = &m.func;
    let module = Module {
        m,
        kind: kinds::of(m),
    }
    .tokens();
    quote! {
        #func

        #module
    }
}

/// The generated module of one endpoint.
struct Module<'a> {
    m: &'a EndpointModel,
    kind: Box<dyn KindCode + 'a>,
}

impl Module<'_> {
    fn tokens(&self) -> TokenStream {
        let name = &self.m.name;
        let fn_vis = &self.m.func.vis;
        let vis = &self.m.item_vis;
        let doc = format!("Typed RPC plumbing of the endpoint [`{name}()`](fn@{name}).");
        let args = self.args_struct();
        let remote_fn = self.remote_fn_impl();
        let kind_impl = self.kind.trait_impl();
        let schema = self.schema_fn();
        let call = self.call_fn();
        let dispatcher = self.dispatcher();
        let entry = self.entry();
        quote! {
            #[doc = #doc]
            #[allow(non_snake_case, unused_imports)]
            #fn_vis mod #name {
                use super::*;

                #args

                /// Names the endpoint in `Call<Endpoint>`.
                #vis struct Endpoint;

                #remote_fn

                #kind_impl

                #schema

                #call

                #dispatcher

                #entry
            }
        }
    }

    /// `Args`: the arguments as one serde struct, the first thing a call
    /// sends.
    fn args_struct(&self) -> TokenStream {
        let vis = &self.m.item_vis;
        // Spans: a rustc error about an argument's type points at that
        // type in the user's signature, not at the attribute.
        let fields = self.m.args.iter().map(|a| {
            let (name, ty) = (&a.name, &a.ty);
            quote_spanned!(ty.span()=> pub #name: #ty)
        });
        quote! {
            /// The endpoint's arguments, as sent over IPC.
            #[derive(::tractor::__private::serde::Serialize, ::tractor::__private::serde::Deserialize)]
            #[serde(crate = "::tractor::__private::serde")]
            #[allow(missing_docs)]
            #vis struct Args {
                #( #fields, )*
            }
        }
    }

    fn remote_fn_impl(&self) -> TokenStream {
        let (path, wire_name) = self.path_and_name();
        let func_type = self.kind.func_type();
        quote! {
            impl ::tractor::RemoteFn for Endpoint {
                type Args = Args;
                const PATH: &'static str = #path;
                const NAME: &'static str = #wire_name;
                const KIND: ::tractor::__private::FuncType = ::tractor::__private::FuncType::#func_type;

                fn signature() -> ::std::string::String {
                    ::std::string::ToString::to_string(schema())
                }

                fn signature_hash() -> ::core::primitive::u64 {
                    schema().hash()
                }
            }
        }
    }

    /// The endpoint's path and wire name: `name = ".."` if given, else
    /// `module_path!()` and the fn's name.
    fn path_and_name(&self) -> (TokenStream, TokenStream) {
        match &self.m.name_override {
            Some(lit) => {
                let full = lit.value();
                let name = full.rsplit_once("::").map_or(full.as_str(), |(_, f)| f);
                (quote!(#lit), quote!(#name))
            }
            None => {
                let name = self.m.name.to_string();
                (quote!(::core::module_path!()), quote!(#name))
            }
        }
    }

    /// `schema()`: the dialog's wire schema, traced from its types' serde
    /// shapes on first use and kept; calls only compare its hash.
    fn schema_fn(&self) -> TokenStream {
        let trace = self.kind.schema_fn();
        quote! {
            /// The dialog's wire schema, traced once.
            fn schema() -> &'static ::tractor::__private::DialogSchema {
                static SCHEMA: ::tractor::__private::OnceLock<::tractor::__private::DialogSchema> =
                    ::tractor::__private::OnceLock::new();
                SCHEMA.get_or_init(::tractor::__private::#trace::<Endpoint>)
            }
        }
    }

    /// `call(..)`: the typed call a `Portal` takes.
    fn call_fn(&self) -> TokenStream {
        let name = &self.m.name;
        let vis = &self.m.item_vis;
        let doc = format!(
            "A typed call of [`{name}()`](fn@super::{name}), for {}.",
            self.kind.called_with()
        );
        let call = format_ident!("call", span = name.span());
        let names = self.arg_names();
        let tys = self.m.args.iter().map(|a| &a.ty);
        quote! {
            #[doc = #doc]
            #vis fn #call(#( #names: #tys ),*) -> ::tractor::Call<Endpoint> {
                ::tractor::Call::new(Args { #( #names ),* })
            }
        }
    }

    /// `dispatch`: decodes the arguments, runs the fn, answers.
    fn dispatcher(&self) -> TokenStream {
        let name = &self.m.name;
        let dispatch = format_ident!("dispatch");
        let inv = self.kind.invocation();
        let names = self.arg_names();
        let prelude = self.kind.prelude();
        let call_args = self.kind.call_args(&names);
        let out = self.kind.out();
        let reply = self.kind.reply(&out);
        quote! {
            fn #dispatch(#inv: ::tractor::__private::Invocation) -> ::tractor::__private::HandlerFuture {
                ::tractor::__private::Box::pin(async move {
                    let Args { #( #names ),* } = match inv.decode::<Args>() {
                        ::core::result::Result::Ok(args) => args,
                        ::core::result::Result::Err(reply) => return reply,
                    };
                    #prelude
                    let #out = super::#name(#( #call_args ),*).await;
                    #reply
                })
            }
        }
    }

    /// The endpoint's row in the link-time table.
    fn entry(&self) -> TokenStream {
        let dispatch = format_ident!("dispatch");
        quote! {
            #[::tractor::__private::linkme::distributed_slice(::tractor::__private::ENDPOINTS)]
            #[linkme(crate = ::tractor::__private::linkme)]
            static ENTRY: ::tractor::__private::EndpointEntry = ::tractor::__private::EndpointEntry {
                path: <Endpoint as ::tractor::RemoteFn>::PATH,
                name: <Endpoint as ::tractor::RemoteFn>::NAME,
                kind: <Endpoint as ::tractor::RemoteFn>::KIND,
                signature: <Endpoint as ::tractor::RemoteFn>::signature,
                signature_hash: <Endpoint as ::tractor::RemoteFn>::signature_hash,
                handler: #dispatch,
            };
        }
    }

    fn arg_names(&self) -> Vec<&Ident> {
        self.m.args.iter().map(|a| &a.name).collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::endpoint::{Macro, expand};

    /// The expansion of one fn by one macro, as tokens separated by spaces.
    fn tokens(which: Macro, item: &str) -> String {
        let item = item.parse().unwrap_or_default();
        expand(proc_macro2::TokenStream::new(), item, which).to_string()
    }

    /// The expansion without spaces, to look for a snippet in.
    fn expanded(which: Macro, item: &str) -> String {
        tokens(which, item).split_whitespace().collect()
    }

    /// Generated code names `::tractor::__private` or the public API, never
    /// an internal path a compiler message could show a user.
    #[test]
    fn only_private_or_public_paths() {
        let public = [
            "RemoteFn",
            "Endpoint",
            "StreamEndpoint",
            "ContextEndpoint",
            "Call",
        ];
        for (which, item) in [
            (Macro::Endpoint, "async fn f(a: u8) -> u8 { a }"),
            (
                Macro::Endpoint,
                "async fn f() -> Result<u8, String> { Ok(1) }",
            ),
            (
                Macro::Endpoint,
                "async fn f() -> impl Stream<Item = u8> { s() }",
            ),
            (
                Macro::Context,
                "async fn f(ctx: Context<u8, u8, u8>, a: u8) -> u8 { a }",
            ),
        ] {
            let code = tokens(which, item);
            assert!(!code.contains("compile_error"), "{code}");
            for path in code.split(":: tractor ::").skip(1) {
                let first = path.split_whitespace().next().unwrap_or_default();
                assert!(
                    first == "__private" || public.contains(&first),
                    "`::tractor::{first}` in {code}"
                );
            }
        }
    }

    /// Each kind of endpoint gets its trait, its `FuncType` and its schema.
    #[test]
    fn each_kind_is_generated_as_its_own() {
        let plain = expanded(Macro::Endpoint, "async fn f(a: u8) -> u8 { a }");
        assert!(
            plain.contains("impl::tractor::EndpointforEndpoint"),
            "{plain}"
        );
        assert!(plain.contains("FuncType::AsyncFunc"), "{plain}");
        assert!(plain.contains("endpoint_schema::<Endpoint>"), "{plain}");
        let stream = expanded(
            Macro::Endpoint,
            "async fn f() -> impl Stream<Item = u8> { s() }",
        );
        assert!(stream.contains("FuncType::Stream"), "{stream}");
        assert!(stream.contains("stream_schema::<Endpoint>"), "{stream}");
        assert!(stream.contains("Invocation::pump(inv,out)"), "{stream}");
        let context = expanded(
            Macro::Context,
            "async fn f(a: u8, ctx: Context<u8>) -> u8 { a }",
        );
        assert!(context.contains("FuncType::Context"), "{context}");
        assert!(context.contains("context_schema::<Endpoint>"), "{context}");
        // The `Context` goes where the fn takes it.
        assert!(context.contains("super::f(a,ctx)"), "{context}");
    }
}

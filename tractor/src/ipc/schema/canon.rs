//! The canonical encoding of a shape, and its hash: what two peers compare.
//!
//! The encoding is a string in a fixed grammar, independent of the build:
//! primitives by serde's names, field and variant names length-prefixed
//! (a `#[serde(rename)]` may hold any character), back references by
//! depth. Container names are left out: postcard never sends them, so a
//! struct renamed (or defined under another name in another program)
//! with the same fields stays compatible; field and variant names are
//! kept, so reordered or renamed fields are told apart even where
//! postcard would decode them silently. Opaque parts encode as `?`
//! whatever the reason, so two peers that both fail to trace a type
//! agree on it.

use std::fmt::Write;

use super::shape::{Body, Fields, Node};

/// Bumped when the grammar below changes: peers of two grammars differ.
const VERSION: &str = "tractor-schema-1";

/// The canonical encoding of a dialog: arguments, payloads, result.
pub(crate) fn dialog(args: &Node, payloads: &[Node], output: &Node) -> String {
    let mut out = String::from(VERSION);
    out.push_str("|a=");
    node(&mut out, args);
    out.push_str("|p=");
    for (i, p) in payloads.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        node(&mut out, p);
    }
    out.push_str("|o=");
    node(&mut out, output);
    out
}

/// FNV-1a over the encoding: fixed, so every build and rustc agree
/// (`std`'s `DefaultHasher` promises neither).
pub(crate) fn hash(canonical: &str) -> u64 {
    crate::ipc::stable_hash(canonical)
}

fn node(out: &mut String, n: &Node) {
    match n {
        Node::Unknown | Node::Opaque(_) => out.push('?'),
        Node::Prim(p) => out.push_str(p.name()),
        Node::Unit => out.push_str("()"),
        Node::Option(n) => wrap(out, "o(", n),
        Node::Seq(n) => wrap(out, "s(", n),
        Node::Map(k, v) => {
            out.push_str("m(");
            node(out, k);
            out.push(',');
            node(out, v);
            out.push(')');
        }
        Node::Tuple(ns) => {
            out.push_str("t(");
            list(out, ns.iter());
            out.push(')');
        }
        Node::Recursive { up, .. } => {
            // Writing to a String cannot fail.
            let _ = write!(out, "r{up}");
        }
        Node::Container(c) => match &c.body {
            Body::Struct(f) => {
                out.push('S');
                fields(out, f);
            }
            Body::Enum(vs) => {
                out.push_str("E{");
                for (i, (name, f)) in vs.iter().enumerate() {
                    if i > 0 {
                        out.push(';');
                    }
                    label(out, name);
                    match f {
                        Some(f) => fields(out, f),
                        None => out.push('?'),
                    }
                }
                out.push('}');
            }
        },
    }
}

fn fields(out: &mut String, f: &Fields) {
    match f {
        Fields::Unit => out.push('U'),
        Fields::Newtype(n) => wrap(out, "N(", n),
        Fields::Tuple(ns) => {
            out.push_str("T(");
            list(out, ns.iter());
            out.push(')');
        }
        Fields::Named(fs) => {
            out.push('{');
            for (i, (name, n)) in fs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                label(out, name);
                out.push('=');
                node(out, n);
            }
            out.push('}');
        }
    }
}

fn wrap(out: &mut String, open: &str, n: &Node) {
    out.push_str(open);
    node(out, n);
    out.push(')');
}

fn list<'a>(out: &mut String, ns: impl Iterator<Item = &'a Node>) {
    for (i, n) in ns.enumerate() {
        if i > 0 {
            out.push(',');
        }
        node(out, n);
    }
}

/// A name, length-prefixed so no name can imitate the grammar.
fn label(out: &mut String, name: &str) {
    let _ = write!(out, "{}:{name}", name.len());
}

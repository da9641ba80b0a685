//! The wire schema of a dialog: the serde shape of its argument, payload
//! and result types, which caller and callee compare before a call.
//!
//! The shape is learnt by [tracing](trace) each type's `Deserialize`
//! (field names, types, variants, in order), never from a Rust path or
//! `type_name`: two programs that each define the same struct, or one
//! built by another rustc, agree. It asks nothing of a type beyond the
//! `Deserialize` it needs anyway.
//!
//! What cannot be traced (a `deserialize_any` type such as
//! `serde_json::Value`, an impl that refuses every sample value) becomes
//! an opaque node, logged at debug level under `tractor::schema`: it
//! matches any opaque node of the peer, so that part is not checked; the
//! rest of the shape still is. Each endpoint computes its schema once
//! (generated code keeps it in a `static`); calls only compare the hash.

mod access;
mod canon;
mod shape;
mod trace;

#[cfg(test)]
mod tests;

use std::fmt;

pub(crate) use shape::Node;

/// Longest rendering of a schema in a message.
const MAX_DISPLAY: usize = 600;

/// The traced shape of `T`; opaque parts are logged.
pub(crate) fn shape_of<T: serde::de::DeserializeOwned>() -> Node {
    let node = trace::trace::<T>();
    if node.has_opaque() {
        tracing::debug!(
            target: "tractor::schema",
            "`{}` is only partly traceable ({node}); its opaque parts are not checked against the peer's",
            std::any::type_name::<T>()
        );
    }
    node
}

/// A dialog's wire schema and its hash. Built once per endpoint.
#[derive(Clone, Debug)]
pub struct DialogSchema {
    args: Node,
    payloads: Vec<Node>,
    output: Node,
    hash: u64,
}

impl DialogSchema {
    /// The schema of a dialog of these shapes.
    pub(crate) fn new(args: Node, payloads: Vec<Node>, output: Node) -> Self {
        let hash = canon::hash(&canon::dialog(&args, &payloads, &output));
        DialogSchema {
            args,
            payloads,
            output,
            hash,
        }
    }

    /// What the caller sends in `Start.sig` and the callee compares.
    pub fn hash(&self) -> u64 {
        self.hash
    }
}

/// `fn(arg: T, ..) with [payloads] -> result`, at most `MAX_DISPLAY`
/// characters: for `MsgTypeError` messages.
impl fmt::Display for DialogSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::from("fn(");
        match &self.args {
            // The generated `Args` struct: show its fields as parameters.
            Node::Container(c) => match &c.body {
                shape::Body::Struct(shape::Fields::Named(fields)) => {
                    let params: Vec<_> = fields.iter().map(|(n, t)| format!("{n}: {t}")).collect();
                    s.push_str(&params.join(", "));
                }
                _ => s.push_str(&self.args.to_string()),
            },
            other => s.push_str(&other.to_string()),
        }
        s.push(')');
        if !self.payloads.is_empty() {
            let payloads: Vec<_> = self.payloads.iter().map(ToString::to_string).collect();
            s.push_str(&format!(" with [{}]", payloads.join(", ")));
        }
        s.push_str(&format!(" -> {}", self.output));
        if s.len() > MAX_DISPLAY {
            let mut end = MAX_DISPLAY;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            s.push_str(" …");
        }
        f.write_str(&s)
    }
}

//! The tracer: a serde `Deserializer` that hands a type sample values and
//! records which `deserialize_*` calls its `Deserialize` impl makes.
//!
//! One pass deserializes one value and fills in the [`Node`]s it reaches;
//! passes repeat over the same tree until nothing is left to learn (the
//! approach of the `serde-reflection` crate). What a pass chooses at each
//! choice point depends on what earlier passes learned:
//! - an enum takes a variant not traced yet (so each pass learns one more),
//!   else one known to finish (so the fields after it are reached);
//! - an `Option`, a sequence or a map holds one element while the element's
//!   shape is unknown, and is empty (`None`) once it is known.
//!
//! Recursion: entering a container (same name, same field or variant
//! names) that already encloses this position records a back reference
//! and ends the pass; the next pass sees that position known and cuts it
//! short. A pass that learns nothing ends the loop: positions never
//! reached become [`Opaque::Untraced`], so an impl that refuses the
//! sample values costs the precision of what follows it, never a panic.
//! Depth and size are bounded.

use serde::de::{self, DeserializeOwned, Visitor};

use super::access::{Elements, Entries, Variant};
use super::shape::{Body, Fields, Node, Opaque, Prim};

/// Nesting the tracer follows before it calls a position opaque.
const MAX_DEPTH: usize = 64;
/// Nodes one type's shape may have (each is one pass at most).
const MAX_NODES: usize = 4096;

/// Traces `T`'s serde shape. Never panics; whatever cannot be learned is
/// [`Node::Opaque`].
pub(crate) fn trace<T: DeserializeOwned>() -> Node {
    let mut root = Node::Unknown;
    let mut ctx = Ctx::default();
    loop {
        ctx.progress = false;
        ctx.stack.clear();
        ctx.depth = 0;
        // A failed pass still taught us what it reached; its error only
        // says where it stopped.
        let _ = T::deserialize(Tracer {
            slot: &mut root,
            ctx: &mut ctx,
        });
        if root.is_complete() || ctx.nodes > MAX_NODES {
            break;
        }
        if !ctx.progress {
            // Stuck on a position that keeps failing: cut every choice
            // point already tried, to reach what lies after it; stop once
            // that learns nothing either.
            if ctx.prefer_cut {
                break;
            }
            ctx.prefer_cut = true;
        }
    }
    root.close();
    root
}

/// Why a pass stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TraceError {
    /// Reached a recursive position; the next pass cuts short before it.
    #[error("recursion cut")]
    Cut,
    /// The position was marked opaque.
    #[error("opaque: {0:?}")]
    Opaque(Opaque),
    /// The type's `Deserialize` refused a sample value.
    #[error("{0}")]
    Custom(String),
}

impl de::Error for TraceError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        TraceError::Custom(msg.to_string())
    }
}

/// What persists across the positions of a pass and across passes.
#[derive(Default)]
pub(super) struct Ctx {
    /// The containers enclosing the current position: name and field (or
    /// variant) names, to recognise recursion.
    stack: Vec<(&'static str, &'static [&'static str])>,
    depth: usize,
    nodes: usize,
    /// Whether this pass filled in anything new.
    pub(super) progress: bool,
    /// See [`trace`]: cut choice points already tried even if incomplete.
    prefer_cut: bool,
}

impl Ctx {
    /// Records `fresh` at an unknown `slot`, or checks that it fits the
    /// node an earlier pass recorded there.
    fn fill(&mut self, slot: &mut Node, fresh: Node) -> Result<(), TraceError> {
        match slot {
            Node::Unknown if self.nodes >= MAX_NODES => Err(self.opaque(slot, Opaque::TooLarge)),
            Node::Unknown => {
                *slot = fresh;
                self.nodes += 1;
                self.progress = true;
                Ok(())
            }
            Node::Opaque(why) => Err(TraceError::Opaque(*why)),
            known if known.same_kind(&fresh) => Ok(()),
            _ => Err(self.opaque(slot, Opaque::Inconsistent)),
        }
    }

    /// Marks `slot` opaque; the error ends the pass.
    fn opaque(&mut self, slot: &mut Node, why: Opaque) -> TraceError {
        if *slot != Node::Opaque(why) {
            *slot = Node::Opaque(why);
            self.progress = true;
        }
        TraceError::Opaque(why)
    }

    /// Whether a choice point (option, sequence, map) holds one element
    /// this pass, rather than none.
    fn explore(&self, inner: &Node) -> bool {
        match inner {
            Node::Unknown => true,
            n if n.is_complete() => false,
            _ => !self.prefer_cut,
        }
    }

    /// Runs `f` one level deeper, if the depth allows.
    pub(super) fn descend<R>(
        &mut self,
        f: impl FnOnce(&mut Ctx) -> Result<R, TraceError>,
    ) -> Result<R, TraceError> {
        if self.depth >= MAX_DEPTH {
            return Err(TraceError::Opaque(Opaque::TooDeep));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// A back reference if `key` encloses this position already.
    fn recursion(&self, key: (&'static str, &'static [&'static str])) -> Option<usize> {
        self.stack.iter().rev().position(|k| *k == key)
    }

    /// Traces a container's inside with its key on the stack.
    fn within<R>(
        &mut self,
        key: (&'static str, &'static [&'static str]),
        f: impl FnOnce(&mut Ctx) -> Result<R, TraceError>,
    ) -> Result<R, TraceError> {
        self.stack.push(key);
        let r = self.descend(f);
        self.stack.pop();
        r
    }
}

/// The deserializer of one position.
pub(super) struct Tracer<'a> {
    pub(super) slot: &'a mut Node,
    pub(super) ctx: &'a mut Ctx,
}

impl<'a> Tracer<'a> {
    fn prim(self, p: Prim) -> Result<(), TraceError> {
        self.ctx.fill(self.slot, Node::Prim(p))
    }

    /// Enters a named container: a back reference if it encloses this
    /// position already, else its node, filled by `f` with its key pushed.
    fn container<R>(
        self,
        key: (&'static str, &'static [&'static str]),
        fresh: impl FnOnce() -> Node,
        f: impl FnOnce(&mut Ctx, &mut Body) -> Result<R, TraceError>,
    ) -> Result<R, TraceError> {
        let Tracer { slot, ctx } = self;
        if let Some(up) = ctx.recursion(key) {
            ctx.fill(slot, Node::Recursive { up, name: key.0 })?;
            return Err(TraceError::Cut);
        }
        ctx.fill(slot, fresh())?;
        let Node::Container(c) = slot else {
            return Err(TraceError::Opaque(Opaque::Inconsistent));
        };
        ctx.within(key, |ctx| f(ctx, &mut c.body))
    }

    /// A struct-like container whose fields `visit` reads as a sequence.
    fn fields<'de, V: Visitor<'de>>(
        self,
        name: &'static str,
        names: &'static [&'static str],
        fresh: Fields,
        visit: impl FnOnce(Elements<'_>) -> Result<V::Value, TraceError>,
    ) -> Result<V::Value, TraceError> {
        self.container(
            (name, names),
            || Node::container(name, Body::Struct(fresh)),
            |ctx, body| match body {
                Body::Struct(fields) => visit(Elements::new(ctx, fields.nodes_mut())),
                Body::Enum(_) => Err(TraceError::Opaque(Opaque::Inconsistent)),
            },
        )
    }
}

pub(super) fn unknowns(n: usize) -> Vec<Node> {
    vec![Node::Unknown; n]
}

pub(super) fn named(names: &'static [&'static str]) -> Fields {
    Fields::Named(names.iter().map(|n| (*n, Node::Unknown)).collect())
}

// Sample values: 1 rather than 0 (`NonZero*` accepts it) and 16 bytes (a
// `Uuid` accepts them) keep common validating impls traceable.
macro_rules! prim {
    ($($method:ident => $prim:ident, $visit:ident($value:expr);)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TraceError> {
            self.prim(Prim::$prim)?;
            visitor.$visit($value)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Tracer<'_> {
    type Error = TraceError;

    prim! {
        deserialize_bool => Bool, visit_bool(false);
        deserialize_i8 => I8, visit_i8(1);
        deserialize_i16 => I16, visit_i16(1);
        deserialize_i32 => I32, visit_i32(1);
        deserialize_i64 => I64, visit_i64(1);
        deserialize_i128 => I128, visit_i128(1);
        deserialize_u8 => U8, visit_u8(1);
        deserialize_u16 => U16, visit_u16(1);
        deserialize_u32 => U32, visit_u32(1);
        deserialize_u64 => U64, visit_u64(1);
        deserialize_u128 => U128, visit_u128(1);
        deserialize_f32 => F32, visit_f32(0.0);
        deserialize_f64 => F64, visit_f64(0.0);
        deserialize_char => Char, visit_char('a');
        deserialize_str => Str, visit_str("");
        deserialize_string => Str, visit_string(String::new());
        deserialize_bytes => Bytes, visit_bytes(&[0; 16]);
        deserialize_byte_buf => Bytes, visit_byte_buf(vec![0; 16]);
        // postcard sends an identifier as a varint, like a u32.
        deserialize_identifier => U32, visit_u32(0);
    }

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, TraceError> {
        Err(self.ctx.opaque(self.slot, Opaque::Any))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TraceError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TraceError> {
        self.ctx.fill(self.slot, Node::Unit)?;
        visitor.visit_unit()
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TraceError> {
        let Tracer { slot, ctx } = self;
        ctx.fill(slot, Node::Option(Box::new(Node::Unknown)))?;
        let Node::Option(inner) = slot else {
            return Err(TraceError::Opaque(Opaque::Inconsistent));
        };
        if !ctx.explore(inner) {
            return visitor.visit_none();
        }
        ctx.descend(|ctx| visitor.visit_some(Tracer { slot: inner, ctx }))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TraceError> {
        let Tracer { slot, ctx } = self;
        ctx.fill(slot, Node::Seq(Box::new(Node::Unknown)))?;
        let Node::Seq(elem) = slot else {
            return Err(TraceError::Opaque(Opaque::Inconsistent));
        };
        let elems = if ctx.explore(elem) {
            vec![&mut **elem]
        } else {
            Vec::new()
        };
        ctx.descend(|ctx| visitor.visit_seq(Elements::new(ctx, elems)))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        let Tracer { slot, ctx } = self;
        ctx.fill(slot, Node::Tuple(unknowns(len)))?;
        let Node::Tuple(elems) = slot else {
            return Err(TraceError::Opaque(Opaque::Inconsistent));
        };
        ctx.descend(|ctx| visitor.visit_seq(Elements::new(ctx, elems.iter_mut().collect())))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TraceError> {
        let Tracer { slot, ctx } = self;
        let fresh = Node::Map(Box::new(Node::Unknown), Box::new(Node::Unknown));
        ctx.fill(slot, fresh)?;
        let Node::Map(k, v) = slot else {
            return Err(TraceError::Opaque(Opaque::Inconsistent));
        };
        let entry = (ctx.explore(k) || ctx.explore(v)).then_some((&mut **k, &mut **v));
        ctx.descend(|ctx| {
            visitor.visit_map(Entries {
                ctx,
                entry,
                value: None,
            })
        })
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        self.fields::<V>(name, &[], Fields::Unit, |_| visitor.visit_unit())
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        let fresh = Fields::Newtype(Box::new(Node::Unknown));
        self.fields::<V>(name, &[], fresh, |mut elems| match elems.next_slot() {
            Some(slot) => visitor.visit_newtype_struct(Tracer {
                slot,
                ctx: elems.ctx,
            }),
            None => Err(TraceError::Opaque(Opaque::Inconsistent)),
        })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        let fresh = Fields::Tuple(unknowns(len));
        self.fields::<V>(name, &[], fresh, |elems| visitor.visit_seq(elems))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        // postcard encodes a struct as the tuple of its fields; derived
        // impls accept that as a sequence.
        self.fields::<V>(name, fields, named(fields), |elems| {
            visitor.visit_seq(elems)
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        let fresh = || {
            let vs = variants.iter().map(|v| (*v, None)).collect();
            Node::container(name, Body::Enum(vs))
        };
        self.container((name, variants), fresh, |ctx, body| match body {
            Body::Enum(vs) => match choose_variant(vs, ctx.prefer_cut) {
                Some(index) => visitor.visit_enum(Variant {
                    ctx,
                    index,
                    fields: &mut vs[index].1,
                }),
                None => Err(TraceError::Custom(format!("enum {name} has no variants"))),
            },
            Body::Struct(_) => Err(TraceError::Opaque(Opaque::Inconsistent)),
        })
    }

    fn is_human_readable(&self) -> bool {
        // As postcard: types with a compact binary form use it.
        false
    }
}

/// The variant an enum takes this pass: one not traced yet, else (unless
/// cutting) one still incomplete, else one known to finish.
fn choose_variant(vs: &[(&'static str, Option<Fields>)], prefer_cut: bool) -> Option<usize> {
    let untraced = || vs.iter().position(|(_, f)| f.is_none());
    let incomplete = || {
        vs.iter()
            .position(|(_, f)| f.as_ref().is_some_and(|f| !f.is_complete()))
    };
    let finishes = || {
        vs.iter()
            .position(|(_, f)| f.as_ref().is_some_and(Fields::terminates))
    };
    let first = || (!vs.is_empty()).then_some(0);
    if prefer_cut {
        untraced()
            .or_else(finishes)
            .or_else(incomplete)
            .or_else(first)
    } else {
        untraced()
            .or_else(incomplete)
            .or_else(finishes)
            .or_else(first)
    }
}

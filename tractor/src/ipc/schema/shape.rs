//! The shape model: what a type looks like to serde, as the tracer
//! records it, and a readable rendering of it for messages.

use std::fmt;

/// A serde primitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prim {
    Bool,
    I8,
    I16,
    I32,
    I64,
    I128,
    U8,
    U16,
    U32,
    U64,
    U128,
    F32,
    F64,
    Char,
    Str,
    Bytes,
}

impl Prim {
    /// The name both renderings use: stable, never a Rust path.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Prim::Bool => "bool",
            Prim::I8 => "i8",
            Prim::I16 => "i16",
            Prim::I32 => "i32",
            Prim::I64 => "i64",
            Prim::I128 => "i128",
            Prim::U8 => "u8",
            Prim::U16 => "u16",
            Prim::U32 => "u32",
            Prim::U64 => "u64",
            Prim::U128 => "u128",
            Prim::F32 => "f32",
            Prim::F64 => "f64",
            Prim::Char => "char",
            Prim::Str => "String",
            Prim::Bytes => "bytes",
        }
    }
}

/// Why part of a shape is opaque: the tracer could not learn it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Opaque {
    /// The type asks for `deserialize_any` (self-describing formats only,
    /// e.g. `serde_json::Value`, untagged or internally tagged enums).
    Any,
    /// The type called a different `deserialize_*` than on an earlier pass.
    Inconsistent,
    /// Nesting deeper than the tracer follows.
    TooDeep,
    /// More nodes than the tracer records.
    TooLarge,
    /// Never reached: an earlier part refused every sample value offered.
    Untraced,
}

impl Opaque {
    fn name(self) -> &'static str {
        match self {
            Opaque::Any => "deserialize_any",
            Opaque::Inconsistent => "inconsistent",
            Opaque::TooDeep => "too deep",
            Opaque::TooLarge => "too large",
            Opaque::Untraced => "untraced",
        }
    }
}

/// One position of a shape.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    /// Not traced yet; [`Node::close`] turns what remains into `Opaque`.
    Unknown,
    /// Could not be traced.
    Opaque(Opaque),
    Prim(Prim),
    /// `()`.
    Unit,
    Option(Box<Node>),
    Seq(Box<Node>),
    Map(Box<Node>, Box<Node>),
    Tuple(Vec<Node>),
    /// A named struct or enum.
    Container(Box<Container>),
    /// The enclosing container `up` levels out (0: the innermost): a
    /// recursive type, e.g. a tree's children.
    Recursive {
        up: usize,
        name: &'static str,
    },
}

/// A struct or an enum, with the name serde gives it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Container {
    /// The Rust name (or `#[serde(rename)]`): shown in messages, not hashed.
    pub(crate) name: &'static str,
    pub(crate) body: Body,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Body {
    Struct(Fields),
    /// Variants in declaration order; `None` until traced.
    Enum(Vec<(&'static str, Option<Fields>)>),
}

/// The fields of a struct or of an enum variant.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Fields {
    Unit,
    Newtype(Box<Node>),
    Tuple(Vec<Node>),
    Named(Vec<(&'static str, Node)>),
}

impl Node {
    pub(crate) fn container(name: &'static str, body: Body) -> Node {
        Node::Container(Box::new(Container { name, body }))
    }

    /// Whether a later `deserialize_*` call fits the node traced earlier
    /// at this position (its children aside).
    pub(crate) fn same_kind(&self, other: &Node) -> bool {
        match (self, other) {
            (Node::Prim(a), Node::Prim(b)) => a == b,
            (Node::Tuple(a), Node::Tuple(b)) => a.len() == b.len(),
            (Node::Container(a), Node::Container(b)) => {
                a.name == b.name
                    && match (&a.body, &b.body) {
                        (Body::Struct(x), Body::Struct(y)) => x.same_kind(y),
                        (Body::Enum(x), Body::Enum(y)) => {
                            x.iter().map(|v| v.0).eq(y.iter().map(|v| v.0))
                        }
                        _ => false,
                    }
            }
            (Node::Recursive { up: a, .. }, Node::Recursive { up: b, .. }) => a == b,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }

    /// Nothing left to learn below this node.
    pub(crate) fn is_complete(&self) -> bool {
        match self {
            Node::Unknown => false,
            Node::Opaque(_) | Node::Prim(_) | Node::Unit | Node::Recursive { .. } => true,
            Node::Option(n) | Node::Seq(n) => n.is_complete(),
            Node::Map(k, v) => k.is_complete() && v.is_complete(),
            Node::Tuple(ns) => ns.iter().all(Node::is_complete),
            Node::Container(c) => match &c.body {
                Body::Struct(f) => f.is_complete(),
                Body::Enum(vs) => vs
                    .iter()
                    .all(|(_, f)| f.as_ref().is_some_and(Fields::is_complete)),
            },
        }
    }

    /// A value can be made for this position without meeting a recursive
    /// or untraceable part (options, sequences and maps can be cut short).
    pub(crate) fn terminates(&self) -> bool {
        match self {
            Node::Unknown | Node::Opaque(_) | Node::Recursive { .. } => false,
            Node::Prim(_) | Node::Unit | Node::Option(_) | Node::Seq(_) | Node::Map(..) => true,
            Node::Tuple(ns) => ns.iter().all(Node::terminates),
            Node::Container(c) => match &c.body {
                Body::Struct(f) => f.terminates(),
                Body::Enum(vs) => vs
                    .iter()
                    .any(|(_, f)| f.as_ref().is_some_and(Fields::terminates)),
            },
        }
    }

    /// Marks what the tracer never reached as opaque.
    pub(crate) fn close(&mut self) {
        match self {
            Node::Unknown => *self = Node::Opaque(Opaque::Untraced),
            Node::Opaque(_) | Node::Prim(_) | Node::Unit | Node::Recursive { .. } => {}
            Node::Option(n) | Node::Seq(n) => n.close(),
            Node::Map(k, v) => {
                k.close();
                v.close();
            }
            Node::Tuple(ns) => ns.iter_mut().for_each(Node::close),
            Node::Container(c) => match &mut c.body {
                Body::Struct(f) => f.close(),
                Body::Enum(vs) => vs.iter_mut().for_each(|(_, f)| match f {
                    Some(f) => f.close(),
                    None => *f = Some(Fields::Newtype(Box::new(Node::Opaque(Opaque::Untraced)))),
                }),
            },
        }
    }

    /// Whether any part is opaque (worth a log line: that part is not
    /// checked against the peer's).
    pub(crate) fn has_opaque(&self) -> bool {
        match self {
            Node::Unknown | Node::Opaque(_) => true,
            Node::Prim(_) | Node::Unit | Node::Recursive { .. } => false,
            Node::Option(n) | Node::Seq(n) => n.has_opaque(),
            Node::Map(k, v) => k.has_opaque() || v.has_opaque(),
            Node::Tuple(ns) => ns.iter().any(Node::has_opaque),
            Node::Container(c) => match &c.body {
                Body::Struct(f) => f.has_opaque(),
                Body::Enum(vs) => vs
                    .iter()
                    .any(|(_, f)| f.as_ref().is_none_or(Fields::has_opaque)),
            },
        }
    }
}

impl Fields {
    /// The nodes of the fields, in order.
    pub(crate) fn nodes(&self) -> Vec<&Node> {
        match self {
            Fields::Unit => Vec::new(),
            Fields::Newtype(n) => vec![n],
            Fields::Tuple(ns) => ns.iter().collect(),
            Fields::Named(fs) => fs.iter().map(|(_, n)| n).collect(),
        }
    }

    /// The nodes of the fields, in order, to trace into.
    pub(crate) fn nodes_mut(&mut self) -> Vec<&mut Node> {
        match self {
            Fields::Unit => Vec::new(),
            Fields::Newtype(n) => vec![n],
            Fields::Tuple(ns) => ns.iter_mut().collect(),
            Fields::Named(fs) => fs.iter_mut().map(|(_, n)| n).collect(),
        }
    }

    pub(crate) fn same_kind(&self, other: &Fields) -> bool {
        match (self, other) {
            (Fields::Unit, Fields::Unit) | (Fields::Newtype(_), Fields::Newtype(_)) => true,
            (Fields::Tuple(a), Fields::Tuple(b)) => a.len() == b.len(),
            (Fields::Named(a), Fields::Named(b)) => a.iter().map(|f| f.0).eq(b.iter().map(|f| f.0)),
            _ => false,
        }
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.nodes().into_iter().all(Node::is_complete)
    }

    pub(crate) fn terminates(&self) -> bool {
        self.nodes().into_iter().all(Node::terminates)
    }

    fn close(&mut self) {
        self.nodes_mut().into_iter().for_each(Node::close)
    }

    fn has_opaque(&self) -> bool {
        self.nodes().into_iter().any(Node::has_opaque)
    }
}

/// Rust-like, with container names (which the hash leaves out): what a
/// person reads in a `MsgTypeError`.
impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Unknown => f.write_str("?"),
            Node::Opaque(why) => write!(f, "?({})", why.name()),
            Node::Prim(p) => f.write_str(p.name()),
            Node::Unit => f.write_str("()"),
            Node::Option(n) => write!(f, "Option<{n}>"),
            Node::Seq(n) => write!(f, "Vec<{n}>"),
            Node::Map(k, v) => write!(f, "Map<{k}, {v}>"),
            Node::Tuple(ns) => {
                f.write_str("(")?;
                list(f, ns)?;
                f.write_str(if ns.len() == 1 { ",)" } else { ")" })
            }
            Node::Recursive { name, .. } => f.write_str(name),
            Node::Container(c) => match &c.body {
                Body::Struct(fields) => {
                    write!(f, "struct {}", c.name)?;
                    fields.fmt(f)
                }
                Body::Enum(vs) if vs.is_empty() => write!(f, "enum {} {{}}", c.name),
                Body::Enum(vs) => {
                    write!(f, "enum {} {{ ", c.name)?;
                    for (i, (name, fields)) in vs.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        f.write_str(name)?;
                        match fields {
                            Some(fields) => fields.fmt(f)?,
                            None => f.write_str("(?)")?,
                        }
                    }
                    f.write_str(" }")
                }
            },
        }
    }
}

impl fmt::Display for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fields::Unit => Ok(()),
            Fields::Newtype(n) => write!(f, "({n})"),
            Fields::Tuple(ns) => {
                f.write_str("(")?;
                list(f, ns)?;
                f.write_str(")")
            }
            Fields::Named(fs) => {
                f.write_str(" { ")?;
                for (i, (name, n)) in fs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{name}: {n}")?;
                }
                f.write_str(" }")
            }
        }
    }
}

fn list(f: &mut fmt::Formatter<'_>, ns: &[Node]) -> fmt::Result {
    for (i, n) in ns.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{n}")?;
    }
    Ok(())
}

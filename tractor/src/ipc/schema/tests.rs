//! The tracer's shapes, their hashes, and what cannot be traced.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde::{Deserialize, Deserializer, Serialize};

use super::shape::{Body, Fields, Node, Opaque, Prim};
use super::{DialogSchema, canon, shape_of};

fn canonical<T: serde::de::DeserializeOwned>() -> String {
    canon::dialog(&shape_of::<T>(), &[], &Node::Unit)
}

fn hash<T: serde::de::DeserializeOwned>() -> u64 {
    DialogSchema::new(shape_of::<T>(), Vec::new(), Node::Unit).hash()
}

/// The rendering of `T`'s shape, which the asserts read more easily than
/// the tree.
fn shown<T: serde::de::DeserializeOwned>() -> String {
    shape_of::<T>().to_string()
}

/// A big argument list: ten nested structs with an enum each.
type TenOrders = (
    Order,
    Order,
    Order,
    Order,
    Order,
    Order,
    Order,
    Order,
    Order,
    Order,
);

#[test]
fn primitives() {
    assert_eq!(shape_of::<u8>(), Node::Prim(Prim::U8));
    assert_eq!(shape_of::<i128>(), Node::Prim(Prim::I128));
    assert_eq!(shape_of::<f64>(), Node::Prim(Prim::F64));
    assert_eq!(shape_of::<bool>(), Node::Prim(Prim::Bool));
    assert_eq!(shape_of::<char>(), Node::Prim(Prim::Char));
    assert_eq!(shape_of::<String>(), Node::Prim(Prim::Str));
    assert_eq!(shape_of::<()>(), Node::Unit);
    assert_eq!(shown::<serde_bytes::ByteBuf>(), "bytes");
    // usize travels as u64 whatever the platform.
    assert_eq!(shape_of::<usize>(), Node::Prim(Prim::U64));
}

#[test]
fn option_seq_map_tuple() {
    assert_eq!(shown::<Option<u32>>(), "Option<u32>");
    assert_eq!(shown::<Vec<String>>(), "Vec<String>");
    assert_eq!(shown::<Vec<Vec<i8>>>(), "Vec<Vec<i8>>");
    assert_eq!(shown::<HashMap<String, Vec<u8>>>(), "Map<String, Vec<u8>>");
    assert_eq!(
        shown::<(u8, String, Option<bool>)>(),
        "(u8, String, Option<bool>)"
    );
    assert_eq!(shown::<[u16; 3]>(), "(u16, u16, u16)");
    // A map is a map whatever the Rust type.
    assert_eq!(
        canonical::<HashMap<String, u8>>(),
        canonical::<BTreeMap<String, u8>>()
    );
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Price {
    units: i64,
    nanos: i32,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Order {
    id: u64,
    price: Price,
    tags: Vec<String>,
    note: Option<String>,
}

#[test]
fn nested_structs_keep_field_names_and_order() {
    assert_eq!(
        shown::<Order>(),
        "struct Order { id: u64, price: struct Price { units: i64, nanos: i32 }, tags: Vec<String>, note: Option<String> }"
    );
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Meters(f64);

#[derive(Deserialize)]
#[allow(dead_code)]
struct Rgb(u8, u8, u8);

#[derive(Deserialize)]
struct Marker;

#[test]
fn newtype_tuple_and_unit_structs() {
    assert_eq!(shown::<Meters>(), "struct Meters(f64)");
    assert_eq!(shown::<Rgb>(), "struct Rgb(u8, u8, u8)");
    assert_eq!(shown::<Marker>(), "struct Marker");
}

#[derive(Deserialize)]
#[allow(dead_code)]
enum Shape {
    Empty,
    Circle(f32),
    Rect(u32, u32),
    Poly {
        points: Vec<(i32, i32)>,
        closed: bool,
    },
}

#[test]
fn enums_trace_every_variant_kind() {
    assert_eq!(
        shown::<Shape>(),
        "enum Shape { Empty, Circle(f32), Rect(u32, u32), Poly { points: Vec<(i32, i32)>, closed: bool } }"
    );
    // An enum in a struct, after and before other fields.
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Drawing {
        id: u8,
        shape: Shape,
        layer: u16,
    }
    let s = shown::<Drawing>();
    assert!(
        s.starts_with("struct Drawing { id: u8, shape: enum Shape { Empty,"),
        "{s}"
    );
    assert!(s.ends_with("closed: bool } }, layer: u16 }"), "{s}");
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Tree {
    value: i32,
    children: Vec<Tree>,
    label: String,
}

#[derive(Deserialize)]
#[allow(dead_code)]
enum List {
    Cons(u8, Box<List>),
    Nil,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Folder {
    name: String,
    parent: Option<Box<Folder>>,
    entries: BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
enum Entry {
    File(u64),
    Dir(Folder),
}

#[test]
fn recursion_is_a_back_reference() {
    assert_eq!(
        shown::<Tree>(),
        "struct Tree { value: i32, children: Vec<Tree>, label: String }"
    );
    let tree = shape_of::<Tree>();
    let Node::Container(c) = &tree else {
        panic!("{tree:?}")
    };
    let Body::Struct(Fields::Named(f)) = &c.body else {
        panic!("{tree:?}")
    };
    assert_eq!(
        f[1].1,
        Node::Seq(Box::new(Node::Recursive {
            up: 0,
            name: "Tree"
        }))
    );
    assert_eq!(shown::<List>(), "enum List { Cons(u8, List), Nil }");
    // Mutual recursion, through an option, a map and an enum.
    let s = shown::<Folder>();
    assert_eq!(
        s,
        "struct Folder { name: String, parent: Option<Folder>, entries: Map<String, enum Entry { File(u64), Dir(Folder) }> }"
    );
    assert!(!shape_of::<Folder>().has_opaque());
    assert!(
        canonical::<Folder>().contains("r1"),
        "{}",
        canonical::<Folder>()
    );
}

/// A `deserialize_any` type: only self-describing formats can read it.
#[derive(Debug)]
struct Dynamic;

impl<'de> Deserialize<'de> for Dynamic {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Dynamic)
    }
}

/// Refuses every value it is offered.
#[derive(Debug)]
struct Picky;

impl<'de> Deserialize<'de> for Picky {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Err(serde::de::Error::custom(format!("not {s:?}")))
    }
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct WithDynamic {
    before: u8,
    value: Dynamic,
    after: String,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct WithPicky {
    before: u8,
    maybe: Option<Picky>,
    after: String,
}

#[test]
fn untraceable_types_are_opaque_not_fatal() {
    assert_eq!(shape_of::<Dynamic>(), Node::Opaque(Opaque::Any));
    // The field is opaque; what follows it is never reached.
    assert_eq!(
        shown::<WithDynamic>(),
        "struct WithDynamic { before: u8, value: ?(deserialize_any), after: ?(untraced) }"
    );
    // What a refusing impl asked for is kept; an option of it is cut
    // short on a later pass, so what follows is still traced.
    assert_eq!(shown::<Picky>(), "String");
    assert_eq!(
        shown::<WithPicky>(),
        "struct WithPicky { before: u8, maybe: Option<String>, after: String }"
    );
    // Opaque parts hash alike whatever the reason: both peers agree.
    assert!(canonical::<WithDynamic>().contains("5:value=?,5:after=?"));
}

#[test]
fn common_validating_types_trace() {
    assert_eq!(shown::<std::num::NonZeroU32>(), "u32");
    assert_eq!(shown::<uuid::Uuid>(), "bytes");
    assert_eq!(
        shown::<std::time::Duration>(),
        "struct Duration { secs: u64, nanos: u32 }"
    );
}

/// Two definitions of one struct, as two programs would have them.
mod here {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    pub(super) struct Point {
        pub x: i32,
        pub y: i32,
    }
}

mod elsewhere {
    pub(super) mod deeper {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        pub(crate) struct Point {
            pub x: i32,
            pub y: i32,
        }

        /// Renamed, same fields: the same on the wire.
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        pub(crate) struct Position {
            pub x: i32,
            pub y: i32,
        }
    }
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Swapped {
    y: i32,
    x: i32,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Wider {
    x: i64,
    y: i32,
}

#[test]
fn the_hash_is_the_shape_not_the_path() {
    assert_ne!(
        std::any::type_name::<here::Point>(),
        std::any::type_name::<elsewhere::deeper::Point>()
    );
    assert_eq!(hash::<here::Point>(), hash::<elsewhere::deeper::Point>());
    assert_eq!(hash::<here::Point>(), hash::<elsewhere::deeper::Position>());
    assert_ne!(hash::<here::Point>(), hash::<Swapped>());
    assert_ne!(hash::<here::Point>(), hash::<Wider>());
    assert_ne!(hash::<Option<u8>>(), hash::<Vec<u8>>());
    assert_ne!(hash::<(u8, u8)>(), hash::<Vec<u8>>());
}

#[test]
fn the_encoding_is_fixed() {
    // A change here changes every hash: peers built before and after it
    // no longer agree. Bump `VERSION` in canon.rs if that is the intent.
    assert_eq!(
        canonical::<here::Point>(),
        "tractor-schema-1|a=S{1:x=i32,1:y=i32}|p=|o=()"
    );
    assert_eq!(
        canonical::<Shape>(),
        "tractor-schema-1|a=E{5:EmptyU;6:CircleN(f32);4:RectT(u32,u32);4:Poly{6:points=s(t(i32,i32)),6:closed=bool}}|p=|o=()"
    );
    assert_eq!(hash::<here::Point>(), 0x8298_1987_6053_769a);
}

#[test]
fn a_dialog_shows_its_parameters() {
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Args {
        name: String,
        times: u64,
    }
    let d = DialogSchema::new(
        shape_of::<Args>(),
        vec![shape_of::<i32>(), shape_of::<String>()],
        shape_of::<Option<u8>>(),
    );
    assert_eq!(
        d.to_string(),
        "fn(name: String, times: u64) with [i32, String] -> Option<u8>"
    );
}

#[test]
fn a_long_rendering_is_bounded() {
    let d = DialogSchema::new(shape_of::<TenOrders>(), Vec::new(), Node::Unit);
    let s = d.to_string();
    assert!(s.chars().count() <= super::MAX_DISPLAY + 2, "{}", s.len());
    assert!(s.ends_with('…'), "{s}");
}

/// A sequence of itself, never through a named container: only the
/// depth bound ends its trace.
struct Bottomless;

impl<'de> Deserialize<'de> for Bottomless {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<Bottomless>::deserialize(d).map(|_| Bottomless)
    }
}

#[test]
fn depth_is_bounded() {
    let s = shown::<Bottomless>();
    assert!(s.starts_with("Vec<Vec<Vec<"), "{s}");
    assert!(
        s.contains("?(untraced)") || s.contains("?(too deep)"),
        "{s}"
    );
    assert!(s.matches("Vec<").count() <= 65, "{s}");
}

/// The one-time cost of tracing an endpoint's types; run with
/// `cargo test -p tractor --release --lib schema_cost -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn schema_cost() {
    #[derive(Deserialize, Serialize)]
    #[allow(dead_code)]
    struct Args {
        order: String,
        qty: u32,
    }
    fn dialog<A, S, R>() -> DialogSchema
    where
        A: serde::de::DeserializeOwned,
        S: serde::de::DeserializeOwned,
        R: serde::de::DeserializeOwned,
    {
        DialogSchema::new(shape_of::<A>(), vec![shape_of::<S>()], shape_of::<R>())
    }
    type Case = (&'static str, fn() -> DialogSchema);
    let cases: [Case; 4] = [
        ("fn(String, u32) -> u32", dialog::<Args, (), u32>),
        ("fn(Order) -> Shape", dialog::<Order, (), Shape>),
        (
            "fn(Folder) with [Tree] -> List (recursive)",
            dialog::<Folder, Tree, List>,
        ),
        ("fn(10 x Order)", dialog::<TenOrders, (), ()>),
    ];
    for (what, f) in cases {
        let n = 2000;
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(f());
        }
        println!(
            "{what}: {:.1} µs per schema",
            t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        );
    }
}

#[derive(Deserialize)]
#[allow(dead_code)]
#[serde(tag = "kind")]
enum Tagged {
    A { x: u8 },
    B,
}

#[derive(Deserialize)]
#[allow(dead_code)]
#[serde(untagged)]
enum Untagged {
    N(u8),
    S(String),
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Flattened {
    id: u8,
    #[serde(flatten)]
    rest: HashMap<String, String>,
}

#[derive(Deserialize)]
enum Never {}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Skips {
    kept: u8,
    #[serde(skip)]
    local: Vec<u8>,
    #[serde(rename = "wire")]
    renamed: bool,
}

/// Self-describing serde features cannot be traced (postcard cannot carry
/// them either): opaque, never a panic or a hang.
#[test]
fn self_describing_features_are_opaque() {
    assert_eq!(shape_of::<Tagged>(), Node::Opaque(Opaque::Any));
    assert_eq!(shape_of::<Untagged>(), Node::Opaque(Opaque::Any));
    assert!(shape_of::<Flattened>().has_opaque());
    assert_eq!(shown::<Never>(), "enum Never {}");
    // What travels is what is shown: skipped fields do not, renames do.
    assert_eq!(shown::<Skips>(), "struct Skips { kept: u8, wire: bool }");
}

//! An argument (and result) of a user-defined serde type.

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

#[tractor::endpoint]
async fn mirror(p: Point, scale: Option<i32>) -> Point {
    let k = scale.unwrap_or(1);
    Point {
        x: -p.x * k,
        y: -p.y * k,
    }
}

fn main() {
    let call = mirror::call(Point { x: 1, y: 2 }, None);
    assert_eq!(call.name(), "mirror");
}

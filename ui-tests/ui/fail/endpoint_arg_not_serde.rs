struct Point {
    x: i32,
    y: i32,
}

#[tractor::endpoint]
async fn norm(p: Point) -> i32 {
    p.x.abs() + p.y.abs()
}

fn main() {}

#[tractor::endpoint]
async fn words() -> impl futures::Stream<Item = &str> {
    futures::stream::iter(["a", "b"])
}

fn main() {}

struct Tick(u64);

#[tractor::endpoint]
async fn ticks(n: u64) -> impl futures::Stream<Item = Tick> {
    futures::stream::iter((0..n).map(Tick))
}

fn main() {}

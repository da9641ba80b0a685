//! A one-way stream endpoint, and its caller reading the items.

use futures::StreamExt;
use tractor::StreamEndpoint;

#[tractor::endpoint]
async fn count_to(n: u32) -> impl futures::Stream<Item = u32> {
    futures::stream::iter(1..=n)
}

// Declared by a `macro_rules!` with the item type passed in: the generated
// locals must still resolve (hygiene).
macro_rules! repeat_endpoint {
    ($name:ident, $t:ty) => {
        #[tractor::endpoint]
        async fn $name(x: $t, n: usize) -> impl futures::Stream<Item = $t> {
            futures::stream::iter(std::iter::repeat_n(x, n))
        }
    };
}

repeat_endpoint!(repeat_string, String);

fn items<E: StreamEndpoint<Item = u32>>(_: &tractor::Call<E>) {}

async fn parent(portal: tractor::Portal) -> Result<u32, tractor::Error> {
    let mut items = portal.open_stream_from(count_to::call(3)).await?;
    let mut sum = 0;
    while let Some(i) = items.next().await {
        sum += i?;
    }
    Ok(sum)
}

fn main() {
    let call = count_to::call(3);
    items(&call);
    assert_eq!(call.name(), "count_to");
    let _ = parent;
    assert_eq!(repeat_string::call("x".into(), 2).name(), "repeat_string");
}

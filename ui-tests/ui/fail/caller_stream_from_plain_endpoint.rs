#[tractor::endpoint]
async fn add(a: u32, b: u32) -> u32 {
    a + b
}

async fn parent(portal: tractor::Portal) -> Result<(), tractor::Error> {
    let _items = portal.open_stream_from(add::call(1, 2)).await?;
    Ok(())
}

fn main() {
    let _ = parent;
}

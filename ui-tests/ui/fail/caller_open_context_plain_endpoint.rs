#[tractor::endpoint]
async fn add(a: u32, b: u32) -> u32 {
    a + b
}

async fn parent(portal: tractor::Portal) -> Result<(), tractor::Error> {
    portal
        .open_context(add::call(1, 2), async |_ctx, _first| Ok(()))
        .await
}

fn main() {
    let _ = parent;
}

#[tractor::endpoint]
async fn size() -> usize
where
    u32: Copy,
{
    4
}

fn main() {}

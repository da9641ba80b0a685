#[tractor::main]
async fn main<T>() {}

use tractor::Context;

#[tractor::context]
async fn echo<T: serde::Serialize + serde::de::DeserializeOwned>(ctx: Context<T>, x: T) -> Result<(), tractor::Error> {
    ctx.started(x).await
}

fn main() {}

//! A context returning `Result<T, E>`: `T` is the caller's result, the
//! error is boxed for it (a `tractor::Error`, or a user `std::error::Error`).

use tractor::{Context, ContextEndpoint};

#[derive(Debug, thiserror::Error)]
#[error("quota exceeded: {used}/{limit}")]
pub struct QuotaError {
    used: u32,
    limit: u32,
}

#[tractor::context]
async fn consume(ctx: Context<u32, (), u32>, limit: u32) -> Result<u32, QuotaError> {
    let _ = ctx.started(limit).await;
    let mut used = 0;
    if let Ok(stream) = ctx.open_stream() {
        while let Ok(Some(n)) = stream.recv().await {
            used += n;
            if used > limit {
                return Err(QuotaError { used, limit });
            }
        }
    }
    Ok(used)
}

#[tractor::context]
async fn relayed(ctx: Context<String>) -> Result<String, tractor::Error> {
    ctx.started("ready".into()).await?;
    Ok("done".into())
}

fn returns<E: ContextEndpoint<Return = u32>>(_: &tractor::Call<E>) {}

fn main() {
    returns(&consume::call(10));
    let _ = relayed::call();
}

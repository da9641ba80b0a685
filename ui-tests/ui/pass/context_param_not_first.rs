//! The `Context` parameter may sit anywhere: the dispatcher passes it in
//! place, and `call(..)` takes the other arguments in their order.

use tractor::Context;

#[tractor::context]
async fn middle(prefix: String, ctx: Context<String>, times: usize) -> Result<(), tractor::Error> {
    ctx.started(prefix.repeat(times)).await
}

#[tractor::context]
async fn last(a: u8, b: String, ctx: Context<(u8, String)>) -> Result<(), tractor::Error> {
    ctx.started((a, b)).await
}

fn main() {
    let _ = middle::call("ab".to_string(), 3);
    let _ = last::call(1, "x".to_string());
    let _args = middle::Args {
        prefix: "ab".into(),
        times: 3,
    };
}

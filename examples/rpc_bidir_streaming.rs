//! A context: a pair of linked tasks, one in each of two actors, with a
//! bidirectional stream between them. The child's `simple_rpc` hands the
//! root a first value with `started`, then answers every "ping" with a
//! "pong" until the root closes its side, and returns how many it answered.
//!
//! `cargo run --example rpc_bidir_streaming`

use tractor::{Context, Error};

/// Runs in the child. `Context<i32, String, String>`: the `started` value
/// is an `i32`, this side sends `String`s and receives `String`s.
#[tractor::context]
async fn simple_rpc(ctx: Context<i32, String, String>, data: i32) -> Result<u32, Error> {
    ctx.started(data + 1).await?;
    let stream = ctx.open_stream()?;
    let mut count = 0;
    // Ends (`None`) once the root closes its side of the stream.
    while let Some(msg) = stream.recv().await? {
        assert_eq!(msg, "ping");
        stream.send("pong".into()).await?;
        count += 1;
    }
    Ok(count)
}

#[tractor::main]
async fn main() -> Result<(), Error> {
    tractor::open_nursery(async |an| {
        let portal = an
            .start_actor("rpc_server")
            .enable_modules([module_path!()])
            .await?;
        let count = portal
            .open_context(simple_rpc::call(10), async |ctx, first| {
                println!("the child started its task and sent {first}");
                assert_eq!(first, 11);
                let stream = ctx.open_stream()?;
                for i in 1..=10 {
                    stream.send("ping".into()).await?;
                    let reply = stream.recv().await?;
                    println!("ping {i} -> {reply:?}");
                    assert_eq!(reply.as_deref(), Some("pong"));
                }
                // Closing our side ends the child's loop; it returns its count.
                stream.close();
                ctx.wait_for_result().await
            })
            .await?;
        println!("the child answered {count} pings");
        assert_eq!(count, 10);
        portal.cancel_actor().await?;
        Ok(())
    })
    .await?;
    println!("the context is closed and every actor is reaped");
    Ok(())
}

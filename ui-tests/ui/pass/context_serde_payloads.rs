//! A context whose `started` value, both stream directions, argument and
//! result are user serde types: the `ContextEndpoint` impl names each.

use tractor::{Context, ContextEndpoint};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Hello {
    pub session: u64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ping {
    pub seq: u32,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pong {
    pub seq: u32,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    pub session: u64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub pings: u32,
}

#[tractor::context]
async fn pinger(ctx: Context<Hello, Pong, Ping>, config: Config) -> Summary {
    let _ = ctx.started(Hello { session: config.session }).await;
    let mut pings = 0;
    if let Ok(stream) = ctx.open_stream() {
        while let Ok(Some(Ping { seq })) = stream.recv().await {
            let _ = stream.send(Pong { seq }).await;
            pings += 1;
        }
    }
    Summary { pings }
}

fn payloads<E>(_: &tractor::Call<E>)
where
    E: ContextEndpoint<Started = Hello, ToCallee = Ping, FromCallee = Pong, Return = Summary>,
{
}

fn main() {
    let call = pinger::call(Config { session: 7 });
    payloads(&call);
    assert_eq!(call.name(), "pinger");
}

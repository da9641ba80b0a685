use tractor::Context;

struct Ticket {
    id: u64,
}

#[tractor::context]
async fn issue(ctx: Context<Ticket>) -> Result<(), tractor::Error> {
    ctx.started(Ticket { id: 1 }).await
}

fn main() {}

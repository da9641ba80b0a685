use tractor::Context;

struct Server {
    hits: u64,
}

impl Server {
    #[tractor::context]
    async fn serve(&self, ctx: Context<u64>) -> Result<(), tractor::Error> {
        ctx.started(self.hits).await
    }
}

fn main() {
    let _ = Server { hits: 0 };
}

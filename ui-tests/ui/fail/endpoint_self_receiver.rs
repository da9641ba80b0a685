struct Counter {
    n: u64,
}

impl Counter {
    #[tractor::endpoint]
    async fn bump(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }
}

fn main() {
    let _ = Counter { n: 0 };
}

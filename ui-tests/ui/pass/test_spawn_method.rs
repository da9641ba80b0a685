#[tractor::test(spawn_method = "forkserver", timeout = 30)]
async fn on_the_forkserver() {}

#[tractor::test(timeout = 5, spawn_method = "thread")]
async fn on_threads() {}

macro_rules! on {
    ($name:ident, $method:literal) => {
        #[tractor::test(spawn_method = $method)]
        async fn $name() {}
    };
}

on!(from_a_macro, "exec");

fn main() {}

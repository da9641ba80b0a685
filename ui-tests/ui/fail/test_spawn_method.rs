#[tractor::test(spawn_method = "fork")]
async fn unknown_backend() {}

#[tractor::test(spawn_method = forkserver)]
async fn not_a_string() {}

#[tractor::test(spawn_method = "thread", spawn_method = "exec")]
async fn given_twice() {}

fn main() {}

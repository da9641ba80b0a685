#[tractor::main]
struct App;

fn main() {}

#[tractor::endpoint]
async fn show(x: Box<dyn std::fmt::Display>) -> String {
    x.to_string()
}

fn main() {}

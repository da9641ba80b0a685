//! An endpoint without arguments.

#[tractor::endpoint]
async fn pid() -> u32 {
    std::process::id()
}

fn main() {
    let call: tractor::Call<pid::Endpoint> = pid::call();
    assert_eq!(call.name(), "pid");
}

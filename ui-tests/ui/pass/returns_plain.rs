//! `-> T`: the success value is `T`.

#[tractor::endpoint]
async fn double(x: u64) -> (u32, u64) {
    (std::process::id(), x * 2)
}

fn main() {
    let call: tractor::Call<double::Endpoint> = double::call(21);
    assert_eq!(call.name(), "double");
    assert_eq!(call.module(), module_path!());
    let _output: <double::Endpoint as tractor::Endpoint>::Output = (1, 2);
}

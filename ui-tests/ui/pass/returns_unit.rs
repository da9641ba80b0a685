//! No return type: the success value is `()`.

#[tractor::endpoint]
async fn log_line(line: String) {
    println!("{line}");
}

fn main() {
    let call = log_line::call("hi".to_string());
    assert_eq!(call.name(), "log_line");
    let _unit: <log_line::Endpoint as tractor::Endpoint>::Output = ();
}

//! `-> Result<T, String>`: the error crosses as its message.

#[tractor::endpoint]
async fn parse_port(s: String) -> Result<u16, String> {
    s.parse().map_err(|e| format!("bad port {s:?}: {e}"))
}

fn main() {
    let _port: <parse_port::Endpoint as tractor::Endpoint>::Output = 0u16;
    let _ = parse_port::call("8080".into());
}

//! `-> Result<T, E>` with `E: Serialize + std::error::Error`: the caller can
//! downcast the boxed error back to `E`.

#[derive(Debug, thiserror::Error, serde::Serialize, serde::Deserialize)]
enum LookupError {
    #[error("no user {0}")]
    NoSuchUser(u32),
}

#[tractor::endpoint]
async fn user_name(id: u32) -> Result<String, LookupError> {
    match id {
        0 => Ok("root".into()),
        other => Err(LookupError::NoSuchUser(other)),
    }
}

fn main() {
    let _name: <user_name::Endpoint as tractor::Endpoint>::Output = String::new();
    let _ = user_name::call(0);
}

#[tractor::main(flavor = "multi_thread")]
async fn main() -> Result<(), tractor::Error> {
    Ok(())
}

#[tractor::main]
fn main() -> Result<(), tractor::Error> {
    Ok(())
}

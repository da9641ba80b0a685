#[tractor::main]
async fn main(args: Vec<String>) -> Result<(), tractor::Error> {
    let _ = args;
    Ok(())
}

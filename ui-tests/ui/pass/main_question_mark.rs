//! `#[tractor::main]` keeps the declared return type for the body, so `?`
//! converts into it (here a boxed error), and `impl Termination` works.

#[tractor::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = "7".parse()?;
    let e: Result<(), tractor::Error> = Ok(());
    e?;
    assert_eq!(n, 7);
    Ok(())
}

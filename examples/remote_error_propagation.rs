//! A one-shot child fails while three daemons idle: the daemons are
//! cancelled, and the child's error reaches the root boxed, with the type,
//! message and actor it came from.
//!
//! `cargo run --example remote_error_propagation`

#[tractor::endpoint]
async fn assert_err() {
    assert_eq!(1, 2, "the child's assertion fails on purpose");
}

#[tractor::main]
async fn main() {
    let res = tractor::open_nursery(async |an| {
        for i in 0..3 {
            an.start_actor(format!("sleepy_{i}")).await?;
        }
        an.run_in_actor(assert_err::call()).name("errorer").await?;
        Ok(())
    })
    .await;
    match res {
        Err(tractor::Error::Remote(e)) => {
            assert_eq!(e.kind(), tractor::RemoteErrorKind::Panic);
            println!(
                "the root got a `{}` from actor {}: {}",
                e.boxed_type(),
                e.origin(),
                e.message()
            );
        }
        other => panic!("expected a boxed remote error, got {other:?}"),
    }
}

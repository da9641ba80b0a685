//! A blocking, C-like loop on its own thread, linked to an actor task
//! with `tractor::foreign::open_channel_from`: the actor asks, the loop
//! answers; when the actor is done the loop is told, returns, and its
//! thread is joined. A fault in the loop reaches the root as a remote
//! error boxed with the loop's own error type.
//!
//! `cargo run --example foreign_loop`

use tractor::foreign::{self, ForeignError, ForeignSide, LinkError};

/// The foreign loop's own error.
#[derive(Debug, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("sensor {sensor} faulted on sample {sample}")]
struct SensorFault {
    sensor: u32,
    sample: u32,
}

/// What a C library's polling loop looks like: blocking calls, no async.
/// It hands over a calibration value, then answers each request with a
/// reading until the actor side is done (or cancels).
fn sensor_loop(
    mut side: ForeignSide<u32, u64>,
    sensor: u32,
    faulty_at: Option<u32>,
) -> Result<u32, SensorFault> {
    let mut served = 0;
    if side.started_nowait(100 + u64::from(sensor)).is_err() {
        return Ok(served);
    }
    loop {
        match side.get() {
            Ok(sample) if Some(sample) == faulty_at => {
                return Err(SensorFault { sensor, sample });
            }
            Ok(sample) => {
                let reading = u64::from(sensor) * 1000 + u64::from(sample);
                if side.send(reading).is_err() {
                    return Ok(served);
                }
                served += 1;
            }
            // The actor side is done (or was cancelled): stop.
            Err(LinkError::Closed | LinkError::Cancelled | LinkError::AlreadyStarted) => {
                return Ok(served);
            }
        }
    }
}

/// Samples `n` readings from a sensor loop on its own thread.
#[tractor::endpoint]
async fn sample(
    sensor: u32,
    n: u32,
    faulty_at: Option<u32>,
) -> Result<(u64, u64, u32), ForeignError<SensorFault>> {
    let (mut chan, calibration) =
        foreign::open_channel_from(move |side| sensor_loop(side, sensor, faulty_at)).await?;
    let mut sum = 0;
    for i in 0..n {
        chan.send(i).await?;
        sum += chan.recv().await?;
    }
    // Tells the loop it is done, and waits for it (its thread is joined).
    let served = chan.wait_for_result().await?;
    Ok((calibration, sum, served))
}

#[tractor::main]
async fn main() -> Result<(), tractor::Error> {
    tractor::open_nursery(async |an| {
        let child = an.run_in_actor(sample::call(1, 10, None)).await?;
        let (calibration, sum, served) = child.wait_for_result().await?;
        println!(
            "sensor 1: calibration {calibration}, 10 readings summing to {sum}; its loop served {served} and was joined"
        );

        let daemon = an
            .start_actor("sensors")
            .enable_modules([module_path!()])
            .await?;
        let err = daemon
            .run(sample::call(2, 10, Some(3)))
            .await
            .expect_err("sensor 2 faults");
        if let Some(r) = err.as_remote() {
            println!("sensor 2 failed in the child: {} ({})", r.message(), r.boxed_type());
            if let Some(ForeignError::Failed(fault)) = r.downcast::<ForeignError<SensorFault>>() {
                println!("downcast: sensor {} sample {}", fault.sensor, fault.sample);
            }
        }
        daemon.cancel_actor().await?;
        Ok(())
    })
    .await
}

//! What mutual TLS costs: `portal.run` round trips and a one-way stream of
//! 64 KiB chunks in a tree whose every link is in TLS (loopback ones too,
//! as links between hosts always are), beside the same in a plain tree,
//! in alternating rounds of the same run.

use std::time::Instant;

use tractor::{RootConfig, TransportKind, TreeTls};

use crate::measure::{ENDPOINTS, chunks, ping};
use crate::stats::{Rates, Samples, fmt_ns};
use crate::{CHUNK, Iters};

/// Rounds of each (plain and TLS alternate).
const ROUNDS: usize = 3;

#[derive(Default)]
pub(crate) struct TlsCost {
    rtt: [Samples; 2],
    bulk: [Rates; 2],
}

/// Plain, then TLS, `ROUNDS` times: a root, a child, its round trips and
/// its stream.
pub(crate) async fn tls_cost(it: &Iters) -> Result<TlsCost, tractor::Error> {
    let mut out = TlsCost::default();
    for _ in 0..ROUNDS {
        for (k, tls) in [false, true].into_iter().enumerate() {
            let mut cfg = RootConfig::new("bench").transport(TransportKind::Tcp);
            if tls {
                let t = TreeTls::mint().map_err(tractor::error::IpcError::from)?;
                cfg = cfg.tls(t.on_loopback(true));
            }
            let (rtt, bulk) = (&mut out.rtt[k], &mut out.bulk[k]);
            tractor::open_root_actor(cfg, async || one_round(it, rtt, bulk).await).await?;
        }
    }
    Ok(out)
}

async fn one_round(it: &Iters, rtt: &mut Samples, bulk: &mut Rates) -> Result<(), tractor::Error> {
    tractor::open_nursery(async |an| {
        let p = an
            .start_actor("peer")
            .enable_modules([ENDPOINTS])
            .spawn()
            .await?;
        for i in 0..it.warmup as u32 {
            p.run(ping::call(i)).await?;
        }
        for i in 0..it.rtt.div_ceil(ROUNDS) as u32 {
            let t = Instant::now();
            let r = p.run(ping::call(i)).await?;
            rtt.push(t.elapsed());
            assert_eq!(r, i);
        }
        let n = (it.tp_bulk as usize).div_ceil(ROUNDS) as u32;
        let t = Instant::now();
        let mut s = p.open_stream_from(chunks::call(n)).await?;
        let mut got = 0u32;
        while let Some(c) = s.recv().await? {
            assert_eq!(c.len(), CHUNK, "chunk size");
            got += 1;
        }
        bulk.push(u64::from(got) * CHUNK as u64, t.elapsed());
        p.cancel_actor().await?;
        Ok(())
    })
    .await
}

pub(crate) fn report(c: &TlsCost) {
    let mbps = |r: &Rates| r.median() / 1e6;
    println!();
    println!("mutual TLS (every link, loopback TCP) vs plain TCP, alternating rounds:");
    println!(
        "    portal.run RTT median      plain {:>10}   TLS {:>10}   ({:.2}x)",
        fmt_ns(c.rtt[0].median()),
        fmt_ns(c.rtt[1].median()),
        c.rtt[1].median() as f64 / c.rtt[0].median().max(1) as f64
    );
    println!(
        "    64 KiB stream MB/s median  plain {:>7.0} MB/s  TLS {:>7.0} MB/s  ({:.2}x)",
        mbps(&c.bulk[0]),
        mbps(&c.bulk[1]),
        mbps(&c.bulk[1]) / mbps(&c.bulk[0]).max(1e-9)
    );
}

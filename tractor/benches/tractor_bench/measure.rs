//! Measuring tractor through its public API, each figure in rounds that
//! alternate with its raw baseline ([`crate::raw`]) so that background
//! load hits both alike: spawn + teardown, new connections, round trips
//! (`portal.run` and a context's stream) per CPU placement, one-way
//! stream throughput, and the error relay ([`crate::relay`]). The
//! endpoints the measured actors serve are here too.

use std::cell::Cell;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::placement::{Pinned, Placement};
use crate::raw::{
    self, Duplex, pingpong_std, pingpong_tokio, raw_behind_huge, raw_bulk, raw_frames, raw_peer_of,
    raw_spawn, std_peer, tokio_peer,
};
use crate::relay::{Relay, relay};
use crate::stats::{Cpu, Rates, Samples};
use crate::{CHUNK, Iters, ROUNDS, WINDOWS, internal};

// ---------------------------------------------------------------------------
// endpoints served by the tractor children

/// This module's path: the allowlist entry of the endpoints below.
pub(crate) const ENDPOINTS: &str = module_path!();

/// Trivial endpoint for the `portal.run` round trip.
#[tractor::endpoint]
pub(crate) async fn ping(x: u32) -> u32 {
    x
}

/// Context stream ping-pong: echoes every message until the caller's
/// stream closes.
#[tractor::context]
async fn echo_ctx(ctx: tractor::Context<(), u32, u32>) -> Result<u64, tractor::Error> {
    ctx.started(()).await?;
    let stream = ctx.open_stream()?;
    let mut n = 0;
    while let Some(x) = stream.recv().await? {
        stream.send(x).await?;
        n += 1;
    }
    Ok(n)
}

/// Small-message one-way stream: `0..n`.
#[tractor::endpoint]
async fn count_u64(n: u64) -> impl futures::Stream<Item = u64> {
    futures::stream::iter(0..n)
}

/// Items of `size` bytes, as [`tractor::Bytes`], until the consumer
/// goes.
#[tractor::endpoint]
pub(crate) async fn items_of(size: u32) -> impl futures::Stream<Item = tractor::Bytes> {
    let buf = tractor::Bytes::from(vec![0xcd_u8; size as usize]);
    futures::stream::iter(std::iter::repeat(buf))
}

/// Bulk one-way stream: `n` chunks of [`CHUNK`] bytes, as
/// [`tractor::Bytes`] (what bulk data is sent as: the producer's buffer is
/// written to the socket as it is, as the raw writer writes its one
/// buffer; the consumer gets each chunk as bytes of its own).
#[tractor::endpoint]
pub(crate) async fn chunks(n: u32) -> impl futures::Stream<Item = tractor::Bytes> {
    let buf = tractor::Bytes::from(vec![0xab_u8; CHUNK]);
    futures::stream::iter((0..n).map(move |_| buf.clone()))
}

// ---------------------------------------------------------------------------
// what is measured

/// One round-trip measurement: raw std, raw tokio and tractor, taken
/// alternately with the same process placement.
#[derive(Default)]
pub(crate) struct Rtt {
    pub(crate) raw: Samples,
    pub(crate) tokio: Samples,
    pub(crate) tractor: Samples,
    /// Context stream ping-pong (`MsgStream::send` + `recv`).
    pub(crate) ctx: Samples,
    /// CPU time spent per variant: [raw, tokio, portal.run, ctx stream].
    pub(crate) cpu: [Cpu; 4],
    /// Per variant, as `cpu`: rounds that ended with both ends on one
    /// CPU, and rounds whose placement was read.
    pub(crate) one_cpu: [(u32, u32); 4],
}

impl Rtt {
    /// Notes where variant `k`'s ends were after a round (see
    /// [`on_one_cpu`](crate::placement::on_one_cpu)).
    fn note_placement(&mut self, k: usize, peer: u32) {
        if let Some(together) = crate::placement::on_one_cpu(peer) {
            self.one_cpu[k].0 += u32::from(together);
            self.one_cpu[k].1 += 1;
        }
    }
}

/// Round trips per transport and placement.
#[derive(Default)]
pub(crate) struct RttSet {
    pub(crate) tcp: Vec<(Placement, Rtt)>,
    pub(crate) uds: Vec<(Placement, Rtt)>,
}

impl RttSet {
    pub(crate) fn get(&self, uds: bool, at: Placement) -> Option<&Rtt> {
        let v = if uds { &self.uds } else { &self.tcp };
        v.iter().find(|(p, _)| *p == at).map(|(_, r)| r)
    }
}

/// Streaming throughput over one transport.
#[derive(Default)]
pub(crate) struct Tp {
    /// Raw framed messages (4-byte prefix + 8 bytes), msg/s.
    pub(crate) raw_frames: Rates,
    /// One-way stream of u64, msg/s, per entry of [`WINDOWS`].
    pub(crate) small: [Rates; 2],
    /// Raw 64 KiB socket writes, bytes/s.
    pub(crate) raw_bulk: Rates,
    /// One-way stream of 64 KiB chunks, bytes/s.
    pub(crate) bulk: Rates,
    /// `portal.run` round trips to the streaming actor while it streams
    /// 64 KiB chunks to us on the same channel: how long a small message
    /// waits behind large payloads.
    pub(crate) behind_bulk: Behind,
}

/// Round trips behind a stream of large items, and what they are made of.
#[derive(Default)]
pub(crate) struct Behind {
    /// Behind 64 KiB chunks.
    pub(crate) chunks: Legs,
    /// The same round trip to the same actor before it streams.
    pub(crate) idle: Legs,
    /// Behind [`HUGE`] items instead (sent in 64 KiB fragments).
    pub(crate) huge: Legs,
    /// Raw: a ping answered on one socket after the 64 KiB fragment of
    /// [`HUGE`] items being written (the machine's limit for `huge`).
    pub(crate) raw_huge: Samples,
    /// The same round trip while the actor streams `u64`s instead, as
    /// fast as we read them: a connection as busy, with no large payload
    /// to wait behind (what the 64 KiB stream adds is the difference).
    pub(crate) busy_small: Samples,
}

/// Round trips of one kind, whole and split at the endpoint's run.
#[derive(Default)]
pub(crate) struct Legs {
    /// The whole round trip.
    pub(crate) rtt: Samples,
    /// From the call's send to the endpoint's run (the quiet direction,
    /// and the streaming actor's turn to read and answer it).
    pub(crate) request: Samples,
    /// From the endpoint's run to the reply's arrival (behind the items).
    pub(crate) reply: Samples,
}

/// The large items a call is measured behind besides 64 KiB chunks.
pub(crate) const HUGE: usize = 16 << 20;

/// Stream throughput per transport and placement.
#[derive(Default)]
pub(crate) struct TpSet {
    pub(crate) tcp: Vec<(Placement, Tp)>,
    pub(crate) uds: Vec<(Placement, Tp)>,
}

impl TpSet {
    pub(crate) fn get(&self, uds: bool, at: Placement) -> Option<&Tp> {
        let v = if uds { &self.uds } else { &self.tcp };
        v.iter().find(|(p, _)| *p == at).map(|(_, t)| t)
    }

    fn push(&mut self, uds: bool, at: Placement, t: Option<Tp>) {
        if let Some(t) = t {
            if uds { &mut self.uds } else { &mut self.tcp }.push((at, t));
        }
    }
}

#[derive(Default)]
pub(crate) struct Raw {
    /// exec → handshake byte received.
    pub(crate) spawn1_up: Samples,
    /// exec + handshake + exit + wait.
    pub(crate) spawn1: Samples,
    pub(crate) spawn8: Samples,
    /// connect + accept + one-byte round trip, [TCP, UDS].
    pub(crate) connect: [Samples; 2],
}

#[derive(Default)]
pub(crate) struct Tractor {
    /// start_actor returned.
    pub(crate) spawn1_up: Samples,
    /// cancel_actor + nursery exit.
    pub(crate) spawn1_down: Samples,
    /// the whole nursery: spawn + teardown.
    pub(crate) spawn1: Samples,
    pub(crate) spawn8: Samples,
    pub(crate) relay: Relay,
    /// dial + authentication + identities, [TCP, UDS].
    pub(crate) connect: [Samples; 2],
    /// One HMAC proof (computed twice per handshake per side).
    pub(crate) proof: Samples,
}

// ---------------------------------------------------------------------------
// measurements

/// Every measurement of the run, on a TCP root and then on a UDS root.
pub(crate) async fn measure(it: &Iters) -> Result<(Raw, Tractor, RttSet, TpSet), tractor::Error> {
    let mut raw = Raw::default();
    let mut tr = Tractor::default();
    let mut rtt = RttSet::default();
    let mut tp = TpSet::default();
    let (raw_ref, tr_ref, rtt_ref, tp_ref) = (&mut raw, &mut tr, &mut rtt, &mut tp);
    tractor::open_root_actor(tractor::RootConfig::new("bench"), async move || {
        eprintln!("tractor_bench: spawn + teardown...");
        spawns(it, raw_ref, tr_ref).await?;
        eprintln!("tractor_bench: new connections over TCP...");
        connects(it, false, raw_ref, tr_ref).await?;
        for at in Placement::ALL {
            eprintln!("tractor_bench: round trips over TCP, {}...", at.label());
            if let Some(r) = round_trips(it, false, at).await? {
                rtt_ref.tcp.push((at, r));
            }
        }
        for at in Placement::ALL {
            eprintln!(
                "tractor_bench: stream throughput over TCP, {}...",
                at.label()
            );
            tp_ref.push(false, at, throughput(it, false, at).await?);
        }
        eprintln!("tractor_bench: error relay...");
        tr_ref.relay = relay(it.relay).await?;
        Ok(())
    })
    .await?;
    let cfg = tractor::RootConfig::new("bench").transport(tractor::TransportKind::Uds);
    tractor::open_root_actor(cfg, async || {
        eprintln!("tractor_bench: new connections over UDS...");
        connects(it, true, &mut raw, &mut tr).await?;
        for at in Placement::ALL {
            eprintln!("tractor_bench: round trips over UDS, {}...", at.label());
            if let Some(r) = round_trips(it, true, at).await? {
                rtt.uds.push((at, r));
            }
        }
        for at in Placement::ALL {
            eprintln!(
                "tractor_bench: stream throughput over UDS, {}...",
                at.label()
            );
            tp.push(true, at, throughput(it, true, at).await?);
        }
        Ok(())
    })
    .await?;
    Ok((raw, tr, rtt, tp))
}

/// Round trips alone, both ends on one CPU, over TCP and then UDS (to
/// profile the software path of a call).
pub(crate) async fn round_trips_one_cpu(it: &Iters) -> Result<RttSet, tractor::Error> {
    let mut rtt = RttSet::default();
    for (uds, kind) in [
        (false, tractor::TransportKind::Tcp),
        (true, tractor::TransportKind::Uds),
    ] {
        let cfg = tractor::RootConfig::new("bench").transport(kind);
        let r =
            tractor::open_root_actor(cfg, async || round_trips(it, uds, Placement::SameCpu).await)
                .await?;
        if let Some(r) = r {
            let v = if uds { &mut rtt.uds } else { &mut rtt.tcp };
            v.push((Placement::SameCpu, r));
        }
    }
    Ok(rtt)
}

/// Stream throughput alone, over TCP and then UDS (to profile streams).
pub(crate) async fn streams(it: &Iters) -> Result<TpSet, tractor::Error> {
    let mut tp = TpSet::default();
    for (uds, kind) in [
        (false, tractor::TransportKind::Tcp),
        (true, tractor::TransportKind::Uds),
    ] {
        let cfg = tractor::RootConfig::new("bench").transport(kind);
        tractor::open_root_actor(cfg, async || {
            for at in Placement::ALL {
                tp.push(uds, at, throughput(it, uds, at).await?);
            }
            Ok(())
        })
        .await?;
    }
    Ok(tp)
}

/// One-way stream throughput against a raw peer over the same transport,
/// with the peers placed as `at` says (as for round trips), in
/// alternating rounds (round 0, a tenth of the size, is the warm-up).
/// `None` when the placement is impossible here.
async fn throughput(it: &Iters, uds: bool, at: Placement) -> Result<Option<Tp>, tractor::Error> {
    let Some(pinned) = Pinned::start(at) else {
        return Ok(None);
    };
    let res = tractor::open_nursery(async |an| {
        let p = an
            .start_actor("streamer")
            .enable_modules([module_path!()])
            .spawn()
            .await?;
        let pid = p.aid().pid;
        pinned.pin(pid);
        let (mut raw_s, mut raw_child) = raw_peer_of("blast", uds);
        let raw_pid = raw_child.id();
        pinned.measure_here();
        let mut out = Tp::default();
        // `TRACTOR_BENCH_STREAM_ONLY=small` or `=bulk` measures one kind
        // (to profile it); `=default` only small items in the default window.
        let only = std::env::var("TRACTOR_BENCH_STREAM_ONLY").unwrap_or_default();
        let default_only = only == "default";
        let (small_only, bulk_only) = (only == "small" || default_only, only == "bulk");
        for round in 0..=it.tp_rounds {
            let keep = round > 0;
            let div = if keep { 1 } else { 10 };

            let n = it.tp_small_raw / div;
            let c = Cpu::start(raw_pid);
            let d = raw_frames(&mut *raw_s, n);
            if keep {
                out.raw_frames.push(n, d);
                out.raw_frames.cpu.stop(c, raw_pid, n as usize);
            }

            // `None`: the default window.
            let measured = |w: &Option<u32>| !bulk_only && (w.is_none() || !default_only);
            for (k, w) in WINDOWS.into_iter().enumerate().filter(|(_, w)| measured(w)) {
                let n = it.tp_small / div;
                let c = Cpu::start(pid);
                let t = Instant::now();
                let call = count_u64::call(n);
                let call = match w {
                    Some(w) => call.buffer(w),
                    None => call,
                };
                let mut s = p.open_stream_from(call).await?;
                let (mut got, mut sum) = (0u64, 0u64);
                while let Some(v) = s.recv().await? {
                    got += 1;
                    sum = sum.wrapping_add(v);
                }
                let d = t.elapsed();
                assert_eq!((got, sum), (n, n * n.saturating_sub(1) / 2), "u64 stream");
                if keep {
                    out.small[k].push(n, d);
                    out.small[k].cpu.stop(c, pid, n as usize);
                }
            }

            if !small_only {
                let n = it.tp_bulk_raw / div as u32;
                let c = Cpu::start(raw_pid);
                let d = raw_bulk(&mut *raw_s, n);
                if keep {
                    out.raw_bulk.push(u64::from(n) * CHUNK as u64, d);
                    out.raw_bulk.cpu.stop(c, raw_pid, n as usize);
                }

                let n = it.tp_bulk / div as u32;
                let c = Cpu::start(pid);
                let t = Instant::now();
                let mut s = p.open_stream_from(chunks::call(n)).await?;
                let mut got = 0u32;
                while let Some(chunk) = s.recv().await? {
                    assert_eq!(chunk.len(), CHUNK, "chunk size");
                    got += 1;
                }
                let d = t.elapsed();
                assert_eq!(got, n, "chunk stream");
                if keep {
                    out.bulk.push(u64::from(n) * CHUNK as u64, d);
                    out.bulk.cpu.stop(c, pid, n as usize);
                }
            }
        }
        if !small_only {
            out.behind_bulk = behind_bulk(&p, &mut *raw_s).await?;
        }
        drop(raw_s);
        let _ = raw_child.wait();
        p.cancel_actor().await?;
        Ok(out)
    })
    .await;
    drop(pinned);
    res.map(Some)
}

/// Round trips of `portal.run` to `p` while `p` streams 64 KiB chunks to
/// us as fast as we read them, on the same channel (each answer queues
/// behind the chunks sent before it), then [`HUGE`] items (after the raw
/// peer's `raw` pings behind the same items: the machine's part of that
/// wait), then `u64`s; and before any stream.
async fn behind_bulk(p: &tractor::Portal, raw: &mut dyn Duplex) -> Result<Behind, tractor::Error> {
    const PROBES: usize = 200;
    // A 16 MiB item takes 1-4 ms: enough probes to span tens of items,
    // so the p99 is not the luck of two or three.
    const HUGE_PROBES: usize = 2000;
    let mut out = Behind::default();
    legs(p, PROBES, &mut out.idle).await?;
    let s = p.open_stream_from(chunks::call(u32::MAX)).await?;
    while_draining(s, 64, legs(p, PROBES, &mut out.chunks)).await?;
    raw_behind_huge(raw, 4, HUGE_PROBES, &mut out.raw_huge);
    let s = p.open_stream_from(items_of::call(HUGE as u32)).await?;
    while_draining(s, 4, legs(p, HUGE_PROBES, &mut out.huge)).await?;
    let s = p.open_stream_from(count_u64::call(u64::MAX)).await?;
    let probe = async {
        for _ in 0..PROBES {
            let t = Instant::now();
            p.run(ran_at::call()).await?;
            out.busy_small.push(t.elapsed());
        }
        Ok::<_, tractor::Error>(())
    };
    while_draining(s, 64 * 1024, probe).await?;
    Ok(out)
}

/// `n` calls of `portal.run` to `p`, each split at the endpoint's run
/// (`CLOCK_MONOTONIC` is one clock for every process of the host).
async fn legs(p: &tractor::Portal, n: usize, out: &mut Legs) -> Result<(), tractor::Error> {
    for _ in 0..n {
        let t = Instant::now();
        let sent = clock_ns();
        let ran = p.run(ran_at::call()).await?;
        let back = clock_ns();
        out.rtt.push(t.elapsed());
        out.request.push_ns(ran.saturating_sub(sent));
        out.reply.push_ns(back.saturating_sub(ran));
    }
    Ok(())
}

/// Reads `s` as fast as it comes while `probe` runs, once `warm` items
/// brought it to full speed (its window full). The probe ends first;
/// dropping the stream then cancels its producer.
async fn while_draining<T: serde::de::DeserializeOwned>(
    mut s: tractor::RemoteStream<T>,
    warm: usize,
    probe: impl std::future::Future<Output = Result<(), tractor::Error>>,
) -> Result<(), tractor::Error> {
    for _ in 0..warm {
        s.recv().await?;
    }
    let consume = async {
        while s.recv().await?.is_some() {}
        Ok::<_, tractor::Error>(())
    };
    tokio::select! {
        r = probe => r,
        r = consume => r,
    }
}

/// This host's `CLOCK_MONOTONIC`, in ns.
fn clock_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a local timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// When this endpoint ran, on the host's monotonic clock.
#[tractor::endpoint]
async fn ran_at() -> Result<u64, tractor::Error> {
    Ok(clock_ns())
}

/// This actor's listening address.
#[tractor::endpoint]
async fn my_addr() -> Result<String, tractor::Error> {
    Ok(tractor::current_actor()?.accept_addr().to_string())
}

/// New connections, raw and tractor alternating: a raw connect to a raw
/// process's listener plus a one-byte round trip, next to a tractor dial
/// of a daemon actor with the whole handshake (peer-uid check on UDS, the
/// secret's challenge-response, identities). Also times one HMAC proof.
async fn connects(
    it: &Iters,
    uds: bool,
    raw: &mut Raw,
    tr: &mut Tractor,
) -> Result<(), tractor::Error> {
    let k = usize::from(uds);
    let secret = tractor::wire::tree_secret().expect("inside the root");
    let me = tractor::Aid::new("bench-dialer");
    let acceptor = raw::Acceptor::start(uds);
    let res = tractor::open_nursery(async |an| {
        let p = an
            .start_actor("connectee")
            .enable_modules([module_path!()])
            .await?;
        let addr: tractor::Addr = p.run(my_addr::call()).await?.parse().expect("addr");
        for round in 0..=ROUNDS {
            let n = if round == 0 {
                it.connect / 4
            } else {
                it.connect
            };
            for _ in 0..n {
                let d_raw = acceptor.connect_round_trip();
                let t = Instant::now();
                let conn = tractor::wire::dial_authenticated(&addr, &me, &secret)
                    .await
                    .expect("connect");
                let d_tr = t.elapsed();
                drop(conn);
                if round > 0 {
                    raw.connect[k].push(d_raw);
                    tr.connect[k].push(d_tr);
                }
            }
        }
        p.cancel_actor().await?;
        Ok(())
    })
    .await;
    drop(acceptor);
    if !uds {
        let (d, a) = ([1u8; 32], [2u8; 32]);
        for _ in 0..10 {
            let t = Instant::now();
            for _ in 0..1000 {
                std::hint::black_box(internal::dialer_proof(&secret, &d, &a));
            }
            tr.proof.push_ns(t.elapsed().as_nanos() as u64 / 1000);
        }
    }
    res
}

/// Spawn + teardown, raw and tractor alternating (the raw parts block the
/// runtime thread, which has nothing else to do meanwhile).
/// The median raw exec + handshake + exit of one child, over `n` rounds.
pub(crate) async fn raw_spawn_median(n: usize) -> u64 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut s = Samples::default();
    for _ in 0..n.max(1) {
        s.push(raw_spawn(&l, 1).1);
    }
    s.median()
}

async fn spawns(it: &Iters, raw: &mut Raw, tr: &mut Tractor) -> Result<(), tractor::Error> {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    for i in 0..it.spawn1 + 2 {
        let (up, all) = raw_spawn(&l, 1);

        let t = Instant::now();
        let t_up = Cell::new(Duration::ZERO);
        let t_down = Cell::new(Instant::now());
        tractor::open_nursery(async |an| {
            let p = an.start_actor("spawn1").spawn().await?;
            t_up.set(t.elapsed());
            t_down.set(Instant::now());
            p.cancel_actor().await?;
            Ok(())
        })
        .await?;
        if i >= 2 {
            raw.spawn1_up.push(up);
            raw.spawn1.push(all);
            tr.spawn1_up.push(t_up.get());
            tr.spawn1_down.push(t_down.get().elapsed());
            tr.spawn1.push(t.elapsed());
        }
    }
    for i in 0..it.spawn8 + 1 {
        let (_, all) = raw_spawn(&l, 8);

        let t = Instant::now();
        tractor::open_nursery(async |an| {
            let portals = futures::future::join_all(
                (0..8).map(|k| an.start_actor(format!("spawn8-{k}")).spawn()),
            )
            .await;
            for p in portals {
                p?;
            }
            an.cancel().await;
            Ok(())
        })
        .await?;
        if i >= 1 {
            raw.spawn8.push(all);
            tr.spawn8.push(t.elapsed());
        }
    }
    Ok(())
}

/// Round trips against a std echo peer, a tokio echo peer and a tractor
/// daemon (`portal.run(ping)`), in alternating rounds, with the peers placed
/// as `at` says (the raw peers inherit the spawning thread's CPU affinity,
/// the actor is pinned once spawned). `None` when the placement is
/// impossible here.
async fn round_trips(it: &Iters, uds: bool, at: Placement) -> Result<Option<Rtt>, tractor::Error> {
    let Some(pinned) = Pinned::start(at) else {
        return Ok(None);
    };
    let res = tractor::open_nursery(async |an| {
        let p = an
            .start_actor("pong")
            .enable_modules([module_path!()])
            .spawn()
            .await?;
        let pid = p.aid().pid;
        pinned.pin(pid);
        let (mut std_s, mut std_child) = std_peer(uds);
        let (mut tok_s, mut tok_child) = tokio_peer(uds).await;
        pinned.measure_here();
        // The context stays open through all rounds; its stream idles
        // while the other variants run.
        let out = p
            .open_context(echo_ctx::call(), async |ctx, ()| {
                let stream = ctx.open_stream()?;
                let mut out = Rtt::default();
                let per_round = it.rtt.div_ceil(ROUNDS);
                for round in 0..=ROUNDS {
                    // Round 0 is the warm-up of all four.
                    let n = if round == 0 { it.warmup } else { per_round };
                    let keep = round > 0;
                    let c = Cpu::start(std_child.id());
                    pingpong_std(&mut *std_s, n, keep.then_some(&mut out.raw));
                    if keep {
                        out.cpu[0].stop(c, std_child.id(), n);
                        out.note_placement(0, std_child.id());
                    }
                    let c = Cpu::start(tok_child.id());
                    pingpong_tokio(&mut *tok_s, n, keep.then_some(&mut out.tokio)).await;
                    if keep {
                        out.cpu[1].stop(c, tok_child.id(), n);
                        out.note_placement(1, tok_child.id());
                    }
                    let c = Cpu::start(pid);
                    for i in 0..n as u32 {
                        let t = Instant::now();
                        let r = p.run(ping::call(i)).await?;
                        let d = t.elapsed();
                        assert_eq!(r, i);
                        if keep {
                            out.tractor.push(d);
                        }
                    }
                    if keep {
                        out.cpu[2].stop(c, pid, n);
                        out.note_placement(2, pid);
                    }
                    let c = Cpu::start(pid);
                    for i in 0..n as u32 {
                        let t = Instant::now();
                        stream.send(i).await?;
                        let r = stream.recv().await?;
                        let d = t.elapsed();
                        assert_eq!(r, Some(i));
                        if keep {
                            out.ctx.push(d);
                        }
                    }
                    if keep {
                        out.cpu[3].stop(c, pid, n);
                        out.note_placement(3, pid);
                    }
                }
                Ok(out)
            })
            .await?;
        drop((std_s, tok_s));
        let _ = std_child.wait();
        let _ = tok_child.wait();
        p.cancel_actor().await?;
        Ok(out)
    })
    .await;
    drop(pinned);
    res.map(Some)
}

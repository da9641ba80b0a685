//! Bad input on an actor's listener: garbage, a truncated frame, a frame
//! announcing 4 GiB, before and after the handshake. Each connection is
//! dropped, nothing large is allocated, and the actor keeps serving.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tractor::{Addr, Aid, TransportKind};

use crate::both_transports;
use crate::common::{self, MODULE, in_nursery};

both_transports!(bad_frames_drop_only_their_connection);

pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub(crate) async fn dial(addr: &Addr) -> Box<dyn Io> {
    match addr {
        Addr::Tcp(a) => Box::new(tokio::net::TcpStream::connect(a).await.unwrap()),
        Addr::Uds(p) => Box::new(tokio::net::UnixStream::connect(p).await.unwrap()),
    }
}

/// Reads until the actor closes the connection; fails past the deadline.
pub(crate) async fn expect_dropped(io: &mut Box<dyn Io>, what: &str) {
    let mut sink = vec![0u8; 4096];
    let closed = async {
        loop {
            match io.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .unwrap_or_else(|_| panic!("actor did not drop the connection after {what}"));
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_le_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

fn vm_peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmPeak:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

async fn bad_frames_drop_only_their_connection(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = an.start_actor("target").enable_modules([MODULE]).await?;
        let addr: Addr = p.run(common::accept_addr::call()).await?.parse().unwrap();
        let pid = p.run(common::pid::call()).await?;
        let peak_before = vm_peak_kib(pid);

        // 1. Garbage instead of a handshake.
        let mut io = dial(&addr).await;
        io.write_all(&frame(&[0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0x7f]))
            .await
            .unwrap();
        expect_dropped(&mut io, "garbage").await;

        // 2. A truncated frame: announces 100 bytes, sends 10, closes.
        let mut io = dial(&addr).await;
        io.write_all(&100u32.to_le_bytes()).await.unwrap();
        io.write_all(&[1u8; 10]).await.unwrap();
        io.shutdown().await.unwrap();
        expect_dropped(&mut io, "a truncated frame").await;

        // 3. A frame announcing 4 GiB.
        let mut io = dial(&addr).await;
        io.write_all(&u32::MAX.to_le_bytes()).await.unwrap();
        expect_dropped(&mut io, "a 4 GiB frame announcement").await;

        // 4. A valid handshake, then a 4 GiB announcement.
        let secret = tractor::wire::tree_secret().expect("inside the test's root");
        let mut io = dial(&addr).await;
        tractor::wire::dial_handshake_raw(&mut io, &Aid::new("intruder"), &secret)
            .await
            .unwrap();
        io.write_all(&u32::MAX.to_le_bytes()).await.unwrap();
        expect_dropped(&mut io, "an oversized frame after the handshake").await;

        // 5. A valid handshake, then a frame that is not a message.
        let mut io = dial(&addr).await;
        tractor::wire::dial_handshake_raw(&mut io, &Aid::new("intruder"), &secret)
            .await
            .unwrap();
        io.write_all(&frame(&[0xff; 32])).await.unwrap();
        expect_dropped(&mut io, "an undecodable frame after the handshake").await;

        // The actor kept serving its parent all along, and allocated nothing big.
        assert_eq!(p.run(common::add::call(2, 2)).await?, 4);
        let grown = vm_peak_kib(pid).saturating_sub(peak_before);
        assert!(grown < 256 * 1024, "VmPeak grew by {grown} KiB");
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

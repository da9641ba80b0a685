//! A program that owns its runtime, as an axum or tonic server does: a
//! multi-thread `#[tokio::main]`, a TCP server on it whose connection
//! handlers are ordinary `tokio::spawn`ed tasks, and a tree of actors
//! that those handlers call into.
//!
//! What runs where:
//!
//! - `tractor::init()`, first thing in `main`: in a process re-executed
//!   as a child actor, it serves that actor (on a thread of its own, with
//!   a current-thread runtime; the `#[tokio::main]` runtime stays idle)
//!   and exits. In the program itself it returns at once.
//! - The root actor runs on the thread that awaits `open_root_actor`
//!   (here `main`'s, which `block_on` drives), and so do its nurseries:
//!   children are spawned from there.
//! - The server's handlers run on the runtime's worker threads. They
//!   call into actors through `Portal`s (`Send + Clone`), streams and
//!   contexts as they are, use discovery inside `Actor::scope`, and start
//!   children of the root's nursery through its `NurseryHandle`. What
//!   those calls need done at home (dial a channel, fork a child) runs
//!   back on the root's thread.
//!
//! `cargo run --example inside_your_runtime`

use std::collections::BTreeSet;

use futures::TryStreamExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tractor::{Actor, Error, NurseryHandle, Portal};

/// Runs in the `quotes` actor: a price for a symbol.
#[tractor::endpoint]
async fn quote(symbol: String) -> Result<u64, String> {
    if !symbol.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!("{symbol:?} is not a ticker symbol"));
    }
    Ok(symbol.bytes().map(u64::from).sum())
}

/// Runs in the `quotes` actor: `n` ticks of a symbol's price.
#[tractor::endpoint]
async fn ticks(symbol: String, n: u32) -> impl futures::Stream<Item = u64> {
    let base: u64 = symbol.bytes().map(u64::from).sum();
    futures::stream::iter((0..u64::from(n)).map(move |i| base + i))
}

/// What a handler calls into: the quotes actor, the root actor (for
/// discovery), and the root's nursery (to start actors).
#[derive(Clone)]
struct Tree {
    quotes: Portal,
    me: Actor,
    nursery: NurseryHandle,
}

/// One request line, answered with one line: `quote SYM`, `ticks SYM N`,
/// `where` or `fresh NAME`.
async fn answer(line: &str, tree: &Tree) -> Result<String, Error> {
    let Tree {
        quotes,
        me,
        nursery,
    } = tree;
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["quote", sym] => match quotes.run(quote::call(sym.to_string())).await {
            Ok(p) => Ok(format!("{sym} = {p}")),
            // The actor's own error, boxed: a reply, not a failure.
            Err(Error::Remote(refused)) => Ok(format!("no price: {}", refused.message())),
            Err(e) => Err(e),
        },
        ["ticks", sym, n] => {
            let n: u32 = n.parse().map_err(Error::custom)?;
            let stream = quotes
                .open_stream_from(ticks::call(sym.to_string(), n))
                .await?;
            let all: Vec<u64> = stream.try_collect().await?;
            Ok(format!("{sym} ticks {all:?}"))
        }
        // Discovery needs to know which actor asks: the handler's task
        // is not the actor's, so it says so with `scope`.
        ["where"] => {
            let found = me.scope(tractor::find_actor("quotes")).await?;
            Ok(match found {
                Some(p) => format!("quotes is {}", p.aid()),
                None => "quotes is not registered".into(),
            })
        }
        // An actor of its own for this request: a child of the root's
        // nursery, forked on the root's thread, cancelled when done.
        ["fresh", name] => {
            let fresh = nursery
                .start_actor(name.to_string())
                .enable_modules([module_path!()])
                .await?;
            let price = fresh.run(quote::call("ACME".into())).await?;
            fresh.cancel_actor().await?;
            Ok(format!("a fresh actor {name} quoted ACME = {price}"))
        }
        _ => Ok(format!("unknown request {line:?}")),
    }
}

/// One connection's handler: a plain `tokio::spawn`ed task on a worker.
async fn handle(conn: TcpStream, tree: Tree) -> Result<String, Error> {
    let thread = std::thread::current().name().unwrap_or("?").to_string();
    let (read, mut write) = conn.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Some(line) = lines.next_line().await.map_err(Error::custom)? {
        let reply = answer(&line, &tree).await?;
        write
            .write_all(format!("{reply}\n").as_bytes())
            .await
            .map_err(Error::custom)?;
    }
    Ok(thread)
}

/// A client of the server: sends requests on `clients` connections at
/// once and returns the replies.
async fn clients(addr: std::net::SocketAddr, requests: &[&str]) -> Result<Vec<String>, Error> {
    let mut set = tokio::task::JoinSet::new();
    for req in requests {
        let req = req.to_string();
        set.spawn(async move {
            let mut conn = TcpStream::connect(addr).await.map_err(Error::custom)?;
            conn.write_all(format!("{req}\n").as_bytes())
                .await
                .map_err(Error::custom)?;
            conn.shutdown().await.map_err(Error::custom)?;
            let mut lines = BufReader::new(conn).lines();
            lines
                .next_line()
                .await
                .map_err(Error::custom)?
                .ok_or_else(|| Error::custom("the server closed without a reply"))
        });
    }
    let mut replies = Vec::new();
    while let Some(r) = set.join_next().await {
        replies.push(r.map_err(Error::custom)??);
    }
    replies.sort();
    Ok(replies)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    tractor::init();
    let root_thread = std::thread::current().id();
    tractor::open_root_actor(tractor::RootConfig::new("server"), async || {
        tractor::open_nursery(async |an| {
            // At home: the nursery spawns from the root's thread.
            assert_eq!(std::thread::current().id(), root_thread);
            let quotes = an
                .start_actor("quotes")
                .enable_modules([module_path!()])
                .await?;
            let tree = Tree {
                quotes: quotes.clone(),
                me: tractor::current_actor()?,
                nursery: an.handle(),
            };
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(Error::custom)?;
            let addr = listener.local_addr().map_err(Error::custom)?;
            let requests = [
                "quote ACME",
                "quote acme",
                "ticks ACME 4",
                "where",
                "fresh pricer",
            ];
            // The server: one handler task per connection, on the workers.
            let server = tokio::spawn(async move {
                let mut handlers = tokio::task::JoinSet::new();
                for _ in 0..requests.len() {
                    let (conn, _) = listener.accept().await.map_err(Error::custom)?;
                    handlers.spawn(handle(conn, tree.clone()));
                }
                let mut threads = BTreeSet::new();
                while let Some(t) = handlers.join_next().await {
                    threads.insert(t.map_err(Error::custom)??);
                }
                Ok::<_, Error>(threads)
            });
            for reply in clients(addr, &requests).await? {
                println!("{reply}");
            }
            let threads = server.await.map_err(Error::custom)??;
            println!("handlers ran on {threads:?}; the root on main's thread");
            quotes.cancel_actor().await?;
            Ok(())
        })
        .await
    })
    .await?;
    println!("the tree is down; the program's runtime goes on");
    Ok(())
}

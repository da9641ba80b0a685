//! `tractor`: operate a running tree through its registrar.
//!
//! ```text
//! tractor [--registry ADDR] ls
//! tractor [--registry ADDR] ping NAME
//! tractor [--registry ADDR] cancel NAME
//! tractor [--registry ADDR] tasks NAME
//! tractor [--registry ADDR] tree [NAME]
//! ```
//!
//! The tool is a root actor of its own that only *joins* the registrar
//! (it never becomes one where none answers) and does not register itself.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use tractor::discovery::{self, REGISTRY_ADDR_ENV};
use tractor::introspect::{ActorSnapshot, TreeSnapshot};
use tractor::{Addr, Aid, Error, Portal, RegistrarRole, Registration, RootConfig, TransportKind};

/// `println!` that does not panic when stdout is a closed pipe
/// (`tractor ls | head -1`).
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}
const USAGE: &str = "\
Usage: tractor [--registry ADDR] [--timeout SECS] <COMMAND> [NAME]

Operate a running tractor tree through its registrar.

Commands:
  ls            list the live actors the registrar knows: name, uuid, pid, addresses
  ping NAME     check that NAME answers: its identity and the time to connect and handshake
  cancel NAME   cancel NAME gracefully: a cancel request, a bounded wait for its ack,
                then for it to leave the registry
  tasks NAME    what NAME is doing: its RPC tasks, the contexts and streams it opened
                (peer, state, window, queue depth), its nurseries and their children
  tree [NAME]   `tasks` for NAME and every descendant, actor by actor; without NAME,
                for every tree whose root is registered (an actor whose parent is not)

NAME is an actor name (the latest registration under it wins) or the start
of an actor's uuid as `tractor ls` prints it.

Options:
  --registry ADDR  the registrar: tcp://HOST:PORT, HOST:PORT or uds:///path/to.sock
                   (default: $TRACTOR_REGISTRY_ADDR, else 127.0.0.1:1616)
  --timeout SECS   how long ping, cancel and tasks wait for the actor (default 3); tree
                   waits 2 s more, the time it gives a child that does not answer
  -h, --help       print this help
  -V, --version    print the version

Exit status: 0 on success; 1 if the actor is not registered, does not answer or
does not acknowledge; 2 on a usage error or when no registrar answers.";

/// How long a call to the registrar may take.
const REGISTRAR_TIMEOUT: Duration = Duration::from_secs(5);
/// What a tree call waits beyond `--timeout`: the time the tree gives
/// each child that does not answer before it reports it unreachable.
const TREE_SLACK: Duration = Duration::from_secs(2);

#[derive(Debug)]
enum Command {
    Ls,
    Ping(String),
    Cancel(String),
    Tasks(String),
    Tree(Option<String>),
}

#[derive(Debug)]
struct Cli {
    registry: Option<String>,
    timeout: Duration,
    command: Command,
}

enum Parsed {
    Help,
    Version,
    Run(Cli),
}

/// Why the tool failed, and so its exit status.
enum Failure {
    /// The actor is missing, did not answer or did not ack: exit 1.
    Actor(String),
    /// A usage error, or the registrar is unreachable: exit 2.
    Setup(String),
}

impl Failure {
    fn report(self) -> ExitCode {
        match self {
            Failure::Actor(m) => {
                eprintln!("tractor: {m}");
                ExitCode::from(1)
            }
            Failure::Setup(m) => {
                eprintln!("tractor: {m}");
                ExitCode::from(2)
            }
        }
    }
}

fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut registry = None;
    let mut timeout = Duration::from_secs(3);
    let mut positional = Vec::new();
    let mut it = args.iter();
    let mut options_done = false;
    while let Some(arg) = it.next() {
        if options_done || !arg.starts_with('-') || arg == "-" {
            positional.push(arg.clone());
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs {what}")),
            }
        };
        match flag {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            "--" => options_done = true,
            "--registry" => registry = Some(value("an address")?),
            "--timeout" => {
                let v = value("a number of seconds")?;
                timeout = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| {
                        format!("--timeout {v}: expected a positive number of seconds")
                    })?;
            }
            _ => return Err(format!("unknown option `{arg}`")),
        }
    }
    let mut positional = positional.into_iter();
    let Some(cmd) = positional.next() else {
        return Err("no command given".into());
    };
    let mut name = |cmd: &str| {
        positional
            .next()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("`{cmd}` needs the NAME of an actor"))
    };
    let command = match cmd.as_str() {
        "ls" | "list" => Command::Ls,
        "ping" => Command::Ping(name("ping")?),
        "cancel" => Command::Cancel(name("cancel")?),
        "tasks" => Command::Tasks(name("tasks")?),
        "tree" => Command::Tree(positional.next().filter(|n| !n.is_empty())),
        "help" => return Ok(Parsed::Help),
        other => return Err(format!("unknown command `{other}`")),
    };
    if let Some(extra) = positional.next() {
        return Err(format!("unexpected argument `{extra}`"));
    }
    Ok(Parsed::Run(Cli {
        registry,
        timeout,
        command,
    }))
}

/// The registrar addresses: `--registry`, else `TRACTOR_REGISTRY_ADDR`,
/// else the default (the last two read as the runtime reads them). Either
/// may list several, comma-separated.
fn registry_addrs(flag: Option<&str>) -> Result<Vec<Addr>, String> {
    let (source, addrs) = match flag {
        Some(f) => {
            let addrs = f
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<Addr>().map_err(|e| format!("--registry: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            ("--registry", addrs)
        }
        None => match discovery::registry_addrs_from_env().map_err(|e| e.to_string())? {
            Some(env) => (REGISTRY_ADDR_ENV, env),
            None => (
                "the default",
                vec![discovery::default_registry_addr(TransportKind::Tcp)],
            ),
        },
    };
    let Some(first) = addrs.first() else {
        return Err(format!("{source}: no address given"));
    };
    if addrs.iter().any(|a| a.transport() != first.transport()) {
        return Err(format!(
            "{source}: the registry addresses mix transports ({}); give addresses of one transport",
            list(&addrs)
        ));
    }
    Ok(addrs)
}

fn list(addrs: &[Addr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[tractor::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cli = match parse(&args) {
        Ok(Parsed::Run(cli)) => cli,
        Ok(Parsed::Help) => {
            say!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Version) => {
            say!("tractor {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) if args.is_empty() => {
            eprintln!("{USAGE}\n\ntractor: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("tractor: {e}\nRun `tractor --help` for usage.");
            return ExitCode::from(2);
        }
    };
    let addrs = match registry_addrs(cli.registry.as_deref()) {
        Ok(a) => a,
        Err(e) => return Failure::Setup(e).report(),
    };
    // The runtime lets TRACTOR_REGISTRY_ADDR win over configuration; here
    // the address resolved above (which already honours it) must win.
    if std::env::var_os(REGISTRY_ADDR_ENV).is_some() {
        // SAFETY: nothing else runs yet: the runtime is current-thread,
        // no blocking-pool thread has started and no root is open, so no
        // other thread can be reading the environment.
        unsafe { std::env::remove_var(REGISTRY_ADDR_ENV) };
    }
    let cfg = RootConfig::new("tractor-cli")
        .transport(addrs[0].transport())
        .registry_addrs(addrs.clone())
        .registrar(RegistrarRole::Join)
        .discoverable(false)
        .loglevel("error");
    let ctx = Ctx {
        registry: list(&addrs),
        addrs: addrs.clone(),
        timeout: cli.timeout,
    };
    let res = tractor::open_root_actor(cfg, async || {
        Ok(match &cli.command {
            Command::Ls => ctx.ls().await,
            Command::Ping(name) => ctx.ping(name).await,
            Command::Cancel(name) => ctx.cancel(name).await,
            Command::Tasks(name) => ctx.tasks(name).await,
            Command::Tree(name) => ctx.tree(name.as_deref()).await,
        })
    })
    .await;
    match res {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(f)) => f.report(),
        Err(Error::NoRegistrar { addrs }) => Failure::Setup(format!(
            "no registrar answers at {}; start one (any tractor root, or a `tractor::run_daemon`) or pass --registry ADDR",
            list(&addrs)
        ))
        .report(),
        Err(e) => Failure::Setup(format!(
            "cannot join the registrar at {}: {e}",
            ctx.registry
        ))
        .report(),
    }
}

struct Ctx {
    addrs: Vec<Addr>,
    registry: String,
    timeout: Duration,
}

impl Ctx {
    /// A registrar call, bounded; its failure is the registrar's (exit 2).
    async fn registrar<T>(
        &self,
        call: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(REGISTRAR_TIMEOUT, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Failure::Setup(format!(
                "the registrar at {} failed: {e}",
                self.registry
            ))),
            Err(_) => Err(Failure::Setup(format!(
                "the registrar at {} did not answer within {REGISTRAR_TIMEOUT:?}",
                self.registry
            ))),
        }
    }

    async fn ls(&self) -> Result<(), Failure> {
        let regs = self.registrar(tractor::list_actors()).await?;
        if regs.is_empty() {
            eprintln!("tractor: no actors are registered at {}", self.registry);
            return Ok(());
        }
        let rows: Vec<[String; 4]> = regs
            .iter()
            .map(|r| {
                [
                    r.aid.name.clone(),
                    r.aid.uuid.to_string(),
                    r.aid.pid.to_string(),
                    list(&r.addrs),
                ]
            })
            .collect();
        let header = ["NAME", "UUID", "PID", "ADDRS"].map(String::from);
        let mut width = [0usize; 3];
        for row in std::iter::once(&header).chain(&rows) {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for [name, uuid, pid, addrs] in std::iter::once(&header).chain(&rows) {
            say!(
                "{name:<w0$}  {uuid:<w1$}  {pid:>w2$}  {addrs}",
                w0 = width[0],
                w1 = width[1],
                w2 = width[2]
            );
        }
        Ok(())
    }

    /// The registration `target` names: the latest under that name, else
    /// the one whose uuid starts with it.
    async fn resolve(&self, target: &str) -> Result<Registration, Failure> {
        if let Some(r) = self.registrar(tractor::query_actor(target)).await? {
            return Ok(r);
        }
        let prefix = target.to_ascii_lowercase();
        if prefix.len() >= 4 && prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            let mut hits: Vec<Registration> = self
                .registrar(tractor::list_actors())
                .await?
                .into_iter()
                .filter(|r| r.aid.uuid.to_string().starts_with(&prefix))
                .collect();
            match hits.len() {
                0 => {}
                1 => return Ok(hits.remove(0)),
                n => {
                    return Err(Failure::Actor(format!(
                        "`{target}` starts the uuids of {n} actors; give more of it"
                    )));
                }
            }
        }
        Err(Failure::Actor(format!(
            "no actor named `{target}` is registered at {}; `tractor ls` lists the live ones",
            self.registry
        )))
    }

    /// Connects to a registered actor and checks it is the one registered.
    async fn connect(&self, reg: &Registration) -> Result<(Portal, Addr, Duration), Failure> {
        let mut why = Vec::new();
        for addr in &reg.addrs {
            let t0 = Instant::now();
            match tokio::time::timeout(self.timeout, tractor::connect_portal(addr)).await {
                Ok(Ok(p)) if p.aid().uuid == reg.aid.uuid => {
                    return Ok((p, addr.clone(), t0.elapsed()));
                }
                Ok(Ok(p)) => why.push(format!(
                    "{addr}: another actor listens there now ({}, uuid {})",
                    p.aid(),
                    p.aid().uuid
                )),
                Ok(Err(e)) => why.push(format!("{addr}: {e}")),
                Err(_) => why.push(format!(
                    "{addr}: no handshake within {}",
                    secs(self.timeout)
                )),
            }
        }
        if why.is_empty() {
            why.push("it registered no address".into());
        }
        Err(Failure::Actor(format!(
            "actor {} (uuid {}) is registered but does not answer: {}",
            reg.aid,
            reg.aid.uuid,
            why.join("; ")
        )))
    }

    async fn ping(&self, target: &str) -> Result<(), Failure> {
        let reg = self.resolve(target).await?;
        let (portal, addr, rtt) = self.connect(&reg).await?;
        say!(
            "{} (uuid {}) answers at {addr}: connect + handshake {}",
            portal.aid(),
            portal.aid().uuid,
            millis(rtt)
        );
        Ok(())
    }

    async fn cancel(&self, target: &str) -> Result<(), Failure> {
        let reg = self.resolve(target).await?;
        let (portal, _, _) = self.connect(&reg).await?;
        let aid = portal.aid().clone();
        let t0 = Instant::now();
        let acked = portal
            .cancel_actor()
            .timeout(self.timeout)
            .await
            .unwrap_or(false);
        if !acked {
            return Err(Failure::Actor(format!(
                "{aid} (uuid {}) did not acknowledge the cancel request within {}",
                aid.uuid,
                secs(self.timeout)
            )));
        }
        // It de-registers before it closes its channels: once ours closes,
        // the registry no longer lists it (give it a moment either way).
        let deadline = t0 + self.timeout;
        let _ = tokio::time::timeout_at(deadline.into(), portal.closed()).await;
        let gone = if reg.addrs.iter().any(|a| self.addrs.contains(a)) {
            // The registrar itself: there is no registry left to ask.
            !portal.is_connected()
        } else {
            loop {
                let regs = self.registrar(tractor::list_actors()).await?;
                if regs.iter().all(|r| r.aid.uuid != aid.uuid) {
                    break true;
                }
                if Instant::now() >= deadline {
                    break false;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        if gone {
            say!(
                "{aid} (uuid {}) acknowledged the cancel request and was gone {} later",
                aid.uuid,
                millis(t0.elapsed())
            );
        } else {
            say!(
                "{aid} (uuid {}) acknowledged the cancel request but is still registered after {}",
                aid.uuid,
                secs(self.timeout)
            );
        }
        Ok(())
    }
}

impl Ctx {
    /// An introspection call to `aid`, bounded by `within`; its failure
    /// is the actor's (exit 1).
    async fn ask<T>(
        &self,
        aid: &Aid,
        within: Duration,
        call: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(within, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Failure::Actor(format!(
                "{aid} (uuid {}) could not answer: {e}",
                aid.uuid
            ))),
            Err(_) => Err(Failure::Actor(format!(
                "{aid} (uuid {}) did not answer within {}",
                aid.uuid,
                secs(within)
            ))),
        }
    }

    async fn snapshot_of(&self, reg: &Registration) -> Result<(Portal, ActorSnapshot), Failure> {
        let (portal, _, _) = self.connect(reg).await?;
        let call = portal.run(tractor::introspect::tasks::call());
        let snap = self.ask(&reg.aid, self.timeout, call).await?;
        Ok((portal, snap))
    }

    async fn tree_of(&self, portal: &Portal) -> Result<TreeSnapshot, Failure> {
        let call = portal.run(tractor::introspect::tree::call());
        self.ask(portal.aid(), self.timeout + TREE_SLACK, call)
            .await
    }

    async fn tasks(&self, target: &str) -> Result<(), Failure> {
        let reg = self.resolve(target).await?;
        let (_, snap) = self.snapshot_of(&reg).await?;
        say!("{snap}");
        Ok(())
    }

    async fn tree(&self, target: Option<&str>) -> Result<(), Failure> {
        if let Some(target) = target {
            let reg = self.resolve(target).await?;
            let (portal, _, _) = self.connect(&reg).await?;
            let tree = self.tree_of(&portal).await?;
            say!("{tree}");
            return Ok(());
        }
        let regs = self.registrar(tractor::list_actors()).await?;
        if regs.is_empty() {
            return Err(Failure::Actor(format!(
                "no actors are registered at {}",
                self.registry
            )));
        }
        // Every registered actor at once: which have no registered parent.
        let asked = futures::future::join_all(regs.iter().map(|r| self.snapshot_of(r))).await;
        let mut roots = Vec::new();
        for res in asked {
            match res {
                Ok((portal, snap)) => {
                    let parent_listed = snap
                        .parent
                        .as_ref()
                        .is_some_and(|p| regs.iter().any(|r| r.aid.uuid == p.uuid));
                    if !parent_listed {
                        roots.push(portal);
                    }
                }
                Err(Failure::Actor(m) | Failure::Setup(m)) => eprintln!("tractor: {m}"),
            }
        }
        if roots.is_empty() {
            return Err(Failure::Actor(format!(
                "none of the {} actors registered at {} answered",
                regs.len(),
                self.registry
            )));
        }
        let trees = futures::future::join_all(roots.iter().map(|p| self.tree_of(p))).await;
        let mut first = true;
        for tree in trees {
            match tree {
                Ok(t) => {
                    if !first {
                        say!();
                    }
                    first = false;
                    say!("{t}");
                }
                Err(Failure::Actor(m) | Failure::Setup(m)) => eprintln!("tractor: {m}"),
            }
        }
        if first {
            return Err(Failure::Actor(
                "no root actor answered with its tree".into(),
            ));
        }
        Ok(())
    }
}

fn millis(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_commands_and_options() {
        let Ok(Parsed::Run(c)) = parse(&args("--registry uds:///tmp/r.sock ping alpha")) else {
            panic!("ping did not parse");
        };
        assert_eq!(c.registry.as_deref(), Some("uds:///tmp/r.sock"));
        assert!(matches!(c.command, Command::Ping(ref n) if n == "alpha"));
        let Ok(Parsed::Run(c)) = parse(&args("cancel beta --timeout=0.5 --registry=h:1")) else {
            panic!("cancel did not parse");
        };
        assert_eq!(c.timeout, Duration::from_millis(500));
        assert_eq!(c.registry.as_deref(), Some("h:1"));
        assert!(matches!(
            parse(&args("ls")),
            Ok(Parsed::Run(Cli {
                command: Command::Ls,
                ..
            }))
        ));
        assert!(matches!(parse(&args("ls --help")), Ok(Parsed::Help)));
        assert!(matches!(
            parse(&args("tasks alpha")),
            Ok(Parsed::Run(Cli { command: Command::Tasks(ref n), .. })) if n == "alpha"
        ));
        assert!(matches!(
            parse(&args("tree")),
            Ok(Parsed::Run(Cli {
                command: Command::Tree(None),
                ..
            }))
        ));
        assert!(matches!(
            parse(&args("tree alpha")),
            Ok(Parsed::Run(Cli { command: Command::Tree(Some(ref n)), .. })) if n == "alpha"
        ));
        for bad in [
            "",
            "ping",
            "ls extra",
            "tasks",
            "tree a b",
            "frob",
            "--registry",
            "--timeout -1 ls",
            "-x ls",
        ] {
            assert!(parse(&args(bad)).is_err(), "`{bad}` parsed");
        }
    }

    #[test]
    fn registry_addresses() {
        let a = registry_addrs(Some("tcp://127.0.0.1:9,127.0.0.1:10")).unwrap();
        assert_eq!(a.len(), 2);
        assert!(registry_addrs(Some("uds:///x.sock,127.0.0.1:1")).is_err());
        assert!(registry_addrs(Some("nope")).is_err());
    }
}

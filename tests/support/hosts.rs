//! Two "hosts" on one machine: two network namespaces joined by a veth
//! pair, whose addresses exist only inside them, and a real `sshd` in the
//! second, accepting a key made for the test. What a test needs to run a
//! tree across hosts for real; torn down (sshd killed, namespaces and
//! link deleted, keys removed) when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The two hosts and how to reach the second over SSH.
pub(crate) struct TwoHosts {
    /// The namespace of the local host (where the root runs).
    pub local_ns: String,
    /// The namespace of the remote host (where sshd runs).
    pub remote_ns: String,
    /// The local host's address, on the veth.
    pub local_ip: String,
    /// The remote host's address, where sshd listens.
    pub remote_ip: String,
    /// The key sshd accepts for root.
    pub key: PathBuf,
    dir: PathBuf,
    sshd: Option<Child>,
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl TwoHosts {
    /// Makes the two hosts, or says why it cannot (not root, no `ip`, no
    /// `sshd`): the caller skips with that reason.
    pub(crate) fn set_up() -> Result<TwoHosts, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("network namespaces need root".into());
        }
        for tool in ["/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen"] {
            if !Path::new(tool).exists() {
                return Err(format!(
                    "{tool} is missing (Debian's openssh-server and openssh-client)"
                ));
            }
        }
        let tag = std::process::id() % 100_000;
        let net = std::process::id() % 200 + 20;
        let dir = std::env::temp_dir().join(format!("tractor-hosts-{tag}"));
        let mut hosts = TwoHosts {
            local_ns: format!("trA{tag}"),
            remote_ns: format!("trB{tag}"),
            local_ip: format!("10.213.{net}.1"),
            remote_ip: format!("10.213.{net}.2"),
            key: dir.join("id_ed25519"),
            dir,
            sshd: None,
        };
        hosts.build(tag).map(|()| hosts)
    }

    fn build(&mut self, tag: u32) -> Result<(), String> {
        let (a, b) = (self.local_ns.clone(), self.remote_ns.clone());
        let (va, vb) = (format!("tva{tag}"), format!("tvb{tag}"));
        run("ip", &["netns", "add", &a])?;
        run("ip", &["netns", "add", &b])?;
        run(
            "ip",
            &["link", "add", &va, "type", "veth", "peer", "name", &vb],
        )?;
        run("ip", &["link", "set", &va, "netns", &a])?;
        run("ip", &["link", "set", &vb, "netns", &b])?;
        for (ns, dev, ip) in [(&a, &va, &self.local_ip), (&b, &vb, &self.remote_ip)] {
            run(
                "ip",
                &["-n", ns, "addr", "add", &format!("{ip}/24"), "dev", dev],
            )?;
            run("ip", &["-n", ns, "link", "set", dev, "up"])?;
            run("ip", &["-n", ns, "link", "set", "lo", "up"])?;
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
        // sshd's privilege separation directory.
        std::fs::create_dir_all("/run/sshd").map_err(|e| e.to_string())?;
        let host_key = self.dir.join("host_ed25519");
        for k in [&host_key, &self.key] {
            let k = k.to_string_lossy().into_owned();
            run("ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-f", &k])?;
        }
        let authorized = self.dir.join("authorized_keys");
        std::fs::copy(self.key.with_extension("pub"), &authorized).map_err(|e| e.to_string())?;
        let config = self.dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port 22\nListenAddress {ip}\nHostKey {hk}\nPidFile {dir}/sshd.pid\n\
                 AuthorizedKeysFile {auth}\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nLogLevel ERROR\n",
                ip = self.remote_ip,
                hk = host_key.display(),
                dir = self.dir.display(),
                auth = authorized.display(),
            ),
        )
        .map_err(|e| e.to_string())?;
        let sshd = Command::new("ip")
            .args(["netns", "exec", &b, "/usr/sbin/sshd", "-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("sshd: {e}"))?;
        self.sshd = Some(sshd);
        self.wait_for_sshd()
    }

    /// Until sshd answers on the remote address, from the local host.
    fn wait_for_sshd(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let probe = Command::new("ip")
                .args(["netns", "exec", &self.local_ns])
                .args(self.ssh_args())
                .arg("true")
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if probe.is_ok_and(|s| s.success()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("sshd did not answer within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `ssh` and its options, to the remote host's root.
    pub(crate) fn ssh_args(&self) -> Vec<String> {
        let mut v = vec!["ssh".to_string()];
        for o in self.ssh_options() {
            v.push("-o".into());
            v.push(o);
        }
        v.extend(["-i".into(), self.key.display().to_string()]);
        v.push(format!("root@{}", self.remote_ip));
        v
    }

    /// The `ssh -o` options a test client needs (the host key is the
    /// test's own, never worth remembering).
    pub(crate) fn ssh_options(&self) -> Vec<String> {
        vec![
            "BatchMode=yes".into(),
            "StrictHostKeyChecking=no".into(),
            "UserKnownHostsFile=/dev/null".into(),
            "LogLevel=ERROR".into(),
            "ConnectTimeout=5".into(),
        ]
    }
}

impl Drop for TwoHosts {
    fn drop(&mut self) {
        if let Some(mut sshd) = self.sshd.take() {
            let _ = sshd.kill();
            let _ = sshd.wait();
        }
        // Deleting a namespace deletes the veth end in it, and its peer.
        let _ = run("ip", &["netns", "del", &self.local_ns]);
        let _ = run("ip", &["netns", "del", &self.remote_ns]);
        let _ = std::fs::remove_dir_all(&self.dir);
        // The copies of this binary the SSH launcher left on the remote
        // host, which is this machine (named `<binary>-<hash>`).
        let copies = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/tractor"));
        let ours = std::env::current_exe()
            .ok()
            .and_then(|e| e.file_name().map(|n| format!("{}-", n.to_string_lossy())));
        if let (Some(dir), Some(ours)) = (copies, ours) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                if e.file_name().to_string_lossy().starts_with(&ours) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}

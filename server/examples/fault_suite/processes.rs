//! The processes under test, each a real program on loopback: the sandbox
//! standing in for Meta, and Switchboard instances that can be killed
//! with SIGKILL and started again on the same port and database.

use std::{
    fs::{File, OpenOptions},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

/// A port on loopback that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

fn log_file(path: &Path) -> (File, File) {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("log file");
    let copy = file.try_clone().expect("log file handle");
    (file, copy)
}

/// Polls `url` until it answers 200, for up to `limit`.
pub async fn wait_ok(http: &reqwest::Client, url: &str, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if http
            .get(url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The sandbox program, with webhook retries that outlast a killed
/// receiver (Meta retries for days).
pub struct SandboxProcess {
    child: Child,
    pub url: String,
}

impl SandboxProcess {
    pub async fn start(binary: &Path, seed: u64, log: &Path, http: &reqwest::Client) -> Self {
        let port = free_port();
        let (out, err) = log_file(log);
        let child = Command::new(binary)
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .args(["--seed", &seed.to_string()])
            .args(["--retry-for-secs", "300"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let url = format!("http://127.0.0.1:{port}");
        assert!(
            wait_ok(
                http,
                &format!("{url}/_sandbox/state"),
                Duration::from_secs(30)
            )
            .await,
            "the sandbox did not start (log: {})",
            log.display()
        );
        Self { child, url }
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One Switchboard server process. Its port, database and settings stay
/// the same across kills, as a supervisor would restart it.
pub struct Instance {
    pub name: String,
    pub port: u16,
    binary: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Instance {
    pub fn new(name: &str, binary: &Path, env: &[(String, String)], logs: &Path) -> Self {
        Self {
            name: name.to_string(),
            port: free_port(),
            binary: binary.to_path_buf(),
            env: env.to_vec(),
            log: logs.join(format!("{name}.log")),
            child: None,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Starts the process and waits until it says it is ready.
    pub async fn start(&mut self, http: &reqwest::Client) {
        let (out, err) = log_file(&self.log);
        let child = Command::new(&self.binary)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{}", self.port))
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.binary.display()));
        self.child = Some(child);
        assert!(
            wait_ok(
                http,
                &format!("{}/readyz", self.url()),
                Duration::from_secs(60)
            )
            .await,
            "{} did not become ready (log: {})",
            self.name,
            self.log.display()
        );
    }

    /// SIGKILL: no shutdown, no flush, whatever it was doing.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops it as an operator would (SIGTERM, graceful shutdown).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// Whether the process died by itself (a panic that ended it, say).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Restarts the local PostgreSQL cluster (fast mode: every connection is
/// cut), as a failover or an upgrade would.
pub fn restart_postgres() -> Result<(), String> {
    let version = std::fs::read_dir("/etc/postgresql")
        .map_err(|e| format!("no /etc/postgresql: {e}"))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .min()
        .ok_or("no PostgreSQL cluster in /etc/postgresql")?;
    let status = Command::new("pg_ctlcluster")
        .args([
            "--skip-systemctl-redirect",
            "--mode",
            "fast",
            &version,
            "main",
            "restart",
        ])
        .status()
        .map_err(|e| format!("pg_ctlcluster: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("pg_ctlcluster restart: {status}"))
    }
}

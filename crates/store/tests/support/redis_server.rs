//! Test support: a real `redis-server` (the Debian package, installed by
//! `scripts/setup.sh --tests`) on a free loopback port, killed when dropped.
//!
//! Shared by the store's and the command line's tests (`#[path]`): it depends on nothing but
//! `std` and `tempfile`.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

/// Whether Redis keeps its data on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// In memory only (`--save "" --appendonly no`).
    None,
    /// The append-only file, fsynced before each write is answered (`appendfsync always`): what
    /// Redis acknowledged survives a kill.
    AppendOnlyAlways,
}

/// A running `redis-server`.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    persistence: Persistence,
    /// Its working directory: the append-only file with persistence.
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it accepts connections.
    pub fn start(persistence: Persistence) -> RedisServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut last_output = String::new();
        // Another process may take the free port between our probe and Redis's bind: try again.
        for _ in 0..5 {
            let port = free_port();
            match spawn(port, persistence, dir.path()) {
                Ok(child) => {
                    return RedisServer {
                        child: Some(child),
                        port,
                        persistence,
                        dir,
                    }
                }
                Err(output) => last_output = output,
            }
        }
        panic!("redis-server did not start: {last_output}");
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server at once (SIGKILL): it gets no chance to write anything more.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same directory (so with persistence it
    /// loads what it had acknowledged), and waits until it accepts connections.
    pub fn restart(&mut self) {
        self.kill();
        let child = spawn(self.port, self.persistence, self.dir.path())
            .unwrap_or_else(|output| panic!("redis-server did not restart: {output}"));
        self.child = Some(child);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a free loopback port")
        .port()
}

/// Starts `redis-server` and reads its log until it is ready; `Err` with the log when it exits.
fn spawn(port: u16, persistence: Persistence, dir: &std::path::Path) -> Result<Child, String> {
    let mut command = Command::new("redis-server");
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(dir)
        .args(["--save", "", "--daemonize", "no", "--logfile", ""])
        .args(["--loglevel", "notice", "--maxmemory-policy", "noeviction"]);
    match persistence {
        Persistence::None => command.args(["--appendonly", "no"]),
        Persistence::AppendOnlyAlways => {
            command.args(["--appendonly", "yes", "--appendfsync", "always"])
        }
    };
    let mut child = match command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            panic!("redis-server is not installed: run scripts/setup.sh --tests")
        }
        Err(error) => panic!("cannot start redis-server: {error}"),
    };
    let stdout = child.stdout.take().expect("redis-server stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut log = String::new();
    // Redis logs this line once it listens and has loaded its data.
    loop {
        match lines.next() {
            Some(Ok(line)) => {
                let ready = line.contains("Ready to accept connections");
                log.push_str(&line);
                log.push('\n');
                if ready {
                    break;
                }
            }
            Some(Err(_)) | None => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(log);
            }
        }
    }
    // Keep draining the log so that Redis never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Ok(child)
}

//! Test support: a real `redis-server` (the Debian package, installed by
//! `scripts/setup.sh --tests`) on a free loopback port, killed when dropped.
//!
//! Shared by the store's and the command line's tests (`#[path]`, with `process.rs` next to it):
//! it depends on nothing but `std` and `tempfile`.

#![allow(dead_code)] // Each test binary uses its own part of this module.

#[path = "process.rs"]
mod process;

use std::process::{Child, Command};

use process::{on_a_free_port, spawn_until_ready, stop, Log};

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
        let (child, port) = on_a_free_port("redis-server", |port| {
            spawn(port, persistence, dir.path()).map(|child| (child, port))
        });
        RedisServer {
            child: Some(child),
            port,
            persistence,
            dir,
        }
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
            stop(&mut child);
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
    // Redis logs this line once it listens and has loaded its data.
    spawn_until_ready(
        &mut command,
        Log::Stdout,
        "Ready to accept connections",
        "run scripts/setup.sh --tests",
    )
}

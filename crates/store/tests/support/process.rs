//! Test support: a server process of another project (`redis-server`, `moto_server`) started on
//! a free loopback port and waited for until its log says it serves, without sleeping.
//!
//! Shared (`#[path]`) by `redis_server.rs` here and the output crate's `moto_server.rs`: it
//! depends on nothing but `std`.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

/// A loopback port that nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a free loopback port")
        .port()
}

/// Runs `start` on free ports until it succeeds: another process may take the free port between
/// our probe and the server's bind. Panics with the last log after five tries.
pub fn on_a_free_port<T>(name: &str, mut start: impl FnMut(u16) -> Result<T, String>) -> T {
    let mut last_output = String::new();
    for _ in 0..5 {
        match start(free_port()) {
            Ok(started) => return started,
            Err(output) => last_output = output,
        }
    }
    panic!("{name} did not start: {last_output}");
}

/// Where a server writes the log line that says it is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    Stdout,
    Stderr,
}

/// Starts `command` and reads its log until a line contains `ready`; `Err` with the log when it
/// exits first. The log is then drained in the background so that the server never blocks on a
/// full pipe. `missing` says how to install the program when it is not there.
pub fn spawn_until_ready(
    command: &mut Command,
    log: Log,
    ready: &str,
    missing: &str,
) -> Result<Child, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let (stdout, stderr) = match log {
        Log::Stdout => (Stdio::piped(), Stdio::null()),
        Log::Stderr => (Stdio::null(), Stdio::piped()),
    };
    let mut child = match command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
    {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            panic!("{program} is not installed: {missing}")
        }
        Err(error) => panic!("cannot start {program}: {error}"),
    };
    let output: Box<dyn Read + Send> = match log {
        Log::Stdout => Box::new(child.stdout.take().expect("the server's stdout")),
        Log::Stderr => Box::new(child.stderr.take().expect("the server's stderr")),
    };
    let mut lines = BufReader::new(output).lines();
    let mut text = String::new();
    loop {
        match lines.next() {
            Some(Ok(line)) => {
                let is_ready = line.contains(ready);
                text.push_str(&line);
                text.push('\n');
                if is_ready {
                    break;
                }
            }
            Some(Err(_)) | None => {
                stop(&mut child);
                return Err(text);
            }
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    Ok(child)
}

/// Kills the process at once (SIGKILL) and reaps it.
pub fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

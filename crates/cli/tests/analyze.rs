//! `openliveness analyze` against the real binary: a small simulated session played with
//! `openliveness simulate --endpoint`, then its report asked with `analyze --endpoint
//! --session-id`, signed with the tenant's key from the environment: as JSON, the very bytes
//! `analyze DIR --json` prints for the session's stored evidence, and as the same table.
//! Another tenant's key gets `SessionNotFoundException` and a failed exit.
//!
//! Needs the face model and photograph (`scripts/setup-vision.sh`).

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

mod common;

use std::process::{Command, Output};

use common::{Key, Options, Server, TENANT_A, TENANT_B};
use serde_json::Value;

fn openliveness(args: &[&str], key: Key) -> Output {
    Command::new(env!("CARGO_BIN_EXE_openliveness"))
        .args(args)
        .env("AWS_ACCESS_KEY_ID", key.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", key.secret)
        .output()
        .unwrap()
}

fn succeeded(output: &Output) -> &[u8] {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    &output.stdout
}

#[test]
fn analyze_endpoint_prints_the_servers_report_as_analyze_dir_does() {
    let server = Server::start(Options::default());
    // Small frames: the engine decides them quickly.
    let played = openliveness(
        &[
            "simulate",
            "--endpoint",
            &server.plain_url,
            "--species",
            "bona-fide",
            "--seed",
            "3",
            "--size",
            "192x144",
            "--fast",
        ],
        TENANT_A,
    );
    let played: Value = serde_json::from_slice(succeeded(&played)).unwrap();
    let session = played["SessionId"].as_str().unwrap();
    assert_eq!(played["results"]["Status"], "SUCCEEDED", "{played}");
    let remote = |json: bool, key: Key| {
        let mut args = vec![
            "analyze",
            "--endpoint",
            &server.plain_url,
            "--session-id",
            session,
        ];
        if json {
            args.push("--json");
        }
        openliveness(&args, key)
    };

    let json = remote(true, TENANT_A);
    let report: Value = serde_json::from_slice(succeeded(&json)).unwrap();
    assert_eq!(
        report["confidence"].as_f64().unwrap() as f32,
        played["results"]["Confidence"].as_f64().unwrap() as f32,
        "{report}"
    );
    // The same bytes as the engine run here on the evidence the server keeps.
    let evidence = server.data_dir.join("evidence").join(session);
    let local = openliveness(&["analyze", evidence.to_str().unwrap(), "--json"], TENANT_A);
    assert_eq!(
        String::from_utf8_lossy(succeeded(&local)),
        String::from_utf8_lossy(&json.stdout)
    );

    let table = remote(false, TENANT_A);
    let table = String::from_utf8(succeeded(&table).to_vec()).unwrap();
    assert!(
        table.starts_with(&format!("session {session}: confidence ")),
        "{table}"
    );
    for check in report["checks"].as_array().unwrap() {
        let name = check["name"].as_str().unwrap();
        assert!(
            table
                .lines()
                .any(|line| line.starts_with(&format!("{name} "))),
            "{name} not in\n{table}"
        );
    }
    let local_table = openliveness(&["analyze", evidence.to_str().unwrap()], TENANT_A);
    assert_eq!(String::from_utf8_lossy(succeeded(&local_table)), table);

    // Another tenant's key: as if the session did not exist.
    let other = remote(true, TENANT_B);
    assert!(!other.status.success());
    assert!(other.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(
        stderr.contains(&format!(
            "SessionNotFoundException: Session {session} not found (HTTP 404"
        )),
        "{stderr}"
    );
}

//! The room world from the command line: `simulate --world room` records the conditions it drew
//! and fixed, an unknown condition is refused with the axes' names, and `eval` in a seed set
//! breaks its numbers down by every axis' buckets.
//!
//! Needs the face model and photograph (`scripts/setup-vision.sh`).

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

use std::process::{Command, Output};

use serde_json::Value;

fn openliveness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_openliveness"))
        .args(args)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap()
}

fn succeeded(output: &Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn simulate_in_the_room_records_the_conditions_it_drew_and_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("session");
    succeeded(&openliveness(&[
        "simulate",
        "--world",
        "room",
        "--seed",
        "5",
        "--condition",
        "skin_type=6",
        "--condition",
        "resolution=320x240",
        "--out",
        out.to_str().unwrap(),
    ]));
    let recording: Value =
        serde_json::from_slice(&std::fs::read(out.join("recording.json")).unwrap()).unwrap();
    let room = &recording["room"];
    assert_eq!(room["skin_type"], 6);
    assert_eq!(
        (room["width"].as_u64(), room["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert_eq!(recording["challenge"]["width"], 320);
    for axis in [
        "room_lux",
        "screen_luminance",
        "screen_to_room",
        "white_balance_time_constant_s",
    ] {
        assert!(room[axis].as_f64().unwrap() > 0.0, "{axis}: {room}");
    }
    assert!(out.join("evidence.json").is_file() && out.join("video.bin").is_file());
}

#[test]
fn an_unknown_condition_or_value_is_refused_with_the_names_it_may_take() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("session");
    let out = out.to_str().unwrap();
    for (condition, named) in [
        ("lux=20", "room_lux"),
        ("device=tablet", "device"),
        ("fps", "AXIS=VALUE"),
    ] {
        let output = openliveness(&[
            "simulate",
            "--world",
            "room",
            "--condition",
            condition,
            "--out",
            out,
        ]);
        assert!(!output.status.success(), "{condition}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{condition}: {stderr}");
    }
    // Conditions belong to the room.
    let output = openliveness(&["simulate", "--condition", "room_lux=20", "--out", out]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--world room"));
}

#[test]
fn eval_in_a_seed_set_reports_every_axis_by_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eval");
    succeeded(&openliveness(&[
        "eval",
        "--set",
        "evaluation",
        "--sessions",
        "1",
        "--species",
        "bona-fide,printed-photo",
        "--condition",
        "resolution=320x240",
        "--threads",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]));
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("## By condition (threshold 50)"),
        "{report}"
    );
    for axis in openliveness_sim::AXES {
        assert!(
            report.contains(&format!("### {axis}\n")),
            "{axis}: {report}"
        );
    }
    assert!(report.contains("| 320x240 | 1 |"), "{report}");
    let sessions = std::fs::read_to_string(out.join("sessions.jsonl")).unwrap();
    let lines: Vec<Value> = sessions
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    // The evaluation set's seeds, species by species.
    assert_eq!(lines[0]["seed"], 200_000_000);
    assert_eq!(lines[1]["seed"], 201_000_000);
    let axes = lines[0]["axes"].as_array().unwrap();
    assert_eq!(axes.len(), openliveness_sim::AXES.len());
    assert!(axes
        .iter()
        .any(|a| a["axis"] == "ranges" && a["value"] == "normal"));
}

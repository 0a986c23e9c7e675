//! `openliveness-streamgen`: how many liveness streams at real-time rate a server holds.
//!
//! Each simulated client creates a session (signed control-plane call), opens the WebSocket with
//! a presigned URL as Amplify does, waits for the challenge, then sends one signed VideoEvent of
//! `--chunk-bytes` (default 125,000: 1 Mbit/s) every second for `--seconds`, the empty VideoEvent,
//! and waits for DisconnectionEvent and the server's close. Streams start spread over the first
//! second. It reports completed and failed streams, how late chunks went out (a server that
//! cannot keep up pushes back through TCP), and the server's CPU time per stream (from
//! `/proc/<pid>/stat` when `--server-pid` is given). Loopback only; bounded in count and time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use clap::Parser;
use openliveness_client::{Client, Endpoint, Keys};

#[derive(Debug, Parser)]
struct Args {
    /// `http://127.0.0.1:PORT` (loopback only).
    #[arg(long)]
    endpoint: String,
    #[arg(long, default_value = "AKIDBENCH")]
    access_key_id: String,
    #[arg(long, default_value = "bench-secret")]
    secret_access_key: String,
    /// Concurrent streams (at most 2000).
    #[arg(long, default_value_t = 50)]
    streams: usize,
    /// Seconds of video per stream (at most 60).
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    /// Bytes of video per one-second chunk.
    #[arg(long, default_value_t = 125_000)]
    chunk_bytes: usize,
    /// The server's process id, to read its CPU time.
    #[arg(long)]
    server_pid: Option<u32>,
    #[arg(long)]
    label: Option<String>,
}

#[derive(Debug, Default)]
struct StreamReport {
    completed: bool,
    error: Option<String>,
    /// How late each chunk went out after its scheduled second, in milliseconds.
    lateness_ms: Vec<f64>,
    /// From the empty VideoEvent to DisconnectionEvent, in milliseconds.
    disconnect_ms: Option<f64>,
}

fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn own_cpu_seconds() -> f64 {
    cpu_seconds(std::process::id()).unwrap_or(0.0)
}

async fn one_stream(
    args: Arc<Args>,
    client: Arc<Client>,
    delay: Duration,
    video: Arc<String>,
) -> StreamReport {
    let mut report = StreamReport::default();
    if let Err(error) = stream_inner(&args, &client, delay, &video, &mut report).await {
        report.error = Some(error);
    }
    report
}

async fn stream_inner(
    args: &Args,
    client: &Client,
    delay: Duration,
    video: &str,
    report: &mut StreamReport,
) -> Result<(), String> {
    tokio::time::sleep(delay).await;
    let session = client
        .create_session()
        .await
        .map_err(|error| format!("create: {error}"))?;
    let mut stream = client
        .start(&session, (640, 480))
        .await
        .map_err(|error| format!("connect: {error}"))?;
    let (_, information) = stream
        .session_information()
        .await
        .map_err(|error| error.to_string())?;
    let challenge = &information["SessionInformation"]["Challenge"];
    let kind = if challenge.get("FaceMovementAndLightChallenge").is_some() {
        "FaceMovementAndLightChallenge"
    } else {
        "FaceMovementChallenge"
    };
    let first = serde_json::json!({"Challenge": {kind: {"ChallengeId": session,
        "InitialFace": {"InitialFaceDetectedTimestamp": 1_780_000_000_000i64,
            "BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.4, "Top": 0.3}}}}});
    stream
        .send_event("ClientSessionInformationEvent", &first)
        .await
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    for second in 0..args.seconds {
        let due = start + Duration::from_secs(u64::from(second));
        tokio::time::sleep_until(due.into()).await;
        let event = serde_json::json!({"VideoChunk": video, "TimestampMillis": 1_780_000_000_000i64 + i64::from(second) * 1000});
        stream
            .send_event("VideoEvent", &event)
            .await
            .map_err(|e| e.to_string())?;
        report
            .lateness_ms
            .push(due.elapsed().as_secs_f64() * 1000.0);
    }
    let end = serde_json::json!({"VideoChunk": "", "TimestampMillis": 1_780_000_000_000i64});
    stream
        .send_event("VideoEvent", &end)
        .await
        .map_err(|e| e.to_string())?;
    let ended = Instant::now();
    loop {
        match stream.next().await {
            Ok(event) if event.kind == "DisconnectionEvent" => {
                report.disconnect_ms = Some(ended.elapsed().as_secs_f64() * 1000.0)
            }
            Ok(event) => return Err(format!("unexpected message {}", event.kind)),
            Err(openliveness_client::Ended::Closed(code)) => {
                report.completed = report.disconnect_ms.is_some() && code == Some(1000);
                return Ok(());
            }
            Err(openliveness_client::Ended::Failed(error)) => return Err(error),
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    if args.streams == 0 || args.streams > 2000 || args.seconds == 0 || args.seconds > 60 {
        return Err("--streams must be 1..=2000 and --seconds 1..=60".to_owned());
    }
    let authority = args
        .endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let addr: SocketAddr = authority
        .parse()
        .map_err(|_| "--endpoint must be http://IP:PORT".to_owned())?;
    if !addr.ip().is_loopback() {
        return Err("only loopback endpoints".to_owned());
    }
    let client = Arc::new(Client::new(
        Endpoint::at(&addr.to_string()),
        Keys::new(&args.access_key_id, &args.secret_access_key),
    ));
    // Deterministic filler: what matters here is its size, not its content.
    let chunk: Vec<u8> = (0..args.chunk_bytes)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let video = Arc::new(base64::engine::general_purpose::STANDARD.encode(&chunk));
    let args = Arc::new(args);
    let server_before = args.server_pid.and_then(cpu_seconds);
    let client_before = own_cpu_seconds();
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.streams)
        .map(|i| {
            let delay = Duration::from_millis((i as u64 * 1000) / args.streams as u64);
            tokio::spawn(one_stream(
                Arc::clone(&args),
                Arc::clone(&client),
                delay,
                Arc::clone(&video),
            ))
        })
        .collect();
    let mut reports = Vec::with_capacity(tasks.len());
    for task in tasks {
        reports.push(task.await.map_err(|e| e.to_string())?);
    }
    let wall = started.elapsed().as_secs_f64();
    let server_cpu = match (server_before, args.server_pid.and_then(cpu_seconds)) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };
    let client_cpu = own_cpu_seconds() - client_before;
    let completed = reports.iter().filter(|r| r.completed).count();
    let mut lateness: Vec<f64> = reports
        .iter()
        .flat_map(|r| r.lateness_ms.iter().copied())
        .collect();
    lateness.sort_by(f64::total_cmp);
    let mut disconnect: Vec<f64> = reports.iter().filter_map(|r| r.disconnect_ms).collect();
    disconnect.sort_by(f64::total_cmp);
    let mut errors: Vec<&str> = reports.iter().filter_map(|r| r.error.as_deref()).collect();
    errors.sort_unstable();
    errors.dedup();
    let stream_seconds = args.streams as f64 * f64::from(args.seconds);
    let report = serde_json::json!({
        "label": args.label,
        "streams": args.streams,
        "seconds": args.seconds,
        "chunk_bytes": args.chunk_bytes,
        "completed": completed,
        "failed": args.streams - completed,
        "errors": errors.iter().take(5).collect::<Vec<_>>(),
        "wall_s": wall,
        "chunk_lateness_ms": {"p50": percentile(&lateness, 0.5), "p99": percentile(&lateness, 0.99), "max": percentile(&lateness, 1.0)},
        "end_to_disconnection_ms": {"p50": percentile(&disconnect, 0.5), "p99": percentile(&disconnect, 0.99)},
        "server_cpu_s": server_cpu,
        "server_cpu_per_stream_percent_of_a_core": server_cpu.map(|cpu| 100.0 * cpu / stream_seconds),
        "client_cpu_s": client_cpu,
    });
    println!("{report}");
    if completed == args.streams {
        Ok(())
    } else {
        Err(format!(
            "{} of {} streams failed",
            args.streams - completed,
            args.streams
        ))
    }
}

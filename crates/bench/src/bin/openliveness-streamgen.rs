//! `openliveness-streamgen`: how many liveness streams at real-time rate a server holds.
//!
//! Each simulated client creates a session (signed control-plane call), opens the WebSocket with
//! a presigned URL as Amplify does, waits for the challenge, then sends one signed VideoEvent of
//! `--chunk-bytes` (default 125,000: 1 Mbit/s) every second for `--seconds`, the empty VideoEvent,
//! and waits for DisconnectionEvent and the server's close. Streams start spread over the first
//! second. It reports completed and failed streams, how late chunks went out (a server that
//! cannot keep up pushes back through TCP), and the server's CPU time per stream (from
//! `/proc/<pid>/stat` when `--server-pid` is given). Loopback only; bounded in count and time.

#[path = "../client.rs"]
#[allow(dead_code)] // The load generator uses other parts of the client.
mod client;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use openliveness_auth::{ChainVerifier, SecretKey};
use openliveness_protocol::eventstream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

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

/// The presigned WebSocket URL and its signature, as the simulator's client (and Amplify) makes
/// them.
fn presign(authority: &str, session: &str, args: &Args) -> Result<(String, String), String> {
    let target = openliveness_sim::client::Target {
        endpoint: format!("http://{authority}"),
        access_key_id: args.access_key_id.clone(),
        secret_access_key: args.secret_access_key.clone(),
    };
    openliveness_sim::client::presign(&target, session, 640, 480)
}

async fn one_stream(
    args: Arc<Args>,
    addr: SocketAddr,
    signer: Arc<client::Signer>,
    delay: Duration,
    video: Arc<String>,
) -> StreamReport {
    let mut report = StreamReport::default();
    if let Err(error) = stream_inner(&args, addr, &signer, delay, &video, &mut report).await {
        report.error = Some(error);
    }
    report
}

async fn stream_inner(
    args: &Args,
    addr: SocketAddr,
    signer: &client::Signer,
    delay: Duration,
    video: &str,
    report: &mut StreamReport,
) -> Result<(), String> {
    tokio::time::sleep(delay).await;
    let mut connection = None;
    let request = signer.request(client::CREATE_TARGET, Bytes::from_static(b"{}"))?;
    let answer = client::exchange(&mut connection, addr, request).await?;
    if answer.status != 200 {
        return Err(format!("create: {} {:?}", answer.status, answer.error_type));
    }
    let created: serde_json::Value =
        serde_json::from_slice(&answer.body).map_err(|e| e.to_string())?;
    let session = created["SessionId"]
        .as_str()
        .ok_or("no SessionId")?
        .to_owned();
    let (url, seed) = presign(&addr.to_string(), &session, args)?;
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut chain = ChainVerifier::new(
        SecretKey::new(args.secret_access_key.clone()),
        client::REGION,
        client::SERVICE,
        &seed,
    );
    let mut challenge_kind = None;
    while challenge_kind.is_none() {
        match socket.next().await {
            Some(Ok(WsMessage::Binary(bytes))) => {
                let message = eventstream::decode_message(bytes).map_err(|e| e.to_string())?;
                if eventstream::string_header(&message, ":event-type")
                    == Some("ServerSessionInformationEvent")
                {
                    let body: serde_json::Value =
                        serde_json::from_slice(message.payload()).map_err(|e| e.to_string())?;
                    let challenge = &body["SessionInformation"]["Challenge"];
                    challenge_kind = Some(
                        if challenge.get("FaceMovementAndLightChallenge").is_some() {
                            "FaceMovementAndLightChallenge"
                        } else {
                            "FaceMovementChallenge"
                        },
                    );
                }
            }
            other => return Err(format!("before the challenge: {other:?}")),
        }
    }
    let kind = challenge_kind.unwrap_or("FaceMovementAndLightChallenge");
    let first = serde_json::json!({"Challenge": {kind: {"ChallengeId": session,
        "InitialFace": {"InitialFaceDetectedTimestamp": 1_780_000_000_000i64,
            "BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.4, "Top": 0.3}}}}});
    let bytes =
        openliveness_sim::client::envelope(&mut chain, "ClientSessionInformationEvent", &first)?;
    socket
        .send(WsMessage::Binary(bytes.into()))
        .await
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    for second in 0..args.seconds {
        let due = start + Duration::from_secs(u64::from(second));
        tokio::time::sleep_until(due.into()).await;
        let event = serde_json::json!({"VideoChunk": video, "TimestampMillis": 1_780_000_000_000i64 + i64::from(second) * 1000});
        let bytes = openliveness_sim::client::envelope(&mut chain, "VideoEvent", &event)?;
        socket
            .send(WsMessage::Binary(bytes.into()))
            .await
            .map_err(|e| e.to_string())?;
        report
            .lateness_ms
            .push(due.elapsed().as_secs_f64() * 1000.0);
    }
    let end = openliveness_sim::client::envelope(
        &mut chain,
        "VideoEvent",
        &serde_json::json!({"VideoChunk": "", "TimestampMillis": 1_780_000_000_000i64}),
    )?;
    socket
        .send(WsMessage::Binary(end.into()))
        .await
        .map_err(|e| e.to_string())?;
    let ended = Instant::now();
    loop {
        match socket.next().await {
            Some(Ok(WsMessage::Binary(bytes))) => {
                let message = eventstream::decode_message(bytes).map_err(|e| e.to_string())?;
                match eventstream::string_header(&message, ":event-type") {
                    Some("DisconnectionEvent") => {
                        report.disconnect_ms = Some(ended.elapsed().as_secs_f64() * 1000.0)
                    }
                    _ => {
                        return Err(format!(
                            "unexpected message {:?}",
                            eventstream::string_header(&message, ":exception-type")
                        ))
                    }
                }
            }
            Some(Ok(WsMessage::Close(frame))) => {
                report.completed = report.disconnect_ms.is_some()
                    && frame.is_some_and(|f| u16::from(f.code) == 1000);
                return Ok(());
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.to_string()),
            None => return Err("closed without a close frame".to_owned()),
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
    let signer = Arc::new(client::Signer::new(
        &args.access_key_id,
        &args.secret_access_key,
        addr,
        u64::from(std::process::id()),
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
                addr,
                Arc::clone(&signer),
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

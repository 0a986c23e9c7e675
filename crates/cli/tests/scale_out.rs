//! Scale-out: two real `openliveness` servers on one real `redis-server`, driven with the
//! official Rust SDK (control plane) and the JavaScript SDK (streams). Any server answers Create
//! and Get for any session, each stream is served by the server it connects to, exactly one of
//! two servers that start one session at once gets it, and Redis going away and coming back
//! costs fast 5xx errors while it is down and nothing it had acknowledged.
//!
//! Needs `redis-server` (`scripts/setup.sh --tests`) and the JavaScript clients
//! (`scripts/setup-node.sh`); `scripts/test.sh` runs both first.

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_rekognition::error::ProvideErrorMetadata;
use aws_sdk_rekognition::types::LivenessSessionStatus;
use std::path::PathBuf;
use std::process::{Child, Stdio};

use common::node::{last_event_type, node_command, report, test_video_file};
use common::redis_server::{Persistence, RedisServer};
use common::sdk_calls::{create_session, results};
use common::{sdk_client, Options, Server, TENANT_A};
use tokio::sync::mpsc;

/// A server whose sessions are in `redis`.
fn start_on(redis: &RedisServer) -> Server {
    Server::start(Options {
        extra_top_level: format!(
            "[store]\nkind = \"redis\"\nredis_url = \"{}\"\n",
            redis.url()
        ),
        ..Options::default()
    })
}

/// The status code of `GET path`.
fn http_get_status(server: &Server, path: &str) -> u16 {
    let mut stream = TcpStream::connect(server.authority()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.authority()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"))
}

/// Two servers on one Redis, and the test video to stream to them.
struct TwoServers {
    a: Server,
    b: Server,
    video: PathBuf,
    _dir: tempfile::TempDir,
    redis: RedisServer,
}

impl TwoServers {
    fn start(persistence: Persistence) -> TwoServers {
        let redis = RedisServer::start(persistence);
        let dir = tempfile::tempdir().unwrap();
        TwoServers {
            a: start_on(&redis),
            b: start_on(&redis),
            redis,
            video: test_video_file(dir.path()),
            _dir: dir,
        }
    }
}

async fn status_of(server: &Server, session_id: &str) -> LivenessSessionStatus {
    results(&sdk_client(server, TENANT_A), session_id)
        .await
        .status
}

/// Starts streaming `session_id` to `server` with the JavaScript SDK over HTTP/1.1.
fn spawn_stream(server: &Server, session_id: &str, video: &Path) -> Child {
    node_command(
        "start-session.mjs",
        server,
        &server.plain_url,
        session_id,
        video,
        &["--transport", "http1"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap()
}

/// The report of a stream [`spawn_stream`] started, once it ended (blocking).
fn report_of(stream: Child) -> serde_json::Value {
    report("start-session.mjs", &stream.wait_with_output().unwrap())
}

/// Streams `session_id` to `server` (blocking): its report.
fn stream(server: &Server, session_id: &str, video: &Path) -> serde_json::Value {
    report_of(spawn_stream(server, session_id, video))
}

#[tokio::test]
async fn a_session_created_on_a_streams_on_b_and_its_result_reads_on_a() {
    let servers = TwoServers::start(Persistence::None);
    let TwoServers { a, b, video, .. } = &servers;
    let session_id = create_session(&sdk_client(a, TENANT_A)).await;
    assert_eq!(
        status_of(b, &session_id).await,
        LivenessSessionStatus::Created
    );

    let report = stream(b, &session_id, video);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(
        last_event_type(&report).as_deref(),
        Some("DisconnectionEvent"),
        "{report}"
    );

    // A reads the outcome B stored (a test pattern without a face: analysed, confidence low).
    let results = results(&sdk_client(a, TENANT_A), &session_id).await;
    assert_eq!(results.status, LivenessSessionStatus::Succeeded);
    assert!(results.confidence.unwrap() < 10.0, "{results:?}");
    assert_eq!(status_of(b, &session_id).await, results.status);

    // The evidence stays with the server that streamed.
    let evidence = |server: &Server| server.data_dir.join("evidence").join(&session_id);
    assert!(evidence(b).join("video.bin").exists());
    assert!(!evidence(a).exists());

    // A second start, on either server, is refused.
    let again = stream(a, &session_id, video);
    assert_eq!(again["ok"], false, "{again}");
    assert!(again.to_string().contains("ValidationException"), "{again}");
}

#[tokio::test]
async fn of_two_servers_starting_one_session_at_once_exactly_one_gets_it() {
    let servers = TwoServers::start(Persistence::None);
    let TwoServers { a, b, video, .. } = &servers;
    let client = sdk_client(a, TENANT_A);

    for _ in 0..3 {
        let session_id = create_session(&client).await;
        // Both clients are started before either is waited for.
        let on_a = spawn_stream(a, &session_id, video);
        let on_b = spawn_stream(b, &session_id, video);
        let reports = [on_a, on_b].map(report_of);
        let winners: Vec<_> = reports
            .iter()
            .filter(|report| report["ok"] == true)
            .collect();
        assert_eq!(winners.len(), 1, "{reports:?}");
        assert_eq!(
            last_event_type(winners[0]).as_deref(),
            Some("DisconnectionEvent")
        );
        let loser = reports.iter().find(|report| report["ok"] != true).unwrap();
        assert!(loser.to_string().contains("ValidationException"), "{loser}");
        // The winner's stream was analysed.
        assert_eq!(
            status_of(a, &session_id).await,
            LivenessSessionStatus::Succeeded
        );
    }
}

#[tokio::test]
async fn a_server_starts_while_redis_is_down_and_serves_once_it_is_up() {
    let mut redis = RedisServer::start(Persistence::None);
    redis.kill();
    let server = start_on(&redis);
    assert_eq!(http_get_status(&server, "/readyz"), 503);
    let client = sdk_client(&server, TENANT_A);
    let error = client
        .create_face_liveness_session()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("InternalServerError"), "{error:?}");
    assert_eq!(
        error.raw_response().map(|raw| raw.status().as_u16()),
        Some(500)
    );

    redis.restart();
    // The next calls reconnect by themselves.
    assert!(
        (0..20).any(|_| http_get_status(&server, "/readyz") == 200),
        "the server did not reconnect"
    );
    let id = create_session(&client).await;
    assert_eq!(
        status_of(&server, &id).await,
        LivenessSessionStatus::Created
    );
}

/// What one request of the load loop saw.
#[derive(Debug)]
enum Outcome {
    Created(String),
    Read,
    /// The error code and HTTP status of a refused request, and how long it took.
    Failed(Option<String>, Option<u16>, Duration),
}

/// Creates and reads sessions on `server` until `stop`, reporting every outcome.
async fn load(
    client: aws_sdk_rekognition::Client,
    outcomes: mpsc::UnboundedSender<Outcome>,
    stop: Arc<AtomicBool>,
) {
    let failed = |started: Instant, code: Option<&str>, status: Option<u16>| {
        Outcome::Failed(code.map(str::to_owned), status, started.elapsed())
    };
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let outcome = match client.create_face_liveness_session().send().await {
            Ok(created) => Outcome::Created(created.session_id),
            Err(error) => failed(
                started,
                error.code(),
                error.raw_response().map(|raw| raw.status().as_u16()),
            ),
        };
        let id = match &outcome {
            Outcome::Created(id) => Some(id.clone()),
            _ => None,
        };
        if outcomes.send(outcome).is_err() {
            return;
        }
        let Some(id) = id else { continue };
        let started = Instant::now();
        let outcome = match client
            .get_face_liveness_session_results()
            .session_id(&id)
            .send()
            .await
        {
            Ok(_) => Outcome::Read,
            Err(error) => failed(
                started,
                error.code(),
                error.raw_response().map(|raw| raw.status().as_u16()),
            ),
        };
        if outcomes.send(outcome).is_err() {
            return;
        }
    }
}

/// Takes outcomes until `done` says so (or the deadline passes); returns the ids created.
async fn until(
    outcomes: &mut mpsc::UnboundedReceiver<Outcome>,
    created: &mut Vec<String>,
    mut done: impl FnMut(&Outcome) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let outcome = tokio::time::timeout_at(deadline, outcomes.recv())
            .await
            .expect("the load did not get there in time")
            .expect("the load stopped");
        if let Outcome::Created(id) = &outcome {
            created.push(id.clone());
        }
        if done(&outcome) {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_under_load_fails_fast_then_recovers_without_losing_anything() {
    let TwoServers {
        mut redis,
        a,
        b,
        video,
        _dir,
    } = TwoServers::start(Persistence::AppendOnlyAlways);
    let client = sdk_client(&a, TENANT_A);
    assert_eq!(http_get_status(&a, "/readyz"), 200);

    // A completed result, and a session still to be streamed, before the fault.
    let completed = create_session(&client).await;
    let streamed = stream(&b, &completed, &video);
    assert_eq!(streamed["ok"], true, "{streamed}");
    let pending = create_session(&client).await;

    let (outcomes_tx, mut outcomes) = mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|_| tokio::spawn(load(client.clone(), outcomes_tx.clone(), Arc::clone(&stop))))
        .collect();
    drop(outcomes_tx);
    let mut created = Vec::new();

    // Up: everything succeeds.
    let mut successes = 0;
    until(&mut outcomes, &mut created, |outcome| {
        assert!(!matches!(outcome, Outcome::Failed(..)), "{outcome:?}");
        successes += 1;
        successes >= 100
    })
    .await;

    // Down: fast InternalServerError (500) for every request; not ready; streams refused.
    redis.kill();
    let mut failures = 0;
    until(&mut outcomes, &mut created, |outcome| {
        if let Outcome::Failed(code, status, took) = outcome {
            assert_eq!(code.as_deref(), Some("InternalServerError"), "{outcome:?}");
            assert_eq!(*status, Some(500), "{outcome:?}");
            assert!(*took < Duration::from_secs(3), "{outcome:?}");
            failures += 1;
        }
        failures >= 40
    })
    .await;
    assert_eq!(http_get_status(&a, "/readyz"), 503);
    assert_eq!(http_get_status(&b, "/readyz"), 503);
    let refused = {
        let stream = spawn_stream(&b, &pending, &video);
        tokio::task::spawn_blocking(move || report_of(stream))
            .await
            .unwrap()
    };
    assert_eq!(refused["ok"], false, "{refused}");
    assert!(
        refused.to_string().contains("InternalServerException"),
        "{refused}"
    );

    // Back: Redis loads its append-only file; the servers reconnect by themselves and the load
    // runs clean again (100 requests in a row without an error).
    redis = tokio::task::spawn_blocking(move || {
        redis.restart();
        redis
    })
    .await
    .unwrap();
    let mut in_a_row = 0;
    until(&mut outcomes, &mut created, |outcome| {
        in_a_row = match outcome {
            Outcome::Failed(..) => 0,
            _ => in_a_row + 1,
        };
        in_a_row >= 100
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    while outcomes.recv().await.is_some() {}
    for worker in workers {
        worker.await.unwrap();
    }
    assert_eq!(http_get_status(&a, "/readyz"), 200);
    assert_eq!(http_get_status(&b, "/readyz"), 200);

    // Nothing that was acknowledged is lost: every created session reads on both servers, the
    // completed result too, and the session that could not start while Redis was down can.
    let created_count = created.len();
    for id in created {
        assert_eq!(status_of(&a, &id).await, LivenessSessionStatus::Created);
        assert_eq!(status_of(&b, &id).await, LivenessSessionStatus::Created);
    }
    assert_eq!(
        status_of(&a, &completed).await,
        LivenessSessionStatus::Succeeded
    );
    let streamed = stream(&a, &pending, &video);
    assert_eq!(streamed["ok"], true, "{streamed}");
    assert_eq!(
        status_of(&b, &pending).await,
        LivenessSessionStatus::Succeeded
    );
    println!("{created_count} sessions created under load, all readable after the restart");
    drop(redis);
}

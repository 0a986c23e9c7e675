//! `openliveness-loadgen`: drives an openliveness server on loopback with fully SigV4-signed
//! `CreateFaceLivenessSession` / `GetFaceLivenessSessionResults` calls and reports throughput,
//! latency percentiles and outcomes.
//!
//! Each worker owns one keep-alive HTTP/1.1 connection and sends one request at a time on it.
//! Without `--rate` the workers send back to back (closed loop: maximum throughput at that
//! concurrency). With `--rate` every request has an intended send time on a fixed schedule
//! (`start + i / rate`) and its latency is measured from that time, so a slow answer that delays
//! the next sends is charged to those sends too (no coordinated omission).
//!
//! It refuses any endpoint that is not loopback, runs at most 120 s (plus warm-up and a bounded
//! drain) and exits by itself.

mod stats;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use openliveness_client::{Client, Connection, Endpoint, Keys};
use serde_json::{json, Value};

use crate::stats::{cpu_seconds, round3, thread_cpu_ns, OpStats, Summary};

#[derive(Debug, Parser)]
#[command(
    name = "openliveness-loadgen",
    version,
    about = "Load generator for the openliveness control plane (loopback only)"
)]
struct Args {
    /// The server, `http://127.0.0.1:PORT` (loopback addresses and `localhost` only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    endpoint: String,

    /// The access key id to sign with.
    #[arg(
        long,
        env = "OPENLIVENESS_BENCH_ACCESS_KEY_ID",
        default_value = "AKIDBENCH"
    )]
    access_key_id: String,

    /// The secret access key to sign with.
    #[arg(
        long,
        env = "OPENLIVENESS_BENCH_SECRET_ACCESS_KEY",
        hide_env_values = true,
        default_value = "bench-secret"
    )]
    secret_access_key: String,

    /// What to send: `create`, `get` (round-robin over a pool of sessions created first), or
    /// `mixed` (one Create for every four Gets).
    #[arg(long, value_enum, default_value_t = Operation::Create)]
    operation: Operation,

    /// Length of the measured window, in seconds (1 to 120).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    duration_secs: u64,

    /// Load sent before the measured window and not counted, in seconds (0 to 60).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=60))]
    warmup_secs: u64,

    /// Open connections, one worker each (1 to 4096).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    concurrency: u64,

    /// Fixed arrival rate in requests per second (open loop). Without it: closed loop, as fast
    /// as the workers can go.
    #[arg(long, value_parser = parse_rate)]
    rate: Option<f64>,

    /// Sessions created before a `get` or `mixed` run, then read round-robin (1 to 100000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pool_size: u64,

    /// Give every Create a unique `ClientRequestToken` (an extra index write per session).
    #[arg(long)]
    client_request_token: bool,

    /// Per-request timeout in seconds; a timed-out request counts as an error (1 to 60).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=60))]
    timeout_secs: u64,

    /// Tokio worker threads of the load generator. Default: one per CPU.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
    threads: Option<u64>,

    /// The server's process id, to report the CPU time it used in the measured window.
    #[arg(long)]
    server_pid: Option<u32>,

    /// A name for this run, shown in the report and its `SUMMARY` line.
    #[arg(long)]
    label: Option<String>,

    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,

    /// Also write the JSON report to this file.
    #[arg(long, value_name = "FILE")]
    json_out: Option<PathBuf>,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text.parse().map_err(|_| format!("not a number: {text}"))?;
    if rate.is_finite() && rate > 0.0 && rate <= 1_000_000.0 {
        Ok(rate)
    } else {
        Err("the rate must be above 0 and at most 1000000 requests/s".to_owned())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Operation {
    Create,
    Get,
    Mixed,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Get => "get",
            Operation::Mixed => "mixed",
        }
    }
}

/// The two calls, as indexes into per-operation statistics.
#[derive(Debug, Clone, Copy)]
enum Call {
    Create = 0,
    Get = 1,
}

const CALL_NAMES: [&str; 2] = ["create", "get"];

/// The times of a run.
#[derive(Debug, Clone, Copy)]
struct Plan {
    start: Instant,
    /// Requests intended (open loop) or started (closed loop) from here on are measured.
    measure_start: Instant,
    /// No request is intended or started at or after this.
    end: Instant,
    /// Open loop: requests whose send time has come but that no worker could take by then
    /// are abandoned (and counted as unsent).
    give_up: Instant,
    rate: Option<f64>,
}

struct Shared {
    client: Client,
    plan: Plan,
    operation: Operation,
    /// Closed loop: the next ticket (picks the pool entry and, in `mixed`, the call).
    next: AtomicU64,
    /// Open loop: tickets handed out by the pacer at their intended send time.
    tickets: Tickets,
    /// `{"SessionId":"…"}` bodies of the pool.
    pool: Vec<Bytes>,
    create_body: Bytes,
    client_request_token: bool,
    /// Unique per process, for request tokens.
    run: u64,
    timeout: Duration,
    /// Requests sent per call, warm-up included (pool not included).
    sent_total: [AtomicU64; 2],
}

impl Shared {
    fn call_for(&self, ticket: u64) -> Call {
        match self.operation {
            Operation::Create => Call::Create,
            Operation::Get => Call::Get,
            Operation::Mixed if ticket.is_multiple_of(5) => Call::Create,
            Operation::Mixed => Call::Get,
        }
    }

    fn request(
        &self,
        call: Call,
        ticket: u64,
    ) -> Result<http::Request<http_body_util::Full<Bytes>>, String> {
        let request = match call {
            Call::Create => self.client.request(
                "CreateFaceLivenessSession",
                self.create_request_body(ticket),
            ),
            Call::Get => {
                let body = self.pool[(ticket % self.pool.len() as u64) as usize].clone();
                self.client.request("GetFaceLivenessSessionResults", body)
            }
        };
        request.map_err(|error| error.to_string())
    }

    /// Sends `request` on `connection` and reads the whole answer.
    async fn exchange(
        &self,
        connection: &mut Option<Connection>,
        request: http::Request<http_body_util::Full<Bytes>>,
    ) -> Result<openliveness_client::Answer, String> {
        let authority = self.client.endpoint().authority();
        openliveness_client::exchange(connection, authority, request)
            .await
            .map_err(|error| error.to_string())
    }

    fn create_request_body(&self, ticket: u64) -> Bytes {
        if self.client_request_token {
            Bytes::from(format!(
                r#"{{"ClientRequestToken":"bench-{:016x}-{ticket}","Settings":{{"AuditImagesLimit":2}}}}"#,
                self.run
            ))
        } else {
            self.create_body.clone()
        }
    }
}

enum Tickets {
    Closed,
    /// Workers take turns waiting on the queue; a ticket is taken by the first free worker.
    Open(tokio::sync::Mutex<tokio::sync::mpsc::Receiver<u64>>),
}

/// Open loop: hands out ticket `i` at `start + i / rate` from its own thread (`nanosleep`,
/// finer than tokio's 1 ms timer, which would add up to 1 ms of client-side lag to every
/// request). When no worker is free, tickets wait in the queue and their latency keeps counting
/// from their intended time.
fn pace(plan: Plan, rate: f64, queue: tokio::sync::mpsc::Sender<u64>) {
    let mut ticket = 0u64;
    loop {
        let intended = plan.start + Duration::from_secs_f64(ticket as f64 / rate);
        if intended >= plan.end {
            return;
        }
        let now = Instant::now();
        if now >= plan.give_up {
            return;
        }
        if intended > now {
            std::thread::sleep(intended - now);
        }
        if queue.blocking_send(ticket).is_err() {
            return;
        }
        ticket += 1;
    }
}

#[derive(Default)]
struct WorkerStats {
    calls: [OpStats; 2],
    /// Signing time of measured requests.
    sign_ns: u64,
}

async fn worker(shared: Arc<Shared>) -> WorkerStats {
    let mut stats = WorkerStats::default();
    let mut connection: Option<Connection> = None;
    let plan = shared.plan;
    loop {
        let (ticket, intended) = match (&shared.tickets, plan.rate) {
            (Tickets::Open(queue), Some(rate)) => {
                let ticket = queue.lock().await.recv().await;
                let Some(ticket) = ticket else { break };
                if Instant::now() >= plan.give_up {
                    // Hopelessly behind the schedule: the rest counts as never sent.
                    continue;
                }
                (
                    ticket,
                    plan.start + Duration::from_secs_f64(ticket as f64 / rate),
                )
            }
            _ => {
                let now = Instant::now();
                if now >= plan.end {
                    break;
                }
                (shared.next.fetch_add(1, Ordering::Relaxed), now)
            }
        };
        let measured = intended >= plan.measure_start;
        let call = shared.call_for(ticket);
        let signing = Instant::now();
        let request = shared.request(call, ticket);
        let sent = Instant::now();
        shared.sent_total[call as usize].fetch_add(1, Ordering::Relaxed);
        let outcome = match request {
            Err(error) => Err(error),
            Ok(request) => {
                match tokio::time::timeout(
                    shared.timeout,
                    shared.exchange(&mut connection, request),
                )
                .await
                {
                    Ok(result) => result,
                    Err(_) => {
                        connection = None;
                        Err("timeout".to_owned())
                    }
                }
            }
        };
        let done = Instant::now();
        if !measured {
            continue;
        }
        let call_stats = &mut stats.calls[call as usize];
        let label = match outcome {
            Ok(answer) if (200..300).contains(&answer.status) => {
                call_stats.ok += 1;
                answer.status.to_string()
            }
            Ok(answer) => match answer.error_type {
                Some(error_type) => format!("{} {error_type}", answer.status),
                None => answer.status.to_string(),
            },
            Err(error) => format!("error: {error}"),
        };
        *call_stats.outcomes.entry(label).or_default() += 1;
        call_stats.latency_ns.push(nanos(done - intended));
        call_stats.service_ns.push(nanos(done - sent));
        stats.sign_ns += nanos(sent - signing);
    }
    stats
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Creates `size` sessions with `concurrency` connections; their Get bodies.
async fn create_pool(
    shared: Arc<Shared>,
    size: u64,
    concurrency: u64,
) -> Result<Vec<Bytes>, String> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.min(size) {
        let shared = Arc::clone(&shared);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            let mut connection = None;
            let mut bodies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < size {
                let request = shared.request(Call::Create, 0)?;
                let answer =
                    tokio::time::timeout(shared.timeout, shared.exchange(&mut connection, request))
                        .await
                        .map_err(|_| "timeout creating the session pool".to_owned())??;
                if answer.status != 200 {
                    return Err(format!(
                        "creating the session pool: HTTP {} {}: {}",
                        answer.status,
                        answer.error_type.unwrap_or_default(),
                        String::from_utf8_lossy(&answer.body)
                    ));
                }
                let parsed: Value = serde_json::from_slice(&answer.body)
                    .map_err(|error| format!("creating the session pool: bad JSON: {error}"))?;
                let id = parsed
                    .get("SessionId")
                    .and_then(Value::as_str)
                    .ok_or("creating the session pool: no SessionId in the answer")?;
                bodies.push(Bytes::from(json!({ "SessionId": id }).to_string()));
            }
            Ok::<_, String>(bodies)
        }));
    }
    let mut pool = Vec::new();
    for task in tasks {
        pool.extend(
            task.await
                .map_err(|error| format!("pool task failed: {error}"))??,
        );
    }
    Ok(pool)
}

/// The loopback address of `endpoint`.
fn loopback_address(endpoint: &str) -> Result<SocketAddr, String> {
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|error| format!("bad --endpoint {endpoint}: {error}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("--endpoint must be http://…, got {endpoint}"));
    }
    if uri
        .path_and_query()
        .is_some_and(|path| path.as_str() != "/")
    {
        return Err(format!("--endpoint must have no path, got {endpoint}"));
    }
    let host = uri
        .host()
        .ok_or_else(|| format!("--endpoint has no host: {endpoint}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse().map_err(|_| {
            format!("--endpoint host must be a loopback IP address or localhost, got {host}")
        })?
    };
    if !ip.is_loopback() {
        return Err(format!("refusing a non-loopback endpoint: {ip}"));
    }
    Ok(SocketAddr::new(ip, uri.port_u16().unwrap_or(80)))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads as usize);
    }
    let runtime = match runtime.build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("openliveness-loadgen: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("openliveness-loadgen: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let addr = loopback_address(&args.endpoint)?;
    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
        ^ (u64::from(std::process::id()) << 48);
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u64));
    let timeout = Duration::from_secs(args.timeout_secs);
    let build = |pool: Vec<Bytes>| Shared {
        client: Client::new(
            Endpoint::at(&addr.to_string()),
            Keys::new(&args.access_key_id, &args.secret_access_key),
        ),
        plan: plan(&args, timeout),
        operation: args.operation,
        next: AtomicU64::new(0),
        tickets: Tickets::Closed,
        pool,
        create_body: Bytes::from_static(br#"{"Settings":{"AuditImagesLimit":2}}"#),
        client_request_token: args.client_request_token,
        run,
        timeout,
        sent_total: [AtomicU64::new(0), AtomicU64::new(0)],
    };
    let sign_cpu_us = calibrate_signing(&build(Vec::new()));
    let pool = if args.operation == Operation::Create {
        Vec::new()
    } else {
        let started = Instant::now();
        let pool = create_pool(
            Arc::new(build(Vec::new())),
            args.pool_size,
            args.concurrency,
        )
        .await?;
        eprintln!(
            "openliveness-loadgen: created a pool of {} sessions in {:.2} s",
            pool.len(),
            started.elapsed().as_secs_f64()
        );
        pool
    };
    // The schedule starts now, after the pool.
    let mut shared = build(pool);
    let plan = shared.plan;
    let mut pacer = None;
    if let Some(rate) = plan.rate {
        let (sender, receiver) = tokio::sync::mpsc::channel(65_536);
        shared.tickets = Tickets::Open(tokio::sync::Mutex::new(receiver));
        pacer = Some(
            std::thread::Builder::new()
                .name("pacer".to_owned())
                .spawn(move || pace(plan, rate, sender))
                .map_err(|error| format!("cannot start the pacer: {error}"))?,
        );
    }
    let shared = Arc::new(shared);

    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        workers.push(tokio::spawn(worker(Arc::clone(&shared))));
    }
    tokio::time::sleep_until(plan.measure_start.into()).await;
    let client_cpu_start = cpu_seconds(None);
    let server_cpu_start = args.server_pid.and_then(|pid| cpu_seconds(Some(pid)));
    tokio::time::sleep_until(plan.end.into()).await;
    let client_cpu_end = cpu_seconds(None);
    let server_cpu_end = args.server_pid.and_then(|pid| cpu_seconds(Some(pid)));
    let window = plan
        .end
        .saturating_duration_since(plan.measure_start)
        .as_secs_f64();

    let mut calls = [OpStats::default(), OpStats::default()];
    let mut sign_ns = 0u64;
    for handle in workers {
        let stats = handle
            .await
            .map_err(|error| format!("worker failed: {error}"))?;
        for (total, part) in calls.iter_mut().zip(stats.calls) {
            total.merge(part);
        }
        sign_ns += stats.sign_ns;
    }
    if let Some(pacer) = pacer {
        pacer.join().map_err(|_| "the pacer failed".to_owned())?;
    }
    let drained = Instant::now()
        .saturating_duration_since(plan.end)
        .as_secs_f64();
    // Open loop: measured requests on the schedule that were never sent (the workers were all
    // busy until long after their time).
    let sent: u64 = calls.iter().map(OpStats::requests).sum();
    let unsent = plan.rate.map_or(0, |rate| {
        let ticket_at = |at: Instant| ((at - plan.start).as_secs_f64() * rate).ceil() as u64;
        (ticket_at(plan.end) - ticket_at(plan.measure_start)).saturating_sub(sent)
    });

    let report = Report {
        args: &args,
        threads,
        window,
        drained,
        calls,
        sign_ns,
        unsent,
        client_cpu: client_cpu_start.zip(client_cpu_end).map(|(a, b)| b - a),
        server_cpu: server_cpu_start.zip(server_cpu_end).map(|(a, b)| b - a),
        pool_size: shared.pool.len(),
        sign_cpu_us,
        sent_total: [
            shared.sent_total[0].load(Ordering::Relaxed),
            shared.sent_total[1].load(Ordering::Relaxed),
        ],
    };
    let json = report.to_json();
    if let Some(path) = &args.json_out {
        let text = serde_json::to_string_pretty(&json).map_err(|error| error.to_string())?;
        std::fs::write(path, text + "\n")
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json).map_err(|error| error.to_string())?
        );
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

/// CPU microseconds to build and sign one Create request, measured on this thread over a few
/// thousand signatures before the run (`None` without `/proc/thread-self/schedstat`).
fn calibrate_signing(shared: &Shared) -> Option<f64> {
    const SIGNATURES: u32 = 5000;
    let before = thread_cpu_ns()?;
    for ticket in 0..SIGNATURES {
        std::hint::black_box(shared.request(Call::Create, u64::from(ticket)).ok()?);
    }
    let after = thread_cpu_ns()?;
    Some(after.saturating_sub(before) as f64 / 1e3 / f64::from(SIGNATURES))
}

/// The schedule of a run that starts now.
fn plan(args: &Args, timeout: Duration) -> Plan {
    let start = Instant::now();
    let measure_start = start + Duration::from_secs(args.warmup_secs);
    let end = measure_start + Duration::from_secs(args.duration_secs);
    Plan {
        start,
        measure_start,
        end,
        give_up: end + timeout,
        rate: args.rate,
    }
}

struct Report<'a> {
    args: &'a Args,
    threads: u64,
    /// Seconds of the measured window.
    window: f64,
    /// Seconds from the end of the window until the last answer.
    drained: f64,
    calls: [OpStats; 2],
    sign_ns: u64,
    unsent: u64,
    client_cpu: Option<f64>,
    server_cpu: Option<f64>,
    pool_size: usize,
    /// Calibrated CPU cost of signing one request.
    sign_cpu_us: Option<f64>,
    /// Requests sent per call over the whole run, warm-up included, pool not included.
    sent_total: [u64; 2],
}

struct CallReport {
    name: &'static str,
    requests: u64,
    ok: u64,
    latency: Summary,
    service: Summary,
    outcomes: Vec<(String, u64)>,
}

impl Report<'_> {
    fn requests(&self) -> u64 {
        self.calls.iter().map(OpStats::requests).sum()
    }

    fn ok(&self) -> u64 {
        self.calls.iter().map(|call| call.ok).sum()
    }

    fn mode(&self) -> String {
        match self.args.rate {
            Some(rate) => format!("open loop at {rate} req/s"),
            None => "closed loop (max throughput)".to_owned(),
        }
    }

    /// Per call (those that were sent), then all together.
    fn call_reports(&self) -> Vec<CallReport> {
        let mut reports = Vec::new();
        let mut all_latency = Vec::new();
        let mut all_service = Vec::new();
        for (name, call) in CALL_NAMES.iter().zip(&self.calls) {
            if call.requests() == 0 {
                continue;
            }
            all_latency.extend_from_slice(&call.latency_ns);
            all_service.extend_from_slice(&call.service_ns);
            reports.push(CallReport {
                name,
                requests: call.requests(),
                ok: call.ok,
                latency: Summary::of(&mut call.latency_ns.clone()),
                service: Summary::of(&mut call.service_ns.clone()),
                outcomes: call.outcomes.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            });
        }
        if reports.len() > 1 {
            reports.push(CallReport {
                name: "all",
                requests: self.requests(),
                ok: self.ok(),
                latency: Summary::of(&mut all_latency),
                service: Summary::of(&mut all_service),
                outcomes: Vec::new(),
            });
        }
        reports
    }

    /// Calibrated signing CPU per request over client CPU per request.
    fn sign_share(&self) -> Option<f64> {
        let cpu = self.client_cpu.filter(|cpu| *cpu > 0.0)?;
        let per_request_us = cpu * 1e6 / self.requests().max(1) as f64;
        Some(round3(self.sign_cpu_us? / per_request_us))
    }

    fn sign_us_per_request(&self) -> f64 {
        self.sign_ns as f64 / 1e3 / self.requests().max(1) as f64
    }

    fn to_json(&self) -> Value {
        let mut operations = serde_json::Map::new();
        for call in self.call_reports() {
            operations.insert(
                call.name.to_owned(),
                json!({
                    "requests": call.requests,
                    "ok": call.ok,
                    "errors": call.requests - call.ok,
                    "throughput_rps": round3(call.requests as f64 / self.window),
                    "latency_ms": call.latency.to_json(),
                    "service_time_ms": call.service.to_json(),
                    "outcomes": call.outcomes.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<String, Value>>(),
                }),
            );
        }
        let requests = self.requests();
        let per_request = |cpu: f64| round3(cpu * 1e6 / requests.max(1) as f64);
        json!({
            "label": self.args.label,
            "endpoint": self.args.endpoint,
            "operation": self.args.operation.name(),
            "mode": if self.args.rate.is_some() { "open-loop" } else { "closed-loop" },
            "target_rate_rps": self.args.rate,
            "concurrency": self.args.concurrency,
            "client_threads": self.threads,
            "duration_secs": self.args.duration_secs,
            "warmup_secs": self.args.warmup_secs,
            "pool_size": self.pool_size,
            "client_request_token": self.args.client_request_token,
            "requests": requests,
            "ok": self.ok(),
            "errors": requests - self.ok(),
            "unsent": self.unsent,
            "throughput_rps": round3(requests as f64 / self.window),
            "ok_throughput_rps": round3(self.ok() as f64 / self.window),
            "drain_secs": round3(self.drained),
            "sent_total_with_warmup": { "create": self.sent_total[0], "get": self.sent_total[1] },
            "operations": operations,
            "client": {
                "cpu_secs": self.client_cpu.map(round3),
                "cores_used": self.client_cpu.map(|cpu| round3(cpu / self.window)),
                "cpu_us_per_request": self.client_cpu.map(per_request),
                "sign_wall_us_per_request": round3(self.sign_us_per_request()),
                "sign_cpu_us_per_request": self.sign_cpu_us.map(round3),
                "sign_share_of_cpu": self.sign_share(),
            },
            "server": {
                "pid": self.args.server_pid,
                "cpu_secs": self.server_cpu.map(round3),
                "cores_used": self.server_cpu.map(|cpu| round3(cpu / self.window)),
                "cpu_us_per_request": self.server_cpu.map(per_request),
            },
        })
    }

    fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let label = self
            .args
            .label
            .clone()
            .unwrap_or_else(|| self.args.operation.name().to_owned());
        let _ = writeln!(
            out,
            "== {label}: {} against {}, {}, {} connections, {} client threads, {} s measured after {} s warm-up",
            self.args.operation.name(),
            self.args.endpoint,
            self.mode(),
            self.args.concurrency,
            self.threads,
            self.args.duration_secs,
            self.args.warmup_secs,
        );
        let requests = self.requests();
        let _ = writeln!(
            out,
            "requests {requests}, ok {}, errors {}, throughput {:.0} req/s (ok {:.0} req/s){}",
            self.ok(),
            requests - self.ok(),
            requests as f64 / self.window,
            self.ok() as f64 / self.window,
            if self.unsent > 0 {
                format!(", {} scheduled requests never sent", self.unsent)
            } else {
                String::new()
            },
        );
        let _ = writeln!(
            out,
            "latency (ms){}     count     mean      p50      p90      p99    p99.9      max",
            if self.args.rate.is_some() {
                " from intended send time"
            } else {
                ""
            }
        );
        let reports = self.call_reports();
        let table = |out: &mut String, column: fn(&CallReport) -> Summary| {
            for call in &reports {
                let s = column(call);
                let _ = writeln!(
                    out,
                    "  {:<8} {:>9} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
                    call.name,
                    s.count,
                    s.mean_ms,
                    s.p50_ms,
                    s.p90_ms,
                    s.p99_ms,
                    s.p999_ms,
                    s.max_ms
                );
            }
        };
        table(&mut out, |call| call.latency);
        let _ = writeln!(out, "service time (ms, from send after signing)");
        table(&mut out, |call| call.service);
        for call in reports.iter().filter(|call| !call.outcomes.is_empty()) {
            let outcomes: Vec<String> = call
                .outcomes
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            let _ = writeln!(out, "outcomes {}: {}", call.name, outcomes.join(", "));
        }
        let per_request = |cpu: f64| cpu * 1e6 / requests.max(1) as f64;
        if let Some(cpu) = self.client_cpu {
            let _ = writeln!(
                out,
                "client CPU {cpu:.2} s ({:.2} cores, {:.1} µs/request); signing {} CPU µs/request{} ({:.1} µs wall in the run)",
                cpu / self.window,
                per_request(cpu),
                self.sign_cpu_us.map_or("?".to_owned(), |us| format!("{us:.1}")),
                self.sign_share().map_or(String::new(), |share| format!(" = {:.0}% of client CPU", share * 100.0)),
                self.sign_us_per_request(),
            );
        }
        if let Some(cpu) = self.server_cpu {
            let _ = writeln!(
                out,
                "server CPU {cpu:.2} s ({:.2} cores, {:.1} µs/request)",
                cpu / self.window,
                per_request(cpu)
            );
        }
        let _ = writeln!(
            out,
            "sent in the whole run, warm-up included: create {}, get {}{}",
            self.sent_total[0],
            self.sent_total[1],
            if self.pool_size > 0 {
                format!(" (plus {} pool creates)", self.pool_size)
            } else {
                String::new()
            },
        );
        let all = reports.last().map(|call| call.latency).unwrap_or_default();
        let _ = writeln!(
            out,
            "SUMMARY {label} rps={:.0} ok={} errors={} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={:.3}",
            requests as f64 / self.window,
            self.ok(),
            requests - self.ok(),
            all.p50_ms,
            all.p90_ms,
            all.p99_ms,
            all.max_ms
        );
        out
    }
}

//! Latency samples and their summaries, and process CPU time from `/proc`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// What one worker saw of one operation during the measured window.
#[derive(Debug, Default)]
pub struct OpStats {
    /// Nanoseconds from the intended send time (open loop) or from the start of the call,
    /// signing included (closed loop), to the last byte of the answer.
    pub latency_ns: Vec<u64>,
    /// Nanoseconds from handing the signed request to the connection to the last byte.
    pub service_ns: Vec<u64>,
    /// `"200"`, `"400 ThrottlingException"`, `"error: …"`, `"timeout"` → count.
    pub outcomes: BTreeMap<String, u64>,
    pub ok: u64,
}

impl OpStats {
    pub fn merge(&mut self, other: OpStats) {
        self.latency_ns.extend(other.latency_ns);
        self.service_ns.extend(other.service_ns);
        for (outcome, count) in other.outcomes {
            *self.outcomes.entry(outcome).or_default() += count;
        }
        self.ok += other.ok;
    }

    pub fn requests(&self) -> u64 {
        self.outcomes.values().sum()
    }
}

/// Percentiles of a set of durations (exact: the sorted samples, nearest rank).
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub count: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    pub fn of(samples: &mut [u64]) -> Summary {
        if samples.is_empty() {
            return Summary::default();
        }
        samples.sort_unstable();
        let rank = |p: f64| {
            let index = (p * samples.len() as f64).ceil() as usize;
            samples[index.clamp(1, samples.len()) - 1] as f64 / 1e6
        };
        let total: u128 = samples.iter().map(|&ns| u128::from(ns)).sum();
        Summary {
            count: samples.len(),
            mean_ms: total as f64 / samples.len() as f64 / 1e6,
            p50_ms: rank(0.50),
            p90_ms: rank(0.90),
            p99_ms: rank(0.99),
            p999_ms: rank(0.999),
            max_ms: samples[samples.len() - 1] as f64 / 1e6,
        }
    }

    pub fn to_json(self) -> Value {
        json!({
            "count": self.count,
            "mean": round3(self.mean_ms),
            "p50": round3(self.p50_ms),
            "p90": round3(self.p90_ms),
            "p99": round3(self.p99_ms),
            "p99_9": round3(self.p999_ms),
            "max": round3(self.max_ms),
        })
    }
}

pub fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// CPU seconds (user + system, all threads) a process has used so far, from
/// `/proc/<pid>/stat`. `None` where there is no such file.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces; count after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the file (utime, stime) are the 12th and 13th after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks_per_second())
}

/// Nanoseconds the calling thread has run on a CPU, from `/proc/thread-self/schedstat`.
pub fn thread_cpu_ns() -> Option<u64> {
    let schedstat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    schedstat.split_whitespace().next()?.parse().ok()
}

/// `sysconf(_SC_CLK_TCK)`: 100 on every Linux this runs on (USER_HZ is fixed at 100 for
/// x86 and arm64 user space); `OPENLIVENESS_CLK_TCK` overrides it.
fn clock_ticks_per_second() -> f64 {
    std::env::var("OPENLIVENESS_CLK_TCK")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples: Vec<u64> = (1..=1000).map(|ms| ms * 1_000_000).collect();
        let summary = Summary::of(&mut samples);
        assert_eq!(summary.p50_ms, 500.0);
        assert_eq!(summary.p99_ms, 990.0);
        assert_eq!(summary.p999_ms, 999.0);
        assert_eq!(summary.max_ms, 1000.0);
        assert_eq!(Summary::of(&mut [7_000_000]).p99_ms, 7.0);
    }

    #[test]
    fn reads_own_cpu_time() {
        assert!(cpu_seconds(None).is_some_and(|seconds| seconds >= 0.0));
    }
}

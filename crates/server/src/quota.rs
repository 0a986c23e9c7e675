//! Per-tenant request quotas (token buckets on the injected clock).

use std::collections::HashMap;
use std::sync::Mutex;

/// A token bucket per tenant: `rate` tokens a second, at most `burst` saved.
pub struct Quotas {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated_millis: u64,
}

impl Quotas {
    /// `rate` 0 disables quotas.
    pub fn new(rate: f64, burst: f64) -> Quotas {
        Quotas {
            rate,
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `tenant` at `now_millis`; false when the tenant is over its quota.
    pub fn try_acquire(&self, tenant: &str, now_millis: u64) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets.entry(tenant.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            updated_millis: now_millis,
        });
        let elapsed = now_millis.saturating_sub(bucket.updated_millis) as f64 / 1000.0;
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.updated_millis = bucket.updated_millis.max(now_millis);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_at_the_rate() {
        let quotas = Quotas::new(2.0, 3.0);
        assert!((0..3).all(|_| quotas.try_acquire("a", 0)));
        assert!(!quotas.try_acquire("a", 0));
        assert!(quotas.try_acquire("b", 0), "tenants have their own buckets");
        assert!(!quotas.try_acquire("a", 499));
        assert!(quotas.try_acquire("a", 500));
        assert!(!quotas.try_acquire("a", 500));
    }

    #[test]
    fn zero_rate_means_no_quota() {
        let quotas = Quotas::new(0.0, 0.0);
        assert!((0..10_000).all(|_| quotas.try_acquire("a", 0)));
    }
}

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

/// The streams open now, per tenant and on the whole server, against their limits (0: none).
#[derive(Debug)]
pub struct StreamSlots {
    per_tenant: usize,
    server: usize,
    /// Streams open on the server, and per tenant.
    open: Mutex<(usize, HashMap<String, usize>)>,
}

/// Why a stream was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The tenant has its most streams open.
    Tenant(usize),
    /// The server has its most streams open.
    Server(usize),
}

/// One admitted stream: it holds its place until dropped.
#[derive(Debug)]
pub struct StreamSlot {
    slots: std::sync::Arc<StreamSlots>,
    tenant: String,
}

impl StreamSlots {
    pub fn new(per_tenant: usize, server: usize) -> StreamSlots {
        StreamSlots {
            per_tenant,
            server,
            open: Mutex::default(),
        }
    }

    /// A place for one more stream of `tenant`, if both limits allow it.
    pub fn admit(self: &std::sync::Arc<Self>, tenant: &str) -> Result<StreamSlot, Refused> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (server, tenants) = &mut *open;
        if self.server > 0 && *server >= self.server {
            return Err(Refused::Server(self.server));
        }
        let of_tenant = tenants.entry(tenant.to_owned()).or_default();
        if self.per_tenant > 0 && *of_tenant >= self.per_tenant {
            return Err(Refused::Tenant(self.per_tenant));
        }
        *of_tenant += 1;
        *server += 1;
        Ok(StreamSlot {
            slots: std::sync::Arc::clone(self),
            tenant: tenant.to_owned(),
        })
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self
            .slots
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (server, tenants) = &mut *open;
        *server = server.saturating_sub(1);
        if let Some(count) = tenants.get_mut(&self.tenant) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                tenants.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_admitted_within_the_tenant_s_and_the_server_s_limits() {
        let slots = std::sync::Arc::new(StreamSlots::new(2, 3));
        let a1 = slots.admit("a").unwrap();
        let _a2 = slots.admit("a").unwrap();
        assert_eq!(slots.admit("a").unwrap_err(), Refused::Tenant(2));
        let _b1 = slots.admit("b").unwrap();
        assert_eq!(slots.admit("b").unwrap_err(), Refused::Server(3));
        drop(a1);
        assert_eq!(slots.open(), 2);
        let _b2 = slots.admit("b").unwrap();
        // No limits.
        let free = std::sync::Arc::new(StreamSlots::new(0, 0));
        let held: Vec<StreamSlot> = (0..100).map(|_| free.admit("a").unwrap()).collect();
        assert_eq!(free.open(), held.len());
    }

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

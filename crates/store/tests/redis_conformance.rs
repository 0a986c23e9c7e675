//! The session store conformance suite against a real `redis-server` (one per case, on a free
//! loopback port), plus what only the Redis store must show: Redis's own expiry deletes the data
//! and the tombstone at the times the caller gave, a session's memory cost, and failing fast and
//! recovering by itself when Redis goes away and comes back.
//!
//! Needs `redis-server` (`scripts/setup.sh --tests` installs it).

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use openliveness_protocol::{LivenessSessionStatus, SessionId};
use openliveness_store::conformance::{claim, get, new_session, RETENTION, T0, TTL};
use openliveness_store::{
    Claim, Lookup, NewSession, RedisStore, RedisStoreConfig, SessionStore, StoreError,
};
use redis_server::{Persistence, RedisServer};

async fn fresh() -> (Arc<dyn SessionStore>, RedisServer) {
    let server = RedisServer::start(Persistence::None);
    let store = RedisStore::open(RedisStoreConfig::new(server.url())).unwrap();
    (Arc::new(store), server)
}

openliveness_store::session_store_conformance!(fresh(), expiry = ByEngine);

/// Milliseconds since the epoch by this machine's clock, which Redis shares.
fn wall_clock() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// The absolute expiry Redis holds for a key (-2: no such key, -1: none).
async fn expire_time(connection: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("PEXPIRETIME")
        .arg(key)
        .query_async(connection)
        .await
        .unwrap()
}

/// `used_memory` of `INFO memory`: the bytes Redis has allocated.
async fn used_memory(connection: &mut redis::aio::MultiplexedConnection) -> i64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(connection)
        .await
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// `MEMORY USAGE` of a key, every element of it counted (`SAMPLES 0`).
async fn memory_usage(connection: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(key)
        .arg("SAMPLES")
        .arg(0)
        .query_async(connection)
        .await
        .unwrap()
}

#[tokio::test]
async fn redis_holds_each_key_until_the_time_the_caller_gave() {
    let (store, server) = fresh().await;
    let session = new_session("A", Some("t1"), T0);
    store.create(session.clone()).await.unwrap();
    let mut connection = raw(&server).await;
    let id = session.id;
    let expires_at = i64::try_from(T0 + TTL).unwrap();
    let purge_at = i64::try_from(T0 + TTL + RETENTION).unwrap();
    assert_eq!(
        expire_time(&mut connection, &format!("ol:{{{id}}}:r")).await,
        expires_at
    );
    assert_eq!(
        expire_time(&mut connection, &format!("ol:{{{id}}}:t")).await,
        purge_at
    );
    assert_eq!(
        expire_time(&mut connection, "ol:tok:{1:A:t1}").await,
        expires_at
    );
    // Claim and finish change the session in place and keep its expiry.
    store.claim("A", id, T0).await.unwrap();
    assert_eq!(
        expire_time(&mut connection, &format!("ol:{{{id}}}:r")).await,
        expires_at
    );
}

/// What the sweep does for the embedded store, Redis does by itself: here the times are in the
/// past of Redis's clock, so Redis deletes at once what the caller said expires.
#[tokio::test]
async fn redis_deletes_the_data_at_expiry_and_the_tombstone_at_purge_by_itself() {
    let (store, server) = fresh().await;
    let now = wall_clock();
    let expired = NewSession {
        created_at: now - TTL - 1000,
        expires_at: now - 1000,
        purge_at: now - 1000 + RETENTION,
        ..new_session("A", Some("t1"), now)
    };
    store.create(expired.clone()).await.unwrap();
    let purged = NewSession {
        created_at: now - TTL - RETENTION - 1000,
        expires_at: now - RETENTION - 1000,
        purge_at: now - 1000,
        ..new_session("A", None, now)
    };
    store.create(purged.clone()).await.unwrap();

    let mut connection = raw(&server).await;
    let exists = |key: String| redis::cmd("EXISTS").arg(key).clone();
    let count: i64 = exists(format!("ol:{{{}}}:r", expired.id))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(count, 0, "the expired session's data is still in Redis");
    // Nothing of it is readable, even by asking as if it were still live; the tombstone answers.
    let then = expired.created_at;
    assert_eq!(get(&store, "A", expired.id, then).await, Lookup::Expired);
    assert_eq!(claim(&store, "A", expired.id, then).await, Claim::Expired);
    assert_eq!(get(&store, "B", expired.id, then).await, Lookup::NotFound);
    // The token went with the data: it is free for a new session.
    let again = store
        .create(new_session("A", Some("t1"), now))
        .await
        .unwrap();
    assert!(again.is_new);

    // Past its purge time nothing is left at all.
    let count: i64 = redis::cmd("EXISTS")
        .arg(format!("ol:{{{}}}:r", purged.id))
        .arg(format!("ol:{{{}}}:t", purged.id))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(count, 0);
    assert_eq!(
        store.get("A", purged.id, purged.created_at).await.unwrap(),
        Lookup::NotFound
    );
}

/// The memory one session costs in Redis, as `MEMORY USAGE` reports it for each of its keys,
/// and as `used_memory` grows over many sessions (README, "Scale-out with Redis").
#[tokio::test]
async fn a_session_costs_less_than_a_kilobyte_of_redis_memory() {
    let (store, server) = fresh().await;
    let mut connection = raw(&server).await;
    let before = used_memory(&mut connection).await;
    const SESSIONS: u64 = 2000;
    let mut last = None;
    for i in 0..SESSIONS {
        let token = format!("token-{i:05}-0123456789abcdef0123456789");
        let session = new_session("123456789012", Some(&token), T0 + i);
        store.create(session.clone()).await.unwrap();
        last = Some(session);
    }
    let per_session =
        (used_memory(&mut connection).await - before) / i64::try_from(SESSIONS).unwrap();

    let session = last.unwrap();
    let id = session.id;
    let token = session.client_request_token.clone().unwrap();
    let mut usage = Vec::new();
    for key in [
        format!("ol:{{{id}}}:r"),
        format!("ol:{{{id}}}:t"),
        format!("ol:tok:{{12:123456789012:{token}}}"),
    ] {
        let bytes = memory_usage(&mut connection, &key).await;
        usage.push((key, bytes));
    }
    // And once finished with a result (no images: those are in the record only when the
    // engine returns them inline).
    store.claim("123456789012", id, T0).await.unwrap();
    store
        .finish(
            "123456789012",
            id,
            openliveness_store::Finish {
                status: LivenessSessionStatus::Succeeded,
                result: openliveness_store::SessionResult {
                    confidence: Some(98.25),
                    challenge: None,
                    reference_image: None,
                    audit_images: Vec::new(),
                    failure_reason: None,
                },
            },
            T0,
        )
        .await
        .unwrap();
    let finished = memory_usage(&mut connection, &format!("ol:{{{id}}}:r")).await;
    println!("MEMORY USAGE per key: {usage:?}; finished record: {finished} bytes");
    println!("used_memory per session with a token, over {SESSIONS} sessions: {per_session} bytes");
    let total: i64 = usage.iter().map(|(_, bytes)| bytes).sum();
    assert!(total < 1024, "{usage:?}");
    assert!(per_session < 1024, "{per_session} bytes per session");
}

/// With Redis gone every call fails fast as `Unavailable` and the store is not ready; once Redis
/// is back the store reconnects by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_fast_while_redis_is_down_and_work_again_after() {
    let mut server = RedisServer::start(Persistence::AppendOnlyAlways);
    let store = RedisStore::open(RedisStoreConfig::new(server.url())).unwrap();
    let session = new_session("A", None, T0);
    store.create(session.clone()).await.unwrap();
    assert!(store.ready().await);

    server.kill();
    let deadline = RedisStoreConfig::DEFAULT_TIMEOUT * 3;
    for _ in 0..3 {
        let started = Instant::now();
        let created = store.create(new_session("A", None, T0)).await;
        assert!(
            matches!(created, Err(StoreError::Unavailable(_))),
            "{created:?}"
        );
        let read = store.get("A", session.id, T0).await;
        assert!(matches!(read, Err(StoreError::Unavailable(_))), "{read:?}");
        let claimed = store.claim("A", session.id, T0).await;
        assert!(
            matches!(claimed, Err(StoreError::Unavailable(_))),
            "{claimed:?}"
        );
        assert!(!store.ready().await);
        assert!(started.elapsed() < deadline, "{:?}", started.elapsed());
    }

    server.restart();
    // Ready at the first ask, however the reconnections tried during the outage ended: one that
    // failed is replaced within the readiness check (a server idle through the outage used to
    // answer its first /readyz after it with 503).
    assert!(store.ready().await, "the store did not reconnect");
    let Lookup::Found(record) = store.get("A", session.id, T0).await.unwrap() else {
        panic!("the acknowledged session was lost")
    };
    assert_eq!(record.status, LivenessSessionStatus::Created);
    assert!(matches!(
        store.claim("A", session.id, T0).await.unwrap(),
        Claim::Claimed(_)
    ));
    let unknown = store.get("A", SessionId::random(), T0).await.unwrap();
    assert_eq!(unknown, Lookup::NotFound);
}

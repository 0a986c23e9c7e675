//! The behaviour every [`SessionStore`] must have, as one suite run against each store.
//!
//! Use [`session_store_conformance!`](crate::session_store_conformance) in a test module with an
//! async expression that makes a fresh, empty store and a guard that keeps its resources alive:
//!
//! ```text
//! openliveness_store::session_store_conformance!(async {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = RedbStore::open(RedbStoreConfig::in_dir(dir.path())).unwrap();
//!     (std::sync::Arc::new(store) as std::sync::Arc<dyn SessionStore>, dir)
//! });
//! ```
//!
//! A store whose engine deletes expired data by itself adds `expiry = ByEngine` (see [`Expiry`]).

// This module is test code that ships in the library so that every store can run it; a
// failed step must stop the test where it failed.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::Arc;

use openliveness_protocol::{LivenessSessionStatus, SessionId, SessionSettings};

use crate::{
    Claim, Created, Finish, Finished, Lookup, NewSession, SessionResult, SessionStore, Swept,
    UnixMillis,
};

/// Session lifetime used by the suite.
pub const TTL: UnixMillis = 180_000;
/// Time a tombstone stays after expiry.
pub const RETENTION: UnixMillis = 3_600_000;
/// The suite's "now" at creation: 2100-01-01. It is in the future of every real clock, so a store
/// whose engine deletes keys at the absolute times it is given (Redis) keeps the suite's
/// sessions while the suite runs, and only the `now` passed in decides the answers.
pub const T0: UnixMillis = 4_102_444_800_000;

/// Who deletes the data of expired sessions and forgets purged ones. The contract is the same
/// for both (from `expires_at` a session answers `EXPIRED` and none of its data is readable;
/// from `purge_at` it is not found); what differs is who deletes the bytes, and so what
/// [`SessionStore::sweep`] has to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// `sweep` deletes them and reports each one (the embedded store).
    BySweep,
    /// The engine deletes them by itself at the times given at creation, on its own clock
    /// (Redis key expiry); `sweep` has nothing to do and reports nothing. The suite cannot move
    /// the engine's clock: the store's own tests show the deletion with times in its past.
    ByEngine,
}

/// A new session of `tenant` created at `at`.
pub fn new_session(tenant: &str, token: Option<&str>, at: UnixMillis) -> NewSession {
    NewSession {
        id: SessionId::random(),
        tenant: tenant.to_owned(),
        client_request_token: token.map(str::to_owned),
        settings: SessionSettings {
            audit_images_limit: 2,
            ..SessionSettings::default()
        },
        created_at: at,
        expires_at: at + TTL,
        purge_at: at + TTL + RETENTION,
    }
}

fn succeeded() -> Finish {
    Finish {
        status: LivenessSessionStatus::Succeeded,
        result: SessionResult {
            confidence: Some(99.5),
            challenge: None,
            reference_image: None,
            audit_images: Vec::new(),
            failure_reason: None,
        },
    }
}

/// `create` of [`new_session`]`(tenant, token, at)`, which must not fail.
async fn create(
    store: &Arc<dyn SessionStore>,
    tenant: &str,
    token: Option<&str>,
    at: UnixMillis,
) -> Created {
    store.create(new_session(tenant, token, at)).await.unwrap()
}

/// A session of tenant `A` without a token, created at [`T0`].
async fn created_in_a(store: &Arc<dyn SessionStore>) -> NewSession {
    let session = new_session("A", None, T0);
    store.create(session.clone()).await.unwrap();
    session
}

/// `get`, which must not fail.
pub async fn get(
    store: &Arc<dyn SessionStore>,
    tenant: &str,
    id: SessionId,
    now: UnixMillis,
) -> Lookup {
    store.get(tenant, id, now).await.unwrap()
}

/// `claim`, which must not fail.
pub async fn claim(
    store: &Arc<dyn SessionStore>,
    tenant: &str,
    id: SessionId,
    now: UnixMillis,
) -> Claim {
    store.claim(tenant, id, now).await.unwrap()
}

/// `finish` with [`succeeded`], which must not fail.
async fn finish(
    store: &Arc<dyn SessionStore>,
    tenant: &str,
    id: SessionId,
    now: UnixMillis,
) -> Finished {
    store.finish(tenant, id, succeeded(), now).await.unwrap()
}

pub async fn create_then_get(store: Arc<dyn SessionStore>) {
    let session = new_session("A", None, T0);
    let created = store.create(session.clone()).await.unwrap();
    assert!(created.is_new);
    assert_eq!(created.id, session.id);
    let Lookup::Found(record) = get(&store, "A", session.id, T0 + 1).await else {
        panic!("session not found")
    };
    assert_eq!(record.status, LivenessSessionStatus::Created);
    assert_eq!(record.settings, session.settings);
    assert_eq!((record.created_at, record.expires_at), (T0, T0 + TTL));
    assert_eq!(record.result, None);
}

pub async fn same_token_same_tenant_is_idempotent(store: Arc<dyn SessionStore>) {
    let first = create(&store, "A", Some("t1"), T0).await;
    let again = create(&store, "A", Some("t1"), T0 + 10).await;
    assert_eq!(again.id, first.id);
    assert!(!again.is_new);
    let other_token = create(&store, "A", Some("t2"), T0 + 20).await;
    assert_ne!(other_token.id, first.id);
    let no_token = create(&store, "A", None, T0 + 30).await;
    assert_ne!(no_token.id, first.id);
}

pub async fn same_token_other_tenant_is_another_session(store: Arc<dyn SessionStore>) {
    let a = create(&store, "A", Some("t1"), T0).await;
    let b = create(&store, "B", Some("t1"), T0).await;
    assert_ne!(a.id, b.id);
    assert!(b.is_new);
}

pub async fn token_is_free_again_after_expiry(store: Arc<dyn SessionStore>) {
    let first = create(&store, "A", Some("t1"), T0).await;
    let later = create(&store, "A", Some("t1"), T0 + TTL).await;
    assert!(later.is_new);
    assert_ne!(later.id, first.id);
    // Sweeping the first session must not take the token from the second.
    store.sweep(T0 + TTL, 100).await.unwrap();
    let again = create(&store, "A", Some("t1"), T0 + TTL + 1).await;
    assert_eq!(again.id, later.id);
}

pub async fn concurrent_creates_with_one_token_make_one_session(store: Arc<dyn SessionStore>) {
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { create(&store, "A", Some("race"), T0).await })
        })
        .collect();
    let mut ids = HashSet::new();
    let mut new = 0;
    for task in tasks {
        let created = task.await.unwrap();
        ids.insert(created.id);
        new += usize::from(created.is_new);
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(new, 1);
}

pub async fn other_tenant_and_unknown_ids_are_not_found(store: Arc<dyn SessionStore>) {
    let session = created_in_a(&store).await;
    assert_eq!(get(&store, "B", session.id, T0).await, Lookup::NotFound);
    assert_eq!(
        get(&store, "A", SessionId::random(), T0).await,
        Lookup::NotFound
    );
    assert_eq!(claim(&store, "B", session.id, T0).await, Claim::NotFound);
    assert_eq!(
        finish(&store, "B", session.id, T0).await,
        Finished::NotFound
    );
    // The other tenant's attempts changed nothing.
    let Lookup::Found(record) = get(&store, "A", session.id, T0).await else {
        panic!()
    };
    assert_eq!(record.status, LivenessSessionStatus::Created);
}

pub async fn expired_sessions_answer_expired_then_not_found(
    store: Arc<dyn SessionStore>,
    expiry: Expiry,
) {
    let session = created_in_a(&store).await;
    assert!(matches!(
        get(&store, "A", session.id, T0 + TTL - 1).await,
        Lookup::Found(_)
    ));
    // Expired before any sweep ran.
    assert_eq!(
        get(&store, "A", session.id, T0 + TTL).await,
        Lookup::Expired
    );
    assert_eq!(
        get(&store, "B", session.id, T0 + TTL).await,
        Lookup::NotFound
    );
    assert_eq!(
        claim(&store, "A", session.id, T0 + TTL).await,
        Claim::Expired
    );
    // And after it.
    let swept = store.sweep(T0 + TTL, 100).await.unwrap();
    match expiry {
        Expiry::BySweep => {
            assert_eq!((swept.expired, swept.purged, swept.more), (1, 0, false));
            assert_eq!(swept.expired_ids, vec![session.id]);
        }
        Expiry::ByEngine => assert_eq!(swept, Swept::default()),
    }
    assert_eq!(
        get(&store, "A", session.id, T0 + TTL + 1).await,
        Lookup::Expired
    );
    let purge = T0 + TTL + RETENTION;
    assert_eq!(get(&store, "A", session.id, purge).await, Lookup::NotFound);
    let swept = store.sweep(purge, 100).await.unwrap();
    let purged = match expiry {
        Expiry::BySweep => 1,
        Expiry::ByEngine => 0,
    };
    assert_eq!((swept.expired, swept.purged), (0, purged));
    assert_eq!(store.sweep(purge, 100).await.unwrap().purged, 0);
    assert_eq!(get(&store, "A", session.id, purge).await, Lookup::NotFound);
}

pub async fn sweep_deletes_results_of_expired_sessions(store: Arc<dyn SessionStore>) {
    let session = created_in_a(&store).await;
    assert!(matches!(
        claim(&store, "A", session.id, T0).await,
        Claim::Claimed(_)
    ));
    assert_eq!(finish(&store, "A", session.id, T0).await, Finished::Done);
    store.sweep(T0 + TTL, 100).await.unwrap();
    // Nothing of the session is readable, even by asking as if it were still live.
    assert_eq!(get(&store, "A", session.id, T0).await, Lookup::Expired);
}

pub async fn sweep_works_in_batches(store: Arc<dyn SessionStore>) {
    for i in 0..5 {
        create(&store, "A", None, T0 + i).await;
    }
    let now = T0 + TTL + 10;
    let first = store.sweep(now, 3).await.unwrap();
    assert_eq!((first.expired, first.more), (3, true));
    let second = store.sweep(now, 3).await.unwrap();
    assert_eq!((second.expired, second.more), (2, false));
}

pub async fn claim_is_single_use(store: Arc<dyn SessionStore>) {
    let session = created_in_a(&store).await;
    let Claim::Claimed(record) = claim(&store, "A", session.id, T0 + 1).await else {
        panic!("first claim failed")
    };
    assert_eq!(record.status, LivenessSessionStatus::InProgress);
    assert_eq!(
        claim(&store, "A", session.id, T0 + 2).await,
        Claim::AlreadyStarted(LivenessSessionStatus::InProgress)
    );
    finish(&store, "A", session.id, T0 + 3).await;
    assert_eq!(
        claim(&store, "A", session.id, T0 + 4).await,
        Claim::AlreadyStarted(LivenessSessionStatus::Succeeded)
    );
}

pub async fn concurrent_claims_have_one_winner(store: Arc<dyn SessionStore>) {
    let session = created_in_a(&store).await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { claim(&store, "A", session.id, T0).await })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Claim::Claimed(_) => winners += 1,
            Claim::AlreadyStarted(LivenessSessionStatus::InProgress) => {}
            other => panic!("unexpected claim outcome {other:?}"),
        }
    }
    assert_eq!(winners, 1);
}

pub async fn finish_records_the_result_once(store: Arc<dyn SessionStore>) {
    let session = created_in_a(&store).await;
    assert_eq!(
        finish(&store, "A", session.id, T0).await,
        Finished::NotInProgress(LivenessSessionStatus::Created)
    );
    claim(&store, "A", session.id, T0).await;
    assert_eq!(finish(&store, "A", session.id, T0).await, Finished::Done);
    let Lookup::Found(record) = get(&store, "A", session.id, T0).await else {
        panic!()
    };
    assert_eq!(record.status, LivenessSessionStatus::Succeeded);
    assert_eq!(record.result, Some(succeeded().result));
    assert_eq!(
        finish(&store, "A", session.id, T0).await,
        Finished::NotInProgress(LivenessSessionStatus::Succeeded)
    );
}

pub async fn is_ready(store: Arc<dyn SessionStore>) {
    assert!(store.ready().await);
}

/// Generates one `#[tokio::test]` per conformance case for a store made by `$make`, an async
/// expression that yields `(Arc<dyn SessionStore>, guard)`; with `expiry = ByEngine` for a store
/// whose engine deletes expired data by itself (see [`Expiry`]).
#[macro_export]
macro_rules! session_store_conformance {
    ($make:expr) => {
        $crate::session_store_conformance!($make, expiry = BySweep);
        $crate::session_store_conformance!(@cases $make;
            sweep_deletes_results_of_expired_sessions,
            sweep_works_in_batches,
        );
    };
    ($make:expr, expiry = $expiry:ident) => {
        $crate::session_store_conformance!(@cases $make;
            create_then_get,
            same_token_same_tenant_is_idempotent,
            same_token_other_tenant_is_another_session,
            token_is_free_again_after_expiry,
            concurrent_creates_with_one_token_make_one_session,
            other_tenant_and_unknown_ids_are_not_found,
            claim_is_single_use,
            concurrent_claims_have_one_winner,
            finish_records_the_result_once,
            is_ready,
        );
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn expired_sessions_answer_expired_then_not_found() {
            let (store, _guard) = $make.await;
            $crate::conformance::expired_sessions_answer_expired_then_not_found(
                store,
                $crate::conformance::Expiry::$expiry,
            )
            .await;
        }
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $make.await;
                $crate::conformance::$case(store).await;
            }
        )*
    };
}

//! Where sessions live: the [`SessionStore`] trait, the embedded durable store ([`RedbStore`]),
//! the scale-out store in Redis (`RedisStore`, feature `redis`) and the conformance suite every
//! store must pass ([`conformance`]).
//!
//! The key decisions:
//! - The store holds no policy and reads no clock. The caller passes `now` and the times a
//!   session expires and is purged; the store applies them atomically. Tests inject any time.
//! - Every state change is one atomic step of the store (create with its idempotency token,
//!   the single-use claim of a session, finishing it), so a distributed store can give the
//!   same guarantees with transactions or scripts.
//! - A session's data is deleted when it expires; a small tombstone (tenant and purge time)
//!   stays so that `GetFaceLivenessSessionResults` can answer `EXPIRED` until it is purged.

pub mod conformance;
pub mod evidence;
pub mod private;
mod redb_store;
#[cfg(feature = "redis")]
mod redis_store;

use async_trait::async_trait;
use openliveness_protocol::{
    AuditImage, Challenge, LivenessSessionStatus, SessionId, SessionSettings,
};
use serde::{Deserialize, Serialize};

pub use evidence::{EvidenceStore, LocalEvidenceStore};
pub use redb_store::{RedbStore, RedbStoreConfig};
#[cfg(feature = "redis")]
pub use redis_store::{RedisStore, RedisStoreConfig};

/// Milliseconds since the Unix epoch.
pub type UnixMillis = u64;

/// A session as `CreateFaceLivenessSession` makes it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    pub id: SessionId,
    pub tenant: String,
    pub client_request_token: Option<String>,
    pub settings: SessionSettings,
    pub created_at: UnixMillis,
    /// After this the session answers `EXPIRED` and its data is deleted.
    pub expires_at: UnixMillis,
    /// After this the session is forgotten (`SessionNotFoundException`).
    pub purge_at: UnixMillis,
}

/// A live (not yet expired) session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: SessionId,
    pub tenant: String,
    pub client_request_token: Option<String>,
    pub settings: SessionSettings,
    pub status: LivenessSessionStatus,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub purge_at: UnixMillis,
    pub result: Option<SessionResult>,
}

/// What the analysis of a session produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionResult {
    pub confidence: Option<f32>,
    pub challenge: Option<Challenge>,
    pub reference_image: Option<AuditImage>,
    pub audit_images: Vec<AuditImage>,
    /// Why the session failed, for operators (never sent to the caller).
    pub failure_reason: Option<String>,
}

/// The outcome of [`SessionStore::create`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Created {
    pub id: SessionId,
    /// False when the idempotency token named a live session, whose id is returned.
    pub is_new: bool,
}

/// The outcome of [`SessionStore::get`].
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    Found(Box<SessionRecord>),
    /// The session existed for this tenant and has expired; its data is gone.
    Expired,
    /// No such session for this tenant (it never existed, belongs to another tenant, or was purged).
    NotFound,
}

/// The outcome of [`SessionStore::claim`].
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The session was `CREATED` and is now `IN_PROGRESS`; the caller owns its stream.
    Claimed(Box<SessionRecord>),
    /// The session was started before (sessions are single-use).
    AlreadyStarted(LivenessSessionStatus),
    Expired,
    NotFound,
}

/// How a session ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    /// `SUCCEEDED` or `FAILED`.
    pub status: LivenessSessionStatus,
    pub result: SessionResult,
}

/// The outcome of [`SessionStore::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    Done,
    /// The session is not `IN_PROGRESS` (never claimed, or already finished).
    NotInProgress(LivenessSessionStatus),
    Expired,
    NotFound,
}

/// What one [`SessionStore::sweep`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    /// Sessions whose data was deleted because they expired.
    pub expired: usize,
    /// Their ids, so that data kept elsewhere (evidence, images) can be deleted too.
    pub expired_ids: Vec<SessionId>,
    /// Tombstones removed because their purge time passed.
    pub purged: usize,
    /// True when the sweep stopped at its batch limit and there is more to do now.
    pub more: bool,
}

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or failed to commit; nothing was changed.
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    /// A stored record could not be read back.
    #[error("session store record is corrupt: {0}")]
    Corrupt(String),
}

/// The session store. Implementations: [`RedbStore`] (embedded, durable); `RedisStore` (scale-out,
/// feature `redis`).
///
/// Every method is one atomic step; every method that depends on time takes `now`.
/// A session of another tenant is indistinguishable from one that does not exist.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Creates a session, or returns the live session that the same tenant created with the
    /// same `client_request_token`.
    async fn create(&self, session: NewSession) -> Result<Created, StoreError>;

    /// Reads a session of `tenant`.
    async fn get(&self, tenant: &str, id: SessionId, now: UnixMillis)
        -> Result<Lookup, StoreError>;

    /// Moves a `CREATED` session of `tenant` to `IN_PROGRESS`, at most once in its life.
    async fn claim(
        &self,
        tenant: &str,
        id: SessionId,
        now: UnixMillis,
    ) -> Result<Claim, StoreError>;

    /// Ends an `IN_PROGRESS` session of `tenant` with its result.
    async fn finish(
        &self,
        tenant: &str,
        id: SessionId,
        finish: Finish,
        now: UnixMillis,
    ) -> Result<Finished, StoreError>;

    /// Deletes the data of sessions that expired by `now` and forgets those whose purge time
    /// passed, at most `limit` of each. A store whose engine deletes them by itself at the
    /// times given at creation (Redis) has nothing to do and reports nothing.
    async fn sweep(&self, now: UnixMillis, limit: usize) -> Result<Swept, StoreError>;

    /// Whether the store can serve requests now.
    async fn ready(&self) -> bool;
}

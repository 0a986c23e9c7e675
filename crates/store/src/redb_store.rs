//! The embedded durable store: one redb file in the data directory.
//!
//! Writes go through one writer thread that commits them in groups: it takes every write waiting
//! in its queue (up to `max_batch`), applies them in one transaction, commits once (fsync), and only
//! then answers each caller. Durability stays per request (nobody is told "created" before the
//! commit) while the cost of an fsync is shared by all the writes that arrived during the last one.
//! Reads run on tokio's blocking pool, each in its own read transaction.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use openliveness_protocol::{LivenessSessionStatus, SessionId};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::{
    Claim, Created, Finish, Finished, Lookup, NewSession, SessionRecord, SessionStore, StoreError,
    Swept, UnixMillis,
};

/// Session id → stored session (JSON).
const SESSIONS: TableDefinition<u128, &[u8]> = TableDefinition::new("sessions");
/// `tenant \n token` → session id.
const TOKENS: TableDefinition<&str, u128> = TableDefinition::new("tokens");
/// (time of the next sweep action, session id): `expires_at` of a live session, `purge_at` of a
/// tombstone.
const DUE: TableDefinition<(u64, u128), ()> = TableDefinition::new("due");

/// What the sessions table holds for an id.
#[derive(Debug, Serialize, Deserialize)]
enum Stored {
    Live(Box<SessionRecord>),
    /// The session expired and its data was deleted.
    Tombstone {
        tenant: String,
        purge_at: UnixMillis,
    },
}

/// Settings of the embedded store.
#[derive(Debug, Clone)]
pub struct RedbStoreConfig {
    /// The database file.
    pub path: PathBuf,
    /// The most writes committed in one transaction.
    pub max_batch: usize,
    /// The most writes waiting for the writer before callers wait for room.
    pub queue_depth: usize,
}

impl RedbStoreConfig {
    pub fn in_dir(data_dir: &Path) -> RedbStoreConfig {
        RedbStoreConfig {
            path: data_dir.join("sessions.redb"),
            max_batch: 512,
            queue_depth: 4096,
        }
    }
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// Answers one caller once the batch's commit is known (`Some` error when it failed).
type Answer = Box<dyn FnOnce(Option<&StoreError>) + Send>;

enum Write {
    Create(NewSession, Reply<Created>),
    Claim(String, SessionId, UnixMillis, Reply<Claim>),
    Finish(String, SessionId, Finish, UnixMillis, Reply<Finished>),
    Sweep(UnixMillis, usize, Reply<Swept>),
}

/// The embedded durable session store.
pub struct RedbStore {
    db: Arc<Database>,
    writes: mpsc::Sender<Write>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for RedbStore {
    /// Stops the writer after the writes already queued, so that the file is closed (and can
    /// be opened again) when the store is gone.
    fn drop(&mut self) {
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.writes, closed));
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

fn unavailable(error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

fn token_key(tenant: &str, token: &str) -> String {
    format!("{tenant}\n{token}")
}

fn id_key(id: SessionId) -> u128 {
    u128::from_be_bytes(*id.as_bytes())
}

fn decode(bytes: &[u8]) -> Result<Stored, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt(error.to_string()))
}

fn encode(stored: &Stored) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(stored).map_err(|error| StoreError::Corrupt(error.to_string()))
}

impl RedbStore {
    /// Opens (or creates) the store and starts its writer thread.
    pub fn open(config: RedbStoreConfig) -> Result<RedbStore, StoreError> {
        if let Some(parent) = config.path.parent() {
            crate::private::create_dir_all(parent).map_err(unavailable)?;
        }
        // Created here with its owner's mode only (redb would create it readable by all); redb
        // initialises an empty file as a new database.
        crate::private::open_for_writing(&config.path, false).map_err(unavailable)?;
        let db = Arc::new(Database::create(&config.path).map_err(unavailable)?);
        let txn = db.begin_write().map_err(unavailable)?;
        txn.open_table(SESSIONS).map_err(unavailable)?;
        txn.open_table(TOKENS).map_err(unavailable)?;
        txn.open_table(DUE).map_err(unavailable)?;
        txn.commit().map_err(unavailable)?;

        let (writes, queue) = mpsc::channel(config.queue_depth.max(1));
        let writer_db = Arc::clone(&db);
        let max_batch = config.max_batch.max(1);
        let writer = std::thread::Builder::new()
            .name("redb-writer".to_owned())
            .spawn(move || run_writer(&writer_db, queue, max_batch))
            .map_err(unavailable)?;
        Ok(RedbStore {
            db,
            writes,
            writer: Some(writer),
        })
    }

    async fn write<T>(&self, make: impl FnOnce(Reply<T>) -> Write) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.writes
            .send(make(reply))
            .await
            .map_err(|_| unavailable("writer stopped"))?;
        answer.await.map_err(|_| unavailable("writer stopped"))?
    }
}

/// The writer thread: group commit until every sender is gone.
fn run_writer(db: &Database, mut queue: mpsc::Receiver<Write>, max_batch: usize) {
    let mut batch = Vec::with_capacity(max_batch);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match queue.try_recv() {
                Ok(write) => batch.push(write),
                Err(_) => break,
            }
        }
        commit_batch(db, &mut batch);
    }
}

/// Applies a batch in one transaction; answers every caller after the commit (or with its error).
fn commit_batch(db: &Database, batch: &mut Vec<Write>) {
    let mut answers: Vec<Answer> = Vec::with_capacity(batch.len());
    let outcome = (|| -> Result<(), StoreError> {
        let txn = db.begin_write().map_err(unavailable)?;
        for write in batch.drain(..) {
            answers.push(apply(&txn, write));
        }
        txn.commit().map_err(unavailable)
    })();
    if outcome.is_err() {
        // Writes not yet applied when the transaction failed still wait for an answer.
        for write in batch.drain(..) {
            answers.push(reject(write));
        }
    }
    for answer in answers {
        answer(outcome.as_ref().err());
    }
}

/// Applies one write and returns how to answer its caller once the commit is known.
fn apply(txn: &WriteTransaction, write: Write) -> Answer {
    fn answer<T: Send + 'static>(reply: Reply<T>, result: Result<T, StoreError>) -> Answer {
        Box::new(move |commit_error| {
            let result = match commit_error {
                Some(error) => Err(unavailable(error)),
                None => result,
            };
            // The caller may have gone away (request cancelled); the write stands anyway.
            let _ = reply.send(result);
        })
    }
    match write {
        Write::Create(session, reply) => answer(reply, apply_create(txn, session)),
        Write::Claim(tenant, id, now, reply) => answer(reply, apply_claim(txn, &tenant, id, now)),
        Write::Finish(tenant, id, finish, now, reply) => {
            answer(reply, apply_finish(txn, &tenant, id, finish, now))
        }
        Write::Sweep(now, limit, reply) => answer(reply, apply_sweep(txn, now, limit)),
    }
}

fn reject(write: Write) -> Answer {
    fn fail<T: Send + 'static>(reply: Reply<T>) -> Answer {
        Box::new(move |_| {
            let _ = reply.send(Err(unavailable("transaction failed")));
        })
    }
    match write {
        Write::Create(_, reply) => fail(reply),
        Write::Claim(.., reply) => fail(reply),
        Write::Finish(.., reply) => fail(reply),
        Write::Sweep(.., reply) => fail(reply),
    }
}

fn apply_create(txn: &WriteTransaction, session: NewSession) -> Result<Created, StoreError> {
    let mut sessions = txn.open_table(SESSIONS).map_err(unavailable)?;
    let mut tokens = txn.open_table(TOKENS).map_err(unavailable)?;
    let mut due = txn.open_table(DUE).map_err(unavailable)?;
    if let Some(token) = &session.client_request_token {
        let key = token_key(&session.tenant, token);
        let existing = tokens
            .get(key.as_str())
            .map_err(unavailable)?
            .map(|guard| guard.value());
        if let Some(existing) = existing {
            let stored = sessions
                .get(existing)
                .map_err(unavailable)?
                .map(|g| decode(g.value()));
            if let Some(Stored::Live(record)) = stored.transpose()? {
                if record.expires_at > session.created_at {
                    return Ok(Created {
                        id: record.id,
                        is_new: false,
                    });
                }
            }
        }
        tokens
            .insert(key.as_str(), id_key(session.id))
            .map_err(unavailable)?;
    }
    let record = SessionRecord {
        id: session.id,
        tenant: session.tenant,
        client_request_token: session.client_request_token,
        settings: session.settings,
        status: LivenessSessionStatus::Created,
        created_at: session.created_at,
        expires_at: session.expires_at,
        purge_at: session.purge_at,
        result: None,
    };
    let key = id_key(record.id);
    sessions
        .insert(
            key,
            encode(&Stored::Live(Box::new(record.clone())))?.as_slice(),
        )
        .map_err(unavailable)?;
    due.insert((record.expires_at, key), ())
        .map_err(unavailable)?;
    Ok(Created {
        id: record.id,
        is_new: true,
    })
}

/// Reads a session of `tenant` for an update; `Err(lookup)` when it is not live.
fn live_record(
    sessions: &redb::Table<u128, &[u8]>,
    tenant: &str,
    id: SessionId,
    now: UnixMillis,
) -> Result<Result<Box<SessionRecord>, Lookup>, StoreError> {
    let stored = sessions
        .get(id_key(id))
        .map_err(unavailable)?
        .map(|g| decode(g.value()));
    Ok(classify(stored.transpose()?, tenant, now))
}

fn classify(
    stored: Option<Stored>,
    tenant: &str,
    now: UnixMillis,
) -> Result<Box<SessionRecord>, Lookup> {
    match stored {
        Some(Stored::Live(record)) if record.tenant == tenant => {
            if record.expires_at <= now {
                if record.purge_at <= now {
                    Err(Lookup::NotFound)
                } else {
                    Err(Lookup::Expired)
                }
            } else {
                Ok(record)
            }
        }
        Some(Stored::Tombstone {
            tenant: owner,
            purge_at,
        }) if owner == tenant && purge_at > now => Err(Lookup::Expired),
        _ => Err(Lookup::NotFound),
    }
}

fn apply_claim(
    txn: &WriteTransaction,
    tenant: &str,
    id: SessionId,
    now: UnixMillis,
) -> Result<Claim, StoreError> {
    let mut sessions = txn.open_table(SESSIONS).map_err(unavailable)?;
    let mut record = match live_record(&sessions, tenant, id, now)? {
        Ok(record) => record,
        Err(Lookup::Expired) => return Ok(Claim::Expired),
        Err(_) => return Ok(Claim::NotFound),
    };
    if record.status != LivenessSessionStatus::Created {
        return Ok(Claim::AlreadyStarted(record.status));
    }
    record.status = LivenessSessionStatus::InProgress;
    sessions
        .insert(
            id_key(id),
            encode(&Stored::Live(record.clone()))?.as_slice(),
        )
        .map_err(unavailable)?;
    Ok(Claim::Claimed(record))
}

fn apply_finish(
    txn: &WriteTransaction,
    tenant: &str,
    id: SessionId,
    finish: Finish,
    now: UnixMillis,
) -> Result<Finished, StoreError> {
    let mut sessions = txn.open_table(SESSIONS).map_err(unavailable)?;
    let mut record = match live_record(&sessions, tenant, id, now)? {
        Ok(record) => record,
        Err(Lookup::Expired) => return Ok(Finished::Expired),
        Err(_) => return Ok(Finished::NotFound),
    };
    if record.status != LivenessSessionStatus::InProgress {
        return Ok(Finished::NotInProgress(record.status));
    }
    record.status = finish.status;
    record.result = Some(finish.result);
    sessions
        .insert(id_key(id), encode(&Stored::Live(record))?.as_slice())
        .map_err(unavailable)?;
    Ok(Finished::Done)
}

fn apply_sweep(txn: &WriteTransaction, now: UnixMillis, limit: usize) -> Result<Swept, StoreError> {
    let mut sessions = txn.open_table(SESSIONS).map_err(unavailable)?;
    let mut tokens = txn.open_table(TOKENS).map_err(unavailable)?;
    let mut due = txn.open_table(DUE).map_err(unavailable)?;
    let mut swept = Swept::default();
    let mut entries = Vec::new();
    for entry in due
        .range(..=(now, u128::MAX))
        .map_err(unavailable)?
        .take(limit.saturating_add(1))
    {
        let (key, _) = entry.map_err(unavailable)?;
        entries.push(key.value());
    }
    swept.more = entries.len() > limit;
    entries.truncate(limit);
    for (at, key) in entries {
        due.remove((at, key)).map_err(unavailable)?;
        let stored = sessions
            .get(key)
            .map_err(unavailable)?
            .map(|g| decode(g.value()));
        match stored.transpose()? {
            Some(Stored::Live(record)) if record.purge_at <= now => {
                forget_token(&mut tokens, &record)?;
                sessions.remove(key).map_err(unavailable)?;
                swept.expired += 1;
                swept.expired_ids.push(record.id);
                swept.purged += 1;
            }
            Some(Stored::Live(record)) => {
                forget_token(&mut tokens, &record)?;
                let tombstone = Stored::Tombstone {
                    tenant: record.tenant.clone(),
                    purge_at: record.purge_at,
                };
                sessions
                    .insert(key, encode(&tombstone)?.as_slice())
                    .map_err(unavailable)?;
                due.insert((record.purge_at, key), ())
                    .map_err(unavailable)?;
                swept.expired += 1;
                swept.expired_ids.push(record.id);
            }
            Some(Stored::Tombstone { .. }) => {
                sessions.remove(key).map_err(unavailable)?;
                swept.purged += 1;
            }
            None => {}
        }
    }
    Ok(swept)
}

/// Removes a session's idempotency token, unless a newer session took it over.
fn forget_token(
    tokens: &mut redb::Table<&str, u128>,
    record: &SessionRecord,
) -> Result<(), StoreError> {
    let Some(token) = &record.client_request_token else {
        return Ok(());
    };
    let key = token_key(&record.tenant, token);
    let owner = tokens
        .get(key.as_str())
        .map_err(unavailable)?
        .map(|guard| guard.value());
    if owner == Some(id_key(record.id)) {
        tokens.remove(key.as_str()).map_err(unavailable)?;
    }
    Ok(())
}

#[async_trait]
impl SessionStore for RedbStore {
    async fn create(&self, session: NewSession) -> Result<Created, StoreError> {
        self.write(|reply| Write::Create(session, reply)).await
    }

    async fn get(
        &self,
        tenant: &str,
        id: SessionId,
        now: UnixMillis,
    ) -> Result<Lookup, StoreError> {
        let db = Arc::clone(&self.db);
        let tenant = tenant.to_owned();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_read().map_err(unavailable)?;
            let sessions = txn.open_table(SESSIONS).map_err(unavailable)?;
            let stored = sessions
                .get(id_key(id))
                .map_err(unavailable)?
                .map(|g| decode(g.value()));
            Ok(match classify(stored.transpose()?, &tenant, now) {
                Ok(record) => Lookup::Found(record),
                Err(lookup) => lookup,
            })
        })
        .await
        .map_err(unavailable)?
    }

    async fn claim(
        &self,
        tenant: &str,
        id: SessionId,
        now: UnixMillis,
    ) -> Result<Claim, StoreError> {
        let tenant = tenant.to_owned();
        self.write(|reply| Write::Claim(tenant, id, now, reply))
            .await
    }

    async fn finish(
        &self,
        tenant: &str,
        id: SessionId,
        finish: Finish,
        now: UnixMillis,
    ) -> Result<Finished, StoreError> {
        let tenant = tenant.to_owned();
        self.write(|reply| Write::Finish(tenant, id, finish, now, reply))
            .await
    }

    async fn sweep(&self, now: UnixMillis, limit: usize) -> Result<Swept, StoreError> {
        self.write(|reply| Write::Sweep(now, limit, reply)).await
    }

    async fn ready(&self) -> bool {
        !self.writes.is_closed()
    }
}

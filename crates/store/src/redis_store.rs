//! The scale-out store: sessions in Redis, shared by every openliveness server behind a load
//! balancer, so that any server answers Create and Get for any session and exactly one server
//! streams it.
//!
//! Keys, with `<p>` the configured prefix (`ol` by default):
//! - `<p>:{<id>}:r`: the live session, lines of text: status, `expires_at`, `purge_at`, the
//!   tenant (JSON), what never changes (JSON), and once finished the result (JSON). Expires at
//!   `expires_at`. (Compact JSON has no raw newline, so the lines need no escaping; a string is
//!   half the memory of a hash whose values outgrow Redis's compact encoding.)
//! - `<p>:{<id>}:t`: the tombstone, `purge_at` and the tenant (JSON) on two lines. Expires at
//!   `purge_at`.
//! - `<p>:tok:{<n>:<tenant>:<token>}`: the idempotency token (`n` is the tenant's length),
//!   `"<id> <expires_at>"`. Expires at `expires_at`.
//!
//! A session's two keys share their hash tag, so they are in one cluster slot and every script
//! on a session runs over keys of one slot; the token key is in its own slot.
//!
//! The key decisions:
//! - Expiry is Redis's own. Each key gets the absolute time the caller computed (`PEXPIREAT`), so
//!   Redis deletes a session's data at `expires_at` and its tombstone at `purge_at` by its own
//!   clock, and [`SessionStore::sweep`] has nothing to do. Answers still follow the caller's `now`
//!   (a record past its `expires_at` answers `Expired` even before Redis deleted it), so the two
//!   clocks only decide when the bytes go, never what a caller is told; with the servers and
//!   Redis on NTP the difference is the clock skew. Absolute times also survive a restart of
//!   Redis from its append-only file and a failover to a replica.
//! - Claim and finish are Lua scripts over the session's two keys: the tenant, the status and the
//!   expiry are checked and the status changed in one step, so of two servers that start one
//!   session at once exactly one gets it. Scripts never decode the JSON: what they check and
//!   change is on lines of its own.
//! - Create writes the session, then takes the token with a script on the token key: if the
//!   token names a session of the tenant that is still live at `created_at`, that session's id is
//!   returned and the new one deleted; else the token is set to the new session. The token only
//!   ever names a session whose keys were written before it, so a caller who is told an id can
//!   read that session; of concurrent creates with one token the script picks exactly one. A
//!   failure between the two steps leaves a session nobody was told about, which expires.
//! - Every call has a deadline and fails with [`StoreError::Unavailable`] when Redis does not
//!   answer in time; the connection manager reconnects by itself on the next call.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use openliveness_protocol::{LivenessSessionStatus, SessionId, SessionSettings};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Script};
use serde::{Deserialize, Serialize};

use crate::{
    Claim, Created, Finish, Finished, Lookup, NewSession, SessionRecord, SessionResult,
    SessionStore, StoreError, Swept, UnixMillis,
};

/// Settings of the Redis store.
#[derive(Clone)]
pub struct RedisStoreConfig {
    /// `redis://[user:password@]host:port/db` (or `rediss://` with TLS).
    pub url: String,
    /// Every key starts with `<prefix>:`; without `{` or `}`.
    pub key_prefix: String,
    /// The longest one call may take, reconnecting included, before it fails.
    pub timeout: Duration,
}

impl RedisStoreConfig {
    pub const DEFAULT_KEY_PREFIX: &'static str = "ol";
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

    pub fn new(url: impl Into<String>) -> RedisStoreConfig {
        RedisStoreConfig {
            url: url.into(),
            key_prefix: RedisStoreConfig::DEFAULT_KEY_PREFIX.to_owned(),
            timeout: RedisStoreConfig::DEFAULT_TIMEOUT,
        }
    }
}

impl std::fmt::Debug for RedisStoreConfig {
    /// Leaves out the URL, which may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStoreConfig")
            .field("url", &"<redacted>")
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Writes a new session's two keys. KEYS: record, tombstone. ARGV: record, expires_at,
/// tombstone, purge_at. Returns 0 when the id is taken.
const CREATE: &str = r"
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'PXAT', ARGV[4])
return 1
";

/// Takes an idempotency token. KEYS: token. ARGV: id, expires_at, created_at. Returns the id of
/// the session the token names afterwards: an earlier one still live at `created_at`, or `id`.
const TAKE_TOKEN: &str = r"
local owner = redis.call('GET', KEYS[1])
if owner then
  local space = string.find(owner, ' ', 1, true)
  if space and tonumber(string.sub(owner, space + 1)) > tonumber(ARGV[3]) then
    return string.sub(owner, 1, space - 1)
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'PXAT', ARGV[2])
return ARGV[1]
";

/// The checks claim and finish share. KEYS: record, tombstone. ARGV: tenant (JSON), now, ...
/// Leaves `record` and its `status` for a live session of the tenant, or returns `{'expired'}`
/// or `{'not_found'}`.
macro_rules! live_session_lua {
    () => {
        r"
local now = tonumber(ARGV[2])
local record = redis.call('GET', KEYS[1])
if not record then
  local tombstone = redis.call('GET', KEYS[2])
  if tombstone then
    local purge_at, tenant = string.match(tombstone, '^([^\n]*)\n(.*)$')
    if tenant == ARGV[1] and tonumber(purge_at) > now then return {'expired'} end
  end
  return {'not_found'}
end
local status, expires_at, purge_at, tenant =
  string.match(record, '^([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n')
if tenant ~= ARGV[1] then return {'not_found'} end
if tonumber(expires_at) <= now then
  if tonumber(purge_at) <= now then return {'not_found'} end
  return {'expired'}
end
"
    };
}

/// Moves a `CREATED` session to `IN_PROGRESS`. Returns `{'claimed', record}`,
/// `{'started', status}` or what the live check returns.
const CLAIM: &str = concat!(
    live_session_lua!(),
    r"
if status ~= 'CREATED' then return {'started', status} end
local claimed = 'IN_PROGRESS' .. string.sub(record, #status + 1)
redis.call('SET', KEYS[1], claimed, 'KEEPTTL')
return {'claimed', claimed}
"
);

/// Ends an `IN_PROGRESS` session. ARGV after tenant and now: status, result JSON. Returns
/// `{'done'}`, `{'not_in_progress', status}` or what the live check returns.
const FINISH: &str = concat!(
    live_session_lua!(),
    r"
if status ~= 'IN_PROGRESS' then return {'not_in_progress', status} end
redis.call('SET', KEYS[1], ARGV[3] .. string.sub(record, #status + 1) .. '\n' .. ARGV[4],
  'KEEPTTL')
return {'done'}
"
);

/// What never changes in a session, stored as JSON in its `session` field.
#[derive(Debug, Serialize, Deserialize)]
struct StoredSession {
    id: SessionId,
    client_request_token: Option<String>,
    settings: SessionSettings,
    created_at: UnixMillis,
}

struct Scripts {
    create: Script,
    take_token: Script,
    claim: Script,
    finish: Script,
}

/// The Redis session store.
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
    scripts: Scripts,
}

/// A session's keys.
struct SessionKeys {
    record: String,
    tombstone: String,
}

fn unavailable(error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

fn parse_status(text: &str) -> Result<LivenessSessionStatus, StoreError> {
    LivenessSessionStatus::ALL
        .into_iter()
        .find(|status| status.as_str() == text)
        .ok_or_else(|| corrupt(format!("unknown status {text:?}")))
}

fn tenant_json(tenant: &str) -> Result<String, StoreError> {
    serde_json::to_string(tenant).map_err(corrupt)
}

/// A session's record: the lines the scripts read, then the JSON.
fn encode_record(session: &NewSession) -> Result<String, StoreError> {
    let stored = StoredSession {
        id: session.id,
        client_request_token: session.client_request_token.clone(),
        settings: session.settings.clone(),
        created_at: session.created_at,
    };
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}",
        LivenessSessionStatus::Created.as_str(),
        session.expires_at,
        session.purge_at,
        tenant_json(&session.tenant)?,
        serde_json::to_string(&stored).map_err(corrupt)?
    ))
}

fn decode_record(text: &str) -> Result<SessionRecord, StoreError> {
    let mut lines = text.splitn(6, '\n');
    let mut line = |name: &str| {
        lines
            .next()
            .ok_or_else(|| corrupt(format!("session record without {name}")))
    };
    let status = parse_status(line("status")?)?;
    let expires_at = parse_millis(line("expires_at")?)?;
    let purge_at = parse_millis(line("purge_at")?)?;
    let tenant: String = serde_json::from_str(line("tenant")?).map_err(corrupt)?;
    let session: StoredSession = serde_json::from_str(line("session")?).map_err(corrupt)?;
    let result: Option<SessionResult> = lines
        .next()
        .map(serde_json::from_str)
        .transpose()
        .map_err(corrupt)?;
    Ok(SessionRecord {
        id: session.id,
        tenant,
        client_request_token: session.client_request_token,
        settings: session.settings,
        status,
        created_at: session.created_at,
        expires_at,
        purge_at,
        result,
    })
}

/// A tombstone's purge time and tenant.
fn decode_tombstone(text: &str) -> Result<(UnixMillis, String), StoreError> {
    let (purge_at, tenant) = text
        .split_once('\n')
        .ok_or_else(|| corrupt("tombstone without tenant"))?;
    Ok((
        parse_millis(purge_at)?,
        serde_json::from_str(tenant).map_err(corrupt)?,
    ))
}

fn parse_millis(text: &str) -> Result<UnixMillis, StoreError> {
    text.parse()
        .map_err(|_| corrupt(format!("{text:?} is not a time")))
}

impl RedisStore {
    /// Makes the store without connecting: it connects on the first call, and reconnects after
    /// Redis went away, by itself. Needs a running tokio runtime.
    pub fn open(config: RedisStoreConfig) -> Result<RedisStore, StoreError> {
        if config.key_prefix.contains(['{', '}']) {
            return Err(unavailable(
                "the Redis key prefix must not contain { or } (they choose the cluster slot)",
            ));
        }
        let client = redis::Client::open(config.url.as_str())
            .map_err(|error| unavailable(format!("invalid Redis URL: {error}")))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(200));
        let connection = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|error| unavailable(format!("redis: {error}")))?;
        Ok(RedisStore {
            connection,
            prefix: config.key_prefix,
            timeout: config.timeout,
            scripts: Scripts {
                create: Script::new(CREATE),
                take_token: Script::new(TAKE_TOKEN),
                claim: Script::new(CLAIM),
                finish: Script::new(FINISH),
            },
        })
    }

    fn session_keys(&self, id: SessionId) -> SessionKeys {
        SessionKeys {
            record: format!("{}:{{{id}}}:r", self.prefix),
            tombstone: format!("{}:{{{id}}}:t", self.prefix),
        }
    }

    fn token_key(&self, tenant: &str, token: &str) -> String {
        format!("{}:tok:{{{}:{tenant}:{token}}}", self.prefix, tenant.len())
    }

    /// Runs one Redis call within the deadline.
    async fn call<T>(
        &self,
        what: &str,
        call: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(unavailable(format!("redis {what}: {error}"))),
            Err(_) => Err(unavailable(format!(
                "redis {what}: no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    /// Runs claim or finish; the reply's first element says what happened.
    async fn run_session_script(
        &self,
        what: &str,
        script: &Script,
        tenant: &str,
        id: SessionId,
        now: UnixMillis,
        more: &[&str],
    ) -> Result<Vec<Option<String>>, StoreError> {
        let keys = self.session_keys(id);
        let mut invocation = script.prepare_invoke();
        invocation
            .key(&keys.record)
            .key(&keys.tombstone)
            .arg(tenant_json(tenant)?)
            .arg(now);
        for arg in more {
            invocation.arg(*arg);
        }
        let mut connection = self.connection.clone();
        let reply: Vec<Option<String>> = self
            .call(what, invocation.invoke_async(&mut connection))
            .await?;
        if reply.first().is_none_or(Option::is_none) {
            return Err(corrupt(format!("redis {what}: empty script reply")));
        }
        Ok(reply)
    }
}

/// What the first element of a claim or finish reply means when the session is not live.
fn not_live(outcome: &str) -> Option<Lookup> {
    match outcome {
        "expired" => Some(Lookup::Expired),
        "not_found" => Some(Lookup::NotFound),
        _ => None,
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, session: NewSession) -> Result<Created, StoreError> {
        let keys = self.session_keys(session.id);
        let tombstone = format!("{}\n{}", session.purge_at, tenant_json(&session.tenant)?);
        let mut invocation = self.scripts.create.prepare_invoke();
        invocation
            .key(&keys.record)
            .key(&keys.tombstone)
            .arg(encode_record(&session)?)
            .arg(session.expires_at)
            .arg(tombstone)
            .arg(session.purge_at);
        let mut connection = self.connection.clone();
        let written: i64 = self
            .call("create", invocation.invoke_async(&mut connection))
            .await?;
        if written == 0 {
            return Err(unavailable(format!("session id {} is taken", session.id)));
        }
        let new = Created {
            id: session.id,
            is_new: true,
        };
        let Some(token) = &session.client_request_token else {
            return Ok(new);
        };
        let mut invocation = self.scripts.take_token.prepare_invoke();
        invocation
            .key(self.token_key(&session.tenant, token))
            .arg(session.id.to_string())
            .arg(session.expires_at)
            .arg(session.created_at);
        let owner: String = self
            .call("create token", invocation.invoke_async(&mut connection))
            .await?;
        let owner = SessionId::parse(&owner)
            .ok_or_else(|| corrupt(format!("token names {owner:?}, not a session id")))?;
        if owner == session.id {
            return Ok(new);
        }
        // The token names a live session of this tenant: that is the answer, and the session
        // just written is not needed (if deleting it fails, it expires by itself).
        let mut delete = redis::cmd("DEL");
        delete.arg(&keys.record).arg(&keys.tombstone);
        let deleted = delete.query_async::<i64>(&mut connection);
        if let Err(error) = self.call("create cleanup", deleted).await {
            tracing::warn!(%error, session_id = %session.id, "could not delete a duplicate session");
        }
        Ok(Created {
            id: owner,
            is_new: false,
        })
    }

    async fn get(
        &self,
        tenant: &str,
        id: SessionId,
        now: UnixMillis,
    ) -> Result<Lookup, StoreError> {
        let keys = self.session_keys(id);
        let mut read = redis::cmd("MGET");
        read.arg(&keys.record).arg(&keys.tombstone);
        let mut connection = self.connection.clone();
        let (record, tombstone): (Option<String>, Option<String>) =
            self.call("get", read.query_async(&mut connection)).await?;
        if let Some(record) = record {
            let record = decode_record(&record)?;
            if record.tenant != tenant {
                return Ok(Lookup::NotFound);
            }
            return Ok(if record.expires_at > now {
                Lookup::Found(Box::new(record))
            } else if record.purge_at > now {
                Lookup::Expired
            } else {
                Lookup::NotFound
            });
        }
        if let Some(tombstone) = tombstone {
            let (purge_at, owner) = decode_tombstone(&tombstone)?;
            if owner == tenant && purge_at > now {
                return Ok(Lookup::Expired);
            }
        }
        Ok(Lookup::NotFound)
    }

    async fn claim(
        &self,
        tenant: &str,
        id: SessionId,
        now: UnixMillis,
    ) -> Result<Claim, StoreError> {
        let reply = self
            .run_session_script("claim", &self.scripts.claim, tenant, id, now, &[])
            .await?;
        let text = |index: usize| reply.get(index).cloned().flatten().unwrap_or_default();
        let outcome = text(0);
        match outcome.as_str() {
            "claimed" => Ok(Claim::Claimed(Box::new(decode_record(&text(1))?))),
            "started" => Ok(Claim::AlreadyStarted(parse_status(&text(1))?)),
            other => match not_live(other) {
                Some(Lookup::Expired) => Ok(Claim::Expired),
                Some(_) => Ok(Claim::NotFound),
                None => Err(corrupt(format!("redis claim: unexpected reply {other:?}"))),
            },
        }
    }

    async fn finish(
        &self,
        tenant: &str,
        id: SessionId,
        finish: Finish,
        now: UnixMillis,
    ) -> Result<Finished, StoreError> {
        let result = serde_json::to_string(&finish.result).map_err(corrupt)?;
        let reply = self
            .run_session_script(
                "finish",
                &self.scripts.finish,
                tenant,
                id,
                now,
                &[finish.status.as_str(), &result],
            )
            .await?;
        let text = |index: usize| reply.get(index).cloned().flatten().unwrap_or_default();
        let outcome = text(0);
        match outcome.as_str() {
            "done" => Ok(Finished::Done),
            "not_in_progress" => Ok(Finished::NotInProgress(parse_status(&text(1))?)),
            other => match not_live(other) {
                Some(Lookup::Expired) => Ok(Finished::Expired),
                Some(_) => Ok(Finished::NotFound),
                None => Err(corrupt(format!("redis finish: unexpected reply {other:?}"))),
            },
        }
    }

    /// Nothing to do: Redis deletes each key at the time it was given.
    async fn sweep(&self, _now: UnixMillis, _limit: usize) -> Result<Swept, StoreError> {
        Ok(Swept::default())
    }

    /// Whether Redis answers a `PING` within the deadline.
    /// Redis answers a PING. Twice at most: after Redis was away, the first command on the old
    /// connection fails and makes the manager reconnect, and the second goes over the new one, so
    /// a server that was idle through the outage is ready as soon as Redis is back.
    async fn ready(&self) -> bool {
        for _ in 0..2 {
            let mut connection = self.connection.clone();
            let ping = redis::cmd("PING");
            let pong = ping.query_async::<String>(&mut connection);
            if self.call("ping", pong).await.is_ok() {
                return true;
            }
        }
        false
    }
}

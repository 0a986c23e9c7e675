//! Credentials: who may call, with which secret, on behalf of which tenant.

use std::collections::HashMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A secret (secret access key or session token): never printed, zeroed when dropped.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<String>);

impl<'de> Deserialize<'de> for SecretKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<SecretKey, D::Error> {
        String::deserialize(deserializer).map(SecretKey::new)
    }
}

impl SecretKey {
    pub fn new(secret: impl Into<String>) -> SecretKey {
        SecretKey(Zeroizing::new(secret.into()))
    }

    /// The secret itself. Every use is explicit so that it can be audited.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Compared in constant time.
impl PartialEq for SecretKey {
    fn eq(&self, other: &SecretKey) -> bool {
        crate::sigv4::signatures_match(self.expose(), other.expose())
    }
}

impl Eq for SecretKey {}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A tenant: the account that owns sessions. One tenant never sees another's sessions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    pub fn new(id: impl Into<String>) -> TenantId {
        TenantId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One access key.
#[derive(Debug, Clone)]
pub struct Credential {
    pub access_key_id: String,
    pub secret_access_key: SecretKey,
    pub tenant: TenantId,
    /// Temporary credentials carry a session token that every request must present
    /// (`X-Amz-Security-Token`).
    pub session_token: Option<SecretKey>,
    /// Temporary credentials stop working at this time.
    pub expires_at: Option<SystemTime>,
    /// The actions (`rekognition:CreateFaceLivenessSession`, ...) this key may perform;
    /// `None` allows all.
    pub allowed_actions: Option<Vec<String>>,
    /// Session-scoped client credentials: the one session this key may stream; `None` for any.
    pub session_id: Option<String>,
}

impl Credential {
    /// A long-term key of `tenant`, allowed every action on every session.
    pub fn new(access_key_id: &str, secret_access_key: &str, tenant: &str) -> Credential {
        Credential {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: SecretKey::new(secret_access_key),
            tenant: TenantId::new(tenant),
            session_token: None,
            expires_at: None,
            allowed_actions: None,
            session_id: None,
        }
    }
}

/// Where credentials are looked up by access key id.
pub trait CredentialStore: Send + Sync {
    fn lookup(&self, access_key_id: &str) -> Option<Credential>;

    /// The credential for an access key id and the session token the request presented
    /// (stateless credentials are read from their token).
    fn lookup_with_token(
        &self,
        access_key_id: &str,
        _session_token: Option<&str>,
    ) -> Option<Credential> {
        self.lookup(access_key_id)
    }
}

/// Credentials fixed at start-up (from the configuration).
#[derive(Debug, Default, Clone)]
pub struct StaticCredentials {
    by_access_key: HashMap<String, Credential>,
}

impl StaticCredentials {
    pub fn new(credentials: impl IntoIterator<Item = Credential>) -> StaticCredentials {
        StaticCredentials {
            by_access_key: credentials
                .into_iter()
                .map(|credential| (credential.access_key_id.clone(), credential))
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.by_access_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_access_key.is_empty()
    }
}

impl CredentialStore for StaticCredentials {
    fn lookup(&self, access_key_id: &str) -> Option<Credential> {
        self.by_access_key.get(access_key_id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_secrets() {
        let credential = Credential {
            access_key_id: "AKIDVISIBLE".to_owned(),
            secret_access_key: SecretKey::new("the-secret-key"),
            tenant: TenantId::new("1"),
            session_token: Some(SecretKey::new("the-session-token")),
            expires_at: None,
            allowed_actions: None,
            session_id: None,
        };
        let printed = format!(
            "{credential:?} {:?}",
            StaticCredentials::new([credential.clone()])
        );
        assert!(printed.contains("AKIDVISIBLE"));
        assert!(!printed.contains("the-secret-key"), "{printed}");
        assert!(!printed.contains("the-session-token"), "{printed}");
    }
}

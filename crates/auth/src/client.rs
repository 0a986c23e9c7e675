//! Session-scoped client credentials: temporary keys an app backend hands to a browser, allowed
//! to do exactly one thing, `StartFaceLivenessSession` for one session of one tenant, until an
//! expiry no later than the session's.
//!
//! The key decision: they are stateless. The session token is an authenticated blob,
//! `OLCT1.<hex payload>.<hex HMAC-SHA256 tag>`, whose payload names the tenant, the session id,
//! the expiry and the access key id; the secret access key is derived from the payload with the
//! server's key. Any server holding the same key verifies them without a lookup, so they work
//! across servers sharing a Redis store with nothing stored. The browser sends the token with
//! every request (`X-Amz-Security-Token`), but without the server's key nobody can derive the
//! secret from it nor forge or alter a token; tags are compared in constant time.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use crate::{sigv4, Credential, CredentialStore, SecretKey, TenantId};

/// Every client access key id starts with this.
pub const ACCESS_KEY_PREFIX: &str = "OLCA";
/// Every client session token starts with this.
pub const TOKEN_PREFIX: &str = "OLCT1.";
/// The one action client credentials allow.
pub const ALLOWED_ACTION: &str = "rekognition:StartFaceLivenessSession";

const TOKEN_LABEL: &str = "openliveness client credentials v1: token\n";
const SECRET_LABEL: &str = "openliveness client credentials v1: secret\n";

/// The server's key that signs client credentials: 32 bytes, never printed, zeroed on drop.
#[derive(Clone)]
pub struct ClientCredentialKey(Zeroizing<Vec<u8>>);

impl ClientCredentialKey {
    pub const LEN: usize = 32;

    /// A key from its 64 hexadecimal digits.
    pub fn from_hex(text: &str) -> Option<ClientCredentialKey> {
        let bytes = Zeroizing::new(hex::decode(text.trim()).ok()?);
        (bytes.len() == Self::LEN).then(|| ClientCredentialKey(bytes))
    }

    pub fn from_bytes(bytes: [u8; Self::LEN]) -> ClientCredentialKey {
        ClientCredentialKey(Zeroizing::new(bytes.to_vec()))
    }

    /// The key's 64 hexadecimal digits (to write it to its file).
    pub fn expose_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_slice()))
    }

    fn mac(&self, label: &str, payload: &str) -> String {
        sigv4::signature(&self.0, &format!("{label}{payload}"))
    }
}

impl std::fmt::Debug for ClientCredentialKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientCredentialKey(<redacted>)")
    }
}

/// What a client credential allows: one session of one tenant, until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientGrant {
    pub tenant: TenantId,
    pub session_id: String,
    pub expires_at: SystemTime,
}

/// A minted client credential, as handed to the browser.
#[derive(Debug, Clone)]
pub struct ClientCredential {
    pub access_key_id: String,
    pub secret_access_key: SecretKey,
    pub session_token: SecretKey,
    pub expires_at: SystemTime,
}

/// Why a grant cannot be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    #[error("tenant and session id must be non-empty printable text without line breaks")]
    Unprintable,
}

/// Mints the credential for `grant`; `nonce` (random, from the caller) makes the access key id.
pub fn mint(
    key: &ClientCredentialKey,
    grant: &ClientGrant,
    nonce: [u8; 10],
) -> Result<ClientCredential, MintError> {
    let printable = |text: &str| !text.is_empty() && text.chars().all(|c| !c.is_control());
    if !printable(grant.tenant.as_str()) || !printable(&grant.session_id) {
        return Err(MintError::Unprintable);
    }
    let access_key_id = format!("{ACCESS_KEY_PREFIX}{}", base32(&nonce));
    let expires_millis = grant
        .expires_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let payload = format!(
        "{}\n{}\n{expires_millis}\n{access_key_id}",
        grant.tenant, grant.session_id
    );
    let token = format!(
        "{TOKEN_PREFIX}{}.{}",
        hex::encode(payload.as_bytes()),
        key.mac(TOKEN_LABEL, &payload)
    );
    Ok(ClientCredential {
        secret_access_key: SecretKey::new(key.mac(SECRET_LABEL, &payload)),
        session_token: SecretKey::new(token),
        expires_at: UNIX_EPOCH + Duration::from_millis(expires_millis as u64),
        access_key_id,
    })
}

/// The credential a presented access key id and session token stand for, if the token is one
/// this key made, unaltered, for this access key id. Expiry is checked by the caller (it is
/// [`Credential::expires_at`]).
pub fn verify(
    key: &ClientCredentialKey,
    access_key_id: &str,
    session_token: &str,
) -> Option<(Credential, ClientGrant)> {
    let rest = session_token.strip_prefix(TOKEN_PREFIX)?;
    let (payload_hex, tag) = rest.split_once('.')?;
    let payload = String::from_utf8(hex::decode(payload_hex).ok()?).ok()?;
    if !sigv4::signatures_match(&key.mac(TOKEN_LABEL, &payload), tag) {
        return None;
    }
    let mut fields = payload.split('\n');
    let tenant = fields.next()?;
    let session_id = fields.next()?;
    let expires_millis: u64 = fields.next()?.parse().ok()?;
    let token_key_id = fields.next()?;
    if fields.next().is_some() || token_key_id != access_key_id {
        return None;
    }
    let grant = ClientGrant {
        tenant: TenantId::new(tenant),
        session_id: session_id.to_owned(),
        expires_at: UNIX_EPOCH + Duration::from_millis(expires_millis),
    };
    let credential = Credential {
        access_key_id: access_key_id.to_owned(),
        secret_access_key: SecretKey::new(key.mac(SECRET_LABEL, &payload)),
        tenant: grant.tenant.clone(),
        session_token: Some(SecretKey::new(session_token)),
        expires_at: Some(grant.expires_at),
        allowed_actions: Some(vec![ALLOWED_ACTION.to_owned()]),
        session_id: Some(grant.session_id.clone()),
    };
    Some((credential, grant))
}

/// The configured credentials plus the client credentials `key` signs.
pub struct WithClientCredentials {
    inner: Arc<dyn CredentialStore>,
    key: ClientCredentialKey,
}

impl WithClientCredentials {
    pub fn new(inner: Arc<dyn CredentialStore>, key: ClientCredentialKey) -> WithClientCredentials {
        WithClientCredentials { inner, key }
    }
}

impl CredentialStore for WithClientCredentials {
    fn lookup(&self, access_key_id: &str) -> Option<Credential> {
        self.inner.lookup(access_key_id)
    }

    fn lookup_with_token(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Option<Credential> {
        if access_key_id.starts_with(ACCESS_KEY_PREFIX) {
            if let Some(token) = session_token {
                if let Some((credential, _)) = verify(&self.key, access_key_id, token) {
                    return Some(credential);
                }
            }
        }
        self.inner.lookup_with_token(access_key_id, session_token)
    }
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn key(byte: u8) -> ClientCredentialKey {
        ClientCredentialKey::from_bytes([byte; 32])
    }

    fn grant() -> ClientGrant {
        ClientGrant {
            tenant: TenantId::new("111111111111"),
            session_id: "6f0e9a40-2a4f-4bd0-9a43-0d7c9f3b2f11".to_owned(),
            expires_at: UNIX_EPOCH + Duration::from_millis(1_798_761_600_123),
        }
    }

    #[test]
    fn a_minted_credential_verifies_to_its_grant_and_secret() {
        let minted = mint(&key(1), &grant(), [7; 10]).unwrap();
        assert!(minted.access_key_id.starts_with(ACCESS_KEY_PREFIX));
        assert_eq!(minted.access_key_id.len(), ACCESS_KEY_PREFIX.len() + 16);
        let (credential, verified) = verify(
            &key(1),
            &minted.access_key_id,
            minted.session_token.expose(),
        )
        .unwrap();
        assert_eq!(verified, grant());
        assert_eq!(
            credential.secret_access_key.expose(),
            minted.secret_access_key.expose()
        );
        assert_eq!(
            credential.allowed_actions,
            Some(vec![ALLOWED_ACTION.to_owned()])
        );
        assert_eq!(
            credential.session_id.as_deref(),
            Some(grant().session_id.as_str())
        );
        assert_eq!(credential.expires_at, Some(grant().expires_at));
        // The secret is not in the token.
        assert!(!minted
            .session_token
            .expose()
            .contains(minted.secret_access_key.expose()));
    }

    #[test]
    fn altered_tokens_other_keys_and_other_key_ids_are_refused() {
        let minted = mint(&key(1), &grant(), [7; 10]).unwrap();
        let token = minted.session_token.expose().to_owned();
        assert!(verify(&key(2), &minted.access_key_id, &token).is_none());
        let other_id = mint(&key(1), &grant(), [8; 10]).unwrap().access_key_id;
        assert!(verify(&key(1), &other_id, &token).is_none());
        // Another session id or a later expiry in the payload, with the old tag.
        let (_, rest) = token.split_once(TOKEN_PREFIX).unwrap();
        let (payload_hex, tag) = rest.split_once('.').unwrap();
        let payload = String::from_utf8(hex::decode(payload_hex).unwrap()).unwrap();
        for altered in [
            payload.replace("2f11", "2f12"),
            payload.replace("1798761600123", "1898761600123"),
            payload.replace("111111111111", "222222222222"),
        ] {
            assert_ne!(altered, payload);
            let forged = format!("{TOKEN_PREFIX}{}.{tag}", hex::encode(altered));
            assert!(verify(&key(1), &minted.access_key_id, &forged).is_none());
        }
        for garbage in [
            "",
            "OLCT1.",
            "OLCT1.zz.zz",
            "OLCT1..",
            &token[..token.len() - 1],
        ] {
            assert!(verify(&key(1), &minted.access_key_id, garbage).is_none());
        }
    }

    #[test]
    fn the_store_answers_client_keys_only_with_their_token() {
        let store =
            WithClientCredentials::new(Arc::new(crate::StaticCredentials::default()), key(1));
        let minted = mint(&key(1), &grant(), [7; 10]).unwrap();
        assert!(store.lookup(&minted.access_key_id).is_none());
        assert!(store
            .lookup_with_token(&minted.access_key_id, Some("OLCT1.00.00"))
            .is_none());
        assert!(store
            .lookup_with_token(&minted.access_key_id, Some(minted.session_token.expose()))
            .is_some());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = ClientCredentialKey::from_hex(&"ab".repeat(32)).unwrap();
        assert!(!format!("{key:?}").contains("ab"));
        assert!(ClientCredentialKey::from_hex("abcd").is_none());
    }
}

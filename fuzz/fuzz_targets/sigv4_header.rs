//! Any `Authorization`, `X-Amz-Date`, path and query (header-signed or presigned) must end in a
//! principal or an `AuthError`, never a panic.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use openliveness_auth::{
    verify_header_auth, verify_presigned, Credential, HeaderRequest, PresignedRequest, SecretKey,
    StaticCredentials, TenantId,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let authorization = parts.next().unwrap_or_default();
    let date = parts.next().unwrap_or_default();
    let path = parts.next().unwrap_or("/");
    let query = parts.next().unwrap_or_default();
    let mut headers = http::HeaderMap::new();
    for (name, value) in [("authorization", authorization), ("x-amz-date", date), ("host", "localhost")] {
        if let Ok(value) = http::HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    let credentials = StaticCredentials::new([Credential {
        access_key_id: "AKIDFUZZ".to_owned(),
        secret_access_key: SecretKey::new("fuzz"),
        tenant: TenantId::new("1"),
        session_token: None,
        expires_at: None,
        allowed_actions: None,
        session_id: None,
    }]);
    let request = HeaderRequest {
        method: "POST",
        raw_path: path,
        raw_query: query,
        headers: &headers,
        authority: None,
        payload_hash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_780_000_000);
    let _ = verify_header_auth(&request, &credentials, "rekognition", now);
    let presigned = PresignedRequest { method: "GET", raw_path: path, raw_query: query, headers: &headers, authority: None };
    let _ = verify_presigned(&presigned, &credentials, "rekognition", now);
});

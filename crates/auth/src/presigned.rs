//! SigV4 in the query string (a presigned URL): what the WebSocket transport of
//! `StartFaceLivenessSession` uses.

use std::time::{Duration, SystemTime};

use http::HeaderMap;

use crate::header::{
    authorize_credential, canonical_headers, check_not_in_future, expected_signature, mismatch,
    parse_scope, require_host, Principal,
};
use crate::sigv4;
use crate::{AuthError, CredentialStore};

/// The longest `X-Amz-Expires` SigV4 allows (7 days).
pub const MAX_EXPIRES_SECS: u64 = 604_800;

/// The parts of a received request that a presigned URL's signature covers.
#[derive(Debug, Clone, Copy)]
pub struct PresignedRequest<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    pub authority: Option<&'a str>,
}

/// Whether a query carries presigned-URL authentication at all.
pub fn is_presigned(raw_query: &str) -> bool {
    sigv4::query_pairs(raw_query)
        .iter()
        .any(|(name, _)| name == "X-Amz-Signature" || name == "X-Amz-Credential")
}

/// Verifies a presigned request for `service`.
///
/// The payload hash is that of an empty body, as presigned GETs are signed. The JavaScript signer
/// signs the host without its port; both forms of the host are accepted.
pub fn verify_presigned(
    request: &PresignedRequest<'_>,
    credentials: &dyn CredentialStore,
    service: &str,
    now: SystemTime,
) -> Result<Principal, AuthError> {
    let pairs = sigv4::query_pairs(request.raw_query);
    let get = |name: &str| -> Result<Option<&str>, AuthError> {
        let mut values = pairs
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(AuthError::Incomplete(format!(
                "Only one '{name}' query parameter is allowed."
            )));
        }
        Ok(first)
    };
    let required = |name: &str| -> Result<&str, AuthError> {
        get(name)?.ok_or_else(|| {
            AuthError::Incomplete(format!(
                "Query-string authentication requires the {name} parameter."
            ))
        })
    };
    if !is_presigned(request.raw_query) {
        return Err(AuthError::Missing);
    }
    let algorithm = required("X-Amz-Algorithm")?;
    if algorithm != sigv4::ALGORITHM {
        return Err(AuthError::Incomplete(format!(
            "Unsupported X-Amz-Algorithm '{}'.",
            algorithm.chars().take(64).collect::<String>()
        )));
    }
    let scope = parse_scope(required("X-Amz-Credential")?, service)?;
    let amz_date = required("X-Amz-Date")?;
    let signed_at = sigv4::parse_amz_date(amz_date).ok_or_else(|| {
        AuthError::Incomplete("X-Amz-Date must be in ISO-8601 basic format.".to_owned())
    })?;
    if amz_date[..8] != scope.date {
        return Err(AuthError::InvalidSignature(
            "Date in Credential scope does not match X-Amz-Date.".to_owned(),
        ));
    }
    let expires: u64 = required("X-Amz-Expires")?
        .parse()
        .ok()
        .filter(|seconds| (1..=MAX_EXPIRES_SECS).contains(seconds))
        .ok_or_else(|| {
            AuthError::Incomplete(format!(
                "X-Amz-Expires must be a number of seconds from 1 to {MAX_EXPIRES_SECS}."
            ))
        })?;
    if now > signed_at + Duration::from_secs(expires) {
        return Err(AuthError::InvalidSignature(format!(
            "Signature expired: the URL signed at {amz_date} was valid for {expires} seconds."
        )));
    }
    check_not_in_future(amz_date, signed_at, now)?;
    let signed_headers = required("X-Amz-SignedHeaders")?;
    let signed_header_names: Vec<&str> = signed_headers.split(';').collect();
    require_host(&signed_header_names)?;
    let provided = required("X-Amz-Signature")?;
    let credential = authorize_credential(credentials, &scope, get("X-Amz-Security-Token")?, now)?;

    let unsigned: Vec<(String, String)> = pairs
        .iter()
        .filter(|(name, _)| name != "X-Amz-Signature")
        .cloned()
        .collect();
    let canonical_query = sigv4::canonical_query(&unsigned);
    let canonical_uri = sigv4::canonical_uri(request.raw_path);
    let mut headers = canonical_headers(request.headers, &signed_header_names, request.authority)?;
    let host_index = signed_header_names.iter().position(|name| *name == "host");
    let mut hosts = vec![host_index.map(|i| headers[i].1.clone()).unwrap_or_default()];
    if let Some((without_port, _)) = hosts[0]
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
    {
        let without_port = without_port.to_owned();
        hosts.push(without_port);
    }
    let empty_payload = sigv4::sha256_hex(b"");
    let mut matched = false;
    let mut signature = String::new();
    for host in hosts {
        if let Some(i) = host_index {
            headers[i].1 = host;
        }
        let canonical_request = sigv4::canonical_request(
            request.method,
            &canonical_uri,
            &canonical_query,
            &headers,
            signed_headers,
            &empty_payload,
        );
        let expected =
            expected_signature(&credential, &scope, amz_date, signed_at, &canonical_request);
        // Every candidate is computed and compared, matched or not, in constant time.
        if sigv4::signatures_match(&expected, provided) {
            matched = true;
            signature = expected;
        }
    }
    if !matched {
        return Err(mismatch());
    }
    Ok(Principal {
        tenant: credential.tenant,
        access_key_id: scope.access_key_id,
        region: scope.region,
        signature,
        signed_at,
        allowed_actions: credential.allowed_actions,
        session_id: credential.session_id,
        session_token: credential.session_token,
    })
}

#[cfg(test)]
mod tests {
    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{
        sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    };
    use aws_sigv4::sign::v4::SigningParams;

    use super::*;
    use crate::{Credential, StaticCredentials, TenantId};

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000)
    }

    fn store() -> StaticCredentials {
        StaticCredentials::new([Credential::new(
            "AKIDPRESIGN",
            "presign-secret",
            "111111111111",
        )])
    }

    /// Presigns a WebSocket URL with `aws-sigv4`, signing `host` as `signed_host`.
    fn presign(signed_host: &str, secret: &str, at: SystemTime, expires: u64) -> String {
        let identity = Credentials::new("AKIDPRESIGN", secret, None, None, "test").into();
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(expires));
        let params = SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("rekognition")
            .time(at)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let url = format!(
            "https://{signed_host}/start-face-liveness-session-websocket?session-id=0f7c5ad4-5c4e-4b7a-9d0c-3b4f0d6a2e11&video-width=640"
        );
        let signable = SignableRequest::new(
            "GET",
            &url,
            [("host", signed_host)].into_iter(),
            SignableBody::Bytes(b""),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut request = http::Request::builder().uri(&url).body(()).unwrap();
        instructions.apply_to_request_http1x(&mut request);
        request.uri().query().unwrap().to_owned()
    }

    fn verify(query: &str, host: &str, at: SystemTime) -> Result<Principal, AuthError> {
        let mut headers = HeaderMap::new();
        headers.insert("host", host.parse().unwrap());
        let request = PresignedRequest {
            method: "GET",
            raw_path: "/start-face-liveness-session-websocket",
            raw_query: query,
            headers: &headers,
            authority: None,
        };
        verify_presigned(&request, &store(), "rekognition", at)
    }

    #[test]
    fn accepts_the_host_with_or_without_its_port() {
        let with_port = presign("127.0.0.1:8443", "presign-secret", now(), 299);
        let principal = verify(&with_port, "127.0.0.1:8443", now()).unwrap();
        assert_eq!(principal.tenant, TenantId::new("111111111111"));
        assert_eq!(principal.signature.len(), 64);
        let without_port = presign("127.0.0.1", "presign-secret", now(), 299);
        assert!(verify(&without_port, "127.0.0.1:8443", now()).is_ok());
        assert!(matches!(
            verify(&without_port, "127.0.0.2:8443", now()),
            Err(AuthError::InvalidSignature(_))
        ));
    }

    #[test]
    fn refuses_wrong_secrets_changed_queries_and_expired_urls() {
        let query = presign("localhost:1", "presign-secret", now(), 60);
        assert!(matches!(
            verify(
                &query.replace("video-width=640", "video-width=641"),
                "localhost:1",
                now()
            ),
            Err(AuthError::InvalidSignature(_))
        ));
        let wrong = presign("localhost:1", "other", now(), 60);
        assert!(matches!(
            verify(&wrong, "localhost:1", now()),
            Err(AuthError::InvalidSignature(_))
        ));
        assert!(verify(&query, "localhost:1", now() + Duration::from_secs(60)).is_ok());
        assert!(
            matches!(verify(&query, "localhost:1", now() + Duration::from_secs(61)), Err(AuthError::InvalidSignature(m)) if m.contains("expired"))
        );
        assert!(
            matches!(verify(&query, "localhost:1", now() - Duration::from_secs(301)), Err(AuthError::InvalidSignature(m)) if m.contains("not yet current"))
        );
    }

    #[test]
    fn missing_and_incomplete_queries() {
        assert_eq!(
            verify("session-id=x", "localhost", now()),
            Err(AuthError::Missing)
        );
        let query = presign("localhost", "presign-secret", now(), 60);
        for drop in [
            "X-Amz-Date",
            "X-Amz-Expires",
            "X-Amz-SignedHeaders",
            "X-Amz-Algorithm",
        ] {
            let without: Vec<&str> = query
                .split('&')
                .filter(|pair| !pair.starts_with(drop))
                .collect();
            assert!(
                matches!(
                    verify(&without.join("&"), "localhost", now()),
                    Err(AuthError::Incomplete(_))
                ),
                "{drop}"
            );
        }
        let doubled = format!("{query}&X-Amz-Date=20260101T000000Z");
        assert!(matches!(
            verify(&doubled, "localhost", now()),
            Err(AuthError::Incomplete(_))
        ));
    }
}

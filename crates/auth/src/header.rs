//! SigV4 in the `Authorization` header (what every SDK and the CLI send to the control plane).

use std::time::SystemTime;

use http::HeaderMap;

use crate::sigv4::{self, CredentialScope};
use crate::{AuthError, Credential, CredentialStore, SecretKey, TenantId, MAX_CLOCK_SKEW};

/// The parts of a received request that its signature covers.
#[derive(Debug, Clone, Copy)]
pub struct HeaderRequest<'a> {
    pub method: &'a str,
    /// The path as received, still percent-encoded.
    pub raw_path: &'a str,
    /// The query as received, without `?`; empty when there is none.
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    /// The authority from the request line (HTTP/2 `:authority`), used for a signed `host`
    /// header when the request has no `Host` header.
    pub authority: Option<&'a str>,
    /// Hex SHA-256 of the body, or the literal the client signed instead (for event streams).
    pub payload_hash: &'a str,
}

/// Who a verified request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: TenantId,
    pub access_key_id: String,
    /// The region of the credential scope.
    pub region: String,
    /// The request's signature, which chained event signatures start from.
    pub signature: String,
    /// The request's signing time (`X-Amz-Date`).
    pub signed_at: SystemTime,
    /// The actions the key may perform; `None` allows all.
    pub allowed_actions: Option<Vec<String>>,
    /// Session-scoped client credentials: the one session this caller may stream.
    pub session_id: Option<String>,
    /// The session token the request presented (temporary credentials), to look the key up again.
    pub session_token: Option<SecretKey>,
}

impl Principal {
    pub fn allows(&self, action: &str) -> bool {
        self.allowed_actions
            .as_ref()
            .is_none_or(|actions| actions.iter().any(|allowed| allowed == action))
    }
}

struct AuthorizationHeader<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<AuthorizationHeader<'_>, AuthError> {
    let (algorithm, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if algorithm != sigv4::ALGORITHM {
        return Err(AuthError::Incomplete(format!(
            "Unsupported AWS 'algorithm': '{}'; only '{}' is supported.",
            algorithm.chars().take(64).collect::<String>(),
            sigv4::ALGORITHM
        )));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let Some((name, value)) = part.trim().split_once('=') else {
            continue;
        };
        match name.trim() {
            "Credential" => credential = Some(value.trim()),
            "SignedHeaders" => signed_headers = Some(value.trim()),
            "Signature" => signature = Some(value.trim()),
            _ => {}
        }
    }
    let mut missing = String::new();
    for (name, value) in [
        ("Credential", credential),
        ("Signature", signature),
        ("SignedHeaders", signed_headers),
    ] {
        if value.is_none_or(str::is_empty) {
            missing.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    match (credential, signed_headers, signature) {
        (Some(credential), Some(signed_headers), Some(signature)) if missing.is_empty() => {
            Ok(AuthorizationHeader {
                credential,
                signed_headers,
                signature,
            })
        }
        _ => Err(AuthError::Incomplete(format!(
            "{}Authorization={value}",
            missing
        ))),
    }
}

fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, AuthError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthError::Incomplete(format!(
            "Only one '{name}' header is allowed."
        )));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| AuthError::Incomplete(format!("The '{name}' header is not valid text.")))
}

/// Checks the request date against the scope's date and the clock.
pub(crate) fn check_date(
    amz_date: &str,
    scope: &CredentialScope,
    now: SystemTime,
) -> Result<SystemTime, AuthError> {
    let signed_at = sigv4::parse_amz_date(amz_date).ok_or_else(|| {
        AuthError::Incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
            amz_date.chars().take(32).collect::<String>()
        ))
    })?;
    if amz_date[..8] != scope.date {
        return Err(AuthError::InvalidSignature(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            scope.date, &amz_date[..8], amz_date
        )));
    }
    if now
        .duration_since(signed_at)
        .is_ok_and(|age| age > MAX_CLOCK_SKEW)
    {
        return Err(AuthError::InvalidSignature(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 5 min.)",
            sigv4::format_amz_date(now - MAX_CLOCK_SKEW),
            sigv4::format_amz_date(now)
        )));
    }
    check_not_in_future(amz_date, signed_at, now)?;
    Ok(signed_at)
}

/// Refuses a signature made more than the allowed skew ahead of the server's clock.
pub(crate) fn check_not_in_future(
    amz_date: &str,
    signed_at: SystemTime,
    now: SystemTime,
) -> Result<(), AuthError> {
    if signed_at
        .duration_since(now)
        .is_ok_and(|ahead| ahead > MAX_CLOCK_SKEW)
    {
        return Err(AuthError::InvalidSignature(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 5 min.)",
            sigv4::format_amz_date(now + MAX_CLOCK_SKEW),
            sigv4::format_amz_date(now)
        )));
    }
    Ok(())
}

/// Verifies a request signed in its `Authorization` header for `service`.
pub fn verify_header_auth(
    request: &HeaderRequest<'_>,
    credentials: &dyn CredentialStore,
    service: &str,
    now: SystemTime,
) -> Result<Principal, AuthError> {
    let authorization =
        single_header(request.headers, "authorization")?.ok_or(AuthError::Missing)?;
    let parsed = parse_authorization(authorization)?;
    let scope = parse_scope(parsed.credential, service)?;
    let signed_header_names: Vec<&str> = parsed.signed_headers.split(';').collect();
    require_host(&signed_header_names)?;
    let amz_date = single_header(request.headers, "x-amz-date")?.ok_or_else(|| {
        AuthError::Incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .to_owned(),
        )
    })?;
    let signed_at = check_date(amz_date, &scope, now)?;
    let presented_token = single_header(request.headers, "x-amz-security-token")?;
    let credential = authorize_credential(credentials, &scope, presented_token, now)?;
    let canonical_headers =
        canonical_headers(request.headers, &signed_header_names, request.authority)?;
    let canonical_request = sigv4::canonical_request(
        request.method,
        &sigv4::canonical_uri(request.raw_path),
        &sigv4::canonical_query(&sigv4::query_pairs(request.raw_query)),
        &canonical_headers,
        parsed.signed_headers,
        request.payload_hash,
    );
    let expected = expected_signature(&credential, &scope, amz_date, signed_at, &canonical_request);
    if !sigv4::signatures_match(&expected, parsed.signature) {
        return Err(mismatch());
    }
    Ok(Principal {
        tenant: credential.tenant,
        access_key_id: scope.access_key_id,
        region: scope.region,
        signature: expected,
        signed_at,
        allowed_actions: credential.allowed_actions,
        session_id: credential.session_id,
        session_token: credential.session_token,
    })
}

/// Parses a credential scope and checks it names `service`.
pub(crate) fn parse_scope(credential: &str, service: &str) -> Result<CredentialScope, AuthError> {
    let scope = CredentialScope::parse(credential).ok_or_else(|| {
        AuthError::Incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. \
             keyid/date/region/service/term, got '{}'",
            credential.chars().take(256).collect::<String>()
        ))
    })?;
    if scope.service != service {
        return Err(AuthError::InvalidSignature(format!(
            "Credential should be scoped to correct service: '{service}'."
        )));
    }
    Ok(scope)
}

/// Refuses a header-signed request that carries a header starting with `prefix` which its
/// signature does not cover. A request whose parameters travel in headers (the streaming
/// start's `x-amz-rekognition-streaming-liveness-*`) is otherwise open to whoever holds one
/// captured `Authorization`: the same signature with another session's id started that session.
/// Call it once [`verify_header_auth`] has accepted the request.
pub fn require_signed_headers_with_prefix(
    headers: &HeaderMap,
    prefix: &str,
) -> Result<(), AuthError> {
    let authorization = single_header(headers, "authorization")?.ok_or(AuthError::Missing)?;
    let signed = parse_authorization(authorization)?.signed_headers;
    let signed: Vec<&str> = signed.split(';').collect();
    match headers
        .keys()
        .map(http::HeaderName::as_str)
        .find(|name| name.starts_with(prefix) && !signed.contains(name))
    {
        None => Ok(()),
        Some(name) => Err(AuthError::Incomplete(format!(
            "'{name}' must be a 'SignedHeader' in the AWS Authorization."
        ))),
    }
}

pub(crate) fn require_host(signed_header_names: &[&str]) -> Result<(), AuthError> {
    // HTTP/2 clients (the JS SDK's NodeHttp2Handler) sign the `:authority` pseudo-header instead.
    if signed_header_names
        .iter()
        .any(|name| *name == "host" || *name == ":authority")
    {
        Ok(())
    } else {
        Err(AuthError::Incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
        ))
    }
}

/// Looks the key up and checks its session token and expiry.
pub(crate) fn authorize_credential(
    credentials: &dyn CredentialStore,
    scope: &CredentialScope,
    presented_token: Option<&str>,
    now: SystemTime,
) -> Result<Credential, AuthError> {
    let credential = credentials
        .lookup_with_token(&scope.access_key_id, presented_token)
        .ok_or(AuthError::UnrecognizedClient)?;
    match (&credential.session_token, presented_token) {
        (None, None) => {}
        (Some(expected), Some(presented))
            if sigv4::signatures_match(expected.expose(), presented) => {}
        _ => return Err(AuthError::UnrecognizedClient),
    }
    if credential.expires_at.is_some_and(|expiry| expiry <= now) {
        return Err(AuthError::ExpiredToken);
    }
    Ok(credential)
}

/// The canonical `(name, value)` of each signed header; `host` falls back to the authority.
pub(crate) fn canonical_headers(
    headers: &HeaderMap,
    signed_header_names: &[&str],
    authority: Option<&str>,
) -> Result<Vec<(String, String)>, AuthError> {
    let mut canonical = Vec::with_capacity(signed_header_names.len());
    for name in signed_header_names {
        if *name == ":authority" {
            canonical.push((
                ":authority".to_owned(),
                authority.ok_or_else(mismatch)?.to_owned(),
            ));
            continue;
        }
        let values: Vec<&str> = headers
            .get_all(*name)
            .iter()
            .map(|value| value.to_str().map_err(|_| mismatch()))
            .collect::<Result<_, _>>()?;
        let value = match (values.is_empty(), *name, authority) {
            (false, _, _) => sigv4::canonical_header_value(values),
            (true, "host", Some(authority)) => authority.to_owned(),
            (true, _, _) => return Err(mismatch()),
        };
        canonical.push(((*name).to_owned(), value));
    }
    Ok(canonical)
}

/// The signature the key's secret gives a canonical request.
pub(crate) fn expected_signature(
    credential: &Credential,
    scope: &CredentialScope,
    amz_date: &str,
    signed_at: SystemTime,
    canonical_request: &str,
) -> String {
    let string_to_sign = sigv4::string_to_sign(amz_date, &scope.scope(), canonical_request);
    let key = sigv4::signing_key(
        credential.secret_access_key.expose(),
        signed_at,
        &scope.region,
        &scope.service,
    );
    sigv4::signature(&key, &string_to_sign)
}

pub(crate) fn mismatch() -> AuthError {
    AuthError::InvalidSignature(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. \
         Consult the service documentation for details."
            .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4::SigningParams;

    use super::*;
    use crate::{Credential, SecretKey, StaticCredentials};

    const SERVICE: &str = "rekognition";
    const BODY: &[u8] = br#"{"ClientRequestToken":"t1"}"#;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000)
    }

    fn store() -> StaticCredentials {
        StaticCredentials::new([
            Credential {
                access_key_id: "AKIDTENANTA".to_owned(),
                secret_access_key: SecretKey::new("secret-a"),
                tenant: TenantId::new("111111111111"),
                session_token: None,
                expires_at: None,
                allowed_actions: None,
                session_id: None,
            },
            Credential {
                access_key_id: "ASIATEMP".to_owned(),
                secret_access_key: SecretKey::new("secret-t"),
                tenant: TenantId::new("222222222222"),
                session_token: Some(SecretKey::new("token-t")),
                expires_at: Some(now() + Duration::from_secs(60)),
                allowed_actions: None,
                session_id: None,
            },
        ])
    }

    /// Signs a control-plane request with the `aws-sigv4` signer, as the Rust SDK does.
    fn signed_headers(
        access_key: &str,
        secret: &str,
        token: Option<&str>,
        at: SystemTime,
        service: &str,
    ) -> HeaderMap {
        let mut request = http::Request::builder()
            .method("POST")
            .uri("http://127.0.0.1:8080/")
            .header("host", "127.0.0.1:8080")
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "x-amz-target",
                "RekognitionService.CreateFaceLivenessSession",
            )
            .body(BODY.to_vec())
            .unwrap();
        let identity =
            Credentials::new(access_key, secret, token.map(str::to_owned), None, "test").into();
        let params = SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name(service)
            .time(at)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            "POST",
            "http://127.0.0.1:8080/",
            request
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str(), v.to_str().unwrap())),
            SignableBody::Bytes(BODY),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        instructions.apply_to_request_http1x(&mut request);
        request.headers().clone()
    }

    fn verify(headers: &HeaderMap, body: &[u8]) -> Result<Principal, AuthError> {
        let request = HeaderRequest {
            method: "POST",
            raw_path: "/",
            raw_query: "",
            headers,
            authority: None,
            payload_hash: &sigv4::sha256_hex(body),
        };
        verify_header_auth(&request, &store(), SERVICE, now())
    }

    #[test]
    fn accepts_a_request_signed_by_aws_sigv4() {
        let headers = signed_headers("AKIDTENANTA", "secret-a", None, now(), SERVICE);
        let principal = verify(&headers, BODY).unwrap();
        assert_eq!(principal.tenant, TenantId::new("111111111111"));
        assert_eq!(principal.region, "us-east-1");
    }

    /// Issue 22: a header-signed streaming start needed only `host` signed, so one captured
    /// `Authorization` started another session by changing an unsigned parameter header.
    #[test]
    fn parameter_headers_must_be_signed() {
        const PREFIX: &str = "x-amz-target";
        let signed = signed_headers("AKIDTENANTA", "secret-a", None, now(), SERVICE);
        verify(&signed, BODY).unwrap();
        assert!(require_signed_headers_with_prefix(&signed, PREFIX).is_ok());
        // The same signature with a parameter header it does not cover: SigV4 alone accepts it.
        let mut added = signed.clone();
        added.insert(
            "x-amz-target-extra",
            http::HeaderValue::from_static("another"),
        );
        verify(&added, BODY).unwrap();
        let refused = require_signed_headers_with_prefix(&added, PREFIX);
        assert!(
            matches!(&refused, Err(AuthError::Incomplete(m)) if m.contains("'x-amz-target-extra' must be a 'SignedHeader'")),
            "{refused:?}"
        );
        assert!(require_signed_headers_with_prefix(&HeaderMap::new(), PREFIX).is_err());
    }

    #[test]
    fn accepts_temporary_credentials_with_their_token() {
        let headers = signed_headers("ASIATEMP", "secret-t", Some("token-t"), now(), SERVICE);
        assert_eq!(
            verify(&headers, BODY).unwrap().tenant,
            TenantId::new("222222222222")
        );
    }

    #[test]
    fn rejects_temporary_credentials_with_another_token_or_none() {
        let headers = signed_headers("ASIATEMP", "secret-t", Some("token-x"), now(), SERVICE);
        assert_eq!(verify(&headers, BODY), Err(AuthError::UnrecognizedClient));
        let headers = signed_headers("ASIATEMP", "secret-t", None, now(), SERVICE);
        assert_eq!(verify(&headers, BODY), Err(AuthError::UnrecognizedClient));
        let headers = signed_headers("AKIDTENANTA", "secret-a", Some("token-t"), now(), SERVICE);
        assert_eq!(verify(&headers, BODY), Err(AuthError::UnrecognizedClient));
    }

    #[test]
    fn rejects_expired_temporary_credentials() {
        let later = now() + Duration::from_secs(61);
        let headers = signed_headers("ASIATEMP", "secret-t", Some("token-t"), later, SERVICE);
        let request = HeaderRequest {
            method: "POST",
            raw_path: "/",
            raw_query: "",
            headers: &headers,
            authority: None,
            payload_hash: &sigv4::sha256_hex(BODY),
        };
        assert_eq!(
            verify_header_auth(&request, &store(), SERVICE, later),
            Err(AuthError::ExpiredToken)
        );
    }

    #[test]
    fn rejects_wrong_secret_and_changed_body() {
        let headers = signed_headers("AKIDTENANTA", "not-the-secret", None, now(), SERVICE);
        assert!(matches!(
            verify(&headers, BODY),
            Err(AuthError::InvalidSignature(_))
        ));
        let headers = signed_headers("AKIDTENANTA", "secret-a", None, now(), SERVICE);
        assert!(matches!(
            verify(&headers, b"{}"),
            Err(AuthError::InvalidSignature(_))
        ));
    }

    #[test]
    fn rejects_a_changed_signed_header() {
        let mut headers = signed_headers("AKIDTENANTA", "secret-a", None, now(), SERVICE);
        headers.insert(
            "x-amz-target",
            "RekognitionService.GetFaceLivenessSessionResults"
                .parse()
                .unwrap(),
        );
        assert!(matches!(
            verify(&headers, BODY),
            Err(AuthError::InvalidSignature(_))
        ));
    }

    #[test]
    fn rejects_unknown_keys_and_other_services() {
        let headers = signed_headers("AKIDUNKNOWN", "secret-a", None, now(), SERVICE);
        assert_eq!(verify(&headers, BODY), Err(AuthError::UnrecognizedClient));
        let headers = signed_headers("AKIDTENANTA", "secret-a", None, now(), "s3");
        assert!(
            matches!(verify(&headers, BODY), Err(AuthError::InvalidSignature(m)) if m.contains("rekognition"))
        );
    }

    #[test]
    fn rejects_signatures_outside_five_minutes_either_way() {
        for (offset, accepted) in [(-301i64, false), (-299, true), (299, true), (301, false)] {
            let at = if offset < 0 {
                now() - Duration::from_secs(offset.unsigned_abs())
            } else {
                now() + Duration::from_secs(offset.unsigned_abs())
            };
            let headers = signed_headers("AKIDTENANTA", "secret-a", None, at, SERVICE);
            let result = verify(&headers, BODY);
            assert_eq!(result.is_ok(), accepted, "offset {offset}: {result:?}");
            if !accepted {
                assert!(
                    matches!(result, Err(AuthError::InvalidSignature(m)) if m.starts_with("Signature "))
                );
            }
        }
    }

    #[test]
    fn missing_and_incomplete_headers() {
        let headers = HeaderMap::new();
        assert_eq!(verify(&headers, BODY), Err(AuthError::Missing));
        let signed = signed_headers("AKIDTENANTA", "secret-a", None, now(), SERVICE);
        let authorization = signed["authorization"].to_str().unwrap().to_owned();
        let cases = [
            authorization
                .split(", Signature=")
                .next()
                .unwrap()
                .to_owned(),
            authorization.replace("SignedHeaders=", "Headers="),
            authorization.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"),
            authorization.replace("/aws4_request", ""),
            "garbage".to_owned(),
        ];
        for case in cases {
            let mut headers = signed.clone();
            headers.insert("authorization", case.parse().unwrap());
            assert!(
                matches!(verify(&headers, BODY), Err(AuthError::Incomplete(_))),
                "{case}"
            );
        }
        let mut headers = signed.clone();
        headers.remove("x-amz-date");
        assert!(matches!(
            verify(&headers, BODY),
            Err(AuthError::Incomplete(_))
        ));
    }
}

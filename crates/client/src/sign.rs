//! SigV4 as a client makes it, with `aws-sigv4`: in the `Authorization` header (the SDKs'
//! control-plane calls) or in the query (the presigned WebSocket URL of
//! `StartFaceLivenessSession`, whose signature seeds the chain of envelope signatures).

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use openliveness_auth::SecretKey;

use crate::{Chain, Error, REGION, SERVICE};

/// The path of the streaming WebSocket transport.
pub const START_PATH: &str = "/start-face-liveness-session-websocket";

/// How long Amplify's presigned URLs are valid.
const PRESIGNED_EXPIRY: Duration = Duration::from_secs(299);

/// The keys a client signs with; temporary ones carry a session token.
#[derive(Debug, Clone)]
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: SecretKey,
    pub session_token: Option<SecretKey>,
}

impl Keys {
    pub fn new(access_key_id: &str, secret_access_key: &str) -> Keys {
        Keys {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: SecretKey::new(secret_access_key),
            session_token: None,
        }
    }

    /// Temporary keys (client credentials): the token is sent with every request.
    pub fn with_session_token(self, token: &str) -> Keys {
        Keys {
            session_token: Some(SecretKey::new(token)),
            ..self
        }
    }
}

/// What a request's payload hash is made of.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// The body, hashed.
    Bytes(&'a [u8]),
    /// A hash the SDKs write instead (`UNSIGNED-PAYLOAD`, `STREAMING-AWS4-HMAC-SHA256-EVENTS`).
    Precomputed(&'a str),
}

/// A presigned URL and its signature (the seed of the envelope chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    pub url: String,
    pub signature: String,
}

/// Signs for one set of keys, region `us-east-1`, service `rekognition`.
pub struct Signer {
    keys: Keys,
    identity: Identity,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("keys", &self.keys).finish()
    }
}

impl Signer {
    pub fn new(keys: Keys) -> Signer {
        let identity = Credentials::new(
            &keys.access_key_id,
            keys.secret_access_key.expose(),
            keys.session_token.as_ref().map(|t| t.expose().to_owned()),
            None,
            "openliveness-client",
        )
        .into();
        Signer { keys, identity }
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    fn sign_url(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        payload: Payload<'_>,
        settings: SigningSettings,
        at: SystemTime,
    ) -> Result<aws_sigv4::http_request::SigningInstructions, Error> {
        let params = SigningParams::builder()
            .identity(&self.identity)
            .region(REGION)
            .name(SERVICE)
            .time(at)
            .settings(settings)
            .build()
            .map_err(|error| Error::failed("signing parameters", error))?
            .into();
        let body = match payload {
            Payload::Bytes(bytes) => SignableBody::Bytes(bytes),
            Payload::Precomputed(hash) => SignableBody::Precomputed(hash.to_owned()),
        };
        let signable = SignableRequest::new(method, url, headers.iter().copied(), body)
            .map_err(|error| Error::failed("cannot sign the request", error))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|error| Error::failed("cannot sign the request", error))?
            .into_parts();
        Ok(instructions)
    }

    /// Signs `request` at `at` in its `Authorization` header, as the SDKs do: every header it
    /// carries is signed (but those SigV4 leaves out, such as `user-agent`), its `host` header
    /// names the server.
    pub fn sign<B>(
        &self,
        request: &mut http::Request<B>,
        payload: Payload<'_>,
        at: SystemTime,
    ) -> Result<(), Error> {
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let host = headers
            .iter()
            .find(|(name, _)| *name == "host")
            .map(|(_, value)| *value)
            .ok_or_else(|| Error::Failed("a request to sign needs a host header".to_owned()))?;
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |path| path.as_str());
        let url = format!("http://{host}{path}");
        let method = request.method().as_str().to_owned();
        let instructions = self.sign_url(
            &method,
            &url,
            &headers,
            payload,
            SigningSettings::default(),
            at,
        )?;
        instructions.apply_to_request_http1x(request);
        Ok(())
    }

    /// Presigns a `GET` of `url` (`SCHEME://HOST[:PORT]/PATH?QUERY`) at `at`, valid for
    /// `expires`, signing only the `host` header, `host` (which the JavaScript signer writes
    /// without its port).
    pub fn presign(
        &self,
        url: &str,
        host: &str,
        expires: Duration,
        at: SystemTime,
    ) -> Result<Presigned, Error> {
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
        let instructions = self.sign_url(
            "GET",
            url,
            &[("host", host)],
            Payload::Bytes(b""),
            settings,
            at,
        )?;
        let mut request = http::Request::builder()
            .uri(url)
            .body(())
            .map_err(|error| Error::failed("cannot presign", error))?;
        instructions.apply_to_request_http1x(&mut request);
        let uri = request.uri();
        let query = uri.query().unwrap_or_default();
        let signature = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("X-Amz-Signature="))
            .ok_or_else(|| Error::Failed("the presigned URL has no signature".to_owned()))?
            .to_owned();
        Ok(Presigned {
            url: uri.to_string(),
            signature,
        })
    }

    /// The `ws://` URL that starts `session_id` over the WebSocket transport, presigned at `at`
    /// as Amplify does (valid 299 seconds, the web client's query parameters).
    pub fn presign_start(
        &self,
        authority: &str,
        session_id: &str,
        (width, height): (u32, u32),
        at: SystemTime,
    ) -> Result<Presigned, Error> {
        let url = format!(
            "http://{authority}{START_PATH}?session-id={session_id}\
             &video-width={width}&video-height={height}&challenge-versions={}\
             &attempt-count=1&precheck-view-enabled=1",
            crate::CHALLENGE_VERSIONS.replace(',', "%2C")
        );
        let presigned = self.presign(&url, authority, PRESIGNED_EXPIRY, at)?;
        Ok(Presigned {
            url: presigned.url.replacen("http://", "ws://", 1),
            ..presigned
        })
    }

    /// The chain of envelope signatures a stream started with `seed` continues.
    pub fn chain(&self, seed: &str) -> Chain {
        Chain::new(self.keys.secret_access_key.clone(), seed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::UNIX_EPOCH;

    use http::HeaderMap;
    use openliveness_auth::{
        verify_header_auth, verify_presigned, Credential, HeaderRequest, PresignedRequest,
        StaticCredentials,
    };

    use super::*;

    /// AWS's example keys, which the JavaScript SDK capture in `tests/node/capture` used.
    const KEY: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn store() -> StaticCredentials {
        StaticCredentials::new([Credential::new(KEY, SECRET, "111111111111")])
    }

    #[test]
    fn the_presigned_url_is_the_one_the_javascript_sdk_made() {
        // `tests/node/capture/websocket-url.txt`: the JavaScript SDK presigned this URL at
        // 2026-03-20T12:48:23Z for 60 seconds, signing the host without its port.
        let at = UNIX_EPOCH + Duration::from_secs(1_774_010_903);
        let url = "https://127.0.0.1:8443/start-face-liveness-session-websocket?\
                   challenge-versions=FaceMovementAndLightChallenge_2.0.0%2CFaceMovementChallenge_1.0.0\
                   &session-id=3f1c9a3e-8d2b-4c7a-9e51-0b6d2f4a7c10&video-height=480&video-width=640\
                   &x-amz-user-agent=aws-sdk-js%2F3.1111.0";
        let presigned = Signer::new(Keys::new(KEY, SECRET))
            .presign(url, "127.0.0.1", Duration::from_secs(60), at)
            .unwrap();
        assert_eq!(
            presigned.signature,
            "3689794861e73561d29ea8931bc6bc33e61b21620b684130fa5386e2c78fe832"
        );
        assert!(
            presigned.url.contains(
                "X-Amz-Credential=AKIDEXAMPLE%2F20260320%2Fus-east-1%2Frekognition%2Faws4_request"
            ),
            "{}",
            presigned.url
        );
        assert!(presigned.url.contains("X-Amz-Expires=60"));
    }

    #[test]
    fn the_server_verifies_a_presigned_start_and_a_signed_request() {
        let at = UNIX_EPOCH + Duration::from_secs(1_780_000_000);
        let signer = Signer::new(Keys::new(KEY, SECRET));
        let presigned = signer
            .presign_start(
                "127.0.0.1:8080",
                "6f0e9a40-2a4f-4bd0-9a43-0d7c9f3b2f11",
                (640, 480),
                at,
            )
            .unwrap();
        let (path, query) = presigned
            .url
            .strip_prefix("ws://127.0.0.1:8080")
            .unwrap()
            .split_once('?')
            .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:8080".parse().unwrap());
        let request = PresignedRequest {
            method: "GET",
            raw_path: path,
            raw_query: query,
            headers: &headers,
            authority: None,
        };
        let principal = verify_presigned(&request, &store(), SERVICE, at).unwrap();
        assert_eq!(principal.signature, presigned.signature);

        let body = br#"{"SessionId":"6f0e9a40-2a4f-4bd0-9a43-0d7c9f3b2f11"}"#;
        let mut request = http::Request::builder()
            .method("POST")
            .uri("/")
            .header("host", "127.0.0.1:8080")
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "x-amz-target",
                "RekognitionService.GetFaceLivenessSessionResults",
            )
            .body(())
            .unwrap();
        signer.sign(&mut request, Payload::Bytes(body), at).unwrap();
        let hash = openliveness_auth::sigv4::sha256_hex(body);
        let signed = HeaderRequest {
            method: "POST",
            raw_path: "/",
            raw_query: "",
            headers: request.headers(),
            authority: None,
            payload_hash: &hash,
        };
        assert!(verify_header_auth(&signed, &store(), SERVICE, at).is_ok());
        let other = Signer::new(Keys::new(KEY, "another secret"));
        let mut forged = http::Request::builder()
            .uri("/")
            .header("host", "127.0.0.1:8080")
            .body(())
            .unwrap();
        other.sign(&mut forged, Payload::Bytes(b""), at).unwrap();
        let signed = HeaderRequest {
            method: "GET",
            headers: forged.headers(),
            ..signed
        };
        assert!(verify_header_auth(&signed, &store(), SERVICE, at).is_err());
    }
}

//! Session-scoped client credentials, in process with a manual clock: a backend mints them over
//! `POST /v1/client-credentials` (SigV4-signed with its own key); with them a browser can start
//! exactly its one session (presigned URL and signed envelopes) and nothing else: no Create, no
//! Get, no other session, nothing after their expiry. Two servers sharing a store and the key
//! accept each other's credentials (scale-out: nothing is stored).

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

#[path = "support/loopback.rs"]
mod loopback;
#[path = "support/tenants.rs"]
mod tenants;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use openliveness_auth::{ClientCredentialKey, StaticCredentials};
use openliveness_client::{
    system_clock, Client, Endpoint, Error, Keys, Payload, Presigned, Signer, Stream,
};
use openliveness_server::clock::{Clock, ManualClock};
use openliveness_server::config::{Config, FileConfig, Overrides};
use openliveness_server::AppState;
use openliveness_store::{RedbStore, RedbStoreConfig, SessionStore};
use tenants::{KEY, OTHER_KEY, OTHER_SECRET, READER_KEY, READER_SECRET, SECRET};

struct Server {
    state: Arc<AppState>,
    address: String,
}

/// A server on `store` with the client-credentials `key`.
async fn serve(
    dir: &std::path::Path,
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    key: ClientCredentialKey,
) -> Server {
    let overrides = Overrides {
        data_dir: Some(dir.to_owned()),
        ..Overrides::default()
    };
    let mut config = Config::resolve(FileConfig::default(), overrides).unwrap();
    config.credentials = tenants::credentials();
    let credentials = Arc::new(StaticCredentials::new(config.credentials.clone()));
    let state =
        Arc::new(AppState::new(config, store, credentials, clock).with_client_credential_key(key));
    let address = loopback::serve(&state).await.to_string();
    Server { state, address }
}

fn key() -> ClientCredentialKey {
    ClientCredentialKey::from_bytes([42; 32])
}

fn sdk(server: &Server, credentials: Credentials) -> aws_sdk_rekognition::Client {
    let clock = Arc::clone(&server.state.clock);
    let config = aws_sdk_rekognition::Config::builder()
        .behavior_version(aws_sdk_rekognition::config::BehaviorVersion::latest())
        .endpoint_url(format!("http://{}", server.address))
        .region(aws_sdk_rekognition::config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .time_source(aws_smithy_async::time::SharedTimeSource::new(SharedClock(
            clock,
        )))
        .build();
    aws_sdk_rekognition::Client::from_conf(config)
}

/// The server's clock, for the SDK's signatures.
struct SharedClock(Arc<dyn Clock>);

impl std::fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedClock")
    }
}

impl aws_smithy_async::time::TimeSource for SharedClock {
    fn now(&self) -> SystemTime {
        self.0.now()
    }
}

fn backend(server: &Server) -> aws_sdk_rekognition::Client {
    sdk(server, Credentials::new(KEY, SECRET, None, None, "test"))
}

/// The browser's view of minted credentials.
#[derive(Debug, Clone)]
struct Minted {
    access_key_id: String,
    secret: String,
    token: String,
    expiration: String,
}

impl Minted {
    fn keys(&self) -> Keys {
        Keys::new(&self.access_key_id, &self.secret).with_session_token(&self.token)
    }

    fn sdk_credentials(&self) -> Credentials {
        Credentials::new(
            &self.access_key_id,
            &self.secret,
            Some(self.token.clone()),
            None,
            "client",
        )
    }
}

/// `POST /v1/client-credentials` with `body`, signed with `keys` at the server's time: the HTTP
/// status and the JSON body.
async fn mint_raw(
    server: &Server,
    keys: Keys,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let body = body.to_string();
    let mut request = http::Request::builder()
        .method("POST")
        .uri("/v1/client-credentials")
        .header("host", &server.address)
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(body.clone())))
        .unwrap();
    Signer::new(keys)
        .sign(
            &mut request,
            Payload::Bytes(body.as_bytes()),
            server.state.clock.now(),
        )
        .unwrap();
    let answer = openliveness_client::send(&server.address, request)
        .await
        .unwrap();
    let json = serde_json::from_slice(&answer.body).unwrap_or_default();
    (answer.status, json)
}

async fn mint(server: &Server, session_id: &str, duration: Option<u64>) -> Minted {
    let body = match duration {
        Some(seconds) => serde_json::json!({"SessionId": session_id, "DurationSeconds": seconds}),
        None => serde_json::json!({"SessionId": session_id}),
    };
    let (status, json) = mint_raw(server, Keys::new(KEY, SECRET), &body).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["SessionId"], session_id);
    let c = &json["Credentials"];
    Minted {
        access_key_id: c["AccessKeyId"].as_str().unwrap().to_owned(),
        secret: c["SecretAccessKey"].as_str().unwrap().to_owned(),
        token: c["SessionToken"].as_str().unwrap().to_owned(),
        expiration: c["Expiration"].as_str().unwrap().to_owned(),
    }
}

/// The refusal of credentials for `session_id` to `keys`: the HTTP status and the error type.
async fn mint_refusal(server: &Server, keys: Keys, session_id: &str) -> (u16, String) {
    let body = serde_json::json!({"SessionId": session_id});
    let (status, json) = mint_raw(server, keys, &body).await;
    (
        status,
        json["__type"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn create(server: &Server) -> String {
    backend(server)
        .create_face_liveness_session()
        .send()
        .await
        .unwrap()
        .session_id
}

/// A client with `minted`'s keys, signing at the server's time.
fn as_browser(server: &Server, minted: &Minted) -> Client {
    let clock = Arc::clone(&server.state.clock);
    Client::new(Endpoint::at(&server.address), minted.keys())
        .with_clock(Arc::new(move || clock.now()))
}

/// Starts `session` with `minted` (a presigned URL as Amplify builds it, with the session
/// token): the stream, or the HTTP status and the error type of the refusal.
async fn start(server: &Server, session: &str, minted: &Minted) -> Result<Stream, (u16, String)> {
    match as_browser(server, minted).start(session, (640, 480)).await {
        Ok(stream) => Ok(stream),
        Err(Error::Refused {
            status, error_type, ..
        }) => Err((status, error_type.unwrap_or_default())),
        Err(error) => panic!("{error}"),
    }
}

/// Streams a minimal session to its end with signed envelopes: the server's first events, then
/// the empty VideoEvent; the kinds of everything the server sent and its close code.
async fn stream_to_the_end(mut stream: Stream) -> (Vec<String>, Option<u16>) {
    let (mut kinds, _) = stream.session_information().await.unwrap();
    stream.send_video(&[]).await.unwrap();
    let (rest, code) = stream.rest().await;
    kinds.extend(rest);
    (kinds, code)
}

fn error_code(error: &aws_sdk_rekognition::error::SdkError<impl std::fmt::Debug>) -> String {
    let raw = error.raw_response().unwrap();
    raw.headers()
        .get("x-amzn-errortype")
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn client_credentials_start_their_one_session_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::starting_at(SystemTime::now()));
    let store = Arc::new(RedbStore::open(RedbStoreConfig::in_dir(dir.path())).unwrap());
    let server = serve(dir.path(), store, clock, key()).await;
    let session = create(&server).await;
    let other_session = create(&server).await;
    let minted = mint(&server, &session, None).await;
    assert!(minted.access_key_id.starts_with("OLCA"));
    assert!(!minted.token.contains(&minted.secret));
    let as_client = sdk(&server, minted.sdk_credentials());

    // They cannot create sessions.
    let error = as_client
        .create_face_liveness_session()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&error), "AccessDeniedException");
    // They cannot get results, not even of their own session.
    let error = as_client
        .get_face_liveness_session_results()
        .session_id(&session)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&error), "AccessDeniedException");
    // They cannot mint more credentials.
    assert_eq!(
        mint_refusal(&server, minted.keys(), &other_session).await,
        (400, "AccessDeniedException".to_owned())
    );
    // They cannot start another session.
    assert_eq!(
        start(&server, &other_session, &minted).await.err(),
        Some((403, "AccessDeniedException".to_owned()))
    );
    // Without their token, or with an altered token, they are unknown.
    let signer = Signer::new(minted.keys());
    let presigned = signer
        .presign_start(
            &server.address,
            &session,
            (640, 480),
            server.state.clock.now(),
        )
        .unwrap();
    let token = format!("X-Amz-Security-Token={}", query_encoded(&minted.token));
    assert!(presigned.url.contains(&token));
    let stripped = Presigned {
        url: presigned.url.replace(&token, ""),
        ..presigned
    };
    let refused = Stream::connect(&stripped, &signer, system_clock()).await;
    assert_eq!(refused.err().and_then(|error| error.status()), Some(403));
    let forged = Minted {
        token: minted.token.replacen('.', ".00", 1),
        ..minted.clone()
    };
    assert_eq!(
        start(&server, &session, &forged).await.err().unwrap().0,
        403
    );

    // Their own session starts, streams with envelopes signed by the client secret, and ends.
    let stream = start(&server, &session, &minted).await.unwrap();
    let (kinds, close) = stream_to_the_end(stream).await;
    assert_eq!(
        kinds,
        [
            "ChallengeEvent",
            "ServerSessionInformationEvent",
            "DisconnectionEvent"
        ]
    );
    assert_eq!(close, Some(1000));
    // The session has been used: no second start, and no new credentials for it.
    assert_eq!(
        start(&server, &session, &minted).await.err().unwrap().0,
        400
    );
    assert_eq!(
        mint_refusal(&server, Keys::new(KEY, SECRET), &session).await,
        (400, "InvalidParameterException".to_owned())
    );
    // The backend reads the result with its own key.
    let result = backend(&server)
        .get_face_liveness_session_results()
        .session_id(&session)
        .send()
        .await
        .unwrap();
    assert!(matches!(
        result.status,
        aws_sdk_rekognition::types::LivenessSessionStatus::Failed
            | aws_sdk_rekognition::types::LivenessSessionStatus::Succeeded
    ));
}

/// What the SDK's query encoding makes of a token (only `.` and alphanumerics: unchanged).
fn query_encoded(token: &str) -> String {
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.'));
    token.to_owned()
}

#[tokio::test]
async fn client_credentials_stop_at_their_expiry_which_is_never_after_the_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let manual = Arc::new(ManualClock::starting_at(SystemTime::now()));
    let clock: Arc<dyn Clock> = Arc::clone(&manual) as Arc<dyn Clock>;
    let store = Arc::new(RedbStore::open(RedbStoreConfig::in_dir(dir.path())).unwrap());
    let server = serve(dir.path(), store, clock, key()).await;
    let session = create(&server).await;

    // Asked for an hour, they get the session's remaining 3 minutes.
    let long = mint(&server, &session, Some(3600)).await;
    let expiration = time::OffsetDateTime::parse(
        &long.expiration,
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let now = time::OffsetDateTime::from(server.state.clock.now());
    let remaining = (expiration - now).whole_seconds();
    assert!((179..=180).contains(&remaining), "{remaining}");

    // Asked for 60 seconds: valid at 59 (they pass authentication, so trying another session is
    // refused for the session, not the key), refused with ExpiredTokenException at 60.
    let short = mint(&server, &session, Some(60)).await;
    let elsewhere = create(&server).await;
    manual.advance(Duration::from_secs(59));
    assert_eq!(
        start(&server, &elsewhere, &short).await.err(),
        Some((403, "AccessDeniedException".to_owned()))
    );
    manual.advance(Duration::from_secs(1));
    assert_eq!(
        start(&server, &session, &short).await.err(),
        Some((403, "ExpiredTokenException".to_owned()))
    );
    // The long ones still work until the session's end...
    manual.advance(Duration::from_secs(119));
    drop(start(&server, &session, &long).await.unwrap());
    // ...and not after it.
    let second = create(&server).await;
    let at_end = mint(&server, &second, None).await;
    manual.advance(Duration::from_secs(180));
    assert_eq!(
        start(&server, &second, &at_end).await.err(),
        Some((403, "ExpiredTokenException".to_owned()))
    );
    // No credentials for an expired, unknown or other tenant's session.
    for (key, secret, id) in [
        (KEY, SECRET, second.clone()),
        (
            KEY,
            SECRET,
            "6f0e9a40-2a4f-4bd0-9a43-0d7c9f3b2f11".to_owned(),
        ),
        (OTHER_KEY, OTHER_SECRET, create(&server).await),
    ] {
        assert_eq!(
            mint_refusal(&server, Keys::new(key, secret), &id).await,
            (400, "SessionNotFoundException".to_owned())
        );
    }
    // A read-only key may not mint; a request without a signature is not served.
    let fresh = create(&server).await;
    assert_eq!(
        mint_refusal(&server, Keys::new(READER_KEY, READER_SECRET), &fresh).await,
        (400, "AccessDeniedException".to_owned())
    );
}

#[tokio::test]
async fn servers_sharing_a_store_and_the_key_accept_each_others_credentials() {
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::starting_at(SystemTime::now()));
    let store: Arc<dyn SessionStore> =
        Arc::new(RedbStore::open(RedbStoreConfig::in_dir(dir_a.path())).unwrap());
    let a = serve(dir_a.path(), Arc::clone(&store), Arc::clone(&clock), key()).await;
    let b = serve(dir_b.path(), Arc::clone(&store), Arc::clone(&clock), key()).await;
    let other_key = ClientCredentialKey::from_bytes([7; 32]);
    let c = serve(dir_b.path(), store, clock, other_key).await;
    let session = create(&a).await;
    let minted = mint(&a, &session, None).await;
    // A server with another key does not know them.
    assert_eq!(start(&c, &session, &minted).await.err().unwrap().0, 403);
    let stream = start(&b, &session, &minted).await.unwrap();
    let (kinds, close) = stream_to_the_end(stream).await;
    assert_eq!(kinds.last().map(String::as_str), Some("DisconnectionEvent"));
    assert_eq!(close, Some(1000));
}

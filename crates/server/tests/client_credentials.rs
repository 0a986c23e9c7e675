//! Session-scoped client credentials, in process with a manual clock: a backend mints them over
//! `POST /v1/client-credentials` (SigV4-signed with its own key); with them a browser can start
//! exactly its one session (presigned URL and signed envelopes) and nothing else: no Create, no
//! Get, no other session, nothing after their expiry. Two servers sharing a store and the key
//! accept each other's credentials (scale-out: nothing is stored).

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_types::DateTime;
use futures_util::{SinkExt, StreamExt};
use openliveness_auth::{
    ChainVerifier, ClientCredentialKey, Credential, SecretKey, StaticCredentials, TenantId,
};
use openliveness_protocol::eventstream::{self, Header, HeaderValue, Message};
use openliveness_server::clock::{Clock, ManualClock};
use openliveness_server::config::{Config, FileConfig, Overrides};
use openliveness_server::AppState;
use openliveness_store::{RedbStore, RedbStoreConfig, SessionStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

const KEY: &str = "AKIDBACKEND";
const SECRET: &str = "backend-secret";
const TENANT: &str = "111111111111";
const OTHER_KEY: &str = "AKIDOTHERTENANT";
const OTHER_SECRET: &str = "other-secret";
const READER_KEY: &str = "AKIDREADER";
const READER_SECRET: &str = "reader-secret";
const VERSIONS: &str = "FaceMovementAndLightChallenge_2.0.0,FaceMovementChallenge_1.0.0";

struct Server {
    state: Arc<AppState>,
    address: String,
}

fn credential(key: &str, secret: &str, tenant: &str, actions: Option<&[&str]>) -> Credential {
    Credential {
        access_key_id: key.to_owned(),
        secret_access_key: SecretKey::new(secret),
        tenant: TenantId::new(tenant),
        session_token: None,
        expires_at: None,
        allowed_actions: actions.map(|a| a.iter().map(|s| (*s).to_owned()).collect()),
        session_id: None,
    }
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
    config.credentials = vec![
        credential(KEY, SECRET, TENANT, None),
        credential(OTHER_KEY, OTHER_SECRET, "222222222222", None),
        credential(
            READER_KEY,
            READER_SECRET,
            TENANT,
            Some(&["rekognition:GetFaceLivenessSessionResults"]),
        ),
    ];
    let credentials = Arc::new(StaticCredentials::new(config.credentials.clone()));
    let state =
        Arc::new(AppState::new(config, store, credentials, clock).with_client_credential_key(key));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let served = Arc::clone(&state);
    tokio::spawn(async move {
        openliveness_server::serve(listener, served, None, std::future::pending())
            .await
            .unwrap();
    });
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

/// `POST /v1/client-credentials`, signed with `key`/`secret` (and `token`) at the server's time:
/// the HTTP status and the JSON body.
async fn mint_raw(
    server: &Server,
    key: &str,
    secret: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value) {
    let identity = Credentials::new(key, secret, token.map(str::to_owned), None, "test").into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("rekognition")
        .time(server.state.clock.now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let url = format!("http://{}/v1/client-credentials", server.address);
    let headers = [
        ("host", server.address.as_str()),
        ("content-type", "application/json"),
    ];
    let signable = SignableRequest::new(
        "POST",
        &url,
        headers.into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder()
        .method("POST")
        .uri(&url)
        .header("host", &server.address)
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    instructions.apply_to_request_http1x(&mut request);
    let mut text = format!(
        "POST /v1/client-credentials HTTP/1.1\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in request.headers() {
        text.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    text.push_str("\r\n");
    text.push_str(body);
    let mut stream = tokio::net::TcpStream::connect(&server.address)
        .await
        .unwrap();
    stream.write_all(text.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let status: u16 = response[9..12].parse().unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    (status, serde_json::from_str(body).unwrap_or_default())
}

async fn mint(server: &Server, session_id: &str, duration: Option<u64>) -> Minted {
    let body = match duration {
        Some(seconds) => serde_json::json!({"SessionId": session_id, "DurationSeconds": seconds}),
        None => serde_json::json!({"SessionId": session_id}),
    };
    let (status, json) = mint_raw(server, KEY, SECRET, None, &body.to_string()).await;
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

async fn create(server: &Server) -> String {
    backend(server)
        .create_face_liveness_session()
        .send()
        .await
        .unwrap()
        .session_id
}

/// A presigned WebSocket URL as Amplify builds it, with the session token, and the chain seed.
fn presign(server: &Server, session: &str, minted: &Minted) -> (String, String) {
    let identity = minted.sdk_credentials().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(299));
    let params = SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("rekognition")
        .time(server.state.clock.now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let url = format!(
        "http://{}/start-face-liveness-session-websocket?session-id={session}&video-width=640&video-height=480\
         &challenge-versions={}&attempt-count=1&precheck-view-enabled=1",
        server.address,
        VERSIONS.replace(',', "%2C")
    );
    let signable = SignableRequest::new(
        "GET",
        &url,
        [("host", server.address.as_str())].into_iter(),
        SignableBody::Bytes(b""),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder().uri(&url).body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    let query = request.uri().query().unwrap().to_owned();
    assert!(query.contains("X-Amz-Security-Token="));
    let seed = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("X-Amz-Signature="))
        .unwrap()
        .to_owned();
    (
        format!(
            "ws://{}/start-face-liveness-session-websocket?{query}",
            server.address
        ),
        seed,
    )
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Starts `session` with `minted`: the socket and the chain seed, or the HTTP status and the
/// error type of the refusal.
async fn start(
    server: &Server,
    session: &str,
    minted: &Minted,
) -> Result<(Socket, String), (u16, String)> {
    let (url, seed) = presign(server, session, minted);
    match tokio_tungstenite::connect_async(url).await {
        Ok((socket, _)) => Ok((socket, seed)),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err((
            response.status().as_u16(),
            response
                .headers()
                .get("x-amzn-errortype")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default(),
        )),
        Err(error) => panic!("{error}"),
    }
}

/// Streams a minimal session to its end with signed envelopes: the server's first events, then
/// the empty VideoEvent; the kinds of everything the server sent and its close code.
async fn stream_to_the_end(
    server: &Server,
    mut socket: Socket,
    seed: &str,
    minted: &Minted,
) -> (Vec<String>, Option<u16>) {
    let mut chain = ChainVerifier::new(
        SecretKey::new(minted.secret.clone()),
        "us-east-1",
        "rekognition",
        seed,
    );
    let mut kinds = Vec::new();
    let next = |socket_message: Option<Result<WsMessage, _>>| match socket_message {
        Some(Ok(WsMessage::Binary(bytes))) => {
            let message = eventstream::decode_message(bytes).unwrap();
            let kind = eventstream::string_header(&message, ":event-type")
                .or_else(|| eventstream::string_header(&message, ":exception-type"))
                .unwrap()
                .to_owned();
            Ok(kind)
        }
        Some(Ok(WsMessage::Close(frame))) => Err(frame.map(|f| u16::from(f.code))),
        Some(Ok(_)) => Ok(String::new()),
        Some(Err::<_, tokio_tungstenite::tungstenite::Error>(_)) | None => Err(None),
    };
    // The challenge and the session information come first.
    while kinds.len() < 2 {
        let kind = next(socket.next().await).unwrap();
        if !kind.is_empty() {
            kinds.push(kind);
        }
    }
    let now = server.state.clock.now_millis();
    let inner = eventstream::event_message(
        "VideoEvent",
        serde_json::to_vec(&serde_json::json!({"VideoChunk": "", "TimestampMillis": now})).unwrap(),
    );
    let payload = eventstream::encode_message(&inner).unwrap();
    let date = i64::try_from(now).unwrap();
    let signature = chain.sign_next(date, &payload).unwrap();
    let envelope = Message::new(payload)
        .add_header(Header::new(
            ":date",
            HeaderValue::Timestamp(DateTime::from_millis(date)),
        ))
        .add_header(Header::new(
            ":chunk-signature",
            HeaderValue::ByteArray(signature.into()),
        ));
    socket
        .send(WsMessage::Binary(
            eventstream::encode_message(&envelope).unwrap().into(),
        ))
        .await
        .unwrap();
    loop {
        match next(socket.next().await) {
            Ok(kind) if kind.is_empty() => {}
            Ok(kind) => kinds.push(kind),
            Err(code) => return (kinds, code),
        }
    }
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
    let (status, json) = mint_raw(
        &server,
        &minted.access_key_id,
        &minted.secret,
        Some(&minted.token),
        &serde_json::json!({"SessionId": other_session}).to_string(),
    )
    .await;
    assert_eq!(
        (status, json["__type"].as_str()),
        (400, Some("AccessDeniedException"))
    );
    // They cannot start another session.
    assert_eq!(
        start(&server, &other_session, &minted).await.err(),
        Some((403, "AccessDeniedException".to_owned()))
    );
    // Without their token, or with an altered token, they are unknown.
    let (url, _) = presign(&server, &session, &minted);
    let stripped = url.replace(
        &format!("X-Amz-Security-Token={}", query_encoded(&minted.token)),
        "",
    );
    assert_ne!(stripped, url);
    match tokio_tungstenite::connect_async(stripped).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("{other:?}"),
    }
    let forged = Minted {
        token: minted.token.replacen('.', ".00", 1),
        ..minted.clone()
    };
    assert_eq!(
        start(&server, &session, &forged).await.err().unwrap().0,
        403
    );

    // Their own session starts, streams with envelopes signed by the client secret, and ends.
    let (socket, seed) = start(&server, &session, &minted).await.unwrap();
    let (kinds, close) = stream_to_the_end(&server, socket, &seed, &minted).await;
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
    let (status, json) = mint_raw(
        &server,
        KEY,
        SECRET,
        None,
        &serde_json::json!({"SessionId": session}).to_string(),
    )
    .await;
    assert_eq!(
        (status, json["__type"].as_str()),
        (400, Some("InvalidParameterException"))
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
    let (socket, seed) = start(&server, &session, &long).await.unwrap();
    drop(socket);
    drop(seed);
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
        let (status, json) = mint_raw(
            &server,
            key,
            secret,
            None,
            &serde_json::json!({"SessionId": id}).to_string(),
        )
        .await;
        assert_eq!(
            (status, json["__type"].as_str()),
            (400, Some("SessionNotFoundException"))
        );
    }
    // A read-only key may not mint; a request without a signature is not served.
    let fresh = create(&server).await;
    let (status, json) = mint_raw(
        &server,
        READER_KEY,
        READER_SECRET,
        None,
        &serde_json::json!({"SessionId": fresh}).to_string(),
    )
    .await;
    assert_eq!(
        (status, json["__type"].as_str()),
        (400, Some("AccessDeniedException"))
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
    let (socket, seed) = start(&b, &session, &minted).await.unwrap();
    let (kinds, close) = stream_to_the_end(&b, socket, &seed, &minted).await;
    assert_eq!(kinds.last().map(String::as_str), Some("DisconnectionEvent"));
    assert_eq!(close, Some(1000));
}

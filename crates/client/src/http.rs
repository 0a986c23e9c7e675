//! Control-plane calls over HTTP/1.1: requests built and signed as the Rust SDK sends them,
//! one keep-alive connection at a time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

use crate::{system_clock, unix_millis, Clock, Endpoint, Error, Keys, Payload, Signer, Stream};

const USER_AGENT: &str =
    "aws-sdk-rust/1.3 ua/2.1 api/rekognition/1.0 os/linux lang/rust md/openliveness-client";

/// What came back.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// `x-amzn-ErrorType`, on errors.
    pub error_type: Option<String>,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON if the call succeeded; the refusal otherwise.
    pub fn json(&self) -> Result<Value, Error> {
        if !(200..300).contains(&self.status) {
            return Err(Error::Refused {
                status: self.status,
                error_type: self.error_type.clone(),
                body: String::from_utf8_lossy(&self.body).into_owned(),
            });
        }
        serde_json::from_slice(&self.body).map_err(|error| Error::failed("the answer", error))
    }
}

/// One HTTP/1.1 connection.
pub type Connection = SendRequest<Full<Bytes>>;

/// Opens a keep-alive HTTP/1.1 connection to `authority` (TCP_NODELAY, as SDK clients set).
pub async fn connect(authority: &str) -> Result<Connection, Error> {
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|error| Error::failed(&format!("cannot connect to {authority}"), error))?;
    stream
        .set_nodelay(true)
        .map_err(|error| Error::failed("connect", error))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| Error::failed("handshake", error))?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes; errors show up on the sender.
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends one request on `connection` (opening it to `authority` first if there is none) and
/// reads the whole answer. On error the connection is dropped, to be opened again by the next
/// request.
pub async fn exchange(
    connection: &mut Option<Connection>,
    authority: &str,
    request: http::Request<Full<Bytes>>,
) -> Result<Answer, Error> {
    let result = async {
        let sender = match connection {
            Some(sender) => sender,
            None => connection.insert(connect(authority).await?),
        };
        sender
            .ready()
            .await
            .map_err(|error| Error::failed("connection", error))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| Error::failed("request", error))?;
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let keep_alive = !response
            .headers()
            .get(http::header::CONNECTION)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"close"));
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|error| Error::failed("body", error))?
            .to_bytes();
        let answer = Answer {
            status,
            error_type,
            body,
        };
        Ok::<_, Error>((answer, keep_alive))
    };
    match result.await {
        Ok((answer, keep_alive)) => {
            if !keep_alive {
                *connection = None;
            }
            Ok(answer)
        }
        Err(error) => {
            *connection = None;
            Err(error)
        }
    }
}

/// Sends one request on a connection of its own.
pub async fn send(authority: &str, request: http::Request<Full<Bytes>>) -> Result<Answer, Error> {
    exchange(&mut None, authority, request).await
}

/// A client of one server with one set of keys.
pub struct Client {
    endpoint: Endpoint,
    signer: Signer,
    clock: Arc<dyn Clock>,
    invocations: AtomicU64,
    /// Distinguishes this client's invocation ids from another's.
    run: u64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(endpoint: Endpoint, keys: Keys) -> Client {
        let clock = system_clock();
        let run = unix_millis(clock.now()) as u64 ^ (u64::from(std::process::id()) << 48);
        Client {
            endpoint,
            signer: Signer::new(keys),
            clock,
            invocations: AtomicU64::new(0),
            run,
        }
    }

    /// Signs at `clock`'s time instead of the system's.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Client {
        Client { clock, ..self }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// A `POST /` of the awsJson1_1 `operation` (`CreateFaceLivenessSession`, ...) with `body`,
    /// signed now. Its headers are the ones the Rust SDK sends and signs: `host`,
    /// `content-type`, `content-length`, `x-amz-target`, `x-amz-user-agent`,
    /// `amz-sdk-invocation-id`, `amz-sdk-request`, `x-amz-date` (and `user-agent`, not signed).
    pub fn request(
        &self,
        operation: &str,
        body: Bytes,
    ) -> Result<http::Request<Full<Bytes>>, Error> {
        let invocation = self.invocations.fetch_add(1, Ordering::Relaxed);
        let invocation_id = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            self.run as u32,
            (self.run >> 32) as u16,
            (self.run >> 48) as u16 & 0xfff,
            (invocation >> 48) as u16 & 0xfff,
            invocation & 0xffff_ffff_ffff
        );
        let mut request = http::Request::builder()
            .method("POST")
            .uri("/")
            .header("host", self.endpoint.authority())
            .header("content-type", "application/x-amz-json-1.1")
            .header("content-length", body.len())
            .header("x-amz-target", format!("RekognitionService.{operation}"))
            .header("user-agent", USER_AGENT)
            .header("x-amz-user-agent", USER_AGENT)
            .header("amz-sdk-invocation-id", invocation_id)
            .header("amz-sdk-request", "attempt=1; max=3")
            .body(Full::new(body.clone()))
            .map_err(|error| Error::failed("cannot build the request", error))?;
        self.signer
            .sign(&mut request, Payload::Bytes(&body), self.clock.now())?;
        Ok(request)
    }

    /// One control-plane call on a connection of its own: the answer's JSON, or the refusal.
    pub async fn call(&self, operation: &str, body: &Value) -> Result<Value, Error> {
        let body = serde_json::to_vec(body).map_err(|error| Error::failed(operation, error))?;
        let request = self.request(operation, Bytes::from(body))?;
        send(self.endpoint.authority(), request).await?.json()
    }

    /// A signed `GET` of `path` (the operator's endpoints), on a connection of its own.
    pub async fn get(&self, path: &str) -> Result<Answer, Error> {
        let mut request = http::Request::builder()
            .method("GET")
            .uri(path)
            .header("host", self.endpoint.authority())
            .body(Full::new(Bytes::new()))
            .map_err(|error| Error::failed("cannot build the request", error))?;
        self.signer
            .sign(&mut request, Payload::Bytes(b""), self.clock.now())?;
        send(self.endpoint.authority(), request).await
    }

    /// `CreateFaceLivenessSession` with no settings: the new session's id.
    pub async fn create_session(&self) -> Result<String, Error> {
        let created = self
            .call("CreateFaceLivenessSession", &serde_json::json!({}))
            .await?;
        created["SessionId"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::Failed("CreateFaceLivenessSession returned no SessionId".to_owned())
            })
    }

    /// Starts `session_id` over the WebSocket transport with a presigned URL, as Amplify does,
    /// for a video of `size`.
    pub async fn start(&self, session_id: &str, size: (u32, u32)) -> Result<Stream, Error> {
        let presigned = self.signer.presign_start(
            self.endpoint.authority(),
            session_id,
            size,
            self.clock.now(),
        )?;
        Stream::connect(&presigned, &self.signer, Arc::clone(&self.clock)).await
    }
}

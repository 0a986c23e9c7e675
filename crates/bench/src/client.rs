//! One keep-alive HTTP/1.1 connection and SigV4 signing, as the AWS SDK signs a control-plane call.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub const SERVICE: &str = "rekognition";
pub const REGION: &str = "us-east-1";
pub const CREATE_TARGET: &str = "RekognitionService.CreateFaceLivenessSession";
pub const GET_TARGET: &str = "RekognitionService.GetFaceLivenessSessionResults";
const USER_AGENT: &str =
    "aws-sdk-rust/1.3 ua/2.1 api/rekognition/1.0 os/linux lang/rust md/openliveness-loadgen";

/// Builds and signs control-plane requests.
pub struct Signer {
    identity: Identity,
    /// `host:port`, the `Host` header.
    authority: String,
    /// `http://host:port/`, what the signer sees.
    url: String,
    invocations: AtomicU64,
    /// Distinguishes this process's invocation ids from another's.
    run: u64,
}

impl Signer {
    pub fn new(access_key_id: &str, secret_access_key: &str, addr: SocketAddr, run: u64) -> Signer {
        let identity =
            Credentials::new(access_key_id, secret_access_key, None, None, "loadgen").into();
        let authority = addr.to_string();
        let url = format!("http://{authority}/");
        Signer {
            identity,
            authority,
            url,
            invocations: AtomicU64::new(0),
            run,
        }
    }

    /// A `POST /` for `target` with `body`, signed now with SigV4 in the `Authorization`
    /// header. Signed headers are the ones the Rust SDK sends and signs for awsJson1_1:
    /// `host`, `content-type`, `content-length`, `x-amz-target`, `x-amz-user-agent`,
    /// `amz-sdk-invocation-id`, `amz-sdk-request`, `x-amz-date` (`user-agent` is sent, not signed).
    pub fn request(
        &self,
        target: &'static str,
        body: Bytes,
    ) -> Result<http::Request<Full<Bytes>>, String> {
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
            .header("host", &self.authority)
            .header("content-type", "application/x-amz-json-1.1")
            .header("content-length", body.len())
            .header("x-amz-target", target)
            .header("user-agent", USER_AGENT)
            .header("x-amz-user-agent", USER_AGENT)
            .header("amz-sdk-invocation-id", invocation_id)
            .header("amz-sdk-request", "attempt=1; max=3")
            .body(Full::new(body.clone()))
            .map_err(|error| format!("cannot build request: {error}"))?;
        let params = SigningParams::builder()
            .identity(&self.identity)
            .region(REGION)
            .name(SERVICE)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|error| format!("cannot build signing params: {error}"))?
            .into();
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let signable = SignableRequest::new(
            "POST",
            &self.url,
            headers.into_iter(),
            SignableBody::Bytes(&body),
        )
        .map_err(|error| format!("cannot sign request: {error}"))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|error| format!("cannot sign request: {error}"))?
            .into_parts();
        instructions.apply_to_request_http1x(&mut request);
        Ok(request)
    }
}

/// What came back.
pub struct Answer {
    pub status: u16,
    /// `x-amzn-ErrorType`, on errors.
    pub error_type: Option<String>,
    pub body: Bytes,
}

pub type Connection = SendRequest<Full<Bytes>>;

/// Opens a keep-alive HTTP/1.1 connection (TCP_NODELAY, as SDK clients set).
pub async fn connect(addr: SocketAddr) -> Result<Connection, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|error| format!("connect: {error}"))?;
    stream
        .set_nodelay(true)
        .map_err(|error| format!("connect: {error}"))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| format!("handshake: {error}"))?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes; errors show up on the sender.
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends one request on `connection` (opening it first if there is none) and reads the whole
/// answer. On error the connection is dropped, to be opened again by the next request.
pub async fn exchange(
    connection: &mut Option<Connection>,
    addr: SocketAddr,
    request: http::Request<Full<Bytes>>,
) -> Result<Answer, String> {
    let result = async {
        let sender = match connection {
            Some(sender) => sender,
            None => connection.insert(connect(addr).await?),
        };
        sender
            .ready()
            .await
            .map_err(|error| format!("connection: {error}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| format!("request: {error}"))?;
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
            .map_err(|error| format!("body: {error}"))?
            .to_bytes();
        Ok((
            Answer {
                status,
                error_type,
                body,
            },
            keep_alive,
        ))
    }
    .await;
    match result {
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

//! Raw HTTP/1.1 over a `TcpStream`, and SigV4 signing with the `aws-sigv4` crate: for tests that
//! need to send what no SDK would (bad JSON, bad signatures, oversized bodies, odd headers).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4::SigningParams;

use super::Key;

/// The content type of awsJson1_1 requests.
pub const AWS_JSON: &str = "application/x-amz-json-1.1";
pub const CREATE: &str = "RekognitionService.CreateFaceLivenessSession";
pub const GET: &str = "RekognitionService.GetFaceLivenessSessionResults";

/// A response as read off the wire.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// In the order received, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON; panics (showing the body) when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "response body is not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The headers `aws-sigv4` signs a control-plane request with, as the Rust SDK does: `host`,
/// `content-type`, `x-amz-target` (when given), then the `x-amz-date` and `authorization` it adds.
/// Service `rekognition`, region `us-east-1`, the body's bytes as payload.
pub fn signed_headers(
    access_key_id: &str,
    secret: &str,
    authority: &str,
    target: Option<&str>,
    body: &[u8],
    at: SystemTime,
) -> Vec<(String, String)> {
    let uri = format!("http://{authority}/");
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(&uri)
        .header("host", authority)
        .header("content-type", AWS_JSON);
    if let Some(target) = target {
        builder = builder.header("x-amz-target", target);
    }
    let mut request = builder.body(body.to_vec()).expect("build request");
    let identity = Credentials::new(access_key_id, secret, None, None, "test").into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("rekognition")
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .expect("signing params")
        .into();
    let signable = SignableRequest::new(
        "POST",
        &uri,
        request
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_str().expect("header text"))),
        SignableBody::Bytes(body),
    )
    .expect("signable request");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    instructions.apply_to_request_http1x(&mut request);
    request
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().expect("header text").to_owned(),
            )
        })
        .collect()
}

/// The same headers without a signature (`host`, `content-type`, `x-amz-target` when given).
pub fn unsigned_headers(authority: &str, target: Option<&str>) -> Vec<(String, String)> {
    let mut headers = vec![
        ("host".to_owned(), authority.to_owned()),
        ("content-type".to_owned(), AWS_JSON.to_owned()),
    ];
    if let Some(target) = target {
        headers.push(("x-amz-target".to_owned(), target.to_owned()));
    }
    headers
}

/// Sends `POST /` with these headers (plus `content-length` and `connection: close`) and this
/// body, then reads the response to EOF.
pub fn post(authority: &str, headers: &[(String, String)], body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(authority).expect("connect to server");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(30)))
        .expect("write timeout");
    let mut head = String::from("POST / HTTP/1.1\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    // A server may answer (413) and close before reading the whole body; what it answered is
    // still readable, so a failed write is not an error here.
    let _ = stream.write_all(&request);
    let _ = stream.flush();
    let mut raw = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            // A reset after the response (the server closed with our body unread) ends it too.
            Err(error) if error.kind() == ErrorKind::ConnectionReset && !raw.is_empty() => break,
            Err(error) => panic!("reading the response: {error}"),
        }
    }
    parse_response(&raw)
}

/// Signs with `key` at `at` and sends.
pub fn call_at(
    authority: &str,
    key: Key,
    target: Option<&str>,
    body: &[u8],
    at: SystemTime,
) -> Response {
    let headers = signed_headers(key.access_key_id, key.secret, authority, target, body, at);
    post(authority, &headers, body)
}

/// Signs with `key` now and sends.
pub fn call(authority: &str, key: Key, target: Option<&str>, body: &[u8]) -> Response {
    call_at(authority, key, target, body, SystemTime::now())
}

/// Parses an HTTP/1.1 response: status line, headers, then a body framed by `content-length`,
/// `transfer-encoding: chunked`, or the end of the connection.
pub fn parse_response(raw: &[u8]) -> Response {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in: {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..end]).expect("response head is text");
    let rest = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    assert!(
        version.starts_with("HTTP/1."),
        "bad status line: {status_line}"
    );
    let status = parts
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("bad status line: {status_line}"));
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("bad header line: {line}"));
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)
    } else if let Some(length) = find("content-length") {
        let length: usize = length.parse().expect("content-length is a number");
        assert!(
            rest.len() >= length,
            "body shorter ({}) than content-length {length}",
            rest.len()
        );
        rest[..length].to_vec()
    } else {
        rest.to_vec()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = std::str::from_utf8(&data[..line_end]).expect("chunk size is text");
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).expect("chunk size is hex");
        data = &data[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

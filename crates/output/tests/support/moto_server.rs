//! Test support: a real S3 and KMS protocol peer, `moto_server` (moto from PyPI, pinned with
//! hashes in `scripts/python-requirements.txt`, installed into `./.venv` by
//! `scripts/setup-python.sh`), on a free loopback port, killed when dropped; and a few raw S3
//! calls for what `object_store` does not do (buckets, versioning, object headers).
//!
//! Shared by the output crate's and the server's tests (`#[path]`, with the store's
//! `process.rs`): it depends on `std`, `aws-sigv4`, `aws-credential-types`, `aws-sdk-kms` and
//! `http`.

#![allow(dead_code)] // Each test binary uses its own part of this module.

#[path = "../../../store/tests/support/process.rs"]
mod process;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command};

pub use process::free_port;
use process::{on_a_free_port, spawn_until_ready, stop, Log};

/// A running `moto_server`.
pub struct MotoServer {
    child: Child,
    port: u16,
}

fn moto_binary() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let binary = root.join(".venv/bin/moto_server");
    assert!(
        binary.exists(),
        "{} is missing: run scripts/setup-python.sh",
        binary.display()
    );
    binary
}

impl MotoServer {
    /// Starts moto on a free loopback port and waits until it serves.
    pub fn start() -> MotoServer {
        let binary = moto_binary();
        on_a_free_port("moto_server", |port| {
            let mut command = Command::new(&binary);
            command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
            // Werkzeug logs this line once the socket listens.
            spawn_until_ready(
                &mut command,
                Log::Stderr,
                "Running on",
                "run scripts/setup-python.sh",
            )
            .map(|child| MotoServer { child, port })
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates a bucket (moto accepts unsigned requests).
    pub fn create_bucket(&self, bucket: &str) {
        let (status, _, body) = self.request("PUT", &format!("/{bucket}"), b"");
        assert_eq!(status, 200, "create bucket {bucket}: {body}");
    }

    /// Turns on versioning for a bucket.
    pub fn enable_versioning(&self, bucket: &str) {
        let body = b"<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status></VersioningConfiguration>";
        let (status, _, text) = self.request("PUT", &format!("/{bucket}?versioning"), body);
        assert_eq!(status, 200, "versioning {bucket}: {text}");
    }

    /// Creates a KMS key with an alias; returns the key's ARN.
    pub async fn create_kms_key(&self, alias: &str) -> String {
        let config = aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_credential_types::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .build();
        let client = aws_sdk_kms::Client::from_conf(config);
        let key = client.create_key().send().await.expect("CreateKey");
        let metadata = key.key_metadata().expect("KeyMetadata");
        client
            .create_alias()
            .alias_name(alias)
            .target_key_id(metadata.key_id())
            .send()
            .await
            .expect("CreateAlias");
        metadata.arn().expect("Arn").to_owned()
    }

    /// `HEAD` an object, signed (S3 answers 403 to unsigned reads of SSE-KMS objects): its
    /// status and headers (names in lower case).
    pub fn head(&self, bucket: &str, key: &str) -> (u16, Vec<(String, String)>) {
        use aws_sigv4::http_request::{
            sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
        };
        use aws_sigv4::sign::v4::SigningParams;
        let host = format!("127.0.0.1:{}", self.port);
        let url = format!("http://{host}/{bucket}/{key}");
        let identity =
            aws_credential_types::Credentials::new("test", "test", None, None, "test").into();
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("s3")
            .time(std::time::SystemTime::now())
            .settings(settings)
            .build()
            .expect("signing params")
            .into();
        let signable = SignableRequest::new(
            "HEAD",
            &url,
            [("host", host.as_str())].into_iter(),
            SignableBody::Bytes(b""),
        )
        .expect("signable request");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        let mut request = http::Request::builder()
            .uri(&url)
            .body(())
            .expect("request");
        instructions.apply_to_request_http1x(&mut request);
        let extra: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("").to_owned()))
            .collect();
        let (status, headers, _) =
            self.request_with("HEAD", &format!("/{bucket}/{key}"), &extra, b"");
        (status, headers)
    }

    /// The keys in a bucket (under `prefix`).
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let (status, _, body) = self.request(
            "GET",
            &format!("/{bucket}?list-type=2&prefix={prefix}"),
            b"",
        );
        assert_eq!(status, 200, "list {bucket}: {body}");
        body.split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split("</Key>").next())
            .map(str::to_owned)
            .collect()
    }

    /// One unsigned HTTP/1.1 request (S3 serves it: moto's default service).
    pub fn request(
        &self,
        method: &str,
        target: &str,
        body: &[u8],
    ) -> (u16, Vec<(String, String)>, String) {
        self.request_with(method, target, &[], body)
    }

    fn request_with(
        &self,
        method: &str,
        target: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> (u16, Vec<(String, String)>, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.port,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).expect("write");
        stream.write_all(body).expect("write");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).expect("read");
        let text = String::from_utf8_lossy(&response).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .expect("status line");
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        (status, headers, body.to_owned())
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

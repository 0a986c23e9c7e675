//! Test support: requests built by hand and signed as the SDKs sign (SigV4, service
//! `rekognition`, with `openliveness-client`'s signer), or not signed at all: for what no SDK
//! sends (bad signatures, unknown keys, bodies too large, unknown targets).
//!
//! Shared by the server's and the command line's tests (`#[path]`).

use std::time::SystemTime;

use openliveness_client::{Keys, Payload, Signer};

/// Who signs a request: an access key id and its secret, or nobody.
pub type Key = Option<(&'static str, &'static str)>;

/// A `method` request of `path` from `host` with `headers` and `body`, signed with `key` at `at`
/// (every header it carries) or not at all.
pub fn request<B: From<Vec<u8>>>(
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    key: Key,
    at: SystemTime,
) -> http::Request<B> {
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", host);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(()).expect("a request");
    if let Some((key, secret)) = key {
        Signer::new(Keys::new(key, secret))
            .sign(&mut request, Payload::Bytes(&body), at)
            .expect("a signature");
    }
    request.map(|()| B::from(body))
}

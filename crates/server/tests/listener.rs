//! The listener in process: HTTP/1.1, h2c and TLS (HTTP/2 and HTTP/1.1 by ALPN) on one port,
//! trusted through the dev certificate alone; bad connections that do not stop it; graceful
//! shutdown; the dev certificate made once and reused.

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::Version;
use axum::routing::get;
use axum::{Extension, Router};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use openliveness_server::listener::{
    dev_tls, load_tls, serve_connections, ConnectionInfo, PlainHttp,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A bound for waits that should end at once; reaching it fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(5);

struct Server {
    address: SocketAddr,
    cert: Option<CertificateDer<'static>>,
    shutdown: Option<oneshot::Sender<()>>,
    served: JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

/// Answers `/` with how the request arrived, e.g. `tls=true HTTP/2.0`.
async fn describe(Extension(info): Extension<ConnectionInfo>, version: Version) -> String {
    format!("tls={} {version:?}", info.tls)
}

async fn start(tls: bool, extra: Router) -> Server {
    start_with_shutdown(tls, PlainHttp::Served, extra, |signal| async move {
        let _ = signal.await;
    })
    .await
}

async fn start_with_shutdown<F, Fut>(
    tls: bool,
    plain: PlainHttp,
    extra: Router,
    shutdown: F,
) -> Server
where
    F: FnOnce(oneshot::Receiver<()>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let (server_config, cert) = if tls {
        let (files, generated) = dev_tls(dir.path()).unwrap();
        assert!(generated);
        let cert = CertificateDer::from_pem_file(&files.cert_pem).unwrap();
        (Some(load_tls(&files).unwrap()), Some(cert))
    } else {
        (None, None)
    };
    let app = Router::new().route("/", get(describe)).merge(extra);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (shutdown_tx, shutdown_rx) = oneshot::channel();
    let served = tokio::spawn(serve_connections(
        listener,
        app,
        server_config,
        plain,
        shutdown(shutdown_rx),
    ));
    Server {
        address,
        cert,
        shutdown: Some(shutdown_tx),
        served,
        _dir: dir,
    }
}

impl Server {
    async fn tcp(&self) -> TcpStream {
        TcpStream::connect(self.address).await.unwrap()
    }

    /// A TLS connection that trusts only the dev certificate, offering `alpn`.
    async fn tls(
        &self,
        server_name: &str,
        alpn: &[&[u8]],
    ) -> tokio_rustls::client::TlsStream<TcpStream> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.clone().unwrap()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = ServerName::try_from(server_name.to_owned()).unwrap();
        connector.connect(name, self.tcp().await).await.unwrap()
    }

    async fn stop(mut self) {
        self.shutdown.take().unwrap().send(()).unwrap();
        tokio::time::timeout(PATIENCE, self.served)
            .await
            .expect("the server stops promptly")
            .unwrap()
            .unwrap();
    }
}

/// One GET over HTTP/1.1 on `io`; the status and body.
async fn get_http1<I>(io: I, path: &str) -> (u16, String)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    read(sender.send_request(request).await.unwrap()).await
}

/// One GET over HTTP/2 (prior knowledge) on `io`; the status and body.
async fn get_http2<I>(io: I, url: &str) -> (u16, String)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = hyper::Request::get(url)
        .body(Empty::<Bytes>::new())
        .unwrap();
    read(sender.send_request(request).await.unwrap()).await
}

async fn read(response: hyper::Response<hyper::body::Incoming>) -> (u16, String) {
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// Reads until the server closes the connection (or resets it).
async fn until_closed(mut io: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, io.read_to_end(&mut seen))
        .await
        .expect("the server closes the connection");
    seen
}

/// Checks that `server` answers plain HTTP/1.1 and h2c (HTTP/2 by prior knowledge) on its port.
async fn assert_plain_http_served(server: &Server) {
    let (status, body) = get_http1(server.tcp().await, "/").await;
    assert_eq!((status, body.as_str()), (200, "tls=false HTTP/1.1"));
    let (status, body) = get_http2(server.tcp().await, "http://localhost/").await;
    assert_eq!((status, body.as_str()), (200, "tls=false HTTP/2.0"));
}

#[tokio::test]
async fn plain_server_speaks_http1_and_h2c() {
    let server = start(false, Router::new()).await;
    assert_plain_http_served(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn one_port_serves_tls_by_alpn_and_plain_http() {
    let server = start(true, Router::new()).await;

    let tls = server.tls("localhost", &[b"h2", b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (status, body) = get_http2(tls, "https://localhost/").await;
    assert_eq!((status, body.as_str()), (200, "tls=true HTTP/2.0"));

    // The certificate also names the loopback addresses.
    let tls = server.tls("127.0.0.1", &[b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (status, body) = get_http1(tls, "/").await;
    assert_eq!((status, body.as_str()), (200, "tls=true HTTP/1.1"));

    // A TLS client that offers no ALPN gets HTTP/1.1.
    let tls = server.tls("localhost", &[]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), None);
    let (status, body) = get_http1(tls, "/").await;
    assert_eq!((status, body.as_str()), (200, "tls=true HTTP/1.1"));

    // Plain HTTP on the same port.
    assert_plain_http_served(&server).await;
    server.stop().await;
}

/// Finding 8 of issue 22: plain HTTP was always served on the TLS port. With `require_tls` a
/// plain connection (HTTP/1.1 or h2c) is closed unanswered, and TLS is served as before.
#[tokio::test]
async fn with_tls_required_plain_http_is_closed_unanswered() {
    let server = start_with_shutdown(
        true,
        PlainHttp::Refused,
        Router::new(),
        |signal| async move {
            let _ = signal.await;
        },
    )
    .await;
    for request in [
        &b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n"[..],
        &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..],
    ] {
        let mut stream = server.tcp().await;
        stream.write_all(request).await.unwrap();
        assert_eq!(until_closed(stream).await, b"");
    }
    let tls = server.tls("localhost", &[b"http/1.1"]).await;
    let (status, body) = get_http1(tls, "/").await;
    assert_eq!((status, body.as_str()), (200, "tls=true HTTP/1.1"));
    server.stop().await;
}

#[tokio::test]
async fn bad_connections_do_not_stop_the_server() {
    let server = start(true, Router::new()).await;

    // A TLS record header followed by garbage: the handshake fails, the connection closes.
    let mut stream = server.tcp().await;
    stream
        .write_all(b"\x16\x03\x01\x00\x05garbage and more garbage")
        .await
        .unwrap();
    until_closed(stream).await;

    // Not HTTP at all on the plain side: hyper answers 400 or closes.
    let mut stream = server.tcp().await;
    stream
        .write_all(b"\x00\x01\x02 not http\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(stream).await;
    assert!(answer.is_empty() || answer.starts_with(b"HTTP/1.1 400"));

    // Connected and gone without a byte.
    drop(server.tcp().await);

    // A client that does not trust the certificate gives up mid-handshake.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let refused = connector
        .connect(
            ServerName::try_from("localhost").unwrap(),
            server.tcp().await,
        )
        .await;
    assert!(refused.is_err());

    let tls = server.tls("localhost", &[b"h2"]).await;
    let (status, body) = get_http2(tls, "https://localhost/").await;
    assert_eq!((status, body.as_str()), (200, "tls=true HTTP/2.0"));
    let (status, _) = get_http1(server.tcp().await, "/").await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_and_drops_idle_connections() {
    // The slow route tells when it has the request, and answers only once the server has
    // begun to shut down.
    let (entered_tx, entered_rx) = oneshot::channel::<()>();
    let (began_tx, began_rx) = oneshot::channel::<()>();
    let slow_route = Arc::new(Mutex::new(Some((entered_tx, began_rx))));
    let slow = Router::new().route(
        "/slow",
        get(move || {
            let channels = slow_route.lock().unwrap().take();
            async move {
                if let Some((entered, began)) = channels {
                    entered.send(()).unwrap();
                    began.await.unwrap();
                }
                "finished"
            }
        }),
    );
    let server = start_with_shutdown(true, PlainHttp::Served, slow, |signal| async move {
        let _ = signal.await;
        let _ = began_tx.send(());
    })
    .await;

    // Idle: an HTTP/1.1 keep-alive connection, an h2 connection, and a TLS-port connection
    // that has not sent its first byte.
    let mut idle_http1 = server.tcp().await;
    idle_http1
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    idle_http1.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let idle_silent = server.tcp().await;

    let tls = server.tls("localhost", &[b"h2"]).await;
    let in_flight = tokio::spawn(get_http2(tls, "https://localhost/slow"));
    tokio::time::timeout(PATIENCE, entered_rx)
        .await
        .unwrap()
        .unwrap();

    let Server {
        address,
        shutdown,
        served,
        _dir,
        ..
    } = server;
    shutdown.unwrap().send(()).unwrap();
    let (status, body) = tokio::time::timeout(PATIENCE, in_flight)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((status, body.as_str()), (200, "finished"));
    tokio::time::timeout(PATIENCE, served)
        .await
        .expect("idle connections do not hold the shutdown")
        .unwrap()
        .unwrap();
    until_closed(idle_http1).await;
    until_closed(idle_silent).await;
    assert!(TcpStream::connect(address).await.is_err());
}

fn mode(path: &Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        0o600
    }
}

#[test]
fn dev_tls_generates_once_and_reuses() {
    let dir = tempfile::tempdir().unwrap();
    let (files, generated) = dev_tls(dir.path()).unwrap();
    assert!(generated);
    assert_eq!(files.cert_pem, dir.path().join("tls").join("cert.pem"));
    assert_eq!(files.key_pem, dir.path().join("tls").join("key.pem"));
    assert_eq!(mode(&files.key_pem), 0o600);
    let cert = std::fs::read(&files.cert_pem).unwrap();
    let key = std::fs::read(&files.key_pem).unwrap();

    let (again, generated) = dev_tls(dir.path()).unwrap();
    assert!(!generated);
    assert_eq!(again, files);
    assert_eq!(std::fs::read(&files.cert_pem).unwrap(), cert);
    assert_eq!(std::fs::read(&files.key_pem).unwrap(), key);
    load_tls(&files).unwrap();

    // A missing certificate, or one that does not match its key, is made anew.
    std::fs::remove_file(&files.cert_pem).unwrap();
    let (_, generated) = dev_tls(dir.path()).unwrap();
    assert!(generated);
    assert_ne!(std::fs::read(&files.key_pem).unwrap(), key);
    let other = tempfile::tempdir().unwrap();
    let (other_files, _) = dev_tls(other.path()).unwrap();
    std::fs::copy(&other_files.key_pem, &files.key_pem).unwrap();
    assert!(load_tls(&files).is_err());
    let (_, generated) = dev_tls(dir.path()).unwrap();
    assert!(generated);
    load_tls(&files).unwrap();
}

#[test]
fn load_tls_reports_missing_and_empty_files() {
    let dir = tempfile::tempdir().unwrap();
    let files = openliveness_server::listener::TlsFiles {
        cert_pem: dir.path().join("missing.pem"),
        key_pem: dir.path().join("missing-key.pem"),
    };
    let error = load_tls(&files).unwrap_err().to_string();
    assert!(error.contains("missing.pem"), "{error}");
    std::fs::write(&files.cert_pem, "not pem").unwrap();
    let error = load_tls(&files).unwrap_err().to_string();
    assert!(error.contains("no certificate"), "{error}");
}

//! The listener: one TCP port that serves HTTP/1.1, HTTP/2 in clear text (h2c, prior
//! knowledge) and, when a certificate is configured, TLS with HTTP/1.1 or HTTP/2 chosen by ALPN.
//!
//! The key decision: plain and TLS share the port. When TLS is configured each connection's
//! first byte is peeked: `0x16` (a TLS handshake record) goes through rustls, anything else is
//! served as plain HTTP. hyper's automatic builder then tells HTTP/1.1 from HTTP/2 by the
//! connection preface, on plain and TLS connections alike. Nothing that happens on one
//! connection (a failed handshake, garbage, a reset) reaches the accept loop.
//!
//! `--dev-tls` uses [`dev_tls`]: a self-signed certificate for `localhost`, `127.0.0.1` and
//! `::1`, generated once into `<data_dir>/tls/` and reused until it is about to expire.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::config::Config;

/// How long in-flight connections may take to finish once shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How long a new connection may take to send its first byte and finish a TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an HTTP/1.1 connection may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The pause after an accept error that is not about one connection (e.g. `EMFILE`).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How long a dev certificate is valid for.
const DEV_CERT_VALIDITY_DAYS: i64 = 365;
/// A dev certificate this close to its expiry is replaced at start-up.
const DEV_CERT_RENEW_BEFORE_DAYS: i64 = 1;
/// The first byte of a TLS connection: a handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// The certificate chain and private key files of a TLS listener, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
}

/// How a request reached the server: a request extension on every request served by
/// [`serve_connections`] (`Extension<ConnectionInfo>` in a handler). axum's
/// `ConnectInfo<SocketAddr>` is set too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The peer's address.
    pub remote: SocketAddr,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ListenerError {
    #[error("cannot read {path}: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("no certificate in {0}")]
    NoCertificate(PathBuf),
    #[error("unusable TLS certificate or key ({cert}, {key}): {source}")]
    Tls {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot generate a dev certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("invalid TLS configuration: {0}")]
    Invalid(String),
}

/// The TLS set-up the configuration asks for.
#[derive(Debug)]
pub struct ConfiguredTls {
    pub server_config: Arc<ServerConfig>,
    /// With `dev_tls`: the dev certificate's file, and whether it was generated just now.
    pub dev_certificate: Option<(PathBuf, bool)>,
}

/// Loads the certificate named by `tls_cert`/`tls_key`, or the dev certificate with `dev_tls`
/// (generating it in the data directory if need be); `None` when TLS is off.
pub fn configured_tls(config: &Config) -> Result<Option<ConfiguredTls>, ListenerError> {
    match (&config.tls_cert, &config.tls_key, config.dev_tls) {
        (Some(cert), Some(key), false) => {
            let files = TlsFiles {
                cert_pem: cert.clone(),
                key_pem: key.clone(),
            };
            Ok(Some(ConfiguredTls {
                server_config: load_tls(&files)?,
                dev_certificate: None,
            }))
        }
        (None, None, true) => {
            let (files, generated) = dev_tls(&config.data_dir)?;
            Ok(Some(ConfiguredTls {
                server_config: load_tls(&files)?,
                dev_certificate: Some((files.cert_pem, generated)),
            }))
        }
        (None, None, false) => Ok(None),
        (_, _, true) => Err(ListenerError::Invalid(
            "dev_tls and tls_cert/tls_key exclude each other".into(),
        )),
        _ => Err(ListenerError::Invalid(
            "tls_cert and tls_key go together".into(),
        )),
    }
}

/// A rustls server configuration from PEM files, offering HTTP/2 and HTTP/1.1 by ALPN.
pub fn load_tls(files: &TlsFiles) -> Result<Arc<ServerConfig>, ListenerError> {
    let pem_error = |path: &Path| {
        let path = path.to_owned();
        move |error: rustls::pki_types::pem::Error| ListenerError::Pem {
            path,
            message: error.to_string(),
        }
    };
    let certs = CertificateDer::pem_file_iter(&files.cert_pem)
        .map_err(pem_error(&files.cert_pem))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error(&files.cert_pem))?;
    if certs.is_empty() {
        return Err(ListenerError::NoCertificate(files.cert_pem.clone()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key_pem).map_err(pem_error(&files.key_pem))?;
    let tls_error = |source| ListenerError::Tls {
        cert: files.cert_pem.clone(),
        key: files.key_pem.clone(),
        source,
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(tls_error)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The dev certificate in `<data_dir>/tls/` (`cert.pem`, `key.pem`): reused when it is there,
/// matches its key and is not about to expire, generated otherwise. The flag tells whether it
/// was generated now.
pub fn dev_tls(data_dir: &Path) -> Result<(TlsFiles, bool), ListenerError> {
    let dir = data_dir.join("tls");
    let files = TlsFiles {
        cert_pem: dir.join("cert.pem"),
        key_pem: dir.join("key.pem"),
    };
    let now = time::OffsetDateTime::now_utc();
    if dev_certificate_usable(&files, now) {
        return Ok((files, false));
    }
    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |source| ListenerError::Write { path, source }
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&dir).map_err(write_error(&dir))?;

    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])?;
    let mut name = rcgen::DistinguishedName::new();
    name.push(rcgen::DnType::CommonName, "openliveness dev certificate");
    params.distinguished_name = name;
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(DEV_CERT_VALIDITY_DAYS);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.self_signed(&key)?;
    // The key first: a certificate never stands next to a key it does not match for long, and
    // a mismatch is caught (and regenerated) by the next start anyway.
    write_atomically(&files.key_pem, key.serialize_pem().as_bytes(), 0o600)
        .map_err(write_error(&files.key_pem))?;
    write_atomically(&files.cert_pem, cert.pem().as_bytes(), 0o644)
        .map_err(write_error(&files.cert_pem))?;
    Ok((files, true))
}

fn dev_certificate_usable(files: &TlsFiles, now: time::OffsetDateTime) -> bool {
    let Ok(cert) = CertificateDer::from_pem_file(&files.cert_pem) else {
        return false;
    };
    let Some(not_after) = certificate_not_after(&cert) else {
        return false;
    };
    not_after > now + time::Duration::days(DEV_CERT_RENEW_BEFORE_DAYS) && load_tls(files).is_ok()
}

/// Writes `path` through a temporary file and a rename, with `mode` on Unix.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let _ = std::fs::remove_file(&temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)
}

/// The `notAfter` of a DER X.509 certificate, read with a minimal DER walk.
fn certificate_not_after(der: &[u8]) -> Option<time::OffsetDateTime> {
    const SEQUENCE: u8 = 0x30;
    const VERSION: u8 = 0xa0;
    let (SEQUENCE, certificate, _) = der_next(der)? else {
        return None;
    };
    let (SEQUENCE, mut tbs, _) = der_next(certificate)? else {
        return None;
    };
    if let (VERSION, _, rest) = der_next(tbs)? {
        tbs = rest;
    }
    // serialNumber, signature, issuer
    for _ in 0..3 {
        tbs = der_next(tbs)?.2;
    }
    let (SEQUENCE, validity, _) = der_next(tbs)? else {
        return None;
    };
    let not_before_rest = der_next(validity)?.2;
    let (tag, not_after, _) = der_next(not_before_rest)?;
    der_time(tag, not_after)
}

/// One DER element: its tag, its contents and what follows it.
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let length = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(count)?;
        rest = after;
        bytes
            .iter()
            .fold(0usize, |length, byte| (length << 8) | usize::from(*byte))
    };
    let (contents, after) = rest.split_at_checked(length)?;
    Some((tag, contents, after))
}

/// A DER `UTCTime` (tag 0x17) or `GeneralizedTime` (0x18) in the `...Z` form X.509 requires.
fn der_time(tag: u8, contents: &[u8]) -> Option<time::OffsetDateTime> {
    let text = std::str::from_utf8(contents).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let two: i32 = text.get(..2)?.parse().ok()?;
            (
                if two >= 50 { 1900 + two } else { 2000 + two },
                text.get(2..)?,
            )
        }
        0x18 => (text.get(..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    if rest.len() != 10 || !rest.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let field = |at: usize| rest.get(at..at + 2)?.parse::<u8>().ok();
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(field(0)?).ok()?, field(2)?)
            .ok()?;
    let clock = time::Time::from_hms(field(4)?, field(6)?, field(8)?).ok()?;
    Some(time::PrimitiveDateTime::new(date, clock).assume_utc())
}

/// Whether a port with TLS also answers plain HTTP/1.1 and h2c.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainHttp {
    Served,
    /// Closed unanswered (`require_tls`).
    Refused,
}

/// Serves `app` on `listener` until `shutdown` completes: plain HTTP/1.1 and h2c (unless `plain`
/// refuses them on a port with TLS), TLS (HTTP/1.1 or HTTP/2 by ALPN) on the same port when
/// `tls` is given.
///
/// On shutdown the listener is closed, connections still in their TLS handshake are dropped,
/// and the others are asked to finish (HTTP/1.1: after the current request; HTTP/2: GOAWAY)
/// for at most [`SHUTDOWN_GRACE`], after which they are closed.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<ServerConfig>>,
    plain: PlainHttp,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = tls.map(|config| (TlsAcceptor::from(config), plain));
    let builder = Arc::new(connection_builder());
    let graceful = GracefulShutdown::new();
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) if is_connection_error(&error) => {
                    tracing::debug!(%error, "accept: connection gone");
                    continue;
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed; pausing");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%remote, %error, "cannot set TCP_NODELAY");
        }
        connections.spawn(handle_connection(
            stream,
            remote,
            acceptor.clone(),
            app.clone(),
            Arc::clone(&builder),
            graceful.watcher(),
            closing_rx.clone(),
        ));
    }
    drop(listener);
    let _ = closing_tx.send(true);
    tracing::debug!(
        connections = connections.len(),
        "stopped accepting; letting connections finish"
    );
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = connections.len(),
            "connections still open after the shutdown grace period; closing them"
        );
    }
    connections.shutdown().await;
    Ok(())
}

fn connection_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    // The CONNECT protocol (RFC 8441) carries WebSockets over HTTP/2.
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol();
    builder
}

fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

enum Accepted {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// Sorts a connection into plain or TLS (with `acceptor`: its TLS and whether plain HTTP is
/// served beside it), then serves it; errors end only this connection.
async fn handle_connection(
    stream: TcpStream,
    remote: SocketAddr,
    acceptor: Option<(TlsAcceptor, PlainHttp)>,
    app: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    watcher: Watcher,
    mut closing: watch::Receiver<bool>,
) {
    let accepted = match acceptor {
        None => Accepted::Plain(stream),
        Some((acceptor, plain)) => {
            let prelude = async move {
                let mut first = [0u8; 1];
                if stream.peek(&mut first).await? == 0 {
                    return Ok(None);
                }
                if first[0] == TLS_HANDSHAKE_RECORD {
                    let stream = acceptor.accept(stream).await?;
                    Ok::<_, std::io::Error>(Some(Accepted::Tls(Box::new(stream))))
                } else if plain == PlainHttp::Refused {
                    tracing::debug!(%remote, "plain HTTP refused: TLS is required");
                    Ok(None)
                } else {
                    Ok(Some(Accepted::Plain(stream)))
                }
            };
            tokio::select! {
                result = tokio::time::timeout(HANDSHAKE_TIMEOUT, prelude) => match result {
                    Ok(Ok(Some(accepted))) => accepted,
                    Ok(Ok(None)) => return,
                    Ok(Err(error)) => {
                        tracing::debug!(%remote, %error, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%remote, "no TLS handshake in time");
                        return;
                    }
                },
                _ = closing.wait_for(|closing| *closing) => return,
            }
        }
    };
    match accepted {
        Accepted::Plain(stream) => {
            let info = ConnectionInfo { tls: false, remote };
            serve_io(stream, info, app, &builder, watcher).await;
        }
        Accepted::Tls(stream) => {
            let info = ConnectionInfo { tls: true, remote };
            serve_io(stream, info, app, &builder, watcher).await;
        }
    }
}

async fn serve_io<I>(
    io: I,
    info: ConnectionInfo,
    app: Router,
    builder: &auto::Builder<TokioExecutor>,
    watcher: Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(info);
        request.extensions_mut().insert(ConnectInfo(info.remote));
        app.clone().oneshot(request)
    });
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    if let Err(error) = watcher.watch(connection).await {
        tracing::debug!(remote = %info.remote, tls = info.tls, %error, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn reads_not_after_of_utc_and_generalized_times() {
        for not_after in [
            time::macros::datetime!(2031-07-04 12:34:56 UTC),
            time::macros::datetime!(2051-01-02 03:04:05 UTC),
        ] {
            let key = rcgen::KeyPair::generate().unwrap();
            let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
            params.not_after = not_after;
            let cert = params.self_signed(&key).unwrap();
            assert_eq!(certificate_not_after(cert.der()), Some(not_after));
        }
        assert_eq!(certificate_not_after(b"\x30\x03\x02\x01"), None);
        assert_eq!(certificate_not_after(b""), None);
    }

    #[test]
    fn an_expiring_dev_certificate_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (files, generated) = dev_tls(dir.path()).unwrap();
        assert!(generated);
        let now = time::OffsetDateTime::now_utc();
        assert!(dev_certificate_usable(&files, now));
        let later = now + time::Duration::days(DEV_CERT_VALIDITY_DAYS);
        assert!(!dev_certificate_usable(&files, later));
    }
}

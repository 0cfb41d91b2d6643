//! The HTTP transport: a small trait so tests and embedders can swap it, and the default
//! implementation over reqwest + rustls (ring provider: no aws-lc start-up cost, no OpenSSL).

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::Env;

/// The future returned by [`HttpClient::send`].
pub type HttpFuture<'a> =
    Pin<Box<dyn Future<Output = Result<http::Response<Bytes>, TransportError>> + Send + 'a>>;

/// Sends one HTTP request and reads the whole response. Retries, headers and error mapping are
/// done above this layer.
pub trait HttpClient: Send + Sync + fmt::Debug {
    /// Sends `request`.
    fn send(&self, request: http::Request<Bytes>) -> HttpFuture<'_>;
}

/// Why no HTTP response was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be made (refused, unreachable, TLS failure).
    Connect,
    /// The server did not answer within the timeout.
    Timeout,
    /// The response body was larger than allowed.
    TooLarge,
    /// Anything else (connection dropped mid-response, malformed HTTP).
    Other,
    /// The transport could not be built (unreadable `SSL_CERT_FILE`, invalid root
    /// certificate or proxy URL, TLS configuration).
    Setup,
}

/// A failure below HTTP: no usable response arrived.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TransportError {
    /// What kind of failure.
    pub kind: TransportErrorKind,
    /// A description without secrets.
    pub message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl TransportError {
    /// A new transport error.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause (the HTTP library's error), returned by `source()`.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Settings of the default transport.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Time allowed to establish a connection (TCP + TLS).
    pub connect_timeout: Duration,
    /// Time allowed for one whole request, from sending to the last byte of the response.
    pub request_timeout: Duration,
    /// Responses larger than this are refused.
    pub max_response_bytes: usize,
    /// Extra trusted root certificates, PEM (added to the system roots).
    pub additional_root_certificates: Vec<String>,
    /// Trust the system's root certificates (or `SSL_CERT_FILE` when set).
    pub use_system_roots: bool,
    /// Host names resolved to a fixed address instead of DNS (the port of the URL is used, not
    /// the address's): tests point regional and cloud host names at a local emulator.
    pub resolve_overrides: Vec<(String, std::net::SocketAddr)>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_response_bytes: 1 << 20,
            additional_root_certificates: Vec::new(),
            use_system_roots: true,
            resolve_overrides: Vec::new(),
        }
    }
}

/// The default transport.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    max_response_bytes: usize,
}

impl ReqwestTransport {
    /// Builds the transport. Roots: `SSL_CERT_FILE` (and `SSL_CERT_DIR`) from `env` when set,
    /// else the system store; plus `options.additional_root_certificates`. Proxies come from
    /// `HTTPS_PROXY` (else `ALL_PROXY`) and `NO_PROXY` in `env`; `HTTP_PROXY` is not read, as
    /// it applies to plain-HTTP URLs, which are never proxied. Loopback never goes through a
    /// proxy.
    pub fn new(options: &HttpOptions, env: &Env) -> Result<Self, TransportError> {
        Self::build(options, env).map_err(|why| TransportError::new(TransportErrorKind::Setup, why))
    }

    pub(crate) fn build(options: &HttpOptions, env: &Env) -> Result<Self, String> {
        let roots = root_store(options, env)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS configuration failed: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(proxy) = proxy_from_env(env)? {
            builder = builder.proxy(proxy);
        }
        for (name, address) in &options.resolve_overrides {
            builder = builder.resolve(name, *address);
        }
        let client = builder
            .build()
            .map_err(|e| format!("could not build the HTTP client: {e}"))?;
        Ok(ReqwestTransport {
            client,
            max_response_bytes: options.max_response_bytes,
        })
    }
}

impl ReqwestTransport {
    /// A transport with its own TLS trust rule (Service Fabric's pinned certificate). It never
    /// uses a proxy: the trust rule is about the endpoint itself.
    pub(crate) fn with_tls_config(
        tls: rustls::ClientConfig,
        options: &HttpOptions,
    ) -> Result<Self, String> {
        Self::from_builder(
            reqwest::Client::builder().use_preconfigured_tls(tls),
            options,
        )
    }

    /// A transport from a builder that already has its TLS (and, for the AKS token proxy, its
    /// name resolution); timeouts and the size limit come from `options`, and there is no proxy.
    pub(crate) fn from_builder(
        builder: reqwest::ClientBuilder,
        options: &HttpOptions,
    ) -> Result<Self, String> {
        let client = builder
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| format!("could not build the HTTP client: {e}"))?;
        Ok(ReqwestTransport {
            client,
            max_response_bytes: options.max_response_bytes,
        })
    }
}

/// The most read from one CA file: the system bundle is about 200 KiB.
const MAX_CA_FILE: u64 = 4 << 20;
/// The most entries of `SSL_CERT_DIR` looked at, and the most bytes read from it in all: a
/// system certificate directory holds a few hundred small files.
const MAX_CA_DIR_ENTRIES: usize = 4096;
const MAX_CA_DIR_BYTES: u64 = 32 << 20;

pub(crate) fn root_store(
    options: &HttpOptions,
    env: &Env,
) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    if options.use_system_roots {
        match env.non_empty("SSL_CERT_FILE") {
            Some(path) => {
                let pem = super::read_bounded(Path::new(&path), MAX_CA_FILE)
                    .map_err(|e| format!("SSL_CERT_FILE {path:?} could not be read: {e}"))?;
                roots.add_parsable_certificates(CertificateDer::pem_slice_iter(&pem).flatten());
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
            }
        }
        if let Some(dirs) = env.non_empty("SSL_CERT_DIR") {
            add_cert_dirs(&mut roots, &dirs);
        }
    }
    for pem in &options.additional_root_certificates {
        let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("an additional root certificate is not valid PEM: {e}"))?;
        if certs.is_empty() {
            return Err("an additional root certificate holds no CERTIFICATE block".into());
        }
        roots.add_parsable_certificates(certs);
    }
    Ok(roots)
}

/// `SSL_CERT_DIR` as OpenSSL reads it: directories separated by `:`, each file PEM. Entries
/// that are not regular files (a FIFO would block), too large, or unreadable are skipped, and
/// the walk stops at [`MAX_CA_DIR_ENTRIES`] entries or [`MAX_CA_DIR_BYTES`] bytes.
fn add_cert_dirs(roots: &mut rustls::RootCertStore, dirs: &str) {
    let mut entries = 0;
    let mut budget = MAX_CA_DIR_BYTES;
    for dir in std::env::split_paths(dirs).filter(|d| !d.as_os_str().is_empty()) {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            entries += 1;
            if entries > MAX_CA_DIR_ENTRIES || budget == 0 {
                tracing::warn!(
                    dirs,
                    "SSL_CERT_DIR holds more than {MAX_CA_DIR_ENTRIES} entries or \
                     {MAX_CA_DIR_BYTES} bytes; the rest is ignored"
                );
                return;
            }
            if let Ok(pem) = super::read_bounded(&entry.path(), MAX_CA_FILE.min(budget)) {
                budget = budget.saturating_sub(pem.len() as u64);
                roots.add_parsable_certificates(CertificateDer::pem_slice_iter(&pem).flatten());
            }
        }
    }
}

pub(crate) fn proxy_from_env(env: &Env) -> Result<Option<reqwest::Proxy>, String> {
    let get = |names: &[&str]| names.iter().find_map(|n| env.non_empty(n));
    let Some(url) = get(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]) else {
        return Ok(None);
    };
    let mut no_proxy = get(&["NO_PROXY", "no_proxy"]).unwrap_or_default();
    no_proxy.push_str(",127.0.0.0/8,localhost,::1");
    let proxy = reqwest::Proxy::https(&url)
        .map_err(|e| format!("HTTPS_PROXY is not a valid proxy URL: {e}"))?
        .no_proxy(reqwest::NoProxy::from_string(&no_proxy));
    Ok(Some(proxy))
}

impl HttpClient for ReqwestTransport {
    fn send(&self, request: http::Request<Bytes>) -> HttpFuture<'_> {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|e| TransportError::new(TransportErrorKind::Other, e.to_string()))?;
            let mut response = self.client.execute(request).await.map_err(classify)?;
            if response
                .content_length()
                .is_some_and(|len| len > self.max_response_bytes as u64)
            {
                return Err(too_large(self.max_response_bytes));
            }
            let mut builder = http::Response::builder()
                .status(response.status())
                .version(response.version());
            if let Some(headers) = builder.headers_mut() {
                *headers = std::mem::take(response.headers_mut());
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = response.chunk().await.map_err(classify)? {
                if body.len() + chunk.len() > self.max_response_bytes {
                    return Err(too_large(self.max_response_bytes));
                }
                body.extend_from_slice(&chunk);
            }
            builder
                .body(body.freeze())
                .map_err(|e| TransportError::new(TransportErrorKind::Other, e.to_string()))
        })
    }
}

fn too_large(limit: usize) -> TransportError {
    TransportError::new(
        TransportErrorKind::TooLarge,
        format!("the response is larger than the {limit}-byte limit"),
    )
}

fn classify(error: reqwest::Error) -> TransportError {
    let kind = if error.is_timeout() {
        TransportErrorKind::Timeout
    } else if error.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Other
    };
    // reqwest's Display includes the URL, which holds no secrets (they travel in bodies and
    // headers); the source chain gives the useful part (refused, reset, certificate).
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    TransportError::new(kind, message).with_source(error)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// Runs `f` on its own thread; a hang fails the test (after a minute) instead of blocking
    /// the suite.
    fn within_a_minute<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(60))
            .expect("reading the CA configuration hung")
    }

    fn cert_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["ca.test".to_owned()]).unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn ssl_cert_dir_skips_what_is_not_a_small_regular_file() {
        let dir = std::env::temp_dir().join(format!("azid-certdir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), cert_pem()).unwrap();
        // Opening a FIFO for reading blocks until a writer comes: none ever will.
        assert!(
            std::process::Command::new("mkfifo")
                .arg(dir.join("a-fifo.pem"))
                .status()
                .unwrap()
                .success()
        );
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero.pem")).unwrap();
        let options = HttpOptions {
            use_system_roots: true,
            ..HttpOptions::default()
        };
        let env = Env::from_pairs([
            ("SSL_CERT_FILE", "/nonexistent-but-set"),
            ("SSL_CERT_DIR", dir.to_str().unwrap()),
        ]);
        // SSL_CERT_FILE names nothing: an error, not a fallback.
        let missing = within_a_minute({
            let (options, env) = (options.clone(), env.clone());
            move || root_store(&options, &env).map(|r| r.len())
        });
        assert!(missing.is_err());
        let ca = dir.join("ca.pem").display().to_string();
        let env = Env::from_pairs([
            ("SSL_CERT_FILE", ca.as_str()),
            ("SSL_CERT_DIR", dir.to_str().unwrap()),
        ]);
        let roots = within_a_minute(move || root_store(&options, &env).map(|r| r.len()));
        assert!(matches!(roots, Ok(n) if n >= 1), "{roots:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn ssl_cert_file_is_bounded() {
        let options = HttpOptions::default();
        let env = Env::from_pairs([("SSL_CERT_FILE", "/dev/zero")]);
        let result = within_a_minute(move || root_store(&options, &env).map(|r| r.len()));
        let error = result.unwrap_err();
        assert!(error.contains("SSL_CERT_FILE"), "{error}");
    }
}

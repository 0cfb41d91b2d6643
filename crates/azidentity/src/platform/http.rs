//! The HTTP transport: a small trait so tests and embedders can swap it, and the default
//! implementation over reqwest + rustls (ring provider: no aws-lc start-up cost, no OpenSSL).

use std::fmt;
use std::future::Future;
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

pub(crate) fn root_store(
    options: &HttpOptions,
    env: &Env,
) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    if options.use_system_roots {
        match env.non_empty("SSL_CERT_FILE") {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(&path)
                    .map_err(|e| format!("SSL_CERT_FILE {path:?} could not be read: {e}"))?;
                roots.add_parsable_certificates(certs.flatten());
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
            }
        }
        if let Some(dir) = env.non_empty("SSL_CERT_DIR") {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if let Ok(certs) = CertificateDer::pem_file_iter(entry.path()) {
                    roots.add_parsable_certificates(certs.flatten());
                }
            }
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

fn proxy_from_env(env: &Env) -> Result<Option<reqwest::Proxy>, String> {
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

//! The AKS identity-binding token proxy (workload identity's `enable_azure_proxy`): every
//! request goes to the proxy instead of its own host, over TLS with the SNI name and CA the
//! cluster gives in `AZURE_KUBERNETES_*`. The CA file is re-read when it changes, because the
//! cluster rotates it while pods run.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use http::HeaderValue;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::http::root_store;
use super::{
    Env, HttpClient, HttpFuture, HttpOptions, ReqwestTransport, TransportError, TransportErrorKind,
};

const PROXY_VAR: &str = "AZURE_KUBERNETES_TOKEN_PROXY";
const SNI_VAR: &str = "AZURE_KUBERNETES_SNI_NAME";
const CA_FILE_VAR: &str = "AZURE_KUBERNETES_CA_FILE";
const CA_DATA_VAR: &str = "AZURE_KUBERNETES_CA_DATA";

/// Where the proxy is and how to trust it.
#[derive(Debug, Clone)]
pub(crate) struct TokenProxyConfig {
    proxy: url::Url,
    sni: Option<String>,
    ca_file: Option<PathBuf>,
    ca_data: Option<String>,
}

impl TokenProxyConfig {
    /// `Ok(None)` when no proxy is configured. Python's rules: the proxy must be an https URL
    /// without user info, query or fragment; only one CA source; SNI or CA settings without a
    /// proxy are a mistake.
    pub(crate) fn from_env(env: &Env) -> Result<Option<Self>, String> {
        let proxy = env.non_empty(PROXY_VAR);
        let sni = env.non_empty(SNI_VAR);
        let ca_file = env.non_empty(CA_FILE_VAR).map(PathBuf::from);
        let ca_data = env.non_empty(CA_DATA_VAR);
        let Some(proxy) = proxy else {
            if sni.is_some() || ca_file.is_some() || ca_data.is_some() {
                return Err(format!(
                    "{PROXY_VAR} is not set but other custom endpoint-related environment \
                     variables are present ({SNI_VAR}, {CA_FILE_VAR} or {CA_DATA_VAR})"
                ));
            }
            return Ok(None);
        };
        if ca_file.is_some() && ca_data.is_some() {
            return Err(format!(
                "Both {CA_FILE_VAR} and {CA_DATA_VAR} are set. Only one should be set"
            ));
        }
        let url = url::Url::parse(proxy.trim())
            .map_err(|e| format!("{PROXY_VAR} is not a valid URL ({e})"))?;
        if url.scheme() != "https" {
            return Err(format!(
                "{PROXY_VAR} must use the 'https' scheme, not {:?}",
                url.scheme()
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "{PROXY_VAR} must not contain a user name or password"
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("{PROXY_VAR} must not contain a query or fragment"));
        }
        if url.host_str().is_none() {
            return Err(format!("{PROXY_VAR} has no host"));
        }
        Ok(Some(TokenProxyConfig {
            proxy: url,
            sni,
            ca_file,
            ca_data,
        }))
    }
}

#[derive(Default)]
struct State {
    client: Option<Arc<ReqwestTransport>>,
    ca_pem: Option<String>,
    ca_mtime: Option<SystemTime>,
}

/// Sends every request through the token proxy.
pub(crate) struct TokenProxyTransport {
    config: TokenProxyConfig,
    options: HttpOptions,
    env: Env,
    state: Mutex<State>,
}

impl fmt::Debug for TokenProxyTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProxyTransport")
            .field("proxy", &self.config.proxy.as_str())
            .field("sni", &self.config.sni)
            .field("ca_file", &self.config.ca_file)
            .finish_non_exhaustive()
    }
}

/// A cluster CA bundle is a few KiB; the file is re-read while pods run, so a path that
/// names something else (a FIFO, a device, a huge file) must fail rather than hang or grow.
const MAX_CA_FILE: u64 = 1 << 20;

fn read_ca(path: &Path) -> std::io::Result<String> {
    let bytes = super::read_bounded(path, MAX_CA_FILE)?;
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

fn mtime(path: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl TokenProxyTransport {
    /// Reads the CA file once now: a missing or empty CA at start is an error.
    pub(crate) fn new(
        config: TokenProxyConfig,
        options: HttpOptions,
        env: Env,
    ) -> Result<Self, String> {
        let mut state = State {
            ca_pem: config.ca_data.clone(),
            ..State::default()
        };
        if let Some(path) = &config.ca_file {
            let pem = read_ca(path)
                .map_err(|e| format!("Failed to read CA file ({}): {e}", path.display()))?;
            if pem.trim().is_empty() {
                return Err(format!(
                    "CA file ({}) is empty. Cannot establish secure connection.",
                    path.display()
                ));
            }
            state.ca_pem = Some(pem);
            state.ca_mtime = mtime(path);
        }
        if let Some(pem) = &state.ca_pem {
            certificates(pem)?;
        }
        Ok(TokenProxyTransport {
            config,
            options,
            env,
            state: Mutex::new(state),
        })
    }

    /// Re-reads the CA file when its modification time changed. An empty or unreadable file
    /// (mid-rotation) keeps the CA in use. The file system is only touched outside the lock,
    /// so concurrent requests never queue behind a slow disk; the lock is taken to compare and
    /// to swap.
    fn refresh_ca(&self) {
        let Some(path) = &self.config.ca_file else {
            return;
        };
        let now = mtime(path);
        {
            let state = self.lock();
            if now.is_some() && now == state.ca_mtime {
                return;
            }
        }
        let read = read_ca(path);
        let mut state = self.lock();
        match read {
            Ok(pem) if !pem.trim().is_empty() && certificates(&pem).is_ok() => {
                if state.ca_pem.as_deref() != Some(pem.as_str()) {
                    tracing::info!(path = %path.display(), "the token proxy CA file changed; reloading it");
                    state.client = None;
                }
                state.ca_pem = Some(pem);
                state.ca_mtime = now;
            }
            Ok(_) => {}
            Err(_) => state.ca_mtime = None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The proxy URL for a request to `uri`, and the `Host` header when the connection goes to
    /// the SNI name instead of the proxy's own host name.
    fn rewrite(&self, uri: &http::Uri) -> Result<(String, Option<HeaderValue>), String> {
        let original = url::Url::parse(&uri.to_string()).map_err(|e| e.to_string())?;
        let proxy = &self.config.proxy;
        let proxy_path = proxy.path().trim_end_matches('/');
        let same_origin = original.scheme() == proxy.scheme()
            && original.host_str() == proxy.host_str()
            && original.port_or_known_default() == proxy.port_or_known_default();
        let already = same_origin
            && (original.path() == proxy_path
                || original.path().starts_with(&format!("{proxy_path}/")));
        let mut target = if already {
            original
        } else {
            let mut target = proxy.clone();
            target.set_path(&format!(
                "{proxy_path}/{}",
                original.path().trim_start_matches('/')
            ));
            target.set_query(original.query());
            target
        };
        let Some(sni) = &self.config.sni else {
            return Ok((target.into(), None));
        };
        let authority = match proxy.port() {
            Some(port) => format!("{}:{port}", proxy.host_str().unwrap_or_default()),
            None => proxy.host_str().unwrap_or_default().to_owned(),
        };
        target
            .set_host(Some(sni))
            .map_err(|e| format!("{SNI_VAR} is not a valid host name ({e})"))?;
        let host = HeaderValue::from_str(&authority).map_err(|e| e.to_string())?;
        Ok((target.into(), Some(host)))
    }

    async fn client(&self) -> Result<Arc<ReqwestTransport>, TransportError> {
        self.refresh_ca();
        let ca_pem = {
            let state = self.lock();
            if let Some(client) = &state.client {
                return Ok(client.clone());
            }
            state.ca_pem.clone()
        };
        let failure = |what: String| TransportError::new(TransportErrorKind::Connect, what);
        let roots = match &ca_pem {
            Some(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                roots.add_parsable_certificates(certificates(pem).map_err(failure)?);
                roots
            }
            None => root_store(&self.options, &self.env).map_err(failure)?,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| failure(format!("TLS configuration failed: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut builder = reqwest::Client::builder().use_preconfigured_tls(tls);
        if let Some(sni) = &self.config.sni {
            // The connection goes to the proxy's address while TLS names the SNI host.
            let host = self.config.proxy.host_str().unwrap_or_default();
            let port = self.config.proxy.port_or_known_default().unwrap_or(443);
            // Bounded like connecting: a stalled resolver must not stall token requests.
            let limit = self.options.connect_timeout;
            let addrs: Vec<SocketAddr> =
                tokio::time::timeout(limit, tokio::net::lookup_host((host, port)))
                    .await
                    .map_err(|_| {
                        failure(format!(
                            "the token proxy {host} could not be resolved within {} ms",
                            limit.as_millis()
                        ))
                    })?
                    .map_err(|e| {
                        failure(format!("the token proxy {host} cannot be resolved: {e}"))
                    })?
                    .collect();
            builder = builder.resolve_to_addrs(sni, &addrs);
        }
        let client =
            Arc::new(ReqwestTransport::from_builder(builder, &self.options).map_err(failure)?);
        let mut state = self.lock();
        if state.ca_pem == ca_pem {
            state.client = Some(client.clone());
        }
        Ok(client)
    }
}

fn certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the token proxy CA is not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err("the token proxy CA holds no CERTIFICATE block".to_owned());
    }
    Ok(certs)
}

impl HttpClient for TokenProxyTransport {
    fn send(&self, mut request: http::Request<bytes::Bytes>) -> HttpFuture<'_> {
        Box::pin(async move {
            let (url, host) = self
                .rewrite(request.uri())
                .map_err(|e| TransportError::new(TransportErrorKind::Other, e))?;
            *request.uri_mut() = url
                .parse()
                .map_err(|e| TransportError::new(TransportErrorKind::Other, format!("{e}")))?;
            if let Some(host) = host {
                request.headers_mut().insert(http::header::HOST, host);
            }
            let client = self.client().await?;
            client.send(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Option<TokenProxyConfig>, String> {
        TokenProxyConfig::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn the_ca_file_read_is_bounded() {
        let config = config(&[
            (PROXY_VAR, "https://proxy.test:8443"),
            (CA_FILE_VAR, "/dev/zero"),
        ])
        .unwrap()
        .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(
                TokenProxyTransport::new(config, HttpOptions::default(), Env::default())
                    .map(|_| ()),
            );
        });
        let result = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("reading the CA file hung");
        assert!(result.unwrap_err().contains("Failed to read CA file"));
    }

    #[test]
    fn configuration_rules() {
        assert!(config(&[]).unwrap().is_none());
        assert!(
            config(&[(SNI_VAR, "x")])
                .unwrap_err()
                .contains("is not set")
        );
        assert!(
            config(&[
                (PROXY_VAR, "https://p"),
                (CA_FILE_VAR, "/a"),
                (CA_DATA_VAR, "b")
            ])
            .unwrap_err()
            .contains("Only one")
        );
        for bad in [
            "http://p",
            "https://u:pw@p",
            "https://p/?q=1",
            "https://p/#f",
            "nope",
        ] {
            assert!(config(&[(PROXY_VAR, bad)]).is_err(), "{bad}");
        }
        assert!(
            config(&[(PROXY_VAR, "https://p:8443/base/")])
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn rewriting() {
        let transport = |pairs: &[(&str, &str)]| {
            TokenProxyTransport::new(
                config(pairs).unwrap().unwrap(),
                HttpOptions::default(),
                Env::from_pairs(std::iter::empty::<(String, String)>()),
            )
            .unwrap()
        };
        let t = transport(&[(PROXY_VAR, "https://proxy:8443/base/")]);
        let uri: http::Uri = "https://login.microsoftonline.com/t/oauth2/v2.0/token?x=1"
            .parse()
            .unwrap();
        let (url, host) = t.rewrite(&uri).unwrap();
        assert_eq!(url, "https://proxy:8443/base/t/oauth2/v2.0/token?x=1");
        assert!(host.is_none());
        // A retry of an already rewritten request is left alone.
        let (again, _) = t.rewrite(&url.parse().unwrap()).unwrap();
        assert_eq!(again, url);
        let t = transport(&[
            (PROXY_VAR, "https://10.0.0.1:8443"),
            (SNI_VAR, "sni.example"),
        ]);
        let (url, host) = t.rewrite(&uri).unwrap();
        assert_eq!(url, "https://sni.example:8443/t/oauth2/v2.0/token?x=1");
        assert_eq!(host.unwrap(), "10.0.0.1:8443");
    }
}

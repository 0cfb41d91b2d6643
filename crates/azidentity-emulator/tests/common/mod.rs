//! A tiny HTTPS client for the emulator's tests: hyper's HTTP/1 connection API over
//! tokio-rustls, trusting only the emulator's throw-away CA.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use azidentity_emulator::RunningEmulator;
use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// No test waits longer than this for one exchange, so a bug shows up as a failure, not a hang.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Client {
    addr: SocketAddr,
    host: String,
    connector: TlsConnector,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The AADSTS code of an Entra error body.
    pub fn aadsts(&self) -> u64 {
        self.json()["error_codes"][0]
            .as_u64()
            .unwrap_or_else(|| panic!("no error code in {}", self.text()))
    }
}

pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Client {
    pub fn new(emulator: &RunningEmulator) -> Self {
        Self::from_parts(emulator.ca_pem(), emulator.port())
    }

    /// For an emulator in another process: its CA and port.
    pub fn from_parts(ca_pem: &str, port: u16) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("CA PEM");
        roots.add(ca).expect("CA accepted");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            host: format!("127.0.0.1:{port}"),
            connector: TlsConnector::from(Arc::new(config)),
        }
    }

    pub async fn tls_stream(&self) -> std::io::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(self.addr).await?;
        let name = ServerName::IpAddress(self.addr.ip().into());
        self.connector.connect(name, tcp).await
    }

    pub async fn connect(&self) -> Result<Connection, String> {
        let tls = self.tls_stream().await.map_err(|e| e.to_string())?;
        let (sender, connection) = http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Connection {
            sender,
            host: self.host.clone(),
        })
    }

    /// One request on a fresh connection; `Err` when the connection fails or is dropped.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Result<Reply, String> {
        let mut connection = self.connect().await?;
        connection.send(method, path, headers, body).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, &[], Bytes::new())
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.post_form_with_headers(path, form, &[]).await
    }

    pub async fn post_form_with_headers(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut all = vec![("content-type", "application/x-www-form-urlencoded")];
        all.extend_from_slice(headers);
        self.send(Method::POST, path, &all, encode_form(form))
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub async fn post_json(&self, path: &str, body: &str) -> Reply {
        self.send(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            body.to_owned(),
        )
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// Writes raw bytes inside TLS, closes the sending side, and returns whatever comes
    /// back before the server closes.
    pub async fn raw(&self, bytes: &[u8]) -> Vec<u8> {
        let mut tls = self.tls_stream().await.expect("TLS connects");
        tls.write_all(bytes).await.expect("write");
        let _ = tls.shutdown().await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(EXCHANGE_TIMEOUT, tls.read_to_end(&mut answer)).await;
        answer
    }
}

impl Connection {
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Result<Reply, String> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Full::new(body.into()))
            .map_err(|e| e.to_string())?;
        let exchange = async {
            let response = self
                .sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok(Reply {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
            .await
            .map_err(|_| "timed out".to_owned())?
    }
}

pub fn encode_form(form: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish()
}

pub fn token_path(tenant: &str) -> String {
    format!("/{tenant}/oauth2/v2.0/token")
}

/// A private scratch directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("emulator-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, name: &str, data: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, data).expect("write");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An RSA key from the `openssl` command (Entra wants RSA certificates; ring cannot generate
/// RSA keys), as PKCS#8 PEM.
pub fn rsa_key_pem() -> String {
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("the openssl command runs (scripts/install-test-packages installs it)");
    assert!(out.status.success(), "openssl genpkey failed");
    String::from_utf8(out.stdout).expect("PEM")
}

/// How long a launched emulator may take to start or stop.
const LAUNCH_WAIT: Duration = Duration::from_secs(60);

/// A running `azidentity-emulator` process and what it said once ready.
pub struct Launched {
    child: tokio::process::Child,
    pub ready: Value,
    ready_file: PathBuf,
}

impl Launched {
    pub async fn start(scratch: &Scratch, name: &str, args: &[&str]) -> Self {
        let ready_file = scratch.path(&format!("{name}.ready.json"));
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_azidentity-emulator"))
            .arg("--ready-file")
            .arg(&ready_file)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary starts");
        let ready: Value = tokio::time::timeout(LAUNCH_WAIT, async {
            loop {
                if let Ok(text) = std::fs::read_to_string(&ready_file) {
                    break serde_json::from_str(&text).expect("the ready file is whole JSON");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("ready in time");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&ready_file)
                .expect("the ready file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "the ready file holds a secret");
        }
        Self {
            child,
            ready,
            ready_file,
        }
    }

    pub fn port(&self) -> u16 {
        u16::try_from(self.ready["port"].as_u64().expect("port")).expect("u16")
    }

    pub fn ca_path(&self) -> PathBuf {
        PathBuf::from(self.ready["ca_path"].as_str().expect("ca_path"))
    }

    pub fn client(&self) -> Client {
        let ca = std::fs::read_to_string(self.ca_path()).expect("CA file");
        Client::from_parts(&ca, self.port())
    }

    pub fn env(&self, name: &str) -> Option<&str> {
        self.ready["env"][name].as_str()
    }

    /// Every variable it printed.
    pub fn env_pairs(&self) -> Vec<(String, String)> {
        self.ready["env"]
            .as_object()
            .expect("env")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("a string").to_owned()))
            .collect()
    }

    /// Sends the signal and returns (stdout, stderr) once the process has exited cleanly and
    /// removed its ready file.
    pub async fn stop(self, signal: &str) -> (String, String) {
        let pid = self.child.id().expect("running").to_string();
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let output = tokio::time::timeout(LAUNCH_WAIT, self.child.wait_with_output())
            .await
            .expect("exits in time")
            .expect("output");
        assert!(
            output.status.success(),
            "exit status {} after {signal}",
            output.status
        );
        assert!(
            !self.ready_file.exists(),
            "the ready file is removed on exit"
        );
        (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

/// What the emulator's CAE-enabled test resource answers for a token: 200 with its claims
/// when the emulator verifies it.
pub async fn call_resource(client: &Client, token: &str) -> Reply {
    let bearer = format!("Bearer {token}");
    client
        .send(
            Method::GET,
            "/_emulator/resource",
            &[("authorization", bearer.as_str())],
            Bytes::new(),
        )
        .await
        .expect("answered")
}

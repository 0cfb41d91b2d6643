//! Entry points for the fuzz targets in `fuzz/` and for their regression tests: each takes
//! untrusted bytes and runs one parser of this crate over them, then checks what must hold
//! whatever the input (no panic above all; a few invariants besides). Not part of the API.

#![allow(missing_docs)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use time::OffsetDateTime;

use crate::platform::{HttpClient, HttpFuture, ManualClock, ProcessOutput};
use crate::{
    ClientOptions, ClientSecretCredential, ClientSecretCredentialOptions, Env, Platform,
    RetryOptions, TokenCredential, TokenRequestOptions,
};

/// A fixed "now" (2026-01-01) so runs are reproducible.
const NOW: i64 = 1_767_225_600;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Splits the input into `n` parts at NUL bytes (missing parts are empty).
fn parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts: Vec<&[u8]> = data.splitn(n, |b| *b == 0).collect();
    parts.resize(n, &[]);
    parts
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
    }
    RUNTIME.with(|runtime| runtime.block_on(future))
}

/// `redact`: never panics, and its output is stable under a second pass (what was masked stays
/// masked and nothing new appears to mask).
pub fn redact(data: &[u8]) {
    let input = text(data);
    let once = crate::redact::text(&input);
    assert_eq!(crate::redact::text(&once), once, "redaction is idempotent");
    let _ = crate::redact::body(data);
    let _ = crate::redact::excerpt(&input, 64);
    if let Ok(mut value) = serde_json::from_slice::<Value>(data) {
        crate::redact::json(&mut value);
    }
}

/// Retry-After in all its forms (seconds, HTTP date, milliseconds).
pub fn retry_after(data: &[u8]) {
    let [name, value] = [0, 1].map(|i| parts(data, 2)[i]);
    let mut headers = http::HeaderMap::new();
    let name = match name.first().map(|b| b % 3) {
        Some(0) => "retry-after-ms",
        Some(1) => "x-ms-retry-after-ms",
        _ => "retry-after",
    };
    if let Ok(value) = http::HeaderValue::from_bytes(value) {
        headers.insert(name, value);
    }
    let _ = crate::pipeline::retry_after(&headers, now());
}

/// A token endpoint's answer, success or error, with its ID token and client info.
pub fn token_response(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    let known = ["s3cret"];
    let parsed = crate::entra::response::parse_token("Fuzz", "fuzz", &body, now(), &known);
    if let Err(error) = &parsed {
        assert!(
            !format!("{error} {error:?}").contains(known[0]),
            "{error:?}"
        );
    }
    if let Ok(response) = parsed {
        let _ = response.raw.id_token_claims();
        assert!(
            response
                .token
                .refresh_on()
                .is_none_or(|r| r <= response.token.expires_on())
        );
    }
    let headers = http::HeaderMap::new();
    let error = crate::entra::response::parse_error("Fuzz", "fuzz", 400, &headers, &body, &known);
    assert!(
        !format!("{error} {error:?}").contains(known[0]),
        "{error:?}"
    );
}

/// A managed identity host's answer through the shared parser, with every host's way of
/// writing `expires_on` (seconds as number or string, Azure ML's dates).
pub fn managed_identity_response(data: &[u8]) {
    crate::managed_identity::fuzz_response(data, now());
}

/// `az`, `azd` and `pwsh` output: exit code, stdout, stderr and the time zone, read as each
/// tool's answer.
pub fn cli_output(data: &[u8]) {
    let [head, stdout, stderr, tz] = [0, 1, 2, 3].map(|i| parts(data, 4)[i]);
    let output = ProcessOutput {
        exit_code: head.first().map(|b| i32::from(*b) - 1).filter(|c| *c >= 0),
        stdout: text(stdout),
        stderr: text(stderr),
    };
    let platform = Platform::system().with_env(Env::from_pairs([("TZ", text(tz))]));
    crate::developer::fuzz_interpret(&output, &platform);
}

/// A TZif file (the local time zone) and a local time converted with it.
pub fn local_time(data: &[u8]) {
    let [when, zone] = [0, 1].map(|i| parts(data, 2)[i]);
    crate::developer::fuzz_local_time(zone, when);
}

/// One HTTP request to the browser sign-in's redirect server, as raw bytes on a connection.
#[cfg(feature = "interactive")]
pub fn redirect_request(data: &[u8]) {
    let data = data.to_vec();
    block_on(async move {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let serve = crate::entra::redirect_server::handle(server, "/".into(), "state".into());
        let send = async move {
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            let mut client = client;
            let _ = client.write_all(&data).await;
            let _ = client.shutdown().await;
            let mut sink = Vec::new();
            let _ = client.read_to_end(&mut sink).await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), async { tokio::join!(serve, send) })
            .await;
    });
}

/// A certificate file: PEM (certificates, PKCS#8, encrypted PKCS#8, PKCS#1) or PKCS#12, with
/// and without a password.
#[cfg(feature = "certificate")]
pub fn certificate(data: &[u8]) {
    let [password, file] = [0, 1].map(|i| parts(data, 2)[i]);
    let source = crate::CertificateSource::Bytes(file.to_vec());
    let password = (!password.is_empty()).then(|| crate::Secret::new(text(password)));
    if let Err(error) =
        crate::certificate::ClientCertificate::load("Fuzz", &source, password.as_ref(), now())
    {
        let _ = (error.to_string(), format!("{error:?}"));
    }
}

/// The MSAL token cache document: load, add a token response, serialize, load again. What
/// was loaded survives the round trip.
pub fn cache_document(data: &[u8]) {
    let [document, response] = [0, 1].map(|i| parts(data, 2)[i]);
    let Ok(mut doc) = crate::cache::persistent::TokenCacheDocument::deserialize(&text(document))
    else {
        return;
    };
    let first = doc.serialize().expect("a loaded document serializes");
    let again = crate::cache::persistent::TokenCacheDocument::deserialize(&first)
        .expect("our output loads");
    assert_eq!(
        again.serialize().expect("a loaded document serializes"),
        first,
        "a round trip changes nothing"
    );
    if let Ok(Value::Object(response)) = serde_json::from_slice::<Value>(response) {
        let event = crate::cache::persistent::TokenCacheEvent {
            client_id: "client",
            environment: "login.microsoftonline.com",
            realm: "organizations",
            scopes: &["https://management.azure.com/.default"],
            grant_type: Some("authorization_code"),
            response: &response,
            username: None,
            skip_account_creation: false,
            now: NOW,
        };
        doc.add(&event);
        let written = doc
            .serialize()
            .expect("a document with a response added serializes");
        crate::cache::persistent::TokenCacheDocument::deserialize(&written)
            .expect("our output loads");
    }
}

/// `AuthenticationRecord::deserialize`, and a round trip of what it accepts.
pub fn auth_record(data: &[u8]) {
    if let Ok(record) = crate::AuthenticationRecord::deserialize(&text(data)) {
        let again = crate::AuthenticationRecord::deserialize(&record.serialize())
            .expect("our output loads");
        assert_eq!(again.serialize(), record.serialize());
    }
}

/// Answers each request with the next scripted response, then refuses.
#[derive(Debug)]
struct ScriptedTransport {
    responses: Mutex<std::vec::IntoIter<http::Response<Bytes>>>,
}

impl ScriptedTransport {
    /// Each part: a status selector, a header selector, then the body.
    fn from_parts(parts: &[&[u8]]) -> Self {
        const STATUSES: [u16; 12] = [200, 200, 200, 400, 401, 403, 404, 410, 429, 500, 503, 999];
        let responses: Vec<http::Response<Bytes>> = parts
            .iter()
            .map(|part| {
                let status = STATUSES[usize::from(part.first().copied().unwrap_or(0)) % 12];
                let headers = part.get(1).copied().unwrap_or(0);
                let body = Bytes::copy_from_slice(part.get(2..).unwrap_or_default());
                let mut response = http::Response::new(body);
                *response.status_mut() =
                    http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
                let h = response.headers_mut();
                let json = http::HeaderValue::from_static("application/json");
                let html = http::HeaderValue::from_static("text/html");
                h.insert("content-type", if headers & 1 == 0 { json } else { html });
                if headers & 2 != 0 {
                    h.insert("retry-after", http::HeaderValue::from_static("1"));
                }
                if headers & 4 != 0 {
                    h.insert(
                        "www-authenticate",
                        http::HeaderValue::from_static("Basic realm=/nonexistent/fuzz.key"),
                    );
                }
                response
            })
            .collect();
        ScriptedTransport {
            responses: Mutex::new(responses.into_iter()),
        }
    }
}

impl HttpClient for ScriptedTransport {
    fn send(&self, _request: http::Request<Bytes>) -> HttpFuture<'_> {
        let next = self
            .responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next();
        Box::pin(async move {
            next.ok_or_else(|| {
                crate::platform::TransportError::new(
                    crate::platform::TransportErrorKind::Connect,
                    "no more scripted responses",
                )
            })
        })
    }
}

fn scripted_platform(parts: &[&[u8]], env: Env) -> Platform {
    Platform::system()
        .with_env(env)
        .with_clock(Arc::new(ManualClock::new(now())))
        .with_http_client(Arc::new(ScriptedTransport::from_parts(parts)))
}

fn no_retries() -> RetryOptions {
    RetryOptions {
        max_retries: 2,
        backoff: Duration::ZERO,
        max_delay: Duration::ZERO,
    }
}

/// A client secret credential whose every HTTP answer (instance discovery, OpenID metadata,
/// token responses, errors) comes from the input.
pub fn entra_exchange(data: &[u8]) {
    let parts = parts(data, 6);
    let options = ClientSecretCredentialOptions {
        client_options: ClientOptions {
            authority_host: Some("https://login.microsoftonline.com".to_owned()),
            retry: no_retries(),
            platform: scripted_platform(&parts, Env::default()),
            ..ClientOptions::default()
        },
        ..Default::default()
    };
    let Ok(credential) = ClientSecretCredential::new("tenant", "client", "s3cret".into(), options)
    else {
        return;
    };
    get_token_keeping(&credential, &["s3cret"]);
}

/// Asks `credential` for a token; whatever the answers were, its error shows none of `secrets`.
fn get_token_keeping(credential: &dyn TokenCredential, secrets: &[&str]) {
    let result = block_on(credential.get_token(
        &["https://management.azure.com/.default"],
        &TokenRequestOptions::default(),
    ));
    if let Err(error) = result {
        let shown = format!("{error} {error:?}");
        for secret in secrets {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
    }
}

/// A managed identity credential on each plain-HTTP host whose answers come from the input.
pub fn managed_identity_exchange(data: &[u8]) {
    let [which, rest] = [0, 1].map(|i| parts(data, 2)[i]);
    let env: &[(&str, &str)] = match which.first().map(|b| b % 5) {
        Some(0) => &[
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token"),
            ("IDENTITY_HEADER", "header-secret"),
        ],
        Some(1) => &[("MSI_ENDPOINT", "http://127.0.0.1:1/oauth2/token")],
        Some(2) => &[
            ("MSI_ENDPOINT", "http://127.0.0.1:1/msi/token"),
            ("MSI_SECRET", "ml-secret"),
        ],
        Some(3) => &[
            (
                "IDENTITY_ENDPOINT",
                "http://127.0.0.1:1/metadata/identity/oauth2/token",
            ),
            ("IMDS_ENDPOINT", "http://127.0.0.1:1"),
        ],
        _ => &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:1")],
    };
    let parts: Vec<&[u8]> = rest.split(|b| *b == 0).take(8).collect();
    let platform = scripted_platform(&parts, Env::from_pairs(env.iter().copied()))
        .with_arc_key_dir("/nonexistent");
    let options = crate::ManagedIdentityCredentialOptions {
        client_options: ClientOptions {
            retry: no_retries(),
            platform,
            ..ClientOptions::default()
        },
        ..Default::default()
    };
    let Ok(credential) = crate::ManagedIdentityCredential::new(options) else {
        return;
    };
    get_token_keeping(&credential, &["header-secret", "ml-secret"]);
}

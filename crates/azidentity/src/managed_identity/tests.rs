//! Engine tests over an in-memory transport: no packet leaves the process, so these may use
//! IMDS's real address to exercise the probe (which is skipped when the endpoint is overridden).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use time::OffsetDateTime;

use super::{ManagedIdentityId, ManagedIdentitySource, MiClient, Mode, client_for};
use crate::platform::{
    Clock, HttpClient, HttpFuture, ManualClock, TransportError, TransportErrorKind,
};
use crate::{ClientOptions, Env, ErrorKind, Platform, TokenRequestOptions};

enum Reply {
    Answer(u16, &'static [(&'static str, &'static str)], String),
    Fail(TransportErrorKind),
    Hang,
}

#[derive(Default)]
struct FakeHttp {
    script: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<http::Request<Bytes>>>,
}

impl std::fmt::Debug for FakeHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FakeHttp")
    }
}

impl FakeHttp {
    fn with(replies: Vec<Reply>) -> Arc<Self> {
        Arc::new(FakeHttp {
            script: Mutex::new(replies.into()),
            seen: Mutex::default(),
        })
    }

    fn seen(&self) -> Vec<http::Request<Bytes>> {
        self.seen.lock().unwrap().clone()
    }
}

impl HttpClient for FakeHttp {
    fn send(&self, request: http::Request<Bytes>) -> HttpFuture<'_> {
        self.seen.lock().unwrap().push(request);
        let reply = self.script.lock().unwrap().pop_front();
        Box::pin(async move {
            match reply {
                Some(Reply::Answer(status, headers, body)) => {
                    let mut builder = http::Response::builder().status(status);
                    for (k, v) in headers {
                        builder = builder.header(*k, *v);
                    }
                    Ok(builder.body(Bytes::from(body)).unwrap())
                }
                Some(Reply::Fail(kind)) => Err(TransportError::new(kind, "refused")),
                Some(Reply::Hang) => std::future::pending().await,
                None => Err(TransportError::new(
                    TransportErrorKind::Other,
                    "script ended",
                )),
            }
        })
    }
}

const JSON: &[(&str, &str)] = &[("content-type", "application/json")];

fn token(expires_in: u64) -> Reply {
    Reply::Answer(
        200,
        JSON,
        format!(
            r#"{{"access_token":"tok-{expires_in}","expires_in":"{expires_in}","token_type":"Bearer","resource":"https://r"}}"#
        ),
    )
}

fn start() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn options(env: &[(&str, &str)], http: &Arc<FakeHttp>, clock: &Arc<ManualClock>) -> ClientOptions {
    ClientOptions {
        platform: Platform::system()
            .with_env(Env::from_pairs(env.iter().copied()))
            .with_clock(clock.clone())
            .with_http_client(http.clone()),
        ..ClientOptions::default()
    }
}

/// A client for `kind` over the scripted transport and the manual clock.
fn mi_client(
    kind: ManagedIdentitySource,
    id: ManagedIdentityId,
    env: &[(&str, &str)],
    http: &Arc<FakeHttp>,
    clock: &Arc<ManualClock>,
    mode: Mode,
) -> MiClient {
    client_for(kind, id, &options(env, http, clock), mode).unwrap()
}

fn mode(probe_imds: bool, in_chain: bool) -> Mode {
    Mode {
        probe_imds,
        in_chain,
        in_default_chain: false,
    }
}

async fn fetch(client: &MiClient, scope: &str) -> Result<crate::AccessToken, crate::Error> {
    client
        .get_token(&[scope], &TokenRequestOptions::default())
        .await
}

const OVERRIDE: &[(&str, &str)] = &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")];
const NO_OVERRIDE: &[(&str, &str)] = &[("UNRELATED", "1")];

fn has_metadata(r: &http::Request<Bytes>) -> bool {
    r.headers().get("metadata").is_some_and(|v| v == "true")
}

#[tokio::test]
async fn probe_once_then_real_request() {
    let http = FakeHttp::with(vec![
        Reply::Answer(400, JSON, r#"{"error":"invalid_request","error_description":"Required metadata header not specified"}"#.into()),
        token(3600),
        token(3600),
    ]);
    let clock = Arc::new(ManualClock::new(start()));
    let client = mi_client(
        ManagedIdentitySource::Imds,
        ManagedIdentityId::SystemAssigned,
        NO_OVERRIDE,
        &http,
        &clock,
        mode(true, true),
    );
    let t = fetch(&client, "https://r/.default").await.unwrap();
    assert_eq!(t.token().secret(), "tok-3600");
    // Cached: no request.
    fetch(&client, "https://r/.default").await.unwrap();
    // Another resource: no second probe.
    fetch(&client, "https://other").await.unwrap();
    let seen = http.seen();
    assert_eq!(seen.len(), 3);
    assert!(!has_metadata(&seen[0]), "the probe must not send Metadata");
    assert!(has_metadata(&seen[1]) && has_metadata(&seen[2]));
    assert!(seen[0].uri().to_string().starts_with("http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fr"));
}

#[tokio::test]
async fn probe_failures_are_unavailable_and_not_remembered() {
    let http = FakeHttp::with(vec![
        Reply::Fail(TransportErrorKind::Connect),
        Reply::Answer(403, &[], "connecting to 169.254.169.254:80: A socket operation was attempted to an unreachable network".into()),
        Reply::Answer(400, JSON, "{}".into()),
        token(3600),
    ]);
    let clock = Arc::new(ManualClock::new(start()));
    let client = mi_client(
        ManagedIdentitySource::Imds,
        ManagedIdentityId::SystemAssigned,
        NO_OVERRIDE,
        &http,
        &clock,
        mode(true, true),
    );
    let none = TokenRequestOptions::default();
    let e = client.get_token(&["https://r"], &none).await.unwrap_err();
    assert!(e.is_unavailable(), "{e}");
    assert!(
        e.message().contains("no response from the IMDS endpoint"),
        "{e}"
    );
    // Within 30 s the cache would throttle a refresh of a valid token, but there is none.
    let e = client.get_token(&["https://r"], &none).await.unwrap_err();
    assert!(
        e.is_unavailable() && e.message().contains("Docker Desktop"),
        "{e}"
    );
    client.get_token(&["https://r"], &none).await.unwrap();
    assert_eq!(
        http.seen().len(),
        4,
        "each failed probe is retried on the next call, once"
    );
}

#[tokio::test(start_paused = true)]
async fn probe_gives_up_after_one_second() {
    let http = FakeHttp::with(vec![Reply::Hang]);
    let clock = Arc::new(ManualClock::new(start()));
    let client = mi_client(
        ManagedIdentitySource::Imds,
        ManagedIdentityId::SystemAssigned,
        NO_OVERRIDE,
        &http,
        &clock,
        mode(true, true),
    );
    let began = tokio::time::Instant::now();
    let e = fetch(&client, "https://r").await.unwrap_err();
    assert!(e.is_unavailable(), "{e}");
    assert_eq!(began.elapsed(), Duration::from_secs(1));
    assert_eq!(http.seen().len(), 1);
}

#[tokio::test]
async fn no_probe_when_the_endpoint_is_overridden_or_not_in_a_chain() {
    let http = FakeHttp::with(vec![token(3600), token(3600)]);
    let clock = Arc::new(ManualClock::new(start()));
    let client = mi_client(
        ManagedIdentitySource::Imds,
        ManagedIdentityId::SystemAssigned,
        OVERRIDE,
        &http,
        &clock,
        mode(true, true),
    );
    fetch(&client, "https://r").await.unwrap();
    let client = mi_client(
        ManagedIdentitySource::Imds,
        ManagedIdentityId::SystemAssigned,
        NO_OVERRIDE,
        &http,
        &clock,
        Mode::default(),
    );
    fetch(&client, "https://r").await.unwrap();
    assert!(http.seen().iter().all(has_metadata));
    assert!(
        http.seen()[0]
            .uri()
            .to_string()
            .starts_with("http://127.0.0.1:9/metadata/")
    );
}

async fn retry_schedule(status: u16, in_chain: bool) -> (Duration, usize, crate::Error) {
    let replies = (0..6)
        .map(|_| Reply::Answer(status, JSON, r#"{"error":"busy"}"#.into()))
        .collect();
    let http = FakeHttp::with(replies);
    let clock = Arc::new(ManualClock::new(start()));
    let client = mi_client(
        ManagedIdentitySource::Imds,
        ManagedIdentityId::SystemAssigned,
        OVERRIDE,
        &http,
        &clock,
        mode(false, in_chain),
    );
    let e = fetch(&client, "https://r").await.unwrap_err();
    let waited = clock.now() - start();
    (Duration::try_from(waited).unwrap(), http.seen().len(), e)
}

#[tokio::test]
async fn imds_410_waits_at_least_70_seconds() {
    let (waited, requests, e) = retry_schedule(410, false).await;
    assert_eq!(requests, 6);
    assert_eq!(waited, Duration::from_secs(75));
    assert!(matches!(e.kind(), ErrorKind::AuthenticationFailed), "{e}");
    assert_eq!(e.http().map(|h| h.status), Some(410));
}

#[tokio::test]
async fn imds_5xx_and_404_back_off_like_python() {
    for status in [500, 503, 404] {
        let (waited, requests, e) = retry_schedule(status, true).await;
        assert_eq!(requests, 6, "{status}");
        assert_eq!(
            waited,
            Duration::from_millis(1600 + 3200 + 6400 + 12800),
            "{status}"
        );
        assert!(
            e.is_unavailable(),
            "in a chain IMDS errors let the chain go on: {e}"
        );
    }
}

#[tokio::test]
async fn imds_429_honours_retry_after_and_400_is_not_retried() {
    let http = FakeHttp::with(vec![
        Reply::Answer(429, &[("retry-after", "7")], "{}".into()),
        token(3600),
    ]);
    let clock = Arc::new(ManualClock::new(start()));
    let client = mi_client(
        ManagedIdentitySource::Imds,
        ManagedIdentityId::SystemAssigned,
        OVERRIDE,
        &http,
        &clock,
        Mode::default(),
    );
    fetch(&client, "https://r").await.unwrap();
    assert_eq!(clock.now() - start(), time::Duration::seconds(7));

    let http = FakeHttp::with(vec![Reply::Answer(
        400,
        JSON,
        r#"{"error":"invalid_request","error_description":"Identity not found"}"#.into(),
    )]);
    let client = mi_client(
        ManagedIdentitySource::Imds,
        ManagedIdentityId::ClientId("c-1".into()),
        OVERRIDE,
        &http,
        &clock,
        Mode::default(),
    );
    let e = fetch(&client, "https://r").await.unwrap_err();
    assert!(e.is_unavailable());
    assert!(e.message().contains("Identity not found"), "{e}");
    assert_eq!(http.seen().len(), 1);
    assert!(http.seen()[0].uri().to_string().ends_with("&client_id=c-1"));
}

#[tokio::test]
async fn non_json_answers() {
    const APP_SERVICE: &[(&str, &str)] = &[
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:9/token"),
        ("IDENTITY_HEADER", "h"),
    ];
    const TEXT: &[(&str, &str)] = &[("content-type", "text/plain")];
    const HTML: &[(&str, &str)] = &[("content-type", "text/html")];
    let truncated = r#"{"access_token": trunc"#;
    // (host, its environment, content type, body, unavailable)
    let cases = [
        (
            ManagedIdentitySource::Imds,
            OVERRIDE,
            HTML,
            "<html>hotel wifi</html>",
            true,
        ),
        (
            ManagedIdentitySource::AppService,
            APP_SERVICE,
            JSON,
            truncated,
            false,
        ),
        (
            ManagedIdentitySource::AppService,
            APP_SERVICE,
            TEXT,
            truncated,
            true,
        ),
    ];
    let clock = Arc::new(ManualClock::new(start()));
    for (kind, env, headers, body, unavailable) in cases {
        let http = FakeHttp::with(vec![Reply::Answer(200, headers, body.into())]);
        let id = ManagedIdentityId::SystemAssigned;
        let client = mi_client(kind, id, env, &http, &clock, Mode::default());
        let e = fetch(&client, "https://r").await.unwrap_err();
        assert_eq!(e.is_unavailable(), unavailable, "{kind:?} {headers:?}: {e}");
        assert!(!e.message().contains("trunc\""), "{e}");
    }
}

#[tokio::test]
async fn long_tokens_refresh_at_half_life_and_failures_keep_the_old_one() {
    let http = FakeHttp::with(vec![
        token(86_400),
        Reply::Answer(500, JSON, "{}".into()),
        token(86_400),
    ]);
    let clock = Arc::new(ManualClock::new(start()));
    let client = mi_client(
        ManagedIdentitySource::AppService,
        ManagedIdentityId::SystemAssigned,
        &[
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:9/t"),
            ("IDENTITY_HEADER", "h"),
        ],
        &http,
        &clock,
        Mode::default(),
    );
    let none = TokenRequestOptions::default();
    let first = client.get_token(&["https://r"], &none).await.unwrap();
    assert_eq!(
        first.refresh_on(),
        Some(start() + time::Duration::hours(12))
    );
    clock.advance(Duration::from_secs(12 * 3600 + 1));
    // The refresh fails after the retries (App Service: the client's retry options, 3 retries,
    // but the script has one 500 then a token, so the retry succeeds).
    let second = client.get_token(&["https://r"], &none).await.unwrap();
    assert_eq!(second.token().secret(), "tok-86400");
    assert_eq!(http.seen().len(), 3);
}

#[tokio::test]
async fn more_than_one_scope_is_refused_without_a_request() {
    let http = FakeHttp::with(vec![]);
    let clock = Arc::new(ManualClock::new(start()));
    let client = mi_client(
        ManagedIdentitySource::Imds,
        ManagedIdentityId::SystemAssigned,
        OVERRIDE,
        &http,
        &clock,
        Mode::default(),
    );
    let e = client
        .get_token(
            &["https://a/.default", "https://b/.default"],
            &TokenRequestOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidConfiguration));
    assert!(http.seen().is_empty());
}

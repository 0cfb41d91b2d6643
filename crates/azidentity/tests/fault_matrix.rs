//! The fault matrix: each credential family against each way a service or tool can misbehave,
//! with the outcome asserted (error kind, how many attempts, what the message says, how long
//! the client was told to wait). TROUBLESHOOTING.md "How each fault is handled" is this table
//! in prose; keep the two together.
//!
//! Retries wait on a recording clock (waits are recorded, not slept), so Retry-After and
//! back-off are asserted as values; the request timeout is real (1 s) for the slow cases.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use azidentity::platform::{Clock, SleepFuture, SystemClock};
use azidentity::{
    ClientOptions, ClientSecretCredential, ClientSecretCredentialOptions, Env, Error, ErrorKind,
    HttpOptions, ManagedIdentityCredential, ManagedIdentityCredentialOptions, Platform,
    RetryOptions, Secret, TokenCredential, UsernamePasswordCredential,
    UsernamePasswordCredentialOptions,
};
use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD, DEFAULT_PUBLIC_CLIENT_ID,
    DEFAULT_TENANT_ID, DEFAULT_USERNAME, Fault, HostKind, ManagedIdentityHost, RunningEmulator,
};
use common::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const SCOPE: &str = "https://vault.azure.net/.default";
const ENTRA_TOKEN_PATH: &str = "/oauth2/v2.0/token";
/// The largest response the transport accepts is 1 MiB; this is three.
const HUGE: usize = 3 << 20;

/// Records every wait the retry policy asks for and returns at once.
#[derive(Debug, Default)]
struct RecordingClock(Mutex<Vec<Duration>>);

impl Clock for RecordingClock {
    fn now(&self) -> time::OffsetDateTime {
        SystemClock.now()
    }
    fn sleep(&self, duration: Duration) -> SleepFuture {
        self.0.lock().unwrap().push(duration);
        Box::pin(std::future::ready(()))
    }
}

/// What a case expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Token,
    Failed,
    Unavailable,
}

/// One fault: how to inject it, and what must follow.
struct Case {
    name: &'static str,
    /// Applied to a fault that matches the token requests.
    fault: fn(Fault) -> Fault,
    outcome: Outcome,
    /// Requests the service received for the token.
    attempts: usize,
    /// In the error's message (case-insensitive), when it fails.
    says: &'static str,
    /// Every wait the retry policy made, in order (the recording clock's): none for a single
    /// attempt, the back-off schedule, or what `Retry-After` asked for (capped at `max_delay`).
    waits: Vec<Duration>,
}

/// Waits in milliseconds.
fn ms(waits: &[u64]) -> Vec<Duration> {
    waits.iter().copied().map(Duration::from_millis).collect()
}

/// The back-off of `quick_retries` (and `patient_retries`) for three retries: the first at once,
/// then `10 ms × 2^(n-1)`.
fn backoff() -> Vec<Duration> {
    ms(&[0, 20, 40])
}

fn endless(fault: Fault) -> Fault {
    fault.times(100)
}

fn token_body() -> String {
    serde_json::json!({
        "token_type": "Bearer",
        "expires_in": 3599,
        "access_token": "fault-matrix-access-token-value",
    })
    .to_string()
}

const INVALID_REQUEST: &str =
    r#"{"error":"invalid_request","error_description":"AADSTS900144: invalid_request"}"#;
const INVALID_CLIENT: &str =
    r#"{"error":"invalid_client","error_description":"AADSTS7000215: invalid_client"}"#;
const UNAUTHORIZED_CLIENT: &str =
    r#"{"error":"unauthorized_client","error_description":"AADSTS700016: unauthorized_client"}"#;

fn entra_cases() -> Vec<Case> {
    vec![
        Case {
            name: "400",
            fault: |f| f.status(400, INVALID_REQUEST),
            outcome: Outcome::Failed,
            attempts: 1,
            says: "invalid_request",
            waits: vec![],
        },
        Case {
            name: "401",
            fault: |f| f.status(401, INVALID_CLIENT),
            outcome: Outcome::Failed,
            attempts: 1,
            says: "invalid_client",
            waits: vec![],
        },
        Case {
            name: "403",
            fault: |f| f.status(403, UNAUTHORIZED_CLIENT),
            outcome: Outcome::Failed,
            attempts: 1,
            says: "unauthorized_client",
            waits: vec![],
        },
        Case {
            name: "404",
            fault: |f| f.status(404, "not here"),
            outcome: Outcome::Failed,
            attempts: 1,
            says: "404",
            waits: vec![],
        },
        Case {
            name: "408 endless",
            fault: |f| endless(f.status(408, "{}")),
            outcome: Outcome::Failed,
            attempts: 4,
            says: "408",
            waits: backoff(),
        },
        Case {
            name: "429 Retry-After 7 s, then a token",
            fault: |f| f.status(429, "{}").retry_after(7),
            outcome: Outcome::Token,
            attempts: 2,
            says: "",
            waits: vec![Duration::from_secs(7)],
        },
        Case {
            name: "500 endless",
            fault: |f| endless(f.status(500, "{}")),
            outcome: Outcome::Failed,
            attempts: 4,
            says: "500",
            waits: backoff(),
        },
        Case {
            name: "503 endless",
            fault: |f| endless(f.status(503, "{}")),
            outcome: Outcome::Failed,
            attempts: 4,
            says: "503",
            waits: backoff(),
        },
        Case {
            name: "slow headers",
            fault: |f| endless(f.delay(Duration::from_secs(3))),
            outcome: Outcome::Failed,
            attempts: 4,
            says: "time",
            waits: backoff(),
        },
        Case {
            name: "dropped before the answer",
            fault: |f| endless(f.drop_connection()),
            outcome: Outcome::Failed,
            attempts: 4,
            says: "",
            waits: backoff(),
        },
        Case {
            name: "malformed JSON",
            fault: |f| f.malformed_json(),
            outcome: Outcome::Failed,
            attempts: 1,
            says: "not json",
            waits: vec![],
        },
        Case {
            name: "HTML 502 endless",
            fault: |f| endless(f.html_error(502)),
            outcome: Outcome::Failed,
            attempts: 4,
            says: "502",
            waits: backoff(),
        },
        Case {
            name: "wrong content type",
            fault: |f| f.status(200, &token_body()).content_type("text/plain"),
            outcome: Outcome::Token,
            attempts: 1,
            says: "",
            waits: vec![],
        },
        Case {
            name: "body over the cap",
            fault: |f| f.status(200, &"x".repeat(HUGE)),
            outcome: Outcome::Failed,
            attempts: 1,
            says: "larger than",
            waits: vec![],
        },
        Case {
            name: "garbage numbers",
            fault: |f| {
                f.status(
                    200,
                    r#"{"access_token":"a","expires_in":-9223372036854775808}"#,
                )
            },
            outcome: Outcome::Failed,
            attempts: 1,
            says: "expires_in",
            waits: vec![],
        },
        Case {
            name: "wrong types",
            fault: |f| f.status(200, r#"{"access_token":["a"],"expires_in":{}}"#),
            outcome: Outcome::Failed,
            attempts: 1,
            says: "access_token",
            waits: vec![],
        },
    ]
}

/// Three retries, like the other tests', but a `max_delay` long enough to show what
/// `Retry-After` asked for.
fn patient_retries() -> RetryOptions {
    RetryOptions {
        max_delay: Duration::from_secs(60),
        ..quick_retries()
    }
}

fn platform_with(clock: &Arc<RecordingClock>, base: Platform) -> Platform {
    base.with_clock(clock.clone())
        .with_http_options(HttpOptions {
            request_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(2),
            ..HttpOptions::default()
        })
}

fn check(
    family: &str,
    case: &Case,
    result: Result<azidentity::AccessToken, Error>,
    attempts: usize,
    clock: &RecordingClock,
) {
    let label = format!("{family} × {}", case.name);
    assert_eq!(attempts, case.attempts, "{label}: attempts");
    match (case.outcome, result) {
        (Outcome::Token, Ok(_)) => {}
        (Outcome::Token, Err(e)) => panic!("{label}: expected a token, got {e}"),
        (_, Ok(_)) => panic!("{label}: expected a failure, got a token"),
        (expected, Err(e)) => {
            let kind = match e.kind() {
                ErrorKind::CredentialUnavailable => Outcome::Unavailable,
                _ => Outcome::Failed,
            };
            assert_eq!(kind, expected, "{label}: {e}");
            assert!(
                e.to_string().to_lowercase().contains(case.says),
                "{label}: the message should say {:?}: {e}",
                case.says
            );
        }
    }
    let waits = clock.0.lock().unwrap().clone();
    assert_eq!(waits, case.waits, "{label}: the waits between attempts");
}

async fn entra_family(
    family: &str,
    build: impl Fn(&RunningEmulator, Platform) -> Box<dyn TokenCredential>,
) {
    let emu = emulator().await;
    for case in entra_cases() {
        emu.reset();
        let clock = Arc::new(RecordingClock::default());
        let credential = build(&emu, platform_with(&clock, platform(&emu, &[])));
        // Waits are recorded, not slept: a max_delay this long shows Retry-After uncapped.
        emu.add_fault((case.fault)(Fault::on_path(ENTRA_TOKEN_PATH)));
        let result = credential.get_token(&[SCOPE], &Default::default()).await;
        let attempts = emu.token_requests().len();
        check(family, &case, result, attempts, &clock);
    }
}

#[tokio::test]
async fn entra_confidential_client() {
    entra_family("ClientSecretCredential", |emu, platform| {
        Box::new(
            ClientSecretCredential::new(
                DEFAULT_TENANT_ID,
                DEFAULT_CLIENT_ID,
                DEFAULT_CLIENT_SECRET.into(),
                ClientSecretCredentialOptions {
                    client_options: ClientOptions {
                        disable_instance_discovery: true,
                        platform,
                        retry: patient_retries(),
                        ..client_options(emu)
                    },
                    ..Default::default()
                },
            )
            .unwrap(),
        )
    })
    .await;
}

#[tokio::test]
async fn entra_user() {
    entra_family("UsernamePasswordCredential", |emu, platform| {
        Box::new(
            UsernamePasswordCredential::new(
                DEFAULT_PUBLIC_CLIENT_ID,
                DEFAULT_USERNAME,
                Secret::new(DEFAULT_PASSWORD),
                UsernamePasswordCredentialOptions {
                    client_options: ClientOptions {
                        disable_instance_discovery: true,
                        platform,
                        retry: patient_retries(),
                        ..client_options(emu)
                    },
                    tenant_id: None,
                    ..Default::default()
                },
            )
            .unwrap(),
        )
    })
    .await;
}

fn managed_identity(
    host_env: &[(String, String)],
    clock: &Arc<RecordingClock>,
) -> ManagedIdentityCredential {
    managed_identity_on(
        Platform::system().with_env(Env::from_pairs(host_env.to_vec())),
        clock,
    )
}

fn managed_identity_on(base: Platform, clock: &Arc<RecordingClock>) -> ManagedIdentityCredential {
    ManagedIdentityCredential::new(ManagedIdentityCredentialOptions {
        client_options: ClientOptions {
            retry: quick_retries(),
            platform: platform_with(clock, base),
            ..ClientOptions::default()
        },
        ..Default::default()
    })
    .unwrap()
}

/// The managed identity hosts answer faults as their own rules say (DESIGN.md, managed
/// identity): refusals fail; a non-JSON answer is "unavailable" unless labelled JSON; IMDS has
/// Python's own retry schedule (5 retries, back-off 0.8 s × 2^(n-1), Retry-After up to 60 s)
/// and calls "no answer" unavailable; the others retry as `quick_retries` says (Retry-After
/// capped at its 200 ms). Azure Arc answers its first request with a challenge: each fault
/// here hits that request (a 200 there fails: not the Arc agent), and a token takes one
/// request more.
#[tokio::test]
async fn managed_identity_hosts() {
    let emu = emulator().await;
    let not_json = "<html>nope</html>";
    for kind in [
        HostKind::AppService,
        HostKind::AzureArc,
        HostKind::CloudShell,
        HostKind::AzureMl,
        HostKind::Imds,
        HostKind::ServiceFabric,
    ] {
        let host = emu
            .start_managed_identity(ManagedIdentityHost::new(kind))
            .await
            .unwrap();
        let imds = kind == HostKind::Imds;
        let challenge = usize::from(kind == HostKind::AzureArc);
        let (retries, backoff_waits) = if imds {
            (6, ms(&[0, 1600, 3200, 6400, 12800]))
        } else {
            (4, backoff())
        };
        let refused = if imds {
            Outcome::Unavailable
        } else {
            Outcome::Failed
        };
        // A 200 where Arc's challenge belongs is not the Arc agent: a failure that says so.
        let not_json_200 = if challenge == 1 {
            Outcome::Failed
        } else {
            Outcome::Unavailable
        };
        let cases = [
            (
                "400",
                Fault::any().status(
                    400,
                    r#"{"error":"invalid_request","error_description":"bad"}"#,
                ),
                refused,
                1,
                vec![],
            ),
            (
                "500 endless",
                endless(Fault::any().status(500, "{}")),
                Outcome::Failed,
                retries,
                backoff_waits,
            ),
            (
                "429 Retry-After 3 s, then a token",
                Fault::any().status(429, "{}").retry_after(3),
                Outcome::Token,
                2 + challenge,
                if imds {
                    vec![Duration::from_secs(3)]
                } else {
                    vec![quick_retries().max_delay]
                },
            ),
            (
                "HTML 200",
                Fault::any().status(200, not_json).content_type("text/html"),
                not_json_200,
                1,
                vec![],
            ),
            (
                "malformed JSON",
                Fault::any().malformed_json(),
                refused,
                1,
                vec![],
            ),
            (
                "body over the cap",
                Fault::any().status(200, &"x".repeat(HUGE)),
                refused,
                1,
                vec![],
            ),
        ];
        for (name, fault, outcome, attempts, waits) in cases {
            emu.reset();
            let clock = Arc::new(RecordingClock::default());
            let mut base = Platform::system().with_env(Env::from_pairs(host.env().to_vec()));
            if let Some(dir) = host.arc_key_dir() {
                base = base.with_arc_key_dir(dir);
            }
            let credential = managed_identity_on(base, &clock);
            emu.add_fault(fault);
            let result = credential.get_token(&[SCOPE], &Default::default()).await;
            let case = Case {
                name,
                fault: |f| f,
                outcome,
                attempts,
                says: "",
                waits,
            };
            let sent = emu.requests().len();
            check(&format!("{kind:?}"), &case, result, sent, &clock);
        }
    }
}

/// Steps the stub serves in order, outcome, requests, message, the waits between them.
type StubCase = (
    &'static [&'static str],
    Outcome,
    usize,
    &'static str,
    Vec<Duration>,
);

/// What the emulator cannot do, a raw HTTP stub does: a body that stops arriving, a connection
/// dropped in the middle of the body, and Retry-After as an HTTP date or in milliseconds. App
/// Service's plain-HTTP endpoint goes through the same pipeline as every credential.
#[tokio::test]
async fn app_service_over_a_raw_stub() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let script: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let served = Arc::new(Mutex::new(0usize));
    {
        let (script, served) = (script.clone(), served.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let step = script.lock().unwrap().pop().unwrap_or("token");
                *served.lock().unwrap() += 1;
                tokio::spawn(async move {
                    let mut head = [0u8; 4096];
                    let _ = stream.read(&mut head).await;
                    let token = format!(
                        r#"{{"access_token":"stub-token","expires_on":"{}","token_type":"Bearer"}}"#,
                        time::OffsetDateTime::now_utc().unix_timestamp() + 3600
                    );
                    let date = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
                        .format(&time::format_description::well_known::Rfc2822)
                        .unwrap();
                    let answer = match step {
                        "slow body" => {
                            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"access").await;
                            tokio::time::sleep(Duration::from_secs(5)).await;
                            return;
                        }
                        "dropped mid-body" => {
                            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"access").await;
                            return;
                        }
                        "503 date" => format!("HTTP/1.1 503 Busy\r\nRetry-After: {date}\r\nContent-Length: 2\r\n\r\n{{}}"),
                        "429 ms" => "HTTP/1.1 429 Slow down\r\nretry-after-ms: 1500\r\nContent-Length: 2\r\n\r\n{}".to_owned(),
                        _ => format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{token}", token.len()),
                    };
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
    }
    let env = vec![
        (
            "IDENTITY_ENDPOINT".to_owned(),
            format!("http://127.0.0.1:{port}/msi/token"),
        ),
        (
            "IDENTITY_HEADER".to_owned(),
            "stub-identity-header-value".to_owned(),
        ),
    ];
    leaks::plant("stub-identity-header-value");
    // (steps served in order, outcome, requests, message, the waits between them)
    let cases: [StubCase; 4] = [
        (
            &["slow body", "slow body", "slow body", "slow body"],
            Outcome::Failed,
            4,
            "time",
            backoff(),
        ),
        (
            &[
                "dropped mid-body",
                "dropped mid-body",
                "dropped mid-body",
                "dropped mid-body",
            ],
            Outcome::Failed,
            4,
            "",
            backoff(),
        ),
        // The date is an hour away: the wait is capped by the policy's max_delay.
        (
            &["503 date"],
            Outcome::Token,
            2,
            "",
            vec![quick_retries().max_delay],
        ),
        (
            &["429 ms"],
            Outcome::Token,
            2,
            "",
            // 1.5 s asked for, capped at quick_retries' 200 ms.
            vec![quick_retries().max_delay],
        ),
    ];
    for (steps, outcome, attempts, says, waits) in cases {
        *script.lock().unwrap() = steps.iter().rev().copied().collect();
        *served.lock().unwrap() = 0;
        let clock = Arc::new(RecordingClock::default());
        let credential = managed_identity(&env, &clock);
        let result = credential.get_token(&[SCOPE], &Default::default()).await;
        let case = Case {
            name: steps[0],
            fault: |f| f,
            outcome,
            attempts,
            says,
            waits,
        };
        let sent = *served.lock().unwrap();
        check("AppService (raw stub)", &case, result, sent, &clock);
    }
}

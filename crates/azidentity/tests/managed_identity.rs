//! ManagedIdentityCredential end to end against the emulator's managed identity hosts, one
//! 127.0.0.1 port per host. Every test points the credential at the emulator through the
//! host's own environment variables (for IMDS, `AZURE_POD_IDENTITY_AUTHORITY_HOST`), so nothing
//! is ever sent to 169.254.169.254.

mod common;

use std::sync::Arc;
use std::time::Duration;

use azidentity::platform::ManualClock;
use azidentity::{
    ClientOptions, Env, ErrorKind, HttpOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, ManagedIdentityId, ManagedIdentitySource, Platform,
    TokenCredential, TokenRequestOptions,
};
use azidentity_emulator::{
    Fault, HostKind, ManagedIdentityEndpoint, ManagedIdentityHost, RunningEmulator,
    SYSTEM_ASSIGNED_CLIENT_ID, SYSTEM_ASSIGNED_OBJECT_ID, USER_ASSIGNED_CLIENT_ID,
    USER_ASSIGNED_OBJECT_ID, USER_ASSIGNED_RESOURCE_ID,
};
use common::{emulator, quick_retries};
use time::OffsetDateTime;

const SCOPE: &str = "https://vault.azure.net/.default";
const RESOURCE: &str = "https://vault.azure.net";
const MI_PATH: &str = "/metadata/identity/oauth2/token";

fn none() -> TokenRequestOptions {
    TokenRequestOptions::default()
}

async fn start(emu: &RunningEmulator, host: ManagedIdentityHost) -> ManagedIdentityEndpoint {
    emu.start_managed_identity(host)
        .await
        .expect("the managed identity host starts")
}

/// A platform that sees only the host's variables (plus `extra`) and trusts the host's Arc key
/// directory.
fn platform(host: &ManagedIdentityEndpoint, extra: &[(&str, &str)]) -> Platform {
    let mut pairs: Vec<(String, String)> = host.env().to_vec();
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut platform = Platform::system().with_env(Env::from_pairs(pairs));
    if let Some(dir) = host.arc_key_dir() {
        platform = platform.with_arc_key_dir(dir);
    }
    platform
}

fn options(platform: Platform, id: ManagedIdentityId) -> ManagedIdentityCredentialOptions {
    ManagedIdentityCredentialOptions {
        id,
        client_options: ClientOptions {
            retry: quick_retries(),
            platform,
            ..ClientOptions::default()
        },
        ..Default::default()
    }
}

fn credential(host: &ManagedIdentityEndpoint, id: ManagedIdentityId) -> ManagedIdentityCredential {
    ManagedIdentityCredential::new(options(platform(host, &[]), id)).expect("valid configuration")
}

/// A clock that starts now and jumps over retry waits: the IMDS schedule (up to 75 s) runs
/// instantly while emulator-issued tokens stay valid.
/// The error `host` gives a credential for `id`.
async fn refusal(host: &ManagedIdentityEndpoint, id: ManagedIdentityId) -> azidentity::Error {
    credential(host, id)
        .get_token(&[SCOPE], &none())
        .await
        .expect_err("the host refuses")
}

fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(OffsetDateTime::now_utc()))
}

fn elapsed(clock: &ManualClock, since: OffsetDateTime) -> Duration {
    use azidentity::platform::Clock as _;
    Duration::try_from(clock.now() - since).unwrap_or_default()
}

fn ids() -> [(ManagedIdentityId, &'static str); 3] {
    [
        (
            ManagedIdentityId::ClientId(USER_ASSIGNED_CLIENT_ID.into()),
            "client_id",
        ),
        (
            ManagedIdentityId::ObjectId(USER_ASSIGNED_OBJECT_ID.into()),
            "object_id",
        ),
        (
            ManagedIdentityId::ResourceId(USER_ASSIGNED_RESOURCE_ID.into()),
            "resource_id",
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// IMDS

#[tokio::test]
async fn imds_system_assigned_token_is_signed_cached_and_refreshes_at_half_life() {
    let emu = emulator().await;
    let host = start(&emu, ManagedIdentityHost::new(HostKind::Imds)).await;
    let cred = credential(&host, ManagedIdentityId::SystemAssigned);
    assert_eq!(cred.source(), Some(ManagedIdentitySource::Imds));
    let token = cred.get_token(&[SCOPE], &none()).await.unwrap();
    let claims = emu
        .verify_token(token.token().secret())
        .expect("signed by the emulator");
    assert_eq!(claims["aud"], RESOURCE);
    assert_eq!(claims["oid"], SYSTEM_ASSIGNED_OBJECT_ID);
    assert_eq!(claims["appid"], SYSTEM_ASSIGNED_CLIENT_ID);
    assert_eq!(
        claims["exp"].as_i64().unwrap(),
        token.expires_on().unix_timestamp()
    );
    // 24-hour tokens refresh at half-life.
    let refresh_on = token.refresh_on().expect("half-life refresh");
    let now = OffsetDateTime::now_utc();
    let half: time::Duration = (token.expires_on() - now) / 2;
    let off: time::Duration = refresh_on - now - half;
    assert!(off.abs() < time::Duration::seconds(5), "{off}");

    let again = cred.get_token(&[SCOPE], &none()).await.unwrap();
    assert_eq!(again.token(), token.token());
    let requests = emu.token_requests();
    assert_eq!(
        requests.len(),
        1,
        "the second call is served from the cache"
    );
    let r = &requests[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", MI_PATH));
    assert_eq!(r.query_value("api-version"), Some("2018-02-01"));
    assert_eq!(r.query_value("resource"), Some(RESOURCE));
    assert_eq!(r.header("metadata"), Some("true"));
    assert_eq!(r.query.len(), 2, "no selector for the system identity");
}

#[tokio::test]
async fn imds_user_assigned_selectors() {
    let emu = emulator().await;
    let host = start(&emu, ManagedIdentityHost::new(HostKind::Imds)).await;
    for (id, _) in ids() {
        let token = credential(&host, id.clone())
            .get_token(&[SCOPE], &none())
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let claims = emu.verify_token(token.token().secret()).unwrap();
        assert_eq!(claims["oid"], USER_ASSIGNED_OBJECT_ID, "{id}");
        assert_eq!(claims["xms_mirid"], USER_ASSIGNED_RESOURCE_ID, "{id}");
    }
    let sent: Vec<Vec<String>> = emu
        .token_requests()
        .iter()
        .map(|r| r.query.iter().map(|(k, _)| k.clone()).collect())
        .collect();
    assert_eq!(sent[0][2], "client_id");
    assert_eq!(sent[1][2], "object_id");
    assert_eq!(
        sent[2][2], "msi_res_id",
        "IMDS spells the resource id msi_res_id"
    );
}

#[tokio::test]
async fn imds_without_the_identity_is_unavailable() {
    let emu = emulator().await;
    let host = start(
        &emu,
        ManagedIdentityHost::new(HostKind::Imds).without_system_assigned(),
    )
    .await;
    let err = refusal(&host, ManagedIdentityId::SystemAssigned).await;
    assert!(err.is_unavailable(), "{err}");
    assert!(
        err.message().contains("No identity has been assigned"),
        "{err}"
    );
    assert!(err.message().contains("Identity not found"), "{err}");
    let err = refusal(&host, ManagedIdentityId::ClientId("not-assigned".into())).await;
    assert!(err.is_unavailable(), "{err}");
    assert!(err.message().contains("The requested identity"), "{err}");
    assert_eq!(emu.token_requests().len(), 2, "400 is never retried");
}

#[tokio::test]
async fn imds_410_is_retried_for_at_least_70_seconds_of_waits() {
    let emu = emulator().await;
    let host = start(&emu, ManagedIdentityHost::new(HostKind::Imds)).await;
    emu.add_fault(Fault::on_path(MI_PATH).times(3).status(410, "{}"));
    let clock = manual_clock();
    let start_time = {
        use azidentity::platform::Clock as _;
        clock.now()
    };
    let cred = ManagedIdentityCredential::new(options(
        platform(&host, &[]).with_clock(clock.clone()),
        ManagedIdentityId::SystemAssigned,
    ))
    .unwrap();
    cred.get_token(&[SCOPE], &none()).await.unwrap();
    assert_eq!(emu.token_requests().len(), 4);
    assert_eq!(
        elapsed(&clock, start_time),
        Duration::from_secs(15),
        "0 + 5 + 10 s"
    );

    // Six 410s: the whole schedule, 0 + 5 + 10 + 20 + 40 = 75 s, then a failure.
    emu.reset();
    emu.add_fault(Fault::on_path(MI_PATH).times(6).status(410, "{}"));
    let clock = manual_clock();
    let start_time = {
        use azidentity::platform::Clock as _;
        clock.now()
    };
    let cred = ManagedIdentityCredential::new(options(
        platform(&host, &[]).with_clock(clock.clone()),
        ManagedIdentityId::SystemAssigned,
    ))
    .unwrap();
    let err = cred.get_token(&[SCOPE], &none()).await.unwrap_err();
    assert_eq!(emu.token_requests().len(), 6);
    assert_eq!(elapsed(&clock, start_time), Duration::from_secs(75));
    assert!(
        matches!(err.kind(), ErrorKind::AuthenticationFailed),
        "{err}"
    );
    assert_eq!(err.http().map(|h| h.status), Some(410));
}

#[tokio::test]
async fn imds_5xx_and_429_back_off_and_chain_mode_reports_unavailable() {
    let emu = emulator().await;
    let host = start(&emu, ManagedIdentityHost::new(HostKind::Imds)).await;
    emu.add_fault(Fault::on_path(MI_PATH).status(429, "{}").retry_after(7));
    emu.add_fault(Fault::on_path(MI_PATH).times(2).status(503, "{}"));
    let clock = manual_clock();
    let start_time = {
        use azidentity::platform::Clock as _;
        clock.now()
    };
    let cred = ManagedIdentityCredential::new(options(
        platform(&host, &[]).with_clock(clock.clone()),
        ManagedIdentityId::SystemAssigned,
    ))
    .unwrap();
    cred.get_token(&[SCOPE], &none()).await.unwrap();
    assert_eq!(emu.token_requests().len(), 4);
    // Retry-After 7 s, then 1.6 s and 3.2 s of backoff.
    assert_eq!(
        elapsed(&clock, start_time),
        Duration::from_millis(7000 + 1600 + 3200)
    );

    emu.reset();
    emu.add_fault(Fault::on_path(MI_PATH).times(6).status(500, "{}"));
    let mut opts = options(
        platform(&host, &[]).with_clock(manual_clock()),
        ManagedIdentityId::SystemAssigned,
    );
    // The probe option only turns the probe on: a standalone credential still reports the
    // failure (inside DefaultAzureCredential it would be "unavailable"; see the engine tests).
    opts.imds_probe = true;
    let err = ManagedIdentityCredential::new(opts)
        .unwrap()
        .get_token(&[SCOPE], &none())
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::AuthenticationFailed),
        "standalone, a failure is a failure: {err}"
    );
    assert_eq!(
        emu.token_requests().len(),
        6,
        "no probe: the endpoint is overridden"
    );
}

#[tokio::test]
async fn imds_malformed_dropped_and_slow_answers() {
    let emu = emulator().await;
    let host = start(&emu, ManagedIdentityHost::new(HostKind::Imds)).await;
    let cred = |platform: Platform| {
        ManagedIdentityCredential::new(options(
            platform.with_clock(manual_clock()),
            ManagedIdentityId::SystemAssigned,
        ))
        .unwrap()
    };

    emu.add_fault(Fault::on_path(MI_PATH).malformed_json());
    let err = cred(platform(&host, &[]))
        .get_token(&[SCOPE], &none())
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(
        !err.to_string().contains("eyJ0eXAi"),
        "no token fragment: {err}"
    );

    emu.add_fault(Fault::on_path(MI_PATH).times(4).drop_connection());
    let err = cred(platform(&host, &[]))
        .get_token(&[SCOPE], &none())
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(
        err.message().contains("no response from the IMDS endpoint"),
        "{err}"
    );

    // Slow beyond the request timeout on every attempt.
    emu.add_fault(
        Fault::on_path(MI_PATH)
            .times(4)
            .delay(Duration::from_millis(1500)),
    );
    let slow = platform(&host, &[]).with_http_options(HttpOptions {
        request_timeout: Duration::from_millis(200),
        ..HttpOptions::default()
    });
    let err = cred(slow).get_token(&[SCOPE], &none()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
}

// ---------------------------------------------------------------------------------------------
// App Service

#[tokio::test]
async fn app_service_end_to_end_with_selectors() {
    let emu = emulator().await;
    let host = start(&emu, ManagedIdentityHost::new(HostKind::AppService)).await;
    let cred = credential(&host, ManagedIdentityId::SystemAssigned);
    assert_eq!(cred.source(), Some(ManagedIdentitySource::AppService));
    let token = cred.get_token(&[SCOPE], &none()).await.unwrap();
    assert_eq!(
        emu.verify_token(token.token().secret()).unwrap()["oid"],
        SYSTEM_ASSIGNED_OBJECT_ID
    );
    for (id, _) in ids() {
        let token = credential(&host, id.clone())
            .get_token(&[SCOPE], &none())
            .await
            .unwrap();
        assert_eq!(
            emu.verify_token(token.token().secret()).unwrap()["oid"],
            USER_ASSIGNED_OBJECT_ID,
            "{id}"
        );
    }
    let requests = emu.token_requests();
    let r = &requests[0];
    assert_eq!(r.path, "/msi/token");
    assert_eq!(r.query_value("api-version"), Some("2019-08-01"));
    assert_eq!(r.header("x-identity-header"), host.secret());
    assert_eq!(r.header("metadata"), Some("true"));
    assert_eq!(
        requests[1].query_value("client_id"),
        Some(USER_ASSIGNED_CLIENT_ID)
    );
    assert_eq!(
        requests[2].query_value("object_id"),
        Some(USER_ASSIGNED_OBJECT_ID)
    );
    assert_eq!(
        requests[3].query_value("mi_res_id"),
        Some(USER_ASSIGNED_RESOURCE_ID),
        "App Service spells the resource id mi_res_id"
    );
}

#[tokio::test]
async fn app_service_refusals_are_failures_with_the_host_message() {
    let emu = emulator().await;
    let host = start(&emu, ManagedIdentityHost::new(HostKind::AppService)).await;
    let err = refusal(&host, ManagedIdentityId::ClientId("unknown".into())).await;
    assert!(
        matches!(err.kind(), ErrorKind::AuthenticationFailed),
        "{err}"
    );
    assert!(err.message().contains("No Managed Identity found"), "{err}");
    assert_eq!(err.http().map(|h| h.status), Some(400));

    let wrong_header = platform(&host, &[("IDENTITY_HEADER", "not-the-secret")]);
    let err =
        ManagedIdentityCredential::new(options(wrong_header, ManagedIdentityId::SystemAssigned))
            .unwrap()
            .get_token(&[SCOPE], &none())
            .await
            .unwrap_err();
    assert_eq!(err.http().map(|h| h.status), Some(401), "{err}");

    // A gateway's HTML page after the retries: a failure saying so, not a JSON parse error. A
    // non-JSON 200 that claims to be JSON is a failure; one that does not, unavailable.
    // (fault, unavailable, what the message says)
    let cases = [
        (
            Fault::on_path("/msi/token").times(4).html_error(502),
            false,
            "HTTP 502",
        ),
        (
            Fault::on_path("/msi/token").malformed_json(),
            false,
            "not JSON",
        ),
        (
            Fault::on_path("/msi/token")
                .status(200, "<html>login</html>")
                .content_type("text/html"),
            true,
            "not JSON",
        ),
    ];
    for (fault, unavailable, says) in cases {
        emu.add_fault(fault);
        let err = refusal(&host, ManagedIdentityId::SystemAssigned).await;
        assert_eq!(err.is_unavailable(), unavailable, "{err}");
        assert!(err.message().contains(says), "{says}: {err}");
    }
}

#[tokio::test]
async fn app_service_expired_or_unparseable_expiry_is_refused() {
    let emu = emulator().await;
    let host = start(&emu, ManagedIdentityHost::new(HostKind::AppService)).await;
    for (body, why) in [
        (
            r#"{"access_token":"a.b.c","expires_on":"1000","resource":"https://vault.azure.net","token_type":"Bearer"}"#,
            "expired already",
        ),
        (
            r#"{"access_token":"a.b.c","expires_on":"next tuesday","resource":"https://vault.azure.net"}"#,
            "expires_on",
        ),
        (r#"{"expires_on":"99999999999"}"#, "no access_token"),
    ] {
        emu.add_fault(Fault::on_path("/msi/token").status(200, body));
        let err = refusal(&host, ManagedIdentityId::SystemAssigned).await;
        assert!(
            matches!(err.kind(), ErrorKind::AuthenticationFailed),
            "{err}"
        );
        assert!(err.message().contains(why), "{why}: {err}");
        assert!(
            !err.to_string().contains("a.b.c"),
            "the token is never shown: {err}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Azure Arc

#[tokio::test]
async fn azure_arc_challenge_and_key_file() {
    let emu = emulator().await;
    let host = start(&emu, ManagedIdentityHost::new(HostKind::AzureArc)).await;
    let cred = credential(&host, ManagedIdentityId::SystemAssigned);
    assert_eq!(cred.source(), Some(ManagedIdentitySource::AzureArc));
    let token = cred.get_token(&[SCOPE], &none()).await.unwrap();
    assert_eq!(
        emu.verify_token(token.token().secret()).unwrap()["oid"],
        SYSTEM_ASSIGNED_OBJECT_ID
    );
    let requests = emu.token_requests();
    assert_eq!(requests.len(), 2, "challenge, then the answer");
    assert_eq!(requests[0].header("authorization"), None);
    assert_eq!(requests[0].header("metadata"), Some("true"));
    assert_eq!(requests[0].query_value("api-version"), Some("2020-06-01"));
    // The agent accepted the key it wrote (keys are single-use) and deleted its file.
    assert!(
        requests[1]
            .header("authorization")
            .is_some_and(|v| v.starts_with("Basic arc-key-")),
        "{:?}",
        requests[1].header("authorization")
    );
    let key_files = std::fs::read_dir(host.arc_key_dir().unwrap())
        .unwrap()
        .flatten()
        .count();
    assert_eq!(key_files, 0);

    for (id, echo) in ids() {
        let token = credential(&host, id.clone())
            .get_token(&[SCOPE], &none())
            .await
            .unwrap();
        assert_eq!(
            emu.verify_token(token.token().secret()).unwrap()["oid"],
            USER_ASSIGNED_OBJECT_ID,
            "{echo}"
        );
    }
    let last = emu.token_requests();
    assert_eq!(
        last.last().unwrap().query_value("msi_res_id"),
        Some(USER_ASSIGNED_RESOURCE_ID)
    );
}

#[tokio::test]
async fn azure_arc_legacy_agent_fails_closed_for_user_assigned() {
    let emu = emulator().await;
    let host = start(
        &emu,
        ManagedIdentityHost::new(HostKind::AzureArc).legacy_arc_agent(),
    )
    .await;
    credential(&host, ManagedIdentityId::SystemAssigned)
        .get_token(&[SCOPE], &none())
        .await
        .expect("the system identity still works");
    for (id, _) in ids() {
        let err = refusal(&host, id.clone()).await;
        assert!(
            matches!(err.kind(), ErrorKind::AuthenticationFailed),
            "{err}"
        );
        assert!(
            err.message().contains("did not confirm the requested"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn azure_arc_refuses_keys_outside_its_directory() {
    let emu = emulator().await;
    let host = start(&emu, ManagedIdentityHost::new(HostKind::AzureArc)).await;
    let elsewhere = std::env::temp_dir().join(format!("not-arc-{}", uuid_like()));
    std::fs::create_dir_all(&elsewhere).unwrap();
    let cred = ManagedIdentityCredential::new(options(
        platform(&host, &[]).with_arc_key_dir(&elsewhere),
        ManagedIdentityId::SystemAssigned,
    ))
    .unwrap();
    let err = cred.get_token(&[SCOPE], &none()).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::AuthenticationFailed),
        "{err}"
    );
    assert!(
        err.message().contains("not in the Arc key directory"),
        "{err}"
    );
    assert_eq!(emu.token_requests().len(), 1, "no key was sent");
    std::fs::remove_dir_all(&elsewhere).ok();

    // A 401 without the challenge header: a clear failure, not a panic.
    emu.add_fault(Fault::on_path(MI_PATH).status(401, "{}"));
    let err = refusal(&host, ManagedIdentityId::SystemAssigned).await;
    assert!(err.message().contains("WWW-Authenticate"), "{err}");
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        OffsetDateTime::now_utc().unix_timestamp_nanos()
    )
}

// ---------------------------------------------------------------------------------------------
// Service Fabric

#[tokio::test]
async fn service_fabric_pins_the_certificate() {
    let emu = emulator().await;
    let host = start(&emu, ManagedIdentityHost::new(HostKind::ServiceFabric)).await;
    let cred = credential(&host, ManagedIdentityId::SystemAssigned);
    assert_eq!(cred.source(), Some(ManagedIdentitySource::ServiceFabric));
    let token = cred.get_token(&[SCOPE], &none()).await.unwrap();
    assert_eq!(
        emu.verify_token(token.token().secret()).unwrap()["aud"],
        RESOURCE
    );
    let r = &emu.token_requests()[0];
    assert_eq!(r.query_value("api-version"), Some("2019-07-01-preview"));
    assert_eq!(r.header("secret"), host.secret());

    // Another thumbprint: the TLS handshake fails, so the secret never leaves the process.
    emu.reset();
    let wrong = platform(
        &host,
        &[(
            "IDENTITY_SERVER_THUMBPRINT",
            "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33",
        )],
    );
    let err = ManagedIdentityCredential::new(options(wrong, ManagedIdentityId::SystemAssigned))
        .unwrap()
        .get_token(&[SCOPE], &none())
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::AuthenticationFailed),
        "{err}"
    );
    assert!(
        err.message().contains("IDENTITY_SERVER_THUMBPRINT"),
        "{err}"
    );
    assert!(emu.requests().is_empty(), "no HTTP request got through");

    // A user-assigned id cannot be honoured: refused at construction.
    let err = ManagedIdentityCredential::new(options(
        platform(&host, &[]),
        ManagedIdentityId::ClientId(USER_ASSIGNED_CLIENT_ID.into()),
    ))
    .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidConfiguration),
        "{err}"
    );
    let err = ManagedIdentityCredential::new(options(
        platform(&host, &[("IDENTITY_SERVER_THUMBPRINT", "abc")]),
        ManagedIdentityId::SystemAssigned,
    ))
    .unwrap_err();
    assert!(err.message().contains("40 hex digits"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Cloud Shell and Azure ML

#[tokio::test]
async fn cloud_shell_posts_a_form_and_refuses_user_assigned_ids() {
    let emu = emulator().await;
    let host = start(&emu, ManagedIdentityHost::new(HostKind::CloudShell)).await;
    let cred = credential(&host, ManagedIdentityId::SystemAssigned);
    assert_eq!(cred.source(), Some(ManagedIdentitySource::CloudShell));
    let token = cred.get_token(&[SCOPE], &none()).await.unwrap();
    assert_eq!(
        emu.verify_token(token.token().secret()).unwrap()["aud"],
        RESOURCE
    );
    let r = &emu.token_requests()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.form_value("resource"), Some(RESOURCE));
    assert_eq!(r.header("metadata"), Some("true"));
    for (id, _) in ids() {
        let err = ManagedIdentityCredential::new(options(platform(&host, &[]), id)).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidConfiguration),
            "{err}"
        );
    }
}

#[tokio::test]
async fn azure_ml_dates_and_clientid() {
    let emu = emulator().await;
    for host in [
        ManagedIdentityHost::new(HostKind::AzureMl).azure_ml_linux_dates(),
        ManagedIdentityHost::new(HostKind::AzureMl).azure_ml_windows_dates(),
        ManagedIdentityHost::new(HostKind::AzureMl).azure_ml_epoch_dates(),
    ] {
        let host = start(&emu, host).await;
        let cred = credential(
            &host,
            ManagedIdentityId::ClientId(USER_ASSIGNED_CLIENT_ID.into()),
        );
        assert_eq!(cred.source(), Some(ManagedIdentitySource::AzureMl));
        let token = cred.get_token(&[SCOPE], &none()).await.unwrap();
        let claims = emu.verify_token(token.token().secret()).unwrap();
        assert_eq!(
            claims["exp"].as_i64().unwrap(),
            token.expires_on().unix_timestamp()
        );
        assert_eq!(claims["oid"], USER_ASSIGNED_OBJECT_ID);
    }
    for r in emu.token_requests() {
        assert_eq!(r.query_value("api-version"), Some("2017-09-01"));
        assert_eq!(r.query_value("clientid"), Some(USER_ASSIGNED_CLIENT_ID));
        assert!(r.header("secret").is_some());
    }
}

// ---------------------------------------------------------------------------------------------
// Shared rules

#[tokio::test]
async fn one_scope_only_and_undetermined_hosts() {
    let emu = emulator().await;
    let host = start(&emu, ManagedIdentityHost::new(HostKind::Imds)).await;
    let err = credential(&host, ManagedIdentityId::SystemAssigned)
        .get_token(&[SCOPE, "https://storage.azure.com/.default"], &none())
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidConfiguration),
        "{err}"
    );
    assert!(err.message().contains("exactly one scope"), "{err}");
    assert!(emu.requests().is_empty());

    let only_endpoint = Platform::system().with_env(Env::from_pairs([(
        "IDENTITY_ENDPOINT",
        "http://127.0.0.1:1/",
    )]));
    let cred =
        ManagedIdentityCredential::new(options(only_endpoint, ManagedIdentityId::SystemAssigned))
            .unwrap();
    assert_eq!(cred.source(), None);
    let err = cred.get_token(&[SCOPE], &none()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(
        err.message().contains("No managed identity endpoint found"),
        "{err}"
    );
}

#[tokio::test]
async fn identities_never_share_a_token_and_concurrent_callers_share_one_request() {
    let emu = emulator().await;
    let host = start(&emu, ManagedIdentityHost::new(HostKind::AppService)).await;
    let cred = Arc::new(credential(&host, ManagedIdentityId::SystemAssigned));
    emu.add_fault(Fault::on_path("/msi/token").delay(Duration::from_millis(200)));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let cred = cred.clone();
            tokio::spawn(async move {
                cred.get_token(&[SCOPE], &TokenRequestOptions::default())
                    .await
                    .map(|t| t.token().clone())
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(task.await.unwrap().unwrap());
    }
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(emu.token_requests().len(), 1, "single flight");

    let user = credential(
        &host,
        ManagedIdentityId::ClientId(USER_ASSIGNED_CLIENT_ID.into()),
    );
    let other = user.get_token(&[SCOPE], &none()).await.unwrap();
    assert_ne!(other.token(), &tokens[0]);
    // A claims challenge skips the cache.
    let claims = TokenRequestOptions {
        claims: Some(r#"{"access_token":{"nbf":{"essential":true}}}"#.into()),
        ..Default::default()
    };
    cred.get_token(&[SCOPE], &claims).await.unwrap();
    assert_eq!(emu.token_requests().len(), 3);
}

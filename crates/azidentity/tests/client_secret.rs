//! ClientSecretCredential end to end over HTTPS against the emulator.

mod common;

use std::sync::Arc;
use std::time::Duration;

use azidentity::{
    ClientOptions, ClientSecretCredential, ClientSecretCredentialOptions, ErrorKind, Secret,
    TokenCredential, TokenRequestOptions,
};
use azidentity_emulator::{
    Application, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, Emulator, Fault,
};
use common::*;

const SCOPE: &str = "https://vault.azure.net/.default";

fn credential_with(options: ClientOptions, secret: &str) -> ClientSecretCredential {
    ClientSecretCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(secret),
        ClientSecretCredentialOptions {
            client_options: options,
            ..Default::default()
        },
    )
    .expect("valid configuration")
}

fn none() -> TokenRequestOptions {
    TokenRequestOptions::default()
}

#[tokio::test]
async fn gets_a_signed_token_and_sends_what_entra_expects() {
    let emu = emulator().await;
    let cred = credential_with(client_options(&emu), DEFAULT_CLIENT_SECRET);
    let token = cred.get_token(&[SCOPE], &none()).await.unwrap();

    let claims = emu
        .verify_token(token.token().secret())
        .expect("emulator-signed JWT");
    assert_eq!(claims["aud"], "https://vault.azure.net");
    assert_eq!(claims["appid"], DEFAULT_CLIENT_ID);
    assert_eq!(claims["tid"], DEFAULT_TENANT_ID);
    assert_eq!(token.token_type(), "Bearer");
    assert_eq!(
        claims["exp"].as_i64().unwrap(),
        token.expires_on().unix_timestamp()
    );

    let requests = emu.token_requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, format!("/{DEFAULT_TENANT_ID}/oauth2/v2.0/token"));
    assert_eq!(r.form_value("grant_type"), Some("client_credentials"));
    assert_eq!(r.form_value("client_id"), Some(DEFAULT_CLIENT_ID));
    assert_eq!(r.form_value("client_secret"), Some(DEFAULT_CLIENT_SECRET));
    assert_eq!(r.form_value("scope"), Some(SCOPE));
    assert_eq!(r.form_value("claims"), None);
    assert!(
        r.header("user-agent")
            .unwrap()
            .starts_with("azsdk-rust-azidentity/")
    );
    assert_eq!(r.header("x-ms-client-request-id").map(str::len), Some(36));
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // 127.0.0.1 is not a Microsoft host: MSAL validates it through instance discovery and reads
    // the tenant's OpenID metadata first.
    let paths: Vec<String> = emu.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths[0], "/common/discovery/instance");
    assert!(
        paths[1].ends_with("/v2.0/.well-known/openid-configuration"),
        "{paths:?}"
    );
}

#[tokio::test]
async fn cached_until_refresh_is_due_and_scopes_are_a_set() {
    let emu = emulator().await;
    let cred = credential_with(client_options(&emu), DEFAULT_CLIENT_SECRET);
    let first = cred.get_token(&[SCOPE], &none()).await.unwrap();
    let second = cred.get_token(&[SCOPE], &none()).await.unwrap();
    assert_eq!(first.token(), second.token());
    let upper = cred
        .get_token(&["HTTPS://VAULT.AZURE.NET/.default"], &none())
        .await
        .unwrap();
    assert_eq!(first.token(), upper.token());
    assert_eq!(emu.token_requests().len(), 1);
    cred.get_token(&["https://storage.azure.com/.default"], &none())
        .await
        .unwrap();
    assert_eq!(emu.token_requests().len(), 2);
}

#[tokio::test]
async fn disabled_instance_discovery_goes_straight_to_the_token_endpoint() {
    let emu = emulator().await;
    let options = ClientOptions {
        disable_instance_discovery: true,
        instance_discovery_endpoint: None,
        ..client_options(&emu)
    };
    let cred = credential_with(options, DEFAULT_CLIENT_SECRET);
    cred.get_token(&[SCOPE], &none()).await.unwrap();
    assert_eq!(emu.requests().len(), 1, "one round trip for a cold token");
}

#[tokio::test]
async fn an_authority_unknown_to_instance_discovery_is_a_configuration_error() {
    let emu = emulator().await;
    let other = emulator().await;
    let options = ClientOptions {
        instance_discovery_endpoint: Some(format!(
            "{}/common/discovery/instance",
            other.authority_host()
        )),
        platform: platform(&emu, &[]).with_root_certificate_pem(other.ca_pem()),
        ..client_options(&emu)
    };
    let cred = credential_with(options, DEFAULT_CLIENT_SECRET);
    let err = cred.get_token(&[SCOPE], &none()).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidConfiguration),
        "{err}"
    );
    assert!(
        err.message().contains("disable_instance_discovery"),
        "{err}"
    );
    assert!(emu.token_requests().is_empty());
}

/// Discovery chooses where the client secret goes: a plain-HTTP discovery endpoint is refused at
/// construction, and an answer pointing at plain HTTP or at another host is refused before any
/// token request.
#[tokio::test]
async fn discovery_never_sends_the_secret_over_http_or_to_another_host() {
    let emu = emulator().await;
    let http_discovery = ClientOptions {
        instance_discovery_endpoint: Some("http://127.0.0.1:1/common/discovery/instance".into()),
        ..client_options(&emu)
    };
    let err = ClientSecretCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(DEFAULT_CLIENT_SECRET),
        ClientSecretCredentialOptions {
            client_options: http_discovery,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidConfiguration),
        "{err}"
    );
    assert!(err.message().contains("https"), "{err}");

    let cred = credential_with(client_options(&emu), DEFAULT_CLIENT_SECRET);
    let tenant_metadata = format!(
        "{}/{DEFAULT_TENANT_ID}/v2.0/.well-known/openid-configuration",
        emu.authority_host()
    );
    let answers = [
        (
            "/discovery/instance",
            format!(
                r#"{{"tenant_discovery_endpoint":"{}","metadata":[]}}"#,
                tenant_metadata.replace("https://", "http://")
            ),
            "https tenant_discovery_endpoint",
        ),
        (
            "/openid-configuration",
            format!(
                r#"{{"token_endpoint":"{}/{DEFAULT_TENANT_ID}/oauth2/v2.0/token"}}"#,
                emu.authority_host().replace("https://", "http://")
            ),
            "no https token_endpoint",
        ),
        (
            "/openid-configuration",
            r#"{"token_endpoint":"https://attacker.example/t/oauth2/v2.0/token"}"#.to_owned(),
            "no https token_endpoint",
        ),
    ];
    for (path, body, expected) in answers {
        emu.reset();
        emu.add_fault(Fault::on_path(path).status(200, &body));
        let err = cred.get_token(&[SCOPE], &none()).await.unwrap_err();
        assert!(err.message().contains(expected), "{expected}: {err}");
        assert!(emu.token_requests().is_empty(), "{body}");
    }
    // The real answers still work.
    emu.reset();
    cred.get_token(&[SCOPE], &none()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_callers_share_one_request() {
    let emu = Emulator::builder()
        .latency(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let cred = Arc::new(credential_with(client_options(&emu), DEFAULT_CLIENT_SECRET));
    let tasks: Vec<_> = (0..500)
        .map(|_| {
            let cred = cred.clone();
            tokio::spawn(async move { cred.get_token(&[SCOPE], &none()).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(task.await.unwrap().unwrap().token().clone());
    }
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(emu.token_requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_lookups_never_wait_behind_another_keys_fetch() {
    let emu = emulator().await;
    let options = ClientOptions {
        disable_instance_discovery: true,
        ..client_options(&emu)
    };
    let cred = Arc::new(credential_with(options, DEFAULT_CLIENT_SECRET));
    cred.get_token(&[SCOPE], &none()).await.unwrap();
    // The next token request (key B) hangs until the fault's delay ends.
    emu.add_fault(Fault::on_path("/oauth2/v2.0/token").delay(Duration::from_secs(30)));
    let slow = {
        let cred = cred.clone();
        tokio::spawn(async move {
            cred.get_token(&["https://storage.azure.com/.default"], &none())
                .await
        })
    };
    while emu.token_requests().len() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for _ in 0..100 {
        cred.get_token(&[SCOPE], &none()).await.unwrap();
    }
    assert!(
        !slow.is_finished(),
        "key A was served while key B's fetch was still in flight"
    );
    slow.abort();
}

#[tokio::test]
async fn entra_rejections_are_failures_with_codes_and_advice() {
    let emu = emulator().await;
    let cases: Vec<(&str, &str, &str, &str, i64)> = vec![
        (
            DEFAULT_TENANT_ID,
            DEFAULT_CLIENT_ID,
            "wrong-secret-5a1",
            SCOPE,
            7000215,
        ),
        (
            DEFAULT_TENANT_ID,
            "00000000-0000-0000-0000-00000000abcd",
            "x-secret-5a2",
            SCOPE,
            700016,
        ),
        (
            "11111111-1111-1111-1111-111111111111",
            DEFAULT_CLIENT_ID,
            DEFAULT_CLIENT_SECRET,
            SCOPE,
            90002,
        ),
        (
            DEFAULT_TENANT_ID,
            DEFAULT_CLIENT_ID,
            DEFAULT_CLIENT_SECRET,
            "https://vault.azure.net/user.read",
            1002012,
        ),
    ];
    for (tenant, client, secret, scope, code) in cases {
        let options = ClientOptions {
            disable_instance_discovery: true,
            ..client_options(&emu)
        };
        let cred = ClientSecretCredential::new(
            tenant,
            client,
            Secret::new(secret),
            ClientSecretCredentialOptions {
                client_options: options,
                ..Default::default()
            },
        )
        .unwrap();
        let err = cred.get_token(&[scope], &none()).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::AuthenticationFailed),
            "{err}"
        );
        let http = err.http().expect("HTTP details");
        assert_eq!(http.error_codes.first(), Some(&code), "{err}");
        let text = format!("{err} {err:?}");
        assert!(text.contains(&format!("AADSTS{code}")), "{text}");
        assert!(text.starts_with("ClientSecretCredential: "), "{text}");
        assert!(!text.contains(secret), "secret leaked: {text}");
    }
}

#[tokio::test]
async fn transient_failures_are_retried() {
    let emu = emulator().await;
    let options = ClientOptions {
        disable_instance_discovery: true,
        ..client_options(&emu)
    };
    let cred = credential_with(options, DEFAULT_CLIENT_SECRET);
    emu.add_fault(
        Fault::on_path("/oauth2/v2.0/token")
            .times(1)
            .status(503, "{}"),
    );
    emu.add_fault(
        Fault::on_path("/oauth2/v2.0/token")
            .times(1)
            .status(429, r#"{"error":"throttled"}"#)
            .retry_after(0),
    );
    emu.add_fault(
        Fault::on_path("/oauth2/v2.0/token")
            .times(1)
            .drop_connection(),
    );
    cred.get_token(&[SCOPE], &none()).await.unwrap();
    let requests = emu.token_requests();
    assert_eq!(requests.len(), 4);
    let ids: Vec<_> = requests
        .iter()
        .map(|r| r.header("x-ms-client-request-id"))
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "one request id across retries"
    );
}

/// Numbers from the network that overflow time arithmetic (a huge `refresh_in` or
/// `Retry-After`) are tolerated: no panic, the wait is capped and the token is still used.
#[tokio::test]
async fn huge_refresh_in_and_retry_after_do_not_panic() {
    let emu = emulator().await;
    let options = ClientOptions {
        disable_instance_discovery: true,
        ..client_options(&emu)
    };
    let cred = credential_with(options, DEFAULT_CLIENT_SECRET);
    emu.add_fault(Fault::on_path("/oauth2/v2.0/token").times(1).status(
        200,
        r#"{"access_token":"x","expires_in":3600,"refresh_in":400000000000,"token_type":"Bearer"}"#,
    ));
    let token = cred.get_token(&[SCOPE], &none()).await.unwrap();
    assert_eq!(token.token().secret(), "x");
    assert_eq!(token.refresh_on(), None);

    emu.reset();
    emu.add_fault(
        Fault::on_path("/oauth2/v2.0/token")
            .times(1)
            .status(503, "{}")
            .retry_after(u64::MAX),
    );
    let started = std::time::Instant::now();
    cred.get_token(&["https://storage.azure.com/.default"], &none())
        .await
        .unwrap();
    assert_eq!(emu.token_requests().len(), 2);
    // The retry waited max_delay (200 ms), not 2^64 seconds.
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn broken_answers_are_clear_failures() {
    let emu = emulator().await;
    let options = ClientOptions {
        disable_instance_discovery: true,
        ..client_options(&emu)
    };
    let cred = credential_with(options, DEFAULT_CLIENT_SECRET);
    let cases: Vec<(Fault, &str)> = vec![
        (
            Fault::on_path("/token").times(4).html_error(503),
            "non-JSON",
        ),
        (Fault::on_path("/token").malformed_json(), "not JSON"),
        (
            Fault::on_path("/token").status(200, r#"{"token_type":"Bearer","expires_in":3599}"#),
            "no access_token",
        ),
        (
            Fault::on_path("/token").status(200, r#"{"access_token":"leaky-token-77"}"#),
            "neither expires_in nor expires_on",
        ),
        (
            Fault::on_path("/token").times(4).drop_connection(),
            "no usable answer",
        ),
        (
            Fault::on_path("/token").status(200, &"x".repeat(3 << 20)),
            "limit",
        ),
    ];
    for (fault, expected) in cases {
        emu.reset();
        emu.add_fault(fault);
        let err = cred.get_token(&[SCOPE], &none()).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::AuthenticationFailed),
            "{err}"
        );
        assert!(err.to_string().contains(expected), "{expected}: {err}");
        assert!(!err.to_string().contains("leaky-token-77"), "{err}");
    }
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let emu = emulator().await;
    let options = ClientOptions {
        disable_instance_discovery: true,
        retry: azidentity::RetryOptions {
            max_retries: 1,
            ..quick_retries()
        },
        platform: short_timeouts(platform(&emu, &[]), Duration::from_millis(300)),
        ..client_options(&emu)
    };
    let cred = credential_with(options, DEFAULT_CLIENT_SECRET);
    emu.add_fault(
        Fault::on_path("/token")
            .times(2)
            .delay(Duration::from_secs(60)),
    );
    let err = cred.get_token(&[SCOPE], &none()).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::AuthenticationFailed),
        "{err}"
    );
    assert!(err.to_string().contains("no usable answer"), "{err}");
    assert_eq!(emu.token_requests().len(), 2);
}

#[tokio::test]
async fn claims_bypass_the_cache_and_cae_tokens_are_cached_apart() {
    let emu = emulator().await;
    let options = ClientOptions {
        disable_instance_discovery: true,
        ..client_options(&emu)
    };
    let cred = credential_with(options, DEFAULT_CLIENT_SECRET);
    cred.get_token(&[SCOPE], &none()).await.unwrap();
    let cae = TokenRequestOptions {
        enable_cae: true,
        ..none()
    };
    cred.get_token(&[SCOPE], &cae).await.unwrap();
    cred.get_token(&[SCOPE], &cae).await.unwrap();
    assert_eq!(emu.token_requests().len(), 2);
    let sent: serde_json::Value =
        serde_json::from_str(emu.token_requests()[1].form_value("claims").unwrap()).unwrap();
    assert_eq!(sent["access_token"]["xms_cc"]["values"][0], "CP1");

    let challenge = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
    let with_claims = TokenRequestOptions {
        claims: Some(challenge.into()),
        enable_cae: true,
        ..none()
    };
    cred.get_token(&[SCOPE], &with_claims).await.unwrap();
    assert_eq!(emu.token_requests().len(), 3);
    let sent: serde_json::Value =
        serde_json::from_str(emu.token_requests()[2].form_value("claims").unwrap()).unwrap();
    assert_eq!(sent["access_token"]["nbf"]["essential"], true);
    assert_eq!(sent["access_token"]["xms_cc"]["values"][0], "CP1");
}

#[tokio::test]
async fn other_tenants_only_when_allowed() {
    let other_tenant = "0c0d0e0f-1111-2222-3333-444455556666";
    let emu = Emulator::builder()
        .tenant(other_tenant)
        .app(
            Application::confidential("9a8b7c6d-0000-4000-8000-00000000f00d")
                .secret("multi-secret-value")
                .multi_tenant(true),
        )
        .start()
        .await
        .unwrap();
    let make = |allowed: Vec<String>| {
        let options = ClientOptions {
            disable_instance_discovery: true,
            additionally_allowed_tenants: allowed,
            ..client_options(&emu)
        };
        ClientSecretCredential::new(
            DEFAULT_TENANT_ID,
            "9a8b7c6d-0000-4000-8000-00000000f00d",
            Secret::new("multi-secret-value"),
            ClientSecretCredentialOptions {
                client_options: options,
                ..Default::default()
            },
        )
        .unwrap()
    };
    let request = TokenRequestOptions {
        tenant_id: Some(other_tenant.into()),
        ..none()
    };
    let err = make(vec![])
        .get_token(&[SCOPE], &request)
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::AuthenticationFailed));
    assert!(
        err.message().contains("additionally_allowed_tenants"),
        "{err}"
    );
    assert!(emu.token_requests().is_empty());

    let token = make(vec!["*".into()])
        .get_token(&[SCOPE], &request)
        .await
        .unwrap();
    assert_eq!(
        emu.verify_token(token.token().secret()).unwrap()["tid"],
        other_tenant
    );
    assert_eq!(
        emu.token_requests()[0].path,
        format!("/{other_tenant}/oauth2/v2.0/token")
    );
}

#[tokio::test]
async fn bad_configuration_is_refused_at_construction_or_request() {
    let make = |tenant: &str, client: &str, secret: &str, authority: Option<&str>| {
        ClientSecretCredential::new(
            tenant,
            client,
            Secret::new(secret),
            ClientSecretCredentialOptions {
                client_options: ClientOptions {
                    authority_host: authority.map(str::to_owned),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
    };
    for (tenant, client, secret, authority) in [
        ("t", "c", "s", Some("http://login.microsoftonline.com")),
        ("bad tenant", "c", "s", None),
        ("t", "", "s", None),
        ("t", "c", "", None),
    ] {
        let err = make(tenant, client, secret, authority).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidConfiguration),
            "{err}"
        );
    }
    // Scope checks happen before any network use: no emulator needed, and none is reached.
    let cred = make("t", "c", "s", Some("https://127.0.0.1:9")).unwrap();
    for scopes in [&[][..], &["has space"][..], &["\"quoted\""][..]] {
        let err = cred.get_token(scopes, &none()).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidConfiguration),
            "{err}"
        );
    }
}

#[tokio::test]
async fn secrets_never_reach_logs_errors_or_debug() {
    let (logs, _guard) = LogCapture::install();
    let emu = emulator().await;
    let options = ClientOptions {
        disable_instance_discovery: true,
        ..client_options(&emu)
    };
    let good = credential_with(options.clone(), DEFAULT_CLIENT_SECRET);
    let token = good.get_token(&[SCOPE], &none()).await.unwrap();
    // A refresh failure with a valid cached token is logged as a warning.
    let bad = credential_with(options, "bad-secret-value-314");
    let err = bad.get_token(&[SCOPE], &none()).await.unwrap_err();
    let everything = format!(
        "{}\n{err}\n{err:?}\n{good:?}\n{bad:?}\n{token:?}",
        logs.text()
    );
    for secret in [
        DEFAULT_CLIENT_SECRET,
        "bad-secret-value-314",
        token.token().secret(),
    ] {
        assert!(
            !everything.contains(secret),
            "a secret appeared in:\n{everything}"
        );
    }
    assert!(
        logs.text().contains("acquired a token"),
        "logging works: {}",
        logs.text()
    );
}

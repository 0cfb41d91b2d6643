//! The token endpoint: issued tokens, and every AADSTS error it answers with.

mod common;

use std::time::Duration;

use azidentity_emulator::{
    Application, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, Emulator,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use common::{Client, token_path};
use http::Method;

const SCOPE: &str = "https://management.azure.com/.default";

fn secret_form(scope: &str) -> Vec<(&str, &str)> {
    vec![
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_secret", DEFAULT_CLIENT_SECRET),
        ("grant_type", "client_credentials"),
        ("scope", scope),
    ]
}

#[tokio::test]
async fn client_credentials_issue_a_verifiable_token() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);

    let reply = client
        .post_form_with_headers(
            &token_path(DEFAULT_TENANT_ID),
            &secret_form(SCOPE),
            &[("client-request-id", "11111111-2222-3333-4444-555555555555")],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        reply.header("client-request-id"),
        Some("11111111-2222-3333-4444-555555555555")
    );
    assert!(reply.header("x-ms-request-id").is_some());

    let body = reply.json();
    let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(
        keys.len(),
        4,
        "exactly Entra's fields without refresh_in: {body}"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    // Entra's field order, which some hand-written parsers depend on.
    assert!(reply.text().starts_with(
        r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":""#
    ));

    let jwt = body["access_token"].as_str().expect("token");
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwt.split('.').next().expect("header"))
            .expect("base64url"),
    )
    .expect("json header");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    let jwks = client
        .get(&format!("/{DEFAULT_TENANT_ID}/discovery/v2.0/keys"))
        .await
        .json();
    assert_eq!(header["kid"], jwks["keys"][0]["kid"]);

    let claims = emulator.verify_token(jwt).expect("verifies");
    assert_eq!(claims["aud"], "https://management.azure.com");
    assert_eq!(
        claims["iss"],
        format!("https://sts.windows.net/{DEFAULT_TENANT_ID}/")
    );
    assert_eq!(claims["tid"], DEFAULT_TENANT_ID);
    assert_eq!(claims["appid"], DEFAULT_CLIENT_ID);
    assert_eq!(claims["azp"], DEFAULT_CLIENT_ID);
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(claims["oid"], claims["sub"]);
    let exp = claims["exp"].as_i64().expect("exp");
    let iat = claims["iat"].as_i64().expect("iat");
    assert!(claims["nbf"].as_i64().expect("nbf") <= iat + 1);
    assert!(exp > iat);

    let stats = emulator.stats();
    assert_eq!(stats.tokens_issued, 1);
    assert_eq!(stats.token_requests, 1);
    assert_eq!(stats.errors_returned, 0);

    // A second token is a different token for the same principal.
    let second = client
        .post_form(&token_path(DEFAULT_TENANT_ID), &secret_form(SCOPE))
        .await
        .json();
    let second_claims = emulator
        .verify_token(second["access_token"].as_str().expect("token"))
        .expect("verifies");
    assert_ne!(second_claims["uti"], claims["uti"]);
    assert_eq!(second_claims["oid"], claims["oid"]);
}

#[tokio::test]
async fn audiences_follow_the_scope_resource() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    for (scope, audience) in [
        (
            "https://vault.azure.net/.default",
            "https://vault.azure.net",
        ),
        (
            "https://management.core.windows.net//.default",
            "https://management.core.windows.net/",
        ),
        (
            "api://0f1e2d3c-4b5a-4697-8877-665544332211/.default",
            "api://0f1e2d3c-4b5a-4697-8877-665544332211",
        ),
    ] {
        let body = client
            .post_form(&token_path(DEFAULT_TENANT_ID), &secret_form(scope))
            .await
            .json();
        let claims = emulator
            .verify_token(body["access_token"].as_str().expect("token"))
            .expect("verifies");
        assert_eq!(claims["aud"], audience, "{scope}");
    }
}

#[tokio::test]
async fn lifetime_and_refresh_in_are_configurable() {
    let emulator = Emulator::builder()
        .token_lifetime(Duration::from_secs(7200))
        .refresh_in(Some(Duration::from_secs(3600)))
        .start()
        .await
        .expect("starts");
    let client = Client::new(&emulator);
    let reply = client
        .post_form(&token_path(DEFAULT_TENANT_ID), &secret_form(SCOPE))
        .await;
    let body = reply.json();
    assert_eq!(body["expires_in"], 7200);
    assert_eq!(body["ext_expires_in"], 7200);
    assert_eq!(body["refresh_in"], 3600);
    let claims = emulator
        .verify_token(body["access_token"].as_str().expect("token"))
        .expect("verifies");
    let now = claims["iat"].as_i64().expect("iat") + 300;
    assert_eq!(claims["exp"].as_i64().expect("exp") - now, 7200);
}

/// A CAE-capable client gets a long-lived token with `xms_cc`, whichever case it writes the
/// capability in (msal-node sends `cp1`).
#[tokio::test]
async fn the_cp1_capability_is_recognised_in_any_case() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    for capability in ["CP1", "cp1"] {
        let claims = format!(r#"{{"access_token":{{"xms_cc":{{"values":["{capability}"]}}}}}}"#);
        let mut form = secret_form(SCOPE);
        form.push(("claims", &claims));
        let body = client
            .post_form(&token_path(DEFAULT_TENANT_ID), &form)
            .await
            .json();
        assert_eq!(body["expires_in"], 86_399, "{capability}: {body}");
        let token = emulator
            .verify_token(body["access_token"].as_str().expect("token"))
            .expect("verifies");
        assert_eq!(token["xms_cc"][0], "CP1", "{capability}");
    }
}

#[tokio::test]
async fn http_basic_client_authentication_is_accepted() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{DEFAULT_CLIENT_ID}:{DEFAULT_CLIENT_SECRET}"))
    );
    let reply = client
        .post_form_with_headers(
            &token_path(DEFAULT_TENANT_ID),
            &[("grant_type", "client_credentials"), ("scope", SCOPE)],
            &[("authorization", &basic)],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let wrong = format!(
        "Basic {}",
        STANDARD.encode(format!("{DEFAULT_CLIENT_ID}:nope"))
    );
    let reply = client
        .post_form_with_headers(
            &token_path(DEFAULT_TENANT_ID),
            &[("grant_type", "client_credentials"), ("scope", SCOPE)],
            &[("authorization", &wrong)],
        )
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.aadsts(), 7000215);
}

#[tokio::test]
async fn multi_tenant_apps_get_tokens_in_other_tenants_and_single_tenant_apps_do_not() {
    const HOME: &str = "11111111-2222-4333-8444-555555555555";
    const OTHER: &str = "66666666-7777-4888-9999-000000000000";
    const MULTI: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
    const SINGLE: &str = "12121212-3434-4565-8787-909090909090";
    let emulator = Emulator::builder()
        .no_defaults()
        .tenant(OTHER)
        .app(
            Application::confidential(MULTI)
                .secret("m")
                .tenant(HOME)
                .multi_tenant(true),
        )
        .app(Application::confidential(SINGLE).secret("s").tenant(HOME))
        .start()
        .await
        .expect("starts");
    let client = Client::new(&emulator);
    let form = |id, secret| {
        vec![
            ("client_id", id),
            ("client_secret", secret),
            ("grant_type", "client_credentials"),
            ("scope", SCOPE),
        ]
    };

    let reply = client
        .post_form(&token_path(OTHER), &form(MULTI, "m"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let claims = emulator
        .verify_token(reply.json()["access_token"].as_str().expect("token"))
        .expect("verifies");
    assert_eq!(claims["tid"], OTHER);
    let home_reply = client.post_form(&token_path(HOME), &form(MULTI, "m")).await;
    let home_claims = emulator
        .verify_token(home_reply.json()["access_token"].as_str().expect("token"))
        .expect("verifies");
    assert_ne!(
        home_claims["oid"], claims["oid"],
        "one service principal per tenant"
    );

    let reply = client
        .post_form(&token_path(OTHER), &form(SINGLE, "s"))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.aadsts(), 700016);
    assert_eq!(reply.json()["error"], "unauthorized_client");
    assert!(reply.text().contains(OTHER));

    assert_eq!(
        client
            .post_form(&token_path(HOME), &form(SINGLE, "s"))
            .await
            .status,
        200
    );
    assert!(
        emulator
            .env_exports()
            .iter()
            .any(|(k, v)| k == "AZURE_TENANT_ID" && v == HOME),
        "with no default app, the first app's tenant is exported"
    );
}

/// (name, path, form, status, `error`, AADSTS code).
type ErrorCase = (
    &'static str,
    String,
    Vec<(&'static str, &'static str)>,
    u16,
    &'static str,
    u64,
);

/// Each case: a change to a valid request, and the status, `error` and AADSTS code Entra
/// answers with.
#[tokio::test]
async fn each_aadsts_error() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    let t = DEFAULT_TENANT_ID;
    let unknown_tenant = "00000000-1111-4222-8333-444444444444";
    let cases: Vec<ErrorCase> = vec![
        (
            "unknown tenant",
            token_path(unknown_tenant),
            secret_form(SCOPE),
            400,
            "invalid_request",
            90002,
        ),
        (
            "unknown client",
            token_path(t),
            vec![
                ("client_id", "99999999-8888-4777-8666-555555555555"),
                ("client_secret", "x"),
                ("grant_type", "client_credentials"),
                ("scope", SCOPE),
            ],
            400,
            "unauthorized_client",
            700016,
        ),
        (
            "wrong secret",
            token_path(t),
            vec![
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", "wrong"),
                ("grant_type", "client_credentials"),
                ("scope", SCOPE),
            ],
            401,
            "invalid_client",
            7000215,
        ),
        (
            "no secret",
            token_path(t),
            vec![
                ("client_id", DEFAULT_CLIENT_ID),
                ("grant_type", "client_credentials"),
                ("scope", SCOPE),
            ],
            401,
            "invalid_client",
            7000218,
        ),
        (
            "client assertion for an app without certificates",
            token_path(t),
            vec![
                ("client_id", DEFAULT_CLIENT_ID),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", "a.b.c"),
                ("grant_type", "client_credentials"),
                ("scope", SCOPE),
            ],
            401,
            "invalid_client",
            700027,
        ),
        (
            "missing client_id",
            token_path(t),
            vec![
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("grant_type", "client_credentials"),
                ("scope", SCOPE),
            ],
            400,
            "invalid_request",
            900144,
        ),
        (
            "missing grant_type",
            token_path(t),
            vec![
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("scope", SCOPE),
            ],
            400,
            "invalid_request",
            900144,
        ),
        (
            "missing scope",
            token_path(t),
            vec![
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("grant_type", "client_credentials"),
            ],
            400,
            "invalid_request",
            900144,
        ),
        (
            "scope without /.default",
            token_path(t),
            secret_form("https://graph.microsoft.com/User.Read"),
            400,
            "invalid_scope",
            1002012,
        ),
        (
            "two resources",
            token_path(t),
            secret_form("https://management.azure.com/.default https://vault.azure.net/.default"),
            400,
            "invalid_scope",
            70011,
        ),
        (
            "empty resource",
            token_path(t),
            secret_form("/.default"),
            400,
            "invalid_scope",
            70011,
        ),
        (
            "resource that cannot exist",
            token_path(t),
            secret_form("no-such-thing/.default"),
            400,
            "invalid_resource",
            500011,
        ),
        (
            "unsupported grant",
            token_path(t),
            vec![
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("grant_type", "magic"),
                ("scope", SCOPE),
            ],
            400,
            "unsupported_grant_type",
            70003,
        ),
        (
            "client credentials on /common",
            token_path("common"),
            secret_form(SCOPE),
            400,
            "invalid_request",
            9001023,
        ),
        (
            "client credentials on /organizations",
            token_path("organizations"),
            secret_form(SCOPE),
            400,
            "invalid_request",
            50059,
        ),
    ];
    for (name, path, form, status, error, code) in &cases {
        let reply = client
            .post_form_with_headers(path, form, &[("client-request-id", "corr-42")])
            .await;
        assert_eq!(reply.status, *status, "{name}: {}", reply.text());
        let body = reply.json();
        assert_eq!(body["error"], *error, "{name}");
        assert_eq!(reply.aadsts(), *code, "{name}");
        let description = body["error_description"].as_str().expect("description");
        assert!(
            description.starts_with(&format!("AADSTS{code}: ")),
            "{name}: {description}"
        );
        assert!(
            description.contains("\r\nTrace ID: ")
                && description.contains("\r\nCorrelation ID: corr-42\r\nTimestamp: "),
            "{name}: {description}"
        );
        assert_eq!(body["correlation_id"], "corr-42");
        assert_eq!(
            body["trace_id"].as_str(),
            reply.header("x-ms-request-id"),
            "{name}"
        );
        assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(
            body["error_uri"],
            format!("{}/error?code={code}", emulator.authority_host())
        );
        assert_eq!(
            reply.header("content-type"),
            Some("application/json; charset=utf-8")
        );
    }
    let stats = emulator.stats();
    assert_eq!(stats.tokens_issued, 0);
    assert_eq!(stats.errors_returned, cases.len() as u64);
    assert_eq!(stats.token_requests, cases.len() as u64);
}

#[tokio::test]
async fn the_token_endpoint_only_accepts_post() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    let reply = client.get(&token_path(DEFAULT_TENANT_ID)).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.aadsts(), 900561);
    assert_eq!(emulator.stats().token_requests, 0, "only POSTs count");
}

#[tokio::test]
async fn a_non_form_body_is_a_missing_parameter() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    let reply = client
        .post_json(
            &token_path(DEFAULT_TENANT_ID),
            r#"{"grant_type":"client_credentials"}"#,
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.aadsts(), 900144);
    assert!(reply.text().contains("'grant_type'"));

    // Binary junk labelled as a form decodes to nonsense fields, not a crash.
    let reply = client
        .send(
            Method::POST,
            &token_path(DEFAULT_TENANT_ID),
            &[("content-type", "application/x-www-form-urlencoded")],
            Bytes::from_static(b"\xff\xfe\x00%%%=&&==\x80grant_type=%ZZ"),
        )
        .await
        .expect("answered");
    assert_eq!(reply.status, 400);
    assert!(emulator.token_requests().len() == 2);
}

//! Configuring a running emulator: applications, users and managed identities registered
//! through the control API, what an API app exposes (scopes, app roles) and what users carry
//! (groups, roles, claims), the clock and token lifetimes, and the configuration file of the
//! crate README.

mod common;

use std::time::Duration;

use azidentity_emulator::{
    Application, AuthorizationCodeRequest, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
    DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_TENANT_ID, DEFAULT_USERNAME, Emulator, ErrorKind, HostKind,
    User,
};
use common::{Client, token_path};
use serde_json::{Value, json};

const API: &str = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f";

fn claims(jwt: &str) -> Value {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("JSON claims")
}

#[tokio::test]
async fn applications_users_and_identities_are_added_at_run_time() {
    let emu = Emulator::builder().start().await.unwrap();
    let client = Client::new(&emu);
    let tenant = "aa11bb22-cc33-4d44-8e55-ff6677889900";
    let app = client
        .post_json(
            "/_emulator/applications",
            &json!({"client_id": "b0b0b0b0-1111-4222-8333-444455556666", "tenant": tenant,
                    "secrets": ["added-at-run-time"]})
            .to_string(),
        )
        .await;
    assert_eq!(app.status, 200, "{}", app.text());
    assert_eq!(
        app.json()["secrets"],
        1,
        "the answer counts secrets, never shows them"
    );
    let token = client
        .post_form(
            &token_path(tenant),
            &[
                ("client_id", "b0b0b0b0-1111-4222-8333-444455556666"),
                ("client_secret", "added-at-run-time"),
                ("grant_type", "client_credentials"),
                ("scope", "https://vault.azure.net/.default"),
            ],
        )
        .await;
    assert_eq!(
        token.status,
        200,
        "the app and its tenant exist now: {}",
        token.text()
    );

    // Certificates come as PEM text: the API reads no file of the emulator's host for its
    // caller (here the emulator's own CA, a readable PEM file).
    let ca = emu.ca_path().display().to_string();
    for certificate in [
        json!({"certificates": [{"pem_path": ca}]}),
        json!({"trusted_subjects": [{"subject": "CN=x", "issuer_pem_path": ca}]}),
    ] {
        let mut app = json!({"client_id": "c0c0c0c0-1111-4222-8333-444455556666"});
        app.as_object_mut()
            .unwrap()
            .extend(certificate.as_object().unwrap().clone());
        let refused = client
            .post_json("/_emulator/applications", &app.to_string())
            .await;
        assert_eq!(refused.status, 400, "{app}: {}", refused.text());
        assert!(refused.text().contains("not a path"), "{}", refused.text());
    }
    let with_pem = client
        .post_json(
            "/_emulator/applications",
            &json!({"client_id": "c0c0c0c0-1111-4222-8333-444455556666",
                    "certificates": [{"pem": std::fs::read_to_string(emu.ca_path()).unwrap()}]})
            .to_string(),
        )
        .await;
    assert_eq!(with_pem.status, 200, "{}", with_pem.text());

    let user = client
        .post_json(
            "/_emulator/users",
            &json!({"username": "grace@emulator.example", "password": "added-password-1",
                    "groups": ["g-1"]})
            .to_string(),
        )
        .await;
    assert_eq!(user.status, 200, "{}", user.text());
    let signed_in = client
        .post_form(
            &token_path(DEFAULT_TENANT_ID),
            &[
                ("client_id", DEFAULT_PUBLIC_CLIENT_ID),
                ("grant_type", "password"),
                ("username", "grace@emulator.example"),
                ("password", "added-password-1"),
                ("scope", "https://vault.azure.net/.default"),
            ],
        )
        .await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text());
    assert_eq!(
        claims(signed_in.json()["access_token"].as_str().unwrap())["groups"][0],
        "g-1"
    );
    let listed = client.get("/_emulator/users").await.text();
    assert!(listed.contains("grace@emulator.example"));
    assert!(
        !listed.contains("added-password-1"),
        "no passwords in the listing"
    );
    let bad = client
        .post_json("/_emulator/users", r#"{"username": "x"}"#)
        .await;
    assert_eq!(bad.status, 400, "a user needs a password");

    let imds = emu
        .start_managed_identity(emu.managed_identity_host(HostKind::Imds))
        .await
        .unwrap();
    let added = client
        .post_json(
            "/_emulator/managed_identities",
            &json!({"host": "imds", "client_id": "c1d2", "object_id": "o1d2",
                    "resource_id": "/subscriptions/x/identities/added"})
            .to_string(),
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.text());
    let listed = client.get("/_emulator/managed_identities").await.json();
    assert_eq!(listed["imds"]["user_assigned"][1]["client_id"], "c1d2");
    assert!(
        listed["app-service"]["user_assigned"]
            .as_array()
            .unwrap()
            .len()
            == 1
    );
    let port = imds.port().unwrap();
    let answer = plain_get(
        port,
        "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fx&client_id=c1d2",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"client_id\":\"c1d2\""), "{answer}");
}

/// One GET with `Metadata: true` to a plain-HTTP host; the whole answer as text.
async fn plain_get(port: u16, target: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nMetadata: true\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("answered")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn an_api_grants_only_the_scopes_it_exposes_and_the_roles_it_defines() {
    let emu = Emulator::builder()
        .app(
            Application::confidential(API)
                .secret("api-secret")
                .identifier_uri("api://orders")
                .exposed_scope("Orders.Read")
                .exposed_scope("Orders.Write")
                .app_role("Orders.Admin"),
        )
        .user(
            User::new("ada@emulator.example", "pw-ada-1")
                .role("Orders.Admin")
                .role("Billing.Admin")
                .group("5e6f7a8b-0000-4000-8000-000000000001")
                .claim("extension_team", "payments"),
        )
        .start()
        .await
        .unwrap();
    let token = emu
        .user_token(
            DEFAULT_PUBLIC_CLIENT_ID,
            "ada@emulator.example",
            "api://orders/Orders.Read",
        )
        .expect("an exposed scope");
    let access = emu.verify_token(&token).unwrap();
    assert_eq!(access["scp"], "Orders.Read");
    assert_eq!(
        access["roles"],
        json!(["Orders.Admin"]),
        "only the roles the API defines"
    );
    assert_eq!(access["groups"][0], "5e6f7a8b-0000-4000-8000-000000000001");
    assert_eq!(access["extension_team"], "payments");

    let all = emu
        .user_token(
            DEFAULT_PUBLIC_CLIENT_ID,
            "ada@emulator.example",
            &format!("api://{API}/.default"),
        )
        .unwrap();
    assert_eq!(
        emu.verify_token(&all).unwrap()["scp"],
        "Orders.Read Orders.Write"
    );

    let refused = emu
        .user_token(
            DEFAULT_PUBLIC_CLIENT_ID,
            "ada@emulator.example",
            "api://orders/Orders.Delete",
        )
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Refused);
    assert!(refused.to_string().contains("AADSTS650053"), "{refused}");

    // On-behalf-of from the API to a resource that is no registered app: every role the
    // user has.
    let client = Client::new(&emu);
    let obo = client
        .post_form(
            &token_path(DEFAULT_TENANT_ID),
            &[
                ("client_id", API),
                ("client_secret", "api-secret"),
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("requested_token_use", "on_behalf_of"),
                ("assertion", &token),
                ("scope", "https://graph.microsoft.com/User.Read"),
            ],
        )
        .await;
    assert_eq!(obo.status, 200, "{}", obo.text());
    let downstream = claims(obo.json()["access_token"].as_str().unwrap());
    assert_eq!(
        downstream["roles"],
        json!(["Orders.Admin", "Billing.Admin"])
    );
}

#[tokio::test]
async fn time_and_lifetimes_change_while_running() {
    let emu = Emulator::builder()
        .token_lifetime(Duration::from_secs(600))
        .start()
        .await
        .unwrap();
    let client = Client::new(&emu);
    let form = [
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_secret", DEFAULT_CLIENT_SECRET),
        ("grant_type", "client_credentials"),
        ("scope", "https://vault.azure.net/.default"),
    ];
    let first = client
        .post_form(&token_path(DEFAULT_TENANT_ID), &form)
        .await
        .json();
    assert_eq!(first["expires_in"], 600);
    let first_token = first["access_token"].as_str().unwrap().to_owned();
    emu.verify_token(&first_token).expect("valid now");

    // Over the control API: shorter tokens with refresh_in, and the clock 11 minutes ahead.
    let set = client
        .post_json(
            "/_emulator/time",
            r#"{"token_lifetime_secs": 120, "refresh_in_secs": 60, "advance_secs": 660}"#,
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(set.json()["clock_offset_secs"], 660);
    let expired = emu.verify_token(&first_token).unwrap_err();
    assert_eq!(expired.kind(), ErrorKind::InvalidToken);
    let before = client.get("/_emulator/time").await.json()["now"]
        .as_i64()
        .unwrap();
    let second = client
        .post_form(&token_path(DEFAULT_TENANT_ID), &form)
        .await
        .json();
    let after = client.get("/_emulator/time").await.json()["now"]
        .as_i64()
        .unwrap();
    assert_eq!(second["expires_in"], 120);
    assert_eq!(second["refresh_in"], 60);
    // Issued on the emulator's clock (Entra backdates `iat` five minutes), read around it
    // through the control API: no comparison with the test's own clock.
    let issued = claims(second["access_token"].as_str().unwrap());
    let iat = issued["iat"].as_i64().unwrap() + 300;
    assert!(
        (before..=after).contains(&iat),
        "tokens are issued on the emulator's clock: {before} <= {iat} <= {after}"
    );

    // Codes age with the clock: one minted now has expired ten minutes later.
    emu.set_refresh_in(None);
    let code = emu
        .authorization_code(&AuthorizationCodeRequest::new(
            DEFAULT_PUBLIC_CLIENT_ID,
            DEFAULT_USERNAME,
            "http://localhost",
            "https://vault.azure.net/.default",
        ))
        .unwrap();
    emu.advance_clock(Duration::from_secs(601));
    let redeemed = client
        .post_form(
            &token_path(DEFAULT_TENANT_ID),
            &[
                ("client_id", DEFAULT_PUBLIC_CLIENT_ID),
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://localhost"),
                ("scope", "https://vault.azure.net/.default"),
            ],
        )
        .await;
    assert_eq!(redeemed.aadsts(), 70008, "{}", redeemed.text());
    let bad = client
        .post_json("/_emulator/time", r#"{"tea_time": 5}"#)
        .await;
    assert_eq!(bad.status, 400);
    // A clock or a lifetime beyond reach is a clear 400 and changes nothing (no overflow).
    let offset = client.get("/_emulator/time").await.json()["clock_offset_secs"].clone();
    for body in [
        json!({"advance_secs": i64::MAX}),
        json!({"advance_secs": i64::MIN}),
        json!({"clock_offset_secs": i64::MIN}),
        json!({"token_lifetime_secs": u64::MAX}),
        json!({"refresh_in_secs": 1u64 << 62}),
    ] {
        let refused = client.post_json("/_emulator/time", &body.to_string()).await;
        assert_eq!(refused.status, 400, "{body}: {}", refused.text());
        assert!(
            refused.json()["error_description"]
                .as_str()
                .is_some_and(|d| d.contains("seconds")),
            "{body}: {}",
            refused.text()
        );
    }
    assert_eq!(
        client.get("/_emulator/time").await.json()["clock_offset_secs"],
        offset
    );
    emu.advance_clock(Duration::MAX);
    let far = client.get("/_emulator/time").await.json();
    assert!(
        far["clock_offset_secs"].as_i64().unwrap() < i64::MAX / 2,
        "{far}"
    );
    let token = client
        .post_form(&token_path(DEFAULT_TENANT_ID), &form)
        .await;
    assert_eq!(token.status, 200, "{}", token.text());
    assert_eq!(
        client.get("/_emulator/time").await.json()["refresh_in_secs"],
        Value::Null
    );
}

/// The example configuration of the crate README is valid and does what it says.
#[tokio::test]
async fn the_readme_configuration_example_works() {
    let readme = include_str!("../README.md");
    let example = readme
        .split("<!-- config example -->")
        .nth(1)
        .and_then(|rest| rest.split("```json").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the README has the example after its marker");
    let dir = std::env::temp_dir().join(format!("emulator-config-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("emulator.json");
    std::fs::write(&path, example).unwrap();
    let emu = Emulator::builder()
        .config_file(&path)
        .expect("the example parses")
        .start()
        .await
        .expect("and starts");
    std::fs::remove_dir_all(&dir).ok();
    let client = Client::new(&emu);
    let listed = client.get("/_emulator/applications").await.json();
    let orders = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["display_name"] == "orders-api")
        .expect("the example's app");
    assert_eq!(orders["scopes"], json!(["Orders.Read", "Orders.Write"]));
    let identities = client.get("/_emulator/managed_identities").await.json();
    assert_eq!(
        identities["app-service"]["user_assigned"][0]["client_id"],
        "0d1e2f3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a"
    );
    assert!(identities["imds"]["system_assigned"].is_object());
    let signed_in = client
        .post_form(
            &token_path(DEFAULT_TENANT_ID),
            &[
                ("client_id", "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e"),
                ("grant_type", "password"),
                ("username", "ada@contoso.example"),
                ("password", "correct horse battery"),
                ("scope", "api://orders/Orders.Read"),
            ],
        )
        .await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text());
    let access = claims(signed_in.json()["access_token"].as_str().unwrap());
    assert_eq!(access["roles"], json!(["Orders.Admin"]));
    assert_eq!(access["extension_team"], "payments");
    assert_eq!(signed_in.json()["refresh_in"], 1800);
    let unknown = Emulator::builder()
        .config_file(dir.join("missing.json"))
        .unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::Io);
    let invalid = std::env::temp_dir().join(format!("emulator-bad-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&invalid, r#"{"aplications": []}"#).unwrap();
    let error = Emulator::builder().config_file(&invalid).unwrap_err();
    std::fs::remove_file(&invalid).ok();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("aplications"), "{error}");
}

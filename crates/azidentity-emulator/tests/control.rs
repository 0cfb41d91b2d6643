//! The control API, the request log, counters, reset and the exported environment.

mod common;

use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, Emulator, Fault, RecordedRequest,
    render_exports,
};
use common::{Client, token_path};

const SCOPE: &str = "https://management.azure.com/.default";

#[tokio::test]
async fn requests_are_recorded_with_secrets_and_headers() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    client
        .post_form_with_headers(
            &format!("{}?foo=bar%20baz", token_path(DEFAULT_TENANT_ID)),
            &[
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("grant_type", "client_credentials"),
                ("scope", SCOPE),
            ],
            &[("X-Client-SKU", "test-sku")],
        )
        .await;
    client.get("/_emulator/stats").await;
    client.get("/nowhere").await;

    let all = emulator.requests();
    assert_eq!(all.len(), 2, "control requests are not recorded");
    let token = &all[0];
    assert_eq!(token.method, "POST");
    assert_eq!(token.path, token_path(DEFAULT_TENANT_ID));
    assert_eq!(token.query_value("foo"), Some("bar baz"));
    assert_eq!(
        token.form_value("client_secret"),
        Some(DEFAULT_CLIENT_SECRET)
    );
    assert_eq!(token.header("x-client-sku"), Some("test-sku"));
    assert_eq!(token.header("X-CLIENT-SKU"), Some("test-sku"));
    assert_eq!(all[1].path, "/nowhere");
    assert_eq!(emulator.token_requests(), vec![token.clone()]);

    let stats = emulator.stats();
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.token_requests, 1);
    assert_eq!(stats.tokens_issued, 1);
    assert_eq!(stats.errors_returned, 1, "the 404");
}

#[tokio::test]
async fn credentials_can_be_kept_out_of_the_record() {
    let emulator = Emulator::builder()
        .mask_recorded_credentials(true)
        .start()
        .await
        .expect("starts");
    let client = Client::new(&emulator);
    let reply = client
        .post_form_with_headers(
            &token_path(DEFAULT_TENANT_ID),
            &[
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("grant_type", "client_credentials"),
                ("scope", SCOPE),
            ],
            &[
                ("Authorization", "Bearer some-token"),
                ("X-Client-SKU", "s"),
            ],
        )
        .await;
    assert_eq!(
        reply.status, 200,
        "the secret was checked before it was masked"
    );
    let recorded = &emulator.requests()[0];
    assert_eq!(recorded.form_value("client_secret"), Some("***"));
    assert_eq!(recorded.header("authorization"), Some("***"));
    assert_eq!(recorded.form_value("client_id"), Some(DEFAULT_CLIENT_ID));
    assert_eq!(recorded.header("x-client-sku"), Some("s"));
    let over_http = client.get("/_emulator/requests").await.text();
    assert!(!over_http.contains(DEFAULT_CLIENT_SECRET), "{over_http}");
}

#[tokio::test]
async fn control_api_mirrors_the_rust_api() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    client
        .post_form(
            &token_path(DEFAULT_TENANT_ID),
            &[
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", "wrong"),
                ("grant_type", "client_credentials"),
                ("scope", SCOPE),
            ],
        )
        .await;

    let reply = client.get("/_emulator/requests").await;
    assert_eq!(reply.status, 200);
    let recorded: Vec<RecordedRequest> =
        serde_json::from_slice(&reply.body).expect("a list of recorded requests");
    assert_eq!(recorded, emulator.requests());
    assert_eq!(recorded[0].form_value("client_secret"), Some("wrong"));
    let raw = reply.json();
    assert_eq!(
        raw[0]["form"][1],
        serde_json::json!(["client_secret", "wrong"])
    );

    let stats = client.get("/_emulator/stats").await.json();
    assert_eq!(
        stats,
        serde_json::json!({
            "requests": 1, "token_requests": 1, "tokens_issued": 0,
            "errors_returned": 1, "faults_applied": 0
        })
    );

    emulator.add_fault(Fault::any().status(500, ""));
    let reply = client
        .send(
            http::Method::POST,
            "/_emulator/reset",
            &[],
            bytes::Bytes::new(),
        )
        .await
        .expect("answered");
    assert_eq!(reply.status, 204);
    assert!(emulator.requests().is_empty());
    assert_eq!(emulator.stats(), Default::default());
    assert_eq!(
        client.get("/_emulator/faults").await.json(),
        serde_json::json!([])
    );
    assert_eq!(
        client.get("/_emulator/requests").await.json(),
        serde_json::json!([])
    );
}

#[tokio::test]
async fn control_api_rejects_wrong_methods_and_paths() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    let reply = client.get("/_emulator/reset").await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("POST"));
    let reply = client.post_json("/_emulator/stats", "{}").await;
    assert_eq!(reply.status, 405);
    let reply = client.get("/_emulator/nothing").await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["error"], "not_found");
}

#[tokio::test]
async fn reset_keeps_the_configuration() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    emulator.reset();
    let reply = client
        .post_form(
            &token_path(DEFAULT_TENANT_ID),
            &[
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("grant_type", "client_credentials"),
                ("scope", SCOPE),
            ],
        )
        .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn env_exports_and_shell_rendering() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let env = emulator.env_exports();
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "AZURE_AUTHORITY_HOST",
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "SSL_CERT_FILE",
            "REQUESTS_CA_BUNDLE",
            "NODE_EXTRA_CA_CERTS"
        ]
    );
    let value = |name: &str| {
        env.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .expect("present")
    };
    assert_eq!(value("AZURE_AUTHORITY_HOST"), emulator.authority_host());
    assert_eq!(value("AZURE_TENANT_ID"), DEFAULT_TENANT_ID);
    assert_eq!(value("AZURE_CLIENT_ID"), DEFAULT_CLIENT_ID);
    assert_eq!(value("AZURE_CLIENT_SECRET"), DEFAULT_CLIENT_SECRET);
    assert_eq!(
        value("SSL_CERT_FILE"),
        emulator.ca_path().display().to_string()
    );
    assert_eq!(value("REQUESTS_CA_BUNDLE"), value("SSL_CERT_FILE"));
    // Node.js ignores SSL_CERT_FILE.
    assert_eq!(value("NODE_EXTRA_CA_CERTS"), value("SSL_CERT_FILE"));
    // With a managed identity host only the authority and the CA go with the host's
    // variables: the service principal's AZURE_CLIENT_ID would select a user-assigned identity.
    let base: Vec<String> = emulator.base_env().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        base,
        [
            "AZURE_AUTHORITY_HOST",
            "SSL_CERT_FILE",
            "REQUESTS_CA_BUNDLE",
            "NODE_EXTRA_CA_CERTS"
        ]
    );

    let on_disk = std::fs::read_to_string(emulator.ca_path()).expect("CA file");
    assert_eq!(on_disk, emulator.ca_pem());
    assert!(emulator.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(emulator.authority_host().starts_with("https://127.0.0.1:"));

    let rendered = render_exports(&emulator);
    assert_eq!(rendered.lines().count(), 7);
    assert!(rendered.starts_with(&format!(
        "export AZURE_AUTHORITY_HOST='{}'\n",
        emulator.authority_host()
    )));

    let ca_path = emulator.ca_path().to_owned();
    emulator.shutdown().await;
    assert!(!ca_path.exists(), "the CA directory is removed on shutdown");
}

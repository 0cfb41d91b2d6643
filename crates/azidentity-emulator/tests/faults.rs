//! Scripted faults, applied through the Rust API and through the control API.

mod common;

use std::time::{Duration, Instant};

use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, Emulator, Fault,
};
use common::{Client, token_path};

const SCOPE: &str = "https://management.azure.com/.default";

fn form() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_secret", DEFAULT_CLIENT_SECRET),
        ("grant_type", "client_credentials"),
        ("scope", SCOPE),
    ]
}

#[tokio::test]
async fn status_with_retry_after_then_normal_service() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    emulator.add_fault(
        Fault::on_path("/oauth2/v2.0/token")
            .status(429, r#"{"error":"too_many_requests"}"#)
            .retry_after(7),
    );

    let path = token_path(DEFAULT_TENANT_ID);
    let reply = client.post_form(&path, &form()).await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("7"));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json()["error"], "too_many_requests");

    let reply = client.post_form(&path, &form()).await;
    assert_eq!(reply.status, 200, "the fault was used up");
    assert!(reply.header("retry-after").is_none());

    let stats = emulator.stats();
    assert_eq!(stats.faults_applied, 1);
    assert_eq!(stats.errors_returned, 1);
    assert_eq!(stats.tokens_issued, 1);
    assert_eq!(
        stats.token_requests, 2,
        "faulted token requests are still counted"
    );
    assert_eq!(emulator.token_requests().len(), 2, "and recorded");
}

#[tokio::test]
async fn times_n_is_consumed_by_matching_requests_only() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    emulator.add_fault(
        Fault::on_path("/oauth2/v2.0/token")
            .times(3)
            .status(503, "{}"),
    );
    let keys = format!("/{DEFAULT_TENANT_ID}/discovery/v2.0/keys");
    let path = token_path(DEFAULT_TENANT_ID);

    assert_eq!(client.get(&keys).await.status, 200, "another path");
    for attempt in 0..3 {
        assert_eq!(
            client.post_form(&path, &form()).await.status,
            503,
            "{attempt}"
        );
    }
    assert_eq!(client.post_form(&path, &form()).await.status, 200);
    assert_eq!(emulator.stats().faults_applied, 3);
}

#[tokio::test]
async fn any_matches_every_path_but_not_the_control_api() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    emulator.add_fault(
        Fault::any()
            .times(2)
            .status(500, "boom")
            .content_type("text/plain"),
    );

    assert_eq!(client.get("/_emulator/stats").await.status, 200);
    let reply = client
        .get(&format!(
            "/{DEFAULT_TENANT_ID}/v2.0/.well-known/openid-configuration"
        ))
        .await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.text(), "boom");
    assert_eq!(reply.header("content-type"), Some("text/plain"));
    assert_eq!(client.get("/nowhere").await.status, 500);
    assert_eq!(client.get("/nowhere").await.status, 404);
}

#[tokio::test]
async fn delay_then_normal_answer() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    emulator.add_fault(Fault::on_path("/oauth2/").delay(Duration::from_millis(200)));
    let started = Instant::now();
    let reply = client
        .post_form(&token_path(DEFAULT_TENANT_ID), &form())
        .await;
    // A lower bound only: the delay must have happened; how fast the rest was is not tested.
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(reply.status, 200);
    assert_eq!(emulator.stats().faults_applied, 1);
}

#[tokio::test]
async fn delay_then_status() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    emulator.add_fault(
        Fault::any()
            .delay(Duration::from_millis(50))
            .status(504, "{}"),
    );
    let started = Instant::now();
    let reply = client
        .post_form(&token_path(DEFAULT_TENANT_ID), &form())
        .await;
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(reply.status, 504);
}

#[tokio::test]
async fn malformed_json_is_a_truncated_200() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    emulator.add_fault(Fault::on_path("/token").malformed_json());
    let reply = client
        .post_form(&token_path(DEFAULT_TENANT_ID), &form())
        .await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&reply.body).is_err());
    assert!(reply.text().starts_with(r#"{"token_type":"Bearer""#));
    assert_eq!(emulator.stats().tokens_issued, 0);
}

#[tokio::test]
async fn drop_connection_closes_without_an_answer() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    emulator.add_fault(Fault::on_path("/token").drop_connection());
    let mut connection = client.connect().await.expect("connects");
    let result = connection
        .send(
            http::Method::POST,
            &token_path(DEFAULT_TENANT_ID),
            &[("content-type", "application/x-www-form-urlencoded")],
            common::encode_form(&form()),
        )
        .await;
    assert!(result.is_err(), "expected no answer, got {result:?}");
    assert_eq!(emulator.stats().faults_applied, 1);
    assert_eq!(
        emulator.token_requests().len(),
        1,
        "the dropped request was recorded"
    );

    let reply = client
        .post_form(&token_path(DEFAULT_TENANT_ID), &form())
        .await;
    assert_eq!(reply.status, 200, "a new connection is served normally");
}

#[tokio::test]
async fn html_error_pages_look_like_a_proxy() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    emulator.add_fault(Fault::any().html_error(502).retry_after(3));
    let reply = client
        .post_form(&token_path(DEFAULT_TENANT_ID), &form())
        .await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.header("content-type"), Some("text/html"));
    assert_eq!(reply.header("retry-after"), Some("3"));
    assert!(reply.text().contains("<title>502 Bad Gateway</title>"));
}

#[tokio::test]
async fn token_latency_applies_to_token_requests() {
    let emulator = Emulator::builder()
        .latency(Duration::from_millis(100))
        .start()
        .await
        .expect("starts");
    let client = Client::new(&emulator);
    let started = Instant::now();
    let reply = client
        .post_form(&token_path(DEFAULT_TENANT_ID), &form())
        .await;
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn faults_through_the_control_api() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    let reply = client
        .post_json(
            "/_emulator/faults",
            r#"[{"path": "/oauth2/v2.0/token", "times": 2, "status": 503, "body": "{\"e\":1}", "retry_after": 1},
                {"path": "/keys", "html_error": 504}]"#,
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    let pending = client.get("/_emulator/faults").await.json();
    assert_eq!(pending.as_array().map(Vec::len), Some(2));
    assert_eq!(pending[0]["times"], 2);

    let path = token_path(DEFAULT_TENANT_ID);
    for _ in 0..2 {
        let reply = client.post_form(&path, &form()).await;
        assert_eq!(reply.status, 503);
        assert_eq!(reply.header("retry-after"), Some("1"));
        assert_eq!(reply.text(), r#"{"e":1}"#);
    }
    assert_eq!(client.post_form(&path, &form()).await.status, 200);
    let reply = client
        .get(&format!("/{DEFAULT_TENANT_ID}/discovery/v2.0/keys"))
        .await;
    assert_eq!(reply.status, 504);

    let reply = client
        .post_json("/_emulator/faults", r#"{"drop_connection": true}"#)
        .await;
    assert_eq!(reply.status, 204);
    assert!(
        client
            .send(http::Method::GET, "/anything", &[], bytes::Bytes::new())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn bad_fault_json_is_rejected_and_queues_nothing() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    for body in [
        "",
        "not json",
        "42",
        r#"{"status": "five hundred"}"#,
        r#"{"status": 42}"#,
        r#"{"html_error": 1000}"#,
        r#"{"times": 0}"#,
        r#"{"unknown_field": true}"#,
        r#"[{"status": 503}, {"status": -1}]"#,
        r#"{"times": 99999999999999999999}"#,
    ] {
        let reply = client.post_json("/_emulator/faults", body).await;
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(reply.json()["error"], "invalid_request", "{body}");
    }
    assert_eq!(
        client.get("/_emulator/faults").await.json(),
        serde_json::json!([])
    );
    assert_eq!(
        client
            .post_form(&token_path(DEFAULT_TENANT_ID), &form())
            .await
            .status,
        200
    );
}

//! Concurrency, keep-alive, hostile input and shutdown.

mod common;

use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, Emulator, Fault,
};
use bytes::Bytes;
use common::{Client, token_path};
use http::Method;

const SCOPE: &str = "https://management.azure.com/.default";

fn form() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_secret", DEFAULT_CLIENT_SECRET),
        ("grant_type", "client_credentials"),
        ("scope", SCOPE),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_parallel_connections_are_all_answered() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let client = client.clone();
        tasks.spawn(async move {
            client
                .post_form(&token_path(DEFAULT_TENANT_ID), &form())
                .await
        });
    }
    let mut tokens = std::collections::HashSet::new();
    while let Some(result) = tasks.join_next().await {
        let reply = result.expect("task");
        assert_eq!(reply.status, 200, "{}", reply.text());
        tokens.insert(
            reply.json()["access_token"]
                .as_str()
                .expect("token")
                .to_owned(),
        );
    }
    assert_eq!(tokens.len(), 200);
    let stats = emulator.stats();
    assert_eq!(stats.token_requests, 200);
    assert_eq!(stats.tokens_issued, 200);
    assert_eq!(emulator.requests().len(), 200);
}

#[tokio::test]
async fn keep_alive_serves_many_requests_on_one_connection() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    let mut connection = client.connect().await.expect("connects");
    let body = common::encode_form(&form());
    for _ in 0..5 {
        let reply = connection
            .send(
                Method::POST,
                &token_path(DEFAULT_TENANT_ID),
                &[("content-type", "application/x-www-form-urlencoded")],
                body.clone(),
            )
            .await
            .expect("answered on the same connection");
        assert_eq!(reply.status, 200);
    }
    let reply = connection
        .send(Method::GET, "/nowhere", &[], Bytes::new())
        .await
        .expect("errors do not close the connection");
    assert_eq!(reply.status, 404);
    let reply = connection
        .send(Method::GET, "/_emulator/stats", &[], Bytes::new())
        .await
        .expect("answered");
    assert_eq!(reply.json()["tokens_issued"], 5);
}

#[tokio::test]
async fn a_huge_body_is_refused_with_413() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    let mut huge = common::encode_form(&form());
    huge.push_str("&padding=");
    huge.push_str(&"a".repeat(2 * 1024 * 1024));
    let reply = client
        .send(
            Method::POST,
            &token_path(DEFAULT_TENANT_ID),
            &[("content-type", "application/x-www-form-urlencoded")],
            huge,
        )
        .await
        .expect("answered");
    assert_eq!(reply.status, 413);
    assert_eq!(emulator.stats().tokens_issued, 0);
    assert_eq!(emulator.stats().errors_returned, 1);

    let reply = client
        .send(
            Method::POST,
            "/_emulator/faults",
            &[("content-type", "application/json")],
            vec![b' '; 2 * 1024 * 1024],
        )
        .await
        .expect("answered");
    assert_eq!(reply.status, 413);

    let reply = client
        .post_form(&token_path(DEFAULT_TENANT_ID), &form())
        .await;
    assert_eq!(reply.status, 200, "still serving");
}

#[tokio::test]
async fn garbage_never_takes_the_server_down() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);

    // Not HTTP at all, inside TLS: hyper answers 400 or closes.
    let answer = client.raw(b"\x00\x01\x02 hello there\r\n\r\n").await;
    let text = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || text.starts_with("HTTP/1.1 400"),
        "{text}"
    );

    // A truncated request: the client leaves before the body is complete.
    let answer = client
        .raw(b"POST /t/oauth2/v2.0/token HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc")
        .await;
    assert!(answer.is_empty() || answer.starts_with(b"HTTP/1.1"));

    // Not TLS at all on the TLS port.
    {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", emulator.port()))
            .await
            .expect("connects");
        tcp.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .expect("write");
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(common::EXCHANGE_TIMEOUT, tcp.read_to_end(&mut sink)).await;
    }

    // Odd but valid HTTP: weird methods, encoded paths, long queries, odd headers.
    for (method, path) in [
        (Method::PUT, token_path(DEFAULT_TENANT_ID)),
        (Method::DELETE, "/_emulator/requests".to_owned()),
        (Method::OPTIONS, "/common/discovery/instance".to_owned()),
        (
            Method::GET,
            "/%00/%ff/v2.0/.well-known/openid-configuration".to_owned(),
        ),
        (
            Method::GET,
            format!("/common/discovery/instance?{}", "a=%zz&".repeat(2000)),
        ),
        (Method::PATCH, "/_emulator/faults".to_owned()),
    ] {
        let reply = client
            .send(
                method.clone(),
                &path,
                &[
                    (
                        "content-type",
                        "application/x-www-form-urlencoded; charset=\"\";;;==",
                    ),
                    ("authorization", "Basic %%%"),
                    ("client-request-id", ""),
                ],
                Bytes::from_static(b"\xff\xff"),
            )
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert!(reply.status >= 400, "{method} {path}: {}", reply.status);
    }

    // Chunked upload of a form, without a content-length.
    let mut connection = client.connect().await.expect("connects");
    let reply = connection
        .send(
            Method::POST,
            &token_path(DEFAULT_TENANT_ID),
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("transfer-encoding", "chunked"),
            ],
            common::encode_form(&form()),
        )
        .await
        .expect("answered");
    assert_eq!(reply.status, 200, "{}", reply.text());

    let reply = client
        .post_form(&token_path(DEFAULT_TENANT_ID), &form())
        .await;
    assert_eq!(reply.status, 200, "still serving after all that");
}

#[tokio::test]
async fn shutdown_stops_accepting_and_closes_connections() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    let mut connection = client.connect().await.expect("connects");
    assert_eq!(
        connection
            .send(Method::GET, "/_emulator/stats", &[], Bytes::new())
            .await
            .expect("answered")
            .status,
        200
    );
    emulator.add_fault(Fault::any().status(500, ""));
    emulator.shutdown().await;
    assert!(client.connect().await.is_err(), "no longer accepting");
    assert!(
        connection
            .send(Method::GET, "/_emulator/stats", &[], Bytes::new())
            .await
            .is_err(),
        "open keep-alive connections are closed"
    );
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let client = Client::new(&emulator);
    drop(emulator);
    // The abort lands when the runtime next polls the server task; yield until it has.
    for _ in 0..100 {
        if client.connect().await.is_err() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("still accepting after drop");
}

#[tokio::test]
async fn a_fixed_port_can_be_chosen() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
    let port = probe.local_addr().expect("addr").port();
    drop(probe);
    let emulator = Emulator::builder()
        .port(port)
        .start()
        .await
        .expect("starts");
    assert_eq!(emulator.port(), port);
    assert_eq!(
        emulator.authority_host(),
        format!("https://127.0.0.1:{port}")
    );
    let second = Emulator::builder().port(port).start().await;
    assert!(second.is_err(), "the port is taken");
}

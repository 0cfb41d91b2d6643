//! The managed identity hosts and federated credentials at the protocol level, with a bare
//! HTTP/1.1 client: what each host demands and answers, independent of any SDK.

mod common;

use std::time::Duration;

use azidentity_emulator::{
    ArcKeyDir, DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID, Emulator, Fault, HostKind, KUBERNETES_ISSUER,
    KUBERNETES_SUBJECT, ManagedIdentityEndpoint, ManagedIdentityHost, RunningEmulator,
    SYSTEM_ASSIGNED_CLIENT_ID, SYSTEM_ASSIGNED_OBJECT_ID, USER_ASSIGNED_CLIENT_ID,
};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One plain-HTTP exchange with `Connection: close`.
async fn http(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .expect("answered in time")
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

async fn host(emu: &RunningEmulator, kind: HostKind) -> ManagedIdentityEndpoint {
    emu.start_managed_identity(ManagedIdentityHost::new(kind))
        .await
        .unwrap()
}

const IMDS: &str = "/metadata/identity/oauth2/token";

#[tokio::test]
async fn imds_demands_metadata_and_a_resource() {
    let emu = Emulator::builder().start().await.unwrap();
    let imds = host(&emu, HostKind::Imds).await;
    let port = imds.port().unwrap();
    assert_eq!(
        imds.var("AZURE_POD_IDENTITY_AUTHORITY_HOST"),
        Some(format!("http://127.0.0.1:{port}").as_str())
    );
    let ok = format!("{IMDS}?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net");
    let a = http(port, "GET", &ok, &[], "").await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.json()["error_description"],
        "Required metadata header not specified"
    );
    let a = http(port, "GET", &ok, &[("Metadata", "true")], "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let body = a.json();
    assert!(
        body["expires_in"].is_string(),
        "IMDS sends numbers as strings"
    );
    let claims = emu
        .verify_token(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["aud"], "https://vault.azure.net");
    let scope =
        format!("{IMDS}?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net%2F.default");
    let a = http(port, "GET", &scope, &[("Metadata", "true")], "").await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("AADSTS500011"), "{}", a.body);
    let two = format!("{ok}&client_id={USER_ASSIGNED_CLIENT_ID}&object_id=x");
    assert_eq!(
        http(port, "GET", &two, &[("Metadata", "true")], "")
            .await
            .status,
        400
    );
    // msal-node normalises AZURE_POD_IDENTITY_AUTHORITY_HOST + path into a URL ending in `/`;
    // IMDS answers that path too.
    let slash = format!("{IMDS}/?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net");
    let a = http(port, "GET", &slash, &[("Metadata", "true")], "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let elsewhere = format!("{IMDS}/x?api-version=2018-02-01&resource=https%3A%2F%2Fx");
    let a = http(port, "GET", &elsewhere, &[("Metadata", "true")], "").await;
    assert_eq!(a.status, 404);
    assert_eq!(emu.stats().token_requests, 6);
    assert_eq!(emu.stats().tokens_issued, 2);
}

#[tokio::test]
async fn faults_apply_to_managed_identity_hosts() {
    let emu = Emulator::builder().start().await.unwrap();
    let imds = host(&emu, HostKind::Imds).await;
    let port = imds.port().unwrap();
    emu.add_fault(Fault::on_path(IMDS).status(410, "{}").retry_after(3));
    let target = format!("{IMDS}?api-version=2018-02-01&resource=https%3A%2F%2Fx");
    let a = http(port, "GET", &target, &[("Metadata", "true")], "").await;
    assert_eq!(a.status, 410);
    assert_eq!(a.header("retry-after"), Some("3"));
    assert_eq!(emu.stats().faults_applied, 1);
    assert_eq!(
        http(port, "GET", &target, &[("Metadata", "true")], "")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn app_service_and_azure_ml_check_their_secret_header() {
    let emu = Emulator::builder().start().await.unwrap();
    let app = host(&emu, HostKind::AppService).await;
    let secret = app.secret().unwrap();
    let target = "/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fx";
    let a = http(app.port().unwrap(), "GET", target, &[], "").await;
    assert_eq!(a.status, 401);
    assert!(!a.body.contains(secret));
    let a = http(
        app.port().unwrap(),
        "GET",
        target,
        &[("X-IDENTITY-HEADER", secret)],
        "",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.json()["expires_on"].is_string());

    let ml = host(&emu, HostKind::AzureMl).await;
    let target = "/msi/token?api-version=2017-09-01&resource=https%3A%2F%2Fx";
    let a = http(
        ml.port().unwrap(),
        "GET",
        target,
        &[("secret", ml.secret().unwrap())],
        "",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let expires_on = a.json()["expires_on"].as_str().unwrap().to_owned();
    assert!(
        expires_on.parse::<i64>().is_ok(),
        "epoch seconds, which msal-node needs: {expires_on}"
    );
    // Azure ML always names its identity, and msal-node asks for the system-assigned one by
    // that client id.
    let default_id = ml.var("DEFAULT_IDENTITY_CLIENT_ID").unwrap();
    assert_eq!(default_id, SYSTEM_ASSIGNED_CLIENT_ID);
    let by_id = format!("{target}&clientid={default_id}");
    let a = http(
        ml.port().unwrap(),
        "GET",
        &by_id,
        &[("secret", ml.secret().unwrap())],
        "",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let claims = emu
        .verify_token(a.json()["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["oid"], SYSTEM_ASSIGNED_OBJECT_ID);
}

#[tokio::test]
async fn azure_arc_keys_are_in_the_challenge_and_single_use() {
    let emu = Emulator::builder().start().await.unwrap();
    let arc = host(&emu, HostKind::AzureArc).await;
    let port = arc.port().unwrap();
    let target = format!("{IMDS}?api-version=2020-06-01&resource=https%3A%2F%2Fx");
    let a = http(port, "GET", &target, &[("Metadata", "true")], "").await;
    assert_eq!(a.status, 401);
    let realm = a
        .header("www-authenticate")
        .and_then(|v| v.strip_prefix("Basic realm="))
        .expect("a Basic challenge");
    assert!(realm.starts_with(&arc.arc_key_dir().unwrap().display().to_string()));
    assert!(realm.ends_with(".key"));
    let key = std::fs::read_to_string(realm).unwrap();
    let auth = format!("Basic {key}");
    let headers = [("Metadata", "true"), ("Authorization", auth.as_str())];
    assert_eq!(http(port, "GET", &target, &headers, "").await.status, 200);
    assert_eq!(
        http(port, "GET", &target, &headers, "").await.status,
        401,
        "keys work once"
    );
}

#[tokio::test]
async fn service_fabric_serves_https_with_the_printed_thumbprint() {
    let emu = Emulator::builder().start().await.unwrap();
    let sf = host(&emu, HostKind::ServiceFabric).await;
    let thumbprint = sf.thumbprint().unwrap();
    assert_eq!(thumbprint.len(), 40);
    assert_eq!(sf.var("IDENTITY_SERVER_THUMBPRINT"), Some(thumbprint));
    assert!(
        sf.var("IDENTITY_ENDPOINT")
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    // Plain HTTP on the TLS port gets no HTTP answer.
    let a = http(sf.port().unwrap(), "GET", IMDS, &[], "").await;
    assert_eq!(a.status, 0);
    // The certificate chains to the emulator's CA, for clients that do not pin it (msal-node).
    let client = common::Client::from_parts(emu.ca_pem(), sf.port().unwrap());
    let target = format!("{IMDS}?api-version=2019-07-01-preview&resource=https%3A%2F%2Fx");
    let secret = sf.secret().unwrap();
    let a = client
        .send(
            http::Method::GET,
            &target,
            &[("secret", secret)],
            bytes::Bytes::new(),
        )
        .await
        .expect("TLS with the emulator's CA");
    assert_eq!(a.status, 200, "{}", a.text());
}

/// Microsoft's clients read Arc keys only from the agent's directory; a host asked to use it
/// writes there when the process may (root, as in CI), and cleans up after itself.
#[tokio::test]
async fn azure_arc_writes_keys_to_the_agent_directory_when_it_may() {
    let agent = ArcKeyDir::agent_directory().expect("Linux has an agent directory");
    let existed = agent.exists();
    let emu = Emulator::builder().start().await.unwrap();
    let arc = emu
        .start_managed_identity(
            ManagedIdentityHost::new(HostKind::AzureArc).arc_key_dir(ArcKeyDir::Agent),
        )
        .await
        .unwrap();
    let dir = arc.arc_key_dir().unwrap().to_path_buf();
    let writable = std::fs::create_dir_all(&agent).is_ok()
        && std::fs::write(agent.join(".probe-from-test"), b"").is_ok();
    let _ = std::fs::remove_file(agent.join(".probe-from-test"));
    if writable {
        assert_eq!(dir, agent);
    } else {
        assert_ne!(
            dir, agent,
            "a private directory when the agent's is not writable"
        );
    }
    let target = format!("{IMDS}?api-version=2020-06-01&resource=https%3A%2F%2Fx");
    let port = arc.port().unwrap();
    let a = http(port, "GET", &target, &[("Metadata", "true")], "").await;
    let realm = a
        .header("www-authenticate")
        .and_then(|v| v.strip_prefix("Basic realm="))
        .expect("a Basic challenge")
        .to_owned();
    assert_eq!(
        std::path::Path::new(&realm).parent(),
        Some(dir.as_path()),
        "{realm}"
    );
    // An outstanding key's file goes when the host stops, and so do directories it made.
    drop(arc);
    assert!(!std::path::Path::new(&realm).exists());
    if !existed {
        assert!(!agent.exists(), "{} was left behind", agent.display());
    }
}

#[tokio::test]
async fn federated_assertions_are_checked_like_entra() {
    let emu = Emulator::builder().start().await.unwrap();
    let client = common::Client::new(&emu);
    let token_path = format!("/{DEFAULT_TENANT_ID}/oauth2/v2.0/token");
    let jwt_bearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    let send = |assertion: String| {
        let client = client.clone();
        let path = token_path.clone();
        async move {
            client
                .post_form(
                    &path,
                    &[
                        ("grant_type", "client_credentials"),
                        ("client_id", DEFAULT_CLIENT_ID),
                        ("scope", "https://management.azure.com/.default"),
                        ("client_assertion_type", jwt_bearer),
                        ("client_assertion", &assertion),
                    ],
                )
                .await
        }
    };
    let good = emu.issue_federated_token(
        KUBERNETES_ISSUER,
        KUBERNETES_SUBJECT,
        Duration::from_secs(600),
    );
    let reply = send(good.clone()).await;
    assert_eq!(reply.aadsts(), 70021, "no federated credential yet");
    emu.add_federated_credential(DEFAULT_CLIENT_ID, KUBERNETES_ISSUER, KUBERNETES_SUBJECT);
    let reply = send(good.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let expired = emu.issue_federated_token(KUBERNETES_ISSUER, KUBERNETES_SUBJECT, Duration::ZERO);
    assert_eq!(send(expired).await.aadsts(), 700024);
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(send(tampered).await.aadsts(), 50027);
    let other_subject = emu.issue_federated_token(
        KUBERNETES_ISSUER,
        "system:serviceaccount:x:y",
        Duration::from_secs(60),
    );
    let reply = send(other_subject).await;
    assert_eq!(reply.aadsts(), 70021);
    assert!(reply.text().contains("system:serviceaccount:x:y"));
}

/// Azure DevOps serves the OIDC endpoint over HTTPS (Microsoft's JavaScript client refuses
/// http), so the emulator's does too, under the emulator's CA.
#[tokio::test]
async fn azure_pipelines_oidc_endpoint() {
    let emu = Emulator::builder().start().await.unwrap();
    let pipeline = host(&emu, HostKind::AzurePipelines).await;
    let uri = pipeline.var("SYSTEM_OIDCREQUESTURI").unwrap();
    let port = pipeline.port().unwrap();
    let prefix = format!("https://127.0.0.1:{port}/");
    let path = uri
        .strip_prefix(&prefix)
        .expect("an https URL on the host's port");
    let connection = pipeline
        .var("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID")
        .unwrap();
    let target = format!("/{path}?api-version=7.1&serviceConnectionId={connection}");
    let bearer = format!("Bearer {}", pipeline.secret().unwrap());
    let client = common::Client::from_parts(emu.ca_pem(), port);
    let post = async |authorization: &str| {
        client
            .send(
                http::Method::POST,
                &target,
                &[
                    ("authorization", authorization),
                    ("content-type", "application/json"),
                ],
                bytes::Bytes::new(),
            )
            .await
            .unwrap()
    };
    let a = post(&bearer).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let claims = emu
        .verify_token(a.json()["oidcToken"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["aud"][0], "api://AzureADTokenExchange");
    assert!(claims["sub"].as_str().unwrap().starts_with("sc://"));
    assert_eq!(post("Bearer nope").await.status, 401);
    // Plain HTTP on the TLS port gets no HTTP answer.
    assert_eq!(http(port, "POST", &target, &[], "").await.status, 0);
}

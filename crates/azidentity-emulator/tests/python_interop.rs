//! Microsoft's own Python azure-identity 1.27.0 against the emulator: the real client is the
//! judge of the emulator's fidelity.
//!
//! Needs `AZIDENTITY_PYTHON`, a Python with `azure-identity==1.27.0` and `aiohttp` installed
//! (`scripts/test` creates it). Without it these tests fail on purpose rather than skip, so a
//! missing interpreter cannot pass unnoticed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, Emulator, Fault, RecordedRequest,
    RunningEmulator,
};
use serde_json::Value;

/// Python start-up plus a few HTTPS round trips; generous so a slow CI machine is not a
/// failure, bounded so a hung client is.
const PYTHON_TIMEOUT: Duration = Duration::from_secs(180);

const SCOPE: &str = "https://management.azure.com/.default";

fn python() -> PathBuf {
    match std::env::var_os("AZIDENTITY_PYTHON") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "set AZIDENTITY_PYTHON to a Python with azure-identity==1.27.0 (scripts/test does this)"
        ),
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/client_secret.py")
}

/// Runs the script with an environment built from scratch: the emulator's exports, no
/// proxies, nothing inherited that could send a request elsewhere.
async fn run_python(
    emulator: &RunningEmulator,
    mode: &str,
    overrides: &[(&str, &str)],
) -> Vec<Value> {
    let mut command = tokio::process::Command::new(python());
    command
        .arg(script())
        .arg(mode)
        .arg(SCOPE)
        .env_clear()
        .envs(emulator.env_exports())
        .env("NO_PROXY", "*")
        .env("no_proxy", "*")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .kill_on_drop(true);
    for name in ["PATH", "HOME", "LANG", "SYSTEMROOT"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    for (name, value) in overrides {
        command.env(name, value);
    }
    let output = tokio::time::timeout(PYTHON_TIMEOUT, command.output())
        .await
        .expect("Python finished within the timeout")
        .unwrap_or_else(|e| panic!("could not run {}: {e}", python().display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "Python failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("bad line {line:?} ({e}); stderr:\n{stderr}"))
        })
        .collect()
}

fn only_result<'a>(results: &'a [Value], stack: &str) -> &'a Value {
    let matching: Vec<&Value> = results.iter().filter(|r| r["stack"] == stack).collect();
    assert_eq!(matching.len(), 1, "one {stack} result in {results:?}");
    matching[0]
}

fn assert_token(emulator: &RunningEmulator, result: &Value) {
    assert_eq!(result["ok"], true, "{result}");
    let claims = emulator
        .verify_token(result["token"].as_str().expect("token"))
        .expect("the token Python got verifies");
    assert_eq!(claims["aud"], "https://management.azure.com");
    assert_eq!(claims["appid"], DEFAULT_CLIENT_ID);
    assert_eq!(claims["tid"], DEFAULT_TENANT_ID);
    // Clients compute expires_on from their own clock when the request was sent (before any
    // retries); it must agree with the token's exp up to that delay.
    let expires_on = result["expires_on"].as_i64().expect("expires_on");
    let exp = claims["exp"].as_i64().expect("exp");
    assert!(
        (exp - expires_on).abs() <= 120,
        "expires_on {expires_on} vs exp {exp}"
    );
}

fn assert_python_user_agent(request: &RecordedRequest) {
    let agent = request.header("user-agent").unwrap_or_default();
    assert!(
        agent.starts_with("azsdk-python-identity/1.27.0 "),
        "user-agent {agent:?}"
    );
    assert!(request.header("x-ms-client-request-id").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_client_secret_credential_uses_msal() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let results = run_python(&emulator, "sync", &[]).await;
    assert_token(&emulator, only_result(&results, "sync"));

    let requests = emulator.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            format!("/{DEFAULT_TENANT_ID}/v2.0/.well-known/openid-configuration").as_str(),
            format!("/{DEFAULT_TENANT_ID}/oauth2/v2.0/token").as_str(),
        ],
        "MSAL discovers the tenant's metadata, then asks for a token; no instance discovery"
    );
    let token = &requests[1];
    assert_eq!(token.method, "POST");
    assert_python_user_agent(token);
    assert_eq!(token.header("x-client-sku"), Some("MSAL.Python"));
    assert!(token.header("x-client-ver").is_some());
    assert!(token.header("client-request-id").is_some());
    assert_eq!(
        token.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(token.form_value("grant_type"), Some("client_credentials"));
    assert_eq!(token.form_value("client_id"), Some(DEFAULT_CLIENT_ID));
    assert_eq!(
        token.form_value("client_secret"),
        Some(DEFAULT_CLIENT_SECRET)
    );
    assert_eq!(token.form_value("scope"), Some(SCOPE));
    assert_eq!(token.form_value("client_info"), Some("1"));
    let stats = emulator.stats();
    assert_eq!((stats.tokens_issued, stats.errors_returned), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_client_secret_credential_posts_directly() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let results = run_python(&emulator, "async", &[]).await;
    assert_token(&emulator, only_result(&results, "async"));

    let requests = emulator.requests();
    assert_eq!(
        requests.len(),
        1,
        "no discovery on the AadClient path: {requests:?}"
    );
    let token = &requests[0];
    assert_eq!(
        token.path,
        format!("/{DEFAULT_TENANT_ID}/oauth2/v2.0/token")
    );
    assert_python_user_agent(token);
    assert_eq!(token.header("x-client-sku"), None);
    assert_eq!(token.form_value("client_info"), None);
    assert_eq!(token.form_value("grant_type"), Some("client_credentials"));
    assert_eq!(token.form_value("client_id"), Some(DEFAULT_CLIENT_ID));
    assert_eq!(
        token.form_value("client_secret"),
        Some(DEFAULT_CLIENT_SECRET)
    );
    assert_eq!(token.form_value("scope"), Some(SCOPE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_a_client_authentication_error_with_aadsts7000215() {
    let emulator = Emulator::builder().start().await.expect("starts");
    let results = run_python(
        &emulator,
        "both",
        &[("AZURE_CLIENT_SECRET", "not-the-secret")],
    )
    .await;
    for stack in ["sync", "async"] {
        let result = only_result(&results, stack);
        assert_eq!(result["ok"], false, "{result}");
        assert_eq!(
            result["error_type"], "ClientAuthenticationError",
            "{result}"
        );
        let message = result["message"].as_str().expect("message");
        assert!(message.contains("AADSTS7000215"), "{stack}: {message}");
    }
    let token_requests = emulator.token_requests();
    assert_eq!(
        token_requests.len(),
        2,
        "a 401 is not retried by either stack"
    );
    assert!(
        token_requests
            .iter()
            .all(|r| r.form_value("client_secret") == Some("not-the-secret"))
    );
    assert_eq!(emulator.stats().errors_returned, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_stacks_retry_a_503_with_retry_after() {
    let emulator = Emulator::builder().start().await.expect("starts");
    emulator.add_fault(
        Fault::on_path("/oauth2/v2.0/token")
            .times(2)
            .status(503, r#"{"error":"temporarily_unavailable"}"#)
            .retry_after(0),
    );
    let results = run_python(&emulator, "both", &[]).await;
    assert_token(&emulator, only_result(&results, "sync"));
    assert_token(&emulator, only_result(&results, "async"));
    let stats = emulator.stats();
    assert_eq!(stats.faults_applied, 2);
    assert_eq!(stats.tokens_issued, 2);
    assert!(
        stats.token_requests >= 3,
        "the faulted attempts were retried: {stats:?}"
    );
}

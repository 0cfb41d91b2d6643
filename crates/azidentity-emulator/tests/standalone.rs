//! The `azidentity-emulator` binary as a real process (the launcher `azid emulator` shares):
//! the printed environment and the ready file, a configuration file that Microsoft's Python
//! azure-identity uses, a state directory kept across a restart, a managed identity host's
//! environment, and a clean exit on SIGTERM and SIGINT that leaves no file behind.

#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use azidentity_emulator::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID};
use common::{Launched, Scratch, call_resource, token_path};
use serde_json::Value;

const PYTHON_TIMEOUT: Duration = Duration::from_secs(180);

/// The names of the `export` lines, checking every other line is a comment.
fn exported_names(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            line.strip_prefix("export ")
                .and_then(|rest| rest.split_once('='))
                .map(|(name, _)| name.to_owned())
                .unwrap_or_else(|| panic!("not an export line: {line:?}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_file_exports_and_sigterm() {
    let scratch = Scratch::new();
    let emulator = Launched::start(&scratch, "plain", &[]).await;
    assert_eq!(
        emulator.ready["authority_host"],
        format!("https://127.0.0.1:{}", emulator.port())
    );
    let ca_path = emulator.ca_path();
    assert_eq!(emulator.env("SSL_CERT_FILE"), ca_path.to_str());
    assert_eq!(emulator.env("NODE_EXTRA_CA_CERTS"), ca_path.to_str());
    assert_eq!(emulator.env("AZURE_CLIENT_ID"), Some(DEFAULT_CLIENT_ID));
    let registered = &emulator.ready["registered"];
    assert!(registered["applications"].as_array().unwrap().len() >= 2);
    assert!(
        !registered.to_string().contains(DEFAULT_CLIENT_SECRET),
        "no secret in the listing"
    );

    let client = emulator.client();
    let reply = client
        .post_form(
            &token_path(DEFAULT_TENANT_ID),
            &[
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("grant_type", "client_credentials"),
                ("scope", "https://management.azure.com/.default"),
            ],
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        client.get("/_emulator/stats").await.json()["tokens_issued"],
        1
    );
    // The command line masks recorded credentials by default.
    let recorded = client.get("/_emulator/requests").await.text();
    assert!(!recorded.contains(DEFAULT_CLIENT_SECRET), "{recorded}");
    assert!(recorded.contains("***"));

    let (stdout, _) = emulator.stop("TERM").await;
    assert_eq!(
        exported_names(&stdout),
        [
            "AZURE_AUTHORITY_HOST",
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "SSL_CERT_FILE",
            "REQUESTS_CA_BUNDLE",
            "NODE_EXTRA_CA_CERTS"
        ]
    );
    assert!(stdout.contains(&format!("export SSL_CERT_FILE='{}'", ca_path.display())));
    assert!(stdout.contains("# Registered applications:"), "{stdout}");
    assert!(!ca_path.exists(), "the CA is removed on exit");
}

/// A supervisor that stops the emulator the moment it prints its environment (the readiness
/// line) gets a clean exit: the handlers are in place before anything is printed. (The window
/// this guards was narrow, the time it took to write the ready file: three tries.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_the_moment_it_prints_stops_it_cleanly() {
    use tokio::io::AsyncBufReadExt as _;
    let scratch = Scratch::new();
    for attempt in 0..3 {
        let ready_file = scratch.path(&format!("ready-{attempt}.json"));
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_azidentity-emulator"))
            .arg("--ready-file")
            .arg(&ready_file)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary starts");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("prints in time")
            .unwrap();
        assert!(first.is_some_and(|l| l.starts_with('#')));
        let pid = child.id().expect("running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .expect("exits in time")
            .unwrap();
        assert!(status.success(), "attempt {attempt}: {status}");
        assert!(
            !ready_file.exists(),
            "attempt {attempt}: the ready file stays"
        );
    }
}

/// SIGINT as well as SIGTERM stops the emulator cleanly, and a managed identity host's files
/// go with it; with a host, only its variables, the authority and the CA are printed (no
/// service principal AZURE_CLIENT_ID that would select a user-assigned identity).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_identity_environment_and_sigint() {
    let scratch = Scratch::new();
    let workload = Launched::start(
        &scratch,
        "workload",
        &[
            "--managed-identity",
            "workload-identity",
            "--record-credentials",
        ],
    )
    .await;
    let token_file = PathBuf::from(
        workload
            .env("AZURE_FEDERATED_TOKEN_FILE")
            .expect("token file"),
    );
    assert!(token_file.exists());
    let ca_path = workload.ca_path();
    let (stdout, _) = workload.stop("INT").await;
    assert!(!token_file.exists(), "the token file is removed on SIGINT");
    assert!(!ca_path.exists(), "the CA is removed on SIGINT");
    let names = exported_names(&stdout);
    assert!(
        names.contains(&"AZURE_FEDERATED_TOKEN_FILE".to_owned()),
        "{names:?}"
    );

    let arc_dir = scratch.path("arc-keys");
    let arc = Launched::start(
        &scratch,
        "arc",
        &[
            "--managed-identity",
            "azure-arc",
            "--arc-key-dir",
            arc_dir.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(
        arc.ready["managed_identity"]["arc_key_dir"],
        arc_dir.to_str().unwrap()
    );
    assert!(arc.env("AZURE_CLIENT_ID").is_none());
    assert!(arc.env("IDENTITY_ENDPOINT").is_some());
    assert!(arc.env("NODE_EXTRA_CA_CERTS").is_some());
    let (stdout, _) = arc.stop("TERM").await;
    assert_eq!(
        exported_names(&stdout),
        [
            "AZURE_AUTHORITY_HOST",
            "SSL_CERT_FILE",
            "REQUESTS_CA_BUNDLE",
            "NODE_EXTRA_CA_CERTS",
            "IDENTITY_ENDPOINT",
            "IMDS_ENDPOINT"
        ]
    );
    assert!(
        !arc_dir.exists(),
        "the key directory the host made is removed"
    );
}

/// With `--state-dir`, a restarted emulator serves the same CA file and JWKS, so clients can
/// pin the CA and a token from before the restart still verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_directory_keeps_the_ca_and_keys_across_restarts() {
    let scratch = Scratch::new();
    let state = scratch.path("state");
    let state_arg = state.to_str().unwrap().to_owned();
    let jwks_path = format!("/{DEFAULT_TENANT_ID}/discovery/v2.0/keys");
    let first = Launched::start(&scratch, "first", &["--state-dir", &state_arg]).await;
    assert_eq!(first.ca_path(), state.join("ca.pem"));
    let ca_before = std::fs::read(first.ca_path()).expect("CA");
    let client = first.client();
    let jwks_before = client.get(&jwks_path).await.json();
    let token = client
        .post_form(
            &token_path(DEFAULT_TENANT_ID),
            &[
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("grant_type", "client_credentials"),
                ("scope", "https://vault.azure.net/.default"),
            ],
        )
        .await
        .json()["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let first_port = first.port();
    first.stop("TERM").await;
    assert!(state.join("ca.pem").exists(), "the state directory stays");

    // The same port, so the authority in the JWKS's issuer is the same too.
    let port = first_port.to_string();
    let second = Launched::start(
        &scratch,
        "second",
        &["--state-dir", &state_arg, "--port", &port],
    )
    .await;
    assert_eq!(std::fs::read(second.ca_path()).expect("CA"), ca_before);
    let client = second.client();
    assert_eq!(client.get(&jwks_path).await.json(), jwks_before);
    let checked = call_resource(&client, &token).await;
    assert_eq!(
        checked.status,
        200,
        "the old token verifies: {}",
        checked.text()
    );
    second.stop("TERM").await;
}

fn python() -> PathBuf {
    match std::env::var_os("AZIDENTITY_PYTHON") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "set AZIDENTITY_PYTHON to a Python with azure-identity==1.27.0 (scripts/test does this)"
        ),
    }
}

/// A configuration file with its own tenant, app and secret: `--config` registers them, the
/// printed environment names them, and Microsoft's Python azure-identity gets a token for
/// that app with nothing but that environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_file_serves_python_azure_identity() {
    const TENANT: &str = "3f1c2b4a-5d6e-4f70-8192-a3b4c5d6e7f8";
    const APP: &str = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";
    const SECRET: &str = "config-file-secret-7c1e";
    let scratch = Scratch::new();
    let config = scratch.path("emulator.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "defaults": false,
            "tenants": [TENANT],
            "applications": [{
                "client_id": APP,
                "tenant": TENANT,
                "display_name": "orders-api",
                "secrets": [SECRET]
            }],
            "token_lifetime_secs": 1800
        })
        .to_string(),
    )
    .expect("config");
    let emulator =
        Launched::start(&scratch, "config", &["--config", config.to_str().unwrap()]).await;
    assert_eq!(emulator.env("AZURE_TENANT_ID"), Some(TENANT));
    assert_eq!(emulator.env("AZURE_CLIENT_ID"), Some(APP));
    assert_eq!(emulator.env("AZURE_CLIENT_SECRET"), Some(SECRET));

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/client_secret.py");
    let mut command = tokio::process::Command::new(python());
    command
        .arg(script)
        .arg("both")
        .arg("https://vault.azure.net/.default")
        .env_clear()
        .env("NO_PROXY", "*")
        .env("no_proxy", "*")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .kill_on_drop(true);
    for (name, value) in emulator.ready["env"].as_object().expect("env") {
        command.env(name, value.as_str().expect("a string"));
    }
    for name in ["PATH", "HOME", "LANG"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    let output = tokio::time::timeout(PYTHON_TIMEOUT, command.output())
        .await
        .expect("Python finished in time")
        .expect("Python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let client = emulator.client();
    let results: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(results.len(), 2, "{stdout}");
    for result in &results {
        assert_eq!(result["ok"], true, "{result}");
        let claims = call_resource(&client, result["token"].as_str().unwrap())
            .await
            .json();
        assert_eq!(claims["appid"], APP, "{result}");
        assert_eq!(claims["tid"], TENANT);
        assert_eq!(claims["app_displayname"], "orders-api");
        let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
        assert_eq!(
            lifetime,
            1800 + 300,
            "the file's token lifetime (iat is backdated)"
        );
    }
    emulator.stop("TERM").await;
}

/// Bound to loopback, the emulator serves without the warning a wider bind gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_without_a_warning() {
    // Tests bind loopback only: the warning for a wider bind is the unit test
    // cli::tests::listening_beyond_loopback_is_warned_about.
    let scratch = Scratch::new();
    let emulator = Launched::start(&scratch, "loopback", &["--bind", "127.0.0.1"]).await;
    let client = emulator.client();
    assert_eq!(client.get("/_emulator/stats").await.status, 200);
    let (_, stderr) = emulator.stop("TERM").await;
    assert!(!stderr.contains("WARNING"), "{stderr}");
}

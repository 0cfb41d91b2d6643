//! The `azidentity-emulator` binary: exports on stdout, the ready file, and a clean exit on
//! SIGTERM.

#![cfg(unix)]

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use azidentity_emulator::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID};
use common::{Client, token_path};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_file_exports_and_sigterm() {
    let dir = std::env::temp_dir().join(format!(
        "azidentity-emulator-bin-test-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ready_file: PathBuf = dir.join("ready.json");
    let _ = std::fs::remove_file(&ready_file);

    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_azidentity-emulator"))
        .arg("--ready-file")
        .arg(&ready_file)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");

    let ready: Value = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready_file) {
                break serde_json::from_str(&text).expect("the ready file is whole JSON");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("ready in time");

    let port = u16::try_from(ready["port"].as_u64().expect("port")).expect("u16");
    assert_eq!(ready["authority_host"], format!("https://127.0.0.1:{port}"));
    let ca_path = ready["ca_path"].as_str().expect("ca_path").to_owned();
    assert_eq!(ready["env"]["SSL_CERT_FILE"], ca_path.as_str());
    assert_eq!(ready["env"]["AZURE_CLIENT_ID"], DEFAULT_CLIENT_ID);
    let ca_pem = std::fs::read_to_string(&ca_path).expect("CA file");

    let client = Client::from_parts(&ca_pem, port);
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

    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let output = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("exits in time")
        .expect("output");
    assert!(output.status.success(), "exit status {}", output.status);

    let stdout = String::from_utf8_lossy(&output.stdout);
    let names: Vec<&str> = stdout
        .lines()
        .map(|line| {
            line.strip_prefix("export ")
                .and_then(|rest| rest.split_once('='))
                .map(|(name, _)| name)
                .unwrap_or_else(|| panic!("not an export line: {line:?}"))
        })
        .collect();
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
    assert!(stdout.contains(&format!("export SSL_CERT_FILE='{ca_path}'")));
    assert!(!ready_file.exists(), "the ready file is removed on exit");
    assert!(
        !PathBuf::from(&ca_path).exists(),
        "the CA is removed on exit"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

//! `azid token` as a user runs it: a separate process, environment only from the emulator.

use std::process::{Command, Output};

use azidentity_emulator::{DEFAULT_CLIENT_SECRET, Emulator, RunningEmulator};

const SCOPE: &str = "https://management.azure.com/.default";

fn azid(emu: &RunningEmulator, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_azid"))
        .args(args)
        .env_clear()
        .envs(emu.env_exports())
        .envs(env.iter().copied())
        .output()
        .expect("azid runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prints_the_token_like_az() {
    let emu = Emulator::builder().start().await.unwrap();
    let out = azid(
        &emu,
        &[],
        &["token", "--disable-instance-discovery", "--scope", SCOPE],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = json["accessToken"].as_str().unwrap();
    let claims = emu.verify_token(token).unwrap();
    assert_eq!(claims["aud"], "https://management.azure.com");
    assert_eq!(json["expires_on"], claims["exp"]);
    assert_eq!(json["tokenType"], "Bearer");
    assert!(json["credential"].as_str().unwrap().ends_with("Credential"));
    let expires = time::OffsetDateTime::parse(
        json["expiresOn"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(
        expires.unix_timestamp(),
        json["expires_on"].as_i64().unwrap()
    );

    let tsv = azid(
        &emu,
        &[],
        &[
            "token",
            "--disable-instance-discovery",
            "--scope",
            SCOPE,
            "--output",
            "tsv",
        ],
    );
    let line = String::from_utf8(tsv.stdout).unwrap();
    let fields: Vec<&str> = line.trim_end().split('\t').collect();
    assert_eq!(fields.len(), 5, "{line}");
    assert!(emu.verify_token(fields[0]).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_exit_1_with_an_actionable_message_and_no_secret() {
    let emu = Emulator::builder().start().await.unwrap();
    let out = azid(
        &emu,
        &[("AZURE_CLIENT_SECRET", "definitely-wrong-secret-41")],
        &["token", "--disable-instance-discovery", "--scope", SCOPE],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("AADSTS7000215"), "{stderr}");
    assert!(
        stderr.contains("Credential"),
        "names the credential: {stderr}"
    );
    assert!(
        stderr.contains("client secret"),
        "says what to check: {stderr}"
    );
    let everything = format!("{stderr}{}", String::from_utf8_lossy(&out.stdout));
    assert!(!everything.contains("definitely-wrong-secret-41"));
    assert!(!everything.contains(DEFAULT_CLIENT_SECRET));
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2() {
    let emu = Emulator::builder().start().await.unwrap();
    assert_eq!(azid(&emu, &[], &["token"]).status.code(), Some(2));
    assert_eq!(
        azid(&emu, &[], &["token", "--scope", SCOPE, "--output", "xml"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(azid(&emu, &[], &["no-such-command"]).status.code(), Some(2));
}

#[test]
fn demo_runs_offline_and_shows_cache_hits() {
    let out = Command::new(env!("CARGO_BIN_EXE_azid"))
        .arg("demo")
        .env_clear()
        .output()
        .expect("azid demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ClientSecretCredential"), "{stdout}");
    assert!(stdout.contains("cache"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_identity_by_client_object_or_resource_id() {
    use azidentity_emulator::{
        HostKind, ManagedIdentityHost, USER_ASSIGNED_CLIENT_ID, USER_ASSIGNED_OBJECT_ID,
        USER_ASSIGNED_RESOURCE_ID,
    };
    let emu = Emulator::builder().start().await.unwrap();
    let imds = emu
        .start_managed_identity(ManagedIdentityHost::new(HostKind::Imds))
        .await
        .unwrap();
    let env: Vec<(&str, &str)> = imds
        .env()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mi = [
        "token",
        "--credential",
        "managed-identity",
        "--scope",
        SCOPE,
    ];
    for selector in [
        ["--client-id", USER_ASSIGNED_CLIENT_ID],
        ["--object-id", USER_ASSIGNED_OBJECT_ID],
        ["--resource-id", USER_ASSIGNED_RESOURCE_ID],
    ] {
        let args: Vec<&str> = mi.iter().copied().chain(selector).collect();
        let out = azid(&emu, &env, &args);
        assert!(
            out.status.success(),
            "{selector:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let claims = emu
            .verify_token(json["accessToken"].as_str().unwrap())
            .unwrap();
        assert_eq!(claims["oid"], USER_ASSIGNED_OBJECT_ID, "{selector:?}");
        assert_eq!(json["credential"], "ManagedIdentityCredential");
    }
    // Two selectors at once is a usage error; object id without naming the credential is refused.
    let two = azid(
        &emu,
        &env,
        &[&mi[..], &["--client-id", "a", "--object-id", "b"]].concat(),
    );
    assert_eq!(two.status.code(), Some(2));
    let unnamed = azid(&emu, &env, &["token", "--scope", SCOPE, "--object-id", "b"]);
    assert_eq!(unnamed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unnamed.stderr).contains("--credential managed-identity"));
}

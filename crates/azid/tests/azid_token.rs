//! `azid token` as a user runs it: a separate process, environment only from the emulator.

use std::process::{Command, Output};

use azidentity_emulator::{DEFAULT_CLIENT_SECRET, Emulator, RunningEmulator};

const SCOPE: &str = "https://management.azure.com/.default";

mod support;

use support::leaks;

/// Runs azid with the library's TRACE logs on stderr (`--verbose`), kept on loopback, then
/// searches what it printed for secrets (`support::checked_output`).
fn azid(emu: &RunningEmulator, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_azid"));
    command
        .arg("--verbose")
        .args(args)
        .env_clear()
        .envs(emu.env_exports())
        .env("AZID_LOG", "azidentity=trace")
        .envs(env.iter().copied());
    support::checked_output(&mut command)
}

/// Nothing configured (no service principal, no tools): every member fails, the managed
/// identity one at the closed loopback port the harness gives it, never at the real IMDS
/// address (`checked_output` fails the test if anything names it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_chain_stays_on_loopback() {
    let emu = Emulator::builder().start().await.unwrap();
    let out = azid(
        &emu,
        &[("AZURE_CLIENT_ID", ""), ("AZURE_CLIENT_SECRET", "")],
        &["token", "--disable-instance-discovery", "--scope", SCOPE],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("ManagedIdentityCredential"), "{stderr}");
    assert!(stderr.contains("127.0.0.1:9"), "{stderr}");
}

/// The reader went away before the token was printed (`azid token | head -c0`): azid ends as a
/// closed pipe ends a program (141), without a panic or a message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_ends_azid_quietly() {
    let emu = Emulator::builder().start().await.unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_azid"));
    command
        .args(["token", "--disable-instance-discovery", "--scope", SCOPE])
        .env_clear()
        .envs(emu.env_exports())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    support::loopback_only(&mut command);
    support::plant_secrets_of(&command);
    let mut child = command.spawn().expect("azid starts");
    // Closed before azid can have its token: the write is what fails.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("azid ran");
    support::assert_no_leaks("azid token | head -c0", &out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(emu.token_requests().len(), 1, "the token was got first");
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
    leaks::plant("definitely-wrong-secret-41");
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
    // The cache flags' misuse is a usage error too, found before any token is asked for.
    for flags in [
        &["--allow-unencrypted-storage"][..],
        &["--cache-name", ""],
        &["--cache-name", "../elsewhere"],
        &["--redis", "not a url"],
        &["--redis", "http://127.0.0.1:9"],
        &["--redis-key-file", "/nonexistent"],
    ] {
        let stderr = exits_without_panic(&emu, flags, 2);
        assert!(
            stderr.lines().any(|line| line.starts_with("error: ")),
            "clap's usage error: {flags:?}: {stderr}"
        );
    }
    assert_eq!(emu.token_requests().len(), 0);
}

#[test]
fn demo_runs_offline_and_shows_cache_hits() {
    let out = support::checked_output(
        Command::new(env!("CARGO_BIN_EXE_azid"))
            .arg("demo")
            .env_clear(),
    );
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
    assert_eq!(unnamed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unnamed.stderr).contains("--credential managed-identity"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_flags_are_usage_errors_and_never_panic() {
    let emu = Emulator::builder().start().await.unwrap();
    for flags in [
        &["--process-timeout", "1e20"][..],
        &["--process-timeout", "NaN"],
        &["--process-timeout", "inf"],
        &["--process-timeout", "-1"],
        &["--process-timeout", "0"],
        &["--process-timeout", "1e-300"],
        &["--credential", "no-such-credential"],
        &["--exclude", "\u{1b}[2J"],
        &["--resource-id", "/subscriptions/x"],
    ] {
        exits_without_panic(&emu, flags, 2);
    }
    // Hostile values the library judges: a clear failure (exit 1), no panic.
    for flags in [
        &["--tenant", ".."][..],
        &["--tenant", "a/../b"],
        &["--authority-host", "http://login.microsoftonline.com"],
        &["--authority-host", "https://u:pw@h/x"],
        &["--scope", "a b"],
    ] {
        let stderr = exits_without_panic(&emu, flags, 1);
        assert!(!stderr.contains(":pw@"), "{stderr}");
    }
}

/// `azid token --scope … <flags>`: the exit code, nothing on stdout, no panic; its stderr.
fn exits_without_panic(emu: &RunningEmulator, flags: &[&str], code: i32) -> String {
    let args: Vec<&str> = ["token", "--scope", SCOPE]
        .into_iter()
        .chain(flags.iter().copied())
        .collect();
    let out = azid(emu, &[], &args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{flags:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{flags:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{flags:?}");
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_identity_refuses_a_client_id_on_cloud_shell() {
    use azidentity_emulator::{HostKind, ManagedIdentityHost, USER_ASSIGNED_CLIENT_ID};
    let emu = Emulator::builder().start().await.unwrap();
    let shell = emu
        .start_managed_identity(ManagedIdentityHost::new(HostKind::CloudShell))
        .await
        .unwrap();
    let env: Vec<(&str, &str)> = shell
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
    let out = azid(
        &emu,
        &env,
        &[&mi[..], &["--client-id", USER_ASSIGNED_CLIENT_ID]].concat(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("ManagedIdentityCredential"), "{stderr}");
    assert!(stderr.contains("user-assigned"), "{stderr}");
    assert!(out.stdout.is_empty());
    // Without a client id, Cloud Shell's own identity answers.
    let out = azid(&emu, &env, &mi);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fake `az` in a directory of its own, first on `PATH`.
fn fake_az(dir: &std::path::Path, script: &str) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(dir).unwrap();
    let az = dir.join("az");
    std::fs::write(&az, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("{}:/usr/bin:/bin", dir.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_az_output_never_panics_hangs_or_echoes_a_secret() {
    let emu = Emulator::builder().start().await.unwrap();
    let root = std::env::temp_dir().join(format!("azid-hostile-az-{}", std::process::id()));
    let args = [
        "token",
        "--credential",
        "az",
        "--scope",
        SCOPE,
        "--process-timeout",
        "2",
    ];
    let pid_file = root.join("grandchild.pid");
    for secret in ["leaky-az-token-4f1", "leaky-bearer-5e2"] {
        leaks::plant(secret);
    }
    let cases: Vec<(&str, String, Option<i32>, &str)> = vec![
        (
            "year 9999 west of UTC",
            r#"echo '{"accessToken":"az-token-9999-value","expiresOn":"9999-12-31 23:59:59.000000","tokenType":"Bearer"}'"#.to_owned(),
            Some(0),
            "9999-12-31",
        ),
        (
            "4 MiB of output",
            "head -c 4194304 /dev/zero | tr '\\000' a".to_owned(),
            Some(1),
            "printed more than",
        ),
        (
            "invalid UTF-8 around a token",
            r#"printf '\377\376{"accessToken": "leaky-az-token-4f1"'"#.to_owned(),
            Some(1),
            "Unexpected output",
        ),
        (
            "a failure quoting credentials",
            "echo 'ERROR: AADSTS50076: refresh_token=1.ARoAv4j5cvGGr0GRqy180BHbR9xZ2kQ8b1mJ3XoT7uYp Authorization: Bearer leaky-bearer-5e2' >&2; exit 1".to_owned(),
            Some(1),
            "AADSTS50076",
        ),
        (
            "a hang with a grandchild",
            format!("sleep 60 & echo $! > {}; sleep 60", pid_file.display()),
            Some(1),
            "did not finish",
        ),
    ];
    for (i, (name, script, code, says)) in cases.into_iter().enumerate() {
        let path = fake_az(&root.join(i.to_string()), &script);
        let out = azid(
            &emu,
            &[("PATH", &path), ("TZ", "America/Los_Angeles")],
            &args,
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), code, "{name}: {stderr}");
        assert!(
            format!("{stdout}{stderr}").contains(says),
            "{name}: should say {says:?}: {stdout}{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        for secret in ["leaky-az-token-4f1", "1.ARoAv4j5", "leaky-bearer-5e2"] {
            assert!(
                !stderr.contains(secret),
                "{name}: {secret} echoed: {stderr}"
            );
        }
    }
    // The grandchild went with its group.
    // SIGKILL is delivered asynchronously: look for at most 2 s.
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let state = || {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).ok()?;
        stat.rsplit_once(") ")?.1.chars().next()
    };
    let gone = (0..100).any(|_| {
        let done = matches!(state(), None | Some('Z') | Some('X'));
        if !done {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        done
    });
    assert!(gone, "the hung az's grandchild still runs: {:?}", state());
    let _ = std::fs::remove_dir_all(&root);
}

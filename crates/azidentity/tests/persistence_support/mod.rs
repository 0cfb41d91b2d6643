//! Shared by the persistent cache and authentication record tests: private home directories,
//! Microsoft's Python packages as the judge, and real token responses from the emulator.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use azidentity::{Env, Platform};
use azidentity_emulator::{DEFAULT_TENANT_ID, RunningEmulator};
use bytes::Bytes;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt as _;

/// Python start-up plus a few HTTPS round trips; bounded so a hung client fails the test.
pub const PYTHON_TIMEOUT: Duration = Duration::from_secs(120);

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "azidentity-{tag}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A platform whose home is `home` and whose environment is only `extra` (never the process's).
pub fn platform(home: &TempDir, extra: &[(&str, &str)]) -> Platform {
    Platform::system()
        .with_env(Env::from_pairs(
            extra.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        ))
        .with_home_dir(home.path())
}

pub fn python() -> PathBuf {
    match std::env::var_os("AZIDENTITY_PYTHON") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "set AZIDENTITY_PYTHON to a Python with azure-identity==1.27.0 (scripts/test does this)"
        ),
    }
}

pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name)
}

/// Runs a script with an environment built from scratch (`HOME` = `home`, no proxies) and
/// returns its stdout; fails the test if it fails.
pub async fn run_python_with(
    interpreter: &Path,
    args: &[&str],
    home: &Path,
    env: &[(&str, &str)],
    stdin: &str,
) -> String {
    let mut command = tokio::process::Command::new(interpreter);
    command
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("NO_PROXY", "*")
        .env("no_proxy", "*")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", interpreter.display()));
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("stdin written");
    drop(input);
    let output = tokio::time::timeout(PYTHON_TIMEOUT, child.wait_with_output())
        .await
        .expect("Python finished within the timeout")
        .expect("Python ran");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "Python {args:?} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

pub async fn run_python(args: &[&str], home: &Path, env: &[(&str, &str)], stdin: &str) -> String {
    run_python_with(&python(), args, home, env, stdin).await
}

/// The last stdout line as JSON.
pub fn last_json(stdout: &str) -> Value {
    let line = stdout
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or_else(|| panic!("no output: {stdout:?}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}"))
}

/// The emulator's authority host without the scheme, e.g. `127.0.0.1:40123`.
pub fn host_and_port(emu: &RunningEmulator) -> String {
    emu.authority_host()
        .trim_start_matches("https://")
        .to_owned()
}

/// The cache `environment` MSAL Python records for the emulator: the host, without the port.
pub const EMULATOR_ENVIRONMENT: &str = "127.0.0.1";

/// A real user token response (password grant) from the emulator, as JSON.
pub async fn password_response(
    emu: &RunningEmulator,
    client_id: &str,
    username: &str,
    password: &str,
    scope: &str,
) -> Map<String, Value> {
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "password")
        .append_pair("client_id", client_id)
        .append_pair("username", username)
        .append_pair("password", password)
        .append_pair("scope", &format!("{scope} offline_access openid profile"))
        .append_pair("client_info", "1")
        .finish();
    let request = http::Request::post(format!(
        "{}/{DEFAULT_TENANT_ID}/oauth2/v2.0/token",
        emu.authority_host()
    ))
    .header("content-type", "application/x-www-form-urlencoded")
    .body(Bytes::from(form))
    .expect("request");
    let platform = Platform::system().with_env(Env::from_pairs([(
        "SSL_CERT_FILE",
        emu.ca_path().display().to_string(),
    )]));
    let response = platform
        .http_client()
        .expect("transport")
        .send(request)
        .await
        .expect("the emulator answers");
    assert!(response.status().is_success(), "{:?}", response.body());
    match serde_json::from_slice(response.body()).expect("JSON") {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

//! What the azid tests share: `azid` as a separate process kept on loopback and scanned for
//! leaked secrets, private home directories, Microsoft's Python azure-identity as the judge, and
//! a real redis-server on loopback.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use azidentity_emulator::RunningEmulator;

pub const SCOPE: &str = "https://management.azure.com/.default";

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "azid-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
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

/// The library crate's leak scan, shared: what azid prints is searched as its logs are.
#[path = "../../../azidentity/tests/common/leaks.rs"]
pub mod leaks;

/// A closed loopback port: the default chain's managed identity member is sent here (no probe,
/// a refused connection, "unavailable") unless a test starts a managed identity host of its own.
pub const NO_IMDS: &str = "http://127.0.0.1:9";

/// The variables that make the library talk to a managed identity endpoint.
const MANAGED_IDENTITY_VARIABLES: &[&str] = &[
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "IDENTITY_ENDPOINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
];

/// Variables holding a URL the library (or a tool it runs) connects to.
const ENDPOINT_VARIABLES: &[&str] = &[
    "AZURE_AUTHORITY_HOST",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "IDENTITY_ENDPOINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "AZIDENTITY_FAKE_AUTHORITY",
];

/// Every process a test starts goes through here before it runs: with no managed identity
/// host of the test's own, the chain's managed identity member is pointed at a closed loopback
/// port, so no run (inside the loopback sandbox or not) ever sends a packet to 169.254.169.254;
/// every endpoint the environment names must be on loopback. The command must have cleared its
/// environment (`env_clear`): an inherited variable could name any host.
pub fn loopback_only(command: &mut Command) -> &mut Command {
    let set: Vec<(String, Option<String>)> = command
        .get_envs()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.map(|v| v.to_string_lossy().into_owned()),
            )
        })
        .collect();
    let value = |name: &str| {
        set.iter()
            .rev()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    for name in ENDPOINT_VARIABLES {
        if let Some(url) = value(name) {
            assert!(is_loopback_url(&url), "{name}={url} is not a loopback URL");
        }
    }
    if !MANAGED_IDENTITY_VARIABLES
        .iter()
        .any(|name| value(name).is_some())
    {
        command.env("AZURE_POD_IDENTITY_AUTHORITY_HOST", NO_IMDS);
    }
    command
}

/// `http(s)://` followed by 127.x.y.z, localhost or [::1] (and a port or path).
pub fn is_loopback_url(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host_port.contains('@') {
        return false;
    }
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Plants the secrets among a command's environment variables in the leak scan.
pub fn plant_secrets_of(command: &Command) {
    for (name, value) in command.get_envs() {
        if let Some(value) = value
            && leaks::SECRET_VARIABLES
                .iter()
                .any(|secret| OsStr::new(secret) == name)
        {
            leaks::plant(&value.to_string_lossy());
        }
    }
}

/// Searches what an azid run printed: stderr for every planted secret and every credential the
/// emulator mints, stdout for planted secrets (stdout carries an access token by design), both
/// for the real IMDS address (nothing may even name it as tried).
pub fn assert_no_leaks(what: &str, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let found = leaks::findings_in(&stderr);
    assert!(found.is_empty(), "{what} leaked on stderr: {found:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let planted: Vec<String> = leaks::findings_in(&stdout)
        .into_iter()
        .filter(|f| f.starts_with("a planted secret"))
        .collect();
    assert!(planted.is_empty(), "{what} leaked on stdout: {planted:?}");
    for text in [&stdout, &stderr] {
        assert!(
            !text.contains("169.254.169.254"),
            "{what} went for the real IMDS address: {text}"
        );
        // A request that failed names its URL (reqwest's "for url (…)"): only loopback ones.
        for (at, _) in text.match_indices("for url (") {
            let url = text[at + "for url (".len()..]
                .split([')', ' '])
                .next()
                .unwrap_or_default();
            assert!(
                is_loopback_url(url),
                "{what} sent a request to {url}: {text}"
            );
        }
    }
}

/// Runs a command through [`loopback_only`], then [`assert_no_leaks`] on what it printed.
pub fn checked_output(command: &mut Command) -> Output {
    loopback_only(command);
    plant_secrets_of(command);
    let what = format!("{:?}", command.get_args().collect::<Vec<_>>());
    let out = command.output().expect("the program runs");
    assert_no_leaks(&what, &out);
    out
}

/// `azid` with only the emulator's environment (a service principal) and `HOME`, kept on
/// loopback.
pub fn azid_command(emu: &RunningEmulator, home: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_azid"));
    command
        .args(args)
        .env_clear()
        .envs(emu.env_exports())
        .env("HOME", home);
    loopback_only(&mut command);
    command
}

pub fn azid(emu: &RunningEmulator, home: &Path, args: &[&str]) -> Output {
    checked_output(&mut azid_command(emu, home, args))
}

/// The token `azid token --output json` printed; fails the test when azid failed.
pub fn token_of(out: &Output) -> String {
    assert!(
        out.status.success(),
        "azid failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    json["accessToken"].as_str().expect("a token").to_owned()
}

pub fn python() -> PathBuf {
    match std::env::var_os("AZIDENTITY_PYTHON") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "set AZIDENTITY_PYTHON to a Python with azure-identity==1.27.0 (scripts/test does this)"
        ),
    }
}

/// Python azure-identity's ClientSecretCredential with the persistent cache `name`; returns
/// its token.
pub fn python_app_token(emu: &RunningEmulator, home: &Path, name: &str) -> String {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../azidentity/tests/python/app_cache.py");
    let mut command = Command::new(python());
    command
        .arg(&script)
        .args([name, SCOPE])
        .env_clear()
        .envs(emu.env_exports())
        .env("HOME", home)
        .env("NO_PROXY", "*")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    let out = loopback_only(&mut command).output().expect("Python runs");
    assert!(
        out.status.success(),
        "Python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .expect("output");
    let json: serde_json::Value = serde_json::from_str(line).expect("JSON");
    json["token"].as_str().expect("a token").to_owned()
}

fn require(program: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "{program} is not installed: run scripts/install-redis (Debian package redis-server)"
        )
    })
}

/// A redis-server of this test's own on a free loopback port, without persistence; stopped when
/// dropped.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: TempDir,
}

impl RedisServer {
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Self::start_on(port)
    }

    pub fn start_on(port: u16) -> Self {
        let dir = TempDir::new("redis");
        let child = Command::new(require("redis-server"))
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let server = RedisServer {
            child: Some(child),
            port,
            dir,
        };
        let started = Instant::now();
        while server.cli(&["PING"]).trim() != "PONG" {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "redis-server did not answer on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Runs `redis-cli` against this server; its stdout (raw).
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(require("redis-cli"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "--raw"])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .cli(&["KEYS", "*"])
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        keys.sort();
        keys
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

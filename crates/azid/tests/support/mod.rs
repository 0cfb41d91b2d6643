//! What the token cache tests share: private home directories, `azid` as a separate process,
//! Microsoft's Python azure-identity as the judge, and a real redis-server on loopback.
#![allow(dead_code)]

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

/// `azid` with only the emulator's environment (a service principal), `HOME` and `extra`.
pub fn azid_command(emu: &RunningEmulator, home: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_azid"));
    command
        .args(args)
        .env_clear()
        .envs(emu.env_exports())
        .env("HOME", home);
    command
}

pub fn azid(emu: &RunningEmulator, home: &Path, args: &[&str]) -> Output {
    azid_command(emu, home, args).output().expect("azid runs")
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
    let out = command.output().expect("Python runs");
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

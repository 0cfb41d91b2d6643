//! Set-up for the developer-tool, chain and default-chain tests: the emulator's fake `az`,
//! `azd` and `pwsh` first (and alone) on a `PATH` given through the platform, never the process
//! environment.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use azidentity::platform::{
    HttpClient, HttpFuture, ReqwestTransport, TransportError, TransportErrorKind,
};
use azidentity::{Env, HttpOptions, Platform};
use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, RunningEmulator,
};

/// The directory holding the workspace's binaries (`target/debug`), found from this test
/// executable (`target/debug/deps/<test>-<hash>`): `CARGO_BIN_EXE_*` exists only for the
/// emulator crate's own tests.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe.parent().expect("deps directory");
    deps.parent().expect("profile directory").to_path_buf()
}

/// A fake tool binary; fails with the command that builds it when it is missing (`cargo test
/// --workspace` and `scripts/test` build it; `cargo test -p azidentity` alone does not).
pub fn fake_binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build -p azidentity-emulator --bins` (or the whole workspace's \
         tests) first",
        path.display()
    );
    path
}

/// A private directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("azid-{tag}-{}", uuid_like()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
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

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A `PATH` directory with `az`, `azd` and `pwsh` linked to the fakes (only those in `tools`).
pub struct Tools {
    pub dir: TempDir,
    pub log: PathBuf,
}

impl Tools {
    pub fn new(tools: &[&str]) -> Self {
        let dir = TempDir::new("tools");
        for tool in tools {
            let target = fake_binary(&format!("fake-{tool}"));
            std::os::unix::fs::symlink(&target, dir.path().join(tool)).expect("symlink");
        }
        let log = dir.path().join("invocations.jsonl");
        Tools { dir, log }
    }

    /// Every recorded invocation: `{"tool", "args", "cwd", "env"}`.
    pub fn invocations(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line {l:?}: {e}")))
            .collect()
    }

    pub fn count(&self, tool: &str) -> usize {
        self.invocations()
            .iter()
            .filter(|i| i["tool"] == tool)
            .count()
    }

    /// The environment a test platform gets: the fake tools' configuration, this `PATH` only,
    /// UTC, and a home directory of the caller's choosing.
    pub fn env(&self, emu: &RunningEmulator, mode: &str, extra: &[(&str, &str)]) -> Env {
        let mut pairs: Vec<(String, String)> = vec![
            ("PATH".into(), self.dir.path().display().to_string()),
            ("TZ".into(), "UTC".into()),
            ("AZIDENTITY_FAKE_AUTHORITY".into(), emu.authority_host()),
            (
                "AZIDENTITY_FAKE_CA_FILE".into(),
                emu.ca_path().display().to_string(),
            ),
            ("AZIDENTITY_FAKE_TENANT".into(), DEFAULT_TENANT_ID.into()),
            ("AZIDENTITY_FAKE_CLIENT_ID".into(), DEFAULT_CLIENT_ID.into()),
            (
                "AZIDENTITY_FAKE_CLIENT_SECRET".into(),
                DEFAULT_CLIENT_SECRET.into(),
            ),
            ("AZIDENTITY_FAKE_MODE".into(), mode.into()),
            (
                "AZIDENTITY_FAKE_ARGS_LOG".into(),
                self.log.display().to_string(),
            ),
            ("SSL_CERT_FILE".into(), emu.ca_path().display().to_string()),
            ("HOME".into(), self.dir.path().display().to_string()),
        ];
        for (k, v) in extra {
            pairs.retain(|(name, _)| name != k);
            pairs.push((k.to_string(), v.to_string()));
        }
        Env::from_pairs(pairs)
    }

    pub fn platform(&self, emu: &RunningEmulator, mode: &str) -> Platform {
        Platform::system().with_env(self.env(emu, mode, &[]))
    }
}

/// A transport that answers every request for the IMDS address itself, after `delay`: with a
/// connect failure, as a machine without IMDS does (the probe's one-second budget ends it when
/// the delay is longer), or with a managed identity token; everything else goes through the
/// real transport. No packet ever leaves for 169.254.169.254.
#[derive(Debug)]
pub struct NoImds {
    inner: ReqwestTransport,
    delay: Duration,
    token: Option<String>,
}

impl NoImds {
    pub fn platform(env: Env, delay: Duration) -> Platform {
        Self::build(env, delay, None)
    }

    /// IMDS present (but slow): it answers `token` after `delay`.
    pub fn serving(env: Env, delay: Duration, token: &str) -> Platform {
        Self::build(env, delay, Some(token.to_owned()))
    }

    fn build(env: Env, delay: Duration, token: Option<String>) -> Platform {
        let inner = ReqwestTransport::new(&HttpOptions::default(), &env).expect("transport");
        Platform::system()
            .with_env(env)
            .with_http_client(Arc::new(NoImds {
                inner,
                delay,
                token,
            }))
    }
}

impl HttpClient for NoImds {
    fn send(&self, request: http::Request<bytes::Bytes>) -> HttpFuture<'_> {
        if request.uri().host() == Some("169.254.169.254") {
            let delay = self.delay;
            let token = self.token.clone();
            return Box::pin(async move {
                tokio::time::sleep(delay).await;
                let Some(token) = token else {
                    return Err(TransportError::new(
                        TransportErrorKind::Connect,
                        "169.254.169.254 is unreachable (simulated)",
                    ));
                };
                let expires_on = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() + 3600)
                    .unwrap_or(0);
                let body = serde_json::json!({
                    "access_token": token,
                    "expires_in": "3599",
                    "expires_on": expires_on.to_string(),
                    "ext_expires_in": "3599",
                    "not_before": "0",
                    "resource": "https://management.azure.com",
                    "token_type": "Bearer",
                });
                Ok(http::Response::builder()
                    .status(200)
                    .header("content-type", "application/json; charset=utf-8")
                    .body(bytes::Bytes::from(body.to_string()))
                    .expect("response"))
            });
        }
        self.inner.send(request)
    }
}

//! Figures for the developer-tool credentials and the default chain: time to the first token
//! on a "developer laptop" (IMDS unreachable, signed in to az), walking the chain sequentially
//! as Python does versus starting the managed identity probe and the CLI together; and `azid
//! token` against Microsoft's own `az account get-access-token` (wall time and peak memory).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use azidentity::platform::{HttpClient, HttpFuture, ReqwestTransport};
use azidentity::{
    ClientOptions, DefaultAzureCredential, DefaultAzureCredentialOptions, Env, HttpOptions,
    Platform, TokenCredential, TokenRequestOptions,
};
use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, Emulator, RunningEmulator,
};
use serde_json::json;

use super::{SCOPE, ms, report};

/// IMDS on a laptop: packets to 169.254.169.254 go nowhere, so the probe waits out its one
/// second. Requests to that address never leave this process; the rest use the real transport.
#[derive(Debug)]
struct SilentImds(ReqwestTransport);

impl HttpClient for SilentImds {
    fn send(&self, request: http::Request<bytes::Bytes>) -> HttpFuture<'_> {
        if request.uri().host() == Some("169.254.169.254") {
            return Box::pin(std::future::pending());
        }
        self.0.send(request)
    }
}

fn silent_imds_platform(env: Vec<(String, String)>) -> Platform {
    let env = Env::from_pairs(env);
    let transport = ReqwestTransport::new(&HttpOptions::default(), &env).expect("transport");
    Platform::system()
        .with_env(env)
        .with_http_client(Arc::new(SilentImds(transport)))
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// A PATH directory holding `az` (a link to `target`).
struct PathDir(PathBuf);

impl PathDir {
    fn with_az(target: &Path) -> Self {
        let dir = std::env::temp_dir().join(format!("azid-bench-path-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        std::os::unix::fs::symlink(target, dir.join("az")).expect("link");
        PathDir(dir)
    }
}

impl Drop for PathDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn time_to_first_token(
    env: &[(String, String)],
    sequential: bool,
) -> Result<Duration, String> {
    let options = DefaultAzureCredentialOptions {
        sequential,
        process_timeout: Duration::from_secs(60),
        client_options: ClientOptions {
            platform: silent_imds_platform(env.to_vec()),
            ..Default::default()
        },
        ..Default::default()
    };
    let credential = DefaultAzureCredential::new(options).map_err(|e| e.to_string())?;
    let started = Instant::now();
    credential
        .get_token(&[SCOPE], &TokenRequestOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let took = started.elapsed();
    if credential.successful_credential()
        != Some(azidentity::DefaultAzureCredentialMember::AzureCli)
    {
        return Err(format!("{:?} answered", credential.successful_credential()));
    }
    Ok(took)
}

async fn compare(tool: &str, env: Vec<(String, String)>, runs: usize) {
    let mut sequential = Vec::new();
    let mut concurrent = Vec::new();
    for _ in 0..runs {
        for (is_sequential, into) in [(true, &mut sequential), (false, &mut concurrent)] {
            match time_to_first_token(&env, is_sequential).await {
                Ok(took) => into.push(took),
                Err(e) => {
                    report(json!({"bench": "chain_time_to_first_token", "tool": tool, "error": e}));
                    return;
                }
            }
        }
    }
    let (s, c) = (median(sequential), median(concurrent));
    report(json!({
        "bench": "chain_time_to_first_token",
        "case": "developer laptop: IMDS probe times out (1 s), signed in to az",
        "tool": tool,
        "runs": runs,
        "sequential_ms_median": ms(s),
        "concurrent_ms_median": ms(c),
        "saved_ms": ms(s.saturating_sub(c)),
    }));
}

fn fake_tool_env(emu: &RunningEmulator, path: &Path) -> Vec<(String, String)> {
    vec![
        ("PATH".into(), path.display().to_string()),
        ("HOME".into(), path.display().to_string()),
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
        ("SSL_CERT_FILE".into(), emu.ca_path().display().to_string()),
    ]
}

/// Microsoft's Azure CLI signed in to `emu` as a service principal, in a private config dir.
struct RealAz {
    az: PathBuf,
    dir: PathBuf,
    env: Vec<(String, String)>,
}

impl RealAz {
    fn new(emu: &RunningEmulator) -> Option<Result<Self, String>> {
        let az = PathBuf::from(std::env::var("AZIDENTITY_AZURE_CLI").ok()?);
        let dir = std::env::temp_dir().join(format!("azid-bench-az-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = dir.join("azure");
        if let Err(e) = std::fs::create_dir_all(&config).and_then(|()| {
            std::fs::write(
                config.join("versionCheck.json"),
                r#"{"versions": {}, "update_time": "2099-01-01 00:00:00.000000"}"#,
            )
        }) {
            return Some(Err(e.to_string()));
        }
        let venv_bin = az.parent().map(Path::to_path_buf).unwrap_or_default();
        let env = vec![
            (
                "PATH".to_owned(),
                format!("{}:/usr/bin:/bin", venv_bin.display()),
            ),
            ("HOME".to_owned(), dir.display().to_string()),
            ("AZURE_CONFIG_DIR".to_owned(), config.display().to_string()),
            (
                "REQUESTS_CA_BUNDLE".to_owned(),
                emu.ca_path().display().to_string(),
            ),
            (
                "SSL_CERT_FILE".to_owned(),
                emu.ca_path().display().to_string(),
            ),
            (
                "AZURE_CORE_COLLECT_TELEMETRY".to_owned(),
                "false".to_owned(),
            ),
            (
                "AZURE_CORE_INSTANCE_DISCOVERY".to_owned(),
                "false".to_owned(),
            ),
            ("AZURE_CORE_SURVEY_MESSAGE".to_owned(), "false".to_owned()),
        ];
        let real = RealAz { az, dir, env };
        let authority = emu.authority_host();
        let steps: [Vec<&str>; 3] = [
            vec![
                "cloud",
                "register",
                "--name",
                "AzidentityEmulator",
                "--endpoint-active-directory",
                &authority,
                "--endpoint-active-directory-resource-id",
                "https://management.core.windows.net/",
                "--endpoint-resource-manager",
                &authority,
                "--endpoint-active-directory-graph-resource-id",
                "https://graph.windows.net/",
                "--skip-endpoint-discovery",
            ],
            vec!["cloud", "set", "--name", "AzidentityEmulator"],
            vec![
                "login",
                "--service-principal",
                "--username",
                DEFAULT_CLIENT_ID,
                "--password",
                DEFAULT_CLIENT_SECRET,
                "--tenant",
                DEFAULT_TENANT_ID,
                "--output",
                "none",
            ],
        ];
        for step in steps {
            let status = real.command(&step).stdout(Stdio::null()).status();
            if !status.is_ok_and(|s| s.success()) {
                return Some(Err(format!("az {} failed", step.join(" "))));
            }
        }
        Some(Ok(real))
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.az);
        command
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir("/");
        command
    }
}

impl Drop for RealAz {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Peak resident memory of one run of `program`, in MiB: this bench binary re-runs itself as a
/// small helper that starts the program and reads RUSAGE_CHILDREN, which then covers that one
/// run only (a helper with a big heap, such as Python, would be counted in the child's peak).
fn peak_rss_mib(program: &Path, args: &[&str], env: &[(String, String)]) -> Option<f64> {
    let out = Command::new(std::env::current_exe().ok()?)
        .arg(MEASURE_RSS)
        .arg(program)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .ok()?;
    let kib: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    Some((kib / 1024.0 * 10.0).round() / 10.0)
}

/// The first argument that turns the bench binary into the measuring helper.
pub const MEASURE_RSS: &str = "--measure-child-rss";

/// The helper: runs `args[0]` with the rest, prints its peak RSS in KiB; exits 1 on failure.
pub fn measure_child_rss(args: &[String]) -> std::process::ExitCode {
    let Some((program, rest)) = args.split_first() else {
        return std::process::ExitCode::FAILURE;
    };
    let ok = Command::new(program)
        .args(rest)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return std::process::ExitCode::FAILURE;
    }
    match nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN) {
        Ok(usage) => {
            println!("{}", usage.max_rss());
            std::process::ExitCode::SUCCESS
        }
        Err(_) => std::process::ExitCode::FAILURE,
    }
}

pub async fn chain_time_to_first_token() {
    let emulator = Emulator::builder().start().await.expect("emulator");
    let Some(azid) = option_env!("CARGO_BIN_EXE_azid") else {
        report(json!({"bench": "chain_time_to_first_token", "error": "azid binary not built"}));
        return;
    };
    let fake_az = Path::new(azid).with_file_name("fake-az");
    if fake_az.is_file() {
        let path = PathDir::with_az(&fake_az);
        compare("fake-az", fake_tool_env(&emulator, &path.0), 10).await;
    } else {
        report(json!({
            "bench": "chain_time_to_first_token",
            "tool": "fake-az",
            "error": "fake-az is not built: cargo build --release -p azidentity-emulator --bins",
        }));
    }
    match RealAz::new(&emulator) {
        Some(Ok(real)) => compare("az (Microsoft's Azure CLI)", real.env.clone(), 5).await,
        Some(Err(e)) => {
            report(json!({"bench": "chain_time_to_first_token", "tool": "az", "error": e}))
        }
        None => report(json!({
            "bench": "chain_time_to_first_token",
            "tool": "az",
            "error": "AZIDENTITY_AZURE_CLI is not set (scripts/azure-cli-venv prints the path)",
        })),
    }
}

pub async fn azid_token_vs_az_cli() {
    let emulator = Emulator::builder().start().await.expect("emulator");
    let Some(azid) = option_env!("CARGO_BIN_EXE_azid") else {
        report(json!({"bench": "azid_token_vs_az_cli", "error": "azid binary not built"}));
        return;
    };
    let real = match RealAz::new(&emulator) {
        Some(Ok(real)) => real,
        Some(Err(e)) => {
            report(json!({"bench": "azid_token_vs_az_cli", "error": e}));
            return;
        }
        None => {
            report(json!({
                "bench": "azid_token_vs_az_cli",
                "error": "AZIDENTITY_AZURE_CLI is not set (scripts/azure-cli-venv prints the path)",
            }));
            return;
        }
    };
    let resource = SCOPE.trim_end_matches("/.default");
    let az_args = [
        "account",
        "get-access-token",
        "--output",
        "json",
        "--resource",
        resource,
    ];
    let azid_args = ["token", "--disable-instance-discovery", "--scope", SCOPE];
    let azid_env: Vec<(String, String)> = emulator.env_exports();
    let runs = 15;
    let mut az_walls = Vec::new();
    let mut azid_walls = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let ok = real.command(&az_args).stdout(Stdio::null()).status();
        az_walls.push(started.elapsed());
        if !ok.is_ok_and(|s| s.success()) {
            report(
                json!({"bench": "azid_token_vs_az_cli", "error": "az account get-access-token failed"}),
            );
            return;
        }
        let started = Instant::now();
        let ok = Command::new(azid)
            .args(azid_args)
            .env_clear()
            .envs(azid_env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .status();
        azid_walls.push(started.elapsed());
        if !ok.is_ok_and(|s| s.success()) {
            report(json!({"bench": "azid_token_vs_az_cli", "error": "azid token failed"}));
            return;
        }
    }
    let az_rss = peak_rss_mib(&real.az, &az_args, &real.env);
    let azid_rss = peak_rss_mib(Path::new(azid), &azid_args, &azid_env);
    report(json!({
        "bench": "azid_token_vs_az_cli",
        "runs": runs,
        "az_wall_ms_median": ms(median(az_walls)),
        "azid_wall_ms_median": ms(median(azid_walls)),
        "az_peak_rss_mib": az_rss,
        "azid_peak_rss_mib": azid_rss,
        "note": "az: a signed-in service principal answering from its MSAL cache; azid: a fresh \
                 process with the same service principal from the environment (one token request)",
    }));
}

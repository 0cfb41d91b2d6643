//! `azid token` on the default chain and `azid doctor`, run as processes with the emulator's fake
//! developer tools on PATH. Managed identity is left out here (AZURE_TOKEN_CREDENTIALS=dev or
//! --exclude mi), and the harness points it at a closed loopback port in any case.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, Emulator, RunningEmulator,
};
use serde_json::Value;

mod support;

const SCOPE: &str = "https://management.azure.com/.default";

struct Tools(PathBuf);

impl Tools {
    /// A PATH directory with the named fake tools (built beside `azid`).
    fn new(tools: &[&str]) -> Self {
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_azid"))
            .parent()
            .unwrap()
            .to_path_buf();
        let dir = std::env::temp_dir().join(format!(
            "azid-doctor-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for tool in tools {
            let fake = bin_dir.join(format!("fake-{tool}"));
            assert!(
                fake.is_file(),
                "{} is missing: build the workspace's binaries (cargo build -p azidentity-emulator --bins)",
                fake.display()
            );
            std::os::unix::fs::symlink(fake, dir.join(tool)).unwrap();
        }
        Tools(dir)
    }
}

impl Drop for Tools {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn azid(emu: &RunningEmulator, tools: &Tools, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_azid"));
    command
        .args(args)
        .env_clear()
        .env("PATH", &tools.0)
        .env("HOME", &tools.0)
        .env("TZ", "UTC")
        .env("AZIDENTITY_FAKE_AUTHORITY", emu.authority_host())
        .env("AZIDENTITY_FAKE_CA_FILE", emu.ca_path())
        .env("AZIDENTITY_FAKE_TENANT", DEFAULT_TENANT_ID)
        .env("AZIDENTITY_FAKE_CLIENT_ID", DEFAULT_CLIENT_ID)
        .env("AZIDENTITY_FAKE_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
        .env("SSL_CERT_FILE", emu.ca_path())
        .envs(env.iter().copied());
    support::checked_output(&mut command)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_uses_the_default_chain_and_names_the_credential() {
    let emu = Emulator::builder().start().await.unwrap();
    let tools = Tools::new(&["az", "azd"]);
    let dev = [("AZURE_TOKEN_CREDENTIALS", "dev")];
    let out = azid(&emu, &tools, &dev, &["token", "--scope", SCOPE]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer = json(&out);
    assert_eq!(answer["credential"], "AzureCliCredential");
    emu.verify_token(answer["accessToken"].as_str().unwrap())
        .unwrap();

    let out = azid(
        &emu,
        &tools,
        &dev,
        &["token", "--scope", SCOPE, "--exclude", "az"],
    );
    assert_eq!(json(&out)["credential"], "AzureDeveloperCliCredential");

    let out = azid(
        &emu,
        &tools,
        &[],
        &["token", "--scope", SCOPE, "--credential", "azd"],
    );
    assert_eq!(json(&out)["credential"], "AzureDeveloperCliCredential");

    // The environment's service principal comes first when it is configured.
    let out = azid(
        &emu,
        &tools,
        &[
            ("AZURE_AUTHORITY_HOST", &emu.authority_host()),
            ("AZURE_TENANT_ID", DEFAULT_TENANT_ID),
            ("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID),
            ("AZURE_CLIENT_SECRET", DEFAULT_CLIENT_SECRET),
        ],
        &[
            "token",
            "--disable-instance-discovery",
            "--exclude",
            "mi",
            "--scope",
            SCOPE,
        ],
    );
    assert_eq!(json(&out)["credential"], "EnvironmentCredential");

    let out = azid(
        &emu,
        &tools,
        &[],
        &["token", "--scope", SCOPE, "--credential", "nope"],
    );
    // An unknown name is a usage error, found by clap before anything runs.
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown credential \"nope\""), "{stderr}");
    assert!(
        stderr.contains("AzureCliCredential (azure-cli, cli, az)"),
        "{stderr}"
    );

    let out = azid(
        &emu,
        &tools,
        &[("AZURE_TOKEN_CREDENTIALS", "nonsense")],
        &["token", "--scope", SCOPE],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Valid values are 'dev', 'prod'"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_failure_points_to_doctor() {
    let emu = Emulator::builder().start().await.unwrap();
    let tools = Tools::new(&["az"]);
    let out = azid(
        &emu,
        &tools,
        &[
            ("AZURE_TOKEN_CREDENTIALS", "dev"),
            ("AZIDENTITY_FAKE_MODE", "not-logged-in"),
        ],
        &["token", "--scope", SCOPE],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Once: azid prints the chain's error itself, and leaves out the library's warning (its
    // target, `azidentity::log_target::CHAIN_FAILED`) that says the same.
    assert_eq!(
        stderr.matches("Attempted credentials:").count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains("\tAzureCliCredential: Please run 'az login' to set up an account"),
        "{stderr}"
    );
    assert!(stderr.contains("azid doctor"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_explains_every_member() {
    let emu = Emulator::builder().start().await.unwrap();
    let tools = Tools::new(&["az", "azd"]);
    let env = [
        ("AZURE_TOKEN_CREDENTIALS", "dev"),
        ("AZIDENTITY_FAKE_AZ_MODE", "not-logged-in"),
    ];
    let out = azid(&emu, &tools, &env, &["doctor", "--output", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(
        report["result"]["credential"],
        "AzureDeveloperCliCredential"
    );
    let members = report["members"].as_array().unwrap();
    let status: Vec<&str> = members
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        status,
        [
            "excluded",
            "excluded",
            "excluded",
            "unavailable",
            "unavailable",
            "unavailable",
            "unavailable",
            "token",
            "excluded"
        ]
    );
    // A stable reason code per member, whatever the messages say.
    let reasons: Vec<&str> = members
        .iter()
        .map(|m| m["reason"].as_str().unwrap_or("null"))
        .collect();
    assert_eq!(
        reasons,
        [
            "excluded_by_variable",
            "excluded_by_variable",
            "excluded_by_variable",
            "cache_unavailable",
            "not_signed_in",
            "not_signed_in",
            "tool_not_found",
            "null",
            "excluded_by_variable"
        ]
    );
    let az = &members[5];
    assert_eq!(az["name"], "AzureCliCredential");
    assert!(az["found"]["path"].as_str().unwrap().ends_with("/az"));
    assert_eq!(az["message"], "Please run 'az login' to set up an account");
    assert_eq!(az["fix"], "run `az login`");
    assert!(
        az["configured"]
            .as_str()
            .unwrap()
            .starts_with("az found at ")
    );
    assert!(az["elapsed_ms"].as_f64().unwrap() > 0.0);
    let ran = az["ran"][0].as_str().unwrap();
    assert!(
        ran.ends_with(
            "/az account get-access-token --output json --resource https://management.azure.com"
        ),
        "{ran}"
    );
    assert_eq!(
        members[0]["message"],
        "AZURE_TOKEN_CREDENTIALS=dev selects developer tools only"
    );
    assert!(members[7]["expires_on"].is_string());
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("eyJ"),
        "no token in the report"
    );

    let out = azid(&emu, &tools, &env, &["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" 6. AzureCliCredential"), "{text}");
    assert!(text.contains("fix: run `az login`"), "{text}");
    assert!(
        text.contains("ran: ") && text.contains("azd auth token --output json --no-prompt"),
        "{text}"
    );
    assert!(
        text.contains("Result: DefaultAzureCredential uses AzureDeveloperCliCredential."),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_shows_where_a_failure_stops_the_chain() {
    let emu = Emulator::builder().start().await.unwrap();
    let tools = Tools::new(&["az", "azd"]);
    let authority = emu.authority_host();
    let wrong_secret = [
        ("AZURE_AUTHORITY_HOST", authority.as_str()),
        ("AZURE_TENANT_ID", DEFAULT_TENANT_ID),
        ("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID),
        ("AZURE_CLIENT_SECRET", "wrong-secret-for-doctor"),
    ];
    let out = azid(
        &emu,
        &tools,
        &wrong_secret,
        &["doctor", "--disable-instance-discovery", "--exclude", "mi"],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(" 1. EnvironmentCredential         FAILED"),
        "{text}"
    );
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(text.contains("check AZURE_CLIENT_SECRET"), "{text}");
    assert!(
        text.contains("why: the chain stops at EnvironmentCredential's failure"),
        "{text}"
    );
    assert!(
        text.contains("Result: no token. EnvironmentCredential failed"),
        "{text}"
    );
    assert!(!text.contains("wrong-secret-for-doctor"));

    let out = azid(
        &emu,
        &tools,
        &wrong_secret,
        &[
            "doctor",
            "--disable-instance-discovery",
            "--exclude",
            "mi",
            "--output",
            "json",
        ],
    );
    let report = json(&out);
    let env = &report["members"][0];
    assert_eq!(env["status"], "failed");
    assert_eq!(env["reason"], "aadsts");
    assert_eq!(env["aadsts"], "AADSTS7000215");
    assert_eq!(report["members"][1]["reason"], "after_failure", "{report}");
    assert_eq!(
        report["result"]["stopped_by_failure_of"],
        "EnvironmentCredential"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_with_one_credential_names_it_in_its_errors() {
    let emu = Emulator::builder().start().await.unwrap();
    let tools = Tools::new(&["az"]);
    let out = azid(
        &emu,
        &tools,
        &[("AZIDENTITY_FAKE_MODE", "not-logged-in")],
        &["token", "--scope", SCOPE, "--credential", "az"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("azid: AzureCliCredential: Please run 'az login'"),
        "{stderr}"
    );
    assert!(stderr.contains("fix: run `az login`"), "{stderr}");
    assert!(!stderr.contains("DefaultAzureCredential"), "{stderr}");

    // A member that could not even be built (no workload identity variables) is named too.
    let out = azid(
        &emu,
        &tools,
        &[],
        &["token", "--scope", SCOPE, "--credential", "workload"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("azid: WorkloadIdentityCredential: "),
        "{stderr}"
    );
    assert!(stderr.contains("fix: only on Kubernetes"), "{stderr}");
    assert!(!stderr.contains("DefaultAzureCredential"), "{stderr}");
}

//! Microsoft's own Azure CLI (installed from PyPI by `scripts/azure-cli-venv`, path in
//! `AZIDENTITY_AZURE_CLI`) signed in to the emulator as a custom cloud, offline: our
//! AzureCliCredential and DefaultAzureCredential run the real `az` and get the emulator's token.
//! Without `AZIDENTITY_AZURE_CLI` this test fails on purpose (run `scripts/test`).

mod common;
mod developer_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use azidentity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientOptions, DefaultAzureCredential,
    DefaultAzureCredentialOptions, Env, Platform, TokenCredential, TokenRequestOptions,
};
use azidentity_emulator::{
    Application, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, Emulator,
    RunningEmulator, User,
};
use developer_support::TempDir;

const ARM: &str = "https://management.azure.com/.default";

fn real_az() -> PathBuf {
    let path = std::env::var("AZIDENTITY_AZURE_CLI").expect(
        "AZIDENTITY_AZURE_CLI is not set: run scripts/test, which installs Microsoft's azure-cli \
         into a cached venv (scripts/azure-cli-venv) and sets it",
    );
    let path = PathBuf::from(path);
    assert!(path.is_file(), "{} does not exist", path.display());
    path
}

/// What `az` needs to work offline against the emulator: a private config directory with the
/// version check already done, the emulator's CA, no telemetry, no instance discovery.
struct AzHome {
    dir: TempDir,
    az: PathBuf,
    vars: Vec<(String, String)>,
}

impl AzHome {
    fn new(emu: &RunningEmulator) -> Self {
        let az = real_az();
        let dir = TempDir::new("real-az");
        let config = dir.path().join("azure");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(
            config.join("versionCheck.json"),
            r#"{"versions": {}, "update_time": "2099-01-01 00:00:00.000000"}"#,
        )
        .unwrap();
        let path = format!(
            "{}:/usr/bin:/bin",
            az.parent().unwrap_or(Path::new("/")).display()
        );
        let vars = vec![
            ("PATH".to_owned(), path),
            ("HOME".to_owned(), dir.path().display().to_string()),
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
            ("AZURE_CORE_ONLY_SHOW_ERRORS".to_owned(), "true".to_owned()),
            ("TZ".to_owned(), "UTC".to_owned()),
        ];
        let home = AzHome { dir, az, vars };
        let authority = emu.authority_host();
        home.run(&[
            "cloud",
            "register",
            "--name",
            "AzidentityEmulator",
            "--endpoint-active-directory",
            &authority,
            "--endpoint-active-directory-resource-id",
            "https://management.core.windows.net/",
            "--endpoint-resource-manager",
            &format!("{authority}/"),
            "--endpoint-active-directory-graph-resource-id",
            "https://graph.windows.net/",
            "--skip-endpoint-discovery",
        ]);
        home.run(&["cloud", "set", "--name", "AzidentityEmulator"]);
        home
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(&self.az)
            .args(args)
            .env_clear()
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .output()
            .expect("az runs");
        assert!(
            out.status.success(),
            "az {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn platform(&self, extra: &[(&str, &str)]) -> Platform {
        let mut pairs = self.vars.clone();
        pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Platform::system().with_env(Env::from_pairs(pairs))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_credentials_get_the_emulators_token_from_the_real_azure_cli() {
    let emu = common::emulator().await;
    let home = AzHome::new(&emu);
    let login = home.run(&[
        "login",
        "--service-principal",
        "--username",
        DEFAULT_CLIENT_ID,
        "--password",
        DEFAULT_CLIENT_SECRET,
        "--tenant",
        DEFAULT_TENANT_ID,
        "--output",
        "json",
    ]);
    assert!(login.contains("Emulator Subscription"), "{login}");
    // az listed subscriptions with a bearer token the emulator checked.
    assert!(emu.requests().iter().any(|r| r.path == "/subscriptions"));

    let credential = AzureCliCredential::new(AzureCliCredentialOptions {
        platform: home.platform(&[]),
        process_timeout: Duration::from_secs(60),
        ..Default::default()
    })
    .unwrap();
    let token = credential
        .get_token(&[ARM], &TokenRequestOptions::default())
        .await
        .unwrap();
    let claims = emu.verify_token(token.token().secret()).unwrap();
    assert_eq!(claims["aud"], "https://management.azure.com");
    assert_eq!(claims["appid"], DEFAULT_CLIENT_ID);
    // az computes expires_on as its request time + expires_in: within a second or two of `exp`.
    let exp = claims["exp"].as_i64().unwrap();
    assert!(
        (exp - token.expires_on().unix_timestamp()).abs() <= 2,
        "{exp} vs {}",
        token.expires_on()
    );

    let dac = DefaultAzureCredential::new(DefaultAzureCredentialOptions {
        process_timeout: Duration::from_secs(60),
        client_options: ClientOptions {
            platform: home.platform(&[("AZURE_TOKEN_CREDENTIALS", "dev")]),
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap();
    let token = dac
        .get_token(
            &["https://vault.azure.net/.default"],
            &TokenRequestOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        dac.successful_credential(),
        Some(azidentity::DefaultAzureCredentialMember::AzureCli)
    );
    let claims = emu.verify_token(token.token().secret()).unwrap();
    assert_eq!(claims["aud"], "https://vault.azure.net");
}

/// `az login -u -p` asks MSAL for the user realm at `https://<host>/common/userrealm/…`, and
/// MSAL Python drops the authority's port there, so this emulator listens on 127.0.0.1:443:
/// possible inside the loopback-only network namespace `scripts/test` runs the tests in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_signed_in_with_a_password_and_a_signed_out_cli() {
    let emu = Emulator::builder()
        .port(443)
        .app(Application::public("04b07795-8ddb-461a-bbee-02f9e1bf7b46"))
        .user(User::new("dev@contoso.example", "dev-password-1"))
        .start()
        .await
        .expect(
            "binding 127.0.0.1:443 (MSAL's user realm lookup ignores the authority's port); run \
             the tests through scripts/test, whose private network namespace allows it",
        );
    let home = AzHome::new(&emu);
    let credential = AzureCliCredential::new(AzureCliCredentialOptions {
        platform: home.platform(&[]),
        process_timeout: Duration::from_secs(60),
        ..Default::default()
    })
    .unwrap();
    // Not signed in yet: the real az's message is recognised.
    let e = credential
        .get_token(&[ARM], &TokenRequestOptions::default())
        .await
        .unwrap_err();
    assert!(e.is_unavailable(), "{e}");
    assert_eq!(e.message(), "Please run 'az login' to set up an account");

    home.run(&[
        "login",
        "--username",
        "dev@contoso.example",
        "--password",
        "dev-password-1",
        "--output",
        "none",
    ]);
    let token = credential
        .get_token(&[ARM], &TokenRequestOptions::default())
        .await
        .unwrap();
    let claims = emu.verify_token(token.token().secret()).unwrap();
    assert_eq!(claims["upn"], "dev@contoso.example");
}

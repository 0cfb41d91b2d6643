//! Microsoft's Python azure-identity 1.27.0 as the judge of the fake tools: its own
//! AzureCliCredential, AzureDeveloperCliCredential and AzurePowerShellCredential run the
//! emulator's fake `az`, `azd` and `pwsh` and read what they print, and ours reads the same.
//! Needs `AZIDENTITY_PYTHON` (set by `scripts/test`); without it this fails on purpose.

mod common;
mod developer_support;

use std::process::Command;

use azidentity::{
    AzureCliCredential, AzureCliCredentialOptions, AzureDeveloperCliCredential,
    AzureDeveloperCliCredentialOptions, AzurePowerShellCredential,
    AzurePowerShellCredentialOptions, Env, Platform, TokenCredential, TokenRequestOptions,
};
use developer_support::Tools;

const SCRIPT: &str = r#"
import json, sys
from azure.identity import AzureCliCredential, AzureDeveloperCliCredential, AzurePowerShellCredential
kinds = {"az": AzureCliCredential, "azd": AzureDeveloperCliCredential, "pwsh": AzurePowerShellCredential}
token = kinds[sys.argv[1]]().get_token("https://management.azure.com/.default")
print(json.dumps({"token": token.token, "expires_on": token.expires_on}))
"#;

/// Python's answer: (token, expires_on).
fn python(tools: &Tools, env: &Env, tool: &str) -> (String, i64) {
    let interpreter = std::env::var("AZIDENTITY_PYTHON").expect(
        "set AZIDENTITY_PYTHON to a Python with azure-identity==1.27.0 (scripts/test does this)",
    );
    let Env::Map(map) = env else {
        unreachable!("tests build map environments")
    };
    let out = Command::new(interpreter)
        .arg("-c")
        .arg(SCRIPT)
        .arg(tool)
        .env_clear()
        .envs(map.iter())
        // Python's pwsh path goes through /bin/sh, which needs a PATH with the fake pwsh only.
        .env("PATH", tools.dir.path())
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python {tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        answer["token"].as_str().unwrap().to_owned(),
        answer["expires_on"].as_i64().unwrap(),
    )
}

async fn ours(env: &Env, tool: &str) -> i64 {
    let platform = Platform::system().with_env(env.clone());
    let credential: Box<dyn TokenCredential> = match tool {
        "az" => Box::new(
            AzureCliCredential::new(AzureCliCredentialOptions {
                platform,
                ..Default::default()
            })
            .unwrap(),
        ),
        "azd" => Box::new(
            AzureDeveloperCliCredential::new(AzureDeveloperCliCredentialOptions {
                platform,
                ..Default::default()
            })
            .unwrap(),
        ),
        _ => Box::new(
            AzurePowerShellCredential::new(AzurePowerShellCredentialOptions {
                platform,
                ..Default::default()
            })
            .unwrap(),
        ),
    };
    credential
        .get_token(
            &["https://management.azure.com/.default"],
            &TokenRequestOptions::default(),
        )
        .await
        .unwrap()
        .expires_on()
        .unix_timestamp()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_reads_the_fake_tools_as_we_do() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az", "azd", "pwsh"]);
    // "old" az prints only expiresOn, a local time: both sides must convert it with the zone's
    // rules (Python through the C library, ours through the TZif file), in UTC and in New York.
    for (tool, mode, tz) in [
        ("az", "ok", "UTC"),
        ("az", "old", "UTC"),
        ("az", "old", "America/New_York"),
        ("azd", "ok", "UTC"),
        ("pwsh", "ok", "UTC"),
    ] {
        let env = tools.env(&emu, mode, &[("TZ", tz)]);
        let (token, python_expiry) = python(&tools, &env, tool);
        emu.verify_token(&token).unwrap();
        let our_expiry = ours(&env, tool).await;
        // Each run asks the emulator for a new token: a second or two apart at most.
        assert!(
            (python_expiry - our_expiry).abs() <= 3,
            "{tool}/{mode}/{tz}: python {python_expiry}, ours {our_expiry}"
        );
    }
}

/// Python 1.27 reads azd's `expiresOn` ("…Z") as local time; in New York that puts the expiry
/// five hours late. We read it as UTC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_misreads_azd_expiry_in_a_local_zone_and_we_do_not() {
    if !std::path::Path::new("/usr/share/zoneinfo/America/New_York").is_file() {
        panic!("tzdata is needed for this test (apt-get install tzdata)");
    }
    let emu = common::emulator().await;
    let tools = Tools::new(&["azd"]);
    let env = tools.env(&emu, "ok", &[("TZ", "America/New_York")]);
    let (_, python_expiry) = python(&tools, &env, "azd");
    let our_expiry = ours(&env, "azd").await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (our_expiry - now - 3599).abs() <= 3,
        "ours: {}",
        our_expiry - now
    );
    let shift = python_expiry - our_expiry;
    assert!(
        (shift - 4 * 3600).abs() <= 3 || (shift - 5 * 3600).abs() <= 3,
        "Python's azd expiry is off by the New York offset: {shift} s"
    );
}

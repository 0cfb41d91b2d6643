//! AzureCliCredential, AzureDeveloperCliCredential and AzurePowerShellCredential end to end:
//! the emulator's fake `az`, `azd` and `pwsh` run as real processes, found on a `PATH` given
//! through the platform, and print tokens the emulator issued.

mod common;
mod developer_support;

use std::time::{Duration, Instant};

use azidentity::{
    AzureCliCredential, AzureCliCredentialOptions, AzureDeveloperCliCredential,
    AzureDeveloperCliCredentialOptions, AzurePowerShellCredential,
    AzurePowerShellCredentialOptions, ErrorKind, ErrorReason, TokenCredential, TokenRequestOptions,
};
use developer_support::Tools;

const ARM: &str = "https://management.azure.com/.default";

fn az(tools: &Tools, emu: &azidentity_emulator::RunningEmulator, mode: &str) -> AzureCliCredential {
    AzureCliCredential::new(AzureCliCredentialOptions {
        platform: tools.platform(emu, mode),
        ..Default::default()
    })
    .unwrap()
}

fn azd(
    tools: &Tools,
    emu: &azidentity_emulator::RunningEmulator,
    mode: &str,
) -> AzureDeveloperCliCredential {
    AzureDeveloperCliCredential::new(AzureDeveloperCliCredentialOptions {
        platform: tools.platform(emu, mode),
        ..Default::default()
    })
    .unwrap()
}

fn pwsh(
    tools: &Tools,
    emu: &azidentity_emulator::RunningEmulator,
    mode: &str,
) -> AzurePowerShellCredential {
    AzurePowerShellCredential::new(AzurePowerShellCredentialOptions {
        platform: tools.platform(emu, mode),
        ..Default::default()
    })
    .unwrap()
}

fn no_options() -> TokenRequestOptions {
    TokenRequestOptions::default()
}

#[tokio::test]
async fn azure_cli_runs_az_without_a_shell_and_caches_its_token() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az"]);
    let credential = az(&tools, &emu, "ok");
    let token = credential.get_token(&[ARM], &no_options()).await.unwrap();
    let claims = emu.verify_token(token.token().secret()).unwrap();
    assert_eq!(claims["aud"], "https://management.azure.com");
    let left = token.expires_on() - time::OffsetDateTime::now_utc();
    assert!(left > time::Duration::minutes(55), "{left}");

    let calls = tools.invocations();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0]["args"],
        serde_json::json!([
            "account",
            "get-access-token",
            "--output",
            "json",
            "--resource",
            "https://management.azure.com"
        ])
    );
    assert_eq!(calls[0]["env"]["AZURE_CORE_NO_COLOR"], "true");
    assert!(
        calls[0]["cwd"].as_str().unwrap().ends_with("bin"),
        "{}",
        calls[0]["cwd"]
    );

    // Beyond Python: the second call is served from memory.
    let again = credential.get_token(&[ARM], &no_options()).await.unwrap();
    assert_eq!(again.token().secret(), token.token().secret());
    assert_eq!(tools.count("az"), 1);

    // A requested tenant goes to az as --tenant.
    let options = TokenRequestOptions {
        tenant_id: Some(azidentity_emulator::DEFAULT_TENANT_ID.into()),
        ..Default::default()
    };
    credential.get_token(&[ARM], &options).await.unwrap();
    let last = tools.invocations().pop().unwrap();
    assert_eq!(last["args"][6], "--tenant");
    assert_eq!(last["args"][7], azidentity_emulator::DEFAULT_TENANT_ID);
}

#[tokio::test]
async fn azure_cli_reads_old_local_time_expiry() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az"]);
    let token = az(&tools, &emu, "old")
        .get_token(&[ARM], &no_options())
        .await
        .unwrap();
    let left = token.expires_on() - time::OffsetDateTime::now_utc();
    assert!(
        left > time::Duration::minutes(55) && left < time::Duration::minutes(61),
        "{left}"
    );
}

#[tokio::test]
async fn azure_cli_failures_say_what_to_do() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az"]);
    let e = az(&tools, &emu, "not-logged-in")
        .get_token(&[ARM], &no_options())
        .await
        .unwrap_err();
    assert!(e.is_unavailable());
    assert_eq!(e.message(), "Please run 'az login' to set up an account");
    assert_eq!(e.reason(), ErrorReason::NotSignedIn);

    let e = az(&tools, &emu, "aadsts")
        .get_token(&[ARM], &no_options())
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::AuthenticationFailed), "{e}");
    assert!(e.message().contains("AADSTS70043"), "{e}");
    assert_eq!(e.reason(), ErrorReason::Aadsts(70043));

    for mode in ["garbage", "html", "empty"] {
        let e = az(&tools, &emu, mode)
            .get_token(&[ARM], &no_options())
            .await
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::AuthenticationFailed),
            "{mode}: {e}"
        );
        assert!(
            e.message().starts_with("Unexpected output from Azure CLI"),
            "{e}"
        );
        assert_eq!(e.reason(), ErrorReason::ToolFailed);
    }

    let e = az(&tools, &emu, "fail")
        .get_token(&[ARM], &no_options())
        .await
        .unwrap_err();
    assert_eq!(e.message(), "Failed to invoke Azure CLI");

    let nowhere = Tools::new(&[]);
    let e = az(&nowhere, &emu, "ok")
        .get_token(&[ARM], &no_options())
        .await
        .unwrap_err();
    assert!(e.is_unavailable());
    assert_eq!(e.message(), "Azure CLI not found on path");
    assert_eq!(e.reason().code(), "tool_not_found");
}

#[tokio::test]
async fn a_hanging_tool_is_killed_at_the_timeout() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az"]);
    let credential = AzureCliCredential::new(AzureCliCredentialOptions {
        platform: tools.platform(&emu, "hang"),
        process_timeout: Duration::from_millis(500),
        ..Default::default()
    })
    .unwrap();
    let started = Instant::now();
    let e = credential
        .get_token(&[ARM], &no_options())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(e.is_unavailable());
    assert!(e.message().contains("did not finish within 0.5 s"), "{e}");
    assert!(e.message().contains("process_timeout"), "{e}");
    assert_eq!(e.reason(), ErrorReason::TimedOut);
}

#[tokio::test]
async fn a_tool_printing_100_mb_is_stopped() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az"]);
    let e = az(&tools, &emu, "huge")
        .get_token(&[ARM], &no_options())
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::AuthenticationFailed), "{e}");
    assert!(
        e.message().contains("printed more than 1048576 bytes"),
        "{e}"
    );
}

#[tokio::test]
async fn scopes_and_tenants_with_shell_metacharacters_never_reach_a_process() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az", "azd", "pwsh"]);
    let bad_scopes = [
        "https://x/.default; touch /tmp/pwned",
        "$(id)",
        "https://x/'.default",
        "a b",
    ];
    for scope in bad_scopes {
        for credential in [
            Box::new(az(&tools, &emu, "ok")) as Box<dyn TokenCredential>,
            Box::new(azd(&tools, &emu, "ok")),
            Box::new(pwsh(&tools, &emu, "ok")),
        ] {
            let e = credential
                .get_token(&[scope], &no_options())
                .await
                .unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::InvalidConfiguration),
                "{scope}: {e}"
            );
        }
    }
    let options = TokenRequestOptions {
        tenant_id: Some("t';id;'".into()),
        ..Default::default()
    };
    let e = pwsh(&tools, &emu, "ok")
        .get_token(&[ARM], &options)
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidConfiguration), "{e}");
    assert!(
        AzureCliCredential::new(AzureCliCredentialOptions {
            subscription: Some("sub; rm -rf ~".into()),
            ..Default::default()
        })
        .is_err()
    );
    assert_eq!(tools.invocations().len(), 0);
}

#[tokio::test]
async fn claims_challenges() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az", "azd", "pwsh"]);
    let options = TokenRequestOptions {
        claims: Some(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#.into()),
        ..Default::default()
    };
    let e = az(&tools, &emu, "ok")
        .get_token(&[ARM], &options)
        .await
        .unwrap_err();
    assert!(e.is_unavailable());
    assert!(
        e.message().contains("az login --claims-challenge eyJ"),
        "{e}"
    );
    assert_eq!(e.reason(), ErrorReason::ClaimsChallenge);
    let e = pwsh(&tools, &emu, "ok")
        .get_token(&[ARM], &options)
        .await
        .unwrap_err();
    assert!(
        e.message()
            .contains("Connect-AzAccount -ClaimsChallenge eyJ"),
        "{e}"
    );
    assert_eq!(tools.invocations().len(), 0);

    // azd takes the challenge, base64-encoded.
    azd(&tools, &emu, "ok")
        .get_token(&[ARM], &options)
        .await
        .unwrap();
    let call = tools.invocations().pop().unwrap();
    let args: Vec<&str> = call["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let at = args.iter().position(|a| *a == "--claims").unwrap();
    assert!(args[at + 1].starts_with("eyJhY2Nlc3NfdG9rZW4i"), "{args:?}");
    let e = azd(&tools, &emu, "no-claims-flag")
        .get_token(&[ARM], &options)
        .await
        .unwrap_err();
    assert!(e.is_unavailable());
    assert!(e.message().contains("1.18.1"), "{e}");
}

#[tokio::test]
async fn azure_developer_cli() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["azd"]);
    let token = azd(&tools, &emu, "ok")
        .get_token(&[ARM], &no_options())
        .await
        .unwrap();
    emu.verify_token(token.token().secret()).unwrap();
    // Read as UTC (Python would shift it by the local offset).
    let left = token.expires_on() - time::OffsetDateTime::now_utc();
    assert!(
        left > time::Duration::minutes(55) && left < time::Duration::minutes(61),
        "{left}"
    );
    let call = &tools.invocations()[0];
    assert_eq!(
        call["args"],
        serde_json::json!([
            "auth",
            "token",
            "--output",
            "json",
            "--no-prompt",
            "--scope",
            ARM
        ])
    );
    assert_eq!(call["env"]["NO_COLOR"], "true");

    let e = azd(&tools, &emu, "not-logged-in")
        .get_token(&[ARM], &no_options())
        .await
        .unwrap_err();
    assert!(e.is_unavailable());
    assert!(
        e.message().starts_with("Please run 'azd auth login'"),
        "{e}"
    );
    let e = azd(&tools, &emu, "aadsts")
        .get_token(&[ARM], &no_options())
        .await
        .unwrap_err();
    assert!(!e.is_unavailable());
    assert!(
        e.message()
            .starts_with("ERROR: fetching token: AADSTS70043"),
        "{e}"
    );
    let e = azd(&Tools::new(&[]), &emu, "ok")
        .get_token(&[ARM], &no_options())
        .await
        .unwrap_err();
    assert!(
        e.message()
            .starts_with("Azure Developer CLI could not be found"),
        "{e}"
    );
}

#[tokio::test]
async fn azure_powershell() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["pwsh"]);
    let token = pwsh(&tools, &emu, "ok")
        .get_token(&["https://vault.azure.net/.default"], &no_options())
        .await
        .unwrap();
    let claims = emu.verify_token(token.token().secret()).unwrap();
    assert_eq!(claims["aud"], "https://vault.azure.net");
    let call = &tools.invocations()[0];
    assert_eq!(call["args"][0], "-NoProfile");
    assert_eq!(call["args"][1], "-NonInteractive");
    assert_eq!(call["args"][2], "-EncodedCommand");
    for (mode, message) in [
        ("no-module", "Az.Account module >= 2.2.0 is not installed"),
        (
            "not-logged-in",
            "Please run \"Connect-AzAccount\" to set up account",
        ),
        (
            "aadsts",
            "Failed to invoke PowerShell. Enable debug logging for additional information.",
        ),
    ] {
        let e = pwsh(&tools, &emu, mode)
            .get_token(&[ARM], &no_options())
            .await
            .unwrap_err();
        assert!(e.is_unavailable(), "{mode}");
        assert_eq!(e.message(), message);
    }
    let e = pwsh(&tools, &emu, "garbage")
        .get_token(&[ARM], &no_options())
        .await
        .unwrap_err();
    assert!(
        e.message()
            .starts_with("Unexpected output from Get-AzAccessToken"),
        "{e}"
    );
    let e = pwsh(&Tools::new(&[]), &emu, "ok")
        .get_token(&[ARM], &no_options())
        .await
        .unwrap_err();
    assert_eq!(e.message(), "PowerShell is not installed");
}

#[tokio::test]
async fn concurrent_callers_share_one_run_of_the_tool() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az"]);
    let credential = std::sync::Arc::new(az(&tools, &emu, "ok"));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let credential = credential.clone();
            tokio::spawn(async move {
                credential
                    .get_token(&[ARM], &TokenRequestOptions::default())
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(tools.count("az"), 1);
}

#[tokio::test]
async fn tokens_stay_out_of_logs_and_errors() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az", "azd"]);
    let (logs, _guard) = common::LogCapture::install();
    let token = az(&tools, &emu, "ok")
        .get_token(&[ARM], &no_options())
        .await
        .unwrap();
    let secret = token.token().secret().to_owned();
    let claims = TokenRequestOptions {
        claims: Some("{\"access_token\":{}}".into()),
        ..Default::default()
    };
    let azd_token = azd(&tools, &emu, "ok")
        .get_token(&[ARM], &claims)
        .await
        .unwrap();
    let text = logs.text();
    assert!(
        text.contains("account get-access-token"),
        "the command is logged: {text}"
    );
    assert!(text.contains("--claims <redacted>"), "{text}");
    assert!(!text.contains(&secret));
    assert!(!text.contains(azd_token.token().secret()));
    assert!(!text.contains(azidentity_emulator::DEFAULT_CLIENT_SECRET));
    assert!(!format!("{token:?}").contains(&secret));
}

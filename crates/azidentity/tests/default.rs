//! DefaultAzureCredential end to end: the emulator for Entra ID, the fake developer tools on the
//! platform's PATH, and IMDS simulated as unreachable (no packet leaves loopback).

mod common;
mod developer_support;

use std::sync::Arc;
use std::time::Duration;

use azidentity::{
    ClientOptions, DefaultAzureCredential, DefaultAzureCredentialMember as Member,
    DefaultAzureCredentialOptions, ErrorKind, ErrorReason, Exclusion, MemberSetup, TokenCredential,
    TokenCredentialsSelection, TokenRequestOptions,
};
use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, Fault, RunningEmulator,
};
use developer_support::{NoImds, Tools};

const ARM: &str = "https://management.azure.com/.default";
const VAULT: &str = "https://vault.azure.net/.default";

fn options(
    emu: &RunningEmulator,
    tools: &Tools,
    extra: &[(&str, &str)],
) -> DefaultAzureCredentialOptions {
    let authority = emu.authority_host();
    let mut env = vec![("AZURE_AUTHORITY_HOST", authority.as_str())];
    env.extend_from_slice(extra);
    let platform = NoImds::platform(tools.env(emu, "ok", &env), Duration::from_millis(200));
    DefaultAzureCredentialOptions {
        client_options: ClientOptions {
            disable_instance_discovery: true,
            retry: common::quick_retries(),
            platform,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn service_principal() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AZURE_TENANT_ID", DEFAULT_TENANT_ID),
        ("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID),
        ("AZURE_CLIENT_SECRET", DEFAULT_CLIENT_SECRET),
    ]
}

fn none() -> TokenRequestOptions {
    TokenRequestOptions::default()
}

#[tokio::test]
async fn walks_to_the_azure_cli_and_then_sticks_to_it() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az", "azd"]);
    let credential = DefaultAzureCredential::new(options(&emu, &tools, &[])).unwrap();
    let token = credential.get_token(&[ARM], &none()).await.unwrap();
    emu.verify_token(token.token().secret()).unwrap();
    assert_eq!(credential.successful_credential(), Some(Member::AzureCli));

    // Later calls go to the Azure CLI only, whatever the scope.
    credential.get_token(&[VAULT], &none()).await.unwrap();
    assert_eq!(tools.count("az"), 2);

    // Even when it fails: the chain is not walked again (Python's sticky rule).
    let options = TokenRequestOptions {
        tenant_id: Some("no-such-tenant.example".into()),
        ..Default::default()
    };
    let e = credential.get_token(&[ARM], &options).await.unwrap_err();
    assert_eq!(e.credential(), "AzureCliCredential");
    assert!(!matches!(e.kind(), ErrorKind::Chain(_)), "{e}");
    assert_eq!(tools.count("az"), 3);
}

#[tokio::test]
async fn the_error_lists_every_member_with_its_reason() {
    let emu = common::emulator().await;
    let tools = Tools::new(&[]);
    let credential = DefaultAzureCredential::new(options(&emu, &tools, &[])).unwrap();
    let e = credential.get_token(&[ARM], &none()).await.unwrap_err();
    let ErrorKind::Chain(attempts) = e.kind() else {
        panic!("{e:?}");
    };
    let names: Vec<&str> = attempts.iter().map(|a| a.credential.as_str()).collect();
    assert_eq!(
        names,
        [
            "EnvironmentCredential",
            "WorkloadIdentityCredential",
            "ManagedIdentityCredential",
            "SharedTokenCacheCredential",
            "VisualStudioCodeCredential",
            "AzureCliCredential",
            "AzurePowerShellCredential",
            "AzureDeveloperCliCredential",
        ]
    );
    // Each attempt says why in a stable code, whatever its message says.
    let reasons: Vec<&str> = attempts.iter().map(|a| a.error.reason().code()).collect();
    assert_eq!(
        reasons,
        [
            "variables_missing",
            "variables_missing",
            "imds_unreachable",
            "cache_unavailable",
            "not_signed_in",
            "tool_not_found",
            "tool_not_found",
            "tool_not_found",
        ]
    );
    assert_eq!(e.reason(), ErrorReason::Chain);
    let text = e.to_string();
    assert!(
        text.starts_with("DefaultAzureCredential: failed to retrieve a token"),
        "{text}"
    );
    // A member whose constructor failed is a placeholder carrying the constructor's message.
    assert!(
        text.contains(
            "\tWorkloadIdentityCredential: WorkloadIdentityCredential authentication unavailable. \
             The workload options are not fully configured"
        ),
        "{text}"
    );
    assert!(
        text.contains("\tManagedIdentityCredential: no response from the IMDS endpoint"),
        "{text}"
    );
    assert!(
        text.contains("\tAzureCliCredential: Azure CLI not found on path"),
        "{text}"
    );
    assert!(credential.successful_credential().is_none());
    let members = credential.members();
    assert_eq!(members.len(), 9);
    assert_eq!(members[8].excluded, Some(Exclusion::ByDefault));
    assert_eq!(members[8].member, Member::InteractiveBrowser);
    assert_eq!(
        members[5].setup,
        &MemberSetup::Tool {
            program: "az",
            path: None
        }
    );
}

#[tokio::test]
async fn developer_tool_failures_let_the_chain_go_on() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az", "pwsh", "azd"]);
    let mut options = options(
        &emu,
        &tools,
        &[
            ("AZIDENTITY_FAKE_AZ_MODE", "aadsts"),
            ("AZIDENTITY_FAKE_PWSH_MODE", "garbage"),
        ],
    );
    options.sequential = true;
    let credential = DefaultAzureCredential::new(options).unwrap();
    credential.get_token(&[ARM], &none()).await.unwrap();
    assert_eq!(
        credential.successful_credential(),
        Some(Member::AzureDeveloperCli)
    );
}

#[tokio::test]
async fn a_slow_higher_member_still_wins_over_a_fast_lower_one() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az"]);
    for sequential in [false, true] {
        let env = tools.env(&emu, "ok", &[]);
        let mut options = options(&emu, &tools, &[]);
        options.client_options.platform =
            NoImds::serving(env, Duration::from_millis(600), "imds-token");
        options.sequential = sequential;
        let credential = DefaultAzureCredential::new(options).unwrap();
        let token = credential.get_token(&[ARM], &none()).await.unwrap();
        assert_eq!(token.token().secret(), "imds-token");
        assert_eq!(
            credential.successful_credential(),
            Some(Member::ManagedIdentity),
            "sequential: {sequential}"
        );
    }
    // Concurrently, az started with the IMDS probe and its token was thrown away; sequentially
    // it never ran.
    assert_eq!(tools.count("az"), 1);
}

#[tokio::test]
async fn nothing_starts_before_a_configured_environment_credential() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az"]);
    emu.add_fault(Fault::on_path("/oauth2/v2.0/token").delay(Duration::from_millis(300)));
    let credential =
        DefaultAzureCredential::new(options(&emu, &tools, &service_principal())).unwrap();
    credential.get_token(&[ARM], &none()).await.unwrap();
    assert_eq!(
        credential.successful_credential(),
        Some(Member::Environment)
    );
    assert_eq!(tools.count("az"), 0);
}

#[tokio::test]
async fn a_failing_higher_member_stops_the_chain_even_if_a_lower_one_has_a_token() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az"]);
    let mut env = service_principal();
    env[2] = ("AZURE_CLIENT_SECRET", "wrong-secret");
    let credential = DefaultAzureCredential::new(options(&emu, &tools, &env)).unwrap();
    let e = credential.get_token(&[ARM], &none()).await.unwrap_err();
    let ErrorKind::Chain(attempts) = e.kind() else {
        panic!("{e:?}");
    };
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].credential, "EnvironmentCredential");
    assert!(e.to_string().contains("AADSTS7000215"), "{e}");
    assert!(credential.successful_credential().is_none());
}

#[tokio::test]
async fn concurrent_first_calls_walk_the_chain_once() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az"]);
    let credential = Arc::new(DefaultAzureCredential::new(options(&emu, &tools, &[])).unwrap());
    let tasks: Vec<_> = (0..16)
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
async fn azure_token_credentials_selects_members_and_excludes_win() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az", "azd"]);
    let included = |c: &DefaultAzureCredential| -> Vec<&'static str> {
        c.members()
            .iter()
            .filter(|m| m.excluded.is_none())
            .map(|m| m.member.name())
            .collect()
    };
    let only_cli = DefaultAzureCredential::new(options(
        &emu,
        &tools,
        &[("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")],
    ))
    .unwrap();
    assert_eq!(included(&only_cli), ["AzureCliCredential"]);
    let excluded = only_cli.members();
    assert_eq!(
        excluded[0].excluded,
        Some(Exclusion::ByVariable(TokenCredentialsSelection::Only(
            Member::AzureCli
        )))
    );

    let mut prod_plus_cli = options(&emu, &tools, &[("AZURE_TOKEN_CREDENTIALS", "prod")]);
    prod_plus_cli.exclude_cli_credential = Some(false);
    let c = DefaultAzureCredential::new(prod_plus_cli).unwrap();
    assert_eq!(
        included(&c),
        [
            "EnvironmentCredential",
            "WorkloadIdentityCredential",
            "ManagedIdentityCredential",
            "AzureCliCredential"
        ]
    );

    // The options reach each exclude_* field by member.
    let mut only_azd = options(&emu, &tools, &[("AZURE_TOKEN_CREDENTIALS", "prod")]);
    only_azd.only(Member::AzureDeveloperCli);
    assert_eq!(only_azd.exclude_cli_credential, Some(true));
    assert_eq!(only_azd.exclusion(Member::AzureDeveloperCli), Some(false));
    let c = DefaultAzureCredential::new(only_azd).unwrap();
    assert_eq!(included(&c), ["AzureDeveloperCliCredential"]);
    assert_eq!(c.members()[0].excluded, Some(Exclusion::ByOption));

    let mut dev_without_cli = options(&emu, &tools, &[("AZURE_TOKEN_CREDENTIALS", "dev")]);
    dev_without_cli.exclude_cli_credential = Some(true);
    let c = DefaultAzureCredential::new(dev_without_cli).unwrap();
    c.get_token(&[ARM], &none()).await.unwrap();
    assert_eq!(c.successful_credential(), Some(Member::AzureDeveloperCli));
    assert_eq!(tools.count("az"), 0);

    let e = DefaultAzureCredential::new(options(
        &emu,
        &tools,
        &[("AZURE_TOKEN_CREDENTIALS", "nonsense")],
    ))
    .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidConfiguration));
    assert!(
        e.message().contains(
            "Valid values are 'dev', 'prod', or one of: environmentcredential, \
             workloadidentitycredential, managedidentitycredential, visualstudiocodecredential, \
             azureclicredential, azurepowershellcredential, azuredeveloperclicredential"
        ),
        "{e}"
    );

    let mut required = options(&emu, &tools, &[]);
    required.require_envvar = true;
    assert!(DefaultAzureCredential::new(required).is_err());
}

#[tokio::test]
async fn the_environment_credential_comes_first() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az"]);
    let credential =
        DefaultAzureCredential::new(options(&emu, &tools, &service_principal())).unwrap();
    let token = credential.get_token(&[ARM], &none()).await.unwrap();
    let claims = emu.verify_token(token.token().secret()).unwrap();
    assert_eq!(claims["appid"], DEFAULT_CLIENT_ID);
    assert_eq!(
        credential.successful_credential(),
        Some(Member::Environment)
    );
}

#[tokio::test]
async fn managed_identity_in_the_chain_uses_azure_client_id_and_the_emulators_imds() {
    use azidentity_emulator::{
        HostKind, ManagedIdentityHost, SYSTEM_ASSIGNED_OBJECT_ID, USER_ASSIGNED_CLIENT_ID,
        USER_ASSIGNED_OBJECT_ID,
    };
    let emu = common::emulator().await;
    let host = emu
        .start_managed_identity(ManagedIdentityHost::new(HostKind::Imds))
        .await
        .unwrap();
    let tools = Tools::new(&["az"]);
    let host_env: Vec<(&str, &str)> = host
        .env()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // AZURE_CLIENT_ID alone (no secret) selects a user-assigned identity, as in Python's DAC.
    let mut with_client_id = host_env.clone();
    with_client_id.push(("AZURE_CLIENT_ID", USER_ASSIGNED_CLIENT_ID));
    let credential = DefaultAzureCredential::new(options(&emu, &tools, &with_client_id)).unwrap();
    let token = credential.get_token(&[VAULT], &none()).await.unwrap();
    assert_eq!(
        credential.successful_credential(),
        Some(Member::ManagedIdentity)
    );
    let claims = emu.verify_token(token.token().secret()).unwrap();
    assert_eq!(claims["oid"], USER_ASSIGNED_OBJECT_ID);

    // managed_identity_client_id = "" forces the system-assigned identity.
    let mut forced = options(&emu, &tools, &with_client_id);
    forced.managed_identity_client_id = Some(String::new());
    let credential = DefaultAzureCredential::new(forced).unwrap();
    let token = credential.get_token(&[VAULT], &none()).await.unwrap();
    let claims = emu.verify_token(token.token().secret()).unwrap();
    assert_eq!(claims["oid"], SYSTEM_ASSIGNED_OBJECT_ID);
    // The endpoint is configured: managed identity is the intended credential, az never ran.
    assert_eq!(tools.count("az"), 0);
}

#[tokio::test]
async fn no_secret_or_token_reaches_logs_or_errors() {
    let emu = common::emulator().await;
    let tools = Tools::new(&["az"]);
    let (logs, _guard) = common::LogCapture::install();
    let mut env = service_principal();
    env[2] = ("AZURE_CLIENT_SECRET", "dac-wrong-secret-value-77");
    let failing = DefaultAzureCredential::new(options(&emu, &tools, &env)).unwrap();
    let e = failing.get_token(&[ARM], &none()).await.unwrap_err();
    let working = DefaultAzureCredential::new(options(&emu, &tools, &[])).unwrap();
    let token = working.get_token(&[ARM], &none()).await.unwrap();
    let everything = format!("{e}\n{e:?}\n{failing:?}\n{working:?}\n{}", logs.text());
    assert!(
        everything.contains("AADSTS7000215"),
        "the failure is explained"
    );
    assert!(everything.contains("acquired a token from AzureCliCredential"));
    assert!(!everything.contains("dac-wrong-secret-value-77"));
    assert!(!everything.contains(DEFAULT_CLIENT_SECRET));
    assert!(!everything.contains(token.token().secret()));
}

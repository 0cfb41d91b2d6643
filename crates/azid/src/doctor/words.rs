//! The doctor's English: what each member found, what it tries, why it is left out, and the
//! one thing to do next. Chosen from the library's types (member, setup, exclusion, error
//! reason), never from its messages, so rewording a library message changes nothing here.

use azidentity::{
    DefaultAzureCredentialMember as Member, EnvironmentVariables as Vars, Error, Exclusion,
    ManagedIdentitySource, MemberSetup, TokenCredentialsSelection,
};

/// What a member found at construction, in words.
pub fn setup(member: Member, setup: &MemberSetup) -> String {
    match setup {
        MemberSetup::Variables { set, .. } if member == Member::WorkloadIdentity => {
            if set.contains(&Vars::AZURE_FEDERATED_TOKEN_FILE) {
                format!("set: {}", set.join(", "))
            } else {
                "AZURE_FEDERATED_TOKEN_FILE is not set (not a Kubernetes pod with workload \
                 identity)"
                    .to_owned()
            }
        }
        MemberSetup::Variables { set, .. } if set.is_empty() => {
            "no AZURE_* service principal variables are set".to_owned()
        }
        MemberSetup::Variables { set, .. } => format!("set: {}", set.join(", ")),
        MemberSetup::ManagedIdentity {
            source: Some(ManagedIdentitySource::Imds),
            imds_endpoint: Some(host),
        } => format!("IMDS at {host} (AZURE_POD_IDENTITY_AUTHORITY_HOST)"),
        MemberSetup::ManagedIdentity {
            source: Some(ManagedIdentitySource::Imds),
            ..
        } => "no managed identity variables; will probe IMDS at 169.254.169.254 (1 s, no \
              retries)"
            .to_owned(),
        MemberSetup::ManagedIdentity {
            source: Some(source),
            ..
        } => format!("detected {source}"),
        MemberSetup::ManagedIdentity { source: None, .. } => {
            "IDENTITY_ENDPOINT is set without IDENTITY_HEADER or IMDS_ENDPOINT".to_owned()
        }
        MemberSetup::File {
            path: Some(path),
            exists: true,
        } if member == Member::VisualStudioCode => format!("auth record {}", path.display()),
        MemberSetup::File { .. } if member == Member::VisualStudioCode => {
            "no VS Code Azure Resources auth record".to_owned()
        }
        MemberSetup::File {
            path: Some(path),
            exists: true,
        } => format!("cache file {}", path.display()),
        MemberSetup::File {
            path: Some(path), ..
        } => format!("no cache file at {}", path.display()),
        MemberSetup::File { path: None, .. } => "no home directory".to_owned(),
        MemberSetup::Tool {
            program,
            path: Some(path),
        } => format!("{program} found at {}", path.display()),
        MemberSetup::Tool {
            program,
            path: None,
        } => format!("{program} is not on PATH"),
        MemberSetup::Interactive => {
            "signs in through the default browser and a loopback redirect".to_owned()
        }
        _ => "nothing checked in advance".to_owned(),
    }
}

/// What each member does to get a token, in words.
pub fn tries(member: Member) -> &'static str {
    match member {
        Member::Environment => {
            "a service principal from AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"
        }
        Member::WorkloadIdentity => {
            "exchanging the Kubernetes service account token in AZURE_FEDERATED_TOKEN_FILE"
        }
        Member::ManagedIdentity => "the host's managed identity endpoint (IMDS: a 1 s probe first)",
        Member::SharedTokenCache => {
            "accounts in the shared developer cache ~/.IdentityService/msal.cache.nocae"
        }
        Member::VisualStudioCode => "the VS Code Azure Resources sign-in (auth record + broker)",
        Member::AzureCli => "az account get-access-token --output json --resource <resource>",
        Member::AzurePowerShell => {
            "pwsh -NoProfile -NonInteractive -EncodedCommand <Get-AzAccessToken script>"
        }
        Member::AzureDeveloperCli => "azd auth token --output json --no-prompt --scope <scope>",
        Member::InteractiveBrowser => "a sign-in page in the default browser",
        _ => "its own sign-in",
    }
}

/// Why a member is not in the chain, in words.
pub fn exclusion(member: Member, exclusion: Exclusion) -> String {
    let var = Vars::AZURE_TOKEN_CREDENTIALS;
    match exclusion {
        Exclusion::ByOption => format!(
            "left out by --credential or --exclude (the option {})",
            member.exclude_option()
        ),
        Exclusion::ByDefault => "excluded by default (it opens a browser); name it with \
                                 --credential to use it"
            .to_owned(),
        Exclusion::ByVariable(TokenCredentialsSelection::Dev) => {
            format!("{var}=dev selects developer tools only")
        }
        Exclusion::ByVariable(TokenCredentialsSelection::Prod) => {
            format!("{var}=prod selects environment, workload and managed identity only")
        }
        Exclusion::ByVariable(TokenCredentialsSelection::Only(chosen)) => {
            format!("{var} selects {chosen} only")
        }
        _ => "left out of the chain".to_owned(),
    }
}

/// One rule of the fix table: for this member (any when `None`) and this reason code (any
/// when `None`), this advice; `{code}` stands for the reason (`AADSTS70043`).
struct Fix {
    member: Option<Member>,
    reason: Option<&'static str>,
    text: &'static str,
}

const fn rule(member: Option<Member>, reason: Option<&'static str>, text: &'static str) -> Fix {
    Fix {
        member,
        reason,
        text,
    }
}

/// First match wins.
const FIXES: &[Fix] = &[
    rule(
        None,
        Some("timed_out"),
        "the tool is slow or waiting for input: run it yourself, or raise --process-timeout",
    ),
    rule(
        Some(Member::Environment),
        Some("variables_missing"),
        "to use a service principal, set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET; otherwise nothing to do",
    ),
    rule(
        Some(Member::Environment),
        Some("aadsts"),
        "the service principal was refused ({code}): check AZURE_CLIENT_SECRET (expired or for another app?), AZURE_CLIENT_ID and AZURE_TENANT_ID",
    ),
    rule(
        Some(Member::Environment),
        None,
        "the service principal was refused: check AZURE_CLIENT_SECRET (expired or for another app?), AZURE_CLIENT_ID and AZURE_TENANT_ID",
    ),
    rule(
        Some(Member::WorkloadIdentity),
        None,
        "only on Kubernetes with Entra Workload ID: label the pod azure.workload.identity/use=true and use a service account annotated with the app's client id; elsewhere nothing to do",
    ),
    rule(
        Some(Member::ManagedIdentity),
        Some("imds_unreachable"),
        "only on an Azure host with a managed identity; off Azure, skip the probe with --exclude mi (or AZURE_TOKEN_CREDENTIALS=dev)",
    ),
    rule(
        Some(Member::ManagedIdentity),
        Some("variables_missing"),
        "the environment names a managed identity endpoint but not its kind: set IDENTITY_HEADER (App Service) or IMDS_ENDPOINT (Azure Arc), or unset IDENTITY_ENDPOINT",
    ),
    rule(
        Some(Member::ManagedIdentity),
        None,
        "assign the managed identity to this resource, or pass its client id (AZURE_CLIENT_ID)",
    ),
    rule(
        Some(Member::SharedTokenCache),
        Some("multiple_accounts"),
        "several accounts are cached: set AZURE_USERNAME (and AZURE_TENANT_ID) to pick one",
    ),
    rule(
        Some(Member::SharedTokenCache),
        None,
        "used by Visual Studio and older tools; nothing to do unless you sign in with them",
    ),
    rule(
        Some(Member::VisualStudioCode),
        None,
        "VS Code's sign-in needs the Windows broker; use `az login` or `azd auth login` instead",
    ),
    rule(
        Some(Member::AzureCli),
        Some("tool_not_found"),
        "install the Azure CLI (https://aka.ms/azure-cli), then run `az login`",
    ),
    rule(
        Some(Member::AzureCli),
        Some("claims_challenge"),
        "run the `az login --claims-challenge …` command in the message",
    ),
    rule(
        Some(Member::AzureCli),
        Some("aadsts"),
        "run `az login` (the sign-in needs renewing: {code})",
    ),
    rule(Some(Member::AzureCli), None, "run `az login`"),
    rule(
        Some(Member::AzurePowerShell),
        Some("tool_not_found"),
        "install PowerShell 7 and the Az.Accounts module (Install-Module Az.Accounts), then run Connect-AzAccount",
    ),
    rule(
        Some(Member::AzurePowerShell),
        Some("claims_challenge"),
        "run the `Connect-AzAccount -ClaimsChallenge …` command in the message",
    ),
    rule(
        Some(Member::AzurePowerShell),
        None,
        "run `Connect-AzAccount` in pwsh",
    ),
    rule(
        Some(Member::AzureDeveloperCli),
        Some("tool_not_found"),
        "install the Azure Developer CLI (https://aka.ms/azure-dev), then run `azd auth login`",
    ),
    rule(
        Some(Member::AzureDeveloperCli),
        Some("claims_challenge"),
        "update azd to 1.18.1 or later, which passes claims challenges on",
    ),
    rule(
        Some(Member::AzureDeveloperCli),
        None,
        "run `azd auth login`",
    ),
    rule(
        Some(Member::InteractiveBrowser),
        None,
        "finish the sign-in in the browser, or use `az login` for a reusable sign-in",
    ),
    rule(
        None,
        None,
        "read the message above; `azid token --verbose` logs each step",
    ),
];

/// The one thing to do next, from the member and the error's reason.
pub fn fix(member: Member, error: &Error) -> String {
    let reason = error.reason();
    let applies = |fix: &&Fix| {
        fix.member.is_none_or(|m| m == member) && fix.reason.is_none_or(|r| r == reason.code())
    };
    let text = FIXES.iter().find(applies).map_or("", |fix| fix.text);
    text.replace("{code}", &reason.to_string())
}

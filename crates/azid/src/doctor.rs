//! `azid doctor`: walks `DefaultAzureCredential` one member at a time and says, for each, what it
//! found, what it tried, how long that took, why it did not give a token, and what to do about
//! it. The answer to "which credential was meant to work, and why didn't it?".

mod capture;

use std::time::Instant;

use azidentity::{DefaultAzureCredentialMember, Error, TokenRequestOptions};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

#[derive(Args)]
pub struct DoctorArgs {
    /// Scope to try (repeatable).
    #[arg(
        long = "scope",
        default_value = "https://management.azure.com/.default"
    )]
    scopes: Vec<String>,
    /// Tenant to ask for.
    #[arg(long)]
    tenant: Option<String>,
    /// Try every member, even after one gave a token or one failed.
    #[arg(long)]
    all: bool,
    /// Which credentials, and how.
    #[command(flatten)]
    pub(crate) chain: crate::chain::ChainArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Human)]
    output: Output,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Human,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Token,
    Unavailable,
    Failed,
    Excluded,
    NotTried,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Token => "token",
            Status::Unavailable => "unavailable",
            Status::Failed => "failed",
            Status::Excluded => "excluded",
            Status::NotTried => "not_tried",
        }
    }
}

struct Report {
    name: &'static str,
    setup: String,
    tries: &'static str,
    starts_early: bool,
    status: Status,
    message: Option<String>,
    elapsed_ms: Option<f64>,
    expires_on: Option<String>,
    fix: Option<String>,
    ran: Vec<String>,
}

pub async fn run(args: DoctorArgs) -> Result<(), String> {
    let credential = crate::chain::build(&args.chain, args.tenant.as_deref())?;
    let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
    let options = TokenRequestOptions {
        tenant_id: args.tenant.clone(),
        ..Default::default()
    };
    let mut reports = Vec::new();
    let mut chosen: Option<&'static str> = None;
    let mut stopped_by: Option<&'static str> = None;
    for member in credential.members() {
        reports.push(examine(&member, &scopes, &options, chosen, stopped_by, args.all).await);
        let report = reports.last().expect("just pushed");
        match report.status {
            Status::Token if chosen.is_none() && stopped_by.is_none() => chosen = Some(report.name),
            Status::Failed if chosen.is_none() && stopped_by.is_none() => {
                stopped_by = Some(report.name)
            }
            _ => {}
        }
    }
    let selection = std::env::var("AZURE_TOKEN_CREDENTIALS").ok();
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&args, &reports, chosen, stopped_by, selection))
                .unwrap_or_default()
        ),
        Output::Human => print!(
            "{}",
            to_text(&args, &reports, chosen, stopped_by, selection)
        ),
    }
    match chosen {
        Some(_) => Ok(()),
        None => Err("azid doctor: no credential in the chain gave a token".to_owned()),
    }
}

async fn examine(
    member: &DefaultAzureCredentialMember<'_>,
    scopes: &[&str],
    options: &TokenRequestOptions,
    chosen: Option<&str>,
    stopped_by: Option<&str>,
    all: bool,
) -> Report {
    let mut report = Report {
        name: member.name,
        setup: member.setup.to_owned(),
        tries: tries(member.name),
        starts_early: member.starts_early,
        status: Status::NotTried,
        message: None,
        elapsed_ms: None,
        expires_on: None,
        fix: None,
        ran: Vec::new(),
    };
    let Some(credential) = member.credential else {
        report.status = Status::Excluded;
        report.message = member.excluded.map(str::to_owned);
        return report;
    };
    if !all && (chosen.is_some() || stopped_by.is_some()) {
        report.message = Some(match (chosen, stopped_by) {
            (Some(first), _) => format!("{first} comes first and gave a token"),
            (_, Some(failed)) => format!("the chain stops at {failed}'s failure"),
            _ => String::new(),
        });
        return report;
    }
    let started = Instant::now();
    let (outcome, ran) = capture::commands_run(credential.get_token(scopes, options)).await;
    report.ran = ran;
    report.elapsed_ms = Some((started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0);
    match outcome {
        Ok(token) => {
            report.status = Status::Token;
            report.expires_on = token.expires_on.format(&Rfc3339).ok();
        }
        Err(error) => {
            report.status = if error.is_unavailable() {
                Status::Unavailable
            } else {
                Status::Failed
            };
            report.fix = Some(fix(member.name, &error));
            report.message = Some(error.message().to_owned());
        }
    }
    report
}

/// What each member does to get a token, in words.
fn tries(name: &str) -> &'static str {
    match name {
        "EnvironmentCredential" => {
            "a service principal from AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"
        }
        "WorkloadIdentityCredential" => {
            "exchanging the Kubernetes service account token in AZURE_FEDERATED_TOKEN_FILE"
        }
        "ManagedIdentityCredential" => {
            "the host's managed identity endpoint (IMDS: a 1 s probe first)"
        }
        "SharedTokenCacheCredential" => {
            "accounts in the shared developer cache ~/.IdentityService/msal.cache.nocae"
        }
        "VisualStudioCodeCredential" => {
            "the VS Code Azure Resources sign-in (auth record + broker)"
        }
        "AzureCliCredential" => "az account get-access-token --output json --resource <resource>",
        "AzurePowerShellCredential" => {
            "pwsh -NoProfile -NonInteractive -EncodedCommand <Get-AzAccessToken script>"
        }
        "InteractiveBrowserCredential" => "a sign-in page in the default browser",
        _ => "azd auth token --output json --no-prompt --scope <scope>",
    }
}

/// The one thing to do next, from the member and what it said.
fn fix(name: &str, error: &Error) -> String {
    let message = error.message();
    let has = |needle: &str| message.contains(needle);
    let aadsts = error.http().and_then(|h| h.aadsts()).or_else(|| {
        message.find("AADSTS").map(|at| {
            message[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect()
        })
    });
    if has("did not finish within") {
        return "the tool is slow or waiting for input: run it yourself, or raise --process-timeout"
            .to_owned();
    }
    match name {
        "EnvironmentCredential" if error.is_unavailable() => {
            "to use a service principal, set AZURE_TENANT_ID, AZURE_CLIENT_ID and \
             AZURE_CLIENT_SECRET; otherwise nothing to do"
                .to_owned()
        }
        "EnvironmentCredential" => format!(
            "the service principal was refused{}: check AZURE_CLIENT_SECRET (expired or for \
             another app?), AZURE_CLIENT_ID and AZURE_TENANT_ID",
            aadsts.map(|c| format!(" ({c})")).unwrap_or_default()
        ),
        "WorkloadIdentityCredential" => {
            "only on Kubernetes with Entra Workload ID: label the pod azure.workload.identity/\
             use=true and use a service account annotated with the app's client id; elsewhere \
             nothing to do"
                .to_owned()
        }
        "ManagedIdentityCredential" if error.is_unavailable() => {
            "only on an Azure host with a managed identity; off Azure, skip the probe with \
             --exclude mi (or AZURE_TOKEN_CREDENTIALS=dev)"
                .to_owned()
        }
        "ManagedIdentityCredential" => {
            "assign the managed identity to this resource, or pass its client id \
             (AZURE_CLIENT_ID)"
                .to_owned()
        }
        "SharedTokenCacheCredential" if has("Multiple accounts") => {
            "several accounts are cached: set AZURE_USERNAME (and AZURE_TENANT_ID) to pick one"
                .to_owned()
        }
        "SharedTokenCacheCredential" => {
            "used by Visual Studio and older tools; nothing to do unless you sign in with them"
                .to_owned()
        }
        "VisualStudioCodeCredential" => {
            "VS Code's sign-in needs the Windows broker; use `az login` or `azd auth login` \
             instead"
                .to_owned()
        }
        "AzureCliCredential" if has("not found") => {
            "install the Azure CLI (https://aka.ms/azure-cli), then run `az login`".to_owned()
        }
        "AzureCliCredential" if has("claims-challenge") => {
            "run the `az login --claims-challenge …` command in the message".to_owned()
        }
        "AzureCliCredential" => format!(
            "run `az login`{}",
            aadsts
                .map(|c| format!(" (the sign-in needs renewing: {c})"))
                .unwrap_or_default()
        ),
        "AzurePowerShellCredential" if has("not installed") => {
            "install PowerShell 7 and the Az.Accounts module (Install-Module Az.Accounts), then \
             run Connect-AzAccount"
                .to_owned()
        }
        "AzurePowerShellCredential" => "run `Connect-AzAccount` in pwsh".to_owned(),
        "InteractiveBrowserCredential" => {
            "finish the sign-in in the browser, or use `az login` for a reusable sign-in".to_owned()
        }
        _ if has("could not be found") => {
            "install the Azure Developer CLI (https://aka.ms/azure-dev), then run `azd auth login`"
                .to_owned()
        }
        _ => "run `azd auth login`".to_owned(),
    }
}

fn to_json(
    args: &DoctorArgs,
    reports: &[Report],
    chosen: Option<&str>,
    stopped_by: Option<&str>,
    selection: Option<String>,
) -> Value {
    json!({
        "scopes": args.scopes,
        "tenant": args.tenant,
        "azure_token_credentials": selection,
        "sequential_walk": true,
        "result": {
            "credential": chosen,
            "stopped_by_failure_of": stopped_by,
        },
        "members": reports.iter().enumerate().map(|(i, r)| json!({
            "position": i + 1,
            "name": r.name,
            "status": r.status.label(),
            "configured": r.setup,
            "tries": r.tries,
            "ran": r.ran,
            "starts_early_in_chain": r.starts_early,
            "elapsed_ms": r.elapsed_ms,
            "message": r.message,
            "expires_on": r.expires_on,
            "fix": r.fix,
        })).collect::<Vec<_>>(),
    })
}

fn to_text(
    args: &DoctorArgs,
    reports: &[Report],
    chosen: Option<&str>,
    stopped_by: Option<&str>,
    selection: Option<String>,
) -> String {
    let mut out = format!(
        "DefaultAzureCredential, for {}{}\nAZURE_TOKEN_CREDENTIALS: {}\n\n",
        args.scopes.join(" "),
        args.tenant
            .as_deref()
            .map(|t| format!(" in tenant {t}"))
            .unwrap_or_default(),
        selection
            .as_deref()
            .unwrap_or("(not set: every credential)")
    );
    for (i, r) in reports.iter().enumerate() {
        let status = match r.status {
            Status::Token => "TOKEN",
            Status::Unavailable => "unavailable",
            Status::Failed => "FAILED",
            Status::Excluded => "excluded",
            Status::NotTried => "not tried",
        };
        let elapsed = r
            .elapsed_ms
            .map(|ms| format!("{ms:>8.1} ms"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{:>2}. {:<29} {:<12}{elapsed}\n",
            i + 1,
            r.name,
            status
        ));
        let indent = "      ";
        if r.status != Status::NotTried {
            out.push_str(&format!("{indent}found: {}\n", r.setup));
        }
        if matches!(
            r.status,
            Status::Token | Status::Unavailable | Status::Failed
        ) {
            out.push_str(&format!("{indent}tried: {}\n", r.tries));
        }
        for command in &r.ran {
            out.push_str(&format!("{indent}ran: {command}\n"));
        }
        if let Some(expires) = &r.expires_on {
            out.push_str(&format!("{indent}token expires {expires}\n"));
        }
        if let Some(message) = &r.message {
            let label = match r.status {
                Status::Excluded | Status::NotTried => "why",
                _ => "said",
            };
            let message = message.replace('\n', &format!("\n{indent}      "));
            out.push_str(&format!("{indent}{label}: {message}\n"));
        }
        if let Some(fix) = &r.fix {
            out.push_str(&format!("{indent}fix: {fix}\n"));
        }
    }
    out.push('\n');
    match (chosen, stopped_by) {
        (Some(name), _) => out.push_str(&format!("Result: DefaultAzureCredential uses {name}.\n")),
        (None, Some(name)) => out.push_str(&format!(
            "Result: no token. {name} failed, and a failure stops the chain (only \"unavailable\" \
             lets the next credential try). Apply its fix above.\n"
        )),
        (None, None) => out.push_str(
            "Result: no token: every credential was unavailable. Apply the fix of the one you \
             mean to use (for a developer machine usually: az login).\n",
        ),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use azidentity::ErrorKind;

    #[test]
    fn fixes_follow_the_failure() {
        let e = Error::new(
            ErrorKind::CredentialUnavailable,
            "AzureCliCredential",
            "Azure CLI not found on path",
        );
        assert!(fix("AzureCliCredential", &e).starts_with("install the Azure CLI"));
        let e = Error::new(
            ErrorKind::AuthenticationFailed,
            "AzureCliCredential",
            "ERROR: AADSTS70043: expired",
        );
        assert_eq!(
            fix("AzureCliCredential", &e),
            "run `az login` (the sign-in needs renewing: AADSTS70043)"
        );
        let e = Error::new(
            ErrorKind::CredentialUnavailable,
            "X",
            "'az' did not finish within 10 s",
        );
        assert!(fix("AzureCliCredential", &e).contains("--process-timeout"));
    }
}

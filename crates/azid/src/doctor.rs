//! `azid doctor`: walks `DefaultAzureCredential` one member at a time and says, for each, what it
//! found, what it tried, how long that took, why it did not give a token, and what to do about
//! it. The answer to "which credential was meant to work, and why didn't it?".

mod capture;
mod render;
mod words;

use std::time::Instant;

use azidentity::{
    DefaultAzureCredentialMember as Member, DefaultAzureCredentialMemberInfo, MemberSetup,
    TokenRequestOptions,
};
use clap::{Args, ValueEnum};
use time::format_description::well_known::Rfc3339;

pub use words::fix;

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

/// One member's examination: what the library reported, as data; `render` words it.
struct Report {
    member: Member,
    setup: MemberSetup,
    starts_early: bool,
    status: Status,
    /// The stable reason code: the error's, the exclusion's, or why it was not tried.
    reason: Option<&'static str>,
    /// The AADSTS code, when Entra refused.
    aadsts: Option<String>,
    /// What the member said (its error message), or why it was skipped.
    message: Option<String>,
    elapsed_ms: Option<f64>,
    expires_on: Option<String>,
    fix: Option<String>,
    ran: Vec<String>,
}

/// Where the walk stands: which member gave the token, or whose failure stopped the chain.
#[derive(Clone, Copy, Default)]
struct Outcome {
    chosen: Option<Member>,
    stopped_by: Option<Member>,
}

pub async fn run(args: DoctorArgs) -> Result<(), crate::flags::Failure> {
    let credential = crate::chain::build(&args.chain, args.tenant.as_deref())?;
    let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
    let options = TokenRequestOptions {
        tenant_id: args.tenant.clone(),
        ..Default::default()
    };
    let mut reports = Vec::new();
    let mut outcome = Outcome::default();
    for member in credential.members() {
        let report = examine(&member, &scopes, &options, outcome, args.all).await;
        if outcome.chosen.is_none() && outcome.stopped_by.is_none() {
            match report.status {
                Status::Token => outcome.chosen = Some(report.member),
                Status::Failed => outcome.stopped_by = Some(report.member),
                _ => {}
            }
        }
        reports.push(report);
    }
    let selection = std::env::var("AZURE_TOKEN_CREDENTIALS").ok();
    let login = crate::profile::record_note();
    let page = render::Page {
        login: login
            .as_ref()
            .map(|note| (note, !args.chain.names_credentials())),
        scopes: &args.scopes,
        tenant: args.tenant.as_deref(),
        selection: selection.as_deref(),
        reports: &reports,
        outcome,
    };
    match args.output {
        Output::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&page.json()).unwrap_or_default()
        )?,
        Output::Human => crate::stdout::write(format_args!("{}", page.text()))?,
    }
    match outcome.chosen {
        Some(_) => Ok(()),
        None => Err("azid doctor: no credential in the chain gave a token".into()),
    }
}

async fn examine(
    info: &DefaultAzureCredentialMemberInfo<'_>,
    scopes: &[&str],
    options: &TokenRequestOptions,
    outcome: Outcome,
    all: bool,
) -> Report {
    let mut report = Report {
        member: info.member,
        setup: info.setup.clone(),
        starts_early: info.starts_early,
        status: Status::NotTried,
        reason: None,
        aadsts: None,
        message: None,
        elapsed_ms: None,
        expires_on: None,
        fix: None,
        ran: Vec::new(),
    };
    let Some(credential) = info.credential else {
        report.status = Status::Excluded;
        if let Some(exclusion) = info.excluded {
            report.reason = Some(exclusion.code());
            report.message = Some(words::exclusion(info.member, exclusion));
        }
        return report;
    };
    if !all {
        let skipped = match (outcome.chosen, outcome.stopped_by) {
            (Some(first), _) => Some((
                "after_token",
                format!("{first} comes first and gave a token"),
            )),
            (_, Some(failed)) => Some((
                "after_failure",
                format!("the chain stops at {failed}'s failure"),
            )),
            _ => None,
        };
        if let Some((reason, message)) = skipped {
            report.reason = Some(reason);
            report.message = Some(message);
            return report;
        }
    }
    let started = Instant::now();
    let (outcome, ran) = capture::commands_run(credential.get_token(scopes, options)).await;
    report.ran = ran;
    report.elapsed_ms = Some((started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0);
    match outcome {
        Ok(token) => {
            report.status = Status::Token;
            report.expires_on = token.expires_on().format(&Rfc3339).ok();
        }
        Err(error) => {
            report.status = if error.is_unavailable() {
                Status::Unavailable
            } else {
                Status::Failed
            };
            report.reason = Some(error.reason().code());
            report.aadsts = error.reason().aadsts();
            report.fix = Some(words::fix(info.member, &error));
            report.message = Some(error.message().to_owned());
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use azidentity::{Error, ErrorKind, ErrorReason};

    #[test]
    fn fixes_follow_the_reason_not_the_message() {
        let e = Error::new(
            ErrorKind::CredentialUnavailable,
            "AzureCliCredential",
            "any words at all",
        )
        .with_reason(ErrorReason::ToolNotFound);
        assert!(fix(Member::AzureCli, &e).starts_with("install the Azure CLI"));
        let e = Error::new(ErrorKind::AuthenticationFailed, "AzureCliCredential", "x")
            .with_reason(ErrorReason::Aadsts(70043));
        assert_eq!(
            fix(Member::AzureCli, &e),
            "run `az login` (the sign-in needs renewing: AADSTS70043)"
        );
        let e = Error::new(ErrorKind::CredentialUnavailable, "X", "x")
            .with_reason(ErrorReason::TimedOut);
        assert!(fix(Member::AzureCli, &e).contains("--process-timeout"));
        // A message that reads like another reason does not change the advice.
        let e = Error::new(
            ErrorKind::CredentialUnavailable,
            "SharedTokenCacheCredential",
            "Multiple accounts were found",
        );
        assert!(fix(Member::SharedTokenCache, &e).starts_with("used by Visual Studio"));
        let e = e.with_reason(ErrorReason::MultipleAccounts);
        assert!(fix(Member::SharedTokenCache, &e).starts_with("several accounts"));
        // Every member has advice of its own for an unexplained failure.
        for member in Member::ALL {
            let e = Error::new(ErrorKind::AuthenticationFailed, "X", "x");
            assert!(!fix(member, &e).is_empty(), "{member}");
        }
    }
}

//! `azid token`: one access token from `DefaultAzureCredential` (or one credential of it),
//! printed as `az account get-access-token` prints it.

use azidentity::{
    AccessToken, DefaultAzureCredentialMember as Member, Error, ErrorKind, TokenCredential,
    TokenRequestOptions,
};
use clap::{Args, ValueEnum};
use time::format_description::well_known::Rfc3339;

#[derive(Args)]
pub struct TokenArgs {
    /// Scope to request, e.g. https://management.azure.com/.default (repeatable).
    #[arg(long = "scope", required = true)]
    scopes: Vec<String>,
    /// Tenant to get the token from (must be allowed by the credential).
    #[arg(long)]
    tenant: Option<String>,
    /// A claims challenge (JSON) from a resource.
    #[arg(long)]
    claims: Option<String>,
    /// Which credentials to use, and how.
    #[command(flatten)]
    pub(crate) chain: crate::chain::ChainArgs,
    /// Where tokens are kept between runs.
    #[command(flatten)]
    cache: crate::cache::CacheArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Json)]
    output: Output,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Json,
    Tsv,
    /// kubectl's credential plugin format (ExecCredential; v1 when KUBERNETES_EXEC_INFO asks).
    ExecCredential,
}

pub async fn run(mut args: TokenArgs) -> Result<(), crate::flags::Failure> {
    // Checked before any token is fetched: kubectl's request must be answerable.
    let exec_version = match args.output {
        Output::ExecCredential => crate::exec_credential::api_version_from_env()?,
        _ => "",
    };
    args.chain.cache_persistence_options = args.cache.persistence()?;
    let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
    let options = TokenRequestOptions {
        claims: args.claims.clone(),
        tenant_id: args.tenant.clone(),
        enable_cae: false,
    };
    if let Some(managed) = crate::chain::managed_identity_by_id(&args.chain)? {
        let token = managed
            .get_token(&scopes, &options)
            .await
            .map_err(explain)?;
        outln!(
            "{}",
            render(&token, managed.name(), args.output, exec_version)
        )?;
        return Ok(());
    }
    if let Some(token) = crate::profile::token_if_signed_in(&args.chain, &scopes, &options).await? {
        outln!(
            "{}",
            render(&token, "azid login", args.output, exec_version)
        )?;
        return Ok(());
    }
    let only = args
        .chain
        .credential
        .as_deref()
        .map(crate::chain::member)
        .transpose()?;
    let credential = crate::chain::build(&args.chain, args.tenant.as_deref())?;
    let token = credential
        .get_token(&scopes, &options)
        .await
        .map_err(|e| match only {
            Some(member) => explain_member(member, e),
            None => explain(e),
        })?;
    let used = credential
        .successful_credential()
        .map_or(credential.name(), |m| m.name());
    outln!("{}", render(&token, used, args.output, exec_version))?;
    Ok(())
}

/// With `--credential X` the chain has one member: its error is X's own (named X, with X's
/// fix), not the chain's summary.
fn explain_member(member: Member, error: Error) -> String {
    let error = match error.kind() {
        ErrorKind::Chain(attempts) if attempts.len() == 1 => attempts[0].error.clone(),
        _ => error,
    };
    let fix = crate::doctor::fix(member, &error);
    format!("{}\n  fix: {fix}", explain(error))
}

fn render(token: &AccessToken, credential: &str, output: Output, exec_version: &str) -> String {
    let expires_on = token.expires_on().format(&Rfc3339).unwrap_or_default();
    match output {
        Output::Json => serde_json::to_string_pretty(&serde_json::json!({
            "accessToken": token.token().secret(),
            "expiresOn": expires_on,
            "expires_on": token.expires_on().unix_timestamp(),
            "tokenType": token.token_type(),
            "credential": credential,
        }))
        .unwrap_or_default(),
        Output::Tsv => format!(
            "{}\t{}\t{}\t{}\t{}",
            token.token().secret(),
            expires_on,
            token.expires_on().unix_timestamp(),
            token.token_type(),
            credential
        ),
        Output::ExecCredential => crate::exec_credential::render(token, exec_version),
    }
}

/// The error as a person reads it: which credential, what the service said, what to do.
pub fn explain(error: Error) -> String {
    let mut text = format!("azid: {error}");
    if matches!(error.kind(), ErrorKind::Chain(_)) {
        text.push_str(
            "\n  run `azid doctor` to see each credential's configuration and the fix to apply",
        );
    }
    if let Some(http) = error.http() {
        if let Some(code) = http.aadsts() {
            text.push_str(&format!("\n  service error: {code} (HTTP {})", http.status));
        }
        if let Some(id) = &http.correlation_id {
            text.push_str(&format!("\n  correlation id: {id}"));
        }
    }
    text
}

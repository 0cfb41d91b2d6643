//! How `azid token` and `azid doctor` build their `DefaultAzureCredential`: the options both
//! take, and the credential names `--credential` and `--exclude` accept.

use std::time::Duration;

use azidentity::{
    ClientOptions, DefaultAzureCredential, DefaultAzureCredentialMember as Member,
    DefaultAzureCredentialOptions, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    ManagedIdentityId,
};
use clap::Args;

/// The short names people type, besides the class name.
fn aliases(member: Member) -> &'static [&'static str] {
    match member {
        Member::Environment => &["environment", "env"],
        Member::WorkloadIdentity => &["workload-identity", "workload"],
        Member::ManagedIdentity => &["managed-identity", "mi", "msi"],
        Member::SharedTokenCache => &["shared-token-cache", "shared-cache"],
        Member::VisualStudioCode => &["visual-studio-code", "vscode"],
        Member::AzureCli => &["azure-cli", "cli", "az"],
        Member::AzurePowerShell => &["azure-powershell", "powershell", "pwsh"],
        Member::AzureDeveloperCli => &["azure-developer-cli", "developer-cli", "azd"],
        Member::InteractiveBrowser => &["interactive-browser", "browser"],
        _ => &[],
    }
}

/// Options shared by the commands that use the default chain.
#[derive(Args, Debug, Clone)]
pub struct ChainArgs {
    /// Use only this credential (a class name such as AzureCliCredential, or az, azd, pwsh,
    /// env, mi, workload, vscode, shared-cache, browser).
    #[arg(long, value_name = "NAME", value_parser = crate::flags::member)]
    pub credential: Option<String>,
    /// Leave this credential out of the chain (repeatable; same names as --credential).
    #[arg(long, value_name = "NAME", value_parser = crate::flags::member)]
    pub exclude: Vec<String>,
    /// Authority host (default: AZURE_AUTHORITY_HOST, else the public cloud).
    #[arg(long)]
    pub authority_host: Option<String>,
    /// Skip authority validation (private clouds, Azure Stack, the emulator).
    #[arg(long)]
    pub disable_instance_discovery: bool,
    /// Seconds az, azd and pwsh may run (more than 0, at most a day).
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = crate::flags::seconds)]
    pub process_timeout: Duration,
    /// Walk the chain one credential at a time, as Python does.
    #[arg(long)]
    pub sequential: bool,
    /// User-assigned managed identity, by client id (also used by the chain's managed identity).
    #[arg(long, value_name = "ID", conflicts_with_all = ["object_id", "resource_id"])]
    pub client_id: Option<String>,
    /// User-assigned managed identity, by object (principal) id; needs --credential managed-identity.
    #[arg(long, value_name = "ID", conflicts_with = "resource_id")]
    pub object_id: Option<String>,
    /// User-assigned managed identity, by ARM resource id; needs --credential managed-identity.
    #[arg(long, value_name = "ID")]
    pub resource_id: Option<String>,
    /// Where the chain's Entra credentials keep tokens (`azid token --cache-name/--redis`).
    #[arg(skip)]
    pub cache_persistence_options: Option<azidentity::TokenCachePersistenceOptions>,
}

/// The member the user typed (its class name in any case, or a short name), or a message
/// listing the accepted names.
pub fn member(typed: &str) -> Result<Member, String> {
    if let Ok(member) = typed.parse::<Member>() {
        return Ok(member);
    }
    let wanted = typed.trim();
    Member::ALL
        .into_iter()
        .find(|m| aliases(*m).iter().any(|a| a.eq_ignore_ascii_case(wanted)))
        .ok_or_else(|| {
            let names: Vec<String> = Member::ALL
                .iter()
                .map(|m| format!("{m} ({})", aliases(*m).join(", ")))
                .collect();
            format!(
                "azid: unknown credential {typed:?}; use one of: {}",
                names.join("; ")
            )
        })
}

/// The chain these arguments describe; `allowed_tenant` lets a requested tenant through.
pub fn build(
    args: &ChainArgs,
    allowed_tenant: Option<&str>,
) -> Result<DefaultAzureCredential, String> {
    let mut options = DefaultAzureCredentialOptions {
        client_options: ClientOptions {
            authority_host: args.authority_host.clone(),
            disable_instance_discovery: args.disable_instance_discovery,
            additionally_allowed_tenants: allowed_tenant.iter().map(|t| t.to_string()).collect(),
            ..ClientOptions::default()
        },
        sequential: args.sequential,
        cache_persistence_options: args.cache_persistence_options.clone(),
        ..Default::default()
    };
    options.process_timeout = args.process_timeout;
    if let Some(only) = &args.credential {
        options.only(member(only)?);
    }
    for excluded in &args.exclude {
        options.set_exclusion(member(excluded)?, Some(true));
    }
    if args.client_id.is_some() {
        options.managed_identity_client_id = args.client_id.clone();
    }
    DefaultAzureCredential::new(options).map_err(|e| format!("azid: {e}"))
}

impl ChainArgs {
    /// Whether a flag says which credential to use or where it gets tokens (`--credential`,
    /// `--authority-host`, a managed identity selector, a token cache flag): then `azid token`
    /// does what the flags say, and the account of `azid login` stands aside. (`--tenant` is
    /// not one: the signed-in account asks that tenant.)
    pub fn names_credentials(&self) -> bool {
        self.credential.is_some()
            || self.authority_host.is_some()
            || self.client_id.is_some()
            || self.object_id.is_some()
            || self.resource_id.is_some()
            || self.cache_persistence_options.is_some()
    }
}

/// Whether `--credential` names managed identity.
pub fn only_managed_identity(args: &ChainArgs) -> bool {
    args.credential
        .as_deref()
        .is_some_and(|name| matches!(member(name), Ok(Member::ManagedIdentity)))
}

/// A managed identity credential of its own when `--credential managed-identity` comes with an
/// identity: by object or resource id, which the default chain's options cannot express, and by
/// client id too, so that the rules are `ManagedIdentityCredential`'s and not the chain's (on
/// Cloud Shell the chain ignores a client id, as Python's does; the credential refuses it).
pub fn managed_identity_by_id(
    args: &ChainArgs,
) -> Result<Option<ManagedIdentityCredential>, String> {
    let selected =
        args.client_id.is_some() || args.object_id.is_some() || args.resource_id.is_some();
    if !(selected && only_managed_identity(args)) {
        crate::flags::check_chain(args).map_err(|m| format!("azid: {m}"))?;
        return Ok(None);
    }
    let id = ManagedIdentityId::from_selectors(
        args.client_id.as_deref(),
        args.object_id.as_deref(),
        args.resource_id.as_deref(),
    )
    .map_err(|e| format!("azid: {e}"))?;
    let options = ManagedIdentityCredentialOptions {
        id,
        ..Default::default()
    };
    ManagedIdentityCredential::new(options)
        .map(Some)
        .map_err(|e| format!("azid: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases() {
        assert_eq!(member("az").unwrap(), Member::AzureCli);
        assert_eq!(member("azurecliCREDENTIAL").unwrap(), Member::AzureCli);
        assert_eq!(member(" mi ").unwrap(), Member::ManagedIdentity);
        // Every member has short names, and none is ambiguous.
        for m in Member::ALL {
            assert!(!aliases(m).is_empty(), "{m}");
            for alias in aliases(m) {
                assert_eq!(member(alias).unwrap(), m);
            }
        }
        let e = member("nope").unwrap_err();
        assert!(
            e.contains("AzureDeveloperCliCredential (azure-developer-cli, developer-cli, azd)")
        );
    }
}

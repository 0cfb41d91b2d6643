//! How `azid token` and `azid doctor` build their `DefaultAzureCredential`: the options both
//! take, and the credential names `--credential` and `--exclude` accept.

use std::time::Duration;

use azidentity::{
    ClientOptions, DefaultAzureCredential, DefaultAzureCredentialOptions,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, ManagedIdentityId,
};
use clap::Args;

/// The members, in chain order, with the short names people type.
const MEMBERS: [(&str, &[&str]); 9] = [
    ("EnvironmentCredential", &["environment", "env"]),
    (
        "WorkloadIdentityCredential",
        &["workload-identity", "workload"],
    ),
    (
        "ManagedIdentityCredential",
        &["managed-identity", "mi", "msi"],
    ),
    (
        "SharedTokenCacheCredential",
        &["shared-token-cache", "shared-cache"],
    ),
    (
        "VisualStudioCodeCredential",
        &["visual-studio-code", "vscode"],
    ),
    ("AzureCliCredential", &["azure-cli", "cli", "az"]),
    (
        "AzurePowerShellCredential",
        &["azure-powershell", "powershell", "pwsh"],
    ),
    (
        "AzureDeveloperCliCredential",
        &["azure-developer-cli", "developer-cli", "azd"],
    ),
    (
        "InteractiveBrowserCredential",
        &["interactive-browser", "browser"],
    ),
];

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

/// The canonical name for what the user typed, or a message listing the accepted names.
pub fn member_name(typed: &str) -> Result<&'static str, String> {
    let wanted = typed.trim();
    MEMBERS
        .iter()
        .find(|(name, aliases)| {
            name.eq_ignore_ascii_case(wanted)
                || aliases.iter().any(|a| a.eq_ignore_ascii_case(wanted))
        })
        .map(|(name, _)| *name)
        .ok_or_else(|| {
            let names: Vec<String> = MEMBERS
                .iter()
                .map(|(name, aliases)| format!("{name} ({})", aliases.join(", ")))
                .collect();
            format!(
                "azid: unknown credential {typed:?}; use one of: {}",
                names.join("; ")
            )
        })
}

fn set_exclude(options: &mut DefaultAzureCredentialOptions, name: &str, exclude: bool) {
    let slot = match name {
        "EnvironmentCredential" => &mut options.exclude_environment_credential,
        "WorkloadIdentityCredential" => &mut options.exclude_workload_identity_credential,
        "ManagedIdentityCredential" => &mut options.exclude_managed_identity_credential,
        "SharedTokenCacheCredential" => &mut options.exclude_shared_token_cache_credential,
        "VisualStudioCodeCredential" => &mut options.exclude_visual_studio_code_credential,
        "AzureCliCredential" => &mut options.exclude_cli_credential,
        "AzurePowerShellCredential" => &mut options.exclude_powershell_credential,
        "InteractiveBrowserCredential" => &mut options.exclude_interactive_browser_credential,
        _ => &mut options.exclude_developer_cli_credential,
    };
    *slot = Some(exclude);
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
        let only = member_name(only)?;
        for (name, _) in MEMBERS {
            set_exclude(&mut options, name, name != only);
        }
    }
    for excluded in &args.exclude {
        set_exclude(&mut options, member_name(excluded)?, true);
    }
    if args.client_id.is_some() {
        options.managed_identity_client_id = args.client_id.clone();
    }
    DefaultAzureCredential::new(options).map_err(|e| format!("azid: {e}"))
}

/// Whether `--credential` names managed identity.
pub fn only_managed_identity(args: &ChainArgs) -> bool {
    args.credential
        .as_deref()
        .is_some_and(|name| member_name(name) == Ok("ManagedIdentityCredential"))
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
        assert_eq!(member_name("az").unwrap(), "AzureCliCredential");
        assert_eq!(
            member_name("azurecliCREDENTIAL").unwrap(),
            "AzureCliCredential"
        );
        assert_eq!(member_name(" mi ").unwrap(), "ManagedIdentityCredential");
        let e = member_name("nope").unwrap_err();
        assert!(
            e.contains("AzureDeveloperCliCredential (azure-developer-cli, developer-cli, azd)")
        );
    }
}

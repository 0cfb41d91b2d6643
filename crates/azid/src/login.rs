//! `azid login`, `azid logout`, `azid whoami`: sign a user in without the Azure CLI, keep the
//! account's tokens in the persistent MSAL cache, and let `azid token` use them silently.

use std::sync::Arc;
use std::time::Duration;

use azidentity::{
    AuthenticationRecord, ClientOptions, DeviceCodeCredential, DeviceCodeCredentialOptions,
    DeviceCodeMessage, ErrorReason, InteractiveBrowserCredential,
    InteractiveBrowserCredentialOptions, PersistentTokenCache, TokenCacheDocument,
    TokenCachePersistenceOptions, TokenRequestOptions,
};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use crate::profile::{Profile, Settings};

/// Microsoft's developer sign-on application (the Azure CLI's), as `az login` uses.
const AZURE_CLI_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// The persistent cache `azid login` keeps tokens in unless told otherwise (MSAL's name).
const DEFAULT_CACHE_NAME: &str = "msal.cache";

#[derive(Args)]
pub struct LoginArgs {
    /// Sign in on another device with a code (as `az login --use-device-code`); the default
    /// opens the browser, and falls back to a code when no browser can be opened.
    #[arg(long)]
    device_code: bool,
    /// The tenant to sign in to (default: organizations, the user's home tenant).
    #[arg(long)]
    tenant: Option<String>,
    /// The public client application to sign in with.
    #[arg(long, value_name = "ID", default_value = AZURE_CLI_CLIENT_ID)]
    client_id: String,
    /// Scope to consent to at sign-in (default: Azure Resource Manager of the cloud).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Authority host (default: AZURE_AUTHORITY_HOST, else the public cloud).
    #[arg(long)]
    authority_host: Option<String>,
    /// Skip authority validation (private clouds, Azure Stack, the emulator).
    #[arg(long)]
    disable_instance_discovery: bool,
    /// The persistent token cache to keep the account's tokens in.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_CACHE_NAME)]
    cache_name: String,
    /// Keep the cache in a 0600 file when no Secret Service (keyring) is available, as in a
    /// container or over SSH.
    #[arg(long)]
    allow_unencrypted_storage: bool,
    /// Seconds to wait for the user to finish signing in.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    timeout: u64,
}

pub async fn login(args: LoginArgs) -> Result<(), crate::flags::Failure> {
    let settings = Settings {
        disable_instance_discovery: args.disable_instance_discovery,
        cache: TokenCachePersistenceOptions {
            name: args.cache_name.clone(),
            allow_unencrypted_storage: args.allow_unencrypted_storage,
            ..Default::default()
        },
        method: String::new(),
    };
    let client_options = ClientOptions {
        authority_host: args.authority_host.clone(),
        disable_instance_discovery: args.disable_instance_discovery,
        ..ClientOptions::default()
    };
    let mut scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
    if scopes.is_empty() && !is_known_cloud(args.authority_host.as_deref()) {
        // The library picks the cloud's Resource Manager for Microsoft's clouds only; an
        // emulator or private cloud gets the public one's scope, as az does.
        scopes.push("https://management.azure.com/.default");
    }
    let options = TokenRequestOptions::default();
    let timeout = Duration::from_secs(args.timeout);

    let mut record = None;
    let mut method = "device-code";
    if !args.device_code && browser_available() {
        let browser = InteractiveBrowserCredential::new(InteractiveBrowserCredentialOptions {
            client_id: Some(args.client_id.clone()),
            tenant_id: args.tenant.clone(),
            timeout: Some(timeout),
            cache_persistence_options: Some(settings.cache.clone()),
            client_options: client_options.clone(),
            ..Default::default()
        })
        .map_err(|e| format!("azid: {e}"))?;
        eprintln!("azid: opening the sign-in page in your browser…");
        match browser.authenticate(&scopes, &options).await {
            Ok(signed_in) => {
                record = Some(signed_in);
                method = "browser";
            }
            // No browser could be started: the code works from any other device.
            Err(e) if e.reason() == ErrorReason::BrowserUnavailable => {
                eprintln!("azid: {e}\nazid: signing in with a device code instead");
            }
            Err(e) => return Err(crate::token::explain(e).into()),
        }
    }
    let record = match record {
        Some(record) => record,
        None => {
            let device = DeviceCodeCredential::new(DeviceCodeCredentialOptions {
                client_id: Some(args.client_id.clone()),
                tenant_id: args.tenant.clone(),
                timeout: Some(timeout),
                prompt_callback: Some(Arc::new(|message: &DeviceCodeMessage| {
                    eprintln!(
                        "To sign in, open {} in a browser on any device and enter the code {}",
                        message.verification_uri, message.user_code
                    );
                })),
                cache_persistence_options: Some(settings.cache.clone()),
                client_options,
                ..Default::default()
            })
            .map_err(|e| format!("azid: {e}"))?;
            device
                .authenticate(&scopes, &options)
                .await
                .map_err(crate::token::explain)?
        }
    };
    let profile = Profile {
        record,
        settings: Settings {
            method: method.to_owned(),
            ..settings
        },
    };
    let saved = profile.save()?;
    eprintln!(
        "azid: signed in as {}; `azid token` now uses this account (record: {})",
        profile.record.username(),
        saved.display()
    );
    outln!("{}", pretty(&account_json(&profile)))?;
    Ok(())
}

/// Whether the authority (the flag, else AZURE_AUTHORITY_HOST, else the public cloud) is one of
/// Microsoft's clouds.
fn is_known_cloud(flag: Option<&str>) -> bool {
    let authority = flag
        .map(str::to_owned)
        .or_else(|| std::env::var("AZURE_AUTHORITY_HOST").ok())
        .unwrap_or_default();
    let host = authority
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_ascii_lowercase();
    host.is_empty()
        || [
            "login.microsoftonline.com",
            "login.chinacloudapi.cn",
            "login.microsoftonline.us",
        ]
        .contains(&host.as_str())
}

/// Whether a browser can plausibly be opened: `$BROWSER`, a desktop session, or macOS/Windows.
/// Over SSH or in a container there is none, and `az login` would fail the same way.
fn browser_available() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("BROWSER") {
        return true;
    }
    if cfg!(any(target_os = "macos", windows)) {
        return !set("SSH_CONNECTION");
    }
    set("DISPLAY") || set("WAYLAND_DISPLAY") || set("WSL_DISTRO_NAME")
}

#[derive(Args)]
pub struct LogoutArgs {}

pub async fn logout(_args: LogoutArgs) -> Result<(), String> {
    // Whatever state the files are in, logout removes them: a damaged record must not lock the
    // user into a sign-in they cannot undo.
    let (account, cache, who) = match Profile::load() {
        Ok(Some(profile)) => (
            Some(profile.record.home_account_id().to_owned()),
            Some(profile.settings.cache),
            profile.record.username().to_owned(),
        ),
        Ok(None) => {
            eprintln!("azid: nobody is signed in");
            return Ok(());
        }
        Err(unusable) => {
            eprintln!("azid: {}; removing it", unusable.problem);
            (
                unusable.home_account_id,
                unusable.settings.map(|s| s.cache),
                "the account of the damaged sign-in".to_owned(),
            )
        }
    };
    let cache = cache.unwrap_or_else(|| TokenCachePersistenceOptions {
        name: DEFAULT_CACHE_NAME.to_owned(),
        ..Default::default()
    });
    let removed = match &account {
        Some(account) => remove_from_caches(&cache, account).await,
        None => Err(format!(
            "the record no longer says which account signed in; delete the persistent cache \
             {:?} (e.g. ~/.IdentityService/{}.nocae) to remove its tokens",
            cache.name, cache.name
        )),
    };
    Profile::forget()?;
    match removed {
        Ok(removed) => {
            eprintln!("azid: signed out {who} ({removed} cache entries removed)");
            Ok(())
        }
        Err(why) => Err(format!(
            "azid: signed out {who}, but its tokens may remain: {why}"
        )),
    }
}

/// Removes the account's entries from both cache files (CAE and not); how many went.
async fn remove_from_caches(
    cache: &TokenCachePersistenceOptions,
    account: &str,
) -> Result<usize, String> {
    let platform = azidentity::Platform::system();
    let mut removed = 0;
    for cae in [false, true] {
        let cache = PersistentTokenCache::open(cache, cae, &platform)
            .await
            .map_err(|e| e.to_string())?;
        removed += cache
            .modify(|document| remove_account(document, account))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(removed)
}

/// Removes every entry of `home_account_id` (tokens of every client, id tokens, the account),
/// as MSAL's `remove_account` does for each client; other accounts and unknown sections stay.
/// Returns how many entries went.
fn remove_account(document: &mut TokenCacheDocument, home_account_id: &str) -> usize {
    let mut root = document.as_json().clone();
    let mut removed = 0;
    for section in ["AccessToken", "RefreshToken", "IdToken", "Account"] {
        if let Some(Value::Object(entries)) = root.get_mut(section) {
            let before = entries.len();
            entries.retain(|_, entry| {
                !entry["home_account_id"]
                    .as_str()
                    .is_some_and(|id| id.eq_ignore_ascii_case(home_account_id))
            });
            removed += before - entries.len();
        }
    }
    if removed > 0
        && let Ok(updated) = TokenCacheDocument::deserialize(&Value::Object(root).to_string())
    {
        *document = updated;
    }
    removed
}

#[derive(Args)]
pub struct WhoamiArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = WhoamiOutput::Text)]
    output: WhoamiOutput,
}

#[derive(Clone, Copy, ValueEnum)]
enum WhoamiOutput {
    Text,
    Json,
}

pub async fn whoami(args: WhoamiArgs) -> Result<(), crate::flags::Failure> {
    let Some(profile) = Profile::load().map_err(|u| u.advice())? else {
        return Err(
            "azid: nobody is signed in; run `azid login` (or `azid login --device-code`)".into(),
        );
    };
    match args.output {
        WhoamiOutput::Json => outln!("{}", pretty(&account_json(&profile)))?,
        WhoamiOutput::Text => {
            let record = &profile.record;
            outln!("user:       {}", record.username())?;
            outln!("tenant:     {}", record.tenant_id())?;
            outln!("authority:  {}", record.authority())?;
            outln!("client id:  {}", record.client_id())?;
            outln!("account id: {}", record.home_account_id())?;
            outln!(
                "cache:      {}{}",
                profile.settings.cache.name,
                if profile.settings.cache.allow_unencrypted_storage {
                    " (unencrypted file allowed)"
                } else {
                    ""
                }
            )?;
        }
    }
    Ok(())
}

fn account_json(profile: &Profile) -> Value {
    let record: &AuthenticationRecord = &profile.record;
    json!({
        "username": record.username(),
        "tenantId": record.tenant_id(),
        "authority": record.authority(),
        "clientId": record.client_id(),
        "homeAccountId": record.home_account_id(),
        "cacheName": profile.settings.cache.name,
        "method": profile.settings.method,
    })
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logout_removes_only_that_account() {
        let text = r#"{
            "AccessToken": {"a": {"home_account_id": "UID.UTID", "secret": "x"},
                            "b": {"home_account_id": "other.utid", "secret": "y"}},
            "RefreshToken": {"c": {"home_account_id": "uid.utid", "secret": "z"}},
            "Account": {"d": {"home_account_id": "uid.utid"}},
            "AppMetadata": {"e": {"client_id": "x"}}
        }"#;
        let mut document = TokenCacheDocument::deserialize(text).unwrap();
        assert_eq!(remove_account(&mut document, "uid.utid"), 3);
        let json = document.as_json();
        assert_eq!(json["AccessToken"].as_object().unwrap().len(), 1);
        assert!(json["AccessToken"].get("b").is_some());
        assert!(json["RefreshToken"].as_object().unwrap().is_empty());
        assert!(json["AppMetadata"].get("e").is_some());
        assert_eq!(remove_account(&mut document, "uid.utid"), 0);
    }
}

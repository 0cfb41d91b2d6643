//! What `azid login` leaves behind for `azid token`, `azid whoami` and `azid logout`: the
//! account's AuthenticationRecord (Python's JSON, so Python code can load it too) and the
//! sign-in settings, in `$AZID_CONFIG_DIR` (default `~/.azid`). Tokens themselves live in the
//! persistent MSAL cache, never in these files.

use std::path::{Path, PathBuf};

use azidentity::{
    AuthenticationRecord, ClientOptions, DeviceCodeCredential, DeviceCodeCredentialOptions,
    TokenCachePersistenceOptions,
};
use serde_json::{Value, json};

const RECORD_FILE: &str = "authentication_record.json";
const SETTINGS_FILE: &str = "login.json";

/// How the account signed in, so that later commands find its tokens the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub disable_instance_discovery: bool,
    pub cache: TokenCachePersistenceOptions,
    /// `device-code` or `browser`: shown by `azid whoami`.
    pub method: String,
}

/// A signed-in account.
#[derive(Debug, Clone)]
pub struct Profile {
    pub record: AuthenticationRecord,
    pub settings: Settings,
}

/// `$AZID_CONFIG_DIR`, else `~/.azid`.
pub fn dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("AZID_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let home = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    std::env::var_os(home)
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".azid"))
        .ok_or_else(|| format!("azid: {home} is not set; set AZID_CONFIG_DIR to keep the sign-in"))
}

impl Profile {
    /// The signed-in account, or `None` when nobody is signed in.
    pub fn load() -> Result<Option<Profile>, String> {
        // Without a home directory nobody can have signed in (a service's environment).
        match dir() {
            Ok(dir) => Self::load_from(&dir),
            Err(_) => Ok(None),
        }
    }

    fn load_from(dir: &Path) -> Result<Option<Profile>, String> {
        let record_path = dir.join(RECORD_FILE);
        let record = match std::fs::read_to_string(&record_path) {
            Ok(text) => AuthenticationRecord::deserialize(&text).map_err(|e| {
                format!(
                    "azid: {} is damaged ({e}); run `azid logout` and `azid login` again",
                    record_path.display()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("azid: cannot read {}: {e}", record_path.display())),
        };
        let settings_path = dir.join(SETTINGS_FILE);
        let settings: Value = match std::fs::read_to_string(&settings_path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| format!("azid: {} is not JSON ({e})", settings_path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
            Err(e) => {
                return Err(format!(
                    "azid: cannot read {}: {e}",
                    settings_path.display()
                ));
            }
        };
        let defaults = TokenCachePersistenceOptions::default();
        let settings = Settings {
            disable_instance_discovery: settings["disableInstanceDiscovery"]
                .as_bool()
                .unwrap_or(false),
            cache: TokenCachePersistenceOptions {
                name: settings["cacheName"]
                    .as_str()
                    .map_or(defaults.name, str::to_owned),
                allow_unencrypted_storage: settings["allowUnencryptedStorage"]
                    .as_bool()
                    .unwrap_or(false),
                ..Default::default()
            },
            method: settings["method"].as_str().unwrap_or("").to_owned(),
        };
        Ok(Some(Profile { record, settings }))
    }

    /// Writes both files, readable by the user only.
    pub fn save(&self) -> Result<PathBuf, String> {
        let dir = dir()?;
        create_private_dir(&dir)?;
        let settings = json!({
            "disableInstanceDiscovery": self.settings.disable_instance_discovery,
            "cacheName": self.settings.cache.name,
            "allowUnencryptedStorage": self.settings.cache.allow_unencrypted_storage,
            "method": self.settings.method,
        });
        let record_path = dir.join(RECORD_FILE);
        write_private(&record_path, &self.record.serialize())?;
        write_private(
            &dir.join(SETTINGS_FILE),
            &serde_json::to_string_pretty(&settings).unwrap_or_default(),
        )?;
        Ok(record_path)
    }

    /// Removes both files (nothing to do when they are gone).
    pub fn forget() -> Result<(), String> {
        let dir = dir()?;
        for file in [RECORD_FILE, SETTINGS_FILE] {
            let path = dir.join(file);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("azid: cannot remove {}: {e}", path.display())),
            }
        }
        Ok(())
    }

    /// A credential that gets this account's tokens from the persistent cache (refreshing them
    /// with its refresh token) and never prompts: `AuthenticationRequired` when it cannot.
    pub fn silent_credential(
        &self,
        allowed_tenant: Option<&str>,
    ) -> Result<DeviceCodeCredential, String> {
        DeviceCodeCredential::new(DeviceCodeCredentialOptions {
            authentication_record: Some(self.record.clone()),
            disable_automatic_authentication: true,
            cache_persistence_options: Some(self.settings.cache.clone()),
            client_options: ClientOptions {
                disable_instance_discovery: self.settings.disable_instance_discovery,
                additionally_allowed_tenants: allowed_tenant
                    .iter()
                    .map(|t| t.to_string())
                    .collect(),
                ..ClientOptions::default()
            },
            ..Default::default()
        })
        .map_err(|e| format!("azid: {e}"))
    }
}

fn create_private_dir(dir: &Path) -> Result<(), String> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| format!("azid: cannot create {}: {e}", dir.display()))
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|e| format!("azid: cannot write {}: {e}", path.display()))
}

/// The token of the account `azid login` signed in, when there is one and `--credential` does
/// not name another; `None` sends `azid token` on to the default chain. A sign-in that needs
/// renewing is said so, then the chain is tried.
pub async fn token_if_signed_in(
    chain: &crate::chain::ChainArgs,
    scopes: &[&str],
    options: &azidentity::TokenRequestOptions,
) -> Result<Option<azidentity::AccessToken>, String> {
    use azidentity::TokenCredential;
    if chain.credential.is_some() {
        return Ok(None);
    }
    let Some(profile) = Profile::load()? else {
        return Ok(None);
    };
    let credential = profile.silent_credential(options.tenant_id.as_deref())?;
    match credential.get_token(scopes, options).await {
        Ok(token) => Ok(Some(token)),
        Err(e) if e.is_unavailable() => {
            eprintln!(
                "azid: the sign-in of {} needs renewing (run `azid login`): {e}\n\
                 azid: trying the default credential chain instead",
                profile.record.username()
            );
            Ok(None)
        }
        Err(e) => Err(crate::token::explain(e)),
    }
}

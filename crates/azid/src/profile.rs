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

/// What `azid login` left but cannot be used: a file that is not what it writes, or that cannot
/// be read. `azid token` warns and goes on to the chain; `azid logout` still cleans up.
#[derive(Debug)]
pub struct Unusable {
    /// What is wrong, for people.
    pub problem: String,
    /// Where `azid login` keeps its files.
    pub dir: PathBuf,
    /// The account a damaged record still names, so that logout can remove its tokens.
    pub home_account_id: Option<String>,
    /// The sign-in settings, when their file is readable.
    pub settings: Option<Settings>,
}

impl Unusable {
    /// What is wrong and how to fix it.
    pub fn advice(&self) -> String {
        format!(
            "azid: {}; run `azid logout` to remove what `azid login` left in {} (or delete that \
             directory), then `azid login` again",
            self.problem,
            self.dir.display()
        )
    }
}

impl Profile {
    /// The signed-in account, or `None` when nobody is signed in.
    pub fn load() -> Result<Option<Profile>, Box<Unusable>> {
        // Without a home directory nobody can have signed in (a service's environment).
        match dir() {
            Ok(dir) => Self::load_from(&dir),
            Err(_) => Ok(None),
        }
    }

    fn load_from(dir: &Path) -> Result<Option<Profile>, Box<Unusable>> {
        let record_path = dir.join(RECORD_FILE);
        let unusable = |problem: String, home_account_id: Option<String>| {
            Box::new(Unusable {
                problem,
                dir: dir.to_owned(),
                home_account_id,
                settings: load_settings(dir).ok(),
            })
        };
        let text = match std::fs::read_to_string(&record_path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                let what = format!("cannot read {}: {e}", record_path.display());
                return Err(unusable(what, None));
            }
        };
        let record = AuthenticationRecord::deserialize(&text).map_err(|e| {
            let what = format!("{} is damaged ({e})", record_path.display());
            unusable(what, salvage_account(&text))
        })?;
        let home_account_id = Some(record.home_account_id().to_owned());
        let settings = load_settings(dir).map_err(|what| unusable(what, home_account_id))?;
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

/// What `azid doctor` says about the sign-in `azid token` tries before the chain.
pub struct RecordNote {
    /// The record file.
    pub path: PathBuf,
    /// Who signed in, when the files load.
    pub username: Option<String>,
    /// What is wrong with the files, when they do not load.
    pub problem: Option<String>,
}

/// The sign-in `azid login` left, if any.
pub fn record_note() -> Option<RecordNote> {
    let path = dir().ok()?.join(RECORD_FILE);
    match Profile::load() {
        Ok(None) => None,
        Ok(Some(profile)) => Some(RecordNote {
            path,
            username: Some(profile.record.username().to_owned()),
            problem: None,
        }),
        Err(unusable) => Some(RecordNote {
            path,
            username: None,
            problem: Some(unusable.advice()),
        }),
    }
}

/// The sign-in settings (defaults when the file is missing); what is wrong otherwise.
fn load_settings(dir: &Path) -> Result<Settings, String> {
    let settings_path = dir.join(SETTINGS_FILE);
    let settings: Value = match std::fs::read_to_string(&settings_path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| format!("{} is damaged ({e})", settings_path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => return Err(format!("cannot read {}: {e}", settings_path.display())),
    };
    let defaults = TokenCachePersistenceOptions::default();
    Ok(Settings {
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
    })
}

/// The account id a record that no longer loads may still hold (valid JSON, a field missing or
/// wrong), so that logout can remove the account's tokens.
fn salvage_account(text: &str) -> Option<String> {
    let json: Value = serde_json::from_str(text).ok()?;
    let id = json.get("homeAccountId")?.as_str()?.trim();
    (!id.is_empty()).then(|| id.to_owned())
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

/// The token of the account `azid login` signed in, when there is one and no flag names the
/// credentials ([`crate::chain::ChainArgs::names_credentials`]: flags win over the record);
/// `None` sends `azid token` on to the default chain. A sign-in that needs renewing, or files
/// that no longer load, are said so, then the chain is tried.
pub async fn token_if_signed_in(
    chain: &crate::chain::ChainArgs,
    scopes: &[&str],
    options: &azidentity::TokenRequestOptions,
) -> Result<Option<azidentity::AccessToken>, String> {
    use azidentity::TokenCredential;
    if chain.names_credentials() {
        return Ok(None);
    }
    let profile = match Profile::load() {
        Ok(Some(profile)) => profile,
        Ok(None) => return Ok(None),
        Err(unusable) => {
            eprintln!(
                "{}\nazid: trying the default credential chain instead",
                unusable.advice()
            );
            return Ok(None);
        }
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

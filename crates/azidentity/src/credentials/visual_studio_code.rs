//! `VisualStudioCodeCredential`: the account signed in to VS Code's Azure Resources extension,
//! as Python 1.24+ does it (the extension's auth record plus the authentication broker).

use std::io::Read;
use std::path::PathBuf;

use serde_json::Value;

use crate::{ClientOptions, Error, Platform, TokenCredential, TokenFuture, TokenRequestOptions};

const NAME: &str = "VisualStudioCodeCredential";
/// The VS Code Azure Resources extension's client id; a record for another app is not its.
const VS_CODE_CLIENT_ID: &str = "aebc6443-996d-45c2-90f0-388ff96faa56";
const MAX_RECORD_BYTES: u64 = 10 * 1024;
const RECORD_DIRS: [&str; 2] = [".azure", ".Azure"];
const RECORD_FILE: &str = "ms-azuretools.vscode-azureresourcegroups/authRecord.json";

/// Options for [`VisualStudioCodeCredential`].
#[derive(Debug, Clone, Default)]
pub struct VisualStudioCodeCredentialOptions {
    /// The tenant to get tokens from; default the auth record's.
    pub tenant_id: Option<String>,
    /// Platform (home directory) and authority.
    pub client_options: ClientOptions,
}

/// Uses the account signed in to the Azure Resources extension of Visual Studio Code. Python:
/// `VisualStudioCodeCredential` (1.24 and later).
///
/// Like Python's, it reads and validates the extension's authentication record
/// (`~/.azure/ms-azuretools.vscode-azureresourcegroups/authRecord.json`) and then needs the
/// platform's authentication broker (WAM) to get a token silently. No broker is available to
/// this library (Python needs the `azure-identity-broker` package, which works on Windows and
/// WSL only), so after validating the record the credential reports itself unavailable, and a
/// chain moves on to the Azure CLI and the other developer tools.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{VisualStudioCodeCredential, TokenCredential, TokenRequestOptions};
/// let credential = VisualStudioCodeCredential::new(Default::default())?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct VisualStudioCodeCredential {
    platform: Platform,
    tenant_id: Option<String>,
}

impl VisualStudioCodeCredential {
    /// Validates the tenant id; the record is read when a token is requested.
    pub fn new(options: VisualStudioCodeCredentialOptions) -> Result<Self, Error> {
        let tenant_id = options.tenant_id.filter(|t| !t.is_empty());
        if let Some(tenant) = &tenant_id {
            crate::authority::validate_tenant_id(NAME, tenant)?;
        }
        Ok(VisualStudioCodeCredential {
            platform: options.client_options.platform,
            tenant_id,
        })
    }

    fn attempt(&self) -> Error {
        let record = match load_record(&self.platform) {
            Ok(Some(record)) => record,
            Ok(None) => {
                return Error::unavailable(
                    NAME,
                    "VisualStudioCodeCredential requires the user to be signed in to Azure via \
                     Visual Studio Code. Please ensure you have the Azure Resources extension \
                     installed and have signed in.",
                )
                .with_reason(crate::ErrorReason::NotSignedIn);
            }
            Err(message) => {
                return Error::unavailable(
                    NAME,
                    format!(
                        "Failed to load authentication record from Visual Studio Code: \
                         {message}. Please ensure you have the Azure Resources extension \
                         installed and signed in."
                    ),
                )
                .with_reason(crate::ErrorReason::NotSignedIn);
            }
        };
        let tenant = self.tenant_id.as_deref().unwrap_or(&record.tenant_id);
        tracing::debug!(credential = NAME, tenant, "found the VS Code auth record");
        // Python's text for a missing broker, then what it means here.
        Error::unavailable(
            NAME,
            format!(
                "VisualStudioCodeCredential requires the 'azure-identity-broker' package to be \
                 installed. You must also ensure you have the Azure Resources extension \
                 installed and have signed in to Azure via Visual Studio Code. (VS Code is \
                 signed in as {}, but its tokens are reachable only through the Windows \
                 authentication broker (WAM), which this library does not have; use \
                 AzureCliCredential ('az login') or AzureDeveloperCliCredential ('azd auth \
                 login') instead.)",
                record.username
            ),
        )
        .with_reason(crate::ErrorReason::BrokerRequired)
    }
}

/// The first auth record path that exists.
pub(crate) fn auth_record_path(platform: &Platform) -> Option<PathBuf> {
    let home = platform.home_dir()?;
    RECORD_DIRS
        .iter()
        .map(|dir| home.join(dir).join(RECORD_FILE))
        .find(|p| p.is_file())
}

struct Record {
    tenant_id: String,
    username: String,
}

/// The record, `None` when there is none, or Python's validation message.
fn load_record(platform: &Platform) -> Result<Option<Record>, String> {
    let Some(path) = auth_record_path(platform) else {
        return Ok(None);
    };
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_RECORD_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if text.len() as u64 > MAX_RECORD_BYTES {
        return Err(
            "VS Code auth record file is unexpectedly large. Please check the file for \
                    corruption or unexpected content"
                .to_owned(),
        );
    }
    let json: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not valid JSON ({e})", path.display()))?;
    let mut errors = Vec::new();
    let mut field = |name: &str| -> Option<String> {
        match json.get(name) {
            None => {
                errors.push(format!("{name} field is missing"));
                None
            }
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => {
                errors.push(format!("{name} must be a non-empty string"));
                None
            }
        }
    };
    let tenant_id = field("tenantId");
    let client_id = field("clientId");
    let username = field("username");
    field("homeAccountId");
    field("authority");
    if let Some(tenant) = &tenant_id
        && let Err(e) = crate::authority::validate_tenant_id(NAME, tenant)
    {
        errors.push(format!("tenantId validation failed: {}", e.message()));
    }
    if client_id.as_deref().is_some_and(|c| c != VS_CODE_CLIENT_ID) {
        errors.push(format!(
            "clientId must match expected VS Code Azure Resources extension client ID: \
             {VS_CODE_CLIENT_ID}"
        ));
    }
    match (tenant_id, username) {
        (Some(tenant_id), Some(username)) if errors.is_empty() => Ok(Some(Record {
            tenant_id,
            username,
        })),
        _ => Err(format!(
            "Authentication record validation failed: {}",
            errors.join("; ")
        )),
    }
}

impl TokenCredential for VisualStudioCodeCredential {
    fn get_token<'a>(
        &'a self,
        _scopes: &'a [&'a str],
        _options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        TokenFuture::ready(Err(self.attempt()))
    }

    fn name(&self) -> &'static str {
        NAME
    }
}

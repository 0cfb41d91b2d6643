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
            Ok(record) => record,
            Err(message) => {
                return Error::unavailable(
                    NAME,
                    format!(
                        "Failed to load authentication record from Visual Studio Code: {message}"
                    ),
                );
            }
        };
        let tenant = self.tenant_id.as_deref().unwrap_or(&record.tenant_id);
        tracing::debug!(credential = NAME, tenant, "found the VS Code auth record");
        Error::unavailable(
            NAME,
            format!(
                "VisualStudioCodeCredential authentication unavailable. VS Code is signed in as \
                 {}, but its tokens can be reached only through the authentication broker \
                 (WAM), which is available on Windows only and not to this library. Use \
                 AzureCliCredential ('az login') or AzureDeveloperCliCredential ('azd auth \
                 login') instead",
                record.username
            ),
        )
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

fn load_record(platform: &Platform) -> Result<Record, String> {
    let Some(path) = auth_record_path(platform) else {
        return Err(
            "no authentication record was found. Sign in to Azure with the Azure Resources \
             extension in Visual Studio Code"
                .to_owned(),
        );
    };
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_RECORD_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if text.len() as u64 > MAX_RECORD_BYTES {
        return Err(format!(
            "{} is larger than {MAX_RECORD_BYTES} bytes",
            path.display()
        ));
    }
    let json: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not valid JSON ({e})", path.display()))?;
    let field = |name: &str| -> Result<String, String> {
        match json.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            _ => Err(format!(
                "{} has no non-empty string field '{name}'",
                path.display()
            )),
        }
    };
    let tenant_id = field("tenantId")?;
    crate::authority::validate_tenant_id(NAME, &tenant_id)
        .map_err(|_| format!("{} has an invalid tenantId", path.display()))?;
    let client_id = field("clientId")?;
    if client_id != VS_CODE_CLIENT_ID {
        return Err(format!(
            "{} is for client {client_id}, not VS Code's ({VS_CODE_CLIENT_ID})",
            path.display()
        ));
    }
    let username = field("username")?;
    field("homeAccountId")?;
    field("authority")?;
    Ok(Record {
        tenant_id,
        username,
    })
}

impl TokenCredential for VisualStudioCodeCredential {
    fn get_token<'a>(
        &'a self,
        _scopes: &'a [&'a str],
        _options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        Box::pin(std::future::ready(Err(self.attempt())))
    }

    fn name(&self) -> &'static str {
        NAME
    }
}

//! `WorkloadIdentityCredential`: Microsoft Entra Workload ID on Kubernetes (AKS). The pod's
//! service account token, projected into a file, is exchanged for an Entra token as a client
//! assertion of an app with a matching federated credential.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

use crate::entra::confidential::{
    AssertionFuture, AssertionProvider, ClientAuth, ConfidentialClient,
};
use crate::platform::{Clock, TokenProxyConfig, TokenProxyTransport};
use crate::{
    ClientOptions, EnvironmentVariables as Vars, Error, Platform, Secret,
    TokenCachePersistenceOptions, TokenCredential, TokenFuture, TokenRequestOptions,
};

const NAME: &str = "WorkloadIdentityCredential";

/// Kubernetes rotates projected tokens well before they expire; Python re-reads after ten
/// minutes, so a rotated file is picked up without reading it for every token.
const REREAD_AFTER: Duration = Duration::seconds(600);
/// Service account tokens are a few kilobytes; a bigger file is a misconfiguration.
const MAX_TOKEN_FILE_BYTES: u64 = 256 * 1024;

/// Options for [`WorkloadIdentityCredential`]. Unset values fall back to `AZURE_TENANT_ID`,
/// `AZURE_CLIENT_ID` and `AZURE_FEDERATED_TOKEN_FILE` (which the AKS workload identity webhook
/// sets); the authority to `AZURE_AUTHORITY_HOST`.
#[derive(Debug, Clone, Default)]
pub struct WorkloadIdentityCredentialOptions {
    /// The app registration's tenant.
    pub tenant_id: Option<String>,
    /// The client id of the app registration (or user-assigned identity) with the federated
    /// credential.
    pub client_id: Option<String>,
    /// The file holding the Kubernetes service account token.
    pub token_file_path: Option<PathBuf>,
    /// Send token requests through the AKS identity-binding token proxy when
    /// `AZURE_KUBERNETES_TOKEN_PROXY` is set (with `AZURE_KUBERNETES_SNI_NAME` and
    /// `AZURE_KUBERNETES_CA_FILE` or `AZURE_KUBERNETES_CA_DATA`). Use this credential directly
    /// for it: like Python, `DefaultAzureCredential` does not enable it.
    pub enable_azure_proxy: bool,
    /// Authority, tenants, retries and platform.
    pub client_options: ClientOptions,
    /// Keep tokens in a persistent cache shared with other processes and Python
    /// `azure-identity` (or in an application's store, such as Redis). Default: in memory.
    pub cache_persistence_options: Option<TokenCachePersistenceOptions>,
}

/// Reads the service account token file, keeping its content for ten minutes.
struct TokenFile {
    path: PathBuf,
    clock: Arc<dyn Clock>,
    cached: Mutex<Option<(Secret, OffsetDateTime)>>,
}

impl fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl TokenFile {
    fn read(&self) -> Result<Secret, Error> {
        let now = self.clock.now();
        {
            let cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((token, read_at)) = cached.as_ref()
                && now - *read_at <= REREAD_AFTER
            {
                return Ok(token.clone());
            }
        }
        // Read without the lock held (the rule: no lock across I/O); concurrent callers may each
        // read the small file once.
        let token = read_token_file(&self.path)?;
        *self.cached.lock().unwrap_or_else(PoisonError::into_inner) = Some((token.clone(), now));
        Ok(token)
    }
}

fn read_token_file(path: &Path) -> Result<Secret, Error> {
    let failure = |what: String| {
        Error::failed(
            NAME,
            format!(
                "the service account token file {} {what}. Check AZURE_FEDERATED_TOKEN_FILE \
                 (or token_file_path) and that the pod has the workload identity label and \
                 service account",
                path.display()
            ),
        )
    };
    let file = std::fs::File::open(path).map_err(|e| failure(format!("cannot be read ({e})")))?;
    let mut text = zeroize::Zeroizing::new(String::new());
    file.take(MAX_TOKEN_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| failure(format!("cannot be read as text ({e})")))?;
    if text.len() as u64 > MAX_TOKEN_FILE_BYTES {
        return Err(failure(format!(
            "is larger than {MAX_TOKEN_FILE_BYTES} bytes, which no service account token is"
        )));
    }
    let token = text.trim();
    if token.is_empty() {
        return Err(failure("is empty".to_owned()));
    }
    Ok(Secret::new(token))
}

impl AssertionProvider for TokenFile {
    fn assertion(&self) -> AssertionFuture<'_> {
        Box::pin(std::future::ready(self.read()))
    }
}

/// Authenticates with Microsoft Entra Workload ID: exchanges the Kubernetes service account
/// token in a file for an access token. Python: `WorkloadIdentityCredential`.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{WorkloadIdentityCredential, TokenCredential, TokenRequestOptions};
/// // AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE, set by the webhook.
/// let credential = WorkloadIdentityCredential::new(Default::default())?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct WorkloadIdentityCredential {
    client: ConfidentialClient,
}

impl WorkloadIdentityCredential {
    /// Reads unset options from the platform's environment. Fails when the tenant, client id or
    /// token file path is missing everywhere, or the tenant id or authority is invalid; the file
    /// itself is read when a token is needed.
    pub fn new(options: WorkloadIdentityCredentialOptions) -> Result<Self, Error> {
        let env = options.client_options.platform.env();
        let pick = |given: Option<String>, var: &str| {
            given
                .filter(|v| !v.is_empty())
                .or_else(|| env.non_empty(var))
        };
        let tenant_id = pick(options.tenant_id, Vars::AZURE_TENANT_ID);
        let client_id = pick(options.client_id, Vars::AZURE_CLIENT_ID);
        let token_file = options
            .token_file_path
            .filter(|p| !p.as_os_str().is_empty())
            .or_else(|| {
                env.non_empty(Vars::AZURE_FEDERATED_TOKEN_FILE)
                    .map(PathBuf::from)
            });
        let (Some(tenant_id), Some(client_id), Some(token_file)) =
            (&tenant_id, &client_id, &token_file)
        else {
            let missing: Vec<&str> = [
                (tenant_id.is_none(), "'tenant_id' (AZURE_TENANT_ID)"),
                (client_id.is_none(), "'client_id' (AZURE_CLIENT_ID)"),
                (
                    token_file.is_none(),
                    "'token_file_path' (AZURE_FEDERATED_TOKEN_FILE)",
                ),
            ]
            .into_iter()
            .filter_map(|(missing, name)| missing.then_some(name))
            .collect();
            return Err(Error::config(
                NAME,
                format!(
                    "WorkloadIdentityCredential authentication unavailable. The workload \
                     options are not fully configured. Missing required arguments: {}. See {}",
                    missing.join(", "),
                    crate::troubleshooting::WORKLOAD_IDENTITY
                ),
            )
            .with_reason(crate::ErrorReason::VariablesMissing));
        };
        let mut client_options = options.client_options;
        if options.enable_azure_proxy {
            client_options.platform = with_token_proxy(client_options.platform)?;
        }
        let provider = Arc::new(TokenFile {
            path: token_file.clone(),
            clock: client_options.platform.clock().clone(),
            cached: Mutex::new(None),
        });
        let client = ConfidentialClient::new(
            NAME,
            tenant_id,
            client_id,
            ClientAuth::Assertion(provider),
            &client_options,
            options.cache_persistence_options.as_ref(),
        )?;
        Ok(WorkloadIdentityCredential { client })
    }
}

/// The platform with its transport replaced by one through the AKS token proxy, when the
/// environment configures one.
fn with_token_proxy(platform: Platform) -> Result<Platform, Error> {
    let config = TokenProxyConfig::from_env(platform.env()).map_err(|e| Error::config(NAME, e))?;
    let Some(config) = config else {
        return Ok(platform);
    };
    let transport = TokenProxyTransport::new(
        config,
        platform.http_options().clone(),
        platform.env().clone(),
    )
    .map_err(|e| Error::config(NAME, e))?;
    Ok(platform.with_http_client(Arc::new(transport)))
}

impl TokenCredential for WorkloadIdentityCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        self.client.get_token(scopes, options)
    }

    fn name(&self) -> &'static str {
        NAME
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::ManualClock;
    use crate::{Env, Platform};

    #[test]
    fn missing_configuration_names_what_is_missing() {
        let options = WorkloadIdentityCredentialOptions {
            client_options: ClientOptions {
                platform: Platform::system().with_env(Env::from_pairs([("AZURE_TENANT_ID", "t")])),
                ..ClientOptions::default()
            },
            ..Default::default()
        };
        let e = WorkloadIdentityCredential::new(options).unwrap_err();
        assert!(matches!(e.kind(), crate::ErrorKind::InvalidConfiguration));
        assert!(
            e.message()
                .contains("'client_id' (AZURE_CLIENT_ID), 'token_file_path'"),
            "{e}"
        );
        assert!(!e.message().contains("'tenant_id'"), "{e}");
    }

    #[test]
    fn token_file_is_reread_after_ten_minutes() {
        let dir = std::env::temp_dir().join(format!("azid-wi-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "first.jwt.value\n").unwrap();
        let clock = Arc::new(ManualClock::new(
            OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        ));
        let file = TokenFile {
            path: path.clone(),
            clock: clock.clone(),
            cached: Mutex::new(None),
        };
        assert_eq!(file.read().unwrap().secret(), "first.jwt.value");
        std::fs::write(&path, "second.jwt.value").unwrap();
        clock.advance(std::time::Duration::from_secs(599));
        assert_eq!(file.read().unwrap().secret(), "first.jwt.value");
        clock.advance(std::time::Duration::from_secs(2));
        assert_eq!(file.read().unwrap().secret(), "second.jwt.value");
        std::fs::write(&path, "  \n").unwrap();
        clock.advance(std::time::Duration::from_secs(601));
        let e = file.read().unwrap_err();
        assert!(e.message().contains("is empty"), "{e}");
        std::fs::remove_file(&path).unwrap();
        let e = read_token_file(&path).unwrap_err();
        assert!(e.message().contains("cannot be read"), "{e}");
        assert!(!e.is_unavailable());
        std::fs::remove_dir_all(&dir).ok();
    }
}

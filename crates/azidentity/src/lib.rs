//! Microsoft Entra ID authentication for Rust: the credentials of Python `azure-identity`,
//! async-first, with a single-flight token cache.
//!
//! Most applications start with [`DefaultAzureCredential`]: a service principal from the
//! environment, workload or managed identity in Azure, or the developer's `az`/`azd`/`pwsh`
//! sign-in on a laptop, whichever is there (`azid doctor` explains what it finds).
//!
//! ```no_run
//! # async fn demo() -> Result<(), azidentity::Error> {
//! use azidentity::{DefaultAzureCredential, TokenCredential, TokenRequestOptions};
//! let credential = DefaultAzureCredential::new(Default::default())?;
//! let token = credential
//!     .get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default())
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Or one credential directly:
//!
//! ```no_run
//! # async fn demo() -> Result<(), azidentity::Error> {
//! use azidentity::{ClientSecretCredential, TokenCredential, TokenRequestOptions};
//! let credential = ClientSecretCredential::new(
//!     "tenant-id", "client-id", "secret".into(), Default::default())?;
//! let token = credential
//!     .get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default())
//!     .await?;
//! println!("expires {}", token.expires_on());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod authority;
#[cfg(feature = "azure_core_macro")]
mod azure_core_adapter;
mod bearer;
#[cfg(feature = "blocking")]
pub mod blocking;
mod cache;
#[cfg(feature = "certificate")]
mod certificate;
#[cfg(not(feature = "certificate"))]
#[path = "certificate/disabled.rs"]
mod certificate;
mod credential;
mod credentials;
mod developer;
mod entra;
mod env_vars;
mod error;
mod error_chain;
#[doc(hidden)]
pub mod fuzzing;
pub mod log_target;
mod managed_identity;
mod options;
mod pipeline;
pub mod platform;
#[cfg(test)]
mod proptests;
mod record;
mod redact;
#[cfg(feature = "azure_core_macro")]
mod sdk_http;
mod secret;
pub mod troubleshooting;

pub use authority::{AzureAuthorityHosts, KnownAuthorities};
#[cfg(feature = "azure_core")]
pub use azure_core_adapter::AzureCoreCredential;
#[doc(hidden)]
#[cfg(feature = "azure_core_macro")]
pub use azure_core_adapter::private as __private;
pub use bearer::{BearerTokenProvider, get_bearer_token_provider};
pub use cache::custom::{CacheStore, StoreError, StoreFuture, TokenCacheStore};
pub use cache::persistent::TokenCachePersistenceOptions;
/// MSAL's cache format as this crate reads and writes it, for tools and interop tests; not
/// covered by semantic versioning (feature `unstable-msal-cache`).
#[cfg(feature = "unstable-msal-cache")]
pub use cache::persistent::{
    CachedAccount, PersistentTokenCache, TokenCacheDocument, TokenCacheEvent,
};
#[cfg(feature = "redis")]
pub use cache::redis::RedisTokenStore;
pub use certificate::CertificateSource;
pub use credential::{AccessToken, TokenCredential, TokenFuture, TokenRequestOptions};
pub use credentials::authorization_code::{
    AuthorizationCodeCredential, AuthorizationCodeCredentialOptions,
};
pub use credentials::azure_cli::{AzureCliCredential, AzureCliCredentialOptions};
pub use credentials::azure_developer_cli::{
    AzureDeveloperCliCredential, AzureDeveloperCliCredentialOptions,
};
pub use credentials::azure_pipelines::{AzurePipelinesCredential, AzurePipelinesCredentialOptions};
pub use credentials::azure_powershell::{
    AzurePowerShellCredential, AzurePowerShellCredentialOptions,
};
pub use credentials::certificate::{CertificateCredential, CertificateCredentialOptions};
pub use credentials::chained::ChainedTokenCredential;
pub use credentials::client_assertion::{
    ClientAssertionCredential, ClientAssertionCredentialOptions,
};
pub use credentials::client_secret::{ClientSecretCredential, ClientSecretCredentialOptions};
pub use credentials::default::{
    DefaultAzureCredential, DefaultAzureCredentialMember, DefaultAzureCredentialMemberInfo,
    DefaultAzureCredentialOptions, Exclusion, MemberSetup, TokenCredentialsSelection,
    UnknownMemberError,
};
pub use credentials::device_code::{
    DeviceCodeCredential, DeviceCodeCredentialOptions, DeviceCodeMessage, DeviceCodePrompt,
};
pub use credentials::environment::{EnvironmentCredential, EnvironmentCredentialOptions};
#[cfg(feature = "interactive")]
pub use credentials::interactive_browser::{
    InteractiveBrowserCredential, InteractiveBrowserCredentialOptions,
};
pub use credentials::managed_identity::{
    ManagedIdentityCredential, ManagedIdentityCredentialOptions,
};
pub use credentials::on_behalf_of::{
    ClientAssertionCallback, OnBehalfOfAuth, OnBehalfOfCredential, OnBehalfOfCredentialOptions,
};
pub use credentials::shared_token_cache::{
    SharedTokenCacheCredential, SharedTokenCacheCredentialOptions,
};
pub use credentials::username_password::{
    UsernamePasswordCredential, UsernamePasswordCredentialOptions,
};
pub use credentials::visual_studio_code::{
    VisualStudioCodeCredential, VisualStudioCodeCredentialOptions,
};
pub use credentials::workload_identity::{
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
pub use env_vars::EnvironmentVariables;
pub use error::{ChainAttempt, Error, ErrorKind, ErrorReason, HttpErrorDetails};
pub use managed_identity::{ManagedIdentityId, ManagedIdentitySource};
pub use options::{ClientOptions, RetryOptions};
pub use platform::{Env, HttpOptions, Platform};
pub use record::AuthenticationRecord;
pub use secret::Secret;

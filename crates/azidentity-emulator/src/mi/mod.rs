//! Managed identity hosts: IMDS, App Service, Azure Arc, Service Fabric, Cloud Shell and Azure
//! ML endpoints, each on its own 127.0.0.1 port as on the real hosts (plain HTTP, Service Fabric
//! over HTTPS with its own certificate); the Azure Pipelines OIDC endpoint; and federated
//! credentials, so Entra's token endpoint accepts workload identity assertions.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use azidentity_emulator::{Emulator, HostKind, ManagedIdentityHost};
//!
//! let emulator = Emulator::builder().start().await?;
//! let host = emulator
//!     .start_managed_identity(ManagedIdentityHost::new(HostKind::AppService))
//!     .await?;
//! // IDENTITY_ENDPOINT and IDENTITY_HEADER, to give to the client's environment:
//! for (name, value) in host.env() {
//!     println!("{name}={value}");
//! }
//! # Ok(()) }
//! ```
//!
//! Requests to these endpoints are recorded with the Entra ones ([`RunningEmulator::requests`]),
//! counted as token requests, and scripted faults apply to them (match them by path, e.g.
//! `Fault::on_path("/metadata/identity/")`).

mod app_service;
mod arc_keys;
mod azure_arc;
mod azure_ml;
mod cloud_shell;
mod endpoint;
pub(crate) mod federated;
mod host;
mod identity;
mod imds;
mod pipelines;
mod rules;
mod server;
mod service_fabric;

pub use arc_keys::ArcKeyDir;
pub use endpoint::ManagedIdentityEndpoint;
pub use federated::{
    AZURE_PIPELINES_SERVICE_CONNECTION_ID, KUBERNETES_ISSUER, KUBERNETES_SUBJECT,
    TOKEN_EXCHANGE_AUDIENCE,
};
pub(crate) use host::ManagedIdentities;
pub use host::{HostKind, ManagedIdentityHost, UserAssignedIdentity};
pub use identity::{
    SYSTEM_ASSIGNED_CLIENT_ID, SYSTEM_ASSIGNED_OBJECT_ID, SYSTEM_ASSIGNED_RESOURCE_ID,
    USER_ASSIGNED_CLIENT_ID, USER_ASSIGNED_OBJECT_ID, USER_ASSIGNED_RESOURCE_ID,
};

pub(crate) use federated::MiState;

use std::time::Duration;

use crate::emulator::RunningEmulator;
use crate::error::{Error, Result};

impl RunningEmulator {
    /// Starts the managed identity endpoint of one kind of host on its own port and returns
    /// its handle, whose [`ManagedIdentityEndpoint::env`] holds the variables that host sets
    /// (for IMDS, `AZURE_POD_IDENTITY_AUTHORITY_HOST`). Dropping the handle stops it.
    ///
    /// Workload identity needs no endpoint: it writes a service account token file signed by
    /// the emulator's test OIDC issuer and registers the matching federated credential on the
    /// host's application. Azure Pipelines starts the OIDC endpoint and does the same for the
    /// pipeline's issuer.
    pub async fn start_managed_identity(
        &self,
        host: ManagedIdentityHost,
    ) -> Result<ManagedIdentityEndpoint> {
        let kind = host.kind();
        endpoint::start(self, host)
            .await
            .map_err(|e| Error::io(format!("starting the {kind} endpoint"), e))
    }

    /// Adds a user-assigned identity to the running hosts of `kind` (`None`: every kind), and
    /// to those started later.
    pub fn add_user_assigned_identity(
        &self,
        kind: Option<HostKind>,
        identity: UserAssignedIdentity,
    ) {
        self.shared()
            .update_config(|config| config.added_identities.push((kind, identity)));
    }

    /// Lets `client_id` authenticate with a client assertion issued by `issuer` for `subject`
    /// (audience `api://AzureADTokenExchange`), as a federated identity credential on the app
    /// registration does in Entra. The app must be registered.
    pub fn add_federated_credential(&self, client_id: &str, issuer: &str, subject: &str) {
        self.shared()
            .mi
            .add_federated_credential(client_id, issuer, subject);
    }

    /// A JWT from the emulator's test OIDC issuer (signed with the emulator's key), as
    /// Kubernetes or Azure DevOps would issue it, valid for `lifetime`.
    pub fn issue_federated_token(&self, issuer: &str, subject: &str, lifetime: Duration) -> String {
        federated::issue(self.shared(), issuer, subject, lifetime)
    }
}

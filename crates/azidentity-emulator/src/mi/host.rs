//! What a managed identity host looks like: its kind, its identities and its quirks.

use std::fmt;
use std::time::Duration;

use super::arc_keys::ArcKeyDir;
use super::identity;
use crate::{DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID};

/// The kinds of host the emulator can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HostKind {
    /// An Azure VM's Instance Metadata Service.
    Imds,
    /// App Service / Azure Functions (API 2019-08-01).
    AppService,
    /// An Azure Arc-enabled server's agent (401 challenge with a key file).
    AzureArc,
    /// Service Fabric (HTTPS with its own certificate, named by thumbprint).
    ServiceFabric,
    /// Azure Cloud Shell (form POST).
    CloudShell,
    /// Azure Machine Learning compute (API 2017-09-01).
    AzureMl,
    /// AKS workload identity: a projected service account token file.
    WorkloadIdentity,
    /// Azure Pipelines: the OIDC token endpoint of a pipeline job.
    AzurePipelines,
}

impl HostKind {
    /// Every kind, in the order of the command-line names.
    pub const ALL: [HostKind; 8] = [
        HostKind::Imds,
        HostKind::AppService,
        HostKind::AzureArc,
        HostKind::ServiceFabric,
        HostKind::CloudShell,
        HostKind::AzureMl,
        HostKind::WorkloadIdentity,
        HostKind::AzurePipelines,
    ];

    /// The command-line name: `imds`, `app-service`, `azure-arc`, `service-fabric`,
    /// `cloud-shell`, `azure-ml`, `workload-identity`, `azure-pipelines`.
    pub fn name(&self) -> &'static str {
        match self {
            HostKind::Imds => "imds",
            HostKind::AppService => "app-service",
            HostKind::AzureArc => "azure-arc",
            HostKind::ServiceFabric => "service-fabric",
            HostKind::CloudShell => "cloud-shell",
            HostKind::AzureMl => "azure-ml",
            HostKind::WorkloadIdentity => "workload-identity",
            HostKind::AzurePipelines => "azure-pipelines",
        }
    }

    /// The kind with this command-line name (case-insensitive; `_` works for `-`).
    pub fn parse(name: &str) -> Option<Self> {
        let wanted = name.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL.into_iter().find(|k| k.name() == wanted)
    }
}

impl fmt::Display for HostKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A user-assigned identity: one identity, three ids.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserAssignedIdentity {
    /// The client (application) id.
    pub client_id: String,
    /// The object (principal) id.
    pub object_id: String,
    /// The Azure resource id.
    pub resource_id: String,
}

impl UserAssignedIdentity {
    /// An identity with these ids.
    pub fn new(client_id: &str, object_id: &str, resource_id: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            object_id: object_id.to_owned(),
            resource_id: resource_id.to_owned(),
        }
    }

    /// The identity registered by default ([`crate::USER_ASSIGNED_CLIENT_ID`] and friends).
    pub fn default_identity() -> Self {
        Self::new(
            identity::USER_ASSIGNED_CLIENT_ID,
            identity::USER_ASSIGNED_OBJECT_ID,
            identity::USER_ASSIGNED_RESOURCE_ID,
        )
    }
}

/// The identities a configuration gives hosts (`managed_identities` in the configuration
/// file); `None` keeps the host's own.
#[derive(Debug, Clone, Default)]
pub(crate) struct ManagedIdentities {
    pub system_assigned: Option<bool>,
    pub system_identity: Option<UserAssignedIdentity>,
    pub user_assigned: Option<Vec<UserAssignedIdentity>>,
}

/// How Azure ML writes `expires_on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MlDates {
    /// `06/20/2019 02:57:58 +00:00`, as older Linux compute did.
    Linux,
    /// `1/16/2020 5:24:12 AM +00:00`, as older Windows compute did.
    Windows,
    /// Epoch seconds (the default): what current compute sends, and the only form msal-node
    /// reads (it takes `expires_on` as a number or an ISO 8601 date).
    Epoch,
}

/// A host to start with [`crate::RunningEmulator::start_managed_identity`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ManagedIdentityHost {
    pub(crate) kind: HostKind,
    pub(crate) system_assigned: bool,
    pub(crate) system_identity: UserAssignedIdentity,
    pub(crate) user_assigned: Vec<UserAssignedIdentity>,
    pub(crate) legacy_arc_agent: bool,
    pub(crate) token_lifetime: Duration,
    pub(crate) refresh_in: Option<Duration>,
    pub(crate) ml_dates: MlDates,
    pub(crate) tenant: String,
    pub(crate) client_id: String,
    pub(crate) subject: Option<String>,
    pub(crate) arc_key_dir: ArcKeyDir,
}

impl ManagedIdentityHost {
    /// A host with a system-assigned identity and the default user-assigned identity; tokens
    /// live 24 hours, as real managed identity tokens do. For workload identity and Azure
    /// Pipelines, the application is [`DEFAULT_CLIENT_ID`] in [`DEFAULT_TENANT_ID`].
    pub fn new(kind: HostKind) -> Self {
        Self {
            kind,
            system_assigned: true,
            system_identity: UserAssignedIdentity::new(
                identity::SYSTEM_ASSIGNED_CLIENT_ID,
                identity::SYSTEM_ASSIGNED_OBJECT_ID,
                identity::SYSTEM_ASSIGNED_RESOURCE_ID,
            ),
            user_assigned: vec![UserAssignedIdentity::default_identity()],
            legacy_arc_agent: false,
            token_lifetime: Duration::from_secs(86_399),
            refresh_in: None,
            ml_dates: MlDates::Epoch,
            tenant: DEFAULT_TENANT_ID.to_owned(),
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            subject: None,
            arc_key_dir: ArcKeyDir::Private,
        }
    }

    /// The host has no system-assigned identity: asking for it fails as on such a host
    /// (IMDS answers 400 "Identity not found").
    pub fn without_system_assigned(mut self) -> Self {
        self.system_assigned = false;
        self
    }

    /// The ids of the host's system-assigned identity (default
    /// [`crate::SYSTEM_ASSIGNED_CLIENT_ID`] and friends); the host then has one.
    pub fn system_assigned_identity(mut self, identity: UserAssignedIdentity) -> Self {
        self.system_assigned = true;
        self.system_identity = identity;
        self
    }

    /// Applies configured identities: what they say replaces the host's.
    pub(crate) fn with_identities(mut self, identities: &ManagedIdentities) -> Self {
        if let Some(enabled) = identities.system_assigned {
            self.system_assigned = enabled;
        }
        if let Some(identity) = &identities.system_identity {
            self.system_identity = identity.clone();
        }
        if let Some(list) = &identities.user_assigned {
            self.user_assigned = list.clone();
        }
        self
    }

    /// Removes every user-assigned identity.
    pub fn without_user_assigned(mut self) -> Self {
        self.user_assigned.clear();
        self
    }

    /// Assigns one more user-assigned identity.
    pub fn user_assigned(mut self, identity: UserAssignedIdentity) -> Self {
        self.user_assigned.push(identity);
        self
    }

    /// An Azure Arc agent too old for user-assigned identities: it ignores the selector and
    /// returns the system-assigned identity's token without echoing any id.
    pub fn legacy_arc_agent(mut self) -> Self {
        self.legacy_arc_agent = true;
        self
    }

    /// The lifetime of issued tokens (default 86 399 s).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Adds `refresh_in` (whole seconds) to token responses.
    pub fn refresh_in(mut self, refresh_in: Option<Duration>) -> Self {
        self.refresh_in = refresh_in;
        self
    }

    /// Azure ML answers with Windows-style dates (`1/16/2020 5:24:12 AM +00:00`).
    pub fn azure_ml_windows_dates(mut self) -> Self {
        self.ml_dates = MlDates::Windows;
        self
    }

    /// Azure ML answers with Linux-style dates (`06/20/2019 02:57:58 +00:00`).
    pub fn azure_ml_linux_dates(mut self) -> Self {
        self.ml_dates = MlDates::Linux;
        self
    }

    /// Azure ML answers with epoch seconds (the default).
    pub fn azure_ml_epoch_dates(mut self) -> Self {
        self.ml_dates = MlDates::Epoch;
        self
    }

    /// The tenant whose tokens the host issues (default [`DEFAULT_TENANT_ID`]).
    pub fn tenant(mut self, tenant: &str) -> Self {
        self.tenant = tenant.to_owned();
        self
    }

    /// Workload identity and Azure Pipelines: the application that gets the federated
    /// credential (default [`DEFAULT_CLIENT_ID`]; it must be registered).
    pub fn client_id(mut self, client_id: &str) -> Self {
        self.client_id = client_id.to_owned();
        self
    }

    /// Workload identity: the service account subject in the token file (default
    /// [`crate::KUBERNETES_SUBJECT`]); the federated credential is registered for it.
    pub fn subject(mut self, subject: &str) -> Self {
        self.subject = Some(subject.to_owned());
        self
    }

    /// Azure Arc: where the key files of the agent's challenges are written (default: a
    /// private temporary directory; Microsoft's clients need [`ArcKeyDir::Agent`]).
    pub fn arc_key_dir(mut self, dir: ArcKeyDir) -> Self {
        self.arc_key_dir = dir;
        self
    }

    /// The kind of host.
    pub fn kind(&self) -> HostKind {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in HostKind::ALL {
            assert_eq!(HostKind::parse(kind.name()), Some(kind));
        }
        assert_eq!(HostKind::parse("App_Service"), Some(HostKind::AppService));
        assert_eq!(HostKind::parse("vm"), None);
    }
}

//! Which managed identity source the host offers, decided from environment variables alone, in
//! Python's order. A pure function so the table can be tested without any HTTP.

use std::fmt;

use crate::{Env, EnvironmentVariables as Vars};

/// Where a managed identity token comes from on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ManagedIdentitySource {
    /// Service Fabric: `IDENTITY_ENDPOINT`, `IDENTITY_HEADER` and `IDENTITY_SERVER_THUMBPRINT`.
    ServiceFabric,
    /// App Service and Azure Functions: `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`.
    AppService,
    /// Azure Arc-enabled servers: `IDENTITY_ENDPOINT` and `IMDS_ENDPOINT`.
    AzureArc,
    /// Azure Machine Learning: `MSI_ENDPOINT` and `MSI_SECRET`.
    AzureMl,
    /// Azure Cloud Shell: `MSI_ENDPOINT` alone.
    CloudShell,
    /// Workload identity token exchange (AKS): `AZURE_AUTHORITY_HOST`, `AZURE_TENANT_ID` and
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    WorkloadIdentity,
    /// The Azure Instance Metadata Service (virtual machines, scale sets, AKS nodes): the default.
    Imds,
}

impl ManagedIdentitySource {
    /// Detects the source from `env`, as Python's `ManagedIdentityCredential` does. `None` when
    /// the environment names an endpoint but not enough to tell which host it is
    /// (`IDENTITY_ENDPOINT` alone).
    pub fn detect(env: &Env) -> Option<Self> {
        detect(env, true)
    }

    /// How messages and logs name the source, e.g. "App Service managed identity".
    pub fn description(&self) -> &'static str {
        match self {
            ManagedIdentitySource::ServiceFabric => "Service Fabric managed identity",
            ManagedIdentitySource::AppService => "App Service managed identity",
            ManagedIdentitySource::AzureArc => "Azure Arc managed identity",
            ManagedIdentitySource::AzureMl => "Azure ML managed identity",
            ManagedIdentitySource::CloudShell => "Cloud Shell managed identity",
            ManagedIdentitySource::WorkloadIdentity => "workload identity",
            ManagedIdentitySource::Imds => "IMDS managed identity",
        }
    }

    /// A short stable tag (`imds`, `app_service`, …) used in cache partitions and tracing.
    pub fn tag(&self) -> &'static str {
        match self {
            ManagedIdentitySource::ServiceFabric => "service_fabric",
            ManagedIdentitySource::AppService => "app_service",
            ManagedIdentitySource::AzureArc => "azure_arc",
            ManagedIdentitySource::AzureMl => "azure_ml",
            ManagedIdentitySource::CloudShell => "cloud_shell",
            ManagedIdentitySource::WorkloadIdentity => "workload_identity",
            ManagedIdentitySource::Imds => "imds",
        }
    }
}

impl fmt::Display for ManagedIdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// Python's branches exactly: variables count only when non-empty; `allow_workload_identity` is
/// false inside `DefaultAzureCredential`, which has its own `WorkloadIdentityCredential`.
pub(crate) fn detect(env: &Env, allow_workload_identity: bool) -> Option<ManagedIdentitySource> {
    let set = |name: &str| env.non_empty(name).is_some();
    if set(Vars::IDENTITY_ENDPOINT) {
        return if set(Vars::IDENTITY_HEADER) {
            if set(Vars::IDENTITY_SERVER_THUMBPRINT) {
                Some(ManagedIdentitySource::ServiceFabric)
            } else {
                Some(ManagedIdentitySource::AppService)
            }
        } else if set(Vars::IMDS_ENDPOINT) {
            Some(ManagedIdentitySource::AzureArc)
        } else {
            None
        };
    }
    if set(Vars::MSI_ENDPOINT) {
        return if set(Vars::MSI_SECRET) {
            Some(ManagedIdentitySource::AzureMl)
        } else {
            Some(ManagedIdentitySource::CloudShell)
        };
    }
    let workload = [
        Vars::AZURE_AUTHORITY_HOST,
        Vars::AZURE_TENANT_ID,
        Vars::AZURE_FEDERATED_TOKEN_FILE,
    ]
    .iter()
    .all(|name| set(name));
    if workload && allow_workload_identity {
        return Some(ManagedIdentitySource::WorkloadIdentity);
    }
    Some(ManagedIdentitySource::Imds)
}

#[cfg(test)]
mod tests {
    use super::ManagedIdentitySource::*;
    use super::*;

    const WI: [&str; 3] = [
        "AZURE_AUTHORITY_HOST",
        "AZURE_TENANT_ID",
        "AZURE_FEDERATED_TOKEN_FILE",
    ];

    #[test]
    fn detection_table() {
        let table: &[(&[&str], bool, Option<ManagedIdentitySource>)] = &[
            (&[], true, Some(Imds)),
            (
                &[
                    "IDENTITY_ENDPOINT",
                    "IDENTITY_HEADER",
                    "IDENTITY_SERVER_THUMBPRINT",
                ],
                true,
                Some(ServiceFabric),
            ),
            (
                &["IDENTITY_ENDPOINT", "IDENTITY_HEADER"],
                true,
                Some(AppService),
            ),
            // App Service wins over Arc when both second variables are present.
            (
                &["IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IMDS_ENDPOINT"],
                true,
                Some(AppService),
            ),
            (
                &["IDENTITY_ENDPOINT", "IMDS_ENDPOINT"],
                true,
                Some(AzureArc),
            ),
            // A thumbprint without the header is not Service Fabric.
            (
                &["IDENTITY_ENDPOINT", "IDENTITY_SERVER_THUMBPRINT"],
                true,
                None,
            ),
            (&["IDENTITY_ENDPOINT"], true, None),
            (&["MSI_ENDPOINT", "MSI_SECRET"], true, Some(AzureMl)),
            (&["MSI_ENDPOINT"], true, Some(CloudShell)),
            (&["MSI_SECRET"], true, Some(Imds)),
            // IDENTITY_ENDPOINT branches come before MSI_ENDPOINT ones.
            (
                &["IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT"],
                true,
                Some(AppService),
            ),
            (&["IDENTITY_ENDPOINT", "MSI_ENDPOINT"], true, None),
            (&WI, true, Some(WorkloadIdentity)),
            (&WI, false, Some(Imds)),
            (&WI[..2], true, Some(Imds)),
            (
                &["MSI_ENDPOINT", WI[0], WI[1], WI[2]],
                true,
                Some(CloudShell),
            ),
            (&["IMDS_ENDPOINT"], true, Some(Imds)),
            (&["AZURE_POD_IDENTITY_AUTHORITY_HOST"], true, Some(Imds)),
        ];
        for (vars, allow_wi, expected) in table {
            let env = Env::from_pairs(vars.iter().map(|v| (*v, "x")));
            assert_eq!(detect(&env, *allow_wi), *expected, "{vars:?} wi={allow_wi}");
        }
    }

    #[test]
    fn empty_values_count_as_unset() {
        let env = Env::from_pairs([("IDENTITY_ENDPOINT", "http://x"), ("IDENTITY_HEADER", "")]);
        assert_eq!(detect(&env, true), None);
        let env = Env::from_pairs([("MSI_ENDPOINT", "")]);
        assert_eq!(detect(&env, true), Some(Imds));
        let env = Env::from_pairs([("MSI_ENDPOINT", "http://x"), ("MSI_SECRET", "")]);
        assert_eq!(ManagedIdentitySource::detect(&env), Some(CloudShell));
    }
}

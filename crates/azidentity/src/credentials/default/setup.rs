//! What each member finds at construction, as data: `azid doctor` (or any program) words it.

use std::path::PathBuf;

use super::DefaultAzureCredentialMember as Member;
use crate::platform::which;
use crate::{EnvironmentVariables as Vars, ManagedIdentitySource, Platform};

/// What a member of [`DefaultAzureCredential`](crate::DefaultAzureCredential) found at
/// construction, without I/O beyond a `PATH` lookup and a file existence check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemberSetup {
    /// The member is configured by environment variables; `set` lists those of its variables
    /// that have a value (names only: values may be secrets), in the order of `expected`.
    Variables {
        /// The variables the member reads.
        expected: &'static [&'static str],
        /// Those of them that are set.
        set: Vec<&'static str>,
    },
    /// Managed identity: the source detected from the environment (`None`:
    /// `IDENTITY_ENDPOINT` without `IDENTITY_HEADER` or `IMDS_ENDPOINT`), and, for IMDS, the
    /// address that replaces the default one (`AZURE_POD_IDENTITY_AUTHORITY_HOST`).
    ManagedIdentity {
        /// The detected source.
        source: Option<ManagedIdentitySource>,
        /// IMDS's address when the environment overrides it.
        imds_endpoint: Option<String>,
    },
    /// The member reads a file (the shared token cache, VS Code's auth record): where it is
    /// looked for (`None`: no home directory, or no record in any known place) and whether it
    /// exists.
    File {
        /// Where.
        path: Option<PathBuf>,
        /// Whether it is there.
        exists: bool,
    },
    /// A developer tool run as a subprocess: its program and where it is on `PATH`.
    Tool {
        /// The program, e.g. `az`.
        program: &'static str,
        /// Where `PATH` finds it.
        path: Option<PathBuf>,
    },
    /// Nothing to check ahead: the member signs the user in interactively.
    Interactive,
}

const ENVIRONMENT_VARS: &[&str] = &[
    Vars::AZURE_TENANT_ID,
    Vars::AZURE_CLIENT_ID,
    Vars::AZURE_CLIENT_SECRET,
    Vars::AZURE_CLIENT_CERTIFICATE_PATH,
    Vars::AZURE_USERNAME,
    Vars::AZURE_PASSWORD,
];

const WORKLOAD_IDENTITY_VARS: &[&str] = &[
    Vars::AZURE_FEDERATED_TOKEN_FILE,
    Vars::AZURE_TENANT_ID,
    Vars::AZURE_CLIENT_ID,
];

impl MemberSetup {
    pub(crate) fn find(member: Member, platform: &Platform) -> MemberSetup {
        let env = platform.env();
        let variables = |expected: &'static [&'static str]| MemberSetup::Variables {
            expected,
            set: expected
                .iter()
                .copied()
                .filter(|n| env.non_empty(n).is_some())
                .collect(),
        };
        let tool = |program: &'static str| MemberSetup::Tool {
            program,
            path: which(env, program),
        };
        match member {
            Member::Environment => variables(ENVIRONMENT_VARS),
            Member::WorkloadIdentity => variables(WORKLOAD_IDENTITY_VARS),
            Member::ManagedIdentity => {
                let source = ManagedIdentitySource::detect(env);
                MemberSetup::ManagedIdentity {
                    source,
                    imds_endpoint: (source == Some(ManagedIdentitySource::Imds))
                        .then(|| env.non_empty(Vars::AZURE_POD_IDENTITY_AUTHORITY_HOST))
                        .flatten(),
                }
            }
            Member::SharedTokenCache => {
                let path = crate::credentials::shared_token_cache::cache_path(platform, false);
                let exists = path.as_ref().is_some_and(|p| p.is_file());
                MemberSetup::File { path, exists }
            }
            Member::VisualStudioCode => {
                let path = crate::credentials::visual_studio_code::auth_record_path(platform);
                let exists = path.is_some();
                MemberSetup::File { path, exists }
            }
            Member::AzureCli => tool("az"),
            Member::AzurePowerShell => tool("pwsh"),
            Member::AzureDeveloperCli => tool("azd"),
            Member::InteractiveBrowser => MemberSetup::Interactive,
        }
    }
}

//! The members of the default chain as a closed set, named as Python names them.

use std::fmt;
use std::str::FromStr;

/// A member of [`DefaultAzureCredential`](crate::DefaultAzureCredential), in chain order
/// (Python's sync chain without the Windows broker). `Display` and `FromStr` use Python's class
/// names (`AzureCliCredential`); parsing ignores case and surrounding blanks, as
/// `AZURE_TOKEN_CREDENTIALS` does.
///
/// ```
/// use azidentity::DefaultAzureCredentialMember as Member;
/// let member: Member = "azureclicredential".parse().unwrap();
/// assert_eq!(member, Member::AzureCli);
/// assert_eq!(member.to_string(), "AzureCliCredential");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DefaultAzureCredentialMember {
    /// [`EnvironmentCredential`](crate::EnvironmentCredential).
    Environment,
    /// [`WorkloadIdentityCredential`](crate::WorkloadIdentityCredential).
    WorkloadIdentity,
    /// [`ManagedIdentityCredential`](crate::ManagedIdentityCredential).
    ManagedIdentity,
    /// [`SharedTokenCacheCredential`](crate::SharedTokenCacheCredential).
    SharedTokenCache,
    /// [`VisualStudioCodeCredential`](crate::VisualStudioCodeCredential).
    VisualStudioCode,
    /// [`AzureCliCredential`](crate::AzureCliCredential).
    AzureCli,
    /// [`AzurePowerShellCredential`](crate::AzurePowerShellCredential).
    AzurePowerShell,
    /// [`AzureDeveloperCliCredential`](crate::AzureDeveloperCliCredential).
    AzureDeveloperCli,
    /// [`InteractiveBrowserCredential`](crate::InteractiveBrowserCredential); left out unless
    /// asked for.
    InteractiveBrowser,
}

use DefaultAzureCredentialMember as Member;

impl DefaultAzureCredentialMember {
    /// Every member, in chain order.
    pub const ALL: [DefaultAzureCredentialMember; 9] = [
        Member::Environment,
        Member::WorkloadIdentity,
        Member::ManagedIdentity,
        Member::SharedTokenCache,
        Member::VisualStudioCode,
        Member::AzureCli,
        Member::AzurePowerShell,
        Member::AzureDeveloperCli,
        Member::InteractiveBrowser,
    ];

    /// Python's class name, e.g. `AzureCliCredential` (what the credential's
    /// [`name`](crate::TokenCredential::name) returns).
    pub fn name(self) -> &'static str {
        match self {
            Member::Environment => "EnvironmentCredential",
            Member::WorkloadIdentity => "WorkloadIdentityCredential",
            Member::ManagedIdentity => "ManagedIdentityCredential",
            Member::SharedTokenCache => "SharedTokenCacheCredential",
            Member::VisualStudioCode => "VisualStudioCodeCredential",
            Member::AzureCli => "AzureCliCredential",
            Member::AzurePowerShell => "AzurePowerShellCredential",
            Member::AzureDeveloperCli => "AzureDeveloperCliCredential",
            Member::InteractiveBrowser => "InteractiveBrowserCredential",
        }
    }

    /// The name of the [`DefaultAzureCredentialOptions`](crate::DefaultAzureCredentialOptions)
    /// field (and Python keyword) that excludes it, e.g. `exclude_cli_credential`.
    pub fn exclude_option(self) -> &'static str {
        match self {
            Member::Environment => "exclude_environment_credential",
            Member::WorkloadIdentity => "exclude_workload_identity_credential",
            Member::ManagedIdentity => "exclude_managed_identity_credential",
            Member::SharedTokenCache => "exclude_shared_token_cache_credential",
            Member::VisualStudioCode => "exclude_visual_studio_code_credential",
            Member::AzureCli => "exclude_cli_credential",
            Member::AzurePowerShell => "exclude_powershell_credential",
            Member::AzureDeveloperCli => "exclude_developer_cli_credential",
            Member::InteractiveBrowser => "exclude_interactive_browser_credential",
        }
    }

    /// Whether `AZURE_TOKEN_CREDENTIALS` may name it alone; the shared token cache cannot be
    /// selected alone (as in Python).
    pub fn selectable_alone(self) -> bool {
        self != Member::SharedTokenCache
    }

    /// Python's `dev` set: the tools a developer signs in to (not the interactive browser,
    /// which is in neither `dev` nor `prod`).
    pub fn is_developer_tool(self) -> bool {
        matches!(
            self,
            Member::SharedTokenCache
                | Member::VisualStudioCode
                | Member::AzureCli
                | Member::AzurePowerShell
                | Member::AzureDeveloperCli
        )
    }

    /// Python's `prod` set: what a deployed service authenticates with.
    pub fn is_production(self) -> bool {
        matches!(
            self,
            Member::Environment | Member::WorkloadIdentity | Member::ManagedIdentity
        )
    }

    /// Whether the member may start before the members above it have answered: it is
    /// non-interactive and changes nothing the user would notice. Environment and workload
    /// identity answer at once when they are not configured, and when they are they are the
    /// intended credential, so nothing starts before them (no IMDS probe from a service
    /// principal's process). The shared token cache (it may redeem and rotate refresh tokens)
    /// and VS Code (the broker) wait their turn. Managed identity counts only when it probes
    /// IMDS (decided by the chain).
    pub(crate) fn may_start_early(self) -> bool {
        matches!(
            self,
            Member::ManagedIdentity
                | Member::AzureCli
                | Member::AzurePowerShell
                | Member::AzureDeveloperCli
        )
    }
}

impl fmt::Display for DefaultAzureCredentialMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DefaultAzureCredentialMember {
    type Err = UnknownMemberError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim();
        Member::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownMemberError {
                text: wanted.to_owned(),
            })
    }
}

/// The text given to [`DefaultAzureCredentialMember::from_str`] names no member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMemberError {
    text: String,
}

impl UnknownMemberError {
    /// What was given.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for UnknownMemberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Member::ALL.iter().map(|m| m.name()).collect();
        write!(
            f,
            "{:?} is not a member of DefaultAzureCredential; the members are {}",
            self.text,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownMemberError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for member in Member::ALL {
            assert_eq!(member.to_string().parse::<Member>(), Ok(member));
            assert_eq!(
                member.name().to_ascii_uppercase().parse::<Member>(),
                Ok(member)
            );
        }
        assert_eq!(" azureclicredential ".parse(), Ok(Member::AzureCli));
        let e = "az".parse::<Member>().unwrap_err();
        assert_eq!(e.text(), "az");
        assert!(e.to_string().contains("AzureDeveloperCliCredential"), "{e}");
    }
}

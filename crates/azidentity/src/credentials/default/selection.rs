//! Which members `DefaultAzureCredential` has: Python's order, `AZURE_TOKEN_CREDENTIALS`, and
//! the `exclude_*` options (which win over the variable, in both directions).

use crate::{EnvironmentVariables, Error};

use super::NAME;

/// A member of the default chain, in Python's order (the sync chain without the broker, which
/// needs WAM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Member {
    Environment,
    WorkloadIdentity,
    ManagedIdentity,
    SharedTokenCache,
    VisualStudioCode,
    AzureCli,
    AzurePowerShell,
    AzureDeveloperCli,
    InteractiveBrowser,
}

impl Member {
    pub(crate) const ALL: [Member; 9] = [
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

    pub(crate) fn name(self) -> &'static str {
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

    /// The value of `AZURE_TOKEN_CREDENTIALS` selecting only this member; the shared token
    /// cache cannot be selected alone (as in Python).
    fn selector(self) -> Option<&'static str> {
        match self {
            Member::SharedTokenCache => None,
            other => Some(other.name()),
        }
    }

    /// Python's `dev` set: the tools a developer signs in to (not the interactive browser,
    /// which is in neither `dev` nor `prod`).
    fn is_developer_tool(self) -> bool {
        matches!(
            self,
            Member::SharedTokenCache
                | Member::VisualStudioCode
                | Member::AzureCli
                | Member::AzurePowerShell
                | Member::AzureDeveloperCli
        )
    }

    fn is_production(self) -> bool {
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
    pub(crate) fn starts_early(self) -> bool {
        matches!(
            self,
            Member::ManagedIdentity
                | Member::AzureCli
                | Member::AzurePowerShell
                | Member::AzureDeveloperCli
        )
    }
}

/// The outcome of the selection: each member with the reason it is left out, if it is.
#[derive(Debug)]
pub(crate) struct Selection {
    pub members: Vec<(Member, Option<String>)>,
    /// `AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential`: managed identity is the only
    /// intended credential, so it gets its full retry policy instead of the quick probe.
    pub managed_identity_alone: bool,
}

pub(crate) fn valid_values() -> String {
    let names: Vec<String> = Member::ALL
        .iter()
        .filter_map(|m| m.selector())
        .map(str::to_ascii_lowercase)
        .collect();
    format!("'dev', 'prod', or one of: {}", names.join(", "))
}

/// `explicit[i]` is the `exclude_*` option of `Member::ALL[i]` when the caller set it.
pub(crate) fn select(
    variable: Option<&str>,
    explicit: [Option<bool>; 9],
    require_envvar: bool,
) -> Result<Selection, Error> {
    let var = EnvironmentVariables::AZURE_TOKEN_CREDENTIALS;
    let value = variable
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if require_envvar && value.is_empty() {
        return Err(Error::config(
            NAME,
            format!(
                "require_envvar is set, but {var} is not. Set it to {}",
                valid_values()
            ),
        ));
    }
    let by_variable: Box<dyn Fn(Member) -> Option<String>> = match value.as_str() {
        // The interactive browser is opt-in (Python's exclude_interactive_browser_credential
        // defaults to true) unless the variable names it.
        "" => Box::new(|m: Member| {
            (m == Member::InteractiveBrowser).then(|| {
                "excluded by default (it opens a browser); set \
                 exclude_interactive_browser_credential to false to include it"
                    .to_owned()
            })
        }),
        "dev" => Box::new(move |m: Member| {
            (!m.is_developer_tool()).then(|| format!("{var}=dev selects developer tools only"))
        }),
        "prod" => Box::new(move |m: Member| {
            (!m.is_production()).then(|| {
                format!("{var}=prod selects environment, workload and managed identity only")
            })
        }),
        name => {
            let Some(chosen) = Member::ALL
                .into_iter()
                .find(|m| m.selector().is_some_and(|s| s.eq_ignore_ascii_case(name)))
            else {
                return Err(Error::config(
                    NAME,
                    format!(
                        "Invalid value for {var}: {:?}. Valid values are {} (case-insensitive)",
                        variable.unwrap_or_default().trim(),
                        valid_values()
                    ),
                ));
            };
            let chosen_name = chosen.name();
            Box::new(move |m: Member| {
                (m != chosen).then(|| format!("{var} selects {chosen_name} only"))
            })
        }
    };
    let members: Vec<(Member, Option<String>)> = Member::ALL
        .into_iter()
        .zip(explicit)
        .map(|(member, explicit)| {
            let reason = match explicit {
                Some(true) => Some(format!(
                    "excluded by the option exclude_{}",
                    option_suffix(member)
                )),
                Some(false) => None,
                None => by_variable(member),
            };
            (member, reason)
        })
        .collect();
    if members.iter().all(|(_, reason)| reason.is_some()) {
        return Err(Error::config(
            NAME,
            "at least one credential is required: the exclude options and \
             AZURE_TOKEN_CREDENTIALS leave none",
        ));
    }
    let managed_identity_alone = value == "managedidentitycredential";
    Ok(Selection {
        members,
        managed_identity_alone,
    })
}

pub(crate) fn option_suffix(member: Member) -> &'static str {
    match member {
        Member::Environment => "environment_credential",
        Member::WorkloadIdentity => "workload_identity_credential",
        Member::ManagedIdentity => "managed_identity_credential",
        Member::SharedTokenCache => "shared_token_cache_credential",
        Member::VisualStudioCode => "visual_studio_code_credential",
        Member::AzureCli => "cli_credential",
        Member::AzurePowerShell => "powershell_credential",
        Member::AzureDeveloperCli => "developer_cli_credential",
        Member::InteractiveBrowser => "interactive_browser_credential",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn included(s: &Selection) -> Vec<&'static str> {
        s.members
            .iter()
            .filter(|(_, r)| r.is_none())
            .map(|(m, _)| m.name())
            .collect()
    }

    #[test]
    fn the_variable_selects_and_explicit_options_win() {
        let none = [None; 9];
        assert_eq!(included(&select(None, none, false).unwrap()).len(), 8);
        let mut browser = none;
        browser[8] = Some(false);
        assert_eq!(included(&select(None, browser, false).unwrap()).len(), 9);
        assert_eq!(
            included(&select(Some("InteractiveBrowserCredential"), none, false).unwrap()),
            ["InteractiveBrowserCredential"]
        );
        assert_eq!(
            included(&select(Some(" DEV "), none, false).unwrap()),
            [
                "SharedTokenCacheCredential",
                "VisualStudioCodeCredential",
                "AzureCliCredential",
                "AzurePowerShellCredential",
                "AzureDeveloperCliCredential"
            ]
        );
        let mut cli_back = none;
        cli_back[5] = Some(false);
        assert_eq!(
            included(&select(Some("prod"), cli_back, false).unwrap()),
            [
                "EnvironmentCredential",
                "WorkloadIdentityCredential",
                "ManagedIdentityCredential",
                "AzureCliCredential"
            ]
        );
        let s = select(Some("ManagedIdentityCredential"), none, false).unwrap();
        assert_eq!(included(&s), ["ManagedIdentityCredential"]);
        assert!(s.managed_identity_alone);
        let mut all_out = none;
        all_out[2] = Some(true);
        let e = select(Some("managedidentitycredential"), all_out, false).unwrap_err();
        assert!(e.message().contains("at least one credential is required"));
    }

    #[test]
    fn bad_values_list_the_valid_ones() {
        let e = select(Some("nonsense"), [None; 9], false).unwrap_err();
        assert!(matches!(e.kind(), crate::ErrorKind::InvalidConfiguration));
        assert!(e.message().contains("\"nonsense\""), "{e}");
        assert!(
            e.message()
                .contains("'dev', 'prod', or one of: environmentcredential"),
            "{e}"
        );
        assert!(!e.message().contains("sharedtokencachecredential"), "{e}");
        let e = select(Some("SharedTokenCacheCredential"), [None; 9], false).unwrap_err();
        assert!(e.message().contains("Invalid value"));
        assert!(select(None, [None; 9], true).is_err());
        assert!(select(Some("dev"), [None; 9], true).is_ok());
    }
}

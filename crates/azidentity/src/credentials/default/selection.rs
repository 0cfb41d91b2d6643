//! Which members `DefaultAzureCredential` has: Python's order, `AZURE_TOKEN_CREDENTIALS`, and
//! the `exclude_*` options (which win over the variable, in both directions).

use super::DefaultAzureCredentialMember as Member;
use super::NAME;
use crate::{EnvironmentVariables, Error};

/// What `AZURE_TOKEN_CREDENTIALS` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenCredentialsSelection {
    /// `dev`: the developer tools ([`Member::is_developer_tool`]).
    Dev,
    /// `prod`: environment, workload and managed identity ([`Member::is_production`]).
    Prod,
    /// One member's name: that member alone.
    Only(Member),
}

impl TokenCredentialsSelection {
    fn includes(self, member: Member) -> bool {
        match self {
            TokenCredentialsSelection::Dev => member.is_developer_tool(),
            TokenCredentialsSelection::Prod => member.is_production(),
            TokenCredentialsSelection::Only(chosen) => member == chosen,
        }
    }
}

/// Why a member is not part of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Exclusion {
    /// Its `exclude_*` option is `Some(true)`.
    ByOption,
    /// Left out unless asked for: the interactive browser (it opens a browser), when neither
    /// its option nor `AZURE_TOKEN_CREDENTIALS` includes it.
    ByDefault,
    /// `AZURE_TOKEN_CREDENTIALS` selects other members.
    ByVariable(TokenCredentialsSelection),
}

impl Exclusion {
    /// A stable, machine-readable code: `excluded_by_option`, `excluded_by_default` or
    /// `excluded_by_variable`.
    pub fn code(self) -> &'static str {
        match self {
            Exclusion::ByOption => "excluded_by_option",
            Exclusion::ByDefault => "excluded_by_default",
            Exclusion::ByVariable(_) => "excluded_by_variable",
        }
    }
}

/// The outcome of the selection: each member with the reason it is left out, if it is.
#[derive(Debug)]
pub(crate) struct Selection {
    pub members: Vec<(Member, Option<Exclusion>)>,
    /// `AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential`: managed identity is the only
    /// intended credential, so it gets its full retry policy instead of the quick probe.
    pub managed_identity_alone: bool,
}

fn valid_values() -> String {
    let names: Vec<String> = Member::ALL
        .iter()
        .filter(|m| m.selectable_alone())
        .map(|m| m.name().to_ascii_lowercase())
        .collect();
    format!("'dev', 'prod', or one of: {}", names.join(", "))
}

/// Reads `AZURE_TOKEN_CREDENTIALS` (trimmed, any case); `None` when unset or empty.
fn parse(variable: Option<&str>) -> Result<Option<TokenCredentialsSelection>, Error> {
    let value = variable.unwrap_or_default().trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value.eq_ignore_ascii_case("dev") {
        return Ok(Some(TokenCredentialsSelection::Dev));
    }
    if value.eq_ignore_ascii_case("prod") {
        return Ok(Some(TokenCredentialsSelection::Prod));
    }
    match value.parse::<Member>() {
        Ok(member) if member.selectable_alone() => {
            Ok(Some(TokenCredentialsSelection::Only(member)))
        }
        _ => Err(Error::config(
            NAME,
            format!(
                "Invalid value for {}: {value:?}. Valid values are {} (case-insensitive)",
                EnvironmentVariables::AZURE_TOKEN_CREDENTIALS,
                valid_values()
            ),
        )),
    }
}

/// `explicit(member)` is the member's `exclude_*` option.
pub(crate) fn select(
    variable: Option<&str>,
    explicit: impl Fn(Member) -> Option<bool>,
    require_envvar: bool,
) -> Result<Selection, Error> {
    let selected = parse(variable)?;
    if require_envvar && selected.is_none() {
        return Err(Error::config(
            NAME,
            format!(
                "require_envvar is set, but {} is not. Set it to {}",
                EnvironmentVariables::AZURE_TOKEN_CREDENTIALS,
                valid_values()
            ),
        ));
    }
    let members: Vec<(Member, Option<Exclusion>)> = Member::ALL
        .into_iter()
        .map(|member| {
            let exclusion = match (explicit(member), selected) {
                (Some(true), _) => Some(Exclusion::ByOption),
                (Some(false), _) => None,
                (None, Some(selection)) => {
                    (!selection.includes(member)).then_some(Exclusion::ByVariable(selection))
                }
                // The interactive browser is opt-in (Python's exclude_interactive_browser_credential
                // defaults to true) unless the variable names it.
                (None, None) => {
                    (member == Member::InteractiveBrowser).then_some(Exclusion::ByDefault)
                }
            };
            (member, exclusion)
        })
        .collect();
    if members.iter().all(|(_, exclusion)| exclusion.is_some()) {
        return Err(Error::config(
            NAME,
            "at least one credential is required: the exclude options and \
             AZURE_TOKEN_CREDENTIALS leave none",
        ));
    }
    Ok(Selection {
        members,
        managed_identity_alone: selected
            == Some(TokenCredentialsSelection::Only(Member::ManagedIdentity)),
    })
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

    fn none(_: Member) -> Option<bool> {
        None
    }

    #[test]
    fn the_variable_selects_and_explicit_options_win() {
        assert_eq!(included(&select(None, none, false).unwrap()).len(), 8);
        let browser = |m| (m == Member::InteractiveBrowser).then_some(false);
        assert_eq!(included(&select(None, browser, false).unwrap()).len(), 9);
        let s = select(Some("InteractiveBrowserCredential"), none, false).unwrap();
        assert_eq!(included(&s), ["InteractiveBrowserCredential"]);
        assert_eq!(
            s.members[0].1,
            Some(Exclusion::ByVariable(TokenCredentialsSelection::Only(
                Member::InteractiveBrowser
            )))
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
        let cli_back = |m| (m == Member::AzureCli).then_some(false);
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
        let mi_out = |m| (m == Member::ManagedIdentity).then_some(true);
        let e = select(Some("managedidentitycredential"), mi_out, false).unwrap_err();
        assert!(e.message().contains("at least one credential is required"));
        let s = select(None, |m| Some(m != Member::AzureCli), false).unwrap();
        assert_eq!(included(&s), ["AzureCliCredential"]);
        assert_eq!(s.members[0].1, Some(Exclusion::ByOption));
        assert_eq!(s.members[0].1.unwrap().code(), "excluded_by_option");
    }

    #[test]
    fn bad_values_list_the_valid_ones() {
        let e = select(Some("nonsense"), none, false).unwrap_err();
        assert!(matches!(e.kind(), crate::ErrorKind::InvalidConfiguration));
        assert!(e.message().contains("\"nonsense\""), "{e}");
        assert!(
            e.message()
                .contains("'dev', 'prod', or one of: environmentcredential"),
            "{e}"
        );
        assert!(!e.message().contains("sharedtokencachecredential"), "{e}");
        let e = select(Some("SharedTokenCacheCredential"), none, false).unwrap_err();
        assert!(e.message().contains("Invalid value"));
        assert!(select(None, none, true).is_err());
        assert!(select(Some("dev"), none, true).is_ok());
    }
}

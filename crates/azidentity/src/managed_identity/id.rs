//! Which managed identity to use: the host's system-assigned identity or one of its
//! user-assigned identities, named by one of three ids.

use std::fmt;

use crate::Error;

/// The identity to authenticate as. A host can have one system-assigned identity and any number
/// of user-assigned ones; a user-assigned identity is selected by exactly one of its ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum ManagedIdentityId {
    /// The host's system-assigned identity (or the only user-assigned one, where the host
    /// allows that).
    #[default]
    SystemAssigned,
    /// A user-assigned identity by its client (application) id.
    ClientId(String),
    /// A user-assigned identity by its object (principal) id.
    ObjectId(String),
    /// A user-assigned identity by its Azure resource id
    /// (`/subscriptions/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/…`).
    ResourceId(String),
}

/// The query or form parameter names a host uses for each kind of id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SelectorNames {
    pub client_id: &'static str,
    pub object_id: &'static str,
    pub resource_id: &'static str,
}

impl ManagedIdentityId {
    /// Python's `client_id=` / `identity_config={...}` check: at most one selector may be given.
    /// Empty values count as absent.
    pub fn from_selectors(
        client_id: Option<&str>,
        object_id: Option<&str>,
        resource_id: Option<&str>,
    ) -> Result<Self, Error> {
        let given = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let selectors = [
            given(client_id).map(ManagedIdentityId::ClientId),
            given(object_id).map(ManagedIdentityId::ObjectId),
            given(resource_id).map(ManagedIdentityId::ResourceId),
        ];
        let mut chosen = selectors.into_iter().flatten();
        let first = chosen.next().unwrap_or_default();
        if chosen.next().is_some() {
            return Err(Error::config(
                "ManagedIdentityCredential",
                "more than one user-assigned identity selector was given; pass only one of \
                 client_id, object_id and resource_id",
            ));
        }
        Ok(first)
    }

    /// Whether a user-assigned identity was requested.
    pub fn is_user_assigned(&self) -> bool {
        !matches!(self, ManagedIdentityId::SystemAssigned)
    }

    /// The id's value, `None` for the system-assigned identity.
    pub fn value(&self) -> Option<&str> {
        match self {
            ManagedIdentityId::SystemAssigned => None,
            ManagedIdentityId::ClientId(v)
            | ManagedIdentityId::ObjectId(v)
            | ManagedIdentityId::ResourceId(v) => Some(v),
        }
    }

    /// `client_id`, `object_id`, `resource_id` or `system_assigned`: how logs and cache
    /// partitions name the kind of id.
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            ManagedIdentityId::SystemAssigned => "system_assigned",
            ManagedIdentityId::ClientId(_) => "client_id",
            ManagedIdentityId::ObjectId(_) => "object_id",
            ManagedIdentityId::ResourceId(_) => "resource_id",
        }
    }

    /// The parameter to send for this id under a host's naming, if any.
    pub(crate) fn selector(&self, names: SelectorNames) -> Option<(&'static str, &str)> {
        match self {
            ManagedIdentityId::SystemAssigned => None,
            ManagedIdentityId::ClientId(v) => Some((names.client_id, v)),
            ManagedIdentityId::ObjectId(v) => Some((names.object_id, v)),
            ManagedIdentityId::ResourceId(v) => Some((names.resource_id, v)),
        }
    }

    /// Ids travel in URLs and cache keys: they must be non-empty and free of control characters.
    pub(crate) fn validate(&self, credential: &'static str) -> Result<(), Error> {
        match self.value() {
            Some(v) if v.trim().is_empty() => Err(Error::config(
                credential,
                format!(
                    "the user-assigned identity's {} is empty; pass its value, or use \
                     ManagedIdentityId::SystemAssigned",
                    self.kind_name()
                ),
            )),
            Some(v) if v.chars().any(char::is_control) => Err(Error::config(
                credential,
                format!(
                    "the user-assigned identity's {} contains control characters",
                    self.kind_name()
                ),
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for ManagedIdentityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value() {
            None => f.write_str("system-assigned identity"),
            Some(v) => write!(f, "user-assigned identity with {} {v}", self.kind_name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_one_selector() {
        assert_eq!(
            ManagedIdentityId::from_selectors(None, None, None).unwrap(),
            ManagedIdentityId::SystemAssigned
        );
        assert_eq!(
            ManagedIdentityId::from_selectors(Some(""), Some("o"), None).unwrap(),
            ManagedIdentityId::ObjectId("o".into())
        );
        let err = ManagedIdentityId::from_selectors(Some("c"), None, Some("r")).unwrap_err();
        assert!(matches!(err.kind(), crate::ErrorKind::InvalidConfiguration));
        assert!(err.message().contains("only one"));
    }

    #[test]
    fn validation_and_names() {
        assert!(
            ManagedIdentityId::ClientId(" ".into())
                .validate("X")
                .is_err()
        );
        assert!(
            ManagedIdentityId::ResourceId("a\nb".into())
                .validate("X")
                .is_err()
        );
        assert!(
            ManagedIdentityId::ClientId("c".into())
                .validate("X")
                .is_ok()
        );
        let names = SelectorNames {
            client_id: "clientid",
            object_id: "object_id",
            resource_id: "mi_res_id",
        };
        assert_eq!(
            ManagedIdentityId::ResourceId("/r".into()).selector(names),
            Some(("mi_res_id", "/r"))
        );
        assert_eq!(ManagedIdentityId::SystemAssigned.selector(names), None);
        assert_eq!(
            ManagedIdentityId::ClientId("c".into()).to_string(),
            "user-assigned identity with client_id c"
        );
    }
}

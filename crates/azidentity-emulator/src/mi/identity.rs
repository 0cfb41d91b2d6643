//! Which identity a request names, and the access token minted for it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::host::{ManagedIdentityHost, UserAssignedIdentity};
use crate::state::Shared;

/// The client id of every host's system-assigned identity.
pub const SYSTEM_ASSIGNED_CLIENT_ID: &str = "5c7a3f0e-1d2b-4c6e-8f9a-0b1c2d3e4f50";
/// The object id of every host's system-assigned identity.
pub const SYSTEM_ASSIGNED_OBJECT_ID: &str = "9e8d7c6b-5a49-4382-a716-253443526170";
/// The resource id of every host's system-assigned identity (the host itself).
pub const SYSTEM_ASSIGNED_RESOURCE_ID: &str = "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/emulator/providers/Microsoft.Compute/virtualMachines/emulator-host";
/// The client id of the user-assigned identity every host has by default.
pub const USER_ASSIGNED_CLIENT_ID: &str = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";
/// The object id of the default user-assigned identity.
pub const USER_ASSIGNED_OBJECT_ID: &str = "0f9e8d7c-6b5a-4493-8271-605f4e3d2c1b";
/// The resource id of the default user-assigned identity.
pub const USER_ASSIGNED_RESOURCE_ID: &str = "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/emulator/providers/Microsoft.ManagedIdentity/userAssignedIdentities/emulator-identity";

/// The kind of id a selector parameter carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdKind {
    Client,
    Object,
    Resource,
}

/// The identity a request resolved to.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub identity: UserAssignedIdentity,
    /// Which selector named it (`None`: system-assigned).
    pub by: Option<IdKind>,
}

/// Why no identity could be chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotResolved {
    /// More than one selector.
    Ambiguous,
    /// No identity with that id is assigned (or no system-assigned identity exists).
    NotFound,
}

/// The client id of the identity a host uses when none is named: the system-assigned one, else
/// the first user-assigned one (Azure ML's `DEFAULT_IDENTITY_CLIENT_ID`).
pub(crate) fn default_client_id(host: &ManagedIdentityHost) -> Option<String> {
    if host.system_assigned {
        return Some(host.system_identity.client_id.clone());
    }
    host.user_assigned.first().map(|id| id.client_id.clone())
}

/// `names` maps the host's parameter names to id kinds. A selector that names the
/// system-assigned identity selects it (msal-node asks Azure ML for the system identity by
/// its client id). Ids compare case-insensitively (GUIDs
/// and ARM ids are case-insensitive in Azure).
/// `added` are identities assigned at run time besides the host's own.
pub(crate) fn resolve<'a>(
    host: &'a ManagedIdentityHost,
    added: impl IntoIterator<Item = &'a UserAssignedIdentity>,
    query: &[(String, String)],
    names: &[(&str, IdKind)],
) -> Result<Resolved, NotResolved> {
    let given: Vec<(IdKind, &str)> = query
        .iter()
        .filter_map(|(k, v)| {
            names
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, kind)| (*kind, v.as_str()))
        })
        .filter(|(_, v)| !v.is_empty())
        .collect();
    match given.as_slice() {
        [] if host.system_assigned => Ok(Resolved {
            identity: host.system_identity.clone(),
            by: None,
        }),
        [] => Err(NotResolved::NotFound),
        [(kind, value)]
            if host.system_assigned && is_named(&host.system_identity, *kind, value) =>
        {
            Ok(Resolved {
                identity: host.system_identity.clone(),
                by: Some(*kind),
            })
        }
        [(kind, value)] => host
            .user_assigned
            .iter()
            .chain(added)
            .find(|id| is_named(id, *kind, value))
            .map(|identity| Resolved {
                identity: identity.clone(),
                by: Some(*kind),
            })
            .ok_or(NotResolved::NotFound),
        _ => Err(NotResolved::Ambiguous),
    }
}

/// Whether `value`, a selector of this kind, names `identity`.
fn is_named(identity: &UserAssignedIdentity, kind: IdKind, value: &str) -> bool {
    let own = match kind {
        IdKind::Client => &identity.client_id,
        IdKind::Object => &identity.object_id,
        IdKind::Resource => &identity.resource_id,
    };
    own.eq_ignore_ascii_case(value)
}

/// The resource a token is for: a scope with `/.default` is the classic mistake of sending a
/// v2 scope to a v1 endpoint, which Azure refuses (AADSTS500011).
pub(crate) fn check_resource(resource: Option<&str>) -> Result<&str, String> {
    match resource.map(str::trim) {
        None | Some("") => Err("Required query variable 'resource' is missing".to_owned()),
        Some(r) if r.ends_with("/.default") => Err(format!(
            "AADSTS500011: The resource principal named {r} was not found in the tenant. A \
             managed identity endpoint takes a resource, not a scope."
        )),
        Some(r) => Ok(r),
    }
}

/// The lifetime and `refresh_in` of a host's tokens: the emulator's timing settings win.
pub(crate) fn timing(
    shared: &Shared,
    host: &ManagedIdentityHost,
) -> (std::time::Duration, Option<std::time::Duration>) {
    let timing = shared.config().timing;
    (
        timing.mi_token_lifetime.unwrap_or(host.token_lifetime),
        host.refresh_in.or(timing.refresh_in),
    )
}

/// A signed access token for `identity` and `resource`, with Entra's managed identity claims.
/// Returns the token and its `exp`.
pub(crate) fn mint(
    shared: &Shared,
    host: &ManagedIdentityHost,
    identity: &UserAssignedIdentity,
    resource: &str,
    now: i64,
) -> Result<(String, i64), String> {
    let (lifetime, _) = timing(shared, host);
    let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2);
    let exp = now.saturating_add(lifetime);
    let issuer = format!("https://sts.windows.net/{}/", host.tenant);
    let claims: Value = json!({
        "aud": resource,
        "iss": issuer,
        "iat": now - 300,
        "nbf": now - 300,
        "exp": exp,
        "aio": random_id(),
        "appid": identity.client_id,
        "appidacr": "2",
        "idp": issuer,
        "idtyp": "app",
        "oid": identity.object_id,
        "rh": format!("0.{}.", random_id()),
        "sub": identity.object_id,
        "tid": host.tenant,
        "uti": random_id(),
        "ver": "1.0",
        "xms_mirid": identity.resource_id,
    });
    Ok((shared.signer.sign(&claims)?, exp))
}

fn random_id() -> String {
    URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mi::HostKind;

    const NAMES: &[(&str, IdKind)] = &[
        ("client_id", IdKind::Client),
        ("object_id", IdKind::Object),
        ("msi_res_id", IdKind::Resource),
    ];

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn resolution() {
        let host = ManagedIdentityHost::new(HostKind::Imds);
        assert!(resolve(&host, [], &q(&[]), NAMES).unwrap().by.is_none());
        let added = UserAssignedIdentity::new("added", "added-object", "/added");
        let found = resolve(&host, [&added], &q(&[("object_id", "ADDED-OBJECT")]), NAMES).unwrap();
        assert_eq!(found.identity, added);
        let r = resolve(
            &host,
            [],
            &q(&[("msi_res_id", &USER_ASSIGNED_RESOURCE_ID.to_uppercase())]),
            NAMES,
        )
        .unwrap();
        assert_eq!(r.identity.client_id, USER_ASSIGNED_CLIENT_ID);
        assert_eq!(
            resolve(&host, [], &q(&[("client_id", "nope")]), NAMES).unwrap_err(),
            NotResolved::NotFound
        );
        assert_eq!(
            resolve(
                &host,
                [],
                &q(&[("client_id", "a"), ("object_id", "b")]),
                NAMES
            )
            .unwrap_err(),
            NotResolved::Ambiguous
        );
        let system = resolve(
            &host,
            [],
            &q(&[("client_id", SYSTEM_ASSIGNED_CLIENT_ID)]),
            NAMES,
        )
        .expect("the system identity by its client id");
        assert_eq!(system.identity.object_id, SYSTEM_ASSIGNED_OBJECT_ID);
        let bare = host.without_system_assigned();
        assert_eq!(
            resolve(
                &bare,
                [],
                &q(&[("client_id", SYSTEM_ASSIGNED_CLIENT_ID)]),
                NAMES
            )
            .unwrap_err(),
            NotResolved::NotFound
        );
        assert_eq!(
            resolve(&bare, [], &q(&[]), NAMES).unwrap_err(),
            NotResolved::NotFound
        );
    }

    #[test]
    fn resources() {
        assert_eq!(check_resource(Some("https://x")), Ok("https://x"));
        assert!(check_resource(Some("https://x/.default")).is_err());
        assert!(check_resource(None).is_err());
    }
}

//! The rules Entra applies to `scope` in the client credentials grant.

use super::error::EntraError;

/// The single resource a client-credentials `scope` asks for, e.g. `https://x/.default` ->
/// `https://x`. `tenant` only fills the error text.
pub(crate) fn client_credentials_resource(scope: &str, tenant: &str) -> Result<String, EntraError> {
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    if scopes.is_empty() {
        return Err(EntraError::missing_parameter("scope"));
    }
    let mut resources: Vec<&str> = Vec::new();
    for scope in &scopes {
        let Some(resource) = scope.strip_suffix("/.default") else {
            return Err(EntraError::scope_needs_default_suffix(scope));
        };
        if !resources.iter().any(|r| r.eq_ignore_ascii_case(resource)) {
            resources.push(resource);
        }
    }
    let [resource] = resources.as_slice() else {
        // Entra issues a token for one resource only, so a second one is an invalid scope.
        return Err(EntraError::invalid_scope(&scopes.join(" ")));
    };
    if resource.is_empty() {
        return Err(EntraError::invalid_scope(&scopes.join(" ")));
    }
    if !looks_like_resource(resource) {
        return Err(EntraError::resource_not_found(resource, tenant));
    }
    Ok((*resource).to_owned())
}

/// The emulator knows no resource registry, so any application ID URI shape is accepted
/// (`https://…`, `api://…`, `urn:…`, or a bare application GUID); anything else is a name
/// Entra could not find either.
pub(crate) fn looks_like_resource(resource: &str) -> bool {
    resource.contains("://")
        || resource.starts_with("urn:")
        || uuid::Uuid::try_parse(resource).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(scope: &str) -> u32 {
        client_credentials_resource(scope, "t")
            .expect_err("should fail")
            .code
    }

    #[test]
    fn resources() {
        let ok = |s| client_credentials_resource(s, "t").expect("valid");
        assert_eq!(
            ok("https://vault.azure.net/.default"),
            "https://vault.azure.net"
        );
        assert_eq!(
            ok("https://management.core.windows.net//.default"),
            "https://management.core.windows.net/"
        );
        assert_eq!(ok("api://abc/.default"), "api://abc");
        assert_eq!(
            ok("00000003-0000-0000-c000-000000000000/.default"),
            "00000003-0000-0000-c000-000000000000"
        );
        assert_eq!(ok("https://x/.default https://X/.default"), "https://x");
    }

    #[test]
    fn errors() {
        assert_eq!(code(""), 900144);
        assert_eq!(code("   "), 900144);
        assert_eq!(code("https://graph.microsoft.com/User.Read"), 1002012);
        assert_eq!(code("openid"), 1002012);
        assert_eq!(code("https://a/.default https://b/.default"), 70011);
        assert_eq!(code("/.default"), 70011);
        assert_eq!(code("nonsense/.default"), 500011);
    }
}

//! Authority hosts, tenant and scope validation, and the multi-tenant rule (`resolve_tenant`).

use crate::Error;

/// Authority hosts of the Azure clouds (Python: `AzureAuthorityHosts`).
#[derive(Debug, Clone, Copy)]
pub struct AzureAuthorityHosts;

impl AzureAuthorityHosts {
    /// The public cloud.
    pub const AZURE_PUBLIC_CLOUD: &'static str = "login.microsoftonline.com";
    /// Azure operated by 21Vianet.
    pub const AZURE_CHINA: &'static str = "login.chinacloudapi.cn";
    /// Azure US Government.
    pub const AZURE_GOVERNMENT: &'static str = "login.microsoftonline.us";
    /// Azure Germany, closed in 2021.
    #[deprecated(note = "Azure Germany was closed; use AZURE_PUBLIC_CLOUD")]
    pub const AZURE_GERMANY: &'static str = "login.microsoftonline.de";
}

/// Python's older name for [`AzureAuthorityHosts`].
pub type KnownAuthorities = AzureAuthorityHosts;

/// Hosts MSAL trusts without instance discovery.
const KNOWN_HOSTS: &[&str] = &[
    "login.microsoftonline.com",
    "login.microsoft.com",
    "login.windows.net",
    "sts.windows.net",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
    "login.microsoftonline.de",
    "login-us.microsoftonline.com",
    "login.microsoftonline.us",
    "login.usgovcloudapi.net",
    "login.sovcloud-identity.fr",
    "login.sovcloud-identity.de",
    "login.sovcloud-identity.sg",
];

/// A validated authority: `https://host[:port]`, no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Authority {
    base: String,
    host: String,
}

impl Authority {
    /// Normalises like Python: prepends `https://` when there is no scheme, strips spaces and
    /// trailing slashes, refuses any scheme but https and anything after the host.
    pub(crate) fn parse(credential: &'static str, input: &str) -> Result<Self, Error> {
        // Messages show the input without any user information, which may hold a password.
        let shown = input.rsplit_once('@').map_or(input, |(_, host)| host);
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(Error::config(credential, "the authority host is empty"));
        }
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_owned()
        } else {
            format!("https://{trimmed}")
        };
        let with_scheme = with_scheme.trim_end_matches('/');
        let url = url::Url::parse(with_scheme).map_err(|e| {
            Error::config(
                credential,
                format!("the authority host {shown:?} is not a valid URL: {e}"),
            )
        })?;
        if url.scheme() != "https" {
            return Err(Error::config(
                credential,
                format!(
                    "the authority host {shown:?} must use https; tokens are never requested \
                     over plain HTTP. Use for example https://login.microsoftonline.com"
                ),
            ));
        }
        let Some(host) = url.host_str() else {
            return Err(Error::config(
                credential,
                format!("the authority {shown:?} has no host"),
            ));
        };
        if url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            // The input is not echoed: it may hold a password.
            return Err(Error::config(
                credential,
                format!(
                    "the authority host {host} must be a host name (optionally with a port), \
                     without a path, query, fragment or user; put the tenant in tenant_id \
                     instead"
                ),
            ));
        }
        let host = host.to_ascii_lowercase();
        let base = match url.port() {
            Some(port) => format!("https://{host}:{port}"),
            None => format!("https://{host}"),
        };
        Ok(Authority { base, host })
    }

    /// `https://host[:port]`.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// `host[:port]`, as an `AuthenticationRecord` stores it.
    pub(crate) fn host_and_port(&self) -> &str {
        self.base.trim_start_matches("https://")
    }

    /// Whether MSAL would trust this host without instance discovery.
    pub(crate) fn is_well_known(&self) -> bool {
        KNOWN_HOSTS.contains(&self.host.as_str())
    }
}

/// Tenant ids and domain names: letters, digits, `.` and `-` (Python's `validate_tenant_id`),
/// and not only dots: the tenant is a path segment of every endpoint, and `.` or `..` there
/// would be resolved away by URL parsing (`https://host/../oauth2/token`), sending the request
/// somewhere the caller never named.
pub(crate) fn validate_tenant_id(credential: &'static str, tenant: &str) -> Result<(), Error> {
    if tenant.is_empty()
        || tenant.bytes().all(|b| b == b'.')
        || !tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(Error::config(
            credential,
            format!(
                "invalid tenant id {tenant:?}: use a tenant GUID or domain name (letters, digits, \
                 '.' and '-'); see https://aka.ms/azsdk/identity/tenantid"
            ),
        ));
    }
    Ok(())
}

/// Scopes must be present and each one free of whitespace, quotes and control characters: such
/// a value is never a real scope and would corrupt the space-separated `scope` field.
pub(crate) fn validate_scopes(credential: &'static str, scopes: &[&str]) -> Result<(), Error> {
    if scopes.is_empty() {
        return Err(Error::config(
            credential,
            "no scopes were given; request at least one, e.g. https://management.azure.com/.default",
        ));
    }
    for scope in scopes {
        let bad = scope.is_empty()
            || scope
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\'');
        if bad {
            return Err(Error::config(
                credential,
                format!(
                    "invalid scope {scope:?}: a scope is one URI-like word without spaces or \
                     quotes, e.g. https://management.azure.com/.default"
                ),
            ));
        }
    }
    Ok(())
}

/// The multi-tenant rule: which tenant a request goes to. Python's `resolve_tenant`, rule for rule.
pub(crate) fn resolve_tenant<'a>(
    credential: &'static str,
    configured: &'a str,
    requested: Option<&'a str>,
    additionally_allowed: &[String],
    multitenant_disabled: bool,
) -> Result<&'a str, Error> {
    let Some(requested) = requested.filter(|t| !t.is_empty() && *t != configured) else {
        return Ok(configured);
    };
    if configured.eq_ignore_ascii_case("adfs") || multitenant_disabled {
        tracing::info!(
            credential,
            "using the configured tenant; multi-tenant authentication is off"
        );
        return Ok(configured);
    }
    // Every branch that returns the requested tenant returns a valid one, so no caller has to
    // remember to check it.
    validate_tenant_id(credential, requested)?;
    if configured.is_empty() {
        return Ok(requested);
    }
    if additionally_allowed
        .iter()
        .any(|t| t == "*" || t == requested)
    {
        tracing::info!(credential, tenant = requested, "using the requested tenant");
        return Ok(requested);
    }
    if additionally_allowed.is_empty() && configured == "organizations" {
        return Ok(requested);
    }
    Err(Error::failed(
        credential,
        format!(
            "the credential is not configured to acquire tokens for tenant {requested}. To enable \
             acquiring tokens for this tenant add it to additionally_allowed_tenants when \
             creating the credential, or add \"*\" to additionally_allowed_tenants to allow \
             acquiring tokens for any tenant."
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn authority_normalisation() {
        let a = Authority::parse("X", " login.microsoftonline.com/ ").unwrap();
        assert_eq!(a.base(), "https://login.microsoftonline.com");
        assert!(a.is_well_known());
        let a = Authority::parse("X", "https://127.0.0.1:8443").unwrap();
        assert_eq!(a.base(), "https://127.0.0.1:8443");
        assert_eq!(a.host_and_port(), "127.0.0.1:8443");
        assert!(!a.is_well_known());
        for bad in [
            "http://login.microsoftonline.com",
            "ftp://x",
            "",
            "https://h/tenant",
            "https://",
            "https://:hunter2@h",
            "https://u:hunter2@h",
            "https://h#x",
            "https://h?x=1",
            "http://u:hunter2@h",
            "https://u:hunter2@",
        ] {
            let e = Authority::parse("X", bad).unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::InvalidConfiguration), "{bad}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn tenant_and_scope_validation() {
        assert!(validate_tenant_id("X", "contoso.onmicrosoft.com").is_ok());
        assert!(validate_tenant_id("X", "72f988bf-86f1-41af-91ab-2d7cd011db47").is_ok());
        for bad in ["", "a/b", "a b", "t?x", "ü", ".", "..", "..."] {
            assert!(validate_tenant_id("X", bad).is_err(), "{bad}");
        }
        assert!(validate_scopes("X", &["https://vault.azure.net/.default"]).is_ok());
        assert!(validate_scopes("X", &[]).is_err());
        for bad in ["a b", "\"x\"", "x'", "", "a\nb"] {
            assert!(validate_scopes("X", &[bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn resolve_tenant_rules() {
        let none: &[String] = &[];
        let star = ["*".to_owned()];
        let listed = ["b".to_owned()];
        assert_eq!(resolve_tenant("X", "a", None, none, false).unwrap(), "a");
        assert_eq!(
            resolve_tenant("X", "a", Some("a"), none, false).unwrap(),
            "a"
        );
        assert_eq!(
            resolve_tenant("X", "adfs", Some("b"), none, false).unwrap(),
            "adfs"
        );
        assert_eq!(
            resolve_tenant("X", "a", Some("b"), &star, true).unwrap(),
            "a"
        );
        assert_eq!(
            resolve_tenant("X", "", Some("b"), none, false).unwrap(),
            "b"
        );
        assert_eq!(
            resolve_tenant("X", "a", Some("b"), &star, false).unwrap(),
            "b"
        );
        assert_eq!(
            resolve_tenant("X", "a", Some("b"), &listed, false).unwrap(),
            "b"
        );
        assert_eq!(
            resolve_tenant("X", "organizations", Some("b"), none, false).unwrap(),
            "b"
        );
        let e = resolve_tenant("X", "a", Some("c"), &listed, false).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::AuthenticationFailed));
        assert!(e.message().contains("additionally_allowed_tenants"));
        assert!(resolve_tenant("X", "a", Some("bad/t"), &star, false).is_err());
        assert!(resolve_tenant("X", "", Some("bad/t"), none, false).is_err());
        assert!(resolve_tenant("X", "", Some(".."), none, false).is_err());
    }
}

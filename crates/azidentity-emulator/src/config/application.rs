//! An application registration: its credentials, where it may redirect, what it exposes.

use std::fmt;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

use crate::DEFAULT_TENANT_ID;

/// An application registration (a confidential client unless made with
/// [`Application::public`]).
///
/// ```
/// use azidentity_emulator::Application;
/// let app = Application::confidential("0f1e2d3c-4b5a-4697-8877-665544332211")
///     .secret("s3cret")
///     .tenant("11111111-2222-4333-8444-555555555555")
///     .multi_tenant(true)
///     .exposed_scope("access_as_user");
/// # let _ = app;
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Application {
    pub(crate) client_id: String,
    pub(crate) secrets: Vec<String>,
    pub(crate) tenant: Option<String>,
    pub(crate) multi_tenant: bool,
    pub(crate) display_name: Option<String>,
    /// DER of each registered certificate (the key credentials of the registration).
    pub(crate) certificates: Vec<Vec<u8>>,
    /// Certificates registered by thumbprint only: SHA-1 (20 bytes) or SHA-256 (32 bytes).
    pub(crate) thumbprints: Vec<Vec<u8>>,
    /// Subject name / issuer trust: (issuing CA's DER, the leaf's subject, e.g. `CN=app`).
    pub(crate) trusted_issuers: Vec<(Vec<u8>, String)>,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) public_client: bool,
    /// Federated identity credentials: (issuer, subject).
    pub(crate) federated: Vec<(String, String)>,
    /// Application ID URIs besides `api://{client id}` and the client id itself.
    pub(crate) identifier_uris: Vec<String>,
    /// Delegated permissions the app exposes as an API (empty: any is granted).
    pub(crate) scopes: Vec<String>,
    /// App roles the app defines (users' roles for it are filtered by these).
    pub(crate) app_roles: Vec<String>,
    /// Set by a certificate given as PEM that held no certificate; `start` reports it.
    pub(crate) invalid_certificate: Option<String>,
}

impl Application {
    /// A confidential client with this client id and, until [`Application::secret`] is
    /// called, no secret (every authentication attempt then fails with AADSTS7000215).
    pub fn confidential(client_id: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            secrets: Vec::new(),
            tenant: None,
            multi_tenant: false,
            display_name: None,
            certificates: Vec::new(),
            thumbprints: Vec::new(),
            trusted_issuers: Vec::new(),
            redirect_uris: Vec::new(),
            public_client: false,
            federated: Vec::new(),
            identifier_uris: Vec::new(),
            scopes: Vec::new(),
            app_roles: Vec::new(),
            invalid_certificate: None,
        }
    }

    /// A public client (a desktop or command-line app): no credentials, public client flows
    /// (user name and password, device code) allowed, `http://localhost` as redirect URI.
    pub fn public(client_id: &str) -> Self {
        let mut app = Self::confidential(client_id);
        app.public_client = true;
        app.redirect_uris.push("http://localhost".to_owned());
        app
    }

    /// Registers a certificate (DER) whose key may sign client assertions; an application may
    /// have several, as in Entra.
    pub fn certificate_der(mut self, der: &[u8]) -> Self {
        self.certificates.push(der.to_vec());
        self
    }

    /// Registers every certificate in a PEM text (anything else in it, such as a private key,
    /// is ignored). A PEM without a certificate makes the emulator refuse to start.
    pub fn certificate_pem(mut self, pem: &str) -> Self {
        let found: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(pem.as_bytes())
            .filter_map(Result::ok)
            .map(|c| c.as_ref().to_vec())
            .collect();
        if found.is_empty() {
            self.invalid_certificate = Some(format!(
                "the PEM given for app {} holds no certificate",
                self.client_id
            ));
        }
        self.certificates.extend(found);
        self
    }

    /// Registers a certificate by its thumbprint alone (hex SHA-1, as the portal shows it, or
    /// hex SHA-256). An assertion naming it is accepted; its signature is checked against the
    /// certificate in its `x5c` header when the client sends one, and cannot be checked
    /// otherwise (register the certificate itself for that). A value that is not 40 or 64
    /// hex digits makes the emulator refuse to start.
    pub fn certificate_thumbprint(mut self, hex: &str) -> Self {
        let clean: String = hex.chars().filter(|c| !matches!(c, ':' | ' ')).collect();
        let bytes: Option<Vec<u8>> = clean
            .len()
            .is_multiple_of(2)
            .then(|| {
                (0..clean.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(clean.get(i..i + 2)?, 16).ok())
                    .collect()
            })
            .flatten();
        match bytes {
            Some(bytes) if bytes.len() == 20 || bytes.len() == 32 => self.thumbprints.push(bytes),
            _ => {
                self.invalid_certificate = Some(format!(
                    "the thumbprint {hex:?} given for app {} is not 40 (SHA-1) or 64 (SHA-256) \
                     hex digits",
                    self.client_id
                ))
            }
        }
        self
    }

    /// Trusts certificates issued by the CA in `ca_pem` whose subject is `subject` (as
    /// `CN=name`), when the client sends the chain in `x5c`: Entra's subject name / issuer
    /// authentication.
    pub fn trusted_subject_name(mut self, ca_pem: &str, subject: &str) -> Self {
        match CertificateDer::pem_slice_iter(ca_pem.as_bytes()).find_map(Result::ok) {
            Some(ca) => self
                .trusted_issuers
                .push((ca.as_ref().to_vec(), subject.to_owned())),
            None => {
                self.invalid_certificate = Some(format!(
                    "the CA PEM given for app {} holds no certificate",
                    self.client_id
                ))
            }
        }
        self
    }

    /// Adds a redirect URI for the authorization code flow.
    pub fn redirect_uri(mut self, uri: &str) -> Self {
        self.redirect_uris.push(uri.to_owned());
        self
    }

    /// Whether public client flows are allowed ("Allow public client flows" in the portal).
    pub fn public_client(mut self, public: bool) -> Self {
        self.public_client = public;
        self
    }

    /// Adds a client secret; an application may have several, as in Entra.
    pub fn secret(mut self, secret: &str) -> Self {
        self.secrets.push(secret.to_owned());
        self
    }

    /// The home tenant (registered automatically); [`DEFAULT_TENANT_ID`] when not set.
    pub fn tenant(mut self, tenant_id: &str) -> Self {
        self.tenant = Some(tenant_id.to_owned());
        self
    }

    /// Whether other registered tenants may issue tokens to this app (default `false`:
    /// a single-tenant app used in another tenant gets AADSTS700016).
    pub fn multi_tenant(mut self, multi_tenant: bool) -> Self {
        self.multi_tenant = multi_tenant;
        self
    }

    /// The display name, sent as the `app_displayname` claim.
    pub fn display_name(mut self, name: &str) -> Self {
        self.display_name = Some(name.to_owned());
        self
    }

    /// A federated identity credential: the app accepts, as its client assertion, a token
    /// from `issuer` for `subject` with the audience `api://AzureADTokenExchange`.
    pub fn federated_credential(mut self, issuer: &str, subject: &str) -> Self {
        self.federated.push((issuer.to_owned(), subject.to_owned()));
        self
    }

    /// An application ID URI (e.g. `api://orders`) besides `api://{client id}`, which every
    /// app answers to.
    pub fn identifier_uri(mut self, uri: &str) -> Self {
        self.identifier_uris.push(uri.to_owned());
        self
    }

    /// A delegated permission the app exposes as an API (e.g. `access_as_user`). Once an app
    /// exposes any, user tokens for it (and on-behalf-of assertions) may name only those, and
    /// `.default` grants them all; an app that exposes none grants whatever is asked.
    pub fn exposed_scope(mut self, scope: &str) -> Self {
        self.scopes.push(scope.to_owned());
        self
    }

    /// An app role the app defines (e.g. `Orders.Read`): a user's roles appear in the `roles`
    /// claim of tokens for this app when the app defines them.
    pub fn app_role(mut self, role: &str) -> Self {
        self.app_roles.push(role.to_owned());
        self
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub(crate) fn home_tenant(&self) -> &str {
        self.tenant.as_deref().unwrap_or(DEFAULT_TENANT_ID)
    }

    /// Whether `resource` (a token's audience) names this app: its client id,
    /// `api://{client id}` or one of its identifier URIs.
    pub(crate) fn is_resource(&self, resource: &str) -> bool {
        let resource = resource.trim_end_matches('/');
        resource.eq_ignore_ascii_case(&self.client_id)
            || resource
                .strip_prefix("api://")
                .is_some_and(|id| id.eq_ignore_ascii_case(&self.client_id))
            || self
                .identifier_uris
                .iter()
                .any(|u| u.trim_end_matches('/').eq_ignore_ascii_case(resource))
    }

    pub(crate) fn has_credentials(&self) -> bool {
        !self.secrets.is_empty()
            || !self.certificates.is_empty()
            || !self.thumbprints.is_empty()
            || !self.trusted_issuers.is_empty()
            || !self.federated.is_empty()
    }
}

// Secrets stay out of Debug output: a Debug print can end up in a log line.
impl fmt::Debug for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Application")
            .field("client_id", &self.client_id)
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .field("tenant", &self.home_tenant())
            .field("multi_tenant", &self.multi_tenant)
            .field("display_name", &self.display_name)
            .field("certificates", &self.certificates.len())
            .field("thumbprints", &self.thumbprints.len())
            .field("redirect_uris", &self.redirect_uris)
            .field("public_client", &self.public_client)
            .field("federated", &self.federated)
            .field("scopes", &self.scopes)
            .field("app_roles", &self.app_roles)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_are_hex_sha1_or_sha256() {
        let app = Application::confidential("c")
            .certificate_thumbprint("A1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E:8F:90:A1:B2:C3:D4");
        assert_eq!(app.thumbprints[0].len(), 20);
        assert!(app.invalid_certificate.is_none());
        let app = Application::confidential("c").certificate_thumbprint(&"ab".repeat(32));
        assert_eq!(app.thumbprints[0].len(), 32);
        for bad in ["xyz", "abc", &"ab".repeat(21)] {
            let app = Application::confidential("c").certificate_thumbprint(bad);
            assert!(app.invalid_certificate.is_some(), "{bad}");
        }
    }

    #[test]
    fn resources_name_the_app() {
        let app = Application::confidential("ABC").identifier_uri("api://orders");
        for resource in ["abc", "api://abc", "api://abc/", "API://ORDERS"] {
            assert!(app.is_resource(resource), "{resource}");
        }
        assert!(!app.is_resource("https://graph.microsoft.com"));
    }
}

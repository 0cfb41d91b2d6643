//! What the emulator knows before it starts: tenants, applications and timing knobs.

use std::fmt;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

use crate::emulator::RunningEmulator;
use crate::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD, DEFAULT_PUBLIC_CLIENT_ID,
    DEFAULT_TENANT_ID, DEFAULT_USERNAME,
};

/// The `expires_in` Entra gives app tokens by default.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3599);

/// Entra gives CAE-capable clients long-lived tokens (about a day): revocation, not expiry,
/// ends them.
const DEFAULT_CAE_TOKEN_LIFETIME: Duration = Duration::from_secs(86_399);

/// How many requests the log keeps before dropping the oldest; counters are not capped.
/// Benchmarks send millions of requests, and an unbounded log would only measure memory.
const DEFAULT_LOG_LIMIT: usize = 100_000;

/// An application registration (a confidential client).
///
/// ```
/// use azidentity_emulator::Application;
/// let app = Application::confidential("0f1e2d3c-4b5a-4697-8877-665544332211")
///     .secret("s3cret")
///     .tenant("11111111-2222-4333-8444-555555555555")
///     .multi_tenant(true);
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct Application {
    pub(crate) client_id: String,
    pub(crate) secrets: Vec<String>,
    pub(crate) tenant: Option<String>,
    pub(crate) multi_tenant: bool,
    pub(crate) display_name: Option<String>,
    /// DER of each registered certificate (the key credentials of the registration).
    pub(crate) certificates: Vec<Vec<u8>>,
    /// Subject name / issuer trust: (issuing CA's DER, the leaf's subject, e.g. `CN=app`).
    pub(crate) trusted_issuers: Vec<(Vec<u8>, String)>,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) public_client: bool,
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
            trusted_issuers: Vec::new(),
            redirect_uris: Vec::new(),
            public_client: false,
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

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub(crate) fn home_tenant(&self) -> &str {
        self.tenant.as_deref().unwrap_or(DEFAULT_TENANT_ID)
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
            .field("redirect_uris", &self.redirect_uris)
            .field("public_client", &self.public_client)
            .finish()
    }
}

/// A user account in a tenant, for the user flows (password, authorization code, on-behalf-of).
///
/// ```
/// use azidentity_emulator::User;
/// let user = User::new("ada@contoso.example", "correct horse").display_name("Ada");
/// # let _ = user;
/// ```
#[derive(Clone)]
pub struct User {
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) tenant: Option<String>,
    pub(crate) display_name: Option<String>,
    pub(crate) mfa_required: bool,
}

impl User {
    /// A user signing in with `username` (a UPN) and `password`.
    pub fn new(username: &str, password: &str) -> Self {
        Self {
            username: username.to_owned(),
            password: password.to_owned(),
            tenant: None,
            display_name: None,
            mfa_required: false,
        }
    }

    /// The home tenant (registered automatically); [`DEFAULT_TENANT_ID`] when not set.
    pub fn tenant(mut self, tenant_id: &str) -> Self {
        self.tenant = Some(tenant_id.to_owned());
        self
    }

    /// The display name (`name` claim).
    pub fn display_name(mut self, name: &str) -> Self {
        self.display_name = Some(name.to_owned());
        self
    }

    /// Whether sign-in requires multi-factor authentication, which the password grant cannot
    /// do: it then fails with AADSTS50076, as Entra answers.
    pub fn mfa_required(mut self, required: bool) -> Self {
        self.mfa_required = required;
        self
    }

    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }

    pub(crate) fn home_tenant(&self) -> &str {
        self.tenant.as_deref().unwrap_or(DEFAULT_TENANT_ID)
    }
}

// Passwords stay out of Debug output.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .field("tenant", &self.home_tenant())
            .field("mfa_required", &self.mfa_required)
            .finish_non_exhaustive()
    }
}

/// Configures and starts an emulator; made by [`crate::Emulator::builder`].
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    port: u16,
    tenants: Vec<String>,
    apps: Vec<Application>,
    users: Vec<User>,
    token_lifetime: Duration,
    cae_token_lifetime: Duration,
    refuse_assertion_replay: bool,
    refresh_in: Option<Duration>,
    latency: Duration,
    dns_names: Vec<String>,
    defaults: bool,
    log_limit: usize,
    mask_recorded_credentials: bool,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            port: 0,
            tenants: Vec::new(),
            apps: Vec::new(),
            users: Vec::new(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            cae_token_lifetime: DEFAULT_CAE_TOKEN_LIFETIME,
            refuse_assertion_replay: false,
            refresh_in: None,
            latency: Duration::ZERO,
            dns_names: Vec::new(),
            defaults: true,
            log_limit: DEFAULT_LOG_LIMIT,
            mask_recorded_credentials: false,
        }
    }
}

impl EmulatorBuilder {
    /// The port on 127.0.0.1; `0` (the default) picks a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Registers an extra tenant.
    pub fn tenant(mut self, tenant_id: &str) -> Self {
        self.tenants.push(tenant_id.to_owned());
        self
    }

    /// Registers an application; one with the client id of an earlier one replaces it.
    pub fn app(mut self, app: Application) -> Self {
        self.apps
            .retain(|a| !a.client_id.eq_ignore_ascii_case(&app.client_id));
        self.apps.push(app);
        self
    }

    /// Registers a user; one with the user name of an earlier one replaces it.
    pub fn user(mut self, user: User) -> Self {
        self.users
            .retain(|u| !u.username.eq_ignore_ascii_case(&user.username));
        self.users.push(user);
        self
    }

    /// The lifetime of tokens issued to CAE-capable clients (a `claims` request carrying
    /// `xms_cc: CP1`); default a day, as Entra does.
    pub fn cae_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.cae_token_lifetime = lifetime;
        self
    }

    /// Refuse a certificate-signed client assertion whose `jti` was seen before (AADSTS50027),
    /// to prove a client signs a fresh assertion per request. Off by default, as in Entra,
    /// which accepts a reused assertion until it expires: msal-node signs one and reuses it for
    /// up to ten minutes.
    pub fn refuse_assertion_replay(mut self, refuse: bool) -> Self {
        self.refuse_assertion_replay = refuse;
        self
    }

    /// The opposite of [`EmulatorBuilder::refuse_assertion_replay`], kept for existing tests:
    /// `allow_assertion_reuse(false)` turns the replay check on.
    pub fn allow_assertion_reuse(self, allow: bool) -> Self {
        self.refuse_assertion_replay(!allow)
    }

    /// The lifetime of issued tokens (`expires_in`, `ext_expires_in`); default 3599 s.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Adds `refresh_in` (whole seconds) to token responses when `Some`.
    pub fn refresh_in(mut self, refresh_in: Option<Duration>) -> Self {
        self.refresh_in = refresh_in;
        self
    }

    /// A delay added before every answer of the token endpoint.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// An extra DNS name on the server certificate, also accepted by instance discovery.
    /// `127.0.0.1` and `localhost` are always there. The name must resolve to 127.0.0.1 on
    /// the client's side for it to be useful.
    pub fn dns_name(mut self, name: &str) -> Self {
        self.dns_names.push(name.to_owned());
        self
    }

    /// Does not register [`DEFAULT_TENANT_ID`] and the default application.
    pub fn no_defaults(mut self) -> Self {
        self.defaults = false;
        self
    }

    /// How many requests the log keeps (oldest dropped first); default 100,000. Counters in
    /// [`crate::Stats`] always count every request.
    pub fn request_log_limit(mut self, limit: usize) -> Self {
        self.log_limit = limit;
        self
    }

    /// Records requests with their credential values (client secrets, passwords, assertions,
    /// codes, refresh tokens, `Authorization` and managed identity secret headers) replaced by
    /// `***`. Off by default: tests assert on what the client sent. Turn it on whenever real
    /// credentials may reach the emulator, since [`crate::RunningEmulator::requests`] and the
    /// unauthenticated `GET /_emulator/requests` hand recorded requests to anyone who asks.
    pub fn mask_recorded_credentials(mut self, mask: bool) -> Self {
        self.mask_recorded_credentials = mask;
        self
    }

    /// Binds 127.0.0.1, generates the CA and server certificate, and starts serving.
    pub async fn start(self) -> std::io::Result<RunningEmulator> {
        if let Some(problem) = self.apps.iter().find_map(|a| a.invalid_certificate.clone()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                problem,
            ));
        }
        RunningEmulator::start(self.into_config()).await
    }

    pub(crate) fn into_config(self) -> Config {
        let mut apps = Vec::new();
        let mut users = Vec::new();
        let mut tenants = Vec::new();
        if self.defaults {
            tenants.push(DEFAULT_TENANT_ID.to_owned());
            let default_app_replaced = self
                .apps
                .iter()
                .any(|a| a.client_id.eq_ignore_ascii_case(DEFAULT_CLIENT_ID));
            if !default_app_replaced {
                apps.push(
                    Application::confidential(DEFAULT_CLIENT_ID)
                        .secret(DEFAULT_CLIENT_SECRET)
                        .tenant(DEFAULT_TENANT_ID)
                        .display_name("azidentity-emulator default app"),
                );
            }
            if !self
                .apps
                .iter()
                .any(|a| a.client_id.eq_ignore_ascii_case(DEFAULT_PUBLIC_CLIENT_ID))
            {
                apps.push(
                    Application::public(DEFAULT_PUBLIC_CLIENT_ID)
                        .tenant(DEFAULT_TENANT_ID)
                        .display_name("azidentity-emulator public client"),
                );
            }
            if !self
                .users
                .iter()
                .any(|u| u.username.eq_ignore_ascii_case(DEFAULT_USERNAME))
            {
                users.push(
                    User::new(DEFAULT_USERNAME, DEFAULT_PASSWORD)
                        .tenant(DEFAULT_TENANT_ID)
                        .display_name("Emulator User"),
                );
            }
        }
        tenants.extend(self.tenants);
        apps.extend(self.apps);
        users.extend(self.users);
        tenants.extend(apps.iter().map(|a| a.home_tenant().to_owned()));
        tenants.extend(users.iter().map(|u| u.home_tenant().to_owned()));
        let mut unique: Vec<String> = Vec::new();
        for tenant in tenants {
            if !unique.iter().any(|t| t.eq_ignore_ascii_case(&tenant)) {
                unique.push(tenant);
            }
        }
        Config {
            port: self.port,
            tenants: unique,
            apps,
            users,
            token_lifetime: self.token_lifetime,
            cae_token_lifetime: self.cae_token_lifetime,
            refuse_assertion_replay: self.refuse_assertion_replay,
            refresh_in: self.refresh_in,
            latency: self.latency,
            dns_names: self.dns_names,
            log_limit: self.log_limit,
            mask_recorded_credentials: self.mask_recorded_credentials,
        }
    }
}

/// The settled configuration a running emulator answers from.
#[derive(Debug)]
pub(crate) struct Config {
    pub port: u16,
    pub tenants: Vec<String>,
    pub apps: Vec<Application>,
    pub users: Vec<User>,
    pub token_lifetime: Duration,
    pub cae_token_lifetime: Duration,
    pub refuse_assertion_replay: bool,
    pub refresh_in: Option<Duration>,
    pub latency: Duration,
    pub dns_names: Vec<String>,
    pub log_limit: usize,
    pub mask_recorded_credentials: bool,
}

impl Config {
    /// The registered spelling of a tenant id, matched without regard to case as Entra does.
    pub fn tenant(&self, tenant: &str) -> Option<&str> {
        self.tenants
            .iter()
            .find(|t| t.eq_ignore_ascii_case(tenant))
            .map(String::as_str)
    }

    pub fn app(&self, client_id: &str) -> Option<&Application> {
        self.apps
            .iter()
            .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }

    /// The registered user with this name (case-insensitive, as UPNs are).
    pub fn user(&self, username: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
    }

    /// The app whose credentials `env_exports` hands out: the default app when registered,
    /// else the first one.
    pub fn primary_app(&self) -> Option<&Application> {
        self.app(DEFAULT_CLIENT_ID).or_else(|| self.apps.first())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_register_the_default_tenant_and_app() {
        let config = EmulatorBuilder::default().into_config();
        assert_eq!(config.tenants, vec![DEFAULT_TENANT_ID.to_owned()]);
        let app = config.app(DEFAULT_CLIENT_ID).expect("default app");
        assert_eq!(app.secrets, vec![DEFAULT_CLIENT_SECRET.to_owned()]);
    }

    #[test]
    fn app_tenants_are_registered_once() {
        let config = EmulatorBuilder::default()
            .no_defaults()
            .tenant("AAAA")
            .app(Application::confidential("c1").tenant("aaaa"))
            .app(Application::confidential("c2").tenant("bbbb"))
            .into_config();
        assert_eq!(config.tenants, vec!["AAAA".to_owned(), "bbbb".to_owned()]);
        assert_eq!(config.tenant("BBBB"), Some("bbbb"));
    }

    #[test]
    fn a_later_app_replaces_an_earlier_one() {
        let config = EmulatorBuilder::default()
            .app(Application::confidential(DEFAULT_CLIENT_ID).secret("other"))
            .into_config();
        let app = config.app(DEFAULT_CLIENT_ID).expect("replaced");
        assert_eq!(app.secrets, vec!["other".to_owned()]);
        assert_eq!(
            config
                .apps
                .iter()
                .filter(|a| a.client_id == DEFAULT_CLIENT_ID)
                .count(),
            1
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let text = format!("{:?}", Application::confidential("c").secret("hunter2"));
        assert!(!text.contains("hunter2"), "{text}");
        let text = format!("{:?}", User::new("u@x", "pa55word-value"));
        assert!(!text.contains("pa55word-value"), "{text}");
    }
}

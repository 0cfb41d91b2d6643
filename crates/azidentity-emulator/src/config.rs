//! What the emulator knows before it starts: tenants, applications and timing knobs.

use std::fmt;
use std::time::Duration;

use crate::emulator::RunningEmulator;
use crate::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID};

/// The `expires_in` Entra gives app tokens by default.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3599);

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
        }
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
            .finish()
    }
}

/// Configures and starts an emulator; made by [`crate::Emulator::builder`].
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    port: u16,
    tenants: Vec<String>,
    apps: Vec<Application>,
    token_lifetime: Duration,
    refresh_in: Option<Duration>,
    latency: Duration,
    dns_names: Vec<String>,
    defaults: bool,
    log_limit: usize,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            port: 0,
            tenants: Vec::new(),
            apps: Vec::new(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            refresh_in: None,
            latency: Duration::ZERO,
            dns_names: Vec::new(),
            defaults: true,
            log_limit: DEFAULT_LOG_LIMIT,
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

    /// Binds 127.0.0.1, generates the CA and server certificate, and starts serving.
    pub async fn start(self) -> std::io::Result<RunningEmulator> {
        RunningEmulator::start(self.into_config()).await
    }

    pub(crate) fn into_config(self) -> Config {
        let mut apps = Vec::new();
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
        }
        tenants.extend(self.tenants);
        apps.extend(self.apps);
        tenants.extend(apps.iter().map(|a| a.home_tenant().to_owned()));
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
            token_lifetime: self.token_lifetime,
            refresh_in: self.refresh_in,
            latency: self.latency,
            dns_names: self.dns_names,
            log_limit: self.log_limit,
        }
    }
}

/// The settled configuration a running emulator answers from.
#[derive(Debug)]
pub(crate) struct Config {
    pub port: u16,
    pub tenants: Vec<String>,
    pub apps: Vec<Application>,
    pub token_lifetime: Duration,
    pub refresh_in: Option<Duration>,
    pub latency: Duration,
    pub dns_names: Vec<String>,
    pub log_limit: usize,
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
        assert_eq!(config.apps.len(), 1);
        assert_eq!(config.apps[0].secrets, vec!["other".to_owned()]);
    }

    #[test]
    fn debug_redacts_secrets() {
        let text = format!("{:?}", Application::confidential("c").secret("hunter2"));
        assert!(!text.contains("hunter2"), "{text}");
    }
}
